//! `Workflow.spec` and the template language: what the engine interprets.

use std::collections::BTreeMap;

use kube_derive::CustomResource;
use macro_rules_attribute::apply;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AnyString;
use super::status::WorkflowStatus;

/// An Argo workflow. The CRD is Argo's own shape (see [`super::crd`]), so Flotilla and Argo
/// controllers can share it, told apart by the controller instance ID.
#[serde_with::skip_serializing_none]
#[derive(CustomResource, Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "argoproj.io",
    version = "v1alpha1",
    kind = "Workflow",
    namespaced,
    crates(
        kube_core = "::kube_core",
        k8s_openapi = "::k8s_openapi",
        serde = "::serde",
        serde_json = "::serde_json"
    ),
    status = "WorkflowStatus",
    shortname = "wf",
    schema = "disabled",
    printcolumn = r#"{"name": "Status", "type": "string", "description": "Status of the workflow", "jsonPath": ".status.phase"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "format": "date-time", "description": "When the workflow was started", "jsonPath": ".status.startedAt"}"#,
    printcolumn = r#"{"name": "Message", "type": "string", "description": "Human readable message indicating details about why the workflow is in this condition.", "jsonPath": ".status.message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSpec {
    pub entrypoint: Option<String>,
    pub arguments: Option<Arguments>,
    #[serde(default)]
    pub templates: Vec<Template>,
    pub service_account_name: Option<String>,
    /// Most pods of this workflow running at once.
    pub parallelism: Option<i64>,
    pub active_deadline_seconds: Option<i64>,
    #[serde(rename = "podGC")]
    pub pod_gc: Option<PodGc>,
    pub ttl_strategy: Option<TtlStrategy>,
    /// `Stop` (run exit handlers) or `Terminate` (don't).
    pub shutdown: Option<String>,
    pub suspend: Option<bool>,
    pub on_exit: Option<String>,
    /// The retry strategy of every template that has none of its own (Argo's
    /// `woc.retryStrategy`): each of their nodes becomes a Retry node.
    pub retry_strategy: Option<RetryStrategy>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub tolerations: Option<Vec<Value>>,
    pub affinity: Option<Value>,
    pub volumes: Option<Vec<Value>>,
    pub pod_metadata: Option<Metadata>,
    pub image_pull_secrets: Option<Vec<Value>>,
    pub pod_priority_class_name: Option<String>,
    pub security_context: Option<Value>,
    /// Fields Flotilla does not interpret; the engine warns about those that change behaviour.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Values passed to a template (or, at the top, to the workflow): parameters and artifacts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Arguments {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Value>,
}

/// A named string value: an input, an argument or an output (`valueFrom` says where an output comes from).
#[apply(argo_object!)]
pub struct Parameter {
    pub name: String,
    pub value: Option<AnyString>,
    pub default: Option<AnyString>,
    pub value_from: Option<ValueFrom>,
    pub global_name: Option<String>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<AnyString>>,
    pub description: Option<String>,
}

/// Where an output parameter's value comes from.
#[apply(argo_object!)]
pub struct ValueFrom {
    pub path: Option<String>,
    pub json_path: Option<String>,
    pub jq_filter: Option<String>,
    pub parameter: Option<String>,
    pub expression: Option<String>,
    pub default: Option<AnyString>,
    pub supplied: Option<Value>,
    pub config_map_key_ref: Option<Value>,
    pub event: Option<String>,
}

/// What a template takes: parameters (with optional defaults and enums) and artifacts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Inputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Value>,
}

/// What a node produced: parameters, artifacts, its standard output (`result`) and exit code.
#[apply(argo_object!)]
pub struct Outputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Value>,
    /// The main container's standard output (trimmed, capped), for script and container templates.
    pub result: Option<String>,
    pub exit_code: Option<String>,
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self.parameters.is_empty()
            && self.artifacts.is_empty()
            && self.result.is_none()
            && self.exit_code.is_none()
    }
}

