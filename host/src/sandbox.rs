//! `flotilla dev`: simulated clusters on loopback, a kubeconfig for them, Flotilla's manifests
//! installed as a user would, and an example workflow run to completion. Also `flotilla sim kubelet`.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use flotilla_sim::{ClusterConfig, SimCluster, kubeconfig};
use kube::core::GroupVersionKind;

use crate::cli::DevArgs;

/// The workflow `flotilla dev` runs when given none: the later seed's multi-cluster example.
pub const DEFAULT_WORKFLOW: (&str, &str) = (
    "examples/multi-cluster.yaml",
    include_str!("../../examples/multi-cluster.yaml"),
);

/// The running sandbox: its clusters (cluster-0 is the primary) and where its kubeconfig is.
#[derive(Debug)]
pub struct Sandbox {
    pub clusters: Vec<SimCluster>,
    pub kubeconfig: PathBuf,
}

impl Sandbox {
    /// Starts `n` clusters named `cluster-0` … and writes a kubeconfig with one context per cluster
    /// (current context `cluster-0`).
    pub async fn start(n: u16, kubeconfig_path: PathBuf) -> Result<Sandbox> {
        let mut clusters = Vec::new();
        for i in 0..n {
            let cluster = SimCluster::start(ClusterConfig::new(format!("cluster-{i}")))
                .await
                .with_context(|| format!("starting simulated cluster-{i}"))?;
            clusters.push(cluster);
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

    /// Installs the project's manifests into the primary cluster.
    pub async fn install(&self) -> Result<()> {
        let client = self.primary().client()?;
        for (file, yaml) in crate::manifests::PRIMARY {
            crate::manifests::apply_yaml(&client, file, yaml, "argo").await?;
        }
        Ok(())
    }
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

    if let Some((file, _yaml)) = &workflow {
        let client = sandbox.primary().client()?;
        let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Workflow");
        if kube::discovery::pinned_kind(&client, &gvk).await.is_err() {
            bail!(
                "cannot run {file}: the Workflow resource (argoproj.io/v1alpha1) is not installed — the workflow engine is not part of this build yet. The sandbox itself works: use --keep to keep it serving"
            );
        }
    }
    if args.keep {
        println!("serving until Ctrl-C");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    }
    Ok(())
}

/// `flotilla sim kubelet`: the simulated kubelet against any API server.
pub async fn run_kubelet(
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    node_name: String,
) -> Result<()> {
    let options = kube::config::KubeConfigOptions {
        context,
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options).await?
        }
        None => kube::Config::from_kubeconfig(&options).await?,
    };
    let client = kube::Client::try_from(config)?;
    let logs = flotilla_sim::logs::LogStore::default();
    println!("simulated kubelet: registering node {node_name}");
    flotilla_sim::kubelet::Kubelet::new(client, node_name)
        .with_logs(logs)
        .run()
        .await?;
    Ok(())
}
