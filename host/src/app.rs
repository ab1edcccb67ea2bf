//! Wiring for the long-running commands: the controller process and the simulator alone (the
//! in-pod executor is its own binary, `flotilla-executor`). Each builds its clients and configuration and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::controller::{self, ControllerConfig};
use crate::leader::{Election, Leadership};
use flotilla_engine::EngineConfig;

/// Settings of `flotilla controller` (flags, or the environment variables Argo uses).
#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// The name of this cluster, unique among the clusters workflows use (Argo's `ARGO_CLUSTER`).
    #[arg(long, env = "ARGO_CLUSTER")]
    pub cluster: Option<String>,
    /// Only workflows (and pods) labelled with this controller instance ID.
    #[arg(long, env = "ARGO_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Watch workflows in this namespace only (default: all).
    #[arg(long, env = "ARGO_NAMESPACE")]
    pub namespace: Option<String>,
    /// The namespace holding the controller's `rest-config` Secret and
    /// `workflow-controller-authz` ConfigMap (in a pod: its own, from the downward API).
    #[arg(long, env = "POD_NAMESPACE", default_value = "argo")]
    pub controller_namespace: String,
    /// Seconds between sweeps for pods in other clusters and namespaces whose workflow is gone.
    #[arg(long, default_value_t = 300)]
    pub orphan_sweep_seconds: u64,
    /// How long a pod's changes before it runs (scheduled, given an IP, containers created) may
    /// wait before its workflow's status shows them, so that changes close together make one
    /// status write (`250ms`, `2s`; `0s`: every change at once). A pod's start and end are
    /// acted on at once. Argo holds pod changes for its `DEFAULT_REQUEUE_TIME` in the same way.
    #[arg(long, env = "FLOTILLA_POD_PROGRESS_DELAY", default_value = "1s",
          value_parser = parse_progress_delay)]
    pub pod_progress_delay: std::time::Duration,
    /// The image pods run `flotilla-executor` from.
    #[arg(long, env = "FLOTILLA_EXECUTOR_IMAGE")]
    pub executor_image: Option<String>,
    /// Most items one `withItems`, `withParam` or `withSequence` may expand to; the node of a
    /// larger fan-out errors, saying so.
    #[arg(long, env = "FLOTILLA_MAX_FAN_OUT", default_value_t = flotilla_engine::DEFAULT_MAX_FAN_OUT)]
    pub max_fan_out: usize,
    /// Take part in leader election, so that of several replicas only the one holding the
    /// Lease acts and the others keep warm caches (Argo's default). `--leader-elect=false` (or
    /// Argo's `LEADER_ELECTION_DISABLE=true`) when exactly one replica runs.
    #[arg(long, env = "FLOTILLA_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// This replica's identity in the Lease (default: `POD_NAME` or the host name, with a
    /// random suffix so that a restarted replica is a new candidate).
    #[arg(long, env = "LEADER_ELECTION_IDENTITY")]
    pub leader_election_identity: Option<String>,
    /// Seconds a lease lasts after its last renewal; the holder renews a third of it before.
    #[arg(long, env = "FLOTILLA_LEADER_ELECTION_LEASE_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub leader_election_lease_seconds: u64,
    /// Kubeconfig to use (default: in-cluster configuration, else $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig.
    #[arg(long)]
    pub context: Option<String>,
    /// Where Prometheus metrics (`/metrics`) and the probes (`/healthz`, `/readyz`) are served;
    /// `off` serves none.
    #[arg(long, env = "FLOTILLA_METRICS_ADDR", default_value = "0.0.0.0:9090")]
    pub metrics_addr: String,
    #[command(flatten)]
    pub local_access: LocalAccessArgs,
}

/// What credentials from the controller namespace's Secrets (`rest-config` entries, profile
/// kubeconfigs) may use of the machine that loads them. By default nothing: an entry naming a
/// file (`BearerTokenFile`, `CAFile`, `tokenFile`, `client-key`, …) or a credential plugin
/// (`exec`, `auth-provider`) is refused, and says so.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LocalAccessArgs {
    /// Let credential entries name files under DIR (an absolute path; repeatable, or
    /// comma-separated in the variable). A path must stay under DIR once symbolic links are
    /// followed.
    #[arg(
        long = "allow-credential-files",
        value_name = "DIR",
        env = "FLOTILLA_ALLOW_CREDENTIAL_FILES",
        value_delimiter = ','
    )]
    pub files: Vec<PathBuf>,
    /// Let credential entries run client-go credential plugins (`exec`, `auth-provider`) as
    /// this process.
    #[arg(
        long = "allow-exec-credentials",
        env = "FLOTILLA_ALLOW_EXEC_CREDENTIALS"
    )]
    pub exec: bool,
}

