//! What the executor tests share: a simulated cluster to report to, a pod's identity, and the
//! task result reported; and what the plugin tests share: the built plugin components.
// Each test binary uses only its part.
#![allow(dead_code)]

use std::collections::BTreeMap;

use flotilla_engine::workflow::WorkflowTaskResult;
use flotilla_executor::{Identity, PodRef};
use flotilla_sim::{ClusterConfig, SimCluster};
use kube::api::Api;

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
