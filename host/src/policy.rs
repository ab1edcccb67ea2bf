//! Placement and naming policies as the engine sees them: where a new pod node goes and what
//! its pod is called. The WebAssembly plugins (`crate::plugins`) implement them in the
//! controller; the engine only calls them, once per node — its answer is then recorded on the
//! node, so a policy swapped later never moves or renames what already exists.

use std::sync::Arc;

/// What a naming or placement policy is told about a node (mirrors the WIT `template-info`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TemplateInfo {
    pub workflow: String,
    pub workflow_namespace: String,
    pub node_name: String,
    pub template_name: String,
    /// The template's own cluster and namespace (empty when not set).
    pub cluster: String,
    pub namespace: String,
    pub annotations: Vec<(String, String)>,
}

/// A cluster as a placement policy sees it (mirrors the WIT `cluster-state`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterState {
    /// Empty: the controller's own.
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub healthy: bool,
    pub pending_pods: u32,
    pub running_pods: u32,
}

/// Where a placement policy puts a pod (empty cluster: the controller's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Place {
    pub cluster: String,
    pub namespace: String,
}

/// Where a new pod node goes. `Ok(None)`: no opinion — the template's own cluster and
/// namespace (the built-in `explicit` placement). `Err`: no answer now; the node waits and
/// the workflow is looked at again. Authorization applies to the answer like to any other.
pub trait PlacementPolicy: Send + Sync + std::fmt::Debug {
    fn place(
        &self,
        template: &TemplateInfo,
        clusters: &[ClusterState],
    ) -> Result<Option<Place>, String>;
}

/// What a new pod node's pod is called. `Ok(None)`: Argo's name. `Err`: no answer now; the node
/// waits. Must be deterministic: the same node at the same place always gets the same name.
pub trait NamingPolicy: Send + Sync + std::fmt::Debug {
    fn pod_name(&self, template: &TemplateInfo, place: &Place) -> Result<Option<String>, String>;
}

/// A placement and a naming policy fixed in place of the configured ones.
pub type Fixed = (Arc<dyn PlacementPolicy>, Arc<dyn NamingPolicy>);

/// The policies in force, and what a placement policy is told of the clusters.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub placement: Option<Arc<dyn PlacementPolicy>>,
    pub naming: Option<Arc<dyn NamingPolicy>>,
    /// Every cluster the controller knows, its own first (with an empty name).
    pub clusters: Arc<Vec<ClusterState>>,
}