impl LocalAccessArgs {
    /// The allowance, its directories checked now.
    pub fn access(&self) -> Result<crate::clusters::LocalAccess> {
        Ok(crate::clusters::LocalAccess::new(&self.files, self.exec)?)
    }
}

/// `--pod-progress-delay`: a duration (`500ms`, `1s`, `1m`) of at most a minute.
fn parse_progress_delay(text: &str) -> Result<std::time::Duration, String> {
    let delay: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("{text:?} is not a duration such as 500ms or 2s: {e}"))?;
    let delay =
        std::time::Duration::try_from(delay).map_err(|_| format!("{text:?} is negative"))?;
    if delay > std::time::Duration::from_secs(60) {
        return Err(format!("{text:?} is longer than a minute"));
    }
    Ok(delay)
}

/// `flotilla controller`: runs until SIGINT or SIGTERM.
pub async fn run_controller(args: ControllerArgs) -> Result<ExitCode> {
    let local_access = args.local_access.access()?;
    let client =
        crate::credentials::client(args.kubeconfig.as_deref(), args.context.clone(), true).await?;
    let mut engine = EngineConfig {
        cluster: args.cluster.clone(),
        instance_id: args.instance_id.clone(),
        max_fan_out: args.max_fan_out,
        ..EngineConfig::default()
    };
    if let Some(image) = args.executor_image.clone() {
        engine.executor_image = image;
    }
    let disabled = std::env::var("LEADER_ELECTION_DISABLE")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    let (leadership, candidate) = if args.leader_elect && !disabled {
        let election = election(&args)?;
        tracing::info!(lease = %election.lease, namespace = %election.namespace, identity = %election.identity, "taking part in leader election");
        let (leadership, candidate) = Leadership::elect(client.clone(), election);
        (leadership, Some(candidate))
    } else {
        (Leadership::always(), None)
    };
    let config = ControllerConfig {
        namespace: args.namespace,
        controller_namespace: args.controller_namespace,
        orphan_sweep: std::time::Duration::from_secs(args.orphan_sweep_seconds.max(1)),
        progress_delay: args.pod_progress_delay,
        engine,
        fixed_policies: None,
        local_access,
        leadership,
    };
    tracing::info!(cluster = ?args.cluster, instance_id = ?args.instance_id, "starting");
    let metrics = match args.metrics_addr.as_str() {
        "off" => None,
        addr => {
            let addr: std::net::SocketAddr = addr
                .parse()
                .with_context(|| format!("--metrics-addr {addr:?}: not an address:port"))?;
            Some(tokio::spawn(async move {
                if let Err(e) = crate::metrics::serve(addr).await {
                    tracing::error!(%addr, error = %e, "serving metrics failed");
                }
            }))
        }
    };
    let result = controller::run(client, config, shutdown_signal()).await;
    if let Some(candidate) = candidate {
        // Hands the lease over now, so a standby need not wait for it to expire.
        candidate.resign().await;
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The election `args` ask for: the Lease of this instance ID in the controller's namespace.
fn election(args: &ControllerArgs) -> Result<Election> {
    let identity = args.leader_election_identity.clone().unwrap_or_else(|| {
        let host = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "flotilla".to_owned());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        format!("{host}_{:08x}", nanos ^ std::process::id().rotate_left(16))
    });
    let seconds = args.leader_election_lease_seconds;
    let lease = Election::lease_name(args.instance_id.as_deref());
    // A Lease's name is a DNS subdomain; an instance ID may be any label value.
    let valid = lease.len() <= 253
        && lease.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    anyhow::ensure!(
        valid,
        "--instance-id {:?}: the leader-election Lease would be named {lease:?}, which is not a \
         valid object name (lowercase letters, digits, '-' and '.'); choose another instance ID \
         or run one replica with --leader-elect=false",
        args.instance_id.as_deref().unwrap_or_default()
    );
    Ok(Election {
        lease,
        namespace: args.controller_namespace.clone(),
        identity,
        duration: std::time::Duration::from_secs(seconds),
        grace: std::time::Duration::from_secs((seconds / 3).max(1)),
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `flotilla sim serve`: simulated clusters only (no controller), until Ctrl-C.
#[cfg(feature = "dev")]
pub async fn serve_simulator(
    clusters: u16,
    kubeconfig: PathBuf,
    kubelet: bool,
) -> Result<ExitCode> {
    let sandbox = crate::sandbox::Sandbox::start_with(clusters, kubeconfig, kubelet).await?;
    for c in &sandbox.clusters {
        println!("{:<10} {}", c.name(), c.url());
    }
    println!("kubeconfig: {}", sandbox.kubeconfig.display());
    println!("serving until Ctrl-C");
    shutdown_signal().await;
    Ok(ExitCode::SUCCESS)
}

/// `flotilla cluster get-profile` and `flotilla cluster add`.
pub async fn cluster(command: crate::cli::ClusterCommand) -> Result<()> {
    use crate::cli::ClusterCommand;
    use crate::clusters::enroll;
    let kubeconfig_of = |path: Option<&std::path::Path>| -> Result<kube::config::Kubeconfig> {
        match path {
            Some(p) => kube::config::Kubeconfig::read_from(p)
                .with_context(|| format!("reading kubeconfig {}", p.display())),
            None => kube::config::Kubeconfig::read().context("reading the kubeconfig"),
        }
    };
    match command {
        ClusterCommand::GetProfile {
            cluster,
            namespace,
            service_account,
            local_namespace,
            server,
            insecure_skip_tls_verify,
            kubeconfig,
            context,
        } => {
            let context = context.unwrap_or_else(|| cluster.clone());
            let kc = kubeconfig_of(kubeconfig.as_deref())?;
            let rest = enroll::rest_config_of(&kc, &context).map_err(anyhow::Error::msg)?;
            let remote =
                crate::credentials::client(kubeconfig.as_deref(), Some(context), false).await?;
            let remote_cluster = enroll::RemoteCluster {
                name: cluster,
                server: server
                    .unwrap_or_else(|| rest["Host"].as_str().unwrap_or_default().to_string()),
                ca_data: rest["TLSClientConfig"]["CAData"]
                    .as_str()
                    .map(str::to_string),
            };
            let secret = enroll::get_profile(
                &remote,
                &remote_cluster,
                &namespace,
                &service_account,
                &local_namespace,
                insecure_skip_tls_verify,
            )
            .await?;
            let mut value = serde_json::to_value(&secret)?;
            value["apiVersion"] = "v1".into();
            value["kind"] = "Secret".into();
            print!("{}", serde_yaml::to_string(&value)?);
            Ok(())
        }
        ClusterCommand::Add {
            key,
            context,
            namespace,
            kubeconfig,
        } => {
            let key = key.replacen('/', ".", 1);
            if !key.contains('.') {
                anyhow::bail!(
                    "key {key:?}: write NAME.NAMESPACE (that namespace only) or NAME. (any namespace)"
                );
            }
            let kc = kubeconfig_of(kubeconfig.as_deref())?;
            let rest = enroll::rest_config_of(&kc, &context).map_err(anyhow::Error::msg)?;
            let primary = crate::credentials::client(kubeconfig.as_deref(), None, false).await?;
            enroll::add_key(&primary, &namespace, &key, rest.to_string().into_bytes()).await?;
            println!(
                "cluster {key} added to Secret {namespace}/rest-config from context {context}"
            );
            Ok(())
        }
    }
}

/// `flotilla plugin validate COMPONENT`: the worlds it provides; fails if none.
pub fn validate_plugin(path: &std::path::Path) -> Result<ExitCode> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let provides = crate::plugins::validate(&name, &bytes)?;
    let Some(version) = provides.version.filter(|_| !provides.worlds.is_empty()) else {
        let versions: Vec<&str> = crate::plugins::WitVersion::ALL
            .iter()
            .map(|v| v.as_str())
            .collect();
        anyhow::bail!(
            "{} provides none of the worlds of flotilla:plugins (versions {}: naming-policy, placement-policy, credential-provider)",
            path.display(),
            versions.join(", ")
        );
    };
    for world in provides.worlds {
        println!(
            "{}: provides flotilla:plugins/{}@{version}",
            path.display(),
            world.name()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `flotilla plugin test COMPONENT --world W --input FILE.json`: one call, the answer as JSON.
pub fn test_plugin(
    path: &std::path::Path,
    world: &str,
    input: &std::path::Path,
) -> Result<ExitCode> {
    let world = crate::plugins::World::parse(world).with_context(|| {
        format!("--world {world:?}: use naming-policy, placement-policy or credential-provider")
    })?;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let input =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let answer = crate::plugins::try_out(&name, &bytes, world, &input)?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_progress_delay;
    use std::time::Duration;

    #[test]
    fn the_progress_delay_is_a_duration_of_at_most_a_minute() {
        assert_eq!(
            parse_progress_delay("500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(parse_progress_delay("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_progress_delay("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_progress_delay("1m"), Ok(Duration::from_secs(60)));
        let refused = |text| parse_progress_delay(text).unwrap_err();
        assert!(
            refused("-1s").contains("\"-1s\" is negative"),
            "{}",
            refused("-1s")
        );
        assert!(
            refused("61s").contains("longer than a minute"),
            "{}",
            refused("61s")
        );
        assert!(
            refused("soon").contains("\"soon\" is not a duration"),
            "{}",
            refused("soon")
        );
    }
}
