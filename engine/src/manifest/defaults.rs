//! The workflow-level settings every pod inherits (`spec.podMetadata`, `spec.nodeSelector`,
//! `spec.volumes`…), with the workflow's global variables substituted once per walk — as
//! Argo's `substituteGlobalVariables` does to the whole spec but its templates, so
//! `podMetadata: {labels: {wf: "{{workflow.name}}"}}` labels each pod with the workflow's name.

use std::collections::BTreeMap;

use macro_rules_attribute::apply;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template::{self, Mode, Scope};
use crate::workflow::{Metadata, WorkflowSpec};

/// The spec's pod-level fields, substituted.
#[apply(argo_object!)]
pub(crate) struct PodDefaults {
    pub(crate) service_account_name: Option<String>,
    pub(crate) node_selector: Option<BTreeMap<String, String>>,
    pub(crate) tolerations: Option<Vec<Value>>,
    pub(crate) affinity: Option<Value>,
    pub(crate) volumes: Option<Vec<Value>>,
    pub(crate) pod_metadata: Option<Metadata>,
    pub(crate) image_pull_secrets: Option<Vec<Value>>,
    pub(crate) pod_priority_class_name: Option<String>,
    pub(crate) security_context: Option<Value>,
}

/// The same fields, borrowed from the spec to be encoded.
#[serde_with::skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Borrowed<'s> {
    service_account_name: Option<&'s String>,
    node_selector: Option<&'s BTreeMap<String, String>>,
    tolerations: Option<&'s Vec<Value>>,
    affinity: Option<&'s Value>,
    volumes: Option<&'s Vec<Value>>,
    pod_metadata: Option<&'s Metadata>,
    image_pull_secrets: Option<&'s Vec<Value>>,
    pod_priority_class_name: Option<&'s String>,
    security_context: Option<&'s Value>,
}

impl PodDefaults {
    /// `spec`'s pod-level fields with `global` substituted (unknown tags stay as written, as
    /// under Argo); the error names the spec as the place to look.
    pub(crate) fn of(spec: &WorkflowSpec, global: &Scope) -> Result<PodDefaults, String> {
        let borrowed = Borrowed {
            service_account_name: spec.service_account_name.as_ref(),
            node_selector: spec.node_selector.as_ref(),
            tolerations: spec.tolerations.as_ref(),
            affinity: spec.affinity.as_ref(),
            volumes: spec.volumes.as_ref(),
            pod_metadata: spec.pod_metadata.as_ref(),
            image_pull_secrets: spec.image_pull_secrets.as_ref(),
            pod_priority_class_name: spec.pod_priority_class_name.as_ref(),
            security_context: spec.security_context.as_ref(),
        };
        let json = serde_json::to_string(&borrowed).map_err(|e| format!("spec: {e}"))?;
        let substituted = template::substitute_json_text(&json, global, Mode::Lenient)
            .map_err(|e| format!("spec: {e}"))?;
        serde_json::from_str(&substituted).map_err(|e| format!("spec: {e}"))
    }
}
