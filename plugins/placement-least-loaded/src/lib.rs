//! Least loaded: the pod goes to the healthy cluster with the smallest
//! `pendingWeight × pending + running` pods, ties broken by name (the controller's own cluster,
//! named "", first), so the same inputs always give the same place. A template that names its
//! cluster gets it (if the controller knows it; healthy or not, as an explicit request). The
//! namespace is the template's, else the workflow's.
//!
//! Config (JSON; empty: the defaults): `{"clusters": ["a", "b"], "pendingWeight": 2}`.
//! `clusters` restricts the choice to those names ("" is the controller's own; absent: every
//! cluster), `pendingWeight` (a whole number, default 1) weighs pending pods against running
//! ones. Unknown fields are an error. No healthy candidate is an error.
//!
//! Built against `flotilla:plugins@0.2.0`: each answer says why (`reason`), which the controller
//! logs with the node and `flotilla plugin test` shows.

use flotilla_plugin_sdk::v0_2_0::placement::log::{self, Level};
use flotilla_plugin_sdk::v0_2_0::placement::{self, *};

use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    clusters: Option<Vec<String>>,
    #[serde(default = "one")]
    pending_weight: u32,
}

fn one() -> u32 {
    1
}

impl Config {
    fn parse(text: &str) -> Result<Config, String> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        // The config is the operator's, not a secret: serde's message (which names the field) is
        // shown as it is.
        serde_json::from_str(text).map_err(|e| {
            format!(r#"config: {e} (expected {{"clusters": ["name", …], "pendingWeight": 1}})"#)
        })
    }
}

struct LeastLoaded;

impl Guest for LeastLoaded {
    fn place(
        template: TemplateInfo,
        clusters: Vec<ClusterState>,
        config: String,
    ) -> Result<PlacementDecision, PluginError> {
        let decision =
            choose(&template, &clusters, &config).map_err(|message| PluginError { message })?;
        if log::enabled(Level::Debug) {
            let place = &decision.place;
            log::write(
                Level::Debug,
                &format!(
                    "{} goes to {:?}/{}",
                    template.node_name, place.cluster, place.namespace
                ),
            );
        }
        Ok(decision)
    }
}

placement::export!(LeastLoaded);

