//! The workflow engine: given a workflow and what the controller observed of its pods and task
//! results, decide the workflow's new status and what to do around it (a [`Decision`]: create
//! this pod, delete that one, record an event). Pure and synchronous — no I/O, no clock of its own — so every
//! rule of Argo's semantics is unit-tested without a server, and reconciling the same
//! observations twice decides the same thing (pod names are deterministic, so a repeated create
//! is an `AlreadyExists` the applier ignores).

// The attributes every Argo object type carries: it reads and writes camelCase field names, as
// Argo's Go types do, and omits a field that is absent rather than writing `null`. One name, so
// the rule is stated (and changed) once: `#[apply(argo_object!)]`.
macro_rules_attribute::attribute_alias! {
    #[apply(argo_object!)] =
        #[serde_with::skip_serializing_none]
        #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
        #[serde(rename_all = "camelCase")];
}

pub mod bounded_yaml;
pub mod merge_patch;
pub mod naming;
pub mod node_events;
pub mod ports;
pub mod resource_target;
pub mod workflow;

mod budget;
mod catalog;
mod children;
mod config_maps;
pub mod cron;
mod dag;
mod decision;
mod edges;
mod exit;
mod expr;
mod fanout;
mod finalizer;
mod gc;
mod global_outputs;
mod graph;
mod hooks;
mod lifecycle;
mod manifest;
mod observed;
mod parallelism;
mod placement;
mod pods;
mod proof;
mod reconcile;
mod references;
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

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub use decision::{Decision, Event, FinalizerChange, NodeEvent, PodAction, WorkflowDeletion};
pub use finalizer::{FINALIZER, RELEASE_ANNOTATION};
pub use manifest::{EXECUTOR_BINARY, ImageEntrypoint, PodManifest};
pub use observed::{Observed, ObservedPod, ObservedResult, PodPhase};
pub use ports::Access;
pub use proof::{CreatorProof, PodIdentity};
pub use reconcile::{internal_error, reconcile};
pub use retry::parse_duration;

/// Settings of the controller that shape what the engine decides.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `workflows.argoproj.io/controller-instanceid`, stamped on everything created.
    pub instance_id: Option<String>,
    /// The image whose `flotilla-executor` ([`EXECUTOR_BINARY`]) wraps each main container.
    pub executor_image: String,
    /// Most pods one reconcile creates (the rest wait for the next): keeps a reconcile short.
    pub max_pod_creates_per_reconcile: usize,
    /// Most items one `withItems`, `withParam` or `withSequence` may expand to: the node of a
    /// larger one errors, saying so (nested fan-outs are bounded by the workflow's node limit).
    pub max_fan_out: usize,
    /// The name of the controller's own cluster (`ARGO_CLUSTER`); a template naming it runs here.
    pub cluster: Option<String>,
    /// How long after its node completes a pod is deleted under `podGC` when the workflow does
    /// not say (`podGC.deleteDelayDuration`); Argo's controller default is 5s.
    pub pod_gc_delete_delay: Duration,
    /// Stamps each pod with the controller's proof that it made it (`None`: no stamp, and a
    /// controller checking for one will own no pod).
    pub creator_proof: Option<std::sync::Arc<dyn CreatorProof>>,
    /// Argo's `images` setting: the entrypoint and cmd of images by reference, for templates
    /// that leave `command` out (over the few Flotilla knows built in; see `manifest/entrypoint`).
    pub images: std::collections::BTreeMap<String, ImageEntrypoint>,
}

/// The default of [`EngineConfig::max_fan_out`].
pub const DEFAULT_MAX_FAN_OUT: usize = 100_000;

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
            max_fan_out: DEFAULT_MAX_FAN_OUT,
            cluster: None,
            pod_gc_delete_delay: Duration::from_secs(5),
            creator_proof: None,
            images: Default::default(),
        }
    }
}

/// `now` as the API's `metav1.Time`.
pub fn time(now: jiff::Timestamp) -> Time {
    Time(now)
}

/// The sooner of two requeues (`None`: no requeue).
pub fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
