//! Argo's `CronWorkflow`: a workflow's spec submitted on a schedule.

use std::collections::BTreeMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::spec::WorkflowSpec;
use super::status::Condition;
use super::workflow_template::argo_resource;

/// A `CronWorkflow`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CronWorkflow {
    pub metadata: ObjectMeta,
    pub spec: CronWorkflowSpec,
    pub status: Option<CronWorkflowStatus>,
}

argo_resource!(CronWorkflow, NamespaceResourceScope, "cronworkflows");

/// What a CronWorkflow runs, and when.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CronWorkflowSpec {
    #[serde(default)]
    pub workflow_spec: WorkflowSpec,
    /// One schedule (Argo before 3.6; still read).
    pub schedule: Option<String>,
    /// Schedules, each in cron syntax (Argo 3.6+).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<String>,
    /// The IANA time zone the schedules are read in (default UTC).
    pub timezone: Option<String>,
    /// `Allow` (default), `Forbid` or `Replace`.
    pub concurrency_policy: Option<String>,
    pub suspend: Option<bool>,
    /// How late a schedule may still start its workflow.
    pub starting_deadline_seconds: Option<i64>,
    /// Finished workflows kept, succeeded (default 3) and failed (default 1).
    pub successful_jobs_history_limit: Option<i32>,
    pub failed_jobs_history_limit: Option<i32>,
    /// Labels and annotations of the workflows it submits.
    pub workflow_metadata: Option<WorkflowMetadata>,
    /// Fields Flotilla does not interpret (`when`, `stopStrategy`… are refused).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `workflowMetadata`: what the submitted workflows carry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// What the controller records of a CronWorkflow.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CronWorkflowStatus {
    /// The workflows it submitted that have not finished.
    #[serde(default)]
    pub active: Vec<ActiveWorkflow>,
    /// The latest schedule acted on: its workflow submitted, or skipped (suspended, `Forbid`,
    /// past its starting deadline).
    pub last_scheduled_time: Option<Time>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// A reference to a submitted workflow (Argo's `ObjectReference`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ActiveWorkflow {
    pub kind: Option<String>,
    pub api_version: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub uid: Option<String>,
}
