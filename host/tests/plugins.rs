//! The plugin host against the real components in `plugins/` (built by `bash plugins/build.sh`,
//! which the test command runs first): each plugin through the host, and misbehaving ones
//! contained.

use std::time::{Duration, Instant};

use flotilla::plugins::{
    ClusterState, Limits, Place, PluginError, PluginHost, TemplateInfo, World, validate,
};

fn component(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — build the plugins first: bash plugins/build.sh",
            path.display()
        )
    })
}

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
        let native =
            flotilla::naming::pod_name("wf", name, "say", flotilla::naming::PodNameFormat::V2);
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
        validate("naming-argo", &component("naming_argo")).unwrap(),
        [World::NamingPolicy]
    );
    assert_eq!(
        validate("explicit", &component("placement_explicit")).unwrap(),
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
