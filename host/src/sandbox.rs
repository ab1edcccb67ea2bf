//! `flotilla dev`: simulated clusters on loopback, a kubeconfig for them, Flotilla's manifests
//! installed as a user would, the controller running, and a workflow submitted and followed to
//! the end. Also `flotilla sim kubelet`.

mod follow;
mod sim_executor;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use flotilla_sim::{ClusterConfig, SimCluster, kubeconfig};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::cli::DevArgs;
use crate::controller::ControllerConfig;
use flotilla_engine::EngineConfig;
use flotilla_engine::workflow::{Workflow, WorkflowPhase};

pub use crate::controller::{ControllerHandle, spawn as spawn_controller_with};
pub use sim_executor::SimExecutor;

/// The workflow `flotilla dev` runs when given none: the later seed's multi-cluster example.
pub const DEFAULT_WORKFLOW: (&str, &str) = (
    "examples/multi-cluster.yaml",
    include_str!("../../examples/multi-cluster.yaml"),
);

/// The namespace workflows are submitted to (the seeds' `argo`).
pub const WORKFLOW_NAMESPACE: &str = "argo";

/// The running sandbox: its clusters (cluster-0 is the primary) and where its kubeconfig is.
#[derive(Debug)]
pub struct Sandbox {
    pub clusters: Vec<SimCluster>,
    pub kubeconfig: PathBuf,
}

impl Sandbox {
    /// Starts `n` clusters named `cluster-0` … and writes a kubeconfig with one context per cluster
    /// (current context `cluster-0`). Each cluster's kubelet runs the executor when a workflow
    /// pod's main container ends.
    pub async fn start(n: u16, kubeconfig_path: PathBuf) -> Result<Sandbox> {
        Self::start_with(n, kubeconfig_path, true).await
    }

    /// As [`Sandbox::start`]; without `kubelet`, pods stay Pending until a kubelet joins.
    pub async fn start_with(n: u16, kubeconfig_path: PathBuf, kubelet: bool) -> Result<Sandbox> {
        let mut clusters = Vec::new();
        for i in 0..n {
            clusters.push(start_cluster(&format!("cluster-{i}"), kubelet).await?);
        }
        let entries: Vec<_> = clusters
            .iter()
            .map(|c| c.kubeconfig_entry(c.admin_token()))
            .collect();
        kubeconfig::write(&kubeconfig_path, &entries, "cluster-0")
            .with_context(|| format!("writing the kubeconfig to {}", kubeconfig_path.display()))?;
        Ok(Sandbox {
            clusters,
            kubeconfig: kubeconfig_path,
        })
    }

    pub fn primary(&self) -> &SimCluster {
        &self.clusters[0]
    }

    /// Installs the project's manifests into the primary cluster and waits for its CRDs.
    pub async fn install(&self) -> Result<()> {
        install(&self.primary().client()?).await
    }

    /// Enrolls every other cluster as the multi-cluster quick start does (its manifests in the
    /// remote `default` namespace, a `rest-config` key `CLUSTER.default` in cluster-0) and puts
    /// the quick start's authorization policy in place. Returns the keys added.
    pub async fn enroll_remotes(&self) -> Result<Vec<String>> {
        let primary = self.primary().client()?;
        let (file, yaml) = crate::manifests::QUICK_START_AUTHZ;
        crate::manifests::apply_yaml(&primary, file, yaml, WORKFLOW_NAMESPACE).await?;
        let mut keys = Vec::new();
        for remote in self.clusters.iter().skip(1) {
            let cluster = crate::clusters::enroll::RemoteCluster {
                name: remote.name().to_string(),
                server: remote.url().to_string(),
                ca_data: remote
                    .ca_pem()
                    .map(|pem| base64::engine::general_purpose::STANDARD.encode(pem)),
            };
            let key = crate::clusters::enroll::enroll(
                &primary,
                WORKFLOW_NAMESPACE,
                &remote.client()?,
                &cluster,
                "default",
                Duration::from_secs(24 * 3600),
            )
            .await
            .with_context(|| format!("enrolling {}", remote.name()))?;
            keys.push(key);
        }
        Ok(keys)
    }

    /// Runs the controller against the primary cluster until the returned handle is dropped.
    pub fn start_controller(&self) -> Result<ControllerHandle> {
        Ok(spawn_controller(
            self.primary().client()?,
            self.primary().name(),
        ))
    }
}

/// Starts one simulated cluster named `name`. With a kubelet, its pods run, and the executor runs
/// when a workflow pod's main container ends; without one they stay pending (for measuring pod
/// creation alone).
pub async fn start_cluster(name: &str, kubelet: bool) -> Result<SimCluster> {
    let mut config = ClusterConfig::new(name);
    config.kubelet = kubelet;
    let executor = Arc::new(SimExecutor::default());
    if kubelet {
        config.hooks = Some(executor.clone());
    }
    let cluster = SimCluster::start(config)
        .await
        .with_context(|| format!("starting simulated {name}"))?;
    if kubelet {
        executor
            .connect(cluster.config_for(cluster.admin_token()))
            .context("connecting the executor")?;
    }
    Ok(cluster)
}

