//! `flotilla-executor run`'s wrapping of a real process: output passed through and captured, files
//! read for output parameters, the task result reported, the exit code kept, signals forwarded.

use std::collections::BTreeMap;

use flotilla_engine::workflow::WorkflowTaskResult;
use flotilla_executor::{Identity, PodRef, run_wrapped};
use flotilla_sim::{ClusterConfig, SimCluster};
use kube::api::Api;

/// A simulated cluster with the CRDs (no kubelet: the command runs here, as a real process).
async fn cluster() -> (SimCluster, kube::Client) {
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
fn identity(node_id: &str, template: String) -> Identity {
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

async fn reported(client: &kube::Client, node_id: &str) -> flotilla_engine::workflow::Outputs {
    let results: Api<WorkflowTaskResult> = Api::namespaced(client.clone(), "default");
    let result = results
        .get(node_id)
        .await
        .expect("the task result exists, named after the node");
    result.outputs.expect("outputs")
}

#[tokio::test]
async fn a_real_command_is_run_and_its_outputs_reported() {
    let (_cluster, client) = cluster().await;
    let dir = std::env::temp_dir().join(format!("flotilla-executor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("out.txt");
    let template = serde_json::json!({
        "name": "t",
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": out.display().to_string()}}]},
    })
    .to_string();
    let identity = identity("wf-1", template);
    let script = format!(
        "echo line one; echo line two; printf value > {}; exit 4",
        out.display()
    );
    let command = vec!["sh".to_string(), "-c".to_string(), script];
    let code = run_wrapped(&command, &identity, &client)
        .await
        .expect("the executor runs");
    assert_eq!(code, 4, "the container exits with the command's code");

    let outputs = reported(&client, "wf-1").await;
    assert_eq!(outputs.result.as_deref(), Some("line one\nline two"));
    assert_eq!(outputs.exit_code.as_deref(), Some("4"));
    assert_eq!(
        outputs.parameters[0].value.as_ref().map(|v| v.as_str()),
        Some("value")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The kubelet stops a pod by signalling its PID 1, the executor; the command must hear it, or
/// `stop`/`terminate` would wait out the grace period. The command signals its parent (this
/// test process, standing in for the executor binary) and must receive the SIGTERM back. Were
/// nothing forwarded the command would sleep on and exit 0; were no handler installed the
/// signal would kill this test binary.
#[tokio::test]
async fn a_signal_to_the_executor_reaches_the_command() {
    let (_cluster, client) = cluster().await;
    let identity = identity("wf-2", r#"{"name": "t"}"#.to_string());
    let script = r#"trap 'echo stopped; kill $!; exit 7' TERM; kill -TERM $PPID; sleep 60 >/dev/null & wait"#;
    let command = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
    let code = run_wrapped(&command, &identity, &client)
        .await
        .expect("the executor runs");
    assert_eq!(code, 7, "the command's TERM trap ran");
    assert_eq!(
        reported(&client, "wf-2").await.result.as_deref(),
        Some("stopped")
    );
}
