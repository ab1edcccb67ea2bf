//! What the executor tests share: a simulated cluster to report to, a pod's identity, and the
//! task result reported; and what the plugin tests share: the built plugin components.
// Each test binary uses only its part.
#![allow(dead_code)]

use std::collections::BTreeMap;

use flotilla_engine::workflow::WorkflowTaskResult;
use flotilla_executor::{Identity, PodRef};
use flotilla_sim::{ClusterConfig, SimCluster};
use kube::api::Api;

pub mod processes;

/// A simulated cluster with the CRDs (no kubelet: the command runs here, as a real process).
pub async fn cluster() -> (SimCluster, kube::Client) {
    let mut config = ClusterConfig::new("executor-test");
    config.kubelet = false;
    let cluster = SimCluster::start(config).await.expect("simulator");
    let client = cluster.client().expect("client");
    flotilla::sandbox::install(&client)
        .await
        .expect("install the CRDs");
    (cluster, client)
}

/// The identity of node `node_id`'s pod, whose template is `template`.
pub fn identity(node_id: &str, template: String) -> Identity {
    let mut labels = BTreeMap::new();
    labels.insert(
        "workflows.argoproj.io/workflow".to_string(),
        "wf".to_string(),
    );
    Identity {
        pod: PodRef {
            name: format!("wf-t-{node_id}"),
            namespace: "default".into(),
            uid: None,
            node_id: node_id.into(),
            labels,
        },
        template,
        workflow_uid: None,
        resource_target: None,
    }
}

pub async fn reported(client: &kube::Client, node_id: &str) -> flotilla_engine::workflow::Outputs {
    let results: Api<WorkflowTaskResult> = Api::namespaced(client.clone(), "default");
    let result = results
        .get(node_id)
        .await
        .expect("the task result exists, named after the node");
    result.outputs.expect("outputs")
}

/// The component `name` as `bash plugins/build.sh` builds it.
pub fn component(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — build the plugins first: bash plugins/build.sh",
            path.display()
        )
    })
}

/// A workflow of `pods` one-second naps in cluster-0 and as many in cluster-1 (namespace
/// `default`), its name generated from `prefix`.
pub fn spread(prefix: &str, pods: u32) -> String {
    format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: {prefix}}}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {{name: here, template: nap-here, withSequence: {{count: "{pods}"}}}}
      - {{name: there, template: nap-there, withSequence: {{count: "{pods}"}}}}
  - name: nap-here
    container: {{image: argoproj/argosay:v2, args: [sleep, 1s]}}
  - name: nap-there
    cluster: cluster-1
    namespace: default
    container: {{image: argoproj/argosay:v2, args: [sleep, 1s]}}
"#
    )
}

/// Waits up to `within` for workflow `name` to finish, and fails unless it succeeded (saying
/// its nodes' messages).
pub async fn succeeded(
    workflows: &Api<flotilla_engine::workflow::Workflow>,
    name: &str,
    within: std::time::Duration,
) -> anyhow::Result<flotilla_engine::workflow::Workflow> {
    use flotilla_engine::workflow::WorkflowPhase;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let wf = workflows.get(name).await?;
        let phase = wf.status.as_ref().and_then(|s| s.phase);
        if phase.is_some_and(|p| p.is_finished()) {
            let messages: Vec<String> = wf
                .status
                .iter()
                .flat_map(|s| s.nodes.values())
                .filter_map(|n| n.message.clone())
                .collect();
            anyhow::ensure!(
                phase == Some(WorkflowPhase::Succeeded),
                "{name} ended {phase:?}: {messages:?}"
            );
            return Ok(wf);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{name} did not finish within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// How many pods workflow `name` has in a cluster, and the node ids given more than one.
pub async fn pods_by_node(
    client: kube::Client,
    name: &str,
) -> anyhow::Result<(usize, Vec<String>)> {
    use kube::ResourceExt as _;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::all(client);
    let selector = format!("workflows.argoproj.io/workflow={name}");
    let list = pods
        .list(&kube::api::ListParams::default().labels(&selector))
        .await?;
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for pod in &list.items {
        let id = pod
            .annotations()
            .get("workflows.argoproj.io/node-id")
            .cloned();
        *seen
            .entry(id.unwrap_or_else(|| format!("(none: {})", pod.name_any())))
            .or_default() += 1;
    }
    let twice = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id)
        .collect();
    Ok((list.items.len(), twice))
}
