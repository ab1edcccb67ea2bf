//! `Workflow.spec` and the template language: what the engine interprets.

use std::collections::BTreeMap;

use kube_derive::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AnyString;
use super::status::WorkflowStatus;

/// An Argo workflow. The CRD is Argo's own shape (see [`super::crd`]), so Flotilla and Argo
/// controllers can share it, told apart by the controller instance ID.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Arguments>,
    #[serde(default)]
    pub templates: Vec<Template>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Most pods of this workflow running at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    #[serde(rename = "podGC", skip_serializing_if = "Option::is_none")]
    pub pod_gc: Option<PodGc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_strategy: Option<TtlStrategy>,
    /// `Stop` (run exit handlers) or `Terminate` (don't).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_exit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_priority_class_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_name: Option<String>,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<AnyString>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Where an output parameter's value comes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ValueFrom {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jq_filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplied: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Value>,
    /// The main container's standard output (trimmed, capped), for script and container templates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Outputs>,
    /// A Kubernetes container, passed through to the pod (named `main`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dag: Option<DagTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<ParallelSteps>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspend: Option<SuspendTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    /// Seconds (or a `{{...}}` expression resolving to seconds) the template may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_fast: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecars: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_spec_patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Multi-cluster: the cluster the template runs in (the later design's spelling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Multi-cluster: the earlier design's spelling of `cluster`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// The namespace the template runs in (default: the workflow's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A container whose `source` is written to a file and run by its `command`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScriptTemplate {
    pub source: String,
    /// The rest of the container (image, command, env, resources…).
    #[serde(flatten)]
    pub container: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate {
    /// `get`, `create`, `apply`, `delete`, `replace` or `patch`.
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_owner_reference: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A DAG: tasks that run when their dependencies are met.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DagTemplate {
    pub tasks: Vec<DagTask>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_fast: Option<bool>,
}

/// One task of a DAG: a template call with its dependencies, condition and fan-out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DagTask {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Arguments>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depends: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_items: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_sequence: Option<Sequence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continue_on: Option<ContinueOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStep {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Arguments>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_items: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_sequence: Option<Sequence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continue_on: Option<ContinueOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_exit: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `withSequence`: `count` or `start`..=`end`, formatted with `format` (printf-style).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Sequence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<AnyString>,
    /// `Always`, `OnFailure` (default), `OnError` or `OnTransientError`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Value>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Waits between retries: `duration × factor^n`, capped.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<AnyString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<AnyString>,
}

/// `podGC`: when pods are deleted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodGc {
    /// `OnPodCompletion`, `OnPodSuccess`, `OnWorkflowCompletion`, `OnWorkflowSuccess`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_delay_duration: Option<String>,
}

/// When a finished workflow is deleted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TtlStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_after_completion: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_after_success: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
