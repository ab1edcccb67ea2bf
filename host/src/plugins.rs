//! The WebAssembly plugin host: components for `wit/plugins.wit`'s worlds, loaded with
//! wasmtime, run sandboxed — WASI with nothing granted (no files, sockets or environment), a
//! memory cap, and an epoch deadline per call. The bindings stay private behind
//! [`NamingPlugin`] and [`PlacementPlugin`]; a trap, timeout or limit breach discards the
//! instance and comes back as a [`PluginError`], never a panic, and the next call starts fresh.

mod runtime;
mod try_out;

pub use runtime::{
    Limits, NamingPlugin, PlacementPlugin, PluginError, PluginHost, World, validate,
};
pub use try_out::{TryError, try_out};

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
