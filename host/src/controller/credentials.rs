//! Credentials for other clusters from credential provider plugins (`credentials.<kind>` in
//! `flotilla-plugins`): asked when a connection opens, then again before the credentials
//! expire — in a task of the connection's own, never on the pod-creation path. A refreshed
//! bearer token goes into the client's token slot, so the connection and its watches carry on;
//! credentials that changed beyond the token mark the connection stale, and the next use
//! reconnects.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::clusters::provided::{self, Shape, TokenSlot};
use crate::clusters::{ClusterCredentials, CredentialProviders, CredentialRequest, Entry};
use crate::plugins::ExtensionPoint;

/// A new connection's client, and what refreshing its credentials needs.
pub(super) struct Connection {
    pub(super) client: kube::Client,
    pub(super) provided: Option<Provided>,
}

/// Credentials from a provider that expire.
pub(super) struct Provided {
    slot: TokenSlot,
    shape: Shape,
    expires_at: u64,
}

fn unix_now() -> u64 {
    jiff::Timestamp::now().as_second().max(0) as u64
}

/// Asks the provider for `entry`'s kind, off the async threads (a plugin may block).
async fn provide(
    providers: &impl CredentialProviders,
    entry: &Entry,
) -> Result<Option<ClusterCredentials>, String> {
    let Some(provider) = providers.for_kind(&entry.kind) else {
        return Ok(None);
    };
    let (cluster, kind, raw) = (entry.cluster.clone(), entry.kind.clone(), entry.raw.clone());
    let asked = tokio::task::spawn_blocking(move || {
        let now = unix_now();
        let request = CredentialRequest {
            cluster: &cluster,
            kind: &kind,
            entry: &raw.0,
            now,
        };
        provider.provide(&request)
    })
    .await
    .map_err(|e| format!("the credential provider's task failed: {e}"))?;
    let credentials = asked.map_err(|e| format!("key {}: {e}", entry.key))?;
    // Whatever the provider (a plugin, a native one), its server is checked here.
    if let Some(problem) = credentials.server_problem() {
        return Err(format!(
            "key {}: the credential provider gave server {:?}: {problem}",
            entry.key, credentials.server
        ));
    }
    Ok(Some(credentials))
}

/// `config` without kube-rs's own retries of 429, 503 and 504 (up to 15 per request, backing
/// off towards minutes): inside the client they would hold a reconcile on one busy cluster and
/// hide its `Retry-After` from the controller, whose answer is to put the creation off, leave
/// that cluster alone for as long as it asked (`busy`) and get on with the others.
fn without_retries(mut config: kube::Config) -> kube::Config {
    config.default_retry = false;
    config
}

/// A client for `entry`: from its kind's provider when there is one, else read natively.
pub(super) async fn connect(
    providers: &impl CredentialProviders,
    entry: &Entry,
) -> Result<Connection, String> {
    let Some(credentials) = provide(providers, entry).await? else {
        let config = entry.config.to_config(&entry.cluster).await.map_err(|e| {
            let hint = match entry.config {
                crate::clusters::Credentials::Opaque => format!(
                    " (add {} to ConfigMap {})",
                    ExtensionPoint::credentials(&entry.kind),
                    crate::plugins::settings::CONFIG_MAP
                ),
                _ => String::new(),
            };
            format!("key {}: {e}{hint}", entry.key)
        })?;
        let client = kube::Client::try_from(without_retries(config))
            .map_err(|e| format!("key {}: {e}", entry.key))?;
        return Ok(Connection {
            client,
            provided: None,
        });
    };
    let (client, slot) = provided::client(&entry.cluster, &credentials)
        .await
        .map_err(|e| format!("key {}: {e}", entry.key))?;
    info!(cluster = %entry.cluster, key = %entry.key, kind = %entry.kind, expires_at = ?credentials.expires_at, "credentials from a provider plugin");
    Ok(Connection {
        client,
        provided: credentials.expires_at.map(|expires_at| Provided {
            slot,
            shape: Shape::of(&credentials),
            expires_at,
        }),
    })
}

/// How long to wait before asking again: four fifths of the time left (at least a second), or
/// after failures a back-off from 5 s to a minute.
fn refresh_delay(now: u64, expires_at: u64, failures: u32) -> Duration {
    if failures > 0 {
        let backoff = 5u64.saturating_mul(1 << failures.min(4));
        return Duration::from_secs(backoff.min(60));
    }
    let left = expires_at.saturating_sub(now);
    Duration::from_secs((left * 4 / 5).max(1))
}

