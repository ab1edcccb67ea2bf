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

use super::local_access::{LocalAccess, kubeconfig_uses, rest_config_uses};
use super::rest_config::{RestConfig, RestConfigError};

/// The Secret, in the controller's namespace.
pub const REST_CONFIG_SECRET: &str = "rest-config";
/// The label that marks a profile Secret; its value is the cluster's name.
pub const PROFILE_LABEL: &str = "workflows.argoproj.io/cluster";

/// How to reach a cluster: the design's rest config, a profile's kubeconfig, or an entry of
/// another kind that only a credential provider plugin reads. `Debug` shows no credential:
/// kube's own `Kubeconfig` `Debug` prints an `exec` plugin's arguments and environment.
#[derive(Clone)]
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

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::RestConfig(c) => f.debug_tuple("RestConfig").field(c).finish(),
            Credentials::Kubeconfig(kc) => f
                .debug_struct("Kubeconfig")
                .field("current_context", &kc.current_context)
                .field(
                    "clusters",
                    &kc.clusters.iter().map(|c| &c.name).collect::<Vec<_>>(),
                )
                .finish_non_exhaustive(),
            Credentials::Opaque => f.write_str("Opaque"),
        }
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
    /// The entry for the target could not be used: `entry` names it (`Secret rest-config key
    /// K` or `profile Secret P`), `problem` says why.
    #[error("cluster {cluster:?}: {entry}: {problem}")]
    Invalid {
        cluster: String,
        entry: String,
        problem: String,
    },
}

/// The entries of one Secret, and what was wrong with the rest.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, Vec<Entry>>,
    /// Entries that could not be used, by cluster (when the key names one) — looked up, they
    /// explain themselves.
    invalid: BTreeMap<String, Vec<Invalid>>,
    /// One line per unusable key, naming it.
    pub problems: Vec<String>,
    /// Each cluster's labels (what placement policies select on), by cluster name.
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
}

/// An entry that could not be used, kept to explain a lookup that needed it.
#[derive(Debug, Clone)]
struct Invalid {
    /// `None`: any namespace.
    namespace: Option<String>,
    /// `Secret rest-config key K` or `profile Secret P`.
    source: String,
    problem: String,
}

