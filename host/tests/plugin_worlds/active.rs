//! Traps inside Tokio runtimes, and plugins put in force with `Active` from `flotilla-plugins`
//! settings.

use super::*;

// ---------------------------------------------------------------------------------------------
// A trap inside a Tokio runtime

pub(crate) fn trap_in_placement() {
    let plugin = placement_plugin("misbehaving-placement", "misbehaving_placement");
    let cs = [cluster("", &[], true, 0, 0)];
    let t = node("wf", "wf.a", "a");
    let started = Instant::now();
    let answer = plugin.place(&t, &cs, "trap");
    assert!(
        matches!(&answer, Err(PluginError::Trap { plugin, .. }) if plugin == "misbehaving-placement"),
        "{answer:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "did not hang");
    // The next call gets a fresh instance and answers.
    assert_eq!(
        plugin.place(&t, &cs, "cluster:x").map(place_of),
        Ok(pair("x", "argo"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_inside_a_multi_threaded_runtime_is_an_error_not_a_panic() {
    trap_in_placement();
}

#[tokio::test]
async fn a_trap_inside_a_current_thread_runtime_is_an_error_not_a_panic() {
    trap_in_placement();
}

// ---------------------------------------------------------------------------------------------
// Active and the flotilla-plugins settings

/// The settings of extension point `key` from its ConfigMap text.
pub(crate) fn point_settings(key: &str, yaml: &str) -> PointSettings {
    let settings = Settings::from_data(&BTreeMap::from([(key.to_string(), yaml.to_string())]));
    assert_eq!(settings.problems, Vec::<String>::new());
    settings
        .points
        .get(&point(key))
        .cloned()
        .unwrap_or_else(|| panic!("no {key} in {settings:?}"))
}

/// The extension point ConfigMap key `key` names.
pub(crate) fn point(key: &str) -> ExtensionPoint {
    ExtensionPoint::parse(key).unwrap_or_else(|| panic!("{key} names no extension point"))
}

/// The name `Active` gives a plugin at `point`.
pub(crate) fn installed_name(point: &str, bytes: &[u8]) -> String {
    format!("{point}@{}", &digest(bytes)[..12])
}

pub(crate) fn no_clusters() -> Arc<Vec<ClusterState>> {
    Arc::new(Vec::new())
}

/// What the naming policy in force calls `wf.a`.
pub(crate) fn naming_answer(active: &Active) -> Result<Option<String>, String> {
    let naming = active
        .policies(no_clusters())
        .naming
        .unwrap_or_else(|| panic!("no naming policy in force"));
    naming.pod_name(&node("wf", "wf.a", "say"), &at(""))
}

#[test]
fn settings_from_the_config_map_are_what_install_uses() {
    let s = point_settings(
        "placement",
        "component: {file: /plugins/p.wasm}\nconfig: trap\nfailurePolicy: Ignore\ndeadline: 2s\n",
    );
    assert_eq!(s.source, Source::File("/plugins/p.wasm".into()));
    assert_eq!(s.config, "trap");
    assert_eq!(s.failure_policy, FailurePolicy::Ignore);
    assert_eq!(s.limits, limits());
    assert_eq!(s.sha256, None);
}

#[test]
fn a_plugin_that_fails_to_install_leaves_the_last_good_one_in_force() {
    let host = PluginHost::shared().unwrap();
    let active = Active::default();
    let argo = component("naming_argo");
    let argo_settings = point_settings("naming", "component: {file: /x.wasm}\ndeadline: 2s\n");
    active
        .install(&host, &point("naming"), &argo_settings, &argo)
        .unwrap();
    assert_eq!(active.points(), [point("naming")]);
    assert!(active.policies(no_clusters()).placement.is_none());
    let argo_name = flotilla_engine::naming::pod_name("wf", "wf.a", "say", PodNameFormat::V2);
    assert_eq!(naming_answer(&active), Ok(Some(argo_name.clone())));
    let refused_install = |settings: &PointSettings, bytes: &[u8]| {
        active
            .install(&host, &point("naming"), settings, bytes)
            .unwrap_err()
    };

    // Not deterministic: refused when installed, never put in force.
    let misbehaving = component("misbehaving");
    let nd = point_settings(
        "naming",
        "component: {file: /x.wasm}\nconfig: nondeterministic\ndeadline: 2s\n",
    );
    let err = refused_install(&nd, &misbehaving);
    match &err {
        PluginError::Invalid {
            plugin,
            what,
            value,
            problem,
        } => {
            assert_eq!(plugin, &installed_name("naming", &misbehaving));
            assert_eq!(*what, "pod name");
            assert_eq!(value, "nd-1");
            assert!(
                problem.starts_with(
                    r#"not deterministic: the same node was named "nd-0", then "nd-1", then (by a fresh instance) "nd-0";"#
                ),
                "{problem}"
            );
        }
        other => panic!("not Invalid: {other}"),
    }
    assert_eq!(naming_answer(&active), Ok(Some(argo_name.clone())));

    // Another world's component.
    let placement = component("placement_explicit");
    let err = refused_install(&argo_settings, &placement);
    assert!(
        matches!(&err, PluginError::WrongWorld { plugin, world: "naming-policy", .. }
            if *plugin == installed_name("naming", &placement)),
        "{err}"
    );
    assert_eq!(naming_answer(&active), Ok(Some(argo_name.clone())));

    // A version of the WIT this host does not have.
    let future = component("misbehaving_future");
    let err = refused_install(&argo_settings, &future);
    assert_eq!(
        err,
        PluginError::Version {
            plugin: installed_name("naming", &future),
            version: "99.0.0".into(),
        }
    );
    assert!(err.to_string().contains("flotilla:plugins@99.0.0"), "{err}");
    assert_eq!(naming_answer(&active), Ok(Some(argo_name.clone())));

    // Not the bytes the ConfigMap pins.
    let pinned = "ab".repeat(32);
    let pinning = point_settings(
        "naming",
        &format!(
            "component: {{file: /x.wasm, sha256: {}}}\n",
            pinned.to_uppercase()
        ),
    );
    assert_eq!(pinning.sha256.as_deref(), Some(pinned.as_str()));
    let cluster_prefixed = component("naming_cluster_prefixed");
    let err = refused_install(&pinning, &cluster_prefixed);
    let actual = digest(&cluster_prefixed);
    assert_eq!(
        err,
        PluginError::Load {
            plugin: installed_name("naming", &cluster_prefixed),
            what: "the component".into(),
            message: format!("its SHA-256 is {actual}, but the ConfigMap pins {pinned}"),
        }
    );
    assert_eq!(naming_answer(&active), Ok(Some(argo_name.clone())));
    assert!(active.is_current(&point("naming"), &argo_settings, &digest(&argo)));

    // Pinned to the right digest, it goes in.
    let right = point_settings(
        "naming",
        &format!("component: {{file: /x.wasm, sha256: {actual}}}\ndeadline: 2s\n"),
    );
    active
        .install(&host, &point("naming"), &right, &cluster_prefixed)
        .unwrap();
    assert_eq!(naming_answer(&active), Ok(Some(argo_name)));
    let east = active
        .policies(no_clusters())
        .naming
        .unwrap_or_else(|| panic!("no naming policy in force"))
        .pod_name(&node("wf", "wf.a", "say"), &at("east"));
    assert_eq!(east, Ok(Some(format!("east-wf-say-{}", argo_hash("wf.a")))));

    active.remove(&point("naming"));
    assert!(active.policies(no_clusters()).naming.is_none());
    assert_eq!(active.points(), Vec::<ExtensionPoint>::new());
}

#[test]
fn is_current_compares_settings_and_digest() {
    let host = PluginHost::shared().unwrap();
    let active = Active::default();
    let bytes = component("placement_least_loaded");
    let settings = point_settings(
        "placement",
        "component: {file: /x.wasm}\nconfig: {pendingWeight: 2}\ndeadline: 2s\n",
    );
    let d = digest(&bytes);
    assert!(
        !active.is_current(&point("placement"), &settings, &d),
        "nothing yet"
    );
    active
        .install(&host, &point("placement"), &settings, &bytes)
        .unwrap();
    assert!(active.is_current(&point("placement"), &settings, &d));
    assert!(!active.is_current(&point("naming"), &settings, &d));
    let changed = point_settings(
        "placement",
        "component: {file: /x.wasm}\nconfig: {pendingWeight: 3}\ndeadline: 2s\n",
    );
    assert!(!active.is_current(&point("placement"), &changed, &d));
    assert!(!active.is_current(&point("placement"), &settings, &digest(b"other bytes")));
    // The settings' config reaches the plugin: pendingWeight 2 gives "b" (see loaded_clusters).
    let placement = active
        .policies(no_clusters())
        .placement
        .unwrap_or_else(|| panic!("no placement policy in force"));
    assert_eq!(
        placement.place(&node("wf", "wf.a", "a"), &loaded_clusters()),
        Ok(Some(Place {
            cluster: "b".into(),
            namespace: "argo".into()
        }))
    );
}

#[test]
fn failure_policy_ignore_gives_no_opinion_and_fail_an_error() {
    let host = PluginHost::shared().unwrap();
    let bytes = component("misbehaving_placement");
    let cs = [cluster("", &[], true, 0, 0)];
    let t = node("wf", "wf.a", "a");
    let answer = |failure_policy: &str| {
        let active = Active::default();
        let settings = point_settings(
            "placement",
            &format!(
                "component: {{file: /x.wasm}}\nconfig: trap\nfailurePolicy: {failure_policy}\ndeadline: 2s\n"
            ),
        );
        active
            .install(&host, &point("placement"), &settings, &bytes)
            .unwrap();
        let placement = active
            .policies(no_clusters())
            .placement
            .unwrap_or_else(|| panic!("no placement policy in force"));
        placement.place(&t, &cs)
    };
    assert_eq!(answer("Ignore"), Ok(None));
    let err = answer("Fail").unwrap_err();
    let prefix = format!("plugin {} trapped: ", installed_name("placement", &bytes));
    assert!(err.starts_with(&prefix), "{err}");
}

#[test]
fn a_credentials_point_is_granted_its_read_only_dirs() {
    let host = PluginHost::shared().unwrap();
    let dir = TempDir::new("active");
    let path = dir.write("token", FILE_TOKEN);
    let bytes = component("credentials_token_file");
    let active = Active::default();
    let settings = point_settings(
        "credentials.token-file",
        &format!(
            "component: {{file: /x.wasm}}\nconfig: {{refreshSeconds: 5}}\ndeadline: 2s\nreadOnlyDirs: [{}]\n",
            dir.0.display()
        ),
    );
    active
        .install(&host, &point("credentials.token-file"), &settings, &bytes)
        .unwrap();
    assert_eq!(active.points(), [point("credentials.token-file")]);
    assert!(active.for_kind("rest-config").is_none());
    let provider = active
        .for_kind("token-file")
        .unwrap_or_else(|| panic!("no token-file provider"));
    let entry = token_file_entry(&path);
    let request = CredentialRequest {
        cluster: "in-cluster",
        kind: "token-file",
        entry: entry.as_bytes(),
        now: NOW,
    };
    let c = provider.provide(&request).unwrap();
    assert_eq!(bearer(&c), FILE_TOKEN);
    assert_eq!(c.expires_at, Some(NOW + 5));
    // The same component without the grant cannot read it.
    let ungranted = point_settings(
        "credentials.token-file",
        "component: {file: /x.wasm}\ndeadline: 2s\n",
    );
    active
        .install(&host, &point("credentials.token-file"), &ungranted, &bytes)
        .unwrap();
    let err = active
        .for_kind("token-file")
        .unwrap_or_else(|| panic!("no token-file provider"))
        .provide(&request)
        .unwrap_err();
    let err = err.downcast_ref::<PluginError>().expect("a plugin's error");
    assert!(
        matches!(err, PluginError::Refused { message, .. } if message.ends_with("not readable (has the directory been granted to this plugin?)")),
        "{err}"
    );
}