/// Labels and annotations added to the pods a template (or the workflow) runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One template: exactly one of container, script, resource, dag, steps or suspend.
#[apply(argo_object!)]
pub struct Template {
    pub name: String,
    pub inputs: Option<Inputs>,
    pub outputs: Option<Outputs>,
    /// A Kubernetes container, passed through to the pod (named `main`).
    pub container: Option<Value>,
    pub script: Option<ScriptTemplate>,
    pub resource: Option<ResourceTemplate>,
    pub dag: Option<DagTemplate>,
    pub steps: Option<Vec<ParallelSteps>>,
    pub suspend: Option<SuspendTemplate>,
    pub retry_strategy: Option<RetryStrategy>,
    /// Seconds (or a `{{...}}` expression resolving to seconds) the template may run.
    pub active_deadline_seconds: Option<AnyString>,
    pub parallelism: Option<i64>,
    pub fail_fast: Option<bool>,
    pub service_account_name: Option<String>,
    pub automount_service_account_token: Option<bool>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub tolerations: Option<Vec<Value>>,
    pub affinity: Option<Value>,
    pub volumes: Option<Vec<Value>>,
    pub init_containers: Option<Vec<Value>>,
    pub sidecars: Option<Vec<Value>>,
    pub metadata: Option<Metadata>,
    pub security_context: Option<Value>,
    pub priority_class_name: Option<String>,
    pub pod_spec_patch: Option<String>,
    pub timeout: Option<String>,
    /// Multi-cluster: the cluster the template runs in (the later design's spelling).
    pub cluster: Option<String>,
    /// Multi-cluster: the earlier design's spelling of `cluster`.
    pub cluster_name: Option<String>,
    /// The namespace the template runs in (default: the workflow's).
    pub namespace: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A container whose `source` is written to a file and run by its `command`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScriptTemplate {
    /// Absent is an empty script, as Argo reads it (Go's zero value): the command runs an empty
    /// file. Required, it made such a workflow one the controller could not read at all.
    #[serde(default)]
    pub source: String,
    /// The rest of the container (image, command, env, resources…).
    #[serde(flatten)]
    pub container: serde_json::Map<String, Value>,
}

#[apply(argo_object!)]
pub struct ResourceTemplate {
    /// `get`, `create`, `apply`, `delete`, `replace` or `patch`.
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    pub merge_strategy: Option<String>,
    pub success_condition: Option<String>,
    pub failure_condition: Option<String>,
    pub set_owner_reference: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A DAG: tasks that run when their dependencies are met.
#[apply(argo_object!)]
pub struct DagTemplate {
    pub tasks: Vec<DagTask>,
    pub target: Option<String>,
    pub fail_fast: Option<bool>,
}

/// One task of a DAG: a template call with its dependencies, condition and fan-out.
#[apply(argo_object!)]
pub struct DagTask {
    pub name: String,
    pub template: Option<String>,
    pub arguments: Option<Arguments>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    pub depends: Option<String>,
    pub when: Option<String>,
    pub with_items: Option<Vec<Value>>,
    pub with_param: Option<String>,
    pub with_sequence: Option<Sequence>,
    pub continue_on: Option<ContinueOn>,
    pub on_exit: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One group of steps that run in parallel; groups run in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParallelSteps(pub Vec<WorkflowStep>);

impl Serialize for ParallelSteps {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ParallelSteps {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<WorkflowStep>::deserialize(d).map(ParallelSteps)
    }
}

/// One step of a steps template: a template call with its condition and fan-out.
#[apply(argo_object!)]
pub struct WorkflowStep {
    pub name: String,
    pub template: Option<String>,
    pub arguments: Option<Arguments>,
    pub when: Option<String>,
    pub with_items: Option<Vec<Value>>,
    pub with_param: Option<String>,
    pub with_sequence: Option<Sequence>,
    pub continue_on: Option<ContinueOn>,
    pub on_exit: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `withSequence`: `count` or `start`..=`end`, formatted with `format` (printf-style).
#[apply(argo_object!)]
pub struct Sequence {
    pub count: Option<AnyString>,
    pub start: Option<AnyString>,
    pub end: Option<AnyString>,
    pub format: Option<String>,
}

/// Outcomes of a task or step that do not fail its parent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContinueOn {
    #[serde(default)]
    pub error: bool,
    #[serde(default)]
    pub failed: bool,
}

/// A template that waits to be resumed, or for `duration`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SuspendTemplate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<AnyString>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// How a failed node is retried: how often, on what, and with what back-off.
#[apply(argo_object!)]
pub struct RetryStrategy {
    pub limit: Option<AnyString>,
    /// `Always`, `OnFailure` (default), `OnError` or `OnTransientError`.
    pub retry_policy: Option<String>,
    pub backoff: Option<Backoff>,
    pub expression: Option<String>,
    pub affinity: Option<Value>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Waits between retries: `duration × factor^n`, capped.
#[apply(argo_object!)]
pub struct Backoff {
    pub duration: Option<AnyString>,
    pub factor: Option<AnyString>,
    pub max_duration: Option<AnyString>,
    pub cap: Option<AnyString>,
}

/// `podGC`: when pods are deleted.
#[apply(argo_object!)]
pub struct PodGc {
    /// `OnPodCompletion`, `OnPodSuccess`, `OnWorkflowCompletion`, `OnWorkflowSuccess`.
    pub strategy: Option<String>,
    pub label_selector: Option<Value>,
    pub delete_delay_duration: Option<String>,
}

/// When a finished workflow is deleted.
#[apply(argo_object!)]
pub struct TtlStrategy {
    pub seconds_after_completion: Option<i64>,
    pub seconds_after_success: Option<i64>,
    pub seconds_after_failure: Option<i64>,
}

impl Template {
    /// The cluster the template names, under either spelling; both set and different is an error
    /// the engine reports.
    pub fn cluster(&self) -> Result<Option<&str>, (String, String)> {
        match (self.cluster.as_deref(), self.cluster_name.as_deref()) {
            (Some(a), Some(b)) if a != b => Err((a.to_string(), b.to_string())),
            (Some(a), _) | (None, Some(a)) => Ok(Some(a)),
            (None, None) => Ok(None),
        }
    }
}
