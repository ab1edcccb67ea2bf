//! The credential Secrets: the `rest-config` Secret's entries and profile Secrets' kubeconfigs,
//! through `Sources::registry` (parse, refuse local files and commands, look up) and on to the
//! kube configuration each usable entry becomes.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::{config, name, runtime};
use crate::clusters::load::{CLUSTER_LABELS, Sources};
use crate::clusters::local_access::{kubeconfig_uses, rest_config_uses};
use crate::clusters::{Credentials, LocalAccess, PROFILE_LABEL, REST_CONFIG_SECRET};

/// Every secret value generated contains this; no message, lookup error or `Debug` may.
const SECRET: &str = "s3cr3t";

const HOSTS: &[&str] = &[
    "https://10.0.0.1:6443",
    "https://10.0.0.1:6443/",
    "http://h",
    "",
    "   ",
    "0.0.0.0:1",
    "https://",
    "https://[::1",
    "https://h/\u{20ac}",
    "https://h:99999",
    "  https://h  ",
    "file:///etc/passwd",
];

const PATHS: &[&str] = &[
    "",
    "/var/run/secrets/kubernetes.io/serviceaccount/token",
    "/etc/../etc/passwd",
    "relative/file",
    "/",
    "/\u{20ac}",
    "/./x",
];

/// Base64 in a `*Data` field: of a PEM block that is not a certificate, of random bytes, or
/// not base64 at all.
fn data() -> BoxedStrategy<Value> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64).prop_map(move |b| Value::from(b64(&b))),
        "[A-Za-z0-9+/]{0,40}".prop_map(move |garbage| {
            let pem =
                format!("-----BEGIN CERTIFICATE-----\n{garbage}\n-----END CERTIFICATE-----\n");
            Value::from(b64(pem.as_bytes()))
        }),
        Just(Value::from("not-base64!")),
        Just(Value::Null),
        Just(json!(7)),
    ]
    .boxed()
}

/// A `rest-config` entry: Go's `rest.Config` as JSON, with each field sometimes set.
fn rest_config() -> BoxedStrategy<Value> {
    let tls = (
        any::<bool>(),
        name(),
        select(PATHS),
        select(PATHS),
        select(PATHS),
        prop::option::of(data()),
        prop::option::of(data()),
        prop::option::of(data()),
    )
        .prop_map(
            |(insecure, server, ca, cert, key, ca_data, cert_data, key_data)| {
                json!({
                    "Insecure": insecure, "ServerName": server, "CAFile": ca, "CertFile": cert,
                    "KeyFile": key, "CAData": ca_data, "CertData": cert_data, "KeyData": key_data,
                })
            },
        );
    let entry = (
        select(HOSTS),
        select(&["", "/", "/api", "\u{20ac}", "?x=1"][..]),
        any::<bool>(),
        select(PATHS),
        tls,
        select(&[0, 1, -1, 5_000_000_000, i64::MAX, i64::MIN][..]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(host, path, token, token_file, tls, timeout, exec, auth)| {
                let mut entry = json!({
                    "Host": host, "APIPath": path, "Username": "u", "Password": "s3cr3t-password",
                    "BearerTokenFile": token_file, "TLSClientConfig": tls, "Timeout": timeout,
                });
                if token {
                    entry["BearerToken"] = json!("s3cr3t-token");
                }
                if exec {
                    entry["ExecProvider"] = json!({
                        "command": "sh", "args": ["-c", "echo s3cr3t"],
                        "apiVersion": "client.authentication.k8s.io/v1",
                    });
                }
                if auth {
                    entry["AuthProvider"] =
                        json!({"name": "gcp", "config": {"access-token": "s3cr3t"}});
                }
                entry
            },
        );
    prop_oneof![
        8 => entry,
        1 => Just(json!({"Host": "https://h", "BearerToken": 7, "Password": "s3cr3t"})),
        1 => Just(json!({"Host": "https://h", "TLSClientConfig": "s3cr3t"})),
        // serde reads a struct from a list too, field by field: the third is the password.
        1 => Just(json!(["https://h", "", "u", "s3cr3t"])),
    ]
    .boxed()
}

/// A kubeconfig as a profile Secret holds it (JSON is YAML), naming files and commands at times.
fn kubeconfig() -> BoxedStrategy<Value> {
    let cluster = (select(HOSTS), prop::option::of(select(PATHS)), prop::option::of(data()))
        .prop_map(|(server, ca, ca_data)| {
            json!({"server": server, "certificate-authority": ca, "certificate-authority-data": ca_data})
        });
    let user = (0u8..8, select(PATHS)).prop_map(|(kind, path)| match kind {
        0 => json!({"token": "s3cr3t-token"}),
        1 => json!({"tokenFile": path}),
        2 => json!({"token-file": path}),
        3 => json!({"client-certificate": path, "client-key": path, "client-key-data": "s3cr3t"}),
        4 => json!({"exec": {"command": "sh", "apiVersion": "client.authentication.k8s.io/v1", "env": [{"name": "TOKEN", "value": "s3cr3t"}]}}),
        5 => json!({"auth-provider": {"name": "oidc", "config": {"id-token": "s3cr3t"}}}),
        6 => json!({"username": "u", "password": "s3cr3t"}),
        _ => json!(null),
    });
    (cluster, user, prop::option::of(name()), any::<bool>())
        .prop_map(|(cluster, user, current, same)| {
            let other = if same { "c" } else { "elsewhere" };
            json!({
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": other, "user": "u"}}],
                "current-context": current.map(|_| "c"),
            })
        })
        .boxed()
}

/// YAML a parser must survive: deep nesting, alias expansion.
const HOSTILE_YAML: &[&str] = &[
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
    "{clusters: [{name: c, cluster: {server: https://h}}], current-context: c, users: s3cr3t}",
    "- s3cr3t",
    "\t: s3cr3t",
    "",
];

fn yaml() -> BoxedStrategy<String> {
    prop_oneof![
        6 => kubeconfig().prop_map(|k| k.to_string()),
        2 => select(HOSTILE_YAML).prop_map(String::from),
        1 => (1usize..2000).prop_map(|n| format!("{}s3cr3t{}", "[".repeat(n), "]".repeat(n))),
        1 => "\\PC{0,40}",
    ]
    .boxed()
}

/// A key of the `rest-config` Secret: the four spellings, and others.
fn key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (name(), name()).prop_map(|(c, n)| format!("{c}.{n}")),
        2 => name().prop_map(|c| format!("{c}.")),
        1 => (name(), name()).prop_map(|(c, n)| format!("{c}/{n}")),
        1 => name(),
    ]
    .boxed()
}

