//! The simulated kubelet: pods are bound, run their emulated commands, report statuses and logs,
//! and complete graceful deletion.

mod support;

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::{Container, Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use serde_json::json;
use support::wait_for;

/// A pod that runs argosay once with `args`.
fn pod(name: &str, args: &[&str]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".to_owned()),
            containers: vec![Container {
                name: "main".to_owned(),
                image: Some("argoproj/argosay:v2".to_owned()),
                args: Some(args.iter().map(|a| (*a).to_owned()).collect()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

async fn terminal(pods: &Api<Pod>, name: &str) -> Result<Pod> {
    wait_for(
        &format!("pod {name} to finish"),
        Duration::from_secs(20),
        || async {
            let p = pods.get(name).await?;
            let phase = p
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            Ok(matches!(phase.as_str(), "Succeeded" | "Failed").then_some(p))
        },
    )
    .await
}

fn exit_code(p: &Pod) -> Option<i32> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

#[tokio::test]
async fn pods_run_to_completion_with_logs_and_exit_codes() -> Result<()> {
    let cluster = support::cluster().await?;
    let client = cluster.client()?;
    wait_for(
        "the node to register as Ready",
        Duration::from_secs(10),
        || async {
            let node = Api::<Node>::all(client.clone())
                .get_opt("test-node")
                .await?;
            let conditions = node
                .and_then(|n| n.status)
                .and_then(|s| s.conditions)
                .unwrap_or_default();
            Ok(conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
                .then_some(()))
        },
    )
    .await?;

    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.create(
        &PostParams::default(),
        &pod("hello", &["echo", "hello world"]),
    )
    .await?;
    pods.create(&PostParams::default(), &pod("fails", &["exit", "3"]))
        .await?;
    pods.create(&PostParams::default(), &pod("python", &[]))
        .await?;
    let hello = terminal(&pods, "hello").await?;
    assert_eq!(
        hello.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded")
    );
    assert_eq!(
        hello.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some("test-node")
    );
    assert_eq!(exit_code(&hello), Some(0));
    let logs = pods.logs("hello", &LogParams::default()).await?;
    assert_eq!(logs, "hello world\n");
    let fails = terminal(&pods, "fails").await?;
    assert_eq!(
        fails.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed")
    );
    assert_eq!(exit_code(&fails), Some(3));
    // argosay with no arguments says hello.
    let plain = terminal(&pods, "python").await?;
    assert_eq!(exit_code(&plain), Some(0));
    assert_eq!(
        pods.logs("python", &LogParams::default()).await?,
        "hello argo\n"
    );
    Ok(())
}

#[tokio::test]
async fn commands_that_cannot_be_emulated_fail_loudly() -> Result<()> {
    let cluster = support::cluster().await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client()?, "default");
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "py"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "python:3.12", "command": ["python3", "main.py"]}]},
    }))?;
    pods.create(&PostParams::default(), &p).await?;
    let done = terminal(&pods, "py").await?;
    assert_eq!(exit_code(&done), Some(127));
    let message = done
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c[0].state.clone())
        .and_then(|s| s.terminated)
        .and_then(|t| t.message)
        .unwrap_or_default();
    assert!(
        message.contains("simulated kubelet cannot run"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn graceful_deletion_and_deadlines() -> Result<()> {
    let cluster = support::cluster().await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client()?, "default");
    pods.create(&PostParams::default(), &pod("sleeper", &["sleep", "1h"]))
        .await?;
    wait_for("the sleeper to run", Duration::from_secs(20), || async {
        let p = pods.get("sleeper").await?;
        Ok((p.status.and_then(|s| s.phase).as_deref() == Some("Running")).then_some(()))
    })
    .await?;
    let deleting = pods.delete("sleeper", &DeleteParams::default()).await?;
    assert!(deleting.is_left(), "a running pod's deletion is graceful");
    wait_for(
        "the kubelet to finish the deletion",
        Duration::from_secs(20),
        || async { Ok(pods.get_opt("sleeper").await?.is_none().then_some(())) },
    )
    .await?;

    let mut late = pod("late", &["sleep", "1h"]);
    if let Some(spec) = late.spec.as_mut() {
        spec.active_deadline_seconds = Some(1);
    }
    pods.create(&PostParams::default(), &late).await?;
    let late = terminal(&pods, "late").await?;
    assert_eq!(
        late.status.as_ref().and_then(|s| s.reason.as_deref()),
        Some("DeadlineExceeded")
    );
    Ok(())
}
