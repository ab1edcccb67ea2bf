//! The plugin host against the real components in `plugins/` (built by `bash plugins/build.sh`,
//! which the test command runs first): each plugin through the host, and misbehaving ones
//! contained.

use std::time::{Duration, Instant};

use flotilla::plugins::{
    ClusterState, Limits, Place, PluginError, PluginHost, TemplateInfo, World, validate,
};

mod common;

use common::component;

fn node(name: &str) -> TemplateInfo {
    TemplateInfo {
        workflow: "wf".into(),
        workflow_namespace: "argo".into(),
        node_name: name.into(),
        template_name: "say".into(),
        ..Default::default()
    }
}

#[test]
fn the_argo_naming_plugin_names_pods_as_the_native_code_does() {
    let host = PluginHost::shared().unwrap();
    let plugin = host
        .naming("naming-argo", &component("naming_argo"), Limits::default())
        .unwrap();
    for name in ["wf.fan(0:1)", "wf[0].a", "wf"] {
        let native = flotilla_engine::naming::pod_name(
            "wf",
            name,
            "say",
            flotilla_engine::naming::PodNameFormat::V2,
        );
        assert_eq!(
            plugin.pod_name(&node(name), &here(), "").unwrap(),
            native,
            "{name}"
        );
    }
}

#[test]
fn the_explicit_placement_plugin_honours_the_template() {
    let host = PluginHost::shared().unwrap();
    let plugin = host
        .placement(
            "explicit",
            &component("placement_explicit"),
            Limits::default(),
        )
        .unwrap();
    let clusters = [
        ClusterState {
            healthy: true,
            ..Default::default()
        },
        ClusterState {
            name: "cluster-1".into(),
            healthy: true,
            ..Default::default()
        },
    ];
    let mut t = node("wf.a");
    assert_eq!(plugin.place(&t, &clusters, "").unwrap().namespace, "argo");
    t.cluster = "cluster-1".into();
    t.namespace = "default".into();
    let place = plugin.place(&t, &clusters, "").unwrap();
    assert_eq!(
        (place.cluster.as_str(), place.namespace.as_str()),
        ("cluster-1", "default")
    );
    t.cluster = "nowhere".into();
    assert_eq!(
        plugin.place(&t, &clusters, "").unwrap_err().to_string(),
        r#"plugin explicit refused: cluster "nowhere" is not one the controller knows"#
    );
}

#[test]
fn validate_says_which_worlds_a_component_provides() {
    assert_eq!(
        validate("naming-argo", &component("naming_argo"))
            .unwrap()
            .worlds,
        [World::NamingPolicy]
    );
    assert_eq!(
        validate("explicit", &component("placement_explicit"))
            .unwrap()
            .worlds,
        [World::PlacementPolicy]
    );
    let host = PluginHost::shared().unwrap();
    let err = host
        .naming(
            "explicit",
            &component("placement_explicit"),
            Limits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, PluginError::WrongWorld { .. }), "{err}");
    let err = validate("garbage", b"not wasm at all").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("plugin garbage: loading the component:"),
        "{err}"
    );
}

#[test]
fn misbehaving_plugins_are_contained_and_the_next_call_works() {
    let host = PluginHost::shared().unwrap();
    let limits = Limits {
        deadline: Duration::from_millis(50),
        memory: 8 << 20,
    };
    let plugin = host
        .naming("misbehaving", &component("misbehaving"), limits)
        .unwrap();
    let t = node("wf.a");
    let started = Instant::now();
    let err = plugin.pod_name(&t, &here(), "loop").unwrap_err();
    assert_eq!(
        err,
        PluginError::Timeout {
            plugin: "misbehaving".into(),
            budget: Duration::from_millis(50)
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "interrupted, not hung"
    );
    let err = plugin.pod_name(&t, &here(), "memory").unwrap_err();
    assert!(matches!(err, PluginError::Trap { .. }), "{err}");
    let err = plugin.pod_name(&t, &here(), "trap").unwrap_err();
    assert!(
        matches!(&err, PluginError::Trap { message, .. } if message.contains("unreachable")),
        "{err}"
    );
    // Nothing is granted: no file, no socket, no environment.
    let err = plugin
        .pod_name(&t, &here(), "file")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("plugin misbehaving refused: reading /etc/passwd:"),
        "{err}"
    );
    let err = plugin
        .pod_name(&t, &here(), "socket")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("plugin misbehaving refused: connecting:"),
        "{err}"
    );
    assert_eq!(plugin.pod_name(&t, &here(), "env").unwrap(), "env-0");
    let err = plugin.pod_name(&t, &here(), "invalid").unwrap_err();
    assert!(
        matches!(&err, PluginError::Invalid { what: "pod name", value, .. } if value == "Not_A_Valid.Name-"),
        "{err}"
    );
    // After all that, a well-behaved call on the same plugin answers.
    assert_eq!(plugin.pod_name(&t, &here(), "").unwrap(), "ok-4");
    // And each failure was counted, by kind (no other test here names a plugin "misbehaving").
    let metrics = flotilla::metrics::encode();
    for (kind, count) in [("timeout", 1), ("trap", 2), ("refused", 2), ("invalid", 1)] {
        let line = format!(
            r#"flotilla_plugin_failures_total{{plugin="misbehaving",kind="{kind}"}} {count}"#
        );
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
}

