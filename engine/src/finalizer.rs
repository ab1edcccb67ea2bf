//! Pods outside the workflow's own cluster and namespace have no owner reference — none can
//! cross — so Kubernetes will not delete them with their workflow. A finalizer on the workflow,
//! added before the first such pod is created, holds its deletion until the controller has
//! deleted them; what it could not delete (an unreachable cluster) keeps the finalizer and is
//! reported, never forgotten.

use std::time::Duration;

use super::Observed;
use crate::decision::{Decision, Effects, FinalizerChange, PodAction};
use crate::workflow::Workflow;

/// The workflow finalizer guarding pods in other clusters and namespaces.
pub const FINALIZER: &str = "flotilla.dev/remote-pods";

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
    if !observed.blind.is_empty() {
        let message = format!(
            "cannot delete this workflow's pods yet: {}; the finalizer {FINALIZER} stays until they are gone",
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