fn choose(
    template: &TemplateInfo,
    clusters: &[ClusterState],
    config: &str,
) -> Result<PlacementDecision, String> {
    let config = Config::parse(config)?;
    let requested = &template.requested;
    let namespace = if requested.namespace.is_empty() {
        template.workflow_namespace.clone()
    } else {
        requested.namespace.clone()
    };
    if !requested.cluster.is_empty() {
        if !clusters.iter().any(|c| c.name == requested.cluster) {
            return Err(format!(
                "cluster {:?} is not one the controller knows",
                requested.cluster
            ));
        }
        return Ok(PlacementDecision {
            place: Place {
                cluster: requested.cluster.clone(),
                namespace,
            },
            reason: Some("the template names its cluster".into()),
        });
    }
    let allowed = |c: &&ClusterState| {
        config
            .clusters
            .as_ref()
            .is_none_or(|names| names.contains(&c.name))
    };
    let load = |c: &ClusterState| {
        u64::from(config.pending_weight) * u64::from(c.pending_pods) + u64::from(c.running_pods)
    };
    let healthy: Vec<&ClusterState> = clusters
        .iter()
        .filter(allowed)
        .filter(|c| c.healthy)
        .collect();
    healthy
        .iter()
        .min_by(|a, b| load(a).cmp(&load(b)).then_with(|| a.name.cmp(&b.name)))
        .map(|c| PlacementDecision {
            place: Place {
                cluster: c.name.clone(),
                namespace,
            },
            reason: Some(format!(
                "the least loaded of {} healthy candidates: {} pending × {} + {} running = {}",
                healthy.len(),
                c.pending_pods,
                config.pending_weight,
                c.running_pods,
                load(c)
            )),
        })
        .ok_or_else(|| match &config.clusters {
            None => format!("no healthy cluster, of {} known", clusters.len()),
            Some(names) => format!(
                "no healthy cluster among those configured: {}",
                names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use placement::testing::template;

    fn cluster(name: &str, healthy: bool, pending: u32, running: u32) -> ClusterState {
        testing::cluster(name, &[], healthy, pending, running)
    }

    fn clusters() -> Vec<ClusterState> {
        vec![
            cluster("", true, 2, 9),  // 11 (weight 1), 13 (weight 2)
            cluster("a", true, 4, 2), // 6, 10
            cluster("b", true, 1, 7), // 8, 9
            cluster("c", false, 0, 0),
        ]
    }

    fn chosen(t: &TemplateInfo, cs: &[ClusterState], config: &str) -> String {
        choose(t, cs, config).unwrap().place.cluster
    }

    #[test]
    fn fewest_weighted_pods_among_healthy_clusters() {
        let cs = clusters();
        let t = template("", "");
        assert_eq!(chosen(&t, &cs, ""), "a");
        assert_eq!(chosen(&t, &cs, r#"{"pendingWeight": 2}"#), "b");
        assert_eq!(chosen(&t, &cs, r#"{"pendingWeight": 0}"#), "a");
        assert_eq!(chosen(&t, &cs, r#"{"clusters": ["", "b"]}"#), "b");
        assert_eq!(chosen(&t, &cs, r#"{"clusters": ["", "c"]}"#), "");
        assert_eq!(choose(&t, &cs, "").unwrap().place.namespace, "argo");
        assert_eq!(
            choose(&template("", "ns"), &cs, "")
                .unwrap()
                .place
                .namespace,
            "ns"
        );
    }

    #[test]
    fn each_answer_says_why() {
        let cs = clusters();
        let reason = |t: &TemplateInfo, config: &str| choose(t, &cs, config).unwrap().reason;
        assert_eq!(
            reason(&template("", ""), r#"{"pendingWeight": 2}"#).as_deref(),
            Some("the least loaded of 3 healthy candidates: 1 pending × 2 + 7 running = 9")
        );
        assert_eq!(
            reason(&template("c", ""), "").as_deref(),
            Some("the template names its cluster")
        );
    }

    #[test]
    fn ties_go_to_the_first_name_whatever_the_order() {
        let mut cs = vec![
            cluster("z", true, 1, 1),
            cluster("m", true, 0, 2),
            cluster("q", true, 2, 0),
        ];
        assert_eq!(chosen(&template("", ""), &cs, ""), "m");
        cs.reverse();
        assert_eq!(chosen(&template("", ""), &cs, ""), "m");
    }

    #[test]
    fn an_explicit_cluster_is_honoured() {
        let cs = clusters();
        let p = choose(&template("c", "x"), &cs, r#"{"clusters": ["a"]}"#)
            .unwrap()
            .place;
        assert_eq!((p.cluster.as_str(), p.namespace.as_str()), ("c", "x"));
        assert_eq!(
            choose(&template("nope", ""), &cs, "").unwrap_err(),
            r#"cluster "nope" is not one the controller knows"#
        );
    }

    #[test]
    fn no_healthy_cluster_and_bad_config_are_errors() {
        let mut cs = clusters();
        cs.iter_mut().for_each(|c| c.healthy = false);
        let t = template("", "");
        assert_eq!(
            choose(&t, &cs, "").unwrap_err(),
            "no healthy cluster, of 4 known"
        );
        assert_eq!(
            choose(&t, &clusters(), r#"{"clusters": ["c", "gone"]}"#).unwrap_err(),
            r#"no healthy cluster among those configured: "c", "gone""#
        );
        let err = choose(&t, &clusters(), r#"{"pendingWieght": 2}"#).unwrap_err();
        assert!(
            err.starts_with("config: unknown field `pendingWieght`"),
            "{err}"
        );
        let err = choose(&t, &clusters(), r#"{"pendingWeight": -1}"#).unwrap_err();
        assert!(err.starts_with("config: invalid value"), "{err}");
    }
}
