//! Pods outside the workflow's own cluster and namespace have no owner reference — none can
//! cross — so Kubernetes will not delete them with their workflow. A finalizer on the workflow,
//! added before the first such pod is created, holds its deletion until the controller has
//! deleted them; what it could not delete (an unreachable cluster) keeps the finalizer and is
//! reported, never forgotten. Two things release it all the same, each reported as an event: a
//! place the configuration no longer names (its credentials removed: nothing there can be
//! reached again), and an administrator's annotation [`RELEASE_ANNOTATION`] `"true"` on the
//! workflow — the escape hatch for a cluster that is never coming back. Pods left that way are
//! deleted by the orphan sweep if their cluster is ever configured and reachable again.

use std::time::Duration;

use super::Observed;
use crate::decision::{Decision, Effects, FinalizerChange, PodAction};
use crate::workflow::Workflow;

/// The workflow finalizer guarding pods in other clusters and namespaces.
pub const FINALIZER: &str = "flotilla.dev/remote-pods";

/// Set to `"true"` on a workflow being deleted, releases [`FINALIZER`] without waiting for the
/// pods it guards (those in clusters that cannot be reached are left behind). Whoever may edit
/// the workflow could remove the finalizer itself; this does it with a record of what was left.
pub const RELEASE_ANNOTATION: &str = "flotilla.dev/release-remote-pods";

/// How soon a deleted workflow is looked at again while its pods are going.
const CLEANUP_RETRY: Duration = Duration::from_secs(5);

fn has_finalizer(wf: &Workflow) -> bool {
    wf.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == FINALIZER)
}

/// Asks for the finalizer ([`FinalizerChange::Add`]) when the effects create a pod the workflow
/// cannot own and the finalizer is not there yet.
pub(super) fn guard(wf: &Workflow, effects: &mut Effects) {
    let own_namespace = wf.metadata.namespace.as_deref().unwrap_or_default();
    let elsewhere = effects.pods.iter().any(|a| {
        matches!(a, PodAction::Create { cluster, namespace, .. }
            if cluster.is_some() || namespace != own_namespace)
    });
    if elsewhere && !has_finalizer(wf) {
        effects.finalizer = Some(FinalizerChange::Add);
    }
}

/// A workflow being deleted: delete its pods elsewhere, then release the finalizer.
pub(super) fn cleanup(wf: &Workflow, observed: &Observed) -> Decision {
    let status = wf.status.clone().unwrap_or_default();
    let mut effects = Effects::default();
    if !has_finalizer(wf) {
        return effects.decide(status, None);
    }
    let own_namespace = wf.metadata.namespace.clone().unwrap_or_default();
    let mut remaining = 0;
    for (id, node) in &status.nodes {
        let namespace = node
            .namespace
            .clone()
            .unwrap_or_else(|| own_namespace.clone());
        if node.cluster.is_none() && namespace == own_namespace {
            continue;
        }
        let Some(pod) = observed.pods.get(id) else {
            continue;
        };
        remaining += 1;
        if !pod.deleting {
            effects.pods.push(PodAction::Delete {
                node_id: id.clone(),
                cluster: node.cluster.clone(),
                namespace,
                name: pod.name.clone(),
                pod_uid: pod.uid.clone(),
            });
        }
    }
    if !observed.forgotten.is_empty() {
        let message = format!(
            "pods left behind where the configuration no longer reaches: {}; the orphan sweep deletes them if it is configured again",
            observed.forgotten.join("; ")
        );
        effects.event(true, "CleanupAbandoned", message);
    }
    let released = wf
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RELEASE_ANNOTATION))
        .is_some_and(|v| v == "true");
    if released && (remaining > 0 || !observed.blind.is_empty()) {
        // What can be deleted is asked for all the same; nothing more is waited for.
        let unseen = if observed.blind.is_empty() {
            String::new()
        } else {
            format!("; not seen, and left behind: {}", observed.blind.join("; "))
        };
        let message = format!(
            "finalizer {FINALIZER} released by annotation {RELEASE_ANNOTATION}: {remaining} pod(s) not gone yet{unseen}"
        );
        effects.event(true, "FinalizerReleased", message);
        remaining = 0;
    } else if !observed.blind.is_empty() {
        let message = format!(
            "cannot delete this workflow's pods yet: {}; the finalizer {FINALIZER} stays until they are gone (annotation {RELEASE_ANNOTATION}=true releases it)",
            observed.blind.join("; ")
        );
        effects.event(true, "CleanupPending", message);
        remaining += 1;
    }
    if remaining == 0 {
        effects.finalizer = Some(FinalizerChange::Remove);
    }
    effects.decide(status, (remaining > 0).then_some(CLEANUP_RETRY))
}
