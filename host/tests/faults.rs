//! Faults of the simulated clusters (`flotilla_sim` fault injection), survived by the
//! controller: what real clusters do to it, but on cue.

use std::time::Duration;

use anyhow::{Context as _, Result};
use common::{pods_by_node, spread, succeeded};
use flotilla::sandbox::Sandbox;
use flotilla_engine::workflow::{NodePhase, Workflow};
use kube::ResourceExt as _;
use kube::api::Api;

mod common;

/// How long a workflow of the fault tests may take.
const WITHIN: Duration = Duration::from_secs(180);

/// A workflow of one pod in cluster-1 running argosay with `args`, named from `prefix`.
fn one_there(prefix: &str, args: &str) -> String {
    format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: {prefix}}}
spec:
  entrypoint: main
  templates:
  - name: main
    cluster: cluster-1
    namespace: default
    container: {{image: argoproj/argosay:v2, args: [{args}]}}
"#
    )
}

/// Polls until `check` holds, for up to a minute.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> Result<bool>) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await? {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// The message of the workflow's one pod node.
async fn node_message(
    workflows: &Api<Workflow>,
    name: &str,
) -> Result<(NodePhase, Option<String>)> {
    let wf = workflows.get(name).await?;
    let node = wf
        .status
        .iter()
        .flat_map(|s| s.nodes.values())
        .find(|n| n.cluster.is_some())
        .context("the remote node")?;
    Ok((node.phase, node.message.clone()))
}

/// cluster-1 stops answering for a few seconds while a node runs there, its watches cut. The
/// namespace is quiet — the running pod does not change — so no watch event follows the
/// recovery; the controller must still find that the cluster answers again, and the node's
/// "unreachable" message must go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_cluster_is_reachable_again_after_a_blip() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("flotilla-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::start(2, dir.join("kubeconfig")).await?;
    sandbox.install().await?;
    sandbox.enroll_remotes().await?;
    let _controller = sandbox.start_controller()?;
    let client = sandbox.primary().client()?;
    let wf = flotilla::sandbox::submit(
        &client,
        &one_there("quiet-", "sleep, 600s"),
        "quiet sleeper",
    )
    .await?;
    let name = wf.name_any();
    let workflows: Api<Workflow> = Api::namespaced(client, "argo");
    eventually("the remote node to run", async || {
        Ok(node_message(&workflows, &name).await.ok().map(|n| n.0) == Some(NodePhase::Running))
    })
    .await?;

    let remote = &sandbox.clusters[1];
    remote.faults().set_unreachable(true);
    eventually("the node to say its cluster is unreachable", async || {
        let (_, message) = node_message(&workflows, &name).await?;
        Ok(message.is_some_and(|m| m.contains("unreachable")))
    })
    .await?;
    remote.faults().set_unreachable(false);
    eventually("the unreachable message to go", async || {
        let (phase, message) = node_message(&workflows, &name).await?;
        Ok(phase == NodePhase::Running && message.is_none())
    })
    .await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A leader whose API server stops answering stops acting before its lease can have expired
