//! Templates in other clusters and namespaces: the two designs' examples, authorization, and
//! credentials added while the controller runs. Cluster-0 runs the controller; cluster-1 is
//! enrolled as the quick start does.

use anyhow::{Result, ensure};
use flotilla_e2e::{
    Env, WORKFLOW_TIMEOUT as TIMEOUT, ensure_phase, first_output, main_workflow, message, node,
    phase, remote_greeting_dag, workflow_pods,
};
use flotilla_engine::workflow::{NodePhase, WorkflowPhase};
use kube::ResourceExt;

/// The later design's policy: argo may use cluster-1's and cluster-0's `default` namespaces.
pub(crate) const SEED_POLICY: &str =
    "p, cluster-0:argo, cluster-1:default\np, cluster-0:argo, cluster-0:default";

/// The cluster the workflow's root node ran in.
fn root_cluster(wf: &flotilla_engine::workflow::Workflow) -> Option<String> {
    node(wf, &wf.name_any()).and_then(|n| n.cluster.clone())
}

fn example(name: &str) -> Result<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    Ok(std::fs::read_to_string(path)?)
}

/// Two clusters, cluster-1's `enrolled` namespace enrolled (if any), `policy` in force and the
/// controller running in cluster-0.
pub(crate) async fn two_clusters(
    enrolled: Option<&str>,
    policy: &str,
) -> Result<(Env, flotilla::sandbox::ControllerHandle)> {
    let (env, client) = Env::installed().await?;
    if let Some(ns) = enrolled {
        env.enroll(ns).await?;
    }
    env.set_policy(policy)?;
    let controller = flotilla::sandbox::spawn_controller(client, "cluster-0");
    Ok((env, controller))
}

