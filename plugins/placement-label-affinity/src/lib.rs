//! Label affinity: the template's annotation `flotilla.dev/cluster-selector` holds a Kubernetes
//! label selector (`region=eu,tier in (gold,silver),!spot` — see [`selector`]) over the clusters'
//! labels. Among the clusters that are healthy and match, the pod goes to the one with the fewest
//! pending + running pods, ties broken by name (the controller's own cluster, named "", first):
//! the same inputs always give the same place. An empty selector matches every cluster.
//!
//! Without the annotation this is the explicit placement: the template's own cluster (which must
//! be one the controller knows), else the controller's own. With both the annotation and a
//! cluster on the template, that cluster is used if its labels match (healthy or not, as an
//! explicit request is), and refused otherwise. The namespace is always the template's, else the
//! workflow's. No matching healthy cluster, or a malformed selector, is an error that names the
//! selector. The config is ignored.

pub mod selector;

use flotilla_plugin_sdk::v0_1_0::placement::log::{self, Level};
use flotilla_plugin_sdk::v0_1_0::placement::{self, *};

use selector::Selector;

/// The template annotation that holds the selector.
pub const ANNOTATION: &str = "flotilla.dev/cluster-selector";

struct LabelAffinity;

impl Guest for LabelAffinity {
    fn place(
        template: TemplateInfo,
        clusters: Vec<ClusterState>,
        _config: String,
    ) -> Result<Place, PluginError> {
        let place = choose(&template, &clusters).map_err(|message| PluginError { message })?;
        if log::enabled(Level::Debug) {
            log::write(
                Level::Debug,
                &format!(
                    "{} goes to {:?}/{} (selector: {:?})",
                    template.node_name,
                    place.cluster,
                    place.namespace,
                    annotation(&template)
                ),
            );
        }
        Ok(place)
    }
}

placement::export!(LabelAffinity);

fn annotation(template: &TemplateInfo) -> Option<&str> {
    template
        .annotations
        .iter()
        .find(|(k, _)| k == ANNOTATION)
        .map(|(_, v)| v.as_str())
}

