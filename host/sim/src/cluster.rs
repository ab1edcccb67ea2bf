//! A running simulated cluster: its API server on loopback, its controllers and, optionally, a
//! simulated kubelet — the public face of the crate.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admission::FieldValidation;
use crate::api::Api;
use crate::api::write::create_object;
use crate::authn::{Token, TokenEntry};
use crate::rbac::{SYSTEM_MASTERS, UserInfo};
use crate::store::StoreConfig;

/// How to start a simulated cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The cluster's name: its kubeconfig context, cluster and user entries are named after it.
    pub name: String,
    /// Serve HTTPS with a fresh CA (the default) or plain HTTP.
    pub tls: bool,
    /// Run a simulated kubelet (one node, `<name>-node`) that runs pods.
    pub kubelet: bool,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Events kept per resource for resuming watches; older resourceVersions get 410 Gone.
    pub watch_window: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Timing of the simulated kubelet.
    pub kubelet_options: crate::kubelet::RunOptions,
    /// Called by the simulated kubelet when a container exits (where a workflow executor
    /// reports outputs).
    pub hooks: Option<std::sync::Arc<dyn crate::kubelet::ContainerHooks>>,
}

impl ClusterConfig {
    pub fn new(name: impl Into<String>) -> Self {
        ClusterConfig {
            name: name.into(),
            tls: true,
            kubelet: true,
            port: 0,
            watch_window: StoreConfig::default().watch_window,
            bookmark_interval: Duration::from_secs(1),
            kubelet_options: crate::kubelet::RunOptions::default(),
            hooks: None,
        }
    }
}

/// Why a simulated cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("binding 127.0.0.1:{port} for cluster {cluster:?} failed: {source}")]
    Bind {
        cluster: String,
        port: u16,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("bootstrapping cluster {cluster:?} failed: {message}")]
    Bootstrap { cluster: String, message: String },
    #[error("building a client for cluster {cluster:?} failed: {message}")]
    Client { cluster: String, message: String },
}

/// A simulated cluster serving on loopback until dropped or shut down.
#[derive(Debug)]
pub struct SimCluster {
    name: String,
    url: String,
    ca_pem: Option<String>,
    admin: Token,
    api: Arc<Api>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The namespaces every cluster starts with.
const INITIAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

impl SimCluster {
    pub async fn start(config: ClusterConfig) -> Result<SimCluster, StartError> {
        let tls = if config.tls {
            Some(crate::tls::generate(&config.name)?)
        } else {
            None
        };
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let store = StoreConfig {
            watch_window: config.watch_window,
            ..StoreConfig::default()
        };
        let mut api = Api::new(&config.name, store, ca_pem.clone().unwrap_or_default());
        api.bookmark_interval = config.bookmark_interval;
        api.kubelet_identity = tls
            .as_ref()
            .map(|t| Arc::new((t.kubelet_client.0.clone(), t.kubelet_client.1.clone_key())));
        let api = Arc::new(api);
        let bootstrap_err = |message: String| StartError::Bootstrap {
            cluster: config.name.clone(),
            message,
        };
        bootstrap(&api).map_err(bootstrap_err)?;

        let admin = Token::generate();
        api.authn.add(
            admin.clone(),
            TokenEntry {
                user: UserInfo::authenticated("admin", vec![SYSTEM_MASTERS.to_owned()]),
                service_account: None,
                expires: None,
            },
        );

        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| StartError::Bind {
                cluster: config.name.clone(),
                port: config.port,
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                cluster: config.name.clone(),
                port: config.port,
                source,
            })?
            .port();
        let scheme = if config.tls { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = vec![
            tokio::spawn(crate::server::serve(
                listener,
                api.clone(),
                tls.map(|t| t.server_config),
                shutdown_rx,
            )),
            tokio::spawn(crate::controllers::run(api.clone())),
        ];
        let mut cluster = SimCluster {
            name: config.name.clone(),
            url,
            ca_pem,
            admin,
            api,
            shutdown,
            tasks: Vec::new(),
        };
        if config.kubelet {
            let kubelet_token = cluster.add_user(
                "system:node:".to_string() + &config.name + "-node",
                &["system:nodes", "system:masters"],
            );
            let client = cluster.client_for(&kubelet_token)?;
            // The kubelet admits only the API server's client certificate, signed by the
            // cluster's CA (kubeadm's `--client-ca-file`).
            let options = crate::kubelet::RunOptions {
                client_ca_pem: cluster.ca_pem.clone(),
                ..config.kubelet_options.clone()
            };
            let kubelet = crate::kubelet::Kubelet::new(client, format!("{}-node", config.name))
                .with_options(options);
            let kubelet = match &config.hooks {
                Some(hook) => kubelet.with_hooks(hook.clone()),
                None => kubelet,
            };
            let name = config.name.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = kubelet.run().await {
                    tracing::error!(cluster = %name, error = %e, "simulated kubelet stopped");
                }
            }));
        }
        cluster.tasks = tasks;
        Ok(cluster)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API server's URL, e.g. `https://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// PEM of the CA that signed the serving certificate (`None` for plain HTTP).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A token in group `system:masters` (cluster-admin).
    pub fn admin_token(&self) -> &Token {
        &self.admin
    }

    /// Registers a new token for a user with the given groups, plus `system:authenticated` unless
    /// the list already has it or `system:unauthenticated` (apiserver's `AuthenticatedGroupAdder`).
    /// What it may do is decided by RBAC objects bound to that user or its groups, as in a real
    /// cluster.
    pub fn add_user(&self, user: impl Into<String>, groups: &[&str]) -> Token {
        self.add_token(user.into(), groups, None)
    }

    /// As [`SimCluster::add_user`], for a token refused (401) from `expires` on (rounded up to
    /// the second): an OIDC or exec-plugin credential with a lifetime, which a client must
    /// replace in time.
    pub fn add_user_until(
        &self,
        user: impl Into<String>,
        groups: &[&str],
        expires: jiff::Timestamp,
    ) -> Token {
        let second = expires.as_second() + i64::from(expires.subsec_nanosecond() > 0);
        self.add_token(user.into(), groups, Some(second))
    }

    /// How many requests this cluster answered 401 (credentials presented and not valid).
    pub fn credentials_refused(&self) -> u64 {
        self.api.authn.refused()
    }

    fn add_token(&self, user: String, groups: &[&str], expires: Option<i64>) -> Token {
        let token = Token::generate();
        let groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self.api.authn.add(
            token.clone(),
            TokenEntry {
                user: UserInfo::authenticated(user, groups),
                service_account: None,
                expires,
            },
        );
        token
    }

    /// Fault injection for this cluster.
    pub fn faults(&self) -> FaultHandle {
        FaultHandle {
            api: self.api.clone(),
        }
    }

    /// A kube-rs configuration for this cluster with the given token.
    pub fn config_for(&self, token: &Token) -> kube::Config {
        let mut config = kube::Config::new(self.url.parse().unwrap_or_default());
        config.auth_info.token = Some(token.expose().to_string().into());
        if let Some(ca) = &self.ca_pem {
            config.root_cert = Some(pem_to_der(ca));
        }
        config.default_namespace = "default".into();
        config
    }

    /// A kube-rs client for this cluster with the given token.
    pub fn client_for(&self, token: &Token) -> Result<kube::Client, StartError> {
        kube::Client::try_from(self.config_for(token)).map_err(|e| StartError::Client {
            cluster: self.name.clone(),
            message: e.to_string(),
        })
    }

    /// A cluster-admin kube-rs client.
    pub fn client(&self) -> Result<kube::Client, StartError> {
        self.client_for(&self.admin)
    }

    /// The kubeconfig entries (cluster, user, context) for this cluster and token.
    pub fn kubeconfig_entry(&self, token: &Token) -> crate::kubeconfig::Entry {
        crate::kubeconfig::Entry {
            name: self.name.clone(),
            server: self.url.clone(),
            ca_pem: self.ca_pem.clone(),
            token: token.clone(),
        }
    }

    /// Stops serving; open connections are closed.
    pub fn shutdown(&mut self) {
        // Clients (the kubelet) first, then the controllers, then the listener: nothing is left
        // talking to a server that has gone.
        for t in self.tasks.drain(..).rev() {
            t.abort();
        }
        let _ = self.shutdown.send(true);
    }
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn pem_to_der(pem: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map(|d| vec![d])
        .unwrap_or_default()
}