fn rest_config_secret() -> BoxedStrategy<Secret> {
    let value = prop_oneof![
        8 => rest_config().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => Just(b"{\"Host\": \"https://h\", \"BearerToken\": \"s3cr3t".to_vec()),
    ];
    let labels = prop_oneof![
        Just(None),
        Just(Some("{cluster-1: {gpu: \"true\"}}".to_string())),
        yaml().prop_map(Some),
    ];
    (prop::collection::btree_map(key(), value, 0..5), labels)
        .prop_map(|(data, labels)| {
            let mut secret = Secret::default();
            secret.metadata.name = Some(REST_CONFIG_SECRET.into());
            secret.metadata.annotations = labels.map(|l| [(CLUSTER_LABELS.to_string(), l)].into());
            secret.data = Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect());
            secret
        })
        .boxed()
}

fn profile_secret() -> BoxedStrategy<Secret> {
    let kind = prop::option::of(select(&["kubeconfig", "eks", "", " kubeconfig "][..]));
    (
        name(),
        prop::option::of(name()),
        kind,
        yaml(),
        prop::option::of(name()),
    )
        .prop_map(|(cluster, namespace, kind, kubeconfig, label)| {
            let mut secret = Secret::default();
            secret.metadata.name = Some(format!("profile-{}", cluster.len()));
            let mut labels = BTreeMap::from([(PROFILE_LABEL.to_string(), cluster)]);
            if let Some(label) = label {
                labels.insert("region".into(), label);
            }
            secret.metadata.labels = Some(labels);
            let mut data = BTreeMap::from([
                (
                    "kubeconfig".to_string(),
                    ByteString(kubeconfig.clone().into_bytes()),
                ),
                (
                    "credentials".to_string(),
                    ByteString(kubeconfig.into_bytes()),
                ),
            ]);
            if let Some(ns) = namespace {
                data.insert("namespace".into(), ByteString(ns.into_bytes()));
            }
            if let Some(kind) = kind {
                data.insert("kind".into(), ByteString(kind.as_bytes().to_vec()));
            }
            secret.data = Some(data);
            secret
        })
        .boxed()
}

proptest! {
    #![proptest_config(config(1024))]

    /// Whatever the Secrets hold, the registry builds; every unusable entry is reported by its
    /// key or Secret and never quotes a credential; no entry that would read a local file or
    /// run a command survives unless allowed; and each usable entry becomes a kube
    /// configuration or a reason it cannot.
    #[test]
    fn credential_secrets_are_parsed_checked_and_never_leaked(
        rest_config in prop::option::weighted(0.9, rest_config_secret()),
        profiles in prop::collection::vec(profile_secret(), 0..3),
        lookups in prop::collection::vec((name(), name()), 1..4),
    ) {
        let sources = Sources {
            rest_config,
            profiles: profiles.into_iter().map(|p| (p.metadata.name.clone().unwrap_or_default(), p)).collect(),
        };
        let commands = LocalAccess::new(&[], true).expect("no directories to check");
        for (access, allows_commands) in [(LocalAccess::none(), false), (commands, true)] {
            let registry = sources.registry(&access);
            for problem in &registry.problems {
                prop_assert!(!problem.contains(SECRET), "{problem}");
                prop_assert!(
                    problem.starts_with(&format!("Secret {REST_CONFIG_SECRET} "))
                        || problem.starts_with("profile Secret "),
                    "a problem that names no Secret: {problem}"
                );
            }
            // A kubeconfig's `Debug` (kube's) shows an `exec` entry's arguments and
            // environment: only with commands allowed is there one to show.
            let shown = format!("{registry:?}");
            prop_assert!(!shown.contains(SECRET), "{shown}");
            for entry in registry.entries() {
                let uses = match &entry.config {
                    Credentials::RestConfig(c) => rest_config_uses(c).len(),
                    Credentials::Kubeconfig(kc) => kubeconfig_uses(kc).len(),
                    Credentials::Opaque => 0,
                };
                prop_assert!(uses == 0 || allows_commands, "entry {} uses the machine", entry.key);
            }
            let known = registry.entries().map(|e| (e.cluster.clone(), e.namespace.clone().unwrap_or_default()));
            for (cluster, namespace) in lookups.iter().cloned().chain(known) {
                if let Err(e) = registry.lookup(&cluster, &namespace) {
                    prop_assert!(!e.to_string().contains(SECRET), "{e}");
                }
            }
            if allows_commands {
                // Building a configuration from an exec entry may run the command: only the
                // entries of the default access are turned into configurations.
                continue;
            }
            for entry in registry.entries() {
                if let Err(e) = runtime().block_on(entry.config.to_config(&entry.cluster)) {
                    prop_assert!(!e.to_string().contains(SECRET), "{e}");
                }
            }
        }
    }
}
