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
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
