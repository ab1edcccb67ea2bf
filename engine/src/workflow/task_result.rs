//! `WorkflowTaskResult`: how an executor reports a node's outputs. Named after the node ID,
//! created in the pod's own cluster and namespace, labelled with the workflow's name.
//!
//! Argo keeps its fields at the top level (no `spec`), which kube's derive cannot express, so the
//! `Resource` impl is written out.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use macro_rules_attribute::apply;
use serde::{Deserialize, Serialize};

use super::spec::Outputs;

#[apply(argo_object!)]
pub struct WorkflowTaskResult {
    #[serde(default = "api_version")]
    pub api_version: String,
    #[serde(default = "kind")]
    pub kind: String,
    pub metadata: ObjectMeta,
    pub outputs: Option<Outputs>,
    pub message: Option<String>,
    pub progress: Option<String>,
}

fn api_version() -> String {
    "argoproj.io/v1alpha1".into()
}

fn kind() -> String {
    "WorkflowTaskResult".into()
}

impl WorkflowTaskResult {
    pub fn new(metadata: ObjectMeta) -> Self {
        WorkflowTaskResult {
            api_version: api_version(),
            kind: kind(),
            metadata,
            ..Default::default()
        }
    }
}

impl kube_core::Resource for WorkflowTaskResult {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "WorkflowTaskResult".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "argoproj.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1alpha1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "workflowtaskresults".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
