//! Argo's node IDs and v2 pod names — `<workflow>-<template>-<fnv32a(node name)>`, the
//! workflow's own name for its root node — and Kubernetes' DNS-1123 subdomain rule. The one copy
//! of each: the engine names pods with it natively, the naming plugins (WebAssembly guests)
//! with it inside their components, so a plugin's Argo names are the host's by construction.
//! Plain functions on strings, no dependencies: it builds for the host and for wasm32-wasip2.

/// The longest name Kubernetes accepts for a pod (a DNS-1123 subdomain).
pub const MAX_NAME_LEN: usize = 253;

/// What a name keeps for the hash: at most 10 decimal digits (a `u32`) and its dash.
const HASH_LEN: usize = 10 + 1;

/// 32-bit FNV-1a, what Go's `hash/fnv.New32a` computes.
pub fn fnv32a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A node's ID: the workflow's name for the root node, else `<workflow>-<fnv32a(node name)>`.
pub fn node_id(workflow: &str, node_name: &str) -> String {
    if node_name == workflow {
        return workflow.to_string();
    }
    format!("{workflow}-{}", fnv32a(node_name))
}

fn prefix(workflow: &str, template: &str) -> String {
    if template.is_empty() {
        workflow.to_string()
    } else {
        format!("{workflow}-{template}")
    }
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
    s
}

/// The pod name of `node_name` exactly as Argo (and Flotilla's native naming) computes it: the
/// prefix cut to 253 - 11 characters so the hash always fits.
pub fn pod_name(workflow: &str, node_name: &str, template: &str) -> String {
    if workflow == node_name {
        return workflow.to_string();
    }
    let prefix = cut(prefix(workflow, template), MAX_NAME_LEN - HASH_LEN);
    format!("{prefix}-{}", fnv32a(node_name))
}

/// The same name in at most `max_len` characters (at least 12): the prefix — or, for the root
/// node, the workflow's name — is cut, never the hash, and a cut part loses its trailing
/// characters that are not letters or digits, so a valid name stays valid. Equal to
/// [`pod_name`] whenever that fits.
pub fn pod_name_within(workflow: &str, node_name: &str, template: &str, max_len: usize) -> String {
    let trimmed_cut = |s: String, max: usize| {
        if s.len() <= max {
            return s;
        }
        let mut s = cut(s, max);
        let keep = s
            .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
            .len();
        s.truncate(keep);
        s
    };
    if workflow == node_name {
        return trimmed_cut(workflow.to_string(), max_len);
    }
    let budget = max_len
        .saturating_sub(HASH_LEN)
        .min(MAX_NAME_LEN - HASH_LEN);
    let prefix = trimmed_cut(prefix(workflow, template), budget);
    format!("{prefix}-{}", fnv32a(node_name))
}

/// Why `name` is not a valid DNS-1123 subdomain (what Kubernetes requires of a pod's name), if it
/// is not: lowercase letters, digits, '-' and '.', each dot-separated part starting and ending
/// with a letter or digit, at most 253 characters. The same rule the host checks.
pub fn dns_subdomain_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "it is {} characters long; at most {MAX_NAME_LEN} are allowed",
            name.len()
        ));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !name.chars().all(|c| alnum(c) || c == '-' || c == '.') {
        return Some("only lowercase letters, digits, '-' and '.' are allowed".into());
    }
    if !name
        .split('.')
        .all(|l| !l.is_empty() && l.starts_with(alnum) && l.ends_with(alnum))
    {
        return Some("each dot-separated part must start and end with a letter or digit".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32a_is_gos() {
        // Go: fnv.New32a() of "" is the offset basis; "a" is 0xe40c292c.
        assert_eq!(fnv32a(""), 0x811c_9dc5);
        assert_eq!(fnv32a("a"), 0xe40c_292c);
        assert_eq!(fnv32a("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn node_ids() {
        assert_eq!(node_id("hello-x7k2p", "hello-x7k2p"), "hello-x7k2p");
        assert_eq!(
            node_id("wf", "wf.main.a"),
            format!("wf-{}", fnv32a("wf.main.a"))
        );
    }

    #[test]
    fn argo_v2_names() {
        assert_eq!(
            pod_name("wf", "wf.a", "say"),
            format!("wf-say-{}", fnv32a("wf.a"))
        );
        assert_eq!(pod_name("wf", "wf.a", ""), format!("wf-{}", fnv32a("wf.a")));
        assert_eq!(pod_name("wf", "wf", "say"), "wf");
        let long = "w".repeat(300);
        let name = pod_name(&long, "x", "t");
        assert_eq!(name, format!("{}-{}", "w".repeat(242), fnv32a("x")));
        assert!(name.len() <= MAX_NAME_LEN);
    }

    #[test]
    fn within_a_budget_the_prefix_is_cut_never_the_hash() {
        // Fits: the same as Argo's.
        assert_eq!(
            pod_name_within("wf", "wf.a", "say", 100),
            pod_name("wf", "wf.a", "say")
        );
        let hash = fnv32a("wf.a").to_string();
        let long = format!("{}.{}", "a".repeat(50), "b".repeat(200));
        for max in [12, 30, 51, 52, 53, 60, 200, 253] {
            let name = pod_name_within(&long, "wf.a", "say", max);
            assert!(name.len() <= max, "{max}: {} > {max}", name.len());
            assert!(name.ends_with(&format!("-{hash}")), "{max}: {name}");
            assert_eq!(dns_subdomain_error(&name), None, "{max}: {name}");
        }
        // Cut right after the dot: the dot goes too.
        let name = pod_name_within(&long, "wf.a", "say", 51 + HASH_LEN);
        assert_eq!(name, format!("{}-{hash}", "a".repeat(50)));
        // The root node is the workflow's name, cut the same way.
        assert_eq!(pod_name_within(&long, &long, "say", 51), "a".repeat(50));
        assert_eq!(pod_name_within("wf", "wf", "say", 51), "wf");
    }

    #[test]
    fn dns_subdomains() {
        assert_eq!(dns_subdomain_error("wf-say-123"), None);
        assert_eq!(dns_subdomain_error("a.b-c"), None);
        assert!(dns_subdomain_error("Wf").is_some());
        assert!(dns_subdomain_error("-wf").is_some());
        assert!(dns_subdomain_error("a.-b").is_some());
        assert!(dns_subdomain_error("a..b").is_some());
        assert!(dns_subdomain_error(&"a".repeat(254)).is_some());
        assert!(dns_subdomain_error("").is_some());
    }
}
