//! Deterministic names, exactly as Argo computes them: node IDs and pod names are pure functions
//! of the workflow and node names, so a restarted controller finds the pods it already made
//! instead of creating duplicates.

/// 32-bit FNV-1a, what Go's `hash/fnv.New32a` computes.
fn fnv32a(data: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in data.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// A node's ID: the workflow's name for the root node, else `<workflow>-<fnv32a(node name)>`.
pub fn node_id(workflow: &str, node_name: &str) -> String {
    if node_name == workflow {
        return workflow.to_string();
    }
    format!("{workflow}-{}", fnv32a(node_name))
}

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
            node.template_name.as_deref().unwrap_or_default(),
            format,
        ),
    }
}

/// Longest pod-name prefix: the 253-character name limit, less the hash and its dash.
const MAX_PREFIX: usize = 253 - 10 - 1;

/// The pod that runs a node.
pub fn pod_name(workflow: &str, node_name: &str, template: &str, format: PodNameFormat) -> String {
    if format == PodNameFormat::V1 {
        return node_id(workflow, node_name);
    }
    if workflow == node_name {
        return workflow.to_string();
    }
    let mut prefix = if template.is_empty() {
        workflow.to_string()
    } else {
        format!("{workflow}-{template}")
    };
    if prefix.len() > MAX_PREFIX {
        let mut cut = MAX_PREFIX;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    format!("{prefix}-{}", fnv32a(node_name))
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

/// Why `name` is not a valid DNS-1123 subdomain (what Kubernetes requires of a pod's name), if
/// it is not: lowercase alphanumerics, '-' and '.', starting and ending alphanumeric, at most
/// 253 characters.
pub fn dns_subdomain_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > 253 {
        return Some(format!(
            "it is {} characters long; at most 253 are allowed",
            name.len()
        ));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !name.chars().all(|c| alnum(c) || c == '-' || c == '.') {
        return Some("only lowercase letters, digits, '-' and '.' are allowed".into());
    }
    let ends_ok = name.starts_with(alnum) && name.ends_with(alnum);
    let labels_ok = name
        .split('.')
        .all(|l| !l.is_empty() && l.starts_with(alnum) && l.ends_with(alnum));
    if !ends_ok || !labels_ok {
        return Some("each dot-separated part must start and end with a letter or digit".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_subdomains() {
        assert_eq!(dns_subdomain_error("wf-say-123"), None);
        assert_eq!(dns_subdomain_error("a.b-c"), None);
        assert!(dns_subdomain_error("Wf").is_some());
        assert!(dns_subdomain_error("-wf").is_some());
        assert!(dns_subdomain_error("a..b").is_some());
        assert!(dns_subdomain_error(&"a".repeat(254)).is_some());
        assert!(dns_subdomain_error("").is_some());
    }

    #[test]
    fn fnv32a_matches_go() {
        // Go: fnv.New32a() of "" is the offset basis; "a" is 0xe40c292c.
        assert_eq!(fnv32a(""), 0x811c_9dc5);
        assert_eq!(fnv32a("a"), 0xe40c_292c);
        assert_eq!(fnv32a("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn ids_and_pod_names() {
        assert_eq!(node_id("hello-x7k2p", "hello-x7k2p"), "hello-x7k2p");
        let id = node_id("wf", "wf.main.a");
        assert_eq!(id, format!("wf-{}", fnv32a("wf.main.a")));
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