/// for anyone else (the lease manager alone would go on believing it leads), and leads again
/// once the server answers; a deleted Lease is made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_its_api_server_stops_acting_before_its_lease_expires() -> Result<()>
{
    use flotilla::leader::{Election, Leadership};
    use k8s_openapi::api::coordination::v1::Lease;
    let dir = std::env::temp_dir().join(format!("flotilla-leader-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::start(1, dir.join("kubeconfig")).await?;
    let client = sandbox.primary().client()?;
    let duration = Duration::from_secs(6);
    let election = Election {
        lease: "cut-off".into(),
        namespace: "default".into(),
        identity: "only".into(),
        duration,
        grace: Duration::from_secs(2),
    };
    let (leadership, candidate) = Leadership::elect(client.clone(), election);
    eventually("the only candidate to lead", async || {
        Ok(leadership.is_leading())
    })
    .await?;
    let leases: Api<Lease> = Api::namespaced(client, "default");
    let renewed_at = |lease: Lease| -> Result<jiff::Timestamp> {
        Ok(lease
            .spec
            .and_then(|s| s.renew_time)
            .context("renewTime")?
            .0)
    };
    let last_renewal = renewed_at(leases.get("cut-off").await?)?;

    // (A renewal landing between that read and the cut would make the check below stricter
    // than it needs to be, never laxer.)
    sandbox.primary().faults().set_unreachable(true);
    let cut = tokio::time::Instant::now();
    let lost_at = loop {
        if !leadership.is_leading() {
            break jiff::Timestamp::now();
        }
        anyhow::ensure!(
            cut.elapsed() < 3 * duration,
            "still leading {:?} after the API server stopped answering",
            cut.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    sandbox.primary().faults().set_unreachable(false);
    let expiry = last_renewal + jiff::SignedDuration::try_from(duration)?;
    anyhow::ensure!(
        lost_at < expiry,
        "stopped acting at {lost_at}, after the lease renewed at {last_renewal} expired ({expiry})"
    );
    eventually("leading again once the server answers", async || {
        Ok(leadership.is_leading())
    })
    .await?;
    // An administrator deletes the Lease (to force a fail-over): it is made again and held.
    leases.delete("cut-off", &Default::default()).await?;
    eventually("a new lease, held", async || {
        let held = leases
            .get_opt("cut-off")
            .await?
            .and_then(|l| l.spec?.holder_identity);
        Ok(held.as_deref() == Some("only") && leadership.is_leading())
    })
    .await?;
    candidate.resign().await;
    let lease = leases.get("cut-off").await?;
    anyhow::ensure!(
        lease.spec.and_then(|s| s.holder_identity).is_none(),
        "resigning releases the lease"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Two clusters, installed and enrolled, with a controller running; removed when dropped.
struct Running {
    dir: std::path::PathBuf,
    sandbox: Sandbox,
    _controller: flotilla::sandbox::ControllerHandle,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn running(tag: &str) -> Result<Running> {
    let dir = std::env::temp_dir().join(format!("flotilla-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::start(2, dir.join("kubeconfig")).await?;
    sandbox.install().await?;
    sandbox.enroll_remotes().await?;
    let controller = sandbox.start_controller()?;
    Ok(Running {
        dir,
        sandbox,
        _controller: controller,
    })
}

/// Each cluster holds `per_cluster` pods of workflow `name`, no node two.
async fn one_pod_each(sandbox: &Sandbox, name: &str, per_cluster: usize) -> Result<()> {
    for cluster in &sandbox.clusters {
        let (count, twice) = pods_by_node(cluster.client()?, name).await?;
        anyhow::ensure!(
            count == per_cluster,
            "{}: {count} pods for {per_cluster} nodes",
            cluster.name()
        );
        anyhow::ensure!(
            twice.is_empty(),
            "{}: nodes with two pods: {twice:?}",
            cluster.name()
        );
    }
    Ok(())
}

/// Credentials refused once (a 401, as when a token expires early or is revoked): the
/// controller asks for them anew, reconnects and creates the pod — the node does not fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_is_answered_with_fresh_credentials_and_one_more_try() -> Result<()> {
    let env = running("unauthorized").await?;
    let remote = &env.sandbox.clusters[1];
    remote.faults().fail_next("POST", 1, 401);
    let client = env.sandbox.primary().client()?;
    let name = flotilla::sandbox::submit(&client, &spread("unauthorized-", 1), "one pod each")
        .await?
        .name_any();
    let workflows: Api<Workflow> = Api::namespaced(client, "argo");
    succeeded(&workflows, &name, WITHIN).await?;
    anyhow::ensure!(
        remote.faults().injected_errors() == 1,
        "the 401 was not met"
    );
    Ok(())
}

/// Both clusters busy for a whole run — 10% of their requests answered 503 and 5% 429 with a
/// Retry-After — while 40 pods run: the workflow completes, one pod per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_clusters_delay_a_workflow_but_never_duplicate_a_pod() -> Result<()> {
    let env = running("busy").await?;
    let client = env.sandbox.primary().client()?;
    let name = flotilla::sandbox::submit(&client, &spread("busy-", 20), "busy")
        .await?
        .name_any();
    for cluster in &env.sandbox.clusters {
        cluster.faults().set_error_rate(0.10, 503);
        cluster.faults().add_error_rate(0.05, 429);
    }
    let workflows: Api<Workflow> = Api::namespaced(client.clone(), "argo");
    let wf = succeeded(&workflows, &name, WITHIN).await;
    env.sandbox.clusters[1].faults().clear();
    env.sandbox.primary().faults().clear();
    wf?;
    anyhow::ensure!(
        env.sandbox.clusters[1].faults().injected_errors() > 0
            && env.sandbox.primary().faults().injected_errors() > 0,
        "no fault was injected"
    );
    one_pod_each(&env.sandbox, &name, 20).await?;
    Ok(())
}

/// cluster-1 unreachable for 30 s from the start of a run: its nodes wait saying so while
/// cluster-0's finish, and every node finishes after the recovery — one pod each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_unreachable_for_thirty_seconds_holds_only_its_own_nodes() -> Result<()> {
    let env = running("unreachable").await?;
    let client = env.sandbox.primary().client()?;
    let remote = &env.sandbox.clusters[1];
    remote.faults().unreachable_for(Duration::from_secs(30));
    let name = flotilla::sandbox::submit(&client, &spread("unreachable-", 10), "cut off")
        .await?
        .name_any();
    let workflows: Api<Workflow> = Api::namespaced(client.clone(), "argo");
    eventually(
        "cluster-0's naps to finish while cluster-1 is cut off",
        async || {
            let wf = workflows.get(&name).await?;
            let nodes: Vec<_> = wf.status.iter().flat_map(|s| s.nodes.values()).collect();
            let here_done = nodes
                .iter()
                .filter(|n| {
                    n.cluster.is_none() && n.type_ == flotilla_engine::workflow::NodeType::Pod
                })
                .filter(|n| n.phase == NodePhase::Succeeded)
                .count();
            let there_waiting = nodes.iter().any(|n| {
                n.cluster.is_some()
                    && n.message
                        .as_deref()
                        .is_some_and(|m| m.contains("unreachable"))
            });
            Ok(here_done == 10 && there_waiting)
        },
    )
    .await?;
    succeeded(&workflows, &name, WITHIN).await?;
    one_pod_each(&env.sandbox, &name, 10).await?;
    Ok(())
}

/// Every watch of both clusters cut every two seconds for a whole run: no transition is
/// missed, no node stays stuck, none gets two pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_cut_every_two_seconds_miss_nothing() -> Result<()> {
    let env = running("cuts").await?;
    let client = env.sandbox.primary().client()?;
    let faults: Vec<_> = env.sandbox.clusters.iter().map(|c| c.faults()).collect();
    let cutter = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            for f in &faults {
                f.cut_watches();
            }
        }
    });
    let name = flotilla::sandbox::submit(&client, &spread("cuts-", 20), "cut watches")
        .await?
        .name_any();
    let workflows: Api<Workflow> = Api::namespaced(client.clone(), "argo");
    let done = succeeded(&workflows, &name, WITHIN).await;
    cutter.abort();
    done?;
    one_pod_each(&env.sandbox, &name, 20).await?;
    Ok(())
}

/// cluster-1 answers every create 429 with a Retry-After of a second (as API priority and
/// fairness does) for three seconds, while ten workflows with a pod there are submitted a tenth
/// of a second apart. Once it has said so, no workflow sends it a create until the second has
/// passed: it sees one create per second of the fault at most, not one per workflow (ten or
/// more without the hold). Then every workflow succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_holds_every_workflows_creations_in_that_cluster() -> Result<()> {
    let env = running("retry-after").await?;
    let remote = &env.sandbox.clusters[1];
    let client = env.sandbox.primary().client()?;
    remote.faults().fail_next("POST", 10_000, 429);
    let mut names = Vec::new();
    for _ in 0..10 {
        let submitted =
            flotilla::sandbox::submit(&client, &one_there("busy-", "echo, hi"), "one pod there")
                .await?;
        names.push(submitted.name_any());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let refused = remote.faults().injected_errors();
    remote.faults().clear();
    let workflows: Api<Workflow> = Api::namespaced(client, "argo");
    for name in &names {
        succeeded(&workflows, name, WITHIN).await?;
    }
    anyhow::ensure!(
        (1..=4).contains(&refused),
        "cluster-1 refused {refused} creates in about three seconds of asking to be left alone"
    );
    Ok(())
}

/// Eight one-second naps in cluster-1, one after another.
const NAPS_IN_TURN: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: expiring-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - [{name: a, template: nap}]
    - [{name: b, template: nap}]
    - [{name: c, template: nap}]
    - [{name: d, template: nap}]
    - [{name: e, template: nap}]
    - [{name: f, template: nap}]
    - [{name: g, template: nap}]
    - [{name: h, template: nap}]
  - name: nap
    cluster: cluster-1
    namespace: default
    container: {image: argoproj/argosay:v2, args: [sleep, 1s]}
"#;

/// How long each token the rotator mints is accepted.
const TOKEN_LIFETIME: i64 = 4;

/// cluster-1 reached through the token-file credential provider, whose file a rotator rewrites
/// every second with a token cluster-1 accepts for four — as a kubelet rotates a projected
/// token. The workflow's pods there are created one after another for longer than any token
/// lives: the controller refreshes before its credentials run out (cluster-1 never answers
/// 401), the workflow succeeds and no pod fails. The workflow is submitted before the controller
/// starts, so its first reconcile finds the provider already in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_expire_mid_run_are_refreshed_and_no_pod_fails() -> Result<()> {
    use base64::Engine as _;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
    use kube::api::{ListParams, Patch, PatchParams, PostParams};

    let dir = std::env::temp_dir().join(format!("flotilla-expiring-{}", std::process::id()));
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)?;
    let _cleanup = RemoveOnDrop(dir.clone());
    let sandbox = Sandbox::start(2, dir.join("kubeconfig")).await?;
    sandbox.install().await?;
    sandbox.enroll_remotes().await?;
    let primary = sandbox.primary().client()?;
    let remote = &sandbox.clusters[1];

    // The enrolled rest-config key gives way to a profile Secret of kind token-file.
    let secrets: Api<Secret> = Api::namespaced(primary.clone(), "argo");
    secrets
        .patch(
            "rest-config",
            &PatchParams::default(),
            &Patch::<()>::Json(serde_json::from_value(serde_json::json!([
                {"op": "remove", "path": "/data/cluster-1.default"}
            ]))?),
        )
        .await?;
    let token_file = tokens.join("token");
    let entry = serde_json::json!({
        "server": remote.url(),
        "caData": base64::engine::general_purpose::STANDARD.encode(remote.ca_pem().context("TLS")?),
        "tokenFile": token_file,
    });
    let profile: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cluster-1-rotating", "labels": {"workflows.argoproj.io/cluster": "cluster-1"}},
        "stringData": {"kind": "token-file", "namespace": "default", "credentials": entry.to_string()},
    }))?;
    secrets.create(&PostParams::default(), &profile).await?;
    let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release/credentials_token_file.wasm")
        .canonicalize()
        .context("build the plugins first: bash plugins/build.sh")?;
    let plugins: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "flotilla-plugins"},
        "data": {"credentials.token-file": format!(
            "component: {{file: {}}}\nconfig: {{refreshSeconds: 1}}\nreadOnlyDirs: [{}]\n",
            wasm.display(),
            tokens.display()
        )},
    }))?;
    Api::<ConfigMap>::namespaced(primary.clone(), "argo")
        .create(&PostParams::default(), &plugins)
        .await?;

    // The identity the enrolled token had, with a lifetime.
    let mint = || -> Result<(kube::Client, jiff::Timestamp)> {
        let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(TOKEN_LIFETIME);
        let token = remote.add_user_until(
            format!(
                "system:serviceaccount:default:{}",
                flotilla::clusters::enroll::CONTROLLER_ACCOUNT
            ),
            &["system:serviceaccounts", "system:serviceaccounts:default"],
            expires,
        );
        let next = tokens.join("token.next");
        std::fs::write(&next, token.expose())?;
        std::fs::rename(&next, &token_file)?;
        Ok((kube::Client::try_from(remote.config_for(&token))?, expires))
    };
    let (first, first_expires) = mint()?;

    let name = flotilla::sandbox::submit(&primary, NAPS_IN_TURN, "naps in turn")
        .await?
        .name_any();
    let _controller = sandbox.start_controller()?;
    let workflows: Api<Workflow> = Api::namespaced(primary.clone(), "argo");
    let rotate = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            mint()?;
        }
        #[allow(unreachable_code)]
        Ok::<(), anyhow::Error>(())
    };
    tokio::select! {
        done = succeeded(&workflows, &name, WITHIN) => { done?; }
        failed = rotate => failed?,
    }

    let pods: Api<Pod> = Api::namespaced(remote.client()?, "default");
    let made = pods
        .list(&ListParams::default().labels(&format!("workflows.argoproj.io/workflow={name}")))
        .await?
        .items;
    let phases: Vec<_> = made
        .iter()
        .map(|p| p.status.as_ref().and_then(|s| s.phase.clone()))
        .collect();
    anyhow::ensure!(
        phases.len() == 8 && phases.iter().all(|p| p.as_deref() == Some("Succeeded")),
        "eight pods, none failed: {phases:?}"
    );
    anyhow::ensure!(
        remote.credentials_refused() == 0,
        "cluster-1 answered 401 {} times: credentials were replaced only once refused",
        remote.credentials_refused()
    );
    // The first token ran out during the run, and pods were made after it had.
    let refused = Api::<Pod>::namespaced(first, "default")
        .list(&ListParams::default())
        .await;
    anyhow::ensure!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.code == 401),
        "the first token has expired: {refused:?}"
    );
    let last_made = made
        .iter()
        .filter_map(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .max()
        .context("creation times")?;
    anyhow::ensure!(
        last_made >= first_expires,
        "a pod was made after the first token expired at {first_expires} (last at {last_made})"
    );
    Ok(())
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A pod no node takes for a while: `flotilla logs -f` follows it from submission and still
/// prints its output once a node (a kubelet that joins late) has run it. An API server answers
/// the log of a pod no node has taken with an empty 200; a follower that took that for the
/// pod's whole log would print nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_followed_from_submission_wait_for_a_pod_no_node_has_taken_yet() -> Result<()> {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::ListParams;

    let dir = std::env::temp_dir().join(format!("flotilla-unscheduled-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let _cleanup = RemoveOnDrop(dir.clone());
    // No kubelet yet: pods stay unscheduled.
    let sandbox = Sandbox::start_with(1, dir.join("kubeconfig"), false).await?;
    sandbox.install().await?;
    let _controller = sandbox.start_controller()?;
    let cluster = sandbox.primary();
    let client = cluster.client()?;
    let yaml = r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: late-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: argoproj/argosay:v2, args: [echo, hello after a wait]}
"#;
    let name = flotilla::sandbox::submit(&client, yaml, "late pod")
        .await?
        .name_any();
    let (lines, mut received) = tokio::sync::mpsc::unbounded_channel();
    let follower = {
        let (client, name) = (client.clone(), name.clone());
        tokio::spawn(async move {
            let options = flotilla::logs::Options {
                follow: true,
                controller_namespace: "argo".into(),
                cluster_name: "cluster-0".into(),
                local_access: flotilla::clusters::LocalAccess::none(),
            };
            let mut out = |line: String| {
                let _ = lines.send(line);
            };
            flotilla::logs::logs(&client, "argo", &name, &options, &mut out).await
        })
    };
    // The pod exists and no node has it; the follower has had time to ask for its log.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "argo");
    let selector = format!("workflows.argoproj.io/workflow={name}");
    eventually("the pod to exist", async || {
        Ok(!pods
            .list(&ListParams::default().labels(&selector))
            .await?
            .items
            .is_empty())
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let kubelet = flotilla_sim::kubelet::Kubelet::new(cluster.client()?, "late-node");
    let kubelet = tokio::spawn(kubelet.run());
    let line = tokio::time::timeout(Duration::from_secs(60), received.recv()).await;
    kubelet.abort();
    follower.abort();
    let line = line.context("no line within a minute of the pod being run")?;
    anyhow::ensure!(
        line == Some(format!("{name} (cluster-0/argo): hello after a wait")),
        "{line:?}"
    );
    Ok(())
}
