//! `Workflow.status` in Argo's shape: phase, timestamps, progress, message and the nodes map, so
//! people and tools that read Argo's status read Flotilla's.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};
use strum::{Display, IntoStaticStr};

use super::spec::{Inputs, Outputs};

/// A workflow's lifecycle phase, as Argo reports it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, Display,
)]
pub enum WorkflowPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Error,
}

impl WorkflowPhase {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            WorkflowPhase::Succeeded | WorkflowPhase::Failed | WorkflowPhase::Error
        )
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A node's lifecycle phase, as Argo reports it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, Display,
)]
pub enum NodePhase {
    Pending,
    Running,
    Succeeded,
    Skipped,
    Failed,
    Error,
    Omitted,
}

impl NodePhase {
    /// Argo's `Fulfilled`: nothing more will happen to the node.
    pub fn is_fulfilled(self) -> bool {
        !matches!(self, NodePhase::Pending | NodePhase::Running)
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What a node is: a pod, a retry group, a DAG or steps template, a skipped task…
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeType {
    Pod,
    Container,
    Steps,
    StepGroup,
    #[serde(rename = "DAG")]
    Dag,
    TaskGroup,
    Retry,
    Skipped,
    Suspend,
    Plugin,
}

/// `Workflow.status` in Argo's shape.
///
/// Read with its `compressedNodes` expanded into `nodes` (bounded: see
/// [`super::compressed`]); `compressed_nodes` stays as read, so that a writer knows the nodes
/// were stored compressed.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct WorkflowStatus {
    pub phase: Option<WorkflowPhase>,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    /// `done/total` pods, as Argo reports it (e.g. `1/2`).
    pub progress: Option<String>,
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nodes: BTreeMap<String, NodeStatus>,
    pub outputs: Option<Outputs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Argo 3.5+: which task results the controller has seen complete, by node ID.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub task_results_completion_status: BTreeMap<String, bool>,
    /// The nodes of a workflow too large to store whole: their JSON, gzip, base64 (Argo's).
    pub compressed_nodes: Option<String>,
    /// Templates taken from WorkflowTemplates and ClusterWorkflowTemplates, as they were when
    /// first called, by Argo's key (`namespaced/<name>/<template>`): the workflow keeps running
    /// what it started with when they change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stored_templates: BTreeMap<String, super::Template>,
    /// The spec of the WorkflowTemplate a `workflowTemplateRef` names, as it was when the
    /// workflow started (Argo's field; the workflow's own spec is joined over it on every pass).
    pub stored_workflow_template_spec: Option<Box<super::WorkflowSpec>>,
}

impl Serialize for WorkflowStatus {
    /// A status read compressed is written compressed — its nodes as they are now, never
    /// beside them: a client that reads and writes back a workflow (`flotilla resume`) keeps
    /// one copy of its nodes, in the form they were stored in.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.compressed_nodes.is_some() && !self.nodes.is_empty() {
            let mut stored = self.clone();
            stored.compressed_nodes = Some(super::compressed::compress(&self.nodes));
            stored.nodes = BTreeMap::new();
            return WorkflowStatus::serialize(&stored, serializer);
        }
        WorkflowStatus::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for WorkflowStatus {
    /// `compressedNodes` expanded into `nodes` — it wins over `nodes` stored beside it, as in
    /// Argo; an empty one is none.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut status = WorkflowStatus::deserialize(deserializer)?;
        if status.compressed_nodes.as_deref() == Some("") {
            status.compressed_nodes = None;
        }
        if let Some(compressed) = &status.compressed_nodes {
            status.nodes =
                super::compressed::decompress(compressed).map_err(serde::de::Error::custom)?;
        }
        Ok(status)
    }
}

impl WorkflowStatus {
    /// The status as it is to be stored: its nodes whole, or — when `others` (the bytes of
    /// the rest of the workflow) and the whole status would exceed
    /// [`super::compressed::MAX_WORKFLOW_SIZE`] — compressed. `Err` with Argo's message when
    /// even compressed they are too large, or when they would expand beyond what a reader
    /// takes ([`super::compressed::MAX_INFLATED_NODES`]).
    pub fn stored(&self, others: usize) -> Result<WorkflowStatus, String> {
        use super::compressed::{MAX_WORKFLOW_SIZE, compress};
        let mut whole = self.clone();
        whole.compressed_nodes = None;
        if others + json_len(&whole) <= MAX_WORKFLOW_SIZE {
            return Ok(whole);
        }
        whole.nodes_fit()?;
        let mut compressed = whole;
        compressed.compressed_nodes = Some(compress(&compressed.nodes));
        compressed.nodes = BTreeMap::new();
        let size = others + json_len(&compressed);
        if size > MAX_WORKFLOW_SIZE {
            return Err(format!(
                "workflow is longer than maximum allowed size. compressed size {size} > maxSize {MAX_WORKFLOW_SIZE}"
            ));
        }
        Ok(compressed)
    }

