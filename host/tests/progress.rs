//! A pod's start and end reach its workflow's status at once, however long the controller's
//! progress delay (`controller::pacing`). Seen as a client sees it: every version of the
//! workflow the API server stored.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use flotilla::controller::ControllerConfig;
use flotilla::sandbox::{SimExecutor, WORKFLOW_NAMESPACE};
use flotilla_engine::EngineConfig;
use flotilla_engine::workflow::{NodePhase, Workflow, WorkflowPhase};
use flotilla_sim::{ClusterConfig, SimCluster};
use futures::StreamExt as _;
use kube::ResourceExt as _;
use kube::api::Api;
use kube::runtime::watcher;

/// Held far longer than the workflow takes: what is written before its end was not held.
const DELAY: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pods_start_and_end_are_written_without_waiting_for_the_delay() -> Result<()> {
    // The pod spends 3 s creating its container, then 8 s running: it starts well after the
    // controller's first write (and the pass that write's own watch event wakes).
    let mut config = ClusterConfig::new("progress");
    config.kubelet_options.container_creating = Duration::from_secs(3);
    let executor = Arc::new(SimExecutor::default());
    config.hooks = Some(executor.clone());
    let cluster = SimCluster::start(config).await?;
    executor.connect(cluster.config_for(cluster.admin_token()))?;
    let client = cluster.client()?;
    flotilla::sandbox::install(&client).await?;
    let _controller = flotilla::sandbox::spawn_controller_with(
        client.clone(),
        ControllerConfig {
            engine: EngineConfig {
                cluster: Some("progress".into()),
                ..EngineConfig::default()
            },
            progress_delay: DELAY,
            ..ControllerConfig::default()
        },
    );
    let submitted = flotilla::sandbox::submit(
        &client,
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: progress-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: "argoproj/argosay:v2", args: [sleep, 8s]}
"#,
        "one pod",
    )
    .await?;
    let name = submitted.name_any();
    let workflows: Api<Workflow> = Api::namespaced(client, WORKFLOW_NAMESPACE);
    let versions = watcher(
        workflows,
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    );
    // Every version stored, up to the one that finished it.
    let mut seen = Vec::new();
    let finished = tokio::time::timeout(Duration::from_secs(40), async {
        let mut versions = std::pin::pin!(versions);
        while let Some(event) = versions.next().await {
            let (watcher::Event::Apply(wf) | watcher::Event::InitApply(wf)) = event? else {
                continue;
            };
            let phase = wf.status.as_ref().and_then(|s| s.phase);
            seen.push((tokio::time::Instant::now(), wf));
            if phase.is_some_and(|p| p.is_finished()) {
                return anyhow::Ok(phase);
            }
        }
        anyhow::bail!("the watch ended")
    })
    .await
    .with_context(|| {
        format!("the pod's end was held: not finished within 40 s (versions seen: {seen:#?})")
    })??;
    ensure!(finished == Some(WorkflowPhase::Succeeded), "{seen:#?}");

    let node_phases: Vec<Option<NodePhase>> = seen
        .iter()
        .map(|(_, wf)| {
            let status = wf.status.as_ref()?;
            Some(status.nodes.values().next()?.phase)
        })
        .collect();
    // Written as it started, seconds before its end: not by the pass its report or its end
    // woke (the report is made as the pod ends).
    let running = node_phases
        .iter()
        .position(|p| *p == Some(NodePhase::Running))
        .with_context(|| format!("the pod's start was never written: {node_phases:?}"))?;
    let (started, ended) = (seen[running].0, seen[seen.len() - 1].0);
    ensure!(
        ended - started > Duration::from_secs(4),
        "the pod's start was written only {:?} before its end: {node_phases:?}",
        ended - started
    );
    Ok(())
}
