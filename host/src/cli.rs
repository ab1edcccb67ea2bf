//! Command-line interface: argument parsing and dispatch; each command lives in its own module.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "flotilla",
    version,
    about = "Multi-cluster Argo Workflows controller"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start simulated clusters, install Flotilla into them and run a workflow.
    #[cfg(feature = "dev")]
    Dev(DevArgs),
    /// Kubernetes simulator tools.
    #[cfg(feature = "dev")]
    #[command(subcommand)]
    Sim(SimCommand),
    /// Print the CustomResourceDefinitions Flotilla installs (YAML, generated from its types).
    Crd,
    /// Print the logs of a workflow's pods, in every cluster, prefixed with node and cluster
    /// (as `argo logs`).
    Logs(LogsArgs),
    /// Other clusters: their credentials for this controller (as `argo cluster`).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// WebAssembly plugins: check a component before deploying it.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Stop workflows: unfinished nodes fail and running pods are deleted (as `argo stop`).
    Stop(WorkflowArgs),
    /// Terminate workflows: as `stop`, and exit handlers do not run (as `argo terminate`).
    Terminate(WorkflowArgs),
    /// Suspend workflows: no new step starts until resumed (as `argo suspend`).
    Suspend(WorkflowArgs),
    /// Resume suspended workflows and their suspend steps (as `argo resume`).
    Resume(WorkflowArgs),
    /// Run the workflow controller.
    Controller(crate::app::ControllerArgs),
    /// Measure Flotilla on a cluster beside the API server's own ceiling (pod fan-out, many
    /// workflows, latency); without --kubeconfig, on a simulated cluster started here.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct WorkflowArgs {
    /// Names of the workflows.
    #[arg(required = true)]
    pub workflows: Vec<String>,
    #[command(flatten)]
    pub target: crate::commands::Target,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Which of Flotilla's worlds a component provides, and of which version of
    /// flotilla:plugins (its exports name it).
    Validate { component: PathBuf },
    /// Call a plugin once, outside the controller: the input is JSON in the shape of the
    /// world's arguments; the answer is printed as JSON.
    Test {
        component: PathBuf,
        /// `naming-policy` or `placement-policy`.
        #[arg(long)]
        world: String,
        /// The call's arguments, as JSON.
        #[arg(long)]
        input: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Print a profile Secret for the controller of another cluster: a kubeconfig for
    /// SERVICE_ACCOUNT in NAMESPACE of CLUSTER (read through kubeconfig context CLUSTER unless
    /// --context), to apply in that controller's LOCAL_NAMESPACE.
    GetProfile {
        cluster: String,
        namespace: String,
        service_account: String,
        local_namespace: String,
        /// The API server's address as the controller reaches it (default: the context's).
        #[arg(long)]
        server: Option<String>,
        /// Do not verify the API server's certificate (else its CA from the kubeconfig is used).
        #[arg(long)]
        insecure_skip_tls_verify: bool,
        /// Kubeconfig to read (default: $KUBECONFIG or ~/.kube/config).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Context for CLUSTER (default: one named CLUSTER).
        #[arg(long)]
        context: Option<String>,
    },
    /// Add CONTEXT's credentials to the `rest-config` Secret of the current context's cluster
    /// under KEY: `NAME.NAMESPACE` (that namespace only) or `NAME.` (any namespace).
    Add {
        key: String,
        context: String,
        /// The controller's namespace.
        #[arg(short = 'n', long, default_value = "argo")]
        namespace: String,
        /// Kubeconfig to read (default: $KUBECONFIG or ~/.kube/config).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The workflow.
    pub workflow: String,
    /// Keep streaming as pods start, until the workflow has finished.
    #[arg(short, long)]
    pub follow: bool,
    /// Where the controller's `rest-config` Secret is (for pods in other clusters).
    #[arg(long, env = "POD_NAMESPACE", default_value = "argo")]
    pub controller_namespace: String,
    /// What to call the workflow's own cluster in prefixes.
    #[arg(long, env = "ARGO_CLUSTER", default_value = "local")]
    pub cluster: String,
    /// What the controller's credential entries may use of this machine: nothing unless
    /// allowed, as for the controller.
    #[command(flatten)]
    pub local_access: crate::app::LocalAccessArgs,
    #[command(flatten)]
    pub target: crate::commands::Target,
}

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Workflow to run (default: the multi-cluster example from examples/).
    pub workflow: Option<PathBuf>,
    /// How many clusters to start: cluster-0 (primary) … cluster-N-1.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub clusters: u16,
    /// Where to write the kubeconfig (one context per cluster).
    #[arg(long, default_value = "flotilla-dev.kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Keep serving after the workflow finishes (without a workflow file: just serve) until Ctrl-C.
    #[arg(long)]
    pub keep: bool,
}