/// Runs `f` on a thread of its own and returns its result, failing the test if it has not
/// returned a minute later (what it was waiting for: `what`).
fn within_a_minute<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what}: no answer a minute later"))
}

#[test]
fn a_sleeping_plugin_is_stopped_at_its_deadline_and_answers_again() {
    let host = PluginHost::shared().unwrap();
    let limits = Limits {
        deadline: Duration::from_millis(100),
        ..Limits::default()
    };
    let plugin = std::sync::Arc::new(
        host.placement("sleeper", &component("misbehaving_placement"), limits)
            .unwrap(),
    );
    let call = |config: &'static str| {
        let plugin = plugin.clone();
        within_a_minute(config, move || plugin.place(&node("wf.a"), &[], config))
    };
    // An hour's sleep (WASI `subscribe-duration` and a wait on it) ends at the deadline.
    assert_eq!(
        call("sleep:3600000"),
        Err(PluginError::Timeout {
            plugin: "sleeper".into(),
            budget: Duration::from_millis(100)
        })
    );
    // The plugin's lock was let go: it answers again, a short sleep included.
    assert_eq!(call("sleep:1").map(|p| p.namespace), Ok("argo".into()));
    assert_eq!(call("").map(|p| p.namespace), Ok("argo".into()));
}

#[test]
fn a_naming_plugins_clocks_are_stopped() {
    let host = PluginHost::shared().unwrap();
    let limits = Limits {
        deadline: Duration::from_millis(100),
        ..Limits::default()
    };
    let plugin = std::sync::Arc::new(
        host.naming("stopped", &component("misbehaving"), limits)
            .unwrap(),
    );
    let call = |config: &'static str| {
        let plugin = plugin.clone();
        within_a_minute(config, move || {
            plugin.pod_name(&node("wf.a"), &here(), config)
        })
    };
    // The wall clock reads the Unix epoch and the monotonic clock does not move.
    assert_eq!(call("clock"), Ok("clock-0-0".into()));
    // So a millisecond's sleep never ends: the call runs out of time.
    assert_eq!(
        call("sleep"),
        Err(PluginError::Timeout {
            plugin: "stopped".into(),
            budget: Duration::from_millis(100)
        })
    );
    assert_eq!(call(""), Ok("ok-4".into()));
}

/// The sandbox's bounds on instances, tables and memories leave room for every plugin built
/// here: each instantiates and answers (a refusal is an answer).
#[test]
fn every_repository_plugin_fits_the_sandbox() {
    let host = PluginHost::shared().unwrap();
    let limits = Limits {
        deadline: Duration::from_secs(2),
        ..Limits::default()
    };
    let answered = |result: Result<(), PluginError>| match result {
        Ok(()) | Err(PluginError::Refused { .. }) | Err(PluginError::Invalid { .. }) => Ok(()),
        Err(e) => Err(e),
    };
    let naming = ["naming_argo", "naming_cluster_prefixed", "misbehaving"];
    let placement = [
        "placement_explicit",
        "placement_failover",
        "placement_label_affinity",
        "placement_least_loaded",
        "misbehaving_placement",
    ];
    let credentials = [
        "credentials_eks",
        "credentials_rest_config",
        "credentials_token_file",
    ];
    for name in naming {
        let plugin = host.naming(name, &component(name), limits).unwrap();
        let result = plugin.pod_name(&node("wf.a"), &here(), "").map(drop);
        assert_eq!(answered(result), Ok(()), "{name}");
    }
    for name in placement {
        let plugin = host.placement(name, &component(name), limits).unwrap();
        let result = plugin.place(&node("wf.a"), &[], "").map(drop);
        assert_eq!(answered(result), Ok(()), "{name}");
    }
    for name in credentials {
        let grants = flotilla::plugins::Grants::default();
        let plugin = host
            .credentials(name, &component(name), limits, grants)
            .unwrap();
        let result = plugin.provide("cluster-1", "kind", b"{}", "", 0).map(drop);
        assert_eq!(answered(result), Ok(()), "{name}");
    }
}

