//! The Argo Workflows API (`argoproj.io/v1alpha1`) as Flotilla reads and writes it: `Workflow`
//! `WorkflowTaskResult`, `WorkflowTemplate` and `ClusterWorkflowTemplate`, their CRDs, and the labels that tie pods to workflows.
//!
//! Only what the engine acts on is typed; everything else a user writes is kept by the API server
//! (the CRDs preserve unknown fields, as Argo's own do) and reported as unsupported when it would
//! change behaviour. Pod-level fields (containers, volumes, tolerations…) stay JSON and pass
//! through to pods untouched.

mod any_string;
pub mod compressed;
pub mod crd;
mod cron_workflow;
pub mod labels;
mod lenient;
pub mod report_digest;
mod spec;
mod status;
mod task_result;
mod workflow_template;

pub use any_string::AnyString;
pub use cron_workflow::{
    ActiveWorkflow, CronWorkflow, CronWorkflowSpec, CronWorkflowStatus, WorkflowMetadata,
};
pub use lenient::{DecodeError, Invalid, Lenient};
pub use spec::*;
pub use status::*;
pub use task_result::WorkflowTaskResult;
pub use workflow_template::{
    ClusterWorkflowTemplate, TemplateRef, WorkflowTemplate, WorkflowTemplateRef,
};
