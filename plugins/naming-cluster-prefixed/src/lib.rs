//! Argo's v2 pod names with the cluster in front: `<cluster>-<workflow>-<template>-<hash>` for a
//! pod placed in another cluster, exactly naming-argo's name for one in the controller's own
//! (an empty `place.cluster`). The config is ignored.
//!
//! The cluster part is the cluster's name lowercased, every character other than a letter or a
//! digit turned into `-`, cut to 63 characters, without leading or trailing dashes (`My_Cluster`
//! gives `my-cluster-…`). The Argo part then gets what is left of the 253 characters: its prefix
//! is cut, never the hash (the root node's name, the workflow's, is cut the same way). The
//! answer is checked against Kubernetes' DNS-1123 subdomain rule before it is returned: a
//! template name such as `printMessage` gives an error that says so, not an invalid name.

use flotilla_plugin_sdk::v0_1_0::naming::{self, *};

use flotilla_names::{MAX_NAME_LEN, dns_subdomain_error, pod_name_within};

/// The longest cluster part: one DNS label.
const MAX_CLUSTER_PART: usize = 63;

struct ClusterPrefixed;

impl Guest for ClusterPrefixed {
    fn pod_name(
        template: TemplateInfo,
        place: Place,
        _config: String,
    ) -> Result<String, PluginError> {
        name(&template, &place).map_err(|message| PluginError { message })
    }
}

naming::export!(ClusterPrefixed);

/// The cluster's part of a pod name, or why it has none.
fn cluster_part(cluster: &str) -> Result<String, String> {
    let mut part: String = cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(MAX_CLUSTER_PART)
        .collect();
    part.truncate(part.trim_end_matches('-').len());
    let part = part.trim_start_matches('-').to_string();
    if part.is_empty() {
        return Err(format!(
            "cluster {cluster:?} has no letter or digit to start a pod name with"
        ));
    }
    Ok(part)
}

fn name(template: &TemplateInfo, place: &Place) -> Result<String, String> {
    let argo = |max_len| {
        pod_name_within(
            &template.workflow,
            &template.node_name,
            &template.template_name,
            max_len,
        )
    };
    let name = if place.cluster.is_empty() {
        argo(MAX_NAME_LEN)
    } else {
        let cluster = cluster_part(&place.cluster)?;
        format!("{cluster}-{}", argo(MAX_NAME_LEN - cluster.len() - 1))
    };
    match dns_subdomain_error(&name) {
        None => Ok(name),
        Some(why) => Err(format!(
            "the pod name {name:?} (workflow {:?}, template {:?}) is not a valid DNS-1123 subdomain: {why}",
            template.workflow, template.template_name
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(workflow: &str, node: &str, tmpl: &str) -> TemplateInfo {
        TemplateInfo {
            workflow: workflow.into(),
            workflow_namespace: "argo".into(),
            node_name: node.into(),
            template_name: tmpl.into(),
            requested: Place {
                cluster: String::new(),
                namespace: String::new(),
            },
            annotations: Vec::new(),
        }
    }

    fn at(cluster: &str) -> Place {
        Place {
            cluster: cluster.into(),
            namespace: "argo".into(),
        }
    }

    #[test]
    fn the_cluster_goes_first_and_the_own_cluster_gets_argos_name() {
        let t = template("wf", "wf.a", "say");
        let argo = flotilla_names::pod_name("wf", "wf.a", "say");
        assert_eq!(name(&t, &at("")).unwrap(), argo);
        assert_eq!(name(&t, &at("east")).unwrap(), format!("east-{argo}"));
        assert_eq!(
            name(&t, &at("My_Cluster.1")).unwrap(),
            format!("my-cluster-1-{argo}")
        );
        assert_eq!(
            name(&template("wf", "wf", "say"), &at("east")).unwrap(),
            "east-wf"
        );
    }

    #[test]
    fn long_names_are_cut_before_the_hash_and_stay_valid() {
        let hash = flotilla_names::fnv32a("wf.a").to_string();
        for (workflow, cluster) in [
            ("w".repeat(253), "east"),
            (format!("{}.{}", "a".repeat(236), "b".repeat(16)), "east"),
            ("w".repeat(100), &*"c".repeat(200)),
            ("w-".repeat(120), "x"),
        ] {
            let got = name(&template(&workflow, "wf.a", "say"), &at(cluster)).unwrap();
            assert!(got.len() <= MAX_NAME_LEN, "{} characters: {got}", got.len());
            assert!(got.ends_with(&format!("-{hash}")), "{got}");
            assert_eq!(dns_subdomain_error(&got), None, "{got}");
            let expected_cluster = &cluster[..cluster.len().min(MAX_CLUSTER_PART)];
            assert!(got.starts_with(&format!("{expected_cluster}-")), "{got}");
        }
        // A 4-character cluster part and its dash leave 248, of which the prefix gets 248 - 11.
        let got = name(&template(&"w".repeat(253), "wf.a", "say"), &at("east")).unwrap();
        assert_eq!(got.len(), 5 + 248 - 11 + 1 + hash.len());
        // The root node of a long workflow: its name is cut.
        let root = "r".repeat(253);
        let got = name(&template(&root, &root, "say"), &at("east")).unwrap();
        assert_eq!(got, format!("east-{}", "r".repeat(248)));
    }

    #[test]
    fn what_cannot_make_a_valid_name_is_an_error() {
        let t = template("wf", "wf.a", "say");
        assert_eq!(
            name(&t, &at("__")).unwrap_err(),
            r#"cluster "__" has no letter or digit to start a pod name with"#
        );
        let err = name(&template("wf", "wf.a", "printMessage"), &at("east")).unwrap_err();
        assert!(
            err.contains("is not a valid DNS-1123 subdomain: only lowercase letters"),
            "{err}"
        );
    }
}
