//! Naming and placement plugins: cluster-prefixed names, label affinity, least loaded.

use super::*;

use flotilla::plugins::{NamingPlugin, PlacementPlugin};

/// The naming plugin `plugin`, from `plugins/`'s component `file`.
pub(crate) fn naming_plugin(plugin: &str, file: &str) -> NamingPlugin {
    PluginHost::shared()
        .and_then(|host| host.naming(plugin, &component(file), limits()))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The placement plugin `plugin`, from `plugins/`'s component `file`.
pub(crate) fn placement_plugin(plugin: &str, file: &str) -> PlacementPlugin {
    PluginHost::shared()
        .and_then(|host| host.placement(plugin, &component(file), limits()))
        .unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------------
// naming-cluster-prefixed

#[test]
fn cluster_prefixed_names_are_argos_in_the_own_cluster_and_prefixed_elsewhere() {
    let prefixed = naming_plugin("cluster-prefixed", "naming_cluster_prefixed");
    let argo = naming_plugin("naming-argo", "naming_argo");
    let t = node("wf", "wf.a", "say");
    let native = flotilla_engine::naming::pod_name("wf", "wf.a", "say", PodNameFormat::V2);
    assert_eq!(native, format!("wf-say-{}", argo_hash("wf.a")));
    assert_eq!(prefixed.pod_name(&t, &at(""), "").unwrap(), native);
    assert_eq!(argo.pod_name(&t, &at(""), "").unwrap(), native);
    // Lowercased, every other character a dash.
    assert_eq!(
        prefixed.pod_name(&t, &at("East_1"), "").unwrap(),
        format!("east-1-{native}")
    );
    // The root node is the workflow's name, prefixed too.
    assert_eq!(
        prefixed
            .pod_name(&node("wf", "wf", "say"), &at("East_1"), "")
            .unwrap(),
        "east-1-wf"
    );
}

#[test]
fn cluster_prefixed_long_names_are_cut_before_the_hash() {
    let plugin = naming_plugin("cluster-prefixed", "naming_cluster_prefixed");
    let workflow = "w".repeat(300);
    let node_name = format!("{workflow}.step[0].work");
    let hash = argo_hash(&node_name);
    let name = plugin
        .pod_name(&node(&workflow, &node_name, "say"), &at("East_1"), "")
        .unwrap();
    assert!(name.len() <= 253, "{} characters: {name}", name.len());
    assert_eq!(dns_subdomain_error(&name), None, "{name}");
    assert!(name.ends_with(&format!("-{hash}")), "{name}");
    // "east-1-" leaves 246 characters, of which the hash and its dash take 11: 235 for the
    // prefix, which is all w's (the template's part is cut away).
    assert_eq!(name, format!("east-1-{}-{hash}", "w".repeat(235)));
    // In the own cluster, Argo's name — whose prefix the native code cuts the same way.
    let own = plugin
        .pod_name(&node(&workflow, &node_name, "say"), &at(""), "")
        .unwrap();
    assert_eq!(
        own,
        flotilla_engine::naming::pod_name(&workflow, &node_name, "say", PodNameFormat::V2)
    );
    assert_eq!(own.len(), 253);
}

#[test]
fn cluster_prefixed_refuses_what_cannot_make_a_valid_name() {
    let plugin = naming_plugin("cluster-prefixed", "naming_cluster_prefixed");
    assert_eq!(
        plugin
            .pod_name(&node("wf", "wf.a", "say"), &at("__"), "")
            .unwrap_err(),
        refused(
            "cluster-prefixed",
            r#"cluster "__" has no letter or digit to start a pod name with"#
        )
    );
    let err = plugin
        .pod_name(&node("wf", "wf.a", "printMessage"), &at("east"), "")
        .unwrap_err();
    let hash = argo_hash("wf.a");
    assert_eq!(
        err,
        refused(
            "cluster-prefixed",
            &format!(
                r#"the pod name "east-wf-printMessage-{hash}" (workflow "wf", template "printMessage") is not a valid DNS-1123 subdomain: only lowercase letters, digits, '-' and '.' are allowed"#
            )
        )
    );
}

// ---------------------------------------------------------------------------------------------
// placement-label-affinity

pub(crate) const SELECTOR: &str = "flotilla.dev/cluster-selector";

pub(crate) fn cluster(
    name: &str,
    labels: &[(&str, &str)],
    healthy: bool,
    pending: u32,
    running: u32,
) -> ClusterState {
    ClusterState {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        healthy,
        pending_pods: pending,
        running_pods: running,
    }
}

pub(crate) fn labelled_clusters() -> Vec<ClusterState> {
    vec![
        cluster("", &[], true, 0, 0),
        cluster("eu-1", &[("region", "eu"), ("gpu", "")], true, 3, 4), // 7 pods
        cluster("eu-2", &[("region", "eu")], true, 5, 1),              // 6 pods
        cluster("eu-3", &[("region", "eu")], false, 0, 0),             // none, but unhealthy
        cluster("us-1", &[("region", "us")], true, 0, 0),
    ]
}

pub(crate) fn selecting(selector: Option<&str>, cluster: &str, namespace: &str) -> TemplateInfo {
    TemplateInfo {
        cluster: cluster.into(),
        namespace: namespace.into(),
        annotations: selector
            .map(|s| vec![(SELECTOR.to_string(), s.to_string())])
            .unwrap_or_default(),
        ..node("wf", "wf.a", "a")
    }
}

pub(crate) fn place_of(place: Place) -> (String, String) {
    (place.cluster, place.namespace)
}

pub(crate) fn pair(cluster: &str, namespace: &str) -> (String, String) {
    (cluster.to_string(), namespace.to_string())
}

#[test]
fn label_affinity_picks_the_least_loaded_healthy_match() {
    let plugin = placement_plugin("label-affinity", "placement_label_affinity");
    let cs = labelled_clusters();
    let place = |t: &TemplateInfo| place_of(plugin.place(t, &cs, "").unwrap());
    // eu-3 is emptiest but unhealthy; eu-2 has 6 pods to eu-1's 7.
    assert_eq!(
        place(&selecting(Some("region=eu"), "", "")),
        pair("eu-2", "argo")
    );
    assert_eq!(place(&selecting(Some("gpu"), "", "ml")), pair("eu-1", "ml"));
    assert_eq!(
        place(&selecting(Some("region in (us, eu),!gpu"), "", "")),
        pair("us-1", "argo")
    );
    // An empty selector matches every cluster: a tie at 0 goes to the first name, "".
    assert_eq!(place(&selecting(Some(""), "", "")), pair("", "argo"));
    // Load, not order: the same clusters reversed give the same answer.
    let reversed: Vec<ClusterState> = cs.iter().rev().cloned().collect();
    assert_eq!(
        place_of(
            plugin
                .place(&selecting(Some("region=eu"), "", ""), &reversed, "")
                .unwrap()
        ),
        pair("eu-2", "argo")
    );
    // An explicitly requested cluster that matches is used, healthy or not.
    assert_eq!(
        place(&selecting(Some("region=eu"), "eu-3", "")),
        pair("eu-3", "argo")
    );
}

#[test]
fn label_affinity_refuses_no_match_and_malformed_selectors() {
    let plugin = placement_plugin("label-affinity", "placement_label_affinity");
    let cs = labelled_clusters();
    let err = |t: &TemplateInfo, cs: &[ClusterState]| plugin.place(t, cs, "").unwrap_err();
    assert_eq!(
        err(&selecting(Some("region=ap"), "", ""), &cs),
        refused(
            "label-affinity",
            r#"no cluster matches the selector "region=ap" (flotilla.dev/cluster-selector)"#
        )
    );
    let mut sick = cs.clone();
    sick.iter_mut().for_each(|c| c.healthy = false);
    assert_eq!(
        err(&selecting(Some("region=eu"), "", ""), &sick),
        refused(
            "label-affinity",
            r#"no healthy cluster matches the selector "region=eu" (flotilla.dev/cluster-selector); matching but unhealthy: "eu-1", "eu-2", "eu-3""#
        )
    );
    assert_eq!(
        err(&selecting(Some("region=eu,"), "", ""), &cs),
        refused(
            "label-affinity",
            r#"annotation flotilla.dev/cluster-selector: the selector "region=eu," is malformed: expected a label key, found the end"#
        )
    );
    assert_eq!(
        err(&selecting(Some("region in eu"), "", ""), &cs),
        refused(
            "label-affinity",
            r#"annotation flotilla.dev/cluster-selector: the selector "region in eu" is malformed: expected '(' after "in" at character 11, found "eu""#
        )
    );
    assert_eq!(
        err(&selecting(Some("region=eu"), "us-1", ""), &cs),
        refused(
            "label-affinity",
            r#"the template asks for cluster "us-1", whose labels do not match its selector "region=eu" (flotilla.dev/cluster-selector)"#
        )
    );
}

#[test]
fn label_affinity_without_the_annotation_is_the_explicit_placement() {
    let plugin = placement_plugin("label-affinity", "placement_label_affinity");
    let cs = labelled_clusters();
    let place = |t: &TemplateInfo| plugin.place(t, &cs, "").map(place_of);
    // Not the least-loaded cluster: the controller's own, in the workflow's namespace.
    assert_eq!(place(&selecting(None, "", "")), Ok(pair("", "argo")));
    // The template's own cluster, even an unhealthy one.
    assert_eq!(
        place(&selecting(None, "eu-3", "ns")),
        Ok(pair("eu-3", "ns"))
    );
    assert_eq!(
        place(&selecting(None, "nowhere", "")),
        Err(refused(
            "label-affinity",
            r#"cluster "nowhere" is not one the controller knows"#
        ))
    );
    // Another annotation is no selector.
    let mut other = selecting(None, "", "");
    other.annotations = vec![("example.com/selector".into(), "region=ap".into())];
    assert_eq!(place(&other), Ok(pair("", "argo")));
}

// ---------------------------------------------------------------------------------------------
// placement-least-loaded

pub(crate) fn loaded_clusters() -> Vec<ClusterState> {
    vec![
        cluster("", &[], true, 2, 9),  // 11 with pendingWeight 1, 13 with 2
        cluster("a", &[], true, 4, 2), // 6, 10
        cluster("b", &[], true, 1, 7), // 8, 9
        cluster("c", &[], false, 0, 0),
    ]
}

#[test]
fn least_loaded_weighs_pending_pods_and_keeps_to_its_clusters() {
    let plugin = placement_plugin("least-loaded", "placement_least_loaded");
    let cs = loaded_clusters();
    let t = node("wf", "wf.a", "a");
    let chosen = |config: &str| plugin.place(&t, &cs, config).map(place_of);
    assert_eq!(chosen(""), Ok(pair("a", "argo")));
    assert_eq!(chosen(r#"{"pendingWeight": 1}"#), Ok(pair("a", "argo")));
    assert_eq!(chosen(r#"{"pendingWeight": 2}"#), Ok(pair("b", "argo")));
    assert_eq!(chosen(r#"{"clusters": ["", "b"]}"#), Ok(pair("b", "argo")));
    // "c" is allowed but unhealthy: the controller's own is the only candidate left.
    assert_eq!(chosen(r#"{"clusters": ["", "c"]}"#), Ok(pair("", "argo")));
    assert_eq!(
        chosen(r#"{"clusters": ["", "b"], "pendingWeight": 3}"#),
        Ok(pair("b", "argo"))
    );
    let err = chosen(r#"{"pendingWieght": 2}"#).unwrap_err();
    assert!(
        matches!(&err, PluginError::Refused { plugin, message }
            if plugin == "least-loaded" && message.starts_with("config: unknown field `pendingWieght`")),
        "{err}"
    );
}

#[test]
fn least_loaded_honours_the_template_and_refuses_without_a_healthy_cluster() {
    let plugin = placement_plugin("least-loaded", "placement_least_loaded");
    let cs = loaded_clusters();
    let mut t = node("wf", "wf.a", "a");
    t.cluster = "c".into();
    t.namespace = "ns".into();
    // Requested: unhealthy, and not among the configured clusters — still honoured.
    assert_eq!(
        plugin
            .place(&t, &cs, r#"{"clusters": ["a"]}"#)
            .map(place_of),
        Ok(pair("c", "ns"))
    );
    t.cluster = "nope".into();
    assert_eq!(
        plugin.place(&t, &cs, "").unwrap_err(),
        refused(
            "least-loaded",
            r#"cluster "nope" is not one the controller knows"#
        )
    );
    let mut sick = cs.clone();
    sick.iter_mut().for_each(|c| c.healthy = false);
    let t = node("wf", "wf.a", "a");
    assert_eq!(
        plugin.place(&t, &sick, "").unwrap_err(),
        refused("least-loaded", "no healthy cluster, of 4 known")
    );
    assert_eq!(
        plugin
            .place(&t, &cs, r#"{"clusters": ["c", "gone"]}"#)
            .unwrap_err(),
        refused(
            "least-loaded",
            r#"no healthy cluster among those configured: "c", "gone""#
        )
    );
}

// ---------------------------------------------------------------------------------------------
