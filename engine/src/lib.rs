//! The workflow engine: given a workflow and what the controller observed of its pods and task
//! results, decide the workflow's new status and the actions to take (create this pod, delete
//! that one, record an event). Pure and synchronous — no I/O, no clock of its own — so every
//! rule of Argo's semantics is unit-tested without a server, and reconciling the same
//! observations twice decides the same thing (pod names are deterministic, so a repeated create
//! is an `AlreadyExists` the applier ignores).

pub mod bounded_yaml;
pub mod merge_patch;
pub mod naming;
pub mod ports;
pub mod resource_target;
pub mod workflow;

mod budget;
mod children;
mod dag;
mod exit;
mod expr;
mod fanout;
mod finalizer;
mod gc;
mod graph;
mod lifecycle;
mod manifest;
mod parallelism;
mod placement;
mod pods;
mod proof;
mod resource;
mod retry;
mod steps;
mod suspend;
mod template;
mod validate;
mod vars;
mod walk;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub use finalizer::FINALIZER;
pub use manifest::{EXECUTOR_BINARY, EXECUTOR_PATH, PodManifest};
pub use ports::Access;
pub use proof::{CreatorProof, PodIdentity};
pub use retry::parse_duration;

use crate::naming::PodNameFormat;
use crate::workflow::{NodePhase, NodeType, Outputs, Workflow, WorkflowPhase, WorkflowStatus};

/// Settings of the controller that shape what the engine decides.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `workflows.argoproj.io/controller-instanceid`, stamped on everything created.
    pub instance_id: Option<String>,
    /// The image whose `flotilla-executor` ([`EXECUTOR_BINARY`]) wraps each main container.
    pub executor_image: String,
    /// Most pods one reconcile creates (the rest wait for the next): keeps a reconcile short.
    pub max_pod_creates_per_reconcile: usize,
    /// The name of the controller's own cluster (`ARGO_CLUSTER`); a template naming it runs here.
    pub cluster: Option<String>,
    /// How long after its node completes a pod is deleted under `podGC` when the workflow does
    /// not say (`podGC.deleteDelayDuration`); Argo's controller default is 5s.
    pub pod_gc_delete_delay: Duration,
    /// Stamps each pod with the controller's proof that it made it (`None`: no stamp, and a
    /// controller checking for one will own no pod).
    pub creator_proof: Option<std::sync::Arc<dyn CreatorProof>>,
}

/// The image pods run `flotilla-executor` from by default: this release's, pinned (a moving
/// tag would let pods run an executor of another version than the controller expects).
pub const EXECUTOR_IMAGE: &str =
    concat!("ghcr.io/flotilla-wf/flotilla:", env!("CARGO_PKG_VERSION"));

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            instance_id: None,
            executor_image: EXECUTOR_IMAGE.into(),
            max_pod_creates_per_reconcile: 10_000,
            cluster: None,
            pod_gc_delete_delay: Duration::from_secs(5),
            creator_proof: None,
        }
    }
}

/// A pod's lifecycle phase as the engine needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

/// What the controller saw of one node's pod.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedPod {
    pub name: String,
    /// The pod's uid: deletions and patches of it are conditional on it, so they can never
    /// reach another pod that took the name since it was observed.
    pub uid: Option<String>,
    pub phase: PodPhase,
    /// The pod's (or its main container's) failure message, e.g. a deadline or an eviction.
    pub message: Option<String>,
    /// The main container's exit code, once it terminated.
    pub exit_code: Option<i32>,
    pub pod_ip: Option<String>,
    pub host_node_name: Option<String>,
    /// The pod is being deleted.
    pub deleting: bool,
}

/// What the executor reported for a node (its `WorkflowTaskResult`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedResult {
    pub outputs: Outputs,
    /// The executor has reported every output (`report-outputs-completed`).
    pub complete: bool,
    /// Why the executor could not collect the outputs (the node errors with it).
    pub message: Option<String>,
}

