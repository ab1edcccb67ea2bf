//! Where a workflow's pods may be looked at: the places its status records that the policy
//! grants, and whether each remote one can be seen now.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::{Context, remote};
use crate::clusters::LookupError;
use flotilla_engine as engine;
use flotilla_engine::workflow::Workflow;

/// How long the configuration must have named the same places before one it does not name
/// counts as gone for good (a deleted workflow then stops waiting for it).
const FORGOTTEN_AFTER: Duration = Duration::from_secs(60);

/// How soon a workflow whose only unseen places are ones the configuration does not name is
/// looked at again.
const UNCONFIGURED_LOOK_AGAIN: Duration = Duration::from_secs(60);

/// What can be seen of a workflow's remote places now.
pub(super) struct Sight {
    /// The caches of the places that can be seen, by (cluster, namespace).
    pub(super) remotes: HashMap<(String, String), Arc<remote::Remote>>,
    /// One line per place that cannot be seen now, for the engine's messages.
    pub(super) blind: Vec<String>,
    /// One line per place the configuration no longer names (no entry for the cluster and
    /// namespace): it cannot be seen, and will not be unless it is configured again.
    pub(super) forgotten: Vec<String>,
    /// Why each place that cannot be seen cannot, by (cluster, namespace).
    pub(super) unreachable: BTreeMap<(String, String), String>,
    /// How long the longest-failing of them has been failing (of those the configuration names).
    pub(super) failing_for: Duration,
    /// Some of them are places the configuration does not name.
    pub(super) unconfigured: bool,
    /// Some of them are named but fail.
    pub(super) failing: bool,
}

impl Sight {
    /// What the delay before looking again is reckoned from (`requeue::after` waits half of it):
    /// how long the places that fail have failed; only places the configuration does not name
    /// are looked at again slowly, as nothing there changes until the configuration does.
    pub(super) fn failing_basis(&self) -> Duration {
        if self.unconfigured && !self.failing {
            UNCONFIGURED_LOOK_AGAIN * 2
        } else {
            self.failing_for
        }
    }

    /// Whether an unfinished node of `wf` (in `namespace`) is in a place that cannot be seen:
    /// worth looking again only then (a node refused before it ever had a pod, say, needs
    /// nothing from its cluster).
    pub(super) fn blinds(&self, wf: &Workflow, namespace: &str) -> bool {
        wf.status.iter().flat_map(|s| s.nodes.values()).any(|n| {
            let ns = n.namespace.as_deref().unwrap_or(namespace);
            !n.phase.is_fulfilled()
                && n.cluster
                    .as_ref()
                    .is_some_and(|c| self.unreachable.contains_key(&(c.clone(), ns.to_string())))
        })
    }
}

/// The remote caches this workflow's nodes are in. A cluster (and namespace) whose cache is
/// not complete is reported to the engine instead, which leaves the nodes there as they are
/// (with a message) while the others carry on: an absent pod must mean "not created", never
/// "cannot see".
pub(super) async fn look(
    ctx: &Context,
    wf: &Workflow,
    namespace: &str,
    access: &dyn engine::Access,
) -> Sight {
    let mut sight = Sight {
        remotes: HashMap::new(),
        blind: Vec::new(),
        forgotten: Vec::new(),
        unreachable: BTreeMap::new(),
        failing_for: Duration::ZERO,
        unconfigured: false,
        failing: false,
    };
    let own_cluster = ctx.engine.cluster.as_deref();
    let registry = ctx.remotes.registry();
    // A place counts as gone from the configuration only when the configuration is settled and
    // whole: no key it cannot read (a typo may be the missing place), and no change for a
    // while (a Secret deleted and made again passes through "no such key").
    let settled = registry.problems.is_empty() && ctx.remotes.settled_for() >= FORGOTTEN_AFTER;
    for (cluster, ns) in remote_scopes(wf, namespace, own_cluster, access) {
        if let Err(gone @ (LookupError::Unknown { .. } | LookupError::Namespace { .. })) =
            registry.lookup(&cluster, &ns)
        {
            let message = gone.to_string();
            let line = format!("cluster {cluster:?} namespace {ns:?}: {message}");
            if settled {
                sight.forgotten.push(line);
            } else {
                sight.blind.push(line);
            }
            // Its nodes wait, saying why, as for an unreachable cluster: credentials may be
            // added back. Looked at again slowly: nothing there changes until the
            // configuration does.
            sight.unreachable.insert((cluster, ns), message);
            sight.unconfigured = true;
            continue;
        }
        let seen = match ctx.remotes.get(&cluster, &ns).await {
            Ok(remote) => {
                let ready = remote.ready().await;
                let failing = remote.failing_for().unwrap_or_default();
                sight.failing_for = sight.failing_for.max(failing);
                match (remote.problem(), ready) {
                    (Some(problem), _) => Err(problem),
                    (None, false) => Err("it has not answered yet".to_string()),
                    (None, true) => Ok(remote),
                }
            }
            Err(e) => Err(e),
        };
        match seen {
            Ok(remote) => {
                sight.remotes.insert((cluster, ns), remote);
            }
            Err(message) => {
                warn!(cluster = %cluster, namespace = %ns, problem = %message, "cannot see the workflow's pods there");
                sight.failing = true;
                sight
                    .blind
                    .push(format!("cluster {cluster:?} namespace {ns:?}: {message}"));
                sight.unreachable.insert((cluster, ns), message);
            }
        }
    }
    sight
}

