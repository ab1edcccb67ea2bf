//! Pods outside the workflow's own cluster and namespace have no owner reference — none can
//! cross — so Kubernetes will not delete them with their workflow. A finalizer on the workflow,
//! added before the first such pod is created, holds its deletion until the controller has
//! deleted them; what it could not delete (an unreachable cluster) keeps the finalizer and is
//! reported, never forgotten.

use std::time::Duration;

use super::{Action, Decision, Observed};
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

/// Puts [`Action::AddFinalizer`] first when the actions create a pod the workflow cannot own
/// and the finalizer is not there yet.
pub(super) fn guard(wf: &Workflow, actions: &mut Vec<Action>) {
    let own_namespace = wf.metadata.namespace.as_deref().unwrap_or_default();
    let elsewhere = actions.iter().any(|a| {
        matches!(a, Action::CreatePod { cluster, namespace, .. }
            if cluster.is_some() || namespace != own_namespace)
    });
    if elsewhere && !has_finalizer(wf) {
        actions.insert(0, Action::AddFinalizer);
    }
}

/// A workflow being deleted: delete its pods elsewhere, then release the finalizer.
pub(super) fn cleanup(wf: &Workflow, observed: &Observed) -> Decision {
    let status = wf.status.clone().unwrap_or_default();
    let mut actions = Vec::new();
    if !has_finalizer(wf) {
        return Decision {
            status,
            actions,
            requeue_after: None,
        };
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
            actions.push(Action::DeletePod {
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
        actions.push(Action::Event {
            warning: true,
            reason: "CleanupPending".into(),
            message,
        });
        remaining += 1;
    }
    if remaining == 0 {
        actions.push(Action::RemoveFinalizer);
    }
    Decision {
        status,
        actions,
        requeue_after: (remaining > 0).then_some(CLEANUP_RETRY),
    }
}
