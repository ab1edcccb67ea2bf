//! What the engine is given from outside, and nothing else: whether a workflow may use a
//! cluster and namespace ([`Access`], the controller's Casbin policy), where a new pod node goes
//! ([`PlacementPolicy`]) and what its pod is called ([`NamingPolicy`]) — both WebAssembly plugins
//! in the controller — and the time, which [`crate::reconcile`] takes as its `now` argument (the
//! engine has no clock of its own).
//!
//! A policy is asked once per node; its answer is then recorded on the node, so a policy swapped
//! later never moves or renames what already exists.

use std::sync::Arc;

/// Whether a workflow may create in a cluster and namespace. Subject and object are
/// [`scope`]s, `<cluster>:<namespace>`; the subject is the workflow's own.
pub trait Access: Send + Sync + std::fmt::Debug {
    fn allows(&self, subject: &str, object: &str) -> bool;
}

/// The subject or object of a check: `<cluster>:<namespace>`.
pub fn scope(cluster: &str, namespace: &str) -> String {
    format!("{cluster}:{namespace}")
}

/// The object of a check for cluster-scoped resources (a resource template's ClusterRole, say):
/// `<cluster>:*`. No namespace is `*` (namespaces are DNS-1123 labels), so only a policy line
/// whose object matches the whole cluster — `cluster-1:*`, `cluster-*`, `*` — grants it; a
/// `cluster-1:team-a` or `cluster-1:team-*` line does not. A `cluster-1:*` line grants every
/// namespace of cluster-1 (kube-system and its service accounts included), which is the whole
/// cluster already, so it grants the cluster-scoped kinds as well.
pub fn cluster_wide(cluster: &str) -> String {
    format!("{cluster}:*")
}

/// The message a denied node fails with.
pub fn denial(workflow_namespace: &str, cluster: &str, namespace: &str) -> String {
    format!(
        "namespace {workflow_namespace:?} is forbidden from creating resources in cluster {cluster:?} namespace {namespace:?}"
    )
}

/// The message a node whose manifest is cluster-scoped fails with, when the policy does not
/// grant [`cluster_wide`].
pub fn cluster_denial(workflow_namespace: &str, cluster: &str) -> String {
    format!(
        "namespace {workflow_namespace:?} is forbidden from creating cluster-scoped resources in cluster {cluster:?} (that needs policy object {:?})",
        cluster_wide(cluster)
    )
}

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

/// The ConfigMaps parameters may be read from (Argo's: labelled
/// `workflows.argoproj.io/configmap-type: Parameter`), in the controller's own cluster.
pub trait ParameterConfigMaps: Send + Sync + std::fmt::Debug {
    /// `key` of the labelled ConfigMap `name` in `namespace`.
    fn value(&self, namespace: &str, name: &str, key: &str) -> ConfigMapValue;
}

/// Argo's `{{=…}}` expressions: expr-lang with Argo's functions (`asInt`, `sprig.*`, …). A
/// tenant writes them, so the controller evaluates them in a WebAssembly sandbox under fuel and a
/// memory cap (`host/src/expressions.rs`); the engine's tests call `flotilla-expr` directly.
///
/// Each call is given at most `fuel` (instructions; the engine's budget for the pass) and says
/// what it spent, failures included, so one reconcile's expressions cost a bounded total.
pub trait Expressions: Send + Sync + std::fmt::Debug {
    /// Parses `expression` and checks that every function it calls exists.
    fn check(&self, expression: &str, fuel: u64) -> Result<Spent<()>, ExpressionFailure>;
    /// `expression` over `variables` (Argo's flat names and their values): the value as Go's
    /// `%v` writes it, `None` when it is nil.
    fn evaluate(
        &self,
        expression: &str,
        variables: Vec<(String, String)>,
        fuel: u64,
    ) -> Result<Spent<Option<String>>, ExpressionFailure>;
}

/// An answer, and the fuel it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spent<T> {
    pub value: T,
    pub fuel: u64,
}

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpressionFailure {
    pub message: String,
    pub fuel: u64,
    /// A bound was hit (fuel, memory, a size, a trap in the evaluator): not an answer about the
    /// expression that a later pass, with more variables known, could change. Such a failure
    /// is an error even where Argo would leave an expression unresolved.
    pub exhausted: bool,
}

/// The WorkflowTemplates and ClusterWorkflowTemplates the controller's cluster holds, as the
/// controller caches them (Argo reads them through its informers too).
pub trait WorkflowTemplates: Send + Sync + std::fmt::Debug {
    /// The WorkflowTemplate `name` in `namespace`, or with no namespace the
    /// ClusterWorkflowTemplate `name`, as cached (shared, never copied); `None` when there is
    /// none.
    fn get(&self, namespace: Option<&str>, name: &str) -> Option<FoundTemplate>;
}

/// A WorkflowTemplate or ClusterWorkflowTemplate as cached: decoded, or why it is not.
#[derive(Debug, Clone)]
pub enum FoundTemplate {
    Namespaced(Arc<crate::workflow::Lenient<crate::workflow::WorkflowTemplate>>),
    Cluster(Arc<crate::workflow::Lenient<crate::workflow::ClusterWorkflowTemplate>>),
}

impl FoundTemplate {
    /// Its spec, or why it does not decode (the field named, no value quoted).
    pub fn spec(&self) -> Result<&crate::workflow::WorkflowSpec, String> {
        use crate::workflow::Lenient;
        match self {
            FoundTemplate::Namespaced(t) => match t.as_ref() {
                Lenient::Valid(t) => Ok(&t.spec),
                Lenient::Invalid(i) => Err(i.error.to_string()),
            },
            FoundTemplate::Cluster(t) => match t.as_ref() {
                Lenient::Valid(t) => Ok(&t.spec),
                Lenient::Invalid(i) => Err(i.error.to_string()),
            },
        }
    }
}

/// What a parameter ConfigMap holds under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigMapValue {
    Value(String),
    /// The ConfigMap has no such key.
    NoKey,
    /// No ConfigMap of that name carries the label.
    NoConfigMap,
}

/// The label a ConfigMap needs for parameters to be read from it, and its value.
pub const CONFIG_MAP_TYPE: (&str, &str) = ("workflows.argoproj.io/configmap-type", "Parameter");
