//! Resource templates run by the executor as the workflow's service account: the actions,
//! the conditions it waits on (with and without the right to watch), the denials it reports.

use anyhow::{Result, ensure};
use flotilla_e2e::{Env, WORKFLOW_TIMEOUT as TIMEOUT, ensure_phase, main_workflow, node, pods_of};
use flotilla_engine::workflow::{NodePhase, Workflow, WorkflowPhase};
use kube::ResourceExt;
use kube::api::Api;

/// Waits until the ConfigMap `name` in `argo` exists.
async fn created_configmap(kubectl: &flotilla_e2e::Kubectl, name: &str) -> Result<()> {
    flotilla_e2e::wait_for("the ConfigMap to be created", TIMEOUT, || async {
        Ok(kubectl
            .run(&["-n", "argo", "get", "configmap", name], None)?
            .status
            .success()
            .then_some(()))
    })
    .await
}

/// Sets `data.go: yes` on the ConfigMap `name` in `argo`: the success condition the resource
/// tests wait on.
fn say_go(kubectl: &flotilla_e2e::Kubectl, name: &str) -> Result<()> {
    kubectl.ok(&[
        "-n",
        "argo",
        "patch",
        "configmap",
        name,
        "--type=merge",
        "-p",
        r#"{"data":{"go":"yes"}}"#,
    ])?;
    Ok(())
}

/// A service account in `argo` with a Role for ConfigMaps and the executor's task results.
fn resource_account(env: &Env, name: &str) -> Result<Account> {
    account_with(env, name, "get, list, watch, create, update, patch, delete")
}

/// A service account in `argo` that may use `verbs` on ConfigMaps and write task results.
fn account_with(env: &Env, name: &str, verbs: &str) -> Result<Account> {
    let manifests = format!(
        r#"
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {name}, namespace: argo}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: {name}, namespace: argo}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [{verbs}]
- apiGroups: [argoproj.io]
  resources: [workflowtaskresults]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {name}, namespace: argo}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {name}}}
subjects: [{{kind: ServiceAccount, name: {name}, namespace: argo}}]
"#
    );
    let kubectl = env.kubectl("cluster-0");
    kubectl.ok_with(&["apply", "-f", "-"], Some(&manifests))?;
    Ok(Account {
        kubectl,
        name: name.to_string(),
    })
}

/// A test's service account with its Role and RoleBinding (all named alike in `argo`): deleted
/// when the test ends, pass or fail, so nothing is left on a real cluster.
struct Account {
    kubectl: flotilla_e2e::Kubectl,
    name: String,
}

