//! What the controller observed of one workflow, as the engine takes it: its pods and task
//! results by node ID, the policy and policies in force, and where it could not look.

use std::collections::BTreeMap;

use crate::ports::{self, Access};
use crate::workflow::Outputs;

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
    /// Where this workflow's pods were that the configuration no longer names (no
    /// `rest-config` entry or profile for the cluster and namespace): nothing there can be seen
    /// or deleted any more, so a deleted workflow does not wait for it.
    pub forgotten: Vec<String>,
    /// Clusters (and namespaces there) that cannot be seen now, with the reason: their nodes
    /// keep their phase and say so, nothing new starts there, and the others carry on.
    pub unreachable: BTreeMap<(String, String), String>,
    pub pods: BTreeMap<String, ObservedPod>,
    pub results: BTreeMap<String, ObservedResult>,
    /// Argo's `images` setting from the controller's ConfigMap (`workflow-controller-configmap`),
    /// consulted before [`crate::EngineConfig::images`].
    pub images: std::sync::Arc<std::collections::BTreeMap<String, crate::ImageEntrypoint>>,
    /// The ConfigMaps `valueFrom.configMapKeyRef` parameters are read from (`None`: none).
    pub config_maps: Option<std::sync::Arc<dyn ports::ParameterConfigMaps>>,
    /// The WorkflowTemplates `templateRef` and `workflowTemplateRef` name (`None`: none).
    pub workflow_templates: Option<std::sync::Arc<dyn ports::WorkflowTemplates>>,
    /// The placement and naming policies in force (none: the template's place, Argo's names).
    pub policies: ports::Policies,
    /// The evaluator of `{{=…}}` expressions (`None`: expressions are refused at validation).
    pub expressions: Option<std::sync::Arc<dyn ports::Expressions>>,
    /// What this pass may spend on expressions, when less than a pass's own budget: what the
    /// workflow's namespace has left of its allowance. A pass that runs into it is dropped and
    /// tried again later ([`crate::Decision::expression_fuel`] says what one spent).
    pub expression_fuel: Option<u64>,
    /// Pod creations the API server refused for good (403, 422…), with the reason.
    pub create_errors: BTreeMap<String, String>,
    /// Each observed pod's labels, by node ID: pod GC's label selector, and whether the pod is
    /// already labelled `workflows.argoproj.io/completed=true`.
    pub pod_labels: BTreeMap<String, BTreeMap<String, String>>,
}
