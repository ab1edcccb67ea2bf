//! WebAssembly placement policies in a running controller: the `flotilla-plugins` ConfigMap is
//! changed with kubectl while the controller runs, and the next pods go where the new policy
//! says; a component that does not load leaves the last good one in force; authorization still
//! applies to a policy's answer. Components come from `bash plugins/build.sh`.

use anyhow::{Context as _, Result, ensure};
use flotilla_e2e::{Env, TempDir, WORKFLOW_TIMEOUT as TIMEOUT, node, phase};
use flotilla_engine::workflow::{NodePhase, WorkflowPhase};
use kube::ResourceExt;

/// cluster-0's controller may create in cluster-1's and its own `default` namespaces.
const POLICY: &str = "p, cluster-0:argo, cluster-1:default\np, cluster-0:argo, cluster-0:default";

/// One pod in namespace `default` of whichever cluster the placement policy chooses.
const WORKFLOW: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: placed-}
spec:
  entrypoint: main
  templates:
    - name: main
      namespace: default
      container: {image: argoproj/argosay:v2}
"#;

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

/// Runs the workflow; where its pod node was placed, how it ended, its message and the
/// workflow's name.
async fn placed_in(env: &Env) -> Result<(Option<String>, NodePhase, String, String)> {
    let wf = env.run_workflow(WORKFLOW, TIMEOUT).await?;
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
    let env = Env::start().await?;
    let client = env.client("cluster-0").await?;
    flotilla::sandbox::install(&client).await?;
    env.enroll("default").await?;
    env.set_policy(POLICY)?;
    let _controller = flotilla::sandbox::spawn_controller(client, "cluster-0");
    let dir = TempDir::new()?;

    // least-loaded, restricted to cluster-1: the pod goes there.
    let least_loaded = component("placement_least_loaded")?;
    set_placement(
        &env,
        &dir,
        &least_loaded,
        "component: {configMapKey: placement.wasm}\nconfig: {clusters: [cluster-1]}\n",
    )?;
    let digest = flotilla::plugins::digest(&std::fs::read(&least_loaded)?);
    plugin_event(&env, "PluginLoaded", &digest).await?;
    let (cluster, node_phase, message, _) = placed_in(&env).await?;
    ensure!(
        cluster.as_deref() == Some("cluster-1"),
        "{cluster:?} {message}"
    );
    ensure!(node_phase == NodePhase::Succeeded, "{message}");

    // Swapped for explicit while the controller runs: the next pod stays in cluster-0.
    let explicit = component("placement_explicit")?;
    set_placement(
        &env,
        &dir,
        &explicit,
        "component: {configMapKey: placement.wasm}\n",
    )?;
    let digest = flotilla::plugins::digest(&std::fs::read(&explicit)?);
    plugin_event(&env, "PluginLoaded", &digest).await?;
    let (cluster, node_phase, message, _) = placed_in(&env).await?;
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
    let rogue = component("misbehaving_placement")?;
    set_placement(
        &env,
        &dir,
        &rogue,
        "component: {configMapKey: placement.wasm}\nconfig: \"place:cluster-1/kube-system\"\n",
    )?;
    let digest = flotilla::plugins::digest(&std::fs::read(&rogue)?);
    plugin_event(&env, "PluginLoaded", &digest).await?;
    let (cluster, node_phase, message, name) = placed_in(&env).await?;
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
