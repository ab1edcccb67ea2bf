//! Cleaning up across clusters: the remote-pods finalizer (deletion waits for the pods
//! elsewhere, and its ways out when they cannot be reached) and the orphan sweep.

use anyhow::{Result, ensure};
use flotilla_e2e::{Env, WORKFLOW_TIMEOUT as TIMEOUT, main_workflow, workflow_pods};
use kube::ResourceExt;

use super::multicluster::{SEED_POLICY, two_clusters};

/// Submits the remote sleeper and waits until its pod runs in cluster-1.
async fn remote_sleeper(env: &Env) -> Result<(String, kube::Client)> {
    let client = env.client("cluster-0").await?;
    let yaml = main_workflow(
        "remote-sleeper-",
        "",
        "    cluster: cluster-1\n    namespace: default\n    container: {image: argoproj/argosay:v2, args: [sleep, 300s]}\n",
    );
    let wf = flotilla::sandbox::submit(&client, &yaml, "remote sleeper").await?;
    let name = wf.name_any();
    let remote = env.client("cluster-1").await?;
    flotilla_e2e::wait_for("the remote pod to run", TIMEOUT, || async {
        let pods = workflow_pods(&remote, "default", &name).await?;
        Ok(pods
            .iter()
            .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .then_some(()))
    })
    .await?;
    Ok((name, remote))
}

