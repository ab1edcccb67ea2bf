//! The clusters the controller can create in, from the `rest-config` Secret of the
//! multi-cluster design: one entry per key, `CLUSTER/NAMESPACE` (usable for that namespace only)
//! or `CLUSTER/` (any namespace). Kubernetes only allows `-`, `_`, `.` and alphanumerics in
//! Secret keys, so a real API server never stores a `/`: `CLUSTER.NAMESPACE` and `CLUSTER.` are
//! the spellings that work (namespaces hold no dots, so the last dot separates), and what
//! `flotilla cluster add` writes. Both are read.
//!
//! Profile Secrets (`flotilla cluster get-profile`: a kubeconfig, labelled
//! [`PROFILE_LABEL`]`=CLUSTER`, with an optional `namespace` key) are entries too, named
//! `profile:SECRET` in messages.
//!
//! Pure: built from the Secrets' data; a bad entry is skipped and reported by its key, the
//! others stay usable.

use std::collections::BTreeMap;

use super::rest_config::{RestConfig, RestConfigError};

/// The Secret, in the controller's namespace.
pub const REST_CONFIG_SECRET: &str = "rest-config";
/// The label that marks a profile Secret; its value is the cluster's name.
pub const PROFILE_LABEL: &str = "workflows.argoproj.io/cluster";

/// How to reach a cluster: the design's rest config, a profile's kubeconfig, or an entry of
/// another kind that only a credential provider plugin reads.
#[derive(Debug, Clone)]
pub enum Credentials {
    RestConfig(Box<RestConfig>),
    Kubeconfig(Box<kube::config::Kubeconfig>),
    /// Only a provider for the entry's kind (`credentials.<kind>` in `flotilla-plugins`) can
    /// turn it into credentials.
    Opaque,
}

/// The kinds of entry the controller reads without a plugin.
pub const REST_CONFIG_KIND: &str = "rest-config";
pub const KUBECONFIG_KIND: &str = "kubeconfig";

/// A Secret value as stored, for a credential provider; never shown.
#[derive(Clone)]
pub struct Raw(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl Credentials {
    /// A kube-rs configuration for these credentials.
    pub async fn to_config(&self, name: &str) -> Result<kube::Config, RestConfigError> {
        match self {
            Credentials::Opaque => Err(RestConfigError::Unusable(
                "entries of this kind need a credential provider plugin".into(),
            )),
            Credentials::RestConfig(c) => c.to_config(name).await,
            Credentials::Kubeconfig(kc) => kube::Config::from_custom_kubeconfig(
                (**kc).clone(),
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .map_err(|e| RestConfigError::Unusable(e.to_string())),
        }
    }
}

/// A profile Secret's contents.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The Secret's name.
    pub secret: String,
    pub cluster: String,
    pub namespace: Option<String>,
    /// The entry's kind: its `kind` key, by default `kubeconfig`.
    pub kind: String,
    /// The entry: the `kubeconfig` key's YAML, or for another kind its `credentials` key.
    pub value: Vec<u8>,
}

/// One usable key.
#[derive(Debug, Clone)]
pub struct Entry {
    pub cluster: String,
    /// `None`: any namespace.
    pub namespace: Option<String>,
    /// The Secret key it came from (for messages).
    pub key: String,
    pub config: Credentials,
    /// The entry's kind (`rest-config`, `kubeconfig`, or one a provider reads) and its value.
    pub kind: String,
    pub raw: Raw,
    /// A hash of the key's value: a changed value means new credentials.
    pub fingerprint: u64,
}

/// Why no credentials were found for a target; names the Secret keys involved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookupError {
    #[error(
        "cluster {cluster:?} is not configured: Secret {REST_CONFIG_SECRET} has no key {cluster}.NAMESPACE or {cluster}."
    )]
    Unknown { cluster: String },
    #[error("cluster {cluster:?} has no credentials for namespace {namespace:?}: Secret {REST_CONFIG_SECRET} has keys only for {}", .keys.join(", "))]
    Namespace {
        cluster: String,
        namespace: String,
        keys: Vec<String>,
    },
    #[error("cluster {cluster:?} is configured ambiguously by {}: keep one cluster-wide entry or namespaced ones, one per namespace", .keys.join(", "))]
    Ambiguous { cluster: String, keys: Vec<String> },
    #[error("cluster {cluster:?}: Secret {REST_CONFIG_SECRET} key {key}: {problem}")]
    Invalid {
        cluster: String,
        key: String,
        problem: String,
    },
}