/// Everything the controller observed for one workflow, keyed by node ID.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The authorization policy in force; `None` allows only the workflow's own cluster and
    /// namespace (the default model with an empty policy).
    pub access: Option<std::sync::Arc<dyn Access>>,
    /// Where this workflow's pods could not be observed, and why (an unreachable cluster): no
    /// pod there is known to be gone.
    pub blind: Vec<String>,
    /// Clusters (and namespaces there) that cannot be seen now, with the reason: their nodes
    /// keep their phase and say so, nothing new starts there, and the others carry on.
    pub unreachable: BTreeMap<(String, String), String>,
    pub pods: BTreeMap<String, ObservedPod>,
    pub results: BTreeMap<String, ObservedResult>,
    /// The placement and naming policies in force (none: the template's place, Argo's names).
    pub policies: ports::Policies,
    /// Pod creations the API server refused for good (403, 422…), with the reason.
    pub create_errors: BTreeMap<String, String>,
    /// Each observed pod's labels, by node ID: pod GC's label selector, and whether the pod is
    /// already labelled `workflows.argoproj.io/completed=true`.
    pub pod_labels: BTreeMap<String, BTreeMap<String, String>>,
}

/// Something the controller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create this pod (idempotent: the name is deterministic).
    CreatePod {
        node_id: String,
        /// The cluster to create it in: `None` is the controller's own.
        cluster: Option<String>,
        namespace: String,
        pod: PodManifest,
    },
    /// Delete a pod (shutdown, deadline, pod GC). Only a pod proven to be this workflow's is
    /// deleted: with `pod_uid` (an observed pod) as a precondition; without (a pod asked for
    /// but not observed yet), the applier first reads it and checks its ownership labels.
    DeletePod {
        node_id: String,
        cluster: Option<String>,
        namespace: String,
        name: String,
        pod_uid: Option<String>,
    },
    /// Label a pod whose node's outcome is stored `workflows.argoproj.io/completed=true` (a merge
    /// patch of its labels), as Argo does.
    LabelPodCompleted {
        node_id: String,
        cluster: Option<String>,
        namespace: String,
        name: String,
        /// The observed pod's uid, sent with the patch: the API server refuses to change a uid,
        /// so the patch cannot land on another pod of the same name.
        pod_uid: Option<String>,
    },
    /// Delete the workflow (`ttlStrategy`); `uid` guards against deleting a newer workflow of the
    /// same name.
    DeleteWorkflow {
        namespace: String,
        name: String,
        uid: Option<String>,
    },
    /// Add [`FINALIZER`] to the workflow (before it creates pods it cannot own).
    AddFinalizer,
    /// Remove [`FINALIZER`]: its pods elsewhere are gone.
    RemoveFinalizer,
    /// Record a Kubernetes event on the workflow.
    Event {
        warning: bool,
        reason: String,
        message: String,
    },
}

/// The engine's verdict for one reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: WorkflowStatus,
    pub actions: Vec<Action>,
    /// Reconcile again after this long even if nothing is observed (retry back-off, suspend
    /// durations, the workflow deadline, pod GC delays, TTLs).
    pub requeue_after: Option<Duration>,
}

/// `now` as the API's `metav1.Time`.
pub fn time(now: jiff::Timestamp) -> Time {
    Time(now)
}