/// The objects a fresh cluster has: namespaces and the bootstrap RBAC policy.
fn bootstrap(api: &Api) -> Result<(), String> {
    let catalog = api.catalog();
    for ns in INITIAL_NAMESPACES {
        let rt = api.builtin_type(crate::resources::Builtin::Namespace);
        let mut obj =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        create_object(
            api,
            &rt,
            "",
            &mut obj,
            FieldValidation::Strict,
            false,
            Some("kube-apiserver"),
        )
        .map_err(|e| e.to_string())?;
    }
    for mut obj in crate::rbac::bootstrap_objects() {
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let rt = catalog
            .all()
            .find(|rt| rt.group == "rbac.authorization.k8s.io" && rt.kind == kind)
            .cloned()
            .ok_or_else(|| format!("no resource for bootstrap kind {kind}"))?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        create_object(
            api,
            &rt,
            &ns,
            &mut obj,
            FieldValidation::Strict,
            false,
            Some("kube-apiserver"),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Controls the faults of one simulated cluster.
#[derive(Debug, Clone)]
pub struct FaultHandle {
    api: Arc<Api>,
}

impl FaultHandle {
    /// Refuse every connection (and cut open ones) until `set_unreachable(false)`.
    pub fn set_unreachable(&self, on: bool) {
        self.api.faults.set_unreachable(on);
    }

    /// Refuse every connection for a while.
    pub fn unreachable_for(&self, d: Duration) {
        self.api.faults.set_unreachable_for(d);
    }

    /// Fail a share (0.0–1.0) of requests with this status code (500, 503, 429, ...).
    pub fn set_error_rate(&self, probability: f64, code: u16) {
        self.api.faults.set_error_rate(probability, code);
    }

    /// Fail a further share of requests with another status code.
    pub fn add_error_rate(&self, probability: f64, code: u16) {
        self.api.faults.add_error_rate(probability, code);
    }

    /// Fail the next `count` requests of this HTTP method (`"POST"`: creates) with this
    /// status code, whatever else is asked meanwhile.
    pub fn fail_next(&self, method: &str, count: u32, code: u16) {
        self.api.faults.fail_next(method, count, code);
    }

    /// Delay every request.
    pub fn set_latency(&self, d: Duration) {
        self.api.faults.set_latency(d);
    }

    /// End every open watch stream now (clients must resume).
    pub fn cut_watches(&self) {
        self.api.faults.cut_watches();
    }

    /// How many requests were failed on purpose so far.
    pub fn injected_errors(&self) -> u64 {
        self.api.faults.injected_errors()
    }

    /// Back to normal.
    pub fn clear(&self) {
        self.api.faults.clear();
    }
}
