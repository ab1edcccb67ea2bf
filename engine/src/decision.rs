//! The engine's verdict for one reconcile, typed by what the controller does with each part and
//! when: the finalizer before (added) or after (removed) the pods are touched, the pods to
//! create, delete or label, the workflow to delete, the status to write, the events to publish
//! once it is written, and when to look again.

use std::time::Duration;

use crate::PodManifest;
use crate::workflow::WorkflowStatus;

/// What the controller carries out for one workflow, in the order of its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The workflow's new status (written after the pods are applied, with their uids).
    pub status: WorkflowStatus,
    /// [`crate::FINALIZER`]: added before any pod is created, removed after the pods are gone.
    pub finalizer: Option<FinalizerChange>,
    /// Pods to create, delete and label, in order.
    pub pods: Vec<PodAction>,
    /// Delete the workflow itself (`ttlStrategy`).
    pub delete_workflow: Option<WorkflowDeletion>,
    /// Kubernetes events on the workflow, published once its status is saved.
    pub events: Vec<Event>,
    /// Reconcile again after this long even if nothing is observed (retry back-off, suspend
    /// durations, the workflow deadline, pod GC delays, TTLs).
    pub requeue_after: Option<Duration>,
    /// The fuel this pass's expressions spent (see [`crate::Observed::expression_fuel`]).
    pub expression_fuel: u64,
    /// Argo's `WorkflowNode<Phase>` events for the nodes whose phase this pass changed,
    /// published with [`Decision::events`].
    pub node_events: Vec<NodeEvent>,
}

/// An event about one node of the workflow (the involved object is still the workflow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvent {
    pub warning: bool,
    pub reason: String,
    pub message: String,
    /// The node's name and type, for Argo's annotations ([`crate::node_events::NODE_NAME`]).
    pub node_name: String,
    pub node_type: String,
}

/// The workflow's finalizer, which guards pods no owner reference can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalizerChange {
    /// Before creating pods the workflow cannot own (another cluster or namespace).
    Add,
    /// Its pods elsewhere are gone.
    Remove,
}

/// Something to do to one node's pod.
#[derive(Debug, Clone, PartialEq)]
pub enum PodAction {
    /// Create this pod (idempotent: the name is deterministic).
    Create {
        node_id: String,
        /// The cluster to create it in: `None` is the controller's own.
        cluster: Option<String>,
        namespace: String,
        pod: PodManifest,
    },
    /// Delete a pod (shutdown, deadline, pod GC). Only a pod proven to be this workflow's is
    /// deleted: with `pod_uid` (an observed pod) as a precondition; without (a pod asked for
    /// but not observed yet), the applier first reads it and checks its ownership labels.
    Delete {
        node_id: String,
        cluster: Option<String>,
        namespace: String,
        name: String,
        pod_uid: Option<String>,
    },
    /// Label a pod whose node's outcome is stored `workflows.argoproj.io/completed=true` (a merge
    /// patch of its labels), as Argo does.
    LabelCompleted {
        node_id: String,
        cluster: Option<String>,
        namespace: String,
        name: String,
        /// The observed pod's uid, sent with the patch: the API server refuses to change a uid,
        /// so the patch cannot land on another pod of the same name.
        pod_uid: Option<String>,
    },
}

/// Delete the workflow (`ttlStrategy`); `uid` guards against deleting a newer workflow of the
/// same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowDeletion {
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

/// A Kubernetes event to record on the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

/// What a reconcile gathers besides the status, part by part, before it becomes a [`Decision`].
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) finalizer: Option<FinalizerChange>,
    pub(crate) pods: Vec<PodAction>,
    pub(crate) delete_workflow: Option<WorkflowDeletion>,
    pub(crate) events: Vec<Event>,
}

impl Effects {
    pub(crate) fn event(&mut self, warning: bool, reason: &str, message: String) {
        self.events.push(Event {
            warning,
            reason: reason.into(),
            message,
        });
    }

    /// Takes `other`'s parts after this one's (its finalizer and workflow deletion if set).
    pub(crate) fn append(&mut self, mut other: Effects) {
        self.finalizer = other.finalizer.or(self.finalizer);
        self.pods.append(&mut other.pods);
        self.delete_workflow = other.delete_workflow.or(self.delete_workflow.take());
        self.events.append(&mut other.events);
    }

    pub(crate) fn decide(
        self,
        status: WorkflowStatus,
        requeue_after: Option<Duration>,
    ) -> Decision {
        Decision {
            status,
            finalizer: self.finalizer,
            pods: self.pods,
            delete_workflow: self.delete_workflow,
            events: self.events,
            requeue_after,
            expression_fuel: 0,
            node_events: Vec::new(),
        }
    }
}
