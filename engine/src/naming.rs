//! Deterministic names, exactly as Argo computes them: node IDs and pod names are pure functions
//! of the workflow and node names, so a restarted controller finds the pods it already made
//! instead of creating duplicates.

pub use flotilla_names::{dns_subdomain_error, node_id};

/// Argo's pod name formats (annotation `workflows.argoproj.io/pod-name-format`, default v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodNameFormat {
    /// The node ID.
    V1,
    /// `<workflow>-<template>-<fnv32a(node name)>`.
    #[default]
    V2,
}

impl PodNameFormat {
    pub fn from_annotation(value: Option<&str>) -> Self {
        match value {
            Some("v1") => PodNameFormat::V1,
            _ => PodNameFormat::V2,
        }
    }

    /// The format a workflow asks for (its `workflows.argoproj.io/pod-name-format` annotation).
    pub fn of(wf: &crate::workflow::Workflow) -> Self {
        let annotation = wf
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(crate::workflow::labels::POD_NAME_FORMAT));
        PodNameFormat::from_annotation(annotation.map(String::as_str))
    }
}

/// The pod of a node in a workflow's status: the name recorded on the node when policies named
/// it, else Argo's.
pub fn node_pod_name(
    workflow: &str,
    node: &crate::workflow::NodeStatus,
    format: PodNameFormat,
) -> String {
    match &node.pod_name {
        Some(name) => name.clone(),
        None => pod_name(
            workflow,
            &node.name,
            node.template_key().as_deref().unwrap_or_default(),
            format,
        ),
    }
}

/// The pod that runs a node. `template` is the template's name, or the stored key of one from
/// a WorkflowTemplate, whose pod is named after the template's own name as in Argo.
pub fn pod_name(workflow: &str, node_name: &str, template: &str, format: PodNameFormat) -> String {
    let template = template.rsplit('/').next().unwrap_or(template);
    match format {
        PodNameFormat::V1 => node_id(workflow, node_name),
        PodNameFormat::V2 => flotilla_names::pod_name(workflow, node_name, template),
    }
}

/// Why `name` is not a DNS-1123 label (what Kubernetes requires of a namespace, and Flotilla of
/// a cluster name), in the API server's words. Checked before a name reaches a policy string, a
/// URL or a label: casbin's `keyMatch` slices strings by byte and panics on other characters.
pub fn dns_label_error(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_string());
    }
    let bytes = name.as_bytes();
    let inner = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let end = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let valid = end(bytes.first()) && end(bytes.last()) && bytes.iter().all(inner);
    (!valid).then(|| {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
         and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use flotilla_names::fnv32a;

    use super::*;

    #[test]
    fn pod_names_in_either_format() {
        assert_eq!(pod_name("wf", "wf", "main", PodNameFormat::V2), "wf");
        assert_eq!(
            pod_name("wf", "wf.a", "say", PodNameFormat::V2),
            format!("wf-say-{}", fnv32a("wf.a"))
        );
        assert_eq!(
            pod_name("wf", "wf.a", "say", PodNameFormat::V1),
            node_id("wf", "wf.a")
        );
        let long = pod_name(&"w".repeat(200), "n", &"t".repeat(100), PodNameFormat::V2);
        assert!(long.len() <= 253, "{}", long.len());
        assert_eq!(
            PodNameFormat::from_annotation(Some("v1")),
            PodNameFormat::V1
        );
        assert_eq!(PodNameFormat::from_annotation(None), PodNameFormat::V2);
    }
}