/// Keeps `entry`'s provided credentials fresh until the connection closes (the task is aborted
/// then) or they stop expiring.
pub(super) async fn refresh(
    providers: Arc<impl CredentialProviders + ?Sized>,
    entry: Entry,
    mut provided: Provided,
    stale: Arc<AtomicBool>,
) {
    let mut failures = 0;
    loop {
        tokio::time::sleep(refresh_delay(unix_now(), provided.expires_at, failures)).await;
        match provide(&providers, &entry).await {
            Ok(Some(c)) if Shape::of(&c) != provided.shape => {
                info!(cluster = %entry.cluster, key = %entry.key, "refreshed credentials changed beyond the token; reconnecting");
                stale.store(true, Ordering::Relaxed);
                return;
            }
            Ok(Some(c)) => {
                if let Err(e) = provided.slot.set(&c.auth) {
                    warn!(cluster = %entry.cluster, key = %entry.key, error = %e, "refreshed credentials unusable");
                    failures += 1;
                    continue;
                }
                failures = 0;
                debug!(cluster = %entry.cluster, key = %entry.key, expires_at = ?c.expires_at, "credentials refreshed");
                match c.expires_at {
                    Some(at) => provided.expires_at = at,
                    None => return,
                }
            }
            Ok(None) => {
                // The provider was removed from the ConfigMap: reconnect the native way.
                stale.store(true, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                failures += 1;
                warn!(cluster = %entry.cluster, error = %e, failures, "refreshing credentials failed; the current ones stay until they expire");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use base64::Engine as _;
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, ListParams};

    use crate::clusters::{Auth, CredentialProvider, FixedCredentials};

    /// A simulated cluster `c1` and the token of a user who may do anything there.
    async fn cluster_and_admin() -> (flotilla_sim::SimCluster, flotilla_sim::Token) {
        let sim = flotilla_sim::SimCluster::start(flotilla_sim::ClusterConfig::new("c1"))
            .await
            .expect("simulator");
        let token = sim.add_user("someone", &["system:masters"]);
        (sim, token)
    }

    /// A profile entry of `kind` that only a provider can read.
    fn opaque_entry(kind: &str, raw: &str) -> Entry {
        Entry {
            cluster: "c1".into(),
            namespace: None,
            key: "profile:c1".into(),
            config: crate::clusters::Credentials::Opaque,
            kind: kind.into(),
            raw: crate::clusters::registry::Raw(raw.as_bytes().into()),
            fingerprint: 1,
        }
    }

    /// Connects `entry` through `providers`, checks that the first credentials work, and starts
    /// their refresh task: the namespaces of the connection, its stale flag and the task.
    async fn connected_and_refreshing<P: CredentialProviders + 'static>(
        providers: Arc<P>,
        entry: Entry,
    ) -> (Api<Namespace>, Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
        let connection = connect(&providers, &entry).await.expect("connected");
        let provided = connection.provided.expect("credentials that expire");
        let namespaces: Api<Namespace> = Api::all(connection.client);
        let listed = namespaces.list(&ListParams::default()).await;
        assert!(listed.is_ok(), "the first credentials work: {listed:?}");
        let stale = Arc::new(AtomicBool::new(false));
        let refresher = tokio::spawn(refresh(providers, entry, provided, stale.clone()));
        (namespaces, stale, refresher)
    }

    /// Whether `works` comes to answer `ok` within five seconds (asked every 100 ms).
    async fn eventually<F: Future<Output = bool>>(ok: bool, works: &impl Fn() -> F) -> bool {
        for _ in 0..50 {
            if works().await == ok {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn bearer(server: &str, ca_pem: &str, token: &str, expires_at: u64) -> ClusterCredentials {
        ClusterCredentials {
            server: server.into(),
            ca_pem: ca_pem.into(),
            insecure: false,
            server_name: String::new(),
            auth: Auth::BearerToken(token.to_string().into()),
            expires_at: Some(expires_at),
        }
    }

    /// The controller's credential path with a native provider (no WebAssembly): its
    /// credentials open the connection, and each refresh's token reaches the same client.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_native_providers_credentials_connect_and_its_refreshes_reach_the_client() {
        let (sim, token) = cluster_and_admin().await;
        let (url, ca) = (sim.url(), sim.ca_pem().expect("TLS"));
        let soon = || unix_now() + 2;
        let fixed = Arc::new(FixedCredentials::new(bearer(
            url,
            ca,
            token.expose(),
            soon(),
        )));
        let providers: Arc<BTreeMap<String, Arc<dyn CredentialProvider>>> = Arc::new(
            [(
                "fixed".to_string(),
                fixed.clone() as Arc<dyn CredentialProvider>,
            )]
            .into(),
        );
        let (namespaces, stale, refresher) =
            connected_and_refreshing(providers, opaque_entry("fixed", "{}")).await;
        let works = || async { namespaces.list(&ListParams::default()).await.is_ok() };
        fixed.set(Ok(bearer(url, ca, "a-token-nobody-issued", soon())));
        assert!(
            eventually(false, &works).await,
            "the bad token reached the client"
        );
        fixed.set(Ok(bearer(url, ca, token.expose(), soon())));
        assert!(
            eventually(true, &works).await,
            "the good token reached the client"
        );
        assert!(!stale.load(Ordering::Relaxed), "only the token changed");
        refresher.abort();
    }

    #[tokio::test]
    async fn a_providers_refusal_and_a_missing_provider_name_the_entry() {
        let fixed = FixedCredentials::new(bearer("https://c1", "", "t", 0));
        fixed.set(Err("no token for cluster c1".into()));
        let providers: BTreeMap<String, Arc<dyn CredentialProvider>> = [(
            "fixed".to_string(),
            Arc::new(fixed) as Arc<dyn CredentialProvider>,
        )]
        .into();
        let refused = connect(&providers, &opaque_entry("fixed", "{}")).await;
        assert_eq!(
            refused.err().as_deref(),
            Some("key profile:c1: no token for cluster c1")
        );
        let missing = connect(&providers, &opaque_entry("eks", "{}")).await;
        let err = missing.err().unwrap_or_default();
        assert!(
            err.ends_with("(add credentials.eks to ConfigMap flotilla-plugins)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_native_providers_server_is_checked_like_a_plugins() {
        let fixed = FixedCredentials::new(bearer("http://c1.example", "", "t", 0));
        let providers: BTreeMap<String, Arc<dyn CredentialProvider>> = [(
            "fixed".to_string(),
            Arc::new(fixed) as Arc<dyn CredentialProvider>,
        )]
        .into();
        let refused = connect(&providers, &opaque_entry("fixed", "{}")).await;
        let err = refused.err().unwrap_or_default();
        assert!(
            err.starts_with("key profile:c1: the credential provider gave server \"http://c1.example\": not an https:// URL"),
            "{err}"
        );
        assert!(!err.contains("\"t\""), "no token in the message: {err}");
    }

    /// The token-file provider (`plugins/credentials-token-file`) against a simulated cluster:
    /// the file's token is used, and when the file changes the refresh task carries the new
    /// token to the next request of the same client — a bad one refused, a good one accepted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_token_files_changes_reach_the_connection_through_refreshes() {
        let (sim, token) = cluster_and_admin().await;
        let dir = std::env::temp_dir().join(format!("flotilla-refresh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("token");
        std::fs::write(&file, token.expose()).expect("token");
        let component = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins/target/wasm32-wasip2/release/credentials_token_file.wasm");
        let bytes = std::fs::read(&component).expect("bash plugins/build.sh first");
        let settings = crate::plugins::settings::Settings::from_data(
            &[(
                "credentials.token-file".to_string(),
                format!(
                    "component: {{file: /x.wasm}}\nconfig: {{refreshSeconds: 1}}\nreadOnlyDirs: [{}]",
                    dir.display()
                ),
            )]
            .into(),
        );
        let plugins = Arc::new(crate::plugins::Active::default());
        let host = crate::plugins::PluginHost::shared().expect("host");
        let point = ExtensionPoint::credentials("token-file");
        plugins
            .install(&host, &point, &settings.points[&point], &bytes)
            .expect("installed");
        let ca = base64::engine::general_purpose::STANDARD.encode(sim.ca_pem().expect("TLS"));
        let entry_json = format!(
            r#"{{"server": "{}", "caData": "{ca}", "tokenFile": "{}"}}"#,
            sim.url(),
            file.display()
        );
        let entry = opaque_entry("token-file", &entry_json);
        let (namespaces, stale, refresher) = connected_and_refreshing(plugins, entry).await;
        let works = || async { namespaces.list(&ListParams::default()).await.is_ok() };

        std::fs::write(&file, "a-token-nobody-issued").expect("token");
        assert!(
            eventually(false, &works).await,
            "the refreshed (bad) token reached the client"
        );
        std::fs::write(&file, token.expose()).expect("token");
        assert!(
            eventually(true, &works).await,
            "the refreshed (good) token reached the client"
        );
        assert!(
            !stale.load(Ordering::Relaxed),
            "only the token changed: no reconnect"
        );
        refresher.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refreshes_come_well_before_expiry_and_back_off_after_failures() {
        assert_eq!(refresh_delay(1000, 1900, 0), Duration::from_secs(720));
        assert_eq!(refresh_delay(1000, 1001, 0), Duration::from_secs(1));
        assert_eq!(
            refresh_delay(1000, 900, 0),
            Duration::from_secs(1),
            "expired"
        );
        assert_eq!(refresh_delay(1000, 1900, 1), Duration::from_secs(10));
        assert_eq!(refresh_delay(1000, 1900, 2), Duration::from_secs(20));
        assert_eq!(refresh_delay(1000, 1900, 9), Duration::from_secs(60));
    }
}
