//! The attacker's view of resource templates (issue 10, item 7): a tenant whose policy allows
//! only its own cluster and namespace, with a service account that could do more, tries to
//! write elsewhere through a resource template's manifest. The controller refuses the manifest's
//! target before a pod exists, nothing outside the policy changes, and the controller goes on
//! running what is allowed.

use anyhow::{Context as _, Result, ensure};
use flotilla_e2e::{
    Env, Tenant, WORKFLOW_TIMEOUT as TIMEOUT, ensure_phase, node, unique, workflow_pods,
};
use flotilla_engine::workflow::{NodePhase, WorkflowPhase};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams};

/// What the test made outside the tenant's namespace, removed whatever the outcome.
struct Made {
    victim: String,
    deployer_role: String,
    /// The ClusterRole the attacker tries to create (removed too, should it exist).
    attacker_role: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_templates_cannot_write_outside_the_policy() -> Result<()> {
    let (env, admin) = Env::installed().await?;
    let tenant = env.tenant("cluster-0", "attacker").await?;
    let made = Made {
        victim: unique("victim"),
        deployer_role: unique("deployer"),
        attacker_role: unique("attacker-root"),
    };
    let outcome = attack(&env, &tenant, &made).await;
    let cleaned = clean_up(&admin, &made).await;
    tenant.remove().await?;
    outcome.and(cleaned)
}

async fn attack(env: &Env, tenant: &Tenant, made: &Made) -> Result<()> {
    let ns = &tenant.namespace;
    let (victim, deployer_role, root) = (&made.victim, &made.deployer_role, &made.attacker_role);
    // The victim's namespace, and in the tenant's a service account a platform team bound
    // cluster-wide (a CI deployer, say): it may write ConfigMaps anywhere and ClusterRoles.
    env.kubectl("cluster-0").ok_with(
        &["apply", "-f", "-"],
        Some(&format!(
            r#"apiVersion: v1
kind: Namespace
metadata: {{name: {victim}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: deployer, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {deployer_role}}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  verbs: [get, create, delete]
- apiGroups: [argoproj.io]
  resources: [workflowtaskresults]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {deployer_role}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {deployer_role}}}
subjects: [{{kind: ServiceAccount, name: deployer, namespace: {ns}}}]
"#
        )),
    )?;
    // The policy grants the tenant nothing beyond its own namespace (the model's default).
    env.set_policy(&format!("p, cluster-0:{ns}, cluster-0:{ns}"))?;
    let _controller =
        flotilla::sandbox::spawn_controller(env.client("cluster-0").await?, "cluster-0");

    let submitted = flotilla::sandbox::submit(
        &tenant.client,
        &format!(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: trespass-, namespace: {ns}}}
spec:
  entrypoint: main
  serviceAccountName: deployer
  arguments: {{parameters: [{{name: target, value: {victim}}}]}}
  templates:
  - name: main
    dag:
      tasks:
      - {{name: steal, template: steal}}
      - {{name: escalate, template: escalate}}
      - {{name: own, template: own}}
  - name: steal
    resource:
      action: create
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: loot, namespace: "{{{{workflow.parameters.target}}}}"}}
        data: {{taken: "yes"}}
  - name: escalate
    resource:
      action: create
      manifest: |
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {{name: {root}}}
        rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get]}}]
  - name: own
    resource:
      action: create
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: mine}}
        data: {{made: here}}
"#
        ),
        "the attacker's workflow",
    )
    .await?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Failed)?;
    let failed = |display: &str| -> Result<String> {
        let n = node(&wf, display).with_context(|| format!("no node {display}"))?;
        ensure!(n.phase == NodePhase::Failed, "{display}: {n:#?}");
        Ok(n.message.clone().unwrap_or_default())
    };
    let stolen = failed("steal")?;
    ensure!(
        stolen.contains(r#"resource ConfigMap "loot""#)
            && stolen.contains(&format!(
                r#"forbidden from creating resources in cluster "cluster-0" namespace "{victim}""#
            )),
        "{stolen}"
    );
    let escalated = failed("escalate")?;
    ensure!(
        escalated.contains(&format!(r#"resource ClusterRole "{root}""#))
            && escalated.contains(r#"cluster-scoped resources in cluster "cluster-0" (that needs policy object "cluster-0:*")"#),
        "{escalated}"
    );
    let own = node(&wf, "own").context("no node own")?;
    ensure!(own.phase == NodePhase::Succeeded, "{own:#?}");

    // Nothing was made outside the policy — no object, and no pod for the refused nodes.
    let admin = env.client("cluster-0").await?;
    let loot = Api::<ConfigMap>::namespaced(admin.clone(), victim)
        .get_opt("loot")
        .await?;
    ensure!(loot.is_none(), "a ConfigMap was written in {victim}");
    let role = Api::<ClusterRole>::all(admin.clone()).get_opt(root).await?;
    ensure!(role.is_none(), "ClusterRole {root} was created");
    let pods = workflow_pods(&admin, ns, &wf.name_any()).await?;
    ensure!(pods.len() == 1, "only the allowed node's pod: {pods:#?}");
    let mine = Api::<ConfigMap>::namespaced(admin.clone(), ns)
        .get_opt("mine")
        .await?;
    ensure!(mine.is_some(), "the allowed ConfigMap is in {ns}");

    // The controller is still running: an allowed resource template still succeeds.
    let again = flotilla::sandbox::submit(
        &tenant.client,
        &format!(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: afterwards-, namespace: {ns}}}
spec:
  entrypoint: own
  serviceAccountName: deployer
  templates:
  - name: own
    resource:
      action: apply
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: mine, namespace: {ns}}}
        data: {{made: again}}
"#
        ),
        "an allowed workflow",
    )
    .await?;
    let wf = env.wait_finished(&again, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    Ok(())
}

/// Removes what the test made outside the tenant's namespace (absent is fine).
async fn clean_up(admin: &kube::Client, made: &Made) -> Result<()> {
    async fn gone<K>(api: Api<K>, name: &str) -> Result<()>
    where
        K: kube::Resource + Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
    use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    gone(
        Api::<ClusterRoleBinding>::all(admin.clone()),
        &made.deployer_role,
    )
    .await?;
    gone(Api::<ClusterRole>::all(admin.clone()), &made.deployer_role).await?;
    gone(Api::<ClusterRole>::all(admin.clone()), &made.attacker_role).await?;
    gone(Api::<Namespace>::all(admin.clone()), &made.victim).await
}
