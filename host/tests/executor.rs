//! `flotilla-executor run`'s wrapping of a real process: output passed through and captured, files
//! read for output parameters, the task result reported, the exit code kept.

use std::collections::BTreeMap;

use flotilla_engine::workflow::WorkflowTaskResult;
use flotilla_executor::{Identity, PodRef, run_wrapped};
use flotilla_sim::{ClusterConfig, SimCluster};
use kube::api::Api;

#[tokio::test]
async fn a_real_command_is_run_and_its_outputs_reported() {
    let mut config = ClusterConfig::new("executor-test");
    config.kubelet = false;
    let cluster = SimCluster::start(config).await.expect("simulator");
    let client = cluster.client().expect("client");
    flotilla::sandbox::install(&client)
        .await
        .expect("install the CRDs");

    let dir = std::env::temp_dir().join(format!("flotilla-executor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("out.txt");
    let template = serde_json::json!({
        "name": "t",
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": out.display().to_string()}}]},
    })
    .to_string();
    let mut labels = BTreeMap::new();
    labels.insert(
        "workflows.argoproj.io/workflow".to_string(),
        "wf".to_string(),
    );
    let identity = Identity {
        pod: PodRef {
            name: "wf-t-1".into(),
            namespace: "default".into(),
            uid: None,
            node_id: "wf-1".into(),
            labels,
        },
        template,
        workflow_uid: None,
        resource_target: None,
    };
    let script = format!(
        "echo line one; echo line two; printf value > {}; exit 4",
        out.display()
    );
    let command = vec!["sh".to_string(), "-c".to_string(), script];
    let code = run_wrapped(&command, &identity, &client)
        .await
        .expect("the executor runs");
    assert_eq!(code, 4, "the container exits with the command's code");

    let results: Api<WorkflowTaskResult> = Api::namespaced(client, "default");
    let result = results
        .get("wf-1")
        .await
        .expect("the task result exists, named after the node");
    let outputs = result.outputs.expect("outputs");
    assert_eq!(outputs.result.as_deref(), Some("line one\nline two"));
    assert_eq!(outputs.exit_code.as_deref(), Some("4"));
    assert_eq!(
        outputs.parameters[0].value.as_ref().map(|v| v.as_str()),
        Some("value")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
