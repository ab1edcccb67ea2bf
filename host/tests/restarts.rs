//! The controller killed again and again — SIGKILL, as an OOM kill or a lost node does it —
//! while a 500-pod workflow spread over two clusters runs: the workflow completes, no node gets
//! two pods, and none is lost. The clusters run in this process (`flotilla_sim`); each
//! controller is a `flotilla controller` process, with leader election as deployed.

use std::process::Child;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use common::{pods_by_node, spread, succeeded};
use flotilla::sandbox::Sandbox;
use flotilla_engine::workflow::{NodePhase, NodeType, Workflow};
use kube::ResourceExt as _;
use kube::api::Api;

mod common;

const KILLS: usize = 10;

/// A `flotilla controller` process for the sandbox's cluster-0; killed when dropped.
struct Controller(Child);

impl Controller {
    fn start(sandbox: &Sandbox, log: &std::path::Path) -> Result<Controller> {
        let child = common::processes::controller(&sandbox.kubeconfig)
            .args([
                "--metrics-addr",
                "off",
                "--leader-election-lease-seconds",
                "6",
            ])
            .env("FLOTILLA_LOG", "warn")
            .stderr(std::fs::File::create(log)?)
            .spawn()
            .context("flotilla controller runs")?;
        Ok(Controller(child))
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        // SIGKILL: no shutdown, no hand-over of the lease.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pseudo-random delays from a seed printed with the test, so a failure can be replayed.
struct Delays(u64);

impl Delays {
    fn next(&mut self) -> Duration {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(300 + self.0 % 2700)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_ten_times_the_controller_neither_duplicates_nor_loses_a_node() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("flotilla-restarts-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::start(2, dir.join("kubeconfig")).await?;
    sandbox.install().await?;
    sandbox.enroll_remotes().await?;
    let client = sandbox.primary().client()?;
    let name = flotilla::sandbox::submit(&client, &spread("restarts-", 250), "spread")
        .await?
        .name_any();
    let workflows: Api<Workflow> = Api::namespaced(client.clone(), "argo");

    let seed = std::env::var("FLOTILLA_RESTARTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(1)
        });
    eprintln!("restart delays seeded with FLOTILLA_RESTARTS_SEED={seed}");
    let mut delays = Delays(seed);
    for kill in 0..KILLS {
        let controller = Controller::start(&sandbox, &dir.join(format!("controller-{kill}.log")))?;
        tokio::time::sleep(delays.next()).await;
        drop(controller);
    }
    let log = dir.join("controller-last.log");
    let _last = Controller::start(&sandbox, &log)?;
    let wf = succeeded(&workflows, &name, Duration::from_secs(300))
        .await
        .with_context(|| {
            format!(
                "after {KILLS} kills (FLOTILLA_RESTARTS_SEED={seed}); the last controller's log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
    let status = wf.status.as_ref().context("status")?;
    let pod_nodes: Vec<_> = status
        .nodes
        .values()
        .filter(|n| n.type_ == NodeType::Pod)
        .collect();
    ensure!(
        pod_nodes.len() == 500,
        "{} pod nodes, not 500",
        pod_nodes.len()
    );
    ensure!(
        pod_nodes.iter().all(|n| n.phase == NodePhase::Succeeded),
        "a pod node did not succeed (seed {seed})"
    );
    for cluster in &sandbox.clusters {
        let (count, twice) = pods_by_node(cluster.client()?, &name).await?;
        ensure!(
            twice.is_empty(),
            "{}: nodes with two pods (seed {seed}): {twice:?}",
            cluster.name()
        );
        ensure!(
            count == 250,
            "{}: {count} pods for 250 nodes (seed {seed})",
            cluster.name()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