/// Applies Flotilla's manifests with `client` (the controller's cluster) and waits for the CRDs.
pub async fn install(client: &kube::Client) -> Result<()> {
    for (file, yaml) in crate::manifests::PRIMARY {
        crate::manifests::apply_yaml(client, file, yaml, WORKFLOW_NAMESPACE).await?;
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in [
        "workflows.argoproj.io",
        "workflowtaskresults.argoproj.io",
        "workflowtemplates.argoproj.io",
        "clusterworkflowtemplates.argoproj.io",
        "cronworkflows.argoproj.io",
    ] {
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(crds.clone(), name, conditions::is_crd_established()),
        )
        .await
        .with_context(|| format!("waiting for CRD {name} to be established"))??;
    }
    Ok(())
}

/// Runs a controller in this process for the cluster `client` talks to, named `cluster`.
pub fn spawn_controller(client: kube::Client, cluster: &str) -> ControllerHandle {
    spawn_controller_with(
        client,
        ControllerConfig {
            engine: EngineConfig {
                cluster: Some(cluster.to_string()),
                ..EngineConfig::default()
            },
            ..ControllerConfig::default()
        },
    )
}

/// Submits a workflow (YAML) to the primary cluster.
pub async fn submit(client: &kube::Client, yaml: &str, file: &str) -> Result<Workflow> {
    let wf: Workflow =
        serde_yaml::from_str(yaml).with_context(|| format!("{file} is not a valid Workflow"))?;
    let ns = wf
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| WORKFLOW_NAMESPACE.to_string());
    let api: Api<Workflow> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &wf)
        .await
        .with_context(|| format!("submitting {file}"))
}

pub async fn run(args: DevArgs) -> Result<()> {
    let workflow = match &args.workflow {
        Some(path) => Some((
            path.display().to_string(),
            std::fs::read_to_string(path)
                .with_context(|| format!("reading workflow file {}", path.display()))?,
        )),
        None if args.keep => None,
        None => Some((
            DEFAULT_WORKFLOW.0.to_string(),
            DEFAULT_WORKFLOW.1.to_string(),
        )),
    };
    let sandbox = Sandbox::start(args.clusters, args.kubeconfig.clone()).await?;
    for c in &sandbox.clusters {
        println!("{:<10} {}", c.name(), c.url());
    }
    println!(
        "kubeconfig: {}  (kubectl --kubeconfig {} --context cluster-1 get pods -A)",
        sandbox.kubeconfig.display(),
        sandbox.kubeconfig.display()
    );
    sandbox
        .install()
        .await
        .context("installing Flotilla's manifests into cluster-0")?;
    println!(
        "installed: {}",
        crate::manifests::PRIMARY
            .iter()
            .map(|(f, _)| *f)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let keys = sandbox.enroll_remotes().await?;
    if !keys.is_empty() {
        println!(
            "enrolled: rest-config keys {} in cluster-0, the quick-start policy in {}",
            keys.join(", "),
            crate::manifests::QUICK_START_AUTHZ.0
        );
    }
    let _controller = sandbox.start_controller()?;
    println!("controller: running against cluster-0");

    let mut outcome = Ok(());
    if let Some((file, yaml)) = &workflow {
        let client = sandbox.primary().client()?;
        let submitted = submit(&client, yaml, file).await?;
        let finished = follow::follow(&client, &submitted).await?;
        let phase = finished.status.as_ref().and_then(|s| s.phase);
        if phase != Some(WorkflowPhase::Succeeded) {
            let message = finished
                .status
                .as_ref()
                .and_then(|s| s.message.clone())
                .unwrap_or_default();
            let phase = phase.map_or("Unknown".to_string(), |p| p.to_string());
            outcome = Err(anyhow::anyhow!(
                "workflow {} from {file} ended {phase}: {message}",
                finished.metadata.name.clone().unwrap_or_default()
            ));
        }
    }
    if args.keep {
        println!("serving until Ctrl-C");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    }
    outcome
}

/// `flotilla sim kubelet`: the simulated kubelet against any API server.
pub async fn run_kubelet(args: crate::cli::KubeletArgs) -> Result<()> {
    let config =
        crate::credentials::config(args.kubeconfig.as_deref(), args.context, false).await?;
    let client = kube::Client::try_from(config.clone())?;
    let executor = Arc::new(SimExecutor::default());
    executor.connect(config)?;
    let client_ca_pem = match &args.client_ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the client CA {}", path.display()))?,
        ),
        None => None,
    };
    let (node_name, node_ip, port) = (args.node_name, args.node_ip, args.port);
    let admits = if client_ca_pem.is_some() {
        "clients the client CA signed"
    } else {
        "anyone (no --client-ca-file)"
    };
    println!(
        "simulated kubelet: registering node {node_name}, its API on {node_ip} port {port}, admitting {admits}"
    );
    let options = flotilla_sim::kubelet::RunOptions {
        node_ip: node_ip.to_string(),
        port,
        client_ca_pem,
        ..flotilla_sim::kubelet::RunOptions::default()
    };
    flotilla_sim::kubelet::Kubelet::new(client, node_name)
        .with_options(options)
        .with_hooks(executor)
        .run()
        .await?;
    bail!("the simulated kubelet stopped")
}