impl Registry {
    /// From the Secret's `data` (values already decoded from base64 by the API). An entry that
    /// would use what `access` does not allow (a local file, a command) is refused like one
    /// that does not parse: no [`Entry`] exists for it, so nothing ever connects with it.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>, access: &LocalAccess) -> Registry {
        let mut registry = Registry::default();
        for (key, value) in data {
            let Some((cluster, namespace)) = parse_key(key) else {
                registry.problems.push(format!(
                    "Secret {REST_CONFIG_SECRET} key {key}: not CLUSTER.NAMESPACE, CLUSTER., CLUSTER/NAMESPACE or CLUSTER/"
                ));
                continue;
            };
            let parsed = RestConfig::parse(value)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    access
                        .permit(rest_config_uses(&c))
                        .map(|()| c)
                        .map_err(|e| e.to_string())
                });
            match parsed {
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
                Err(problem) => registry.refuse(
                    cluster,
                    namespace,
                    format!("Secret {REST_CONFIG_SECRET} key {key}"),
                    problem,
                ),
            }
        }
        registry
    }

    /// Records an unusable entry: a problem line, and the reason a lookup that needed it
    /// gives.
    fn refuse(
        &mut self,
        cluster: String,
        namespace: Option<String>,
        source: String,
        problem: String,
    ) {
        self.problems.push(format!("{source}: {problem}"));
        self.invalid.entry(cluster).or_default().push(Invalid {
            namespace,
            source,
            problem,
        });
    }

    /// The same, with profile Secrets as further entries, checked against `access` alike.
    pub fn with_profiles(mut self, profiles: &[Profile], access: &LocalAccess) -> Registry {
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
            let parsed = match serde_yaml::from_slice::<kube::config::Kubeconfig>(&p.value) {
                Ok(kc) if kc.current_context.is_none() => {
                    Err("its kubeconfig has no current-context".to_string())
                }
                Ok(kc) => access
                    .permit(kubeconfig_uses(&kc))
                    .map(|()| kc)
                    .map_err(|e| format!("key kubeconfig: {e}")),
                // Where, not what: the parser's message may quote a credential.
                Err(e) => Err(format!(
                    "key kubeconfig is not a kubeconfig{}",
                    e.location()
                        .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                        .unwrap_or_default()
                )),
            };
            match parsed {
                Ok(kc) => {
                    let native = entry(Credentials::Kubeconfig(Box::new(kc)));
                    self.entries
                        .entry(p.cluster.clone())
                        .or_default()
                        .push(native);
                }
                Err(problem) => self.refuse(
                    p.cluster.clone(),
                    p.namespace.clone(),
                    format!("profile Secret {}", p.secret),
                    problem,
                ),
            }
        }
        self
    }

    /// The entry to use for `namespace` in `cluster`.
    ///
    /// Where no usable entry covers the namespace but an unusable one would have, the answer
    /// is why that one is unusable.
    pub fn lookup(&self, cluster: &str, namespace: &str) -> Result<&Entry, LookupError> {
        let invalid = || {
            self.invalid
                .get(cluster)
                .into_iter()
                .flatten()
                .find(|i| i.namespace.as_deref().is_none_or(|n| n == namespace))
                .map(|i| LookupError::Invalid {
                    cluster: cluster.to_string(),
                    entry: i.source.clone(),
                    problem: i.problem.clone(),
                })
        };
        let Some(entries) = self.entries.get(cluster) else {
            return Err(invalid().unwrap_or_else(|| LookupError::Unknown {
                cluster: cluster.to_string(),
            }));
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
            .ok_or_else(|| {
                invalid().unwrap_or_else(|| LookupError::Namespace {
                    cluster: cluster.to_string(),
                    namespace: namespace.to_string(),
                    keys: keys(),
                })
            })
    }

    /// Whether `other` names the same places (the same keys, valid or not) as this one.
    pub fn names_the_same_places_as(&self, other: &Registry) -> bool {
        let places = |r: &Registry| {
            let valid = r.entries.values().flatten().map(|e| e.key.clone());
            let invalid = r.invalid.iter().flat_map(|(cluster, i)| {
                i.iter()
                    .map(move |i| format!("{cluster}.{:?}", i.namespace))
            });
            valid
                .chain(invalid)
                .collect::<std::collections::BTreeSet<_>>()
        };
        places(self) == places(other) && self.problems.len() == other.problems.len()
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
    const NONE: LocalAccess = LocalAccess::none();

    /// What counts as a change of the places named (the clock of "gone from the
    /// configuration"): keys added or removed, valid or not — not a new token for the same key.
    #[test]
    fn the_places_named_change_with_keys_not_with_credentials() {
        let two = Registry::from_secret_data(&data(&[("a.x", OK), ("b.y", OK)]), &NONE);
        let new_token = OK.replace("s3cr3t", "other");
        let rotated = Registry::from_secret_data(&data(&[("a.x", &new_token), ("b.y", OK)]), &NONE);
        assert!(two.names_the_same_places_as(&rotated));
        let one = Registry::from_secret_data(&data(&[("a.x", OK)]), &NONE);
        assert!(!two.names_the_same_places_as(&one));
        let broken = Registry::from_secret_data(&data(&[("a.x", OK), ("b.y", "{")]), &NONE);
        assert!(
            !two.names_the_same_places_as(&broken),
            "a key turned unreadable"
        );
    }

    #[test]
    fn keys_choose_the_namespace_they_may_be_used_for() {
        let r = Registry::from_secret_data(
            &data(&[
                ("other.argo", OK),
                ("wide.", OK),
                ("slash/argo", OK),
                ("my.dotted.cluster.", OK),
            ]),
            &NONE,
        );
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
        let r = Registry::from_secret_data(&data(&[("c.", OK), ("c.argo", OK)]), &NONE);
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
        let r = Registry::from_secret_data(
            &data(&[
                ("nocluster", OK),
                ("broken.argo", r#"{"BearerToken": "s3cr3t"}"#),
                ("good.argo", OK),
            ]),
            &NONE,
        );
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems.iter().all(|p| !p.contains("s3cr3t")));
        assert_eq!(
            r.lookup("broken", "argo").unwrap_err().to_string(),
            "cluster \"broken\": Secret rest-config key broken.argo: has no Host"
        );
        assert!(r.lookup("good", "argo").is_ok());
    }

    #[test]
    fn entries_using_local_files_or_commands_are_refused_by_key_and_field() {
        let r = Registry::from_secret_data(
            &data(&[
                (
                    "stolen.",
                    r#"{"Host": "https://evil.example", "BearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}"#,
                ),
                (
                    "run.argo",
                    r#"{"Host": "https://evil.example", "ExecProvider": {"command": "sh", "args": ["-c", "id"]}}"#,
                ),
                ("run.default", OK),
                ("good.", OK),
            ]),
            &NONE,
        );
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        let stolen = r.lookup("stolen", "argo").unwrap_err().to_string();
        assert!(
            stolen.starts_with(
                "cluster \"stolen\": Secret rest-config key stolen.: BearerTokenFile names a local file, refused"
            ),
            "{stolen}"
        );
        assert!(!stolen.contains("/var/run"), "{stolen}");
        // The refused namespaced key explains itself even beside a usable one of its cluster.
        let run = r.lookup("run", "argo").unwrap_err().to_string();
        assert!(
            run.starts_with("cluster \"run\": Secret rest-config key run.argo: ExecProvider runs a credential plugin, refused"),
            "{run}"
        );
        assert_eq!(r.lookup("run", "default").unwrap().key, "run.default");
        assert!(r.lookup("good", "x").is_ok());
        assert!(
            r.entries()
                .all(|e| e.key != "stolen." && e.key != "run.argo")
        );
        // Allowed by the operator, the command entry is an entry.
        let allowed = LocalAccess::new(&[], true).expect("access");
        let r = Registry::from_secret_data(
            &data(&[(
                "run.argo",
                r#"{"Host": "https://h", "ExecProvider": {"command": "sh"}}"#,
            )]),
            &allowed,
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert!(r.lookup("run", "argo").is_ok());
    }

    /// Found by the fuzz target (`controller::fuzz::secrets`): an allowed `exec` profile's
    /// environment reached `Debug` through kube's `Kubeconfig`.
    #[test]
    fn an_allowed_exec_profile_is_not_shown() {
        let profile = Profile {
            secret: "p".into(),
            cluster: "c".into(),
            namespace: None,
            kind: KUBECONFIG_KIND.into(),
            value: b"clusters: [{name: c, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: {exec: {command: sh, env: [{name: T, value: s3cr3t}]}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n".to_vec(),
        };
        let allowed = LocalAccess::new(&[], true).expect("access");
        let r = Registry::default().with_profiles(&[profile], &allowed);
        let entry = r.lookup("c", "any").expect("an entry");
        let shown = format!("{r:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(
            format!("{:?}", entry.config),
            r#"Kubeconfig { current_context: Some("x"), clusters: ["c"], .. }"#
        );
    }

    #[test]
    fn profile_kubeconfigs_using_local_files_or_commands_are_refused_by_secret_and_field() {
        let profile = |secret: &str, user: &str| {
            Profile {
            secret: secret.into(),
            cluster: secret.into(),
            namespace: None,
            kind: KUBECONFIG_KIND.into(),
            value: format!(
                "clusters: [{{name: c, cluster: {{server: 'https://h'}}}}]\nusers: [{{name: u, user: {user}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n"
            )
            .into_bytes(),
        }
        };
        let r = Registry::default().with_profiles(
            &[
                profile("exec", "{exec: {command: sh, args: [-c, id]}}"),
                profile(
                    "gcp",
                    "{auth-provider: {name: gcp, config: {cmd-path: /bin/sh}}}",
                ),
                profile(
                    "file",
                    "{tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}",
                ),
                profile("key", "{client-certificate-data: Yw==, client-key: /etc/k}"),
                profile("fine", "{token: s3cr3t}"),
            ],
            &NONE,
        );
        let why = |cluster: &str| r.lookup(cluster, "any").unwrap_err().to_string();
        assert!(why("exec").starts_with(r#"cluster "exec": profile Secret exec: key kubeconfig: user "u" exec runs a credential plugin, refused"#), "{}", why("exec"));
        assert!(
            why("gcp").contains(r#"user "u" auth-provider runs a credential plugin"#),
            "{}",
            why("gcp")
        );
        assert!(
            why("file").contains(r#"user "u" tokenFile names a local file"#),
            "{}",
            why("file")
        );
        assert!(
            why("key").contains(r#"user "u" client-key names a local file"#),
            "{}",
            why("key")
        );
        assert_eq!(r.problems.len(), 4, "{:?}", r.problems);
        assert!(
            r.problems
                .iter()
                .all(|p| !p.contains("s3cr3t") && !p.contains("/var/run"))
        );
        assert!(r.lookup("fine", "any").is_ok());
    }
}
