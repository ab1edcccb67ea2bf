//! Faults of the simulated clusters (`flotilla_sim` fault injection), survived by the
//! controller: what real clusters do to it, but on cue.

use std::time::Duration;

use anyhow::{Context as _, Result};
use flotilla::sandbox::Sandbox;
use flotilla_engine::workflow::{NodePhase, Workflow};
use kube::ResourceExt as _;
use kube::api::Api;

const SLEEPER: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: quiet-}
spec:
  entrypoint: main
  templates:
  - name: main
    cluster: cluster-1
    namespace: default
    container: {image: argoproj/argosay:v2, args: [sleep, 600s]}
"#;

/// Polls until `check` holds, for up to a minute.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> Result<bool>) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await? {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// The message of the workflow's one pod node.
async fn node_message(
    workflows: &Api<Workflow>,
    name: &str,
) -> Result<(NodePhase, Option<String>)> {
    let wf = workflows.get(name).await?;
    let node = wf
        .status
        .iter()
        .flat_map(|s| s.nodes.values())
        .find(|n| n.cluster.is_some())
        .context("the remote node")?;
    Ok((node.phase, node.message.clone()))
}

/// cluster-1 stops answering for a few seconds while a node runs there, its watches cut. The
/// namespace is quiet — the running pod does not change — so no watch event follows the
/// recovery; the controller must still find that the cluster answers again, and the node's
/// "unreachable" message must go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_cluster_is_reachable_again_after_a_blip() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("flotilla-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::start(2, dir.join("kubeconfig")).await?;
    sandbox.install().await?;
    sandbox.enroll_remotes().await?;
    let _controller = sandbox.start_controller()?;
    let client = sandbox.primary().client()?;
    let wf = flotilla::sandbox::submit(&client, SLEEPER, "quiet sleeper").await?;
    let name = wf.name_any();
    let workflows: Api<Workflow> = Api::namespaced(client, "argo");
    eventually("the remote node to run", async || {
        Ok(node_message(&workflows, &name).await.ok().map(|n| n.0) == Some(NodePhase::Running))
    })
    .await?;

    let remote = &sandbox.clusters[1];
    remote.faults().set_unreachable(true);
    eventually("the node to say its cluster is unreachable", async || {
        let (_, message) = node_message(&workflows, &name).await?;
        Ok(message.is_some_and(|m| m.contains("unreachable")))
    })
    .await?;
    remote.faults().set_unreachable(false);
    eventually("the unreachable message to go", async || {
        let (phase, message) = node_message(&workflows, &name).await?;
        Ok(phase == NodePhase::Running && message.is_none())
    })
    .await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