/// Decides what happens next for `wf`.
///
/// A finished workflow only gets clean-up decisions (pod GC, completed labels, TTL); a running one
/// is walked under its execution control (shutdown, deadline, suspension), then cleaned up after.
pub fn reconcile(
    wf: &Workflow,
    observed: &Observed,
    config: &EngineConfig,
    now: jiff::Timestamp,
) -> Decision {
    if wf.metadata.deletion_timestamp.is_some() {
        return finalizer::cleanup(wf, observed);
    }
    let empty = WorkflowStatus::default();
    let persisted = wf.status.as_ref().unwrap_or(&empty);
    let mut cleanup = gc::Cleanup::default();
    if persisted.phase.is_some_and(WorkflowPhase::is_finished) {
        // Settings edited into a finished workflow cannot fail it any more: invalid ones are
        // skipped (they were checked when it ran).
        if let Ok(pod_gc) = gc::pod_gc(&wf.spec, config) {
            gc::pods(wf, persisted, &pod_gc, observed, now, &mut cleanup);
        }
        gc::ttl(wf, persisted, now, &mut cleanup);
        return Decision {
            status: persisted.clone(),
            actions: cleanup.actions,
            requeue_after: cleanup.requeue_after,
        };
    }
    let mut status = persisted.clone();
    let mut actions = Vec::new();
    if let Err(message) = graph::check(&status.nodes) {
        // Not a graph this controller wrote: the workflow errors, and nothing is walked.
        abort(&mut status, wf, observed, &message, now, &mut actions);
        return ended(status, actions);
    }
    if status.phase.is_none() {
        status.started_at = Some(time(now));
        status.phase = Some(WorkflowPhase::Running);
        // A new workflow is validated once, before anything runs (Argo fails it as invalid).
        match validate::validate(wf) {
            Err(e) => {
                status.nodes.clear();
                finish(
                    &mut status,
                    WorkflowPhase::Failed,
                    Some(format!("invalid spec: {e}")),
                    now,
                    &mut actions,
                );
                return ended(status, actions);
            }
            Ok(validated) => {
                for warning in validated.warnings {
                    actions.push(Action::Event {
                        warning: true,
                        reason: "SpecWarning".into(),
                        message: warning.clone(),
                    });
                    status.conditions.push(crate::workflow::Condition {
                        type_: "SpecWarning".into(),
                        status: "True".into(),
                        message: Some(warning),
                    });
                }
            }
        }
    }
    let started_at = status.started_at.as_ref().map(|t| t.0);
    let settings = lifecycle::control(&wf.spec, started_at, now).and_then(|control| {
        let pod_gc = gc::pod_gc(&wf.spec, config)?;
        gc::check_ttl(&wf.spec)?;
        Ok((control, pod_gc))
    });
    let (control, pod_gc) = match settings {
        Ok(settings) => settings,
        Err(message) => {
            abort(&mut status, wf, observed, &message, now, &mut actions);
            return ended(status, actions);
        }
    };
    let frozen = control.frozen;
    let halt_message = control.halt.as_ref().and_then(|h| h.workflow.clone());
    let mut requeue_after = control.requeue_after;
    let name = wf.metadata.name.clone().unwrap_or_default();
    let format = PodNameFormat::of(wf);
    let mut walker = walk::Walker::new(
        wf,
        observed,
        config,
        now,
        format,
        std::mem::take(&mut status.nodes),
        control,
    );
    let outcome = walker.run(&name);
    if let Some(overrun) = walker.budget.overrun() {
        // Nothing of a walk cut short is kept: the workflow errors from the nodes it had.
        status.nodes = persisted.nodes.clone();
        abort(
            &mut status,
            wf,
            observed,
            &overrun.message(),
            now,
            &mut actions,
        );
        return ended(status, actions);
    }
    actions.append(&mut walker.actions);
    requeue_after = earliest(requeue_after, walker.requeue_after);
    status.nodes = walker.into_nodes();
    match outcome {
        Err(message) => finish(
            &mut status,
            WorkflowPhase::Error,
            Some(message.clone()),
            now,
            &mut actions,
        ),
        // A suspended workflow does not end until it is resumed, as in Argo.
        Ok(_) if frozen => {}
        // Nor does one whose exit handler is still running.
        Ok(walk::Outcome {
            exit: Some(exit), ..
        }) if !exit.is_fulfilled() => {}
        Ok(walk::Outcome { root, exit }) => match root {
            NodePhase::Succeeded | NodePhase::Skipped | NodePhase::Omitted => {
                // Argo: a failed exit handler fails a workflow that had succeeded.
                let exit_message = || {
                    let id = naming::node_id(&name, &format!("{name}.onExit"));
                    status.nodes.get(&id).and_then(|n| n.message.clone())
                };
                let (phase, message) = match exit {
                    Some(NodePhase::Failed) => (WorkflowPhase::Failed, exit_message()),
                    Some(NodePhase::Error) => (WorkflowPhase::Error, exit_message()),
                    _ => (WorkflowPhase::Succeeded, None),
                };
                finish(&mut status, phase, message, now, &mut actions)
            }
            NodePhase::Failed => {
                let message = halt_message.or_else(|| failure_message(&status, &name));
                finish(
                    &mut status,
                    WorkflowPhase::Failed,
                    message,
                    now,
                    &mut actions,
                )
            }
            NodePhase::Error => {
                let message = halt_message.or_else(|| failure_message(&status, &name));
                finish(
                    &mut status,
                    WorkflowPhase::Error,
                    message,
                    now,
                    &mut actions,
                )
            }
            NodePhase::Pending | NodePhase::Running => {}
        },
    }
    status.progress = Some(progress(&status));
    if status.phase.is_some_and(WorkflowPhase::is_finished) {
        // Nothing is left to wait for: no deadline, no back-off.
        requeue_after = None;
    }
    gc::pods(wf, persisted, &pod_gc, observed, now, &mut cleanup);
    actions.append(&mut cleanup.actions);
    finalizer::guard(wf, &mut actions);
    Decision {
        status,
        actions,
        requeue_after: earliest(requeue_after, cleanup.requeue_after),
    }
}