/// The entries of one Secret, and what was wrong with the rest.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, Vec<Entry>>,
    /// Keys that could not be used, by cluster (when the key names one) — looked up, they
    /// explain themselves.
    invalid: BTreeMap<String, (String, String)>,
    /// One line per unusable key, naming it.
    pub problems: Vec<String>,
    /// Each cluster's labels (what placement policies select on), by cluster name.
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl Registry {
    /// From the Secret's `data` (values already decoded from base64 by the API).
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Registry {
        let mut registry = Registry::default();
        for (key, value) in data {
            let Some((cluster, namespace)) = parse_key(key) else {
                registry.problems.push(format!(
                    "Secret {REST_CONFIG_SECRET} key {key}: not CLUSTER.NAMESPACE, CLUSTER., CLUSTER/NAMESPACE or CLUSTER/"
                ));
                continue;
            };
            match RestConfig::parse(value) {
                Ok(config) => registry
                    .entries
                    .entry(cluster.clone())
                    .or_default()
                    .push(Entry {
                        cluster,
                        namespace,
                        key: key.clone(),
                        config: Credentials::RestConfig(Box::new(config)),
                        kind: REST_CONFIG_KIND.into(),
                        raw: Raw(value.as_slice().into()),
                        fingerprint: fingerprint(value),
                    }),
                Err(e) => {
                    registry
                        .problems
                        .push(format!("Secret {REST_CONFIG_SECRET} key {key}: {e}"));
                    registry
                        .invalid
                        .insert(cluster, (key.clone(), e.to_string()));
                }
            }
        }
        registry
    }

    /// The same, with profile Secrets as further entries.
    pub fn with_profiles(mut self, profiles: &[Profile]) -> Registry {
        for p in profiles {
            let key = format!("profile:{}", p.secret);
            let entry = |config| Entry {
                cluster: p.cluster.clone(),
                namespace: p.namespace.clone(),
                key: key.clone(),
                config,
                kind: p.kind.clone(),
                raw: Raw(p.value.as_slice().into()),
                fingerprint: fingerprint(&p.value),
            };
            if p.kind != KUBECONFIG_KIND {
                let opaque = entry(Credentials::Opaque);
                self.entries
                    .entry(p.cluster.clone())
                    .or_default()
                    .push(opaque);
                continue;
            }
            match serde_yaml::from_slice::<kube::config::Kubeconfig>(&p.value) {
                Ok(kc) if kc.current_context.is_some() => {
                    let native = entry(Credentials::Kubeconfig(Box::new(kc)));
                    self.entries
                        .entry(p.cluster.clone())
                        .or_default()
                        .push(native);
                }
                Ok(_) => self.problems.push(format!(
                    "profile Secret {}: its kubeconfig has no current-context",
                    p.secret
                )),
                // Where, not what: the parser's message may quote a credential.
                Err(e) => self.problems.push(format!(
                    "profile Secret {}: key kubeconfig is not a kubeconfig{}",
                    p.secret,
                    e.location()
                        .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                        .unwrap_or_default()
                )),
            }
        }
        self
    }

    /// The entry to use for `namespace` in `cluster`.
    pub fn lookup(&self, cluster: &str, namespace: &str) -> Result<&Entry, LookupError> {
        let Some(entries) = self.entries.get(cluster) else {
            return Err(match self.invalid.get(cluster) {
                Some((key, problem)) => LookupError::Invalid {
                    cluster: cluster.to_string(),
                    key: key.clone(),
                    problem: problem.clone(),
                },
                None => LookupError::Unknown {
                    cluster: cluster.to_string(),
                },
            });
        };
        let keys = || entries.iter().map(|e| e.key.clone()).collect::<Vec<_>>();
        let wide = entries.iter().any(|e| e.namespace.is_none());
        let narrow = entries.iter().any(|e| e.namespace.is_some());
        let same = |e: &&Entry| e.namespace.as_deref().is_none_or(|n| n == namespace);
        if (wide && narrow) || entries.iter().filter(same).count() > 1 {
            return Err(LookupError::Ambiguous {
                cluster: cluster.to_string(),
                keys: keys(),
            });
        }
        entries
            .iter()
            .find(|e| e.namespace.as_deref().is_none_or(|n| n == namespace))
            .ok_or_else(|| LookupError::Namespace {
                cluster: cluster.to_string(),
                namespace: namespace.to_string(),
                keys: keys(),
            })
    }

    /// The entry of one Secret key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.values().flatten().find(|e| e.key == key)
    }

    /// Every usable entry.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values().flatten()
    }

    /// The clusters with at least one usable key.
    pub fn clusters(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// A cluster's labels, if it has any.
    pub fn labels(&self, cluster: &str) -> Option<&BTreeMap<String, String>> {
        self.labels.get(cluster)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.invalid.is_empty()
    }
}