impl Drop for Account {
    fn drop(&mut self) {
        let kinds =
            "serviceaccount,role.rbac.authorization.k8s.io,rolebinding.rbac.authorization.k8s.io";
        let delete = [
            "-n",
            "argo",
            "delete",
            kinds,
            &self.name,
            "--ignore-not-found",
            "--wait=false",
        ];
        if let Err(e) = self.kubectl.ok(&delete) {
            eprintln!("cleaning up service account {}: {e}", self.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_templates_act_as_the_workflow_service_account() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let account = flotilla_e2e::unique("maker");
    let _account = resource_account(&env, &account)?;
    let client = env.client("cluster-0").await?;
    let submitted = flotilla::sandbox::submit(
        &client,
        &main_workflow(
            "k8s-resource-",
            &format!("  serviceAccountName: {account}\n"),
            r#"
    dag:
      tasks:
      - {name: create, template: create}
      - {name: apply, template: apply, dependencies: [create]}
      - name: read
        template: read
        dependencies: [apply]
        arguments: {parameters: [{name: cm, value: "{{tasks.create.outputs.parameters.name}}"}]}
      - {name: remove, template: remove, dependencies: [read]}
  - name: create
    resource:
      action: create
      setOwnerReference: true
      successCondition: data.go == yes
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "{{workflow.name}}-cm", labels: {drop: me}}
        data: {state: new}
    outputs:
      parameters: [{name: name, valueFrom: {jsonPath: "{.metadata.name}"}}]
  - name: apply
    resource:
      action: apply
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "{{workflow.name}}-applied"}
        data: {state: applied}
  - name: read
    inputs: {parameters: [{name: cm}]}
    resource:
      action: get
      successCondition: data.state == new, data.go == yes
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "{{inputs.parameters.cm}}"}
    outputs:
      parameters: [{name: uid, valueFrom: {jsonPath: "{.metadata.uid}"}}]
  - name: remove
    resource:
      action: delete
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "{{workflow.name}}-applied"}
"#,
        ),
        "resource workflow",
    )
    .await?;
    let name = submitted.name_any();
    // `create` waits on its success condition until something sets data.go.
    let kubectl = env.kubectl("cluster-0");
    let cm = format!("{name}-cm");
    created_configmap(&kubectl, &cm).await?;
    let running = env.client("cluster-0").await?;
    let wfs: Api<Workflow> = Api::namespaced(running, "argo");
    // Its progress reaches the status within the controller's progress delay.
    let now = flotilla_e2e::wait_for("create's node to start", TIMEOUT, || async {
        let now = wfs.get(&name).await?;
        let started = node(&now, "create").is_some_and(|n| n.phase != NodePhase::Pending);
        Ok(started.then_some(now))
    })
    .await?;
    ensure!(
        node(&now, "create").map(|n| n.phase) == Some(NodePhase::Running),
        "create waits for its condition: {:#?}",
        now.status
    );
    say_go(&kubectl, &cm)?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;

    let created = kubectl.json(&["-n", "argo", "get", "configmap", &cm, "-o", "json"])?;
    let read = node(&wf, "read")
        .and_then(|n| n.outputs.clone())
        .unwrap_or_default();
    ensure!(
        read.parameters
            .first()
            .and_then(|p| p.value.clone())
            .map(|v| v.as_str().to_string())
            == created["metadata"]["uid"].as_str().map(str::to_string),
        "the created ConfigMap's name reached `read`, whose jsonPath output is its uid: {read:?}"
    );
    let owner = &created["metadata"]["ownerReferences"][0];
    ensure!(
        owner["kind"] == "Workflow" && owner["name"] == name.as_str(),
        "{created}"
    );
    // `delete` waited for the applied ConfigMap to be gone.
    ensure!(
        !kubectl
            .run(
                &["-n", "argo", "get", "configmap", &format!("{name}-applied")],
                None
            )?
            .status
            .success()
    );
    // The pods ran as the workflow's service account, through the executor, with no init container.
    for pod in pods_of(&env, &wf).await? {
        let spec = pod.spec.unwrap_or_default();
        ensure!(spec.service_account_name.as_deref() == Some(account.as_str()));
        ensure!(spec.init_containers.is_none());
    }
    Ok(())
}

/// Argo's documented minimal role for a resource template grants create, get and patch: no
/// list or watch. The executor then waits by reading the object, and the condition set later
/// still ends the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_template_waits_with_only_create_get_and_patch() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let account = flotilla_e2e::unique("minimal");
    let _account = account_with(&env, &account, "create, get, patch")?;
    let client = env.client("cluster-0").await?;
    let submitted = flotilla::sandbox::submit(
        &client,
        &main_workflow(
            "k8s-resource-minimal-",
            &format!("  serviceAccountName: {account}\n"),
            r#"
    resource:
      action: create
      setOwnerReference: true
      successCondition: data.go == yes
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "{{workflow.name}}-cm"}
        data: {state: new}
"#,
        ),
        "minimal resource workflow",
    )
    .await?;
    let kubectl = env.kubectl("cluster-0");
    let cm = format!("{}-cm", submitted.name_any());
    created_configmap(&kubectl, &cm).await?;
    say_go(&kubectl, &cm)?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_failures_name_the_condition_and_the_denied_request() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let account = flotilla_e2e::unique("reader");
    let _account = resource_account(&env, &account)?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "k8s-resource-fail-",
                "",
                &format!(
                    r#"
    dag:
      tasks:
      - {{name: judged, template: judged}}
      - {{name: denied, template: denied}}
  - name: judged
    serviceAccountName: {account}
    resource:
      action: create
      successCondition: data.state == done
      failureCondition: data.state == broken
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{generateName: judged-}}
        data: {{state: broken}}
  - name: denied
    resource:
      action: create
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{generateName: denied-}}
"#
                ),
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Failed)?;
    let judged = node(&wf, "judged").expect("judged node");
    ensure!(
        judged.phase == NodePhase::Failed
            && judged.message.as_deref()
                == Some("failure condition 'data.state == broken' evaluated true"),
        "{judged:#?}"
    );
    // The namespace's default service account may not create ConfigMaps: Kubernetes' own 403.
    let denied = node(&wf, "denied").expect("denied node");
    let message = denied.message.clone().unwrap_or_default();
    ensure!(
        denied.phase == NodePhase::Failed
            && message.contains(r#"configmaps is forbidden: User "system:serviceaccount:argo:default" cannot create resource "configmaps""#),
        "{denied:#?}"
    );
    Ok(())
}