/// What `flotilla sim kubelet` is told.
#[derive(Debug, clap::Args)]
pub struct KubeletArgs {
    /// Kubeconfig to use (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Name of the node the kubelet registers.
    #[arg(long, default_value = "flotilla-sim-node")]
    pub node_name: String,
    /// The node's IP: registered as its InternalIP, and where the kubelet API listens. The
    /// API server must reach it there for `kubectl logs` (kube-apiserver prefers the address
    /// types its `--kubelet-preferred-address-types` names; put InternalIP first, as kubeadm
    /// does, or name the node after a host that resolves).
    #[arg(long, default_value = "127.0.0.1")]
    pub node_ip: std::net::IpAddr,
    /// Port of the kubelet API (`containerLogs`, `healthz`); 0 picks a free one. The Node's
    /// status says which.
    #[arg(long, default_value_t = 10250)]
    pub port: u16,
    /// Admit to the kubelet API only clients with a certificate this CA signed (the
    /// kubelet's `--client-ca-file`; give the API server `--kubelet-client-certificate`).
    /// Without it anyone who reaches the port may read the pods' logs.
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Run the simulated kubelet alone against any API server (e.g. a control plane with no nodes).
    Kubelet(KubeletArgs),
    /// Serve simulated clusters (no controller) and write a kubeconfig for them, until Ctrl-C.
    Serve {
        /// How many clusters: cluster-0 … cluster-N-1.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
        clusters: u16,
        /// Where to write the kubeconfig.
        #[arg(long, default_value = "flotilla-sim.kubeconfig")]
        kubeconfig: PathBuf,
        /// Start no kubelet: pods stay Pending until one joins (`flotilla sim kubelet`).
        #[arg(long)]
        no_kubelet: bool,
    },
}

/// Parses arguments, runs the command on a Tokio runtime, and maps errors to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(crate::controller::RECONCILE_STACK_BYTES)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<ExitCode> = runtime.block_on(async {
        let done = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
        match cli.command {
            Command::Controller(args) => crate::app::run_controller(args).await,
            Command::Bench(args) => done(crate::bench::command(args).await),
            #[cfg(feature = "dev")]
            Command::Sim(SimCommand::Serve {
                clusters,
                kubeconfig,
                no_kubelet,
            }) => crate::app::serve_simulator(clusters, kubeconfig, !no_kubelet).await,
            #[cfg(feature = "dev")]
            Command::Dev(args) => done(crate::sandbox::run(args).await),
            #[cfg(feature = "dev")]
            Command::Sim(SimCommand::Kubelet(args)) => {
                done(crate::sandbox::run_kubelet(args).await)
            }
            Command::Crd => {
                print!("{}", flotilla_engine::workflow::crd::render_all());
                Ok(ExitCode::SUCCESS)
            }
            Command::Logs(args) => done(print_logs(args).await),
            Command::Cluster(command) => done(crate::app::cluster(command).await),
            Command::Plugin(PluginCommand::Validate { component }) => {
                crate::app::validate_plugin(&component)
            }
            Command::Plugin(PluginCommand::Test {
                component,
                world,
                input,
            }) => crate::app::test_plugin(&component, &world, &input),
            Command::Stop(args) => done(workflow_verb(crate::commands::Verb::Stop, args).await),
            Command::Terminate(args) => {
                done(workflow_verb(crate::commands::Verb::Terminate, args).await)
            }
            Command::Suspend(args) => {
                done(workflow_verb(crate::commands::Verb::Suspend, args).await)
            }
            Command::Resume(args) => done(workflow_verb(crate::commands::Verb::Resume, args).await),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `flotilla logs`: every line to standard output as it comes.
async fn print_logs(args: LogsArgs) -> anyhow::Result<()> {
    let (client, namespace) = args.target.connect().await?;
    let options = crate::logs::Options {
        follow: args.follow,
        controller_namespace: args.controller_namespace,
        cluster_name: args.cluster,
        local_access: args.local_access.access()?,
    };
    let mut print = |line: String| println!("{line}");
    crate::logs::logs(&client, &namespace, &args.workflow, &options, &mut print).await?;
    Ok(())
}

/// Runs `verb` on each workflow named, printing `workflow NAME stopped` as Argo does.
async fn workflow_verb(verb: crate::commands::Verb, args: WorkflowArgs) -> anyhow::Result<()> {
    let (client, namespace) = args.target.connect().await?;
    for name in &args.workflows {
        verb.run(&client, &namespace, name).await?;
        println!("workflow {name} {}", verb.past());
    }
    Ok(())
}

/// kube-client logs a whole response body at WARN when it does not decode (a list of every
/// tenant's task results, say). Workflows and task results are decoded leniently so that should
/// not happen; this keeps any other path quiet too, unless `FLOTILLA_LOG` names kube_client.
const QUIET_BODIES: &str = "kube_client::client=error";

fn log_filter(configured: Option<&str>) -> String {
    match configured {
        Some(c) if c.contains("kube_client") => c.to_string(),
        Some(c) if !c.trim().is_empty() => format!("{c},{QUIET_BODIES}"),
        _ => format!("warn,{QUIET_BODIES}"),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let configured = std::env::var("FLOTILLA_LOG").ok();
    let filter = EnvFilter::try_new(log_filter(configured.as_deref()))
        .unwrap_or_else(|_| EnvFilter::new(log_filter(None)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn response_bodies_stay_out_of_the_log_unless_asked_for() {
        assert_eq!(super::log_filter(None), "warn,kube_client::client=error");
        assert_eq!(
            super::log_filter(Some("flotilla=debug")),
            "flotilla=debug,kube_client::client=error"
        );
        assert_eq!(
            super::log_filter(Some("kube_client=trace")),
            "kube_client=trace"
        );
    }
}