async fn wait_remote_pods_gone(remote: &kube::Client, name: &str) -> Result<()> {
    flotilla_e2e::wait_for("the remote pods to be deleted", TIMEOUT, || async {
        Ok(workflow_pods(remote, "default", name)
            .await?
            .is_empty()
            .then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_workflow_deletes_its_remote_pods_first() -> Result<()> {
    let (env, _controller) = two_clusters(Some("default"), SEED_POLICY).await?;
    let (name, remote) = remote_sleeper(&env).await?;
    let kubectl = env.kubectl("cluster-0");
    let finalizers = kubectl.ok(&[
        "-n",
        "argo",
        "get",
        "workflow",
        &name,
        "-o",
        "jsonpath={.metadata.finalizers}",
    ])?;
    ensure!(
        finalizers.contains("flotilla.dev/remote-pods"),
        "{finalizers}"
    );
    // kubectl waits for the deletion to finish: the finalizer is released only once the remote
    // pod is gone.
    kubectl.ok(&["-n", "argo", "delete", "workflow", &name, "--timeout=120s"])?;
    ensure!(workflow_pods(&remote, "default", &name).await?.is_empty());
    Ok(())
}

/// Whether a Warning event of `reason` about workflow `name` mentions `words`.
fn warned(kubectl: &flotilla_e2e::Kubectl, name: &str, reason: &str, words: &str) -> Result<bool> {
    let selector = format!("involvedObject.name={name},reason={reason}");
    let events = kubectl.json(&["-n", "argo", "get", "events", "--field-selector", &selector])?;
    Ok(events["items"].as_array().into_iter().flatten().any(|e| {
        e["type"] == "Warning" && e["message"].as_str().is_some_and(|m| m.contains(words))
    }))
}

/// The finalizer's ways out when a remote place cannot be cleaned up, each leaving a Warning
/// event that names what was left: a cluster that does not answer holds it until an
/// administrator annotates the workflow; a place whose credentials were removed from the
/// configuration does not hold it at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalizer_that_cannot_be_honoured_is_released_with_a_record() -> Result<()> {
    let (env, _controller) = two_clusters(Some("default"), SEED_POLICY).await?;
    let (held, remote) = remote_sleeper(&env).await?;
    let (forgotten, _) = remote_sleeper(&env).await?;
    let kubectl = env.kubectl("cluster-0");

    // cluster-1's credentials now point where nothing answers.
    let nowhere = r#"{"stringData": {"cluster-1.default": "{\"Host\": \"https://127.0.0.1:1\", \"BearerToken\": \"t\"}"}}"#;
    let patch_rest_config = |kind: &str, patch: &str| {
        let kind = format!("--type={kind}");
        kubectl.ok(&[
            "-n",
            "argo",
            "patch",
            "secret",
            "rest-config",
            &kind,
            "-p",
            patch,
        ])
    };
    patch_rest_config("strategic", nowhere)?;
    kubectl.ok(&["-n", "argo", "delete", "workflow", &held, "--wait=false"])?;
    flotilla_e2e::wait_for("the cleanup to wait for cluster-1", TIMEOUT, || async {
        Ok(warned(
            &kubectl,
            &held,
            "CleanupPending",
            "flotilla.dev/release-remote-pods",
        )?
        .then_some(()))
    })
    .await?;
    ensure!(
        kubectl
            .run(&["-n", "argo", "get", "workflow", &held], None)?
            .status
            .success(),
        "the finalizer holds the workflow while its pod cannot be seen"
    );
    kubectl.ok(&[
        "-n",
        "argo",
        "annotate",
        "workflow",
        &held,
        "flotilla.dev/release-remote-pods=true",
    ])?;
    flotilla_e2e::wait_for("the annotated workflow to be deleted", TIMEOUT, || async {
        let out = kubectl.run(&["-n", "argo", "get", "workflow", &held], None)?;
        Ok((!out.status.success()).then_some(()))
    })
    .await?;
    ensure!(warned(&kubectl, &held, "FinalizerReleased", "cluster-1")?);

    // cluster-1 is taken out of the configuration: nothing there can be reached again.
    patch_rest_config(
        "json",
        r#"[{"op": "remove", "path": "/data/cluster-1.default"}]"#,
    )?;
    kubectl.ok(&[
        "-n",
        "argo",
        "delete",
        "workflow",
        &forgotten,
        "--timeout=120s",
    ])?;
    ensure!(warned(
        &kubectl,
        &forgotten,
        "CleanupAbandoned",
        "not configured"
    )?);

    // Both pods were left behind in cluster-1, as the events say; this test removes them.
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(remote.clone(), "default");
    for name in [&held, &forgotten] {
        let left = workflow_pods(&remote, "default", name).await?;
        ensure!(left.len() == 1, "{name}: {} pods left", left.len());
        pods.delete(&left[0].name_any(), &Default::default())
            .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_while_the_controller_is_down_then_cleaned_up() -> Result<()> {
    let (env, controller) = two_clusters(Some("default"), SEED_POLICY).await?;
    let (held, remote) = remote_sleeper(&env).await?;
    let (forced, _) = remote_sleeper(&env).await?;
    drop(controller);
    let kubectl = env.kubectl("cluster-0");
    // Deleted while the controller is down: the finalizer holds the workflow...
    kubectl.ok(&["-n", "argo", "delete", "workflow", &held, "--wait=false"])?;
    // ...unless someone removes it by hand: then only the orphan sweep finds the pod.
    kubectl.ok(&["-n", "argo", "delete", "workflow", &forced, "--wait=false"])?;
    kubectl.ok(&[
        "-n",
        "argo",
        "patch",
        "workflow",
        &forced,
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])?;
    let orphans = workflow_pods(&remote, "default", &forced).await?;
    ensure!(orphans.len() == 1);
    // A pod someone labelled as another gone workflow's, without the controller's proof: not
    // the sweep's to delete.
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(remote.clone(), "default");
    let mut look_alike_labels = orphans[0].labels().clone();
    look_alike_labels.insert("workflows.argoproj.io/workflow".into(), "gone".into());
    look_alike_labels.insert("flotilla.dev/workflow-uid".into(), "gone-uid".into());
    let look_alike: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": flotilla_e2e::unique("look-alike"), "labels": look_alike_labels,
            "annotations": {"workflows.argoproj.io/node-id": "gone"}},
        "spec": {"containers": [{"name": "main", "image": "argoproj/argosay:v2",
            "args": ["sleep", "600s"]}]},
    }))?;
    let look_alike = pods
        .create(&kube::api::PostParams::default(), &look_alike)
        .await?
        .name_any();
    let config = flotilla::controller::ControllerConfig {
        orphan_sweep: std::time::Duration::from_secs(1),
        engine: flotilla_engine::EngineConfig {
            cluster: Some("cluster-0".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let _restarted =
        flotilla::sandbox::spawn_controller_with(env.client("cluster-0").await?, config);
    wait_remote_pods_gone(&remote, &held).await?;
    wait_remote_pods_gone(&remote, &forced).await?;
    flotilla_e2e::wait_for("the held workflow to be deleted", TIMEOUT, || async {
        let out = kubectl.run(&["-n", "argo", "get", "workflow", &held], None)?;
        Ok((!out.status.success()).then_some(()))
    })
    .await?;
    // Sweeps run every second: after a few more the look-alike is still there.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let kept = pods.get_opt(&look_alike).await?;
    if kept.is_some() {
        pods.delete(&look_alike, &Default::default()).await?;
    }
    ensure!(
        kept.is_some_and(|p| p.metadata.deletion_timestamp.is_none()),
        "the sweep deleted a pod the controller did not make"
    );
    Ok(())
}