/// A decision that ends this reconcile with `status` as it stands: nothing to requeue for.
fn ended(mut status: WorkflowStatus, actions: Vec<Action>) -> Decision {
    status.progress = Some(progress(&status));
    Decision {
        status,
        actions,
        requeue_after: None,
    }
}

/// The decision for a workflow whose reconcile failed inside the engine (a panic, contained by
/// the controller): a running workflow errors with `message` and keeps its nodes as they were;
/// a finished one is left as it is.
pub fn internal_error(wf: &Workflow, message: &str, now: jiff::Timestamp) -> Decision {
    let mut status = wf.status.clone().unwrap_or_default();
    let mut actions = Vec::new();
    if !status.phase.is_some_and(WorkflowPhase::is_finished)
        && wf.metadata.deletion_timestamp.is_none()
    {
        let message =
            format!("the controller failed deciding this workflow (a bug in Flotilla): {message}");
        finish(
            &mut status,
            WorkflowPhase::Error,
            Some(message),
            now,
            &mut actions,
        );
    }
    Decision {
        status,
        actions,
        requeue_after: None,
    }
}

/// The sooner of two requeues (`None`: no requeue).
pub fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Ends a running workflow whose lifecycle settings are invalid: its unfulfilled nodes error,
/// their pods are deleted, and the workflow errors with `message`.
fn abort(
    status: &mut WorkflowStatus,
    wf: &Workflow,
    observed: &Observed,
    message: &str,
    now: jiff::Timestamp,
    actions: &mut Vec<Action>,
) {
    let wf_namespace = wf.metadata.namespace.clone().unwrap_or_default();
    for (key, node) in status.nodes.iter_mut() {
        if node.phase.is_fulfilled() {
            continue;
        }
        // Pods are observed by node ID: a node filed under another key (a status the controller
        // did not write) would take another node's pod, in its own place, for its own.
        if let Some(pod) = observed
            .pods
            .get(&node.id)
            .filter(|_| *key == node.id)
            .filter(|p| !p.deleting && !matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed))
        {
            actions.push(Action::DeletePod {
                node_id: node.id.clone(),
                cluster: node.cluster.clone(),
                namespace: node
                    .namespace
                    .clone()
                    .unwrap_or_else(|| wf_namespace.clone()),
                name: pod.name.clone(),
                pod_uid: pod.uid.clone(),
            });
        }
        node.phase = NodePhase::Error;
        node.message = Some(message.to_string());
        node.finished_at = Some(time(now));
    }
    finish(
        status,
        WorkflowPhase::Error,
        Some(message.to_string()),
        now,
        actions,
    );
}

fn finish(
    status: &mut WorkflowStatus,
    phase: WorkflowPhase,
    message: Option<String>,
    now: jiff::Timestamp,
    actions: &mut Vec<Action>,
) {
    status.phase = Some(phase);
    status.finished_at = Some(time(now));
    if message.is_some() {
        status.message = message;
    }
    let (warning, reason) = match phase {
        WorkflowPhase::Succeeded => (false, "WorkflowSucceeded"),
        WorkflowPhase::Failed => (true, "WorkflowFailed"),
        _ => (true, "WorkflowError"),
    };
    actions.push(Action::Event {
        warning,
        reason: reason.into(),
        message: status
            .message
            .clone()
            .unwrap_or_else(|| format!("Workflow completed: {phase}")),
    });
}

/// Argo reports the workflow's failure with the root node's message, or that of the first failed
/// pod when the root has none.
fn failure_message(status: &WorkflowStatus, root_id: &str) -> Option<String> {
    if let Some(m) = status.nodes.get(root_id).and_then(|n| n.message.clone()) {
        return Some(m);
    }
    status
        .nodes
        .values()
        .filter(|n| {
            n.type_ == NodeType::Pod && matches!(n.phase, NodePhase::Failed | NodePhase::Error)
        })
        .find_map(|n| n.message.clone())
}

/// `done/total` over pod nodes, as Argo's `progress`.
fn progress(status: &WorkflowStatus) -> String {
    let pods = status.nodes.values().filter(|n| n.type_ == NodeType::Pod);
    let (done, total) = pods.fold((0, 0), |(d, t), n| {
        (d + usize::from(n.phase.is_fulfilled()), t + 1)
    });
    format!("{done}/{total}")
}
