//! Reading the registry's sources from the API: the `rest-config` Secret and the profile
//! Secrets in the controller's namespace. The controller keeps them current with watches;
//! `flotilla logs` reads them once.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::local_access::LocalAccess;
use super::registry::KUBECONFIG_KIND;
use super::{PROFILE_LABEL, Profile, REST_CONFIG_SECRET, Registry};

/// The registry from the Secrets in `namespace` as they are now, each entry checked against
/// what `access` allows of this machine.
pub async fn registry(
    client: &kube::Client,
    namespace: &str,
    access: &LocalAccess,
) -> Result<Registry, kube::Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut sources = Sources {
        rest_config: secrets.get_opt(REST_CONFIG_SECRET).await?,
        ..Default::default()
    };
    let profiles = secrets
        .list(&ListParams::default().labels(PROFILE_LABEL))
        .await?;
    for p in profiles.items {
        sources.profiles.insert(p.name_any(), p);
    }
    Ok(sources.registry(access))
}

/// The Secrets the registry is built from, as last seen. (`Debug` shows names only: the
/// Secrets hold credentials.)
#[derive(Default)]
pub struct Sources {
    pub rest_config: Option<Secret>,
    /// Profile Secrets by name.
    pub profiles: BTreeMap<String, Secret>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field(
                "rest_config",
                &self.rest_config.as_ref().map(|s| s.name_any()),
            )
            .field("profiles", &self.profiles.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Sources {
    pub fn registry(&self, access: &LocalAccess) -> Registry {
        let mut profiles = Vec::new();
        let mut problems = Vec::new();
        for secret in self.profiles.values() {
            match profile_of(secret) {
                Ok(p) => profiles.push(p),
                Err(problem) => problems.push(problem),
            }
        }
        let mut registry = self
            .rest_config
            .as_ref()
            .map(|s| registry_of(s, access))
            .unwrap_or_default()
            .with_profiles(&profiles, access);
        registry.problems.extend(problems);
        if let Some(secret) = &self.rest_config
            && let Some(text) = secret.annotations().get(CLUSTER_LABELS)
        {
            match serde_yaml::from_str::<BTreeMap<String, BTreeMap<String, String>>>(text) {
                Ok(labels) => registry.labels = labels,
                Err(e) => registry.problems.push(format!(
                    "Secret {REST_CONFIG_SECRET} annotation {CLUSTER_LABELS}: not a map of cluster to labels: {e}"
                )),
            }
        }
        for secret in self.profiles.values() {
            let Some(cluster) = secret.labels().get(PROFILE_LABEL) else {
                continue;
            };
            let own = secret
                .labels()
                .iter()
                .filter(|(k, _)| *k != PROFILE_LABEL)
                .map(|(k, v)| (k.clone(), v.clone()));
            registry
                .labels
                .entry(cluster.clone())
                .or_default()
                .extend(own);
        }
        registry
    }
}

/// The `rest-config` Secret's annotation giving clusters' labels, as YAML or JSON:
/// `{cluster-1: {gpu: "true", region: eu}}`. A profile Secret's own labels are its cluster's.
pub const CLUSTER_LABELS: &str = "flotilla.dev/cluster-labels";

/// A profile Secret's contents: the cluster from its label, `kubeconfig` and `namespace` keys —
/// or, for an entry a credential provider reads, `kind` and `credentials` keys.
fn profile_of(secret: &Secret) -> Result<Profile, String> {
    let name = secret.name_any();
    let cluster = secret
        .labels()
        .get(PROFILE_LABEL)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("profile Secret {name}: label {PROFILE_LABEL} names no cluster"))?
        .clone();
    let text = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
    };
    let kind = text("kind")
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| KUBECONFIG_KIND.to_string());
    let key = if kind == KUBECONFIG_KIND {
        KUBECONFIG_KIND
    } else {
        "credentials"
    };
    let value = text(key)
        .ok_or_else(|| format!("profile Secret {name}: no key {key} (kind {kind})"))?
        .into_bytes();
    let namespace = text("namespace").filter(|n| !n.trim().is_empty());
    Ok(Profile {
        secret: name,
        cluster,
        namespace,
        kind,
        value,
    })
}

fn registry_of(secret: &Secret, access: &LocalAccess) -> Registry {
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    Registry::from_secret_data(&data, access)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn profile(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> Secret {
        let mut secret = Secret::default();
        secret.metadata.name = Some(name.into());
        secret.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        secret.data = Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        );
        secret
    }

    #[test]
    fn a_profile_of_another_kind_is_an_entry_for_its_provider_and_its_labels_the_clusters() {
        let mut sources = Sources::default();
        let eks = profile(
            "eks-prod",
            &[(PROFILE_LABEL, "prod"), ("region", "us-east-1")],
            &[
                ("kind", "eks"),
                ("credentials", r#"{"region": "us-east-1"}"#),
            ],
        );
        let broken = profile("half", &[(PROFILE_LABEL, "half")], &[("kind", "eks")]);
        sources.profiles.insert("eks-prod".into(), eks);
        sources.profiles.insert("half".into(), broken);
        let registry = sources.registry(&LocalAccess::none());
        let entry = registry.lookup("prod", "default").expect("an entry");
        assert_eq!(entry.kind, "eks");
        assert!(matches!(entry.config, crate::clusters::Credentials::Opaque));
        assert_eq!(&*entry.raw.0, br#"{"region": "us-east-1"}"#);
        assert_eq!(format!("{:?}", entry.raw), "<23 bytes>", "never the value");
        assert_eq!(
            registry
                .labels("prod")
                .and_then(|l| l.get("region"))
                .map(String::as_str),
            Some("us-east-1")
        );
        assert_eq!(
            registry.problems,
            ["profile Secret half: no key credentials (kind eks)"]
        );
    }

    #[test]
    fn the_rest_config_secret_may_label_its_clusters() {
        let mut secret = Secret::default();
        secret.metadata.name = Some(REST_CONFIG_SECRET.into());
        secret.metadata.annotations = Some(
            [(
                CLUSTER_LABELS.to_string(),
                "{cluster-1: {gpu: \"true\"}}".to_string(),
            )]
            .into(),
        );
        let sources = Sources {
            rest_config: Some(secret.clone()),
            ..Sources::default()
        };
        let labels = sources
            .registry(&LocalAccess::none())
            .labels("cluster-1")
            .cloned();
        assert_eq!(
            labels,
            Some([("gpu".to_string(), "true".to_string())].into())
        );
        secret.metadata.annotations =
            Some([(CLUSTER_LABELS.to_string(), "[not, a, map]".to_string())].into());
        let sources = Sources {
            rest_config: Some(secret),
            ..Sources::default()
        };
        let problems = sources.registry(&LocalAccess::none()).problems;
        assert!(
            problems[0].starts_with(
                "Secret rest-config annotation flotilla.dev/cluster-labels: not a map of cluster to labels:"
            ),
            "{problems:?}"
        );
    }
}
