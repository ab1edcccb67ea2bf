//! Two versions of `flotilla:plugins` side by side in one host: `placement-explicit` is built
//! against 0.1.0, `placement-least-loaded` against 0.2.0 (whose answers say why).

use super::*;

#[test]
fn a_0_1_0_and_a_0_2_0_component_run_side_by_side_in_one_host() {
    let host = PluginHost::shared().unwrap();
    let explicit = component("placement_explicit");
    let least_loaded = component("placement_least_loaded");
    let provides = |name: &str, bytes: &[u8]| validate(name, bytes).unwrap();
    assert_eq!(
        provides("explicit", &explicit),
        Provides {
            version: Some(WitVersion::V0_1_0),
            worlds: vec![World::PlacementPolicy],
        }
    );
    assert_eq!(
        provides("least-loaded", &least_loaded).version,
        Some(WitVersion::V0_2_0)
    );

    let old = host.placement("explicit", &explicit, limits()).unwrap();
    let new = host
        .placement("least-loaded", &least_loaded, limits())
        .unwrap();
    let t = node("wf", "wf.a", "a");
    let clusters = loaded_clusters();
    // Both answer in the host's types; only 0.2.0 can say why.
    let old_answer = old.decide(&t, &clusters, "").unwrap();
    assert_eq!(old_answer.place, at(""));
    assert_eq!(old_answer.reason, None);
    let new_answer = new
        .decide(&t, &clusters, r#"{"pendingWeight": 2}"#)
        .unwrap();
    assert_eq!(new_answer.place, at("b"));
    let reason = new_answer.reason.unwrap_or_default();
    assert!(reason.starts_with("the least loaded of "), "{reason}");
    // And again, interleaved, each on its warm instance.
    assert_eq!(old.place(&t, &clusters, "").unwrap(), at(""));
    assert_eq!(new.place(&t, &clusters, "").unwrap(), at("a"));
}

#[test]
fn both_versions_are_put_in_force_and_the_reason_reaches_plugin_test() {
    let host = PluginHost::shared().unwrap();
    let active = Active::default();
    let settings = point_settings("placement", "component: {file: /x.wasm}\ndeadline: 2s\n");
    for name in ["placement_explicit", "placement_least_loaded"] {
        let bytes = component(name);
        active
            .install(&host, &point("placement"), &settings, &bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let placement = active.policies(no_clusters()).placement.unwrap();
        let answer = placement.place(&node("wf", "wf.a", "a"), &loaded_clusters());
        assert!(matches!(answer, Ok(Some(_))), "{name}: {answer:?}");
    }
    let input = serde_json::json!({
        "template": {"workflow": "wf", "workflowNamespace": "argo", "nodeName": "wf.a",
                     "templateName": "a", "cluster": "eu-1"},
        "clusters": [{"name": ""}, {"name": "eu-1", "healthy": true}],
    });
    let answer = flotilla::plugins::try_out(
        "least-loaded",
        &component("placement_least_loaded"),
        World::PlacementPolicy,
        &input.to_string(),
    )
    .unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"cluster": "eu-1", "namespace": "argo",
                           "reason": "the template names its cluster"})
    );
}