/// [`two_clusters`] with cluster-1's `default` enrolled and [`SEED_POLICY`], and `yaml` run there
/// until it finishes.
async fn seeded_run(
    yaml: &str,
) -> Result<(
    Env,
    flotilla::sandbox::ControllerHandle,
    flotilla_engine::workflow::Workflow,
)> {
    let (env, controller) = two_clusters(Some("default"), SEED_POLICY).await?;
    let wf = env.run_workflow(yaml, TIMEOUT).await?;
    Ok((env, controller, wf))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_later_designs_example_runs_in_cluster_1() -> Result<()> {
    let (env, _controller, wf) = seeded_run(&example("multi-cluster.yaml")?).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let main = node(&wf, &wf.name_any()).expect("the pod node");
    ensure!(main.cluster.as_deref() == Some("cluster-1"));
    ensure!(main.namespace.as_deref() == Some("default"));
    // The pod ran in cluster-1, tied to its workflow by labels: no owner reference crosses.
    let remote = workflow_pods(&env.client("cluster-1").await?, "default", &wf.name_any()).await?;
    ensure!(remote.len() == 1, "{remote:#?}");
    let pod = &remote[0];
    ensure!(pod.metadata.owner_references.is_none());
    ensure!(
        pod.labels()
            .get("flotilla.dev/workflow-cluster")
            .map(String::as_str)
            == Some("cluster-0")
    );
    ensure!(
        pod.labels()
            .get("flotilla.dev/workflow-namespace")
            .map(String::as_str)
            == Some("argo")
    );
    let local = workflow_pods(&env.client("cluster-0").await?, "default", &wf.name_any()).await?;
    ensure!(local.is_empty(), "nothing ran in cluster-0: {local:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_earlier_designs_dag_runs_across_both_clusters() -> Result<()> {
    let (env, client) = Env::installed().await?;
    // The earlier design's set-up: namespace argo in the other cluster, with the workflow's
    // service account; credentials for that namespace only.
    let remote = env.kubectl("cluster-1");
    remote.ok_with(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argo}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: workflow, namespace: argo}\n"),
    )?;
    let key = env.enroll("argo").await?;
    ensure!(key == "cluster-1.argo", "{key}");
    env.set_policy("p, cluster-0:argo, cluster-1:argo")?;
    let _controller = flotilla::sandbox::spawn_controller(client, "cluster-0");
    let wf = env
        .run_workflow(&example("multi-cluster-dag.yaml")?, TIMEOUT)
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let this = node(&wf, "this").expect("this");
    let other = node(&wf, "other").expect("other");
    ensure!(this.cluster.is_none() && other.cluster.as_deref() == Some("cluster-1"));
    let pods = workflow_pods(&env.client("cluster-1").await?, "argo", &wf.name_any()).await?;
    ensure!(pods.len() == 1);
    let sa = pods[0]
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone());
    ensure!(sa.as_deref() == Some("workflow"), "{sa:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_clusters_and_namespaces_fail_the_node_and_say_so() -> Result<()> {
    // Allows cluster-1's default namespace, and one other namespace of cluster-0.
    let (_env, _controller, wf) = seeded_run(&main_workflow(
        "denied-",
        "",
        r#"
    dag:
      tasks:
      - {name: other-namespace, template: other-namespace}
      - {name: other-cluster, template: other-cluster}
      - {name: allowed-namespace, template: allowed-namespace}
  - name: other-namespace
    cluster: cluster-1
    namespace: kube-system
    container: {image: argoproj/argosay:v2}
  - name: other-cluster
    cluster: cluster-2
    namespace: default
    container: {image: argoproj/argosay:v2}
  - name: allowed-namespace
    namespace: default
    container: {image: argoproj/argosay:v2}
"#,
    ))
    .await?;
    ensure_phase(&wf, WorkflowPhase::Failed)?;
    let said = |display: &str| {
        node(&wf, display)
            .and_then(|n| n.message.clone())
            .unwrap_or_default()
    };
    ensure!(
        said("other-namespace")
            == r#"namespace "argo" is forbidden from creating resources in cluster "cluster-1" namespace "kube-system""#,
        "{}",
        said("other-namespace")
    );
    ensure!(
        said("other-cluster")
            == r#"namespace "argo" is forbidden from creating resources in cluster "cluster-2" namespace "default""#,
        "{}",
        said("other-cluster")
    );
    let allowed = node(&wf, "allowed-namespace").expect("allowed");
    ensure!(allowed.phase == NodePhase::Succeeded, "{allowed:#?}");
    ensure!(message(&wf).contains("forbidden"), "{}", message(&wf));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_added_while_running_are_used_without_a_restart() -> Result<()> {
    let (env, client) = Env::installed().await?;
    env.set_policy(SEED_POLICY)?;
    // Some cluster is configured from the start; cluster-1 is not.
    flotilla::clusters::enroll::add_key(
        &client,
        "argo",
        "elsewhere.default",
        br#"{"Host": "https://elsewhere.invalid:6443", "BearerToken": "not-used"}"#.to_vec(),
    )
    .await?;
    let _controller = flotilla::sandbox::spawn_controller(client, "cluster-0");
    let yaml = example("multi-cluster.yaml")?;
    let before = env.run_workflow(&yaml, TIMEOUT).await?;
    let main = node(&before, &before.name_any()).expect("node");
    ensure!(
        main.phase == NodePhase::Error
            && main.message.as_deref()
                == Some(
                    r#"cluster "cluster-1" is not configured: Secret rest-config has no key cluster-1.NAMESPACE or cluster-1."#
                ),
        "{main:#?}"
    );
    ensure!(
        !message(&before).contains("not-used"),
        "no secret in messages"
    );
    env.enroll("default").await?;
    // The watch brings the new key to the running controller: a later submission runs.
    let after = flotilla_e2e::wait_for(
        "a workflow to run in the newly added cluster",
        TIMEOUT,
        || async {
            let wf = env.run_workflow(&yaml, TIMEOUT).await?;
            Ok((phase(&wf) == Some(WorkflowPhase::Succeeded)).then_some(wf))
        },
    )
    .await?;
    ensure!(root_cluster(&after).as_deref() == Some("cluster-1"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_output_parameter_feeds_a_local_task() -> Result<()> {
    let (_env, _controller, wf) = seeded_run(&remote_greeting_dag(
        "remote-output-",
        "remote",
        "local",
        r#"    container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.v}}", /tmp/v]}
    outputs: {parameters: [{name: v, valueFrom: {path: /tmp/v}}]}
"#,
    ))
    .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let local = node(&wf, "local").expect("local");
    let got = first_output(&wf, "local");
    ensure!(got.as_deref() == Some("hello from cluster-1"), "{local:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_come_from_every_cluster_prefixed_with_node_and_cluster() -> Result<()> {
    let (env, _controller) = two_clusters(Some("default"), SEED_POLICY).await?;
    let client = env.client("cluster-0").await?;
    let yaml = main_workflow(
        "logs-",
        "",
        r#"
    steps:
    - - {name: far, template: far}
    - - {name: near, template: near}
  - name: far
    cluster: cluster-1
    namespace: default
    container: {image: alpine:3.20, command: [sh, -c, "sleep 1; echo hello from cluster-1"]}
  - name: near
    container: {image: alpine:3.20, command: [sh, -c, "echo hello from cluster-0"]}
"#,
    );
    // Followed from submission: lines arrive as the pods run; it ends with the workflow.
    let submitted = flotilla::sandbox::submit(&client, &yaml, "logs workflow").await?;
    let name = submitted.name_any();
    let mut followed = Vec::new();
    let mut collect = |line: String| followed.push(line);
    tokio::time::timeout(
        TIMEOUT,
        flotilla::logs::logs(
            &client,
            "argo",
            &name,
            &flotilla_e2e::log_options(true),
            &mut collect,
        ),
    )
    .await??;
    let expected = [
        "far (cluster-1/default): hello from cluster-1".to_string(),
        "near (cluster-0/argo): hello from cluster-0".to_string(),
    ];
    ensure!(followed == expected, "{followed:#?}");
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure!(phase(&wf) == Some(WorkflowPhase::Succeeded));
    // And afterwards, in the order the pods started.
    let mut printed = Vec::new();
    let mut collect = |line: String| printed.push(line);
    flotilla::logs::logs(
        &client,
        "argo",
        &name,
        &flotilla_e2e::log_options(false),
        &mut collect,
    )
    .await?;
    ensure!(printed == expected, "{printed:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_reported_and_the_workflow_resumes_when_it_is_back() -> Result<()>
{
    let (env, _controller) = two_clusters(Some("default"), SEED_POLICY).await?;
    let client = env.client("cluster-0").await?;
    let yaml = main_workflow(
        "flaky-network-",
        "",
        r#"
    dag:
      tasks:
      - {name: far, template: far}
      - {name: near, template: near}
  - name: far
    cluster: cluster-1
    namespace: default
    container: {image: argoproj/argosay:v2, args: [sleep, 3s]}
  - name: near
    container: {image: argoproj/argosay:v2, args: [sleep, 1s]}
"#,
    );
    let submitted = flotilla::sandbox::submit(&client, &yaml, "flaky network").await?;
    let name = submitted.name_any();
    let remote = env.client("cluster-1").await?;
    flotilla_e2e::wait_for("the remote pod to exist", TIMEOUT, || async {
        Ok((!workflow_pods(&remote, "default", &name).await?.is_empty()).then_some(()))
    })
    .await?;
    // cluster-1 becomes unreachable from the controller: its address in rest-config now leads
    // nowhere (this works the same on real clusters).
    flotilla::clusters::enroll::add_key(
        &client,
        "argo",
        "cluster-1.default",
        br#"{"Host": "https://127.0.0.1:9", "BearerToken": "x"}"#.to_vec(),
    )
    .await?;
    let api: kube::Api<flotilla_engine::workflow::Workflow> =
        kube::Api::namespaced(client.clone(), "argo");
    let held = flotilla_e2e::wait_for(
        "the node to report its cluster unreachable",
        TIMEOUT,
        || async {
            let wf = api.get(&name).await?;
            let said = node(&wf, "far")
                .and_then(|n| n.message.clone())
                .unwrap_or_default();
            Ok(said
                .contains(r#"cluster "cluster-1" is unreachable"#)
                .then_some(wf))
        },
    )
    .await?;
    ensure_phase(&held, WorkflowPhase::Running)?;
    // Back: the workflow finishes with the pod it had, none twice.
    env.enroll("default").await?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let far = node(&wf, "far").and_then(|n| n.message.clone());
    ensure!(far.is_none(), "{far:?}");
    ensure!(workflow_pods(&remote, "default", &name).await?.len() == 1);
    Ok(())
}

/// cluster-1 as the kubeconfig describes it.
fn cluster_1(
    env: &Env,
) -> Result<(
    kube::config::Kubeconfig,
    flotilla::clusters::enroll::RemoteCluster,
)> {
    let kc = kube::config::Kubeconfig::read_from(&env.kubeconfig)?;
    let rest =
        flotilla::clusters::enroll::rest_config_of(&kc, "cluster-1").map_err(anyhow::Error::msg)?;
    let remote = flotilla::clusters::enroll::RemoteCluster {
        name: "cluster-1".into(),
        server: rest["Host"].as_str().unwrap_or_default().to_string(),
        ca_data: rest["TLSClientConfig"]["CAData"]
            .as_str()
            .map(str::to_string),
    };
    Ok((kc, remote))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_later_designs_set_up_with_a_profile_secret() -> Result<()> {
    let (env, client) = Env::installed().await?;
    // As the design's quick start: the remote manifests through kustomize and kubectl…
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let rendered = env.kubectl("cluster-1").ok(&[
        "kustomize",
        "--load-restrictor=LoadRestrictionsNone",
        &root
            .join("manifests/quick-start/cluster-1")
            .display()
            .to_string(),
    ])?;
    env.kubectl("cluster-1")
        .ok_with(&["-n", "default", "apply", "-f", "-"], Some(&rendered))?;
    // …then `flotilla cluster get-profile cluster-1 default argo.cluster-0 argo | kubectl -n argo apply -f -`.
    let (_, remote) = cluster_1(&env)?;
    let profile = flotilla::clusters::enroll::get_profile(
        &env.client("cluster-1").await?,
        &remote,
        "default",
        "argo.cluster-0",
        "argo",
        false,
    )
    .await?;
    let yaml = serde_yaml::to_string(&profile)?;
    env.kubectl("cluster-0")
        .ok_with(&["-n", "argo", "apply", "-f", "-"], Some(&yaml))?;
    env.set_policy(SEED_POLICY)?;
    let _controller = flotilla::sandbox::spawn_controller(client, "cluster-0");
    let wf = env
        .run_workflow(&example("multi-cluster.yaml")?, TIMEOUT)
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    ensure!(root_cluster(&wf).as_deref() == Some("cluster-1"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_earlier_designs_set_up_with_cluster_add() -> Result<()> {
    let (env, client) = Env::installed().await?;
    env.kubectl("cluster-1").ok_with(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argo}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: workflow, namespace: argo}\n"),
    )?;
    // The other cluster needs the CRDs: executors write their task results there.
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/base/crds.yaml");
    env.kubectl("cluster-1")
        .ok(&["apply", "-f", &crds.display().to_string()])?;
    // `flotilla cluster add cluster-1. cluster-1`: the context's own credentials, any namespace.
    let (kc, _) = cluster_1(&env)?;
    let rest =
        flotilla::clusters::enroll::rest_config_of(&kc, "cluster-1").map_err(anyhow::Error::msg)?;
    flotilla::clusters::enroll::add_key(
        &client,
        "argo",
        "cluster-1.",
        rest.to_string().into_bytes(),
    )
    .await?;
    env.set_policy("p, cluster-0:argo, cluster-1:argo")?;
    let _controller = flotilla::sandbox::spawn_controller(client, "cluster-0");
    let wf = env
        .run_workflow(&example("multi-cluster-dag.yaml")?, TIMEOUT)
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_templates_and_pod_gc_work_in_another_cluster() -> Result<()> {
    let (env, _controller) = two_clusters(Some("default"), SEED_POLICY).await?;
    // The remote default service account may manage ConfigMaps there (the workflow's RBAC, not
    // the controller's, bounds a resource template).
    env.kubectl("cluster-1").ok_with(
        &["apply", "-f", "-"],
        Some("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: configmaps, namespace: default}\nrules: [{apiGroups: [\"\"], resources: [configmaps], verbs: [get, list, watch, create]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: configmaps, namespace: default}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmaps}\nsubjects: [{kind: ServiceAccount, name: default, namespace: default}]\n"),
    )?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "remote-resource-",
                "  podGC: {strategy: OnPodSuccess}\n",
                r#"
    cluster: cluster-1
    namespace: default
    resource:
      action: create
      successCondition: data.made == here
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "{{workflow.name}}"}
        data: {made: here}
    outputs:
      parameters: [{name: uid, valueFrom: {jsonPath: "{.metadata.uid}"}}]
"#,
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let name = wf.name_any();
    let made = env.kubectl("cluster-1").json(&[
        "-n",
        "default",
        "get",
        "configmap",
        &name,
        "-o",
        "json",
    ])?;
    let uid = first_output(&wf, &name);
    ensure!(
        uid.as_deref() == made["metadata"]["uid"].as_str(),
        "{uid:?} {made}"
    );
    ensure!(
        env.kubectl("cluster-0")
            .run(&["-n", "default", "get", "configmap", &name], None)?
            .status
            .code()
            != Some(0),
        "created in cluster-1, not cluster-0"
    );
    // podGC applies to the remote pod too.
    let remote = env.client("cluster-1").await?;
    flotilla_e2e::wait_for(
        "the remote pod to be garbage-collected",
        TIMEOUT,
        || async {
            Ok(workflow_pods(&remote, "default", &name)
                .await?
                .is_empty()
                .then_some(()))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_policy_keeps_the_last_good_one_and_says_why() -> Result<()> {
    let (env, _controller) = two_clusters(Some("default"), SEED_POLICY).await?;
    env.kubectl("cluster-0").ok_with(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: workflow-controller-authz, namespace: argo}\ndata:\n  policy.csv: |\n    p, cluster-0:argo\n"),
    )?;
    let kubectl = env.kubectl("cluster-0");
    let reason = flotilla_e2e::wait_for("an InvalidPolicy event", TIMEOUT, || async {
        let events = kubectl.json(&["-n", "argo", "get", "events.events.k8s.io", "-o", "json"])?;
        let found = events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["reason"] == "InvalidPolicy");
        Ok(found.map(|e| e["note"].as_str().unwrap_or_default().to_string()))
    })
    .await?;
    ensure!(
        reason.contains("key policy.csv: line 1")
            && reason.contains("keeping the last good policy"),
        "{reason}"
    );
    // The seed's policy is still in force.
    let wf = env
        .run_workflow(&example("multi-cluster.yaml")?, TIMEOUT)
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_without_a_cluster_name_refuses_remote_clusters() -> Result<()> {
    let (env, client) = Env::installed().await?;
    env.enroll("default").await?;
    let config = flotilla::controller::ControllerConfig::default();
    let outcome = tokio::time::timeout(
        TIMEOUT,
        flotilla::controller::run(client, config, std::future::pending()),
    )
    .await?;
    let error = outcome
        .expect_err("the controller must not start")
        .to_string();
    ensure!(
        error.contains("other clusters are configured (Secret argo/rest-config: cluster-1)")
            && error.contains("set ARGO_CLUSTER or --cluster"),
        "{error}"
    );
    Ok(())
}