#[test]
fn plugin_test_calls_a_component_with_json_as_plugin_authors_do() {
    let answer = flotilla::plugins::try_out(
        "explicit",
        &component("placement_explicit"),
        World::PlacementPolicy,
        r#"{"template": {"workflow": "wf", "workflowNamespace": "argo", "nodeName": "wf.a",
            "templateName": "a", "cluster": "cluster-1"},
            "clusters": [{"name": "", "healthy": true}, {"name": "cluster-1", "healthy": true}]}"#,
    )
    .unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"cluster": "cluster-1", "namespace": "argo"})
    );
    let err = flotilla::plugins::try_out(
        "naming-argo",
        &component("naming_argo"),
        World::NamingPolicy,
        r#"{"templat": {}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("the input is not valid for world naming-policy: unknown field `templat`"),
        "{err}"
    );
}

/// The controller's own cluster, namespace `argo`.
fn here() -> Place {
    Place {
        cluster: String::new(),
        namespace: "argo".into(),
    }
}

/// The plugin author's guide (docs/plugins.md), as its reader runs it: the example policy
/// validated and tried with the `flotilla` binary.
#[test]
fn the_guides_example_validates_and_answers_as_the_guide_says() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let wasm = root.join("plugins/target/wasm32-wasip2/release/placement_failover.wasm");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .current_dir(&root)
            .args(args)
            .output()
            .expect("run flotilla");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let wasm = wasm.to_str().expect("path");
    assert!(
        run(&["plugin", "validate", wasm])
            .ends_with(": provides flotilla:plugins/placement-policy@0.1.0\n")
    );
    let answer = run(&[
        "plugin",
        "test",
        wasm,
        "--world",
        "placement-policy",
        "--input",
        "examples/plugins/failover-input.json",
    ]);
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(
        answer,
        serde_json::json!({"cluster": "gpu-west", "namespace": "argo"})
    );
}

/// `flotilla` (`plugin validate|test`, `dev`, the controller) caches compiled plugins only
/// where `FLOTILLA_PLUGIN_CACHE` says, in a directory of its user's alone, and says so when it
/// will not use the one named.
#[test]
fn the_cli_caches_compiled_plugins_only_where_configured() {
    use std::os::unix::fs::PermissionsExt;
    let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release/placement_failover.wasm");
    let scratch = std::env::temp_dir().join(format!("flotilla-cli-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let validate = |cache: Option<&std::path::Path>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"));
        command
            .args(["plugin", "validate"])
            .arg(&wasm)
            // Where the cache used to go by default.
            .env("TMPDIR", &scratch)
            .env_remove("FLOTILLA_PLUGIN_CACHE");
        if let Some(dir) = cache {
            command.env("FLOTILLA_PLUGIN_CACHE", dir);
        }
        let out = command.output().expect("run flotilla");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let entries = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        let mut all: Vec<_> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").path())
            .collect();
        all.sort();
        all
    };
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    };

    // Not configured: nothing written anywhere, the temporary directory included.
    validate(None);
    assert_eq!(entries(&scratch), Vec::<std::path::PathBuf>::new());

    // Configured: a private directory, one private file.
    let dir = scratch.join("cache");
    validate(Some(&dir));
    assert_eq!(mode(&dir), 0o700);
    let files = entries(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].extension().is_some_and(|e| e == "cwasm"),
        "{files:?}"
    );
    assert_eq!(mode(&files[0]), 0o600);

    // A directory others may write: not used, and a warning names it and says why.
    let shared = scratch.join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let stderr = validate(Some(&shared));
    assert!(
        stderr.contains(&shared.display().to_string()) && stderr.contains("others may write"),
        "{stderr}"
    );
    assert_eq!(entries(&shared), Vec::<std::path::PathBuf>::new());
    let _ = std::fs::remove_dir_all(&scratch);
}
