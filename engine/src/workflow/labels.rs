//! Label and annotation keys Argo uses; Flotilla uses the same so tools that read Argo's read
//! Flotilla's (`argo list`, dashboards, `kubectl get pods -l workflows.argoproj.io/workflow=…`).

/// On pods and task results: the workflow they belong to.
pub const WORKFLOW: &str = "workflows.argoproj.io/workflow";
/// On pods: `true` once the workflow has recorded the pod's outcome; on workflows: `true` once
/// finished.
pub const COMPLETED: &str = "workflows.argoproj.io/completed";
/// On workflows and everything they create: which controller instance owns them.
pub const CONTROLLER_INSTANCE_ID: &str = "workflows.argoproj.io/controller-instanceid";
/// On workflows: the phase, for label selection.
pub const PHASE: &str = "workflows.argoproj.io/phase";
/// On task results: the executor has reported every output.
pub const REPORT_OUTPUTS_COMPLETED: &str = "workflows.argoproj.io/report-outputs-completed";
/// Pod annotations: the node the pod runs and its display name.
pub const NODE_ID: &str = "workflows.argoproj.io/node-id";
pub const NODE_NAME: &str = "workflows.argoproj.io/node-name";
/// Pod annotation: the template the pod runs (JSON), for the executor.
pub const TEMPLATE: &str = "workflows.argoproj.io/template";
/// Workflow annotation: `v1` or `v2` pod names.
pub const POD_NAME_FORMAT: &str = "workflows.argoproj.io/pod-name-format";

/// On pods and task results: the namespace of the workflow they belong to (they may run in
/// another namespace or cluster, where an owner reference cannot point back).
pub const WORKFLOW_NAMESPACE: &str = "flotilla.dev/workflow-namespace";
/// On pods and task results: the cluster of the workflow (the controller's `ARGO_CLUSTER`), so a
/// pod in another cluster names where its workflow lives.
pub const WORKFLOW_CLUSTER: &str = "flotilla.dev/workflow-cluster";
/// On pods: the uid of the workflow, so the orphan sweep never mistakes a pod of a deleted
/// workflow for one of a new workflow of the same name.
pub const WORKFLOW_UID: &str = "flotilla.dev/workflow-uid";
/// On pods: the controller's proof that it made the pod for its node (a keyed MAC of the
/// workflow uid, node ID, namespace and name; see `controller::ownership`). Every other stamp is
/// public, and anyone who may create pods in a namespace can copy public stamps.
pub const CREATOR_PROOF: &str = "flotilla.dev/creator-proof";
