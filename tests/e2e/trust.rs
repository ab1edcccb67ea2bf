//! The attacker's tests: a tenant with only a tenant's rights (workflows in its namespace, spec
//! and status alike; pods and task results where it is granted them) tries to get past the
//! policy, stop the controller, or forge another tenant's outputs. Each must fail against it:
//! the controller keeps running, nothing outside the policy changes, and the victim runs
//! correctly or fails with a message naming the conflict.

use anyhow::{Context as _, Result, ensure};
use flotilla_e2e::{Env, Tenant, WORKFLOW_TIMEOUT as TIMEOUT, message, phase, unique};
use flotilla_engine::workflow::{Workflow, WorkflowPhase};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

/// A namespace in cluster-0 that the test creates, shares between tenants, and deletes.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) admin: kube::Client,
}

impl Shared {
    pub(crate) async fn create(env: &Env, prefix: &str) -> Result<Shared> {
        let admin = env.client("cluster-0").await?;
        let name = unique(prefix);
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(admin.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        flotilla_e2e::executor_rbac(&admin, &name).await?;
        Ok(Shared { name, admin })
    }

    pub(crate) async fn remove(self) -> Result<()> {
        Api::<Namespace>::all(self.admin)
            .delete(&self.name, &DeleteParams::default())
            .await?;
        Ok(())
    }
}

/// The controller in cluster-0 with `policy`; returns it and an admin client.
pub(crate) async fn controller(
    env: &Env,
    policy: &str,
) -> Result<(flotilla::sandbox::ControllerHandle, kube::Client)> {
    let admin = env.client("cluster-0").await?;
    flotilla::sandbox::install(&admin).await?;
    env.set_policy(policy)?;
    Ok((
        flotilla::sandbox::spawn_controller(admin.clone(), "cluster-0"),
        admin,
    ))
}

/// Submits `yaml` as `tenant` in its namespace and waits until it finishes.
pub(crate) async fn run_as(env: &Env, tenant: &Tenant, yaml: &str) -> Result<Workflow> {
    let created = submit_as(tenant, yaml).await?;
    env.wait_finished(&created, TIMEOUT).await
}

/// Submits `yaml` as `tenant` in its namespace, without waiting.
pub(crate) async fn submit_as(tenant: &Tenant, yaml: &str) -> Result<Workflow> {
    let mut wf: Workflow = serde_yaml::from_str(yaml)?;
    wf.metadata.namespace = Some(tenant.namespace.clone());
    Api::<Workflow>::namespaced(tenant.client.clone(), &tenant.namespace)
        .create(&PostParams::default(), &wf)
        .await
        .context("the tenant submits its workflow")
}

/// A workflow that must still run: the controller is alive and deciding.
pub(crate) async fn still_serving(env: &Env, tenant: &Tenant) -> Result<()> {
    let wf = run_as(
        env,
        tenant,
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: healthy-}\nspec:\n  entrypoint: main\n  templates:\n    - name: main\n      container: {image: argoproj/argosay:v2, args: [echo, fine]}\n",
    )
    .await?;
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Succeeded),
        "a healthy workflow after the attack: {}",
        message(&wf)
    );
    Ok(())
}

/// A pod of the victim's, by the admin (it stands for any pod the attacker may not touch).
async fn victims_pod(admin: &kube::Client, namespace: &str) -> Result<Pod> {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "victims-pod", "labels": {
            "workflows.argoproj.io/workflow": "victim",
            "flotilla.dev/workflow-namespace": namespace,
        }},
        "spec": {"containers": [{"name": "main", "image": "argoproj/argosay:v2",
            "args": ["sleep", "600s"]}]},
    }))?;
    Ok(Api::<Pod>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &pod)
        .await?)
}