/// The (cluster, namespace) pairs other than the controller's own cluster where this
/// workflow's nodes run, as its status records them: only valid names the policy allows are
/// watched (the engine fails a node recorded anywhere else), so a forged status opens nothing.
pub(super) fn remote_scopes(
    wf: &Workflow,
    namespace: &str,
    own_cluster: Option<&str>,
    access: &dyn engine::Access,
) -> HashSet<(String, String)> {
    let mut scopes = HashSet::new();
    for node in wf.status.iter().flat_map(|s| s.nodes.values()) {
        let Some(cluster) = node.cluster.as_deref() else {
            continue;
        };
        let ns = node.namespace.as_deref().unwrap_or(namespace);
        if scopes.contains(&(cluster.to_string(), ns.to_string())) {
            continue;
        }
        if may_observe(own_cluster, namespace, Some(cluster), ns, access) {
            scopes.insert((cluster.to_string(), ns.to_string()));
        }
    }
    scopes
}

/// Whether a workflow in `namespace` may have its pods observed — and so deleted or labelled —
/// in `cluster` (`None`: the controller's own) and `ns`: its own place, or valid names the
/// policy grants. The same rule for the own cluster as for remote ones: a status recording
/// another place observes nothing there, so nothing there is touched.
pub(super) fn may_observe(
    own_cluster: Option<&str>,
    namespace: &str,
    cluster: Option<&str>,
    ns: &str,
    access: &dyn engine::Access,
) -> bool {
    if cluster.is_none() && ns == namespace {
        return true;
    }
    let valid = |name: &str| flotilla_engine::naming::dns_label_error(name).is_none();
    let own = own_cluster.unwrap_or_default();
    cluster.is_none_or(valid)
        && valid(ns)
        && access.allows(
            &crate::authz::scope(own, namespace),
            &crate::authz::scope(cluster.unwrap_or(own), ns),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Places the configuration does not name are looked at again slowly; a named place that
    /// fails keeps its own back-off, whatever else is unseen.
    #[test]
    fn only_unconfigured_places_are_looked_at_again_slowly() {
        let sight = |unconfigured, failing| Sight {
            remotes: HashMap::new(),
            blind: Vec::new(),
            forgotten: Vec::new(),
            unreachable: BTreeMap::new(),
            failing_for: Duration::from_secs(4),
            unconfigured,
            failing,
        };
        assert_eq!(sight(true, false).failing_basis(), Duration::from_secs(120));
        assert_eq!(sight(true, true).failing_basis(), Duration::from_secs(4));
        assert_eq!(sight(false, true).failing_basis(), Duration::from_secs(4));
    }

    /// Found by the fuzz target (`controller::fuzz::workflows`): a status recording a node in
    /// another namespace of the controller's own cluster, plus a self-loop that aborts the
    /// workflow, made the controller delete the pod observed there although the policy grants
    /// that namespace nothing. Pods are observed in the own cluster under the same rule as in
    /// remote ones.
    #[tokio::test]
    async fn pods_are_observed_only_where_the_policy_allows() {
        let access =
            crate::authz::Authorizer::new(None, Some("p, cluster-0:argo, cluster-0:shared"))
                .await
                .unwrap();
        let own = Some("cluster-0");
        assert!(may_observe(own, "argo", None, "argo", &access));
        assert!(may_observe(own, "argo", None, "shared", &access));
        assert!(!may_observe(own, "argo", None, "team-b", &access));
        assert!(!may_observe(own, "argo", None, "team-\u{20ac}", &access));
        assert!(!may_observe(
            own,
            "argo",
            Some("cluster-1"),
            "argo",
            &access
        ));
        assert!(may_observe(
            own,
            "argo",
            Some("cluster-0"),
            "shared",
            &access
        ));
    }
}
