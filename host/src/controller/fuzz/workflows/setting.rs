//! The controller's setting in one case: its policy, scripted placement and naming answers, its
//! own cluster, which remotes answer, its create budget and its clock.

use super::*;

/// A placement or naming policy (a plugin, to the engine) that answers what the fuzzer chose:
/// any cluster, namespace or pod name, no opinion, or an error.
#[derive(Debug, Clone)]
pub(super) struct Scripted {
    pub(super) places: Vec<Result<Option<(String, String)>, String>>,
    pub(super) names: Vec<Result<Option<String>, String>>,
}

impl Scripted {
    /// The answer for a node: fixed by its name, as plugins must be deterministic.
    fn pick<'a, T>(answers: &'a [T], node: &str) -> Option<&'a T> {
        let n = answers.len();
        let hash = node.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        (n > 0).then(|| &answers[hash % n])
    }
}

impl PlacementPolicy for Scripted {
    fn place(&self, t: &TemplateInfo, _: &[ClusterState]) -> Result<Option<Place>, String> {
        match Self::pick(&self.places, &t.node_name) {
            None | Some(Ok(None)) => Ok(None),
            Some(Ok(Some((cluster, namespace)))) => Ok(Some(Place {
                cluster: cluster.clone(),
                namespace: namespace.clone(),
            })),
            Some(Err(e)) => Err(e.clone()),
        }
    }
}

impl NamingPolicy for Scripted {
    fn pod_name(&self, t: &TemplateInfo, _: &Place) -> Result<Option<String>, String> {
        Self::pick(&self.names, &t.node_name)
            .cloned()
            .unwrap_or(Ok(None))
    }
}

pub(super) fn scripted() -> BoxedStrategy<Option<Scripted>> {
    let place = prop_oneof![
        2 => Just(Ok(None)),
        4 => (name(), name()).prop_map(|p| Ok(Some(p))),
        1 => text().prop_map(Err),
    ];
    let pod_name = prop_oneof![
        2 => Just(Ok(None)),
        4 => prop_oneof![name(), Just("victims-pod".to_string()), (200usize..300).prop_map(|n| "p".repeat(n))].prop_map(|n| Ok(Some(n))),
        1 => text().prop_map(Err),
    ];
    prop::option::weighted(
        0.3,
        (
            prop::collection::vec(place, 0..4),
            prop::collection::vec(pod_name, 0..3),
        )
            .prop_map(|(places, names)| Scripted { places, names }),
    )
    .boxed()
}

/// The controller's policy: one with wildcard lines (keyMatch panics on multi-byte characters
/// there), or whatever the ConfigMap may hold.
pub(super) fn policy_text() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        3 => select(&[
            "p, cluster-0:team-a, cluster-1:*",
            "p, :team-a, cluster-1:*\np, :team-a, :*",
            "p, *, *",
            "p, cluster-0:*, cluster-*\np, cluster-0:team-a, cluster-0:team-b",
        ][..]).prop_map(|p| Some(p.to_string())),
        1 => Just(None),
        2 => policies::policy(),
    ]
    .boxed()
}

/// Everything about a reconcile that is not the workflow.
#[derive(Debug, Clone)]
pub(super) struct Setting {
    pub(super) policy: Option<String>,
    pub(super) plugins: Option<Scripted>,
    pub(super) own_cluster: Option<&'static str>,
    /// Whether each remote (cluster, namespace), in order, answers (else it is unreachable).
    pub(super) reachable: Vec<bool>,
    pub(super) max_creates: usize,
    /// Seconds past the workflow's timestamps.
    pub(super) now: i64,
}

pub(super) fn setting() -> BoxedStrategy<Setting> {
    (
        policy_text(),
        scripted(),
        select(&[None, Some("cluster-0")][..]),
        prop::collection::vec(prop::bool::weighted(0.8), 0..4),
        select(&[1usize, 3, 50][..]),
        select(&[0i64, 1, 61, 3600, 86_400 * 400][..]),
    )
        .prop_map(
            |(policy, plugins, own_cluster, reachable, max_creates, now)| Setting {
                policy,
                plugins,
                own_cluster,
                reachable,
                max_creates,
                now,
            },
        )
        .boxed()
}