/// A workflow the tenant writes with a status of its choosing (the CRD has no status
/// subresource): terminated, with its one node claiming `victims-pod` in `namespace`.
fn forged(namespace: &str, cluster: Option<&str>) -> Result<Workflow> {
    let name = unique("forger");
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "shutdown": "Terminate",
            "templates": [{"name": "main", "container": {"image": "argoproj/argosay:v2"}}],
        },
        "status": {
            "phase": "Running",
            "startedAt": "2026-01-01T00:00:00Z",
            "nodes": {name.clone(): {
                "id": name, "name": name, "displayName": name, "type": "Pod",
                "phase": "Running", "templateName": "main",
                "podName": "victims-pod", "namespace": namespace, "cluster": cluster,
            }},
        },
    }))?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_status_cannot_make_the_controller_delete_another_teams_pod() -> Result<()> {
    let env = Env::start().await?;
    let attacker = env.tenant("cluster-0", "team-a").await?;
    let victim = env.tenant("cluster-0", "team-b").await?;
    let shared = Shared::create(&env, "shared").await?;
    // The attacker may use the shared namespace; never the victim's.
    let policy = format!(
        "p, cluster-0:{}, cluster-0:{}",
        attacker.namespace, shared.name
    );
    let (_controller, admin) = controller(&env, &policy).await?;
    let in_victims = victims_pod(&admin, &victim.namespace).await?;
    let in_shared = victims_pod(&admin, &shared.name).await?;

    let api: Api<Workflow> = Api::namespaced(attacker.client.clone(), &attacker.namespace);
    for (namespace, cluster) in [
        (victim.namespace.as_str(), None),
        (shared.name.as_str(), None),
        (victim.namespace.as_str(), Some("cluster-0")),
        (shared.name.as_str(), Some("cluster-€")),
    ] {
        let created = api
            .create(&PostParams::default(), &forged(namespace, cluster)?)
            .await
            .context("the attacker writes a workflow with a forged status")?;
        let wf = env.wait_finished(&created, TIMEOUT).await?;
        ensure!(
            phase(&wf) != Some(WorkflowPhase::Succeeded),
            "forged node in {namespace} ({cluster:?}): {}",
            message(&wf)
        );
    }
    for (pod, namespace) in [(&in_victims, &victim.namespace), (&in_shared, &shared.name)] {
        let now = Api::<Pod>::namespaced(admin.clone(), namespace)
            .get_opt("victims-pod")
            .await?
            .context("the victim's pod was deleted")?;
        ensure!(
            now.uid() == pod.uid(),
            "the victim's pod in {namespace} was replaced"
        );
        ensure!(
            now.metadata.deletion_timestamp.is_none(),
            "the victim's pod in {namespace} is being deleted"
        );
    }
    still_serving(&env, &victim).await?;
    shared.remove().await?;
    attacker.remove().await?;
    victim.remove().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_graph_with_a_cycle_errors_its_own_workflow_only() -> Result<()> {
    let env = Env::start().await?;
    let attacker = env.tenant("cluster-0", "team-a").await?;
    let (_controller, _admin) = controller(&env, "").await?;
    let name = unique("cycle");
    let wf: Workflow = serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "leaf"}]]},
            {"name": "leaf", "container": {"image": "argoproj/argosay:v2"}},
        ]},
        "status": {"phase": "Running", "nodes": {name.clone(): {
            "id": name, "name": name, "displayName": name, "type": "Steps",
            "phase": "Running", "templateName": "main", "outboundNodes": [name],
        }}},
    }))?;
    let api: Api<Workflow> = Api::namespaced(attacker.client.clone(), &attacker.namespace);
    let created = api.create(&PostParams::default(), &wf).await?;
    let wf = env.wait_finished(&created, TIMEOUT).await?;
    ensure!(phase(&wf) == Some(WorkflowPhase::Error), "{}", message(&wf));
    ensure!(
        message(&wf).contains("a node graph has no cycles"),
        "{}",
        message(&wf)
    );
    still_serving(&env, &attacker).await?;
    attacker.remove().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_name_that_is_not_a_dns_label_cannot_reach_the_policy() -> Result<()> {
    let env = Env::start().await?;
    let attacker = env.tenant("cluster-0", "team-a").await?;
    // A wildcard line: casbin-rs's keyMatch panics on "cluster-€" against it.
    let policy = format!("p, cluster-0:{}, cluster-1:*", attacker.namespace);
    let (_controller, _admin) = controller(&env, &policy).await?;
    let wf = run_as(
        &env,
        &attacker,
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: euro-}\nspec:\n  entrypoint: main\n  templates:\n    - name: main\n      cluster: \"cluster-€\"\n      namespace: default\n      container: {image: argoproj/argosay:v2}\n",
    )
    .await?;
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Failed),
        "{}",
        message(&wf)
    );
    ensure!(
        message(&wf).contains("templates.main.cluster \"cluster-€\" is invalid"),
        "{}",
        message(&wf)
    );
    still_serving(&env, &attacker).await?;
    attacker.remove().await
}