    /// `Err` with Argo's message when the nodes take more than a reader expands
    /// ([`super::compressed::MAX_INFLATED_NODES`]): such a status cannot be stored at all. The
    /// cheap half of [`WorkflowStatus::stored`]'s checks (the other needs compressing).
    fn nodes_fit(&self) -> Result<(), String> {
        use super::compressed::MAX_INFLATED_NODES;
        let inflated = json_len(&self.nodes);
        if inflated > MAX_INFLATED_NODES {
            return Err(format!(
                "workflow is longer than maximum allowed size. its nodes take {inflated} bytes, more than the {MAX_INFLATED_NODES} they may expand to"
            ));
        }
        Ok(())
    }

    /// The status as it was stored: with its nodes compressed, as read, when they were.
    pub fn as_stored(&self) -> WorkflowStatus {
        let mut stored = self.clone();
        if stored.compressed_nodes.is_some() {
            stored.nodes = BTreeMap::new();
        }
        stored
    }
}

/// How many bytes `value` takes as JSON, counted without keeping them.
pub fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// A condition of the workflow (e.g. `SpecWarning` for a field Flotilla ignores).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Argo's `nodeFlag`: how a node came to be, beside its type.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFlag {
    /// An exit hook's node (`<node>.onExit`).
    pub hooked: Option<bool>,
    /// An attempt of a Retry node.
    pub retried: Option<bool>,
}

/// One node of the workflow graph: a pod, a retry group, a DAG or steps template, a skipped task…
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub id: String,
    /// The node's full name, e.g. `wf-abc.main.hello(0)`.
    pub name: String,
    pub display_name: String,
    #[serde(rename = "type")]
    pub type_: NodeType,
    pub template_name: Option<String>,
    /// The template a node runs from a WorkflowTemplate (then `template_name` is absent).
    pub template_ref: Option<super::TemplateRef>,
    /// Argo's scope of that template: `namespaced/<name>` or `cluster/<name>`.
    pub template_scope: Option<String>,
    pub phase: NodePhase,
    #[serde(rename = "boundaryID")]
    pub boundary_id: Option<String>,
    pub message: Option<String>,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    pub progress: Option<String>,
    pub inputs: Option<Inputs>,
    pub outputs: Option<Outputs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound_nodes: Vec<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    pub host_node_name: Option<String>,
    pub node_flag: Option<NodeFlag>,
    /// Flotilla: the cluster a pod or resource node ran in (absent: the workflow's own).
    pub cluster: Option<String>,
    /// Flotilla: the namespace a pod or resource node ran in (absent: the workflow's own).
    pub namespace: Option<String>,
    /// Flotilla: the pod's name, recorded when placement or naming policies were in force as
    /// the node got it (absent: Argo's name). Also marks the node's placement as decided.
    pub pod_name: Option<String>,
    /// Flotilla: the uid the API server gave the pod the controller created for this node (from
    /// the create's answer, or the first observation that proved the pod the controller's). A pod
    /// of the node's name with another uid was put there by someone else — even with every stamp
    /// copied off the controller's — and is never taken for the node's.
    #[serde(rename = "podUID")]
    pub pod_uid: Option<String>,
}

impl NodeStatus {
    /// The name of the node's template in the workflow the walk runs: its own name, or for a
    /// template from a WorkflowTemplate its stored key.
    pub fn template_key(&self) -> Option<std::borrow::Cow<'_, str>> {
        match (&self.template_name, &self.template_ref) {
            (Some(name), _) => Some(std::borrow::Cow::Borrowed(name)),
            (None, Some(r)) => Some(std::borrow::Cow::Owned(r.key())),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{NodePhase, WorkflowPhase};

    /// Messages and labels use `as_str`; the status uses serde: both must say the same.
    #[test]
    fn a_phase_reads_as_it_is_stored() {
        use NodePhase::*;
        for p in [Pending, Running, Succeeded, Skipped, Failed, Error, Omitted] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
            assert_eq!(p.to_string(), p.as_str());
        }
        for p in [
            WorkflowPhase::Pending,
            WorkflowPhase::Running,
            WorkflowPhase::Succeeded,
            WorkflowPhase::Failed,
            WorkflowPhase::Error,
        ] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
            assert_eq!(p.to_string(), p.as_str());
        }
    }
}
