//! `pods/log` goes from the API server to the kubelet the pod's Node registers, as kube-apiserver
//! reaches a real kubelet: the options travel with it, and the kubelet's refusals come back as the
//! API errors kube-apiserver makes of them.

mod support;

use std::time::Duration;

use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, LogParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::wait_for;

async fn registered_node(client: &kube::Client) -> Result<Node> {
    wait_for("the node to register", Duration::from_secs(10), || async {
        let node = Api::<Node>::all(client.clone())
            .get_opt("test-node")
            .await?;
        Ok(node.filter(|n| {
            n.status
                .as_ref()
                .is_some_and(|s| s.daemon_endpoints.is_some())
        }))
    })
    .await
}

fn api_error(e: kube::Error) -> Result<kube::core::Status> {
    match e {
        kube::Error::Api(status) => Ok(*status),
        other => anyhow::bail!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn logs_are_read_from_the_kubelet_the_node_registers() -> Result<()> {
    let cluster = support::cluster().await?;
    let client = cluster.client()?;
    let node = registered_node(&client).await?;
    let status = node.status.unwrap_or_default();
    let internal: Vec<_> = status
        .addresses
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .collect();
    assert_eq!(internal, ["127.0.0.1"]);
    let port = status
        .daemon_endpoints
        .and_then(|d| d.kubelet_endpoint)
        .map(|e| e.port);
    ensure!(port.is_some_and(|p| p > 0), "kubelet port {port:?}");

    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "lines"},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "main", "image": "argoproj/argosay:v2", "args": ["echo", "one\ntwo"],
        }]},
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    wait_for("the pod to finish", Duration::from_secs(20), || async {
        let p = pods.get("lines").await?;
        Ok((p.status.and_then(|s| s.phase).as_deref() == Some("Succeeded")).then_some(()))
    })
    .await?;

    assert_eq!(
        pods.logs("lines", &LogParams::default()).await?,
        "one\ntwo\n"
    );
    let tail = LogParams {
        tail_lines: Some(1),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("lines", &tail).await?, "two\n");
    let stamped = LogParams {
        timestamps: true,
        limit_bytes: Some(40),
        ..LogParams::default()
    };
    let text = pods.logs("lines", &stamped).await?;
    ensure!(
        text.len() == 40 && text.contains("Z one\n"),
        "timestamps and limitBytes reach the kubelet: {text:?}"
    );
    let previous = LogParams {
        previous: true,
        ..LogParams::default()
    };
    let refused = api_error(pods.logs("lines", &previous).await.unwrap_err())?;
    assert_eq!((refused.code, refused.reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        refused.message,
        r#"previous terminated container "main" in pod "lines" not found"#
    );
    Ok(())
}

#[tokio::test]
async fn a_kubelet_that_does_not_run_the_pod_or_cannot_be_reached_is_an_api_error() -> Result<()> {
    let cluster = support::cluster().await?;
    let client = cluster.client()?;
    let real = registered_node(&client).await?;
    // A second Node at the same kubelet address: that kubelet runs only pods bound to its own.
    let nodes: Api<Node> = Api::all(client.clone());
    let elsewhere: Node = serde_json::from_value(json!({"metadata": {"name": "elsewhere"}}))?;
    nodes.create(&PostParams::default(), &elsewhere).await?;
    let registered = serde_json::to_value(&real.status)?;
    nodes
        .patch_status(
            "elsewhere",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": registered})),
        )
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "ghost"},
        "spec": {"nodeName": "elsewhere", "containers": [{"name": "main", "image": "argoproj/argosay:v2"}]},
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    let running = json!({"status": {"phase": "Running", "containerStatuses": [{
        "name": "main", "image": "argoproj/argosay:v2", "imageID": "", "ready": true,
        "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
    }]}});
    pods.patch_status("ghost", &PatchParams::default(), &Patch::Merge(running))
        .await?;

    let unknown = api_error(pods.logs("ghost", &LogParams::default()).await.unwrap_err())?;
    assert_eq!((unknown.code, unknown.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        unknown.message,
        "the server could not find the requested resource ( pods/log ghost)"
    );

    // Nothing listens on the port the Node now names.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    nodes
        .patch_status(
            "elsewhere",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": closed}}}}),
            ),
        )
        .await?;
    let unreachable = api_error(pods.logs("ghost", &LogParams::default()).await.unwrap_err())?;
    assert_eq!(unreachable.code, 500);
    ensure!(
        unreachable.message.starts_with(&format!(
            "Get \"https://127.0.0.1:{closed}/containerLogs/default/ghost/main\""
        )) && unreachable.message.ends_with(&format!(
            "dial tcp 127.0.0.1:{closed}: connect: connection refused"
        )),
        "{}",
        unreachable.message
    );
    Ok(())
}

/// As kube-apiserver: the options are checked before anything else, and a pod no node has taken
/// has an empty log (there is no kubelet to ask).
#[tokio::test]
async fn options_come_first_and_an_unscheduled_pod_has_an_empty_log() -> Result<()> {
    let cluster = support::cluster().await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client()?, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "nowhere"},
        "spec": {"nodeSelector": {"no-such": "node"}, "containers": [{"name": "main", "image": "argoproj/argosay:v2"}]},
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    assert_eq!(pods.logs("nowhere", &LogParams::default()).await?, "");
    let bad = LogParams {
        tail_lines: Some(-1),
        ..LogParams::default()
    };
    let refused = api_error(pods.logs("absent", &bad).await.unwrap_err())?;
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
    Ok(())
}