/// The place for `template` among `clusters`, or why there is none.
fn choose(template: &TemplateInfo, clusters: &[ClusterState]) -> Result<Place, String> {
    let requested = &template.requested;
    let namespace = if requested.namespace.is_empty() {
        template.workflow_namespace.clone()
    } else {
        requested.namespace.clone()
    };
    let known = |name: &str| clusters.iter().find(|c| c.name == name);
    let Some(text) = annotation(template) else {
        if !requested.cluster.is_empty() && known(&requested.cluster).is_none() {
            return Err(format!(
                "cluster {:?} is not one the controller knows",
                requested.cluster
            ));
        }
        return Ok(Place {
            cluster: requested.cluster.clone(),
            namespace,
        });
    };
    let selector = Selector::parse(text).map_err(|problem| {
        format!("annotation {ANNOTATION}: the selector {text:?} is malformed: {problem}")
    })?;
    if !requested.cluster.is_empty() {
        return match known(&requested.cluster) {
            None => Err(format!(
                "cluster {:?} is not one the controller knows",
                requested.cluster
            )),
            Some(c) if selector.matches(&c.labels) => Ok(Place {
                cluster: c.name.clone(),
                namespace,
            }),
            Some(_) => Err(format!(
                "the template asks for cluster {:?}, whose labels do not match its selector {text:?} ({ANNOTATION})",
                requested.cluster
            )),
        };
    }
    let load = |c: &ClusterState| u64::from(c.pending_pods) + u64::from(c.running_pods);
    let matching: Vec<&ClusterState> = clusters
        .iter()
        .filter(|c| selector.matches(&c.labels))
        .collect();
    match matching
        .iter()
        .filter(|c| c.healthy)
        .min_by(|a, b| load(a).cmp(&load(b)).then_with(|| a.name.cmp(&b.name)))
    {
        Some(c) => Ok(Place {
            cluster: c.name.clone(),
            namespace,
        }),
        None if matching.is_empty() => Err(format!(
            "no cluster matches the selector {text:?} ({ANNOTATION})"
        )),
        None => Err(format!(
            "no healthy cluster matches the selector {text:?} ({ANNOTATION}); matching but unhealthy: {}",
            matching
                .iter()
                .map(|c| format!("{:?}", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use placement::testing::cluster;

    fn template(selector: Option<&str>, cluster: &str, namespace: &str) -> TemplateInfo {
        TemplateInfo {
            annotations: selector
                .map(|s| vec![(ANNOTATION.to_string(), s.to_string())])
                .unwrap_or_default(),
            ..testing::template(cluster, namespace)
        }
    }

    fn clusters() -> Vec<ClusterState> {
        vec![
            cluster("", &[], true, 0, 0),
            cluster("eu-1", &[("region", "eu"), ("gpu", "")], true, 3, 4),
            cluster("eu-2", &[("region", "eu")], true, 5, 1),
            cluster("eu-3", &[("region", "eu")], false, 0, 0),
            cluster("us-1", &[("region", "us")], true, 0, 0),
        ]
    }

    fn placed(t: &TemplateInfo, cs: &[ClusterState]) -> (String, String) {
        let p = choose(t, cs).unwrap();
        (p.cluster, p.namespace)
    }

    #[test]
    fn the_least_loaded_healthy_match_wins() {
        let cs = clusters();
        // eu-2 has 6 pods, eu-1 7, eu-3 none but is unhealthy.
        assert_eq!(
            placed(&template(Some("region=eu"), "", ""), &cs),
            ("eu-2".into(), "argo".into())
        );
        assert_eq!(
            placed(&template(Some("gpu"), "", "ml"), &cs),
            ("eu-1".into(), "ml".into())
        );
        assert_eq!(
            placed(&template(Some("region notin (eu)"), "", ""), &cs).0,
            ""
        );
        // A tie goes to the first name.
        let mut tied = cs.clone();
        tied[1].running_pods = 3; // eu-1: 6 pods, as eu-2
        assert_eq!(
            placed(&template(Some("region=eu"), "", ""), &tied).0,
            "eu-1"
        );
        // The order the clusters come in does not matter.
        tied.reverse();
        assert_eq!(
            placed(&template(Some("region=eu"), "", ""), &tied).0,
            "eu-1"
        );
    }

    #[test]
    fn without_the_annotation_it_is_explicit() {
        let cs = clusters();
        assert_eq!(
            placed(&template(None, "", ""), &cs),
            ("".into(), "argo".into())
        );
        assert_eq!(
            placed(&template(None, "us-1", "x"), &cs),
            ("us-1".into(), "x".into())
        );
        assert_eq!(
            choose(&template(None, "nowhere", ""), &cs).unwrap_err(),
            r#"cluster "nowhere" is not one the controller knows"#
        );
    }

    #[test]
    fn a_requested_cluster_must_match_the_selector() {
        let cs = clusters();
        assert_eq!(
            placed(&template(Some("region=eu"), "eu-3", ""), &cs).0,
            "eu-3"
        );
        assert_eq!(
            choose(&template(Some("region=eu"), "us-1", ""), &cs).unwrap_err(),
            r#"the template asks for cluster "us-1", whose labels do not match its selector "region=eu" (flotilla.dev/cluster-selector)"#
        );
    }

    #[test]
    fn no_match_and_bad_selectors_are_errors_naming_the_selector() {
        let cs = clusters();
        assert_eq!(
            choose(&template(Some("region=ap"), "", ""), &cs).unwrap_err(),
            r#"no cluster matches the selector "region=ap" (flotilla.dev/cluster-selector)"#
        );
        let mut sick = cs.clone();
        sick.iter_mut().for_each(|c| c.healthy = false);
        assert_eq!(
            choose(&template(Some("region=eu"), "", ""), &sick).unwrap_err(),
            r#"no healthy cluster matches the selector "region=eu" (flotilla.dev/cluster-selector); matching but unhealthy: "eu-1", "eu-2", "eu-3""#
        );
        assert_eq!(
            choose(&template(Some("region=eu,"), "", ""), &cs).unwrap_err(),
            r#"annotation flotilla.dev/cluster-selector: the selector "region=eu," is malformed: expected a label key, found the end"#
        );
    }
}
