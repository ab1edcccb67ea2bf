//! WebAssembly placement policies in a running controller: the `flotilla-plugins` ConfigMap is
//! changed with kubectl while the controller runs, and the next pods go where the new policy
//! says; a component that does not load leaves the last good one in force; authorization still
//! applies to a policy's answer. Components come from `bash plugins/build.sh`.

use anyhow::{Context as _, Result, ensure};
use flotilla_e2e::{Env, TempDir, WORKFLOW_TIMEOUT as TIMEOUT, main_workflow, node, phase};
use flotilla_engine::workflow::{NodePhase, WorkflowPhase};
use kube::ResourceExt;

/// cluster-0's controller may create in cluster-1's and its own `default` namespaces.
const POLICY: &str = "p, cluster-0:argo, cluster-1:default\np, cluster-0:argo, cluster-0:default";

/// One pod in namespace `default` of whichever cluster the placement policy chooses.
fn workflow() -> String {
    main_workflow(
        "placed-",
        "",
        "    namespace: default\n    container: {image: argoproj/argosay:v2}\n",
    )
}

fn component(name: &str) -> Result<std::path::PathBuf> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    ensure!(
        path.exists(),
        "{}: missing — build the plugins first: bash plugins/build.sh",
        path.display()
    );
    Ok(path)
}

/// Puts `placement` (the extension point's YAML) and the component file in `flotilla-plugins`
/// with kubectl, as a platform engineer would (`--from-file` stores a binary as binaryData).
fn set_placement(
    env: &Env,
    dir: &TempDir,
    component: &std::path::Path,
    placement: &str,
) -> Result<()> {
    let settings = dir.path().join("placement");
    std::fs::write(&settings, placement)?;
    let kubectl = env.kubectl("cluster-0");
    let manifest = kubectl.ok(&[
        "-n",
        "argo",
        "create",
        "configmap",
        "flotilla-plugins",
        &format!("--from-file=placement.wasm={}", component.display()),
        &format!("--from-file=placement={}", settings.display()),
        "--dry-run=client",
        "-o",
        "yaml",
    ])?;
    kubectl.ok_with(&["apply", "-f", "-"], Some(&manifest))?;
    Ok(())
}

/// Waits for an event about `flotilla-plugins` with `reason` whose note contains `text`.
async fn plugin_event(env: &Env, reason: &str, text: &str) -> Result<String> {
    let kubectl = env.kubectl("cluster-0");
    flotilla_e2e::wait_for(
        &format!("a {reason} event with {text:?}"),
        TIMEOUT,
        || async {
            let events = kubectl.json(&["-n", "argo", "get", "events.events.k8s.io"])?;
            let found = events["items"].as_array().into_iter().flatten().find(|e| {
                e["reason"] == reason
                    && e["regarding"]["name"] == "flotilla-plugins"
                    && e["note"].as_str().is_some_and(|n| n.contains(text))
            });
            Ok(found.map(|e| e["note"].as_str().unwrap_or_default().to_string()))
        },
    )
    .await
}

/// Puts the component `name` in place with `placement` and waits until the controller has
/// loaded it; then runs the workflow (see [`placed_in`]).
async fn swapped_in(
    env: &Env,
    dir: &TempDir,
    name: &str,
    placement: &str,
) -> Result<(Option<String>, NodePhase, String, String)> {
    let path = component(name)?;
    set_placement(env, dir, &path, placement)?;
    let digest = flotilla::plugins::digest(&std::fs::read(&path)?);
    plugin_event(env, "PluginLoaded", &digest).await?;
    placed_in(env).await
}

/// Runs the workflow; where its pod node was placed, how it ended, its message and the
/// workflow's name.
async fn placed_in(env: &Env) -> Result<(Option<String>, NodePhase, String, String)> {
    let wf = env.run_workflow(&workflow(), TIMEOUT).await?;
    let main = node(&wf, &wf.name_any()).context("the pod node")?.clone();
    ensure!(
        (main.phase == NodePhase::Succeeded) == (phase(&wf) == Some(WorkflowPhase::Succeeded)),
        "{:#?}",
        wf.status
    );
    Ok((
        main.cluster,
        main.phase,
        main.message.unwrap_or_default(),
        wf.name_any(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_the_placement_policy_moves_the_next_pods_and_a_bad_one_changes_nothing()
-> Result<()> {
    let (env, _controller) = super::multicluster::two_clusters(Some("default"), POLICY).await?;
    let dir = TempDir::new()?;

    // least-loaded, restricted to cluster-1: the pod goes there.
    let (cluster, node_phase, message, _) = swapped_in(
        &env,
        &dir,
        "placement_least_loaded",
        "component: {configMapKey: placement.wasm}\nconfig: {clusters: [cluster-1]}\n",
    )
    .await?;
    ensure!(
        cluster.as_deref() == Some("cluster-1"),
        "{cluster:?} {message}"
    );
    ensure!(node_phase == NodePhase::Succeeded, "{message}");

    // Swapped for explicit while the controller runs: the next pod stays in cluster-0.
    let (cluster, node_phase, message, _) = swapped_in(
        &env,
        &dir,
        "placement_explicit",
        "component: {configMapKey: placement.wasm}\n",
    )
    .await?;
    ensure!(
        cluster.is_none(),
        "in the controller's own cluster: {cluster:?}"
    );
    ensure!(node_phase == NodePhase::Succeeded, "{message}");

    // A component of the wrong world is refused; explicit stays in force.
    let naming = component("naming_argo")?;
    set_placement(
        &env,
        &dir,
        &naming,
        "component: {configMapKey: placement.wasm}\n",
    )?;
    let note = plugin_event(
        &env,
        "PluginLoadFailed",
        "does not provide world placement-policy",
    )
    .await?;
    ensure!(
        note.contains("the last good plugin stays in force"),
        "{note}"
    );
    let (cluster, node_phase, _, _) = placed_in(&env).await?;
    ensure!(cluster.is_none() && node_phase == NodePhase::Succeeded);

    // A policy naming a place the authorization policy forbids cannot put a pod there.
    let (cluster, node_phase, message, name) = swapped_in(
        &env,
        &dir,
        "misbehaving_placement",
        "component: {configMapKey: placement.wasm}\nconfig: \"place:cluster-1/kube-system\"\n",
    )
    .await?;
    ensure!(cluster.as_deref() == Some("cluster-1"), "{cluster:?}");
    ensure!(node_phase == NodePhase::Failed, "{message}");
    ensure!(
        message
            == r#"namespace "argo" is forbidden from creating resources in cluster "cluster-1" namespace "kube-system""#,
        "{message}"
    );
    let pods =
        flotilla_e2e::workflow_pods(&env.client("cluster-1").await?, "kube-system", &name).await?;
    ensure!(pods.is_empty(), "nothing created in kube-system: {pods:#?}");
    Ok(())
}