fn fingerprint(value: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// `CLUSTER/NAMESPACE`, `CLUSTER/`, `CLUSTER.NAMESPACE` or `CLUSTER.`.
fn parse_key(key: &str) -> Option<(String, Option<String>)> {
    let (cluster, namespace) = key.split_once('/').or_else(|| key.rsplit_once('.'))?;
    if cluster.is_empty() || namespace.contains('/') {
        return None;
    }
    let namespace = (!namespace.is_empty()).then(|| namespace.to_string());
    Some((cluster.to_string(), namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    const OK: &str = r#"{"Host": "https://10.0.0.1:6443", "BearerToken": "s3cr3t"}"#;

    #[test]
    fn keys_choose_the_namespace_they_may_be_used_for() {
        let r = Registry::from_secret_data(&data(&[
            ("other.argo", OK),
            ("wide.", OK),
            ("slash/argo", OK),
            ("my.dotted.cluster.", OK),
        ]));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.lookup("other", "argo").unwrap().key, "other.argo");
        assert_eq!(r.lookup("wide", "anything").unwrap().key, "wide.");
        assert_eq!(r.lookup("slash", "argo").unwrap().key, "slash/argo");
        assert_eq!(
            r.lookup("my.dotted.cluster", "x").unwrap().key,
            "my.dotted.cluster."
        );
        assert_eq!(
            r.lookup("other", "default").unwrap_err().to_string(),
            r#"cluster "other" has no credentials for namespace "default": Secret rest-config has keys only for other.argo"#
        );
        assert_eq!(
            r.lookup("nope", "argo").unwrap_err().to_string(),
            r#"cluster "nope" is not configured: Secret rest-config has no key nope.NAMESPACE or nope."#
        );
    }

    #[test]
    fn a_cluster_wide_and_a_namespaced_key_are_ambiguous() {
        let r = Registry::from_secret_data(&data(&[("c.", OK), ("c.argo", OK)]));
        assert_eq!(
            r.lookup("c", "argo").unwrap_err(),
            LookupError::Ambiguous {
                cluster: "c".into(),
                keys: vec!["c.".into(), "c.argo".into()]
            }
        );
    }

    #[test]
    fn bad_keys_are_reported_by_key_and_never_leak_values() {
        let r = Registry::from_secret_data(&data(&[
            ("nocluster", OK),
            ("broken.argo", r#"{"BearerToken": "s3cr3t"}"#),
            ("good.argo", OK),
        ]));
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems.iter().all(|p| !p.contains("s3cr3t")));
        assert_eq!(
            r.lookup("broken", "argo").unwrap_err().to_string(),
            "cluster \"broken\": Secret rest-config key broken.argo: has no Host"
        );
        assert!(r.lookup("good", "argo").is_ok());
    }
}
