//! Argo-shaped workflows run by the controller on cluster-0: the single-cluster engine end to end.

use anyhow::{Result, ensure};
use flotilla_e2e::{
    Env, WORKFLOW_TIMEOUT as TIMEOUT, ensure_phase, first_input, main_workflow, node, phase,
    workflow_pods,
};
use flotilla_engine::workflow::{NodePhase, NodeType, Workflow, WorkflowPhase};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;

async fn pods_of(env: &Env, wf: &Workflow) -> Result<Vec<Pod>> {
    workflow_pods(&env.client("cluster-0").await?, "argo", &wf.name_any()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_and_output_parameters() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: output-parameter-}
spec:
  entrypoint: output-parameter
  templates:
  - name: output-parameter
    steps:
    - - name: generate-parameter
        template: whalesay
    - - name: consume-parameter
        template: print-message
        arguments:
          parameters: [{name: message, value: "{{steps.generate-parameter.outputs.parameters.hello-param}}"}]
  - name: whalesay
    container:
      image: argoproj/argosay:v2
      args: [echo, "hello world", /tmp/hello_world.txt]
    outputs:
      parameters:
      - name: hello-param
        valueFrom: {path: /tmp/hello_world.txt}
  - name: print-message
    inputs:
      parameters: [{name: message}]
    container:
      image: argoproj/argosay:v2
      args: [echo, "{{inputs.parameters.message}}"]
"#,
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    node(&wf, "consume-parameter").expect("consumer node");
    let input = first_input(&wf, "consume-parameter");
    ensure!(
        input.as_deref() == Some("hello world"),
        "the output parameter reached the next step: {input:?}"
    );
    ensure!(
        wf.status
            .as_ref()
            .and_then(|s| s.progress.clone())
            .as_deref()
            == Some("2/2")
    );
    // The controller writes the status only: the spec is as submitted (no nulls added).
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        env.client("cluster-0").await?,
        "argo",
        &kube::api::ApiResource::erase::<Workflow>(&()),
    );
    let raw = api.get(&wf.name_any()).await?;
    let spec = serde_json::to_string(&raw.data["spec"])?;
    ensure!(
        !spec.contains("null"),
        "the stored spec was rewritten: {spec}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_of_two_hundred_items() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let items: Vec<String> = (0..200).map(|i| format!("\"item-{i}\"")).collect();
    let yaml = format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: loops-}}
spec:
  entrypoint: loop
  templates:
  - name: loop
    steps:
    - - name: print
        template: say
        arguments: {{parameters: [{{name: msg, value: "{{{{item}}}}"}}]}}
        withItems: [{}]
  - name: say
    inputs: {{parameters: [{{name: msg}}]}}
    container: {{image: argoproj/argosay:v2, args: [echo, "{{{{inputs.parameters.msg}}}}"]}}
"#,
        items.join(", ")
    );
    let wf = env.run_workflow(&yaml, TIMEOUT).await?;
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Succeeded),
        "{:?}",
        wf.status.as_ref().map(|s| &s.message)
    );
    let pods = pods_of(&env, &wf).await?;
    ensure!(
        pods.len() == 200,
        "one pod per item, no duplicates: {}",
        pods.len()
    );
    let pod_nodes = wf.status.as_ref().map(|s| {
        s.nodes
            .values()
            .filter(|n| n.type_ == NodeType::Pod)
            .count()
    });
    ensure!(pod_nodes == Some(200), "{pod_nodes:?}");
    Ok(())
}

/// A workflow whose status passes a mebibyte (6000 one-second suspensions, no pods) is stored
/// with its nodes in `status.compressedNodes`, as Argo stores them, and reads back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_past_a_mebibyte_is_stored_compressed() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let yaml = r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: large-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: a-moment
        template: pause
        withSequence: {count: "6000"}
  - name: pause
    suspend: {duration: "1"}
"#;
    let wf = env.run_workflow(yaml, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let paused = wf.status.as_ref().map_or(0, |s| {
        s.nodes
            .values()
            .filter(|n| n.type_ == NodeType::Suspend)
            .count()
    });
    ensure!(paused == 6000, "{paused} suspend nodes read back, not 6000");
    // As stored: the nodes compressed, none whole.
    let name = wf.metadata.name.as_deref().unwrap_or_default();
    let kubectl = env.kubectl("cluster-0");
    let raw = kubectl.json(&["-n", "argo", "get", "workflow", name]);
    // A workflow of a mebibyte is not left behind on a real cluster.
    kubectl.ok(&["-n", "argo", "delete", "workflow", name])?;
    let raw = raw?;
    ensure!(
        raw["status"]["compressedNodes"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
            && raw["status"].get("nodes").is_none(),
        "status as stored: {}",
        serde_json::to_string(&raw["status"])
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>()
    );
    Ok(())
}

/// A workflow whose nodes would take more than any status can hold (16 MiB expanded: here 200
/// nodes each carrying a 100 KB parameter) errors saying so, and makes no pod first that no
/// status would record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_too_large_to_store_errors_before_any_pod_is_made() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let big = "x".repeat(100_000);
    let yaml = format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: oversized-}}
spec:
  entrypoint: main
  arguments: {{parameters: [{{name: big, value: "{big}"}}]}}
  templates:
  - name: main
    steps:
    - - name: say
        template: say
        withSequence: {{count: "200"}}
        arguments: {{parameters: [{{name: text, value: "{{{{workflow.parameters.big}}}}"}}]}}
  - name: say
    inputs: {{parameters: [{{name: text}}]}}
    container: {{image: argoproj/argosay:v2, args: [echo, "{{{{inputs.parameters.text}}}}"]}}
"#
    );
    let wf = env.run_workflow(&yaml, TIMEOUT).await?;
    let name = wf.metadata.name.clone().unwrap_or_default();
    let kubectl = env.kubectl("cluster-0");
    let selector = format!("workflows.argoproj.io/workflow={name}");
    let pods = kubectl.json(&["-n", "argo", "get", "pods", "-l", &selector]);
    kubectl.ok(&["-n", "argo", "delete", "workflow", &name])?;
    ensure_phase(&wf, WorkflowPhase::Error)?;
    let message = wf
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    ensure!(
        message.contains("workflow is longer than maximum allowed size"),
        "message: {message}"
    );
    let pods = pods?;
    let made = pods["items"].as_array().map_or(0, Vec::len);
    ensure!(
        made == 0,
        "{made} pods were made for a workflow that could not be stored"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_propagate_and_retries_are_bounded() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "retry-",
                "",
                r#"
    dag:
      tasks:
      - {name: flaky, template: fail}
      - {name: after, depends: flaky, template: ok}
  - name: fail
    retryStrategy: {limit: "2"}
    container: {image: argoproj/argosay:v2, args: [exit, "3"]}
  - name: ok
    container: {image: argoproj/argosay:v2}
"#,
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Failed)?;
    let flaky = node(&wf, "flaky").expect("retry node");
    ensure!(
        flaky.type_ == NodeType::Retry && flaky.children.len() == 3,
        "three attempts: {flaky:#?}"
    );
    ensure!(
        flaky.message.as_deref() == Some("Error (exit code 3)"),
        "{:?}",
        flaky.message
    );
    ensure!(node(&wf, "after").map(|n| n.phase) == Some(NodePhase::Omitted));
    ensure!(pods_of(&env, &wf).await?.len() == 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_restart_loses_and_duplicates_nothing() -> Result<()> {
    let env = Env::start().await?;
    let controller = env.controller().await?;
    let client = env.client("cluster-0").await?;
    let submitted = flotilla::sandbox::submit(
        &client,
        &main_workflow(
            "restart-",
            "",
            r#"
    steps:
    - - {name: slow, template: sleep}
    - - {name: next, template: ok}
  - name: sleep
    container: {image: argoproj/argosay:v2, args: [sleep, 2s]}
  - name: ok
    container: {image: argoproj/argosay:v2}
"#,
        ),
        "restart test",
    )
    .await?;
    let api: Api<Workflow> = Api::namespaced(client.clone(), "argo");
    flotilla_e2e::wait_for("the first step to run", TIMEOUT, || async {
        let wf = api.get(&submitted.name_any()).await?;
        Ok(node(&wf, "slow")
            .is_some_and(|n| n.phase == NodePhase::Running)
            .then_some(()))
    })
    .await?;
    drop(controller);
    let _controller = env.controller().await?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let pods = pods_of(&env, &wf).await?;
    ensure!(
        pods.len() == 2,
        "exactly one pod per step after the restart: {:?}",
        pods.iter().map(|p| p.name_any()).collect::<Vec<_>>()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_workflow_errors_and_others_carry_on() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let bad = env
        .run_workflow(
            &main_workflow(
                "bad-",
                "",
                "    inputs: {parameters: [{name: who}]}\n    container: {image: argoproj/argosay:v2}\n",
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&bad, WorkflowPhase::Failed)?;
    let message = flotilla_e2e::message(&bad);
    ensure!(
        message.starts_with("invalid spec: ") && message.contains("who"),
        "{message}"
    );
    ensure!(
        pods_of(&env, &bad).await?.is_empty(),
        "nothing runs for an invalid workflow"
    );
    let good = env
        .run_workflow(
            &main_workflow("good-", "", "    container: {image: argoproj/argosay:v2}\n"),
            TIMEOUT,
        )
        .await?;
    ensure!(phase(&good) == Some(WorkflowPhase::Succeeded));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_result_feeds_the_next_step() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "scripts-",
                "",
                r#"
    steps:
    - - {name: generate, template: gen}
    - - name: print
        template: say
        arguments: {parameters: [{name: n, value: "{{steps.generate.outputs.result}}"}]}
  - name: gen
    script:
      image: alpine:3.20
      command: [sh]
      source: |
        echo 42
  - name: say
    inputs: {parameters: [{name: n}]}
    container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.n}}"]}
"#,
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    node(&wf, "print").expect("print node");
    let n = first_input(&wf, "print");
    ensure!(
        n.as_deref() == Some("42"),
        "the script's output reached the next step: {n:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_without_source_runs_an_empty_script() -> Result<()> {
    // Argo reads an absent `source` as an empty script; the CRD lets it through, and the
    // controller once could not read the workflow at all (no phase, no event, ever).
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "no-source-",
                "",
                "    script: {image: alpine:3.20, command: [sh]}\n",
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_run_their_own_entrypoints_and_pods_keep_their_args() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "entrypoints-",
                "",
                r#"
    steps:
    - - {name: moo, template: v1}
      - {name: say, template: v2}
  - name: v1
    container: {image: argoproj/argosay:v1}
  - name: v2
    container: {image: argoproj/argosay:v2, args: [echo, hi]}
"#,
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let pods = workflow_pods(&env.client("cluster-0").await?, "argo", &wf.name_any()).await?;
    let main_of = |template: &str| {
        pods.iter()
            .find(|p| p.name_any().contains(&format!("-{template}-")))
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.iter().find(|c| c.name == "main"))
            .map(|c| (c.command.clone().unwrap_or_default(), c.args.clone()))
    };
    // As Argo's emissary: the executor in front of the image's entrypoint, the args as written
    // (argosay:v1 has no entrypoint; its CMD, cowsay, becomes the args).
    let (command, args) = main_of("v2").expect("the v2 pod");
    ensure!(
        command.ends_with(&["--".to_string(), "/argosay".to_string()]),
        "{command:?}"
    );
    ensure!(args == Some(vec!["echo".into(), "hi".into()]), "{args:?}");
    let (command, args) = main_of("v1").expect("the v1 pod");
    ensure!(
        command.last().map(String::as_str) == Some("--"),
        "{command:?}"
    );
    ensure!(args == Some(vec!["cowsay".into()]), "{args:?}");
    Ok(())
}

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
fn resource_account(env: &Env, name: &str) -> Result<()> {
    account_with(env, name, "get, list, watch, create, update, patch, delete")
}

/// A service account in `argo` that may use `verbs` on ConfigMaps and write task results.
fn account_with(env: &Env, name: &str, verbs: &str) -> Result<()> {
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
    env.kubectl("cluster-0")
        .ok_with(&["apply", "-f", "-"], Some(&manifests))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_templates_act_as_the_workflow_service_account() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let account = flotilla_e2e::unique("maker");
    resource_account(&env, &account)?;
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
    let now = wfs.get(&name).await?;
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
    account_with(&env, &account, "create, get, patch")?;
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
    resource_account(&env, &account)?;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_world_and_a_retry_that_succeeds() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let hello = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello-world.yaml"),
    )?;
    let wf = env.run_workflow(&hello, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    ensure!(pods_of(&env, &wf).await?.len() == 1);

    // Attempts 0 and 1 exit 1 (`$FAIL_0`, `$FAIL_1`); attempt 2's `$FAIL_2` is unset, so a
    // bare `exit` ends it with status 0.
    let wf = env
        .run_workflow(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: retry-to-success-}
spec:
  entrypoint: flaky
  templates:
  - name: flaky
    retryStrategy: {limit: "3", retryPolicy: OnFailure}
    container:
      image: alpine:3.20
      command: [sh, -c, "exit $FAIL_{{retries}}"]
      env: [{name: FAIL_0, value: "1"}, {name: FAIL_1, value: "1"}]
"#,
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let retry = node(&wf, &wf.name_any()).expect("the retry node");
    let nodes = &wf.status.as_ref().expect("status").nodes;
    let attempts: Vec<NodePhase> = retry
        .children
        .iter()
        .filter_map(|c| nodes.get(c).map(|n| n.phase))
        .collect();
    ensure!(
        retry.type_ == NodeType::Retry
            && attempts == [NodePhase::Failed, NodePhase::Failed, NodePhase::Succeeded],
        "{retry:#?} {attempts:?}"
    );
    Ok(())
}

/// Argo's `arguments-parameters-from-configmap` and `global-parameters-from-configmap`: values
/// come from a ConfigMap labelled as parameters; an unlabelled one is not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_come_from_config_maps_labelled_as_parameters() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let kubectl = env.kubectl("cluster-0");
    let labelled = flotilla_e2e::unique("params");
    let unlabelled = flotilla_e2e::unique("plain");
    let config_maps = format!(
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: {labelled}
  namespace: argo
  labels: {{workflows.argoproj.io/configmap-type: Parameter}}
data: {{msg: hello from a configmap}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: {unlabelled}, namespace: argo}}
data: {{msg: never read}}
"#
    );
    kubectl.ok_with(&["apply", "-f", "-"], Some(&config_maps))?;
    let workflow = |name: &str| {
        main_workflow(
            "params-from-configmap-",
            &format!(
                "  arguments:\n    parameters:\n    - name: global\n      valueFrom: {{configMapKeyRef: {{name: {name}, key: msg}}}}\n"
            ),
            &format!(
                r#"    inputs:
      parameters:
      - name: local
        valueFrom: {{configMapKeyRef: {{name: {name}, key: msg}}}}
    container:
      image: argoproj/argosay:v2
      args: [echo, "{{{{workflow.parameters.global}}}} / {{{{inputs.parameters.local}}}}"]
"#
            ),
        )
    };
    let result = async {
        let wf = env.run_workflow(&workflow(&labelled), TIMEOUT).await?;
        ensure_phase(&wf, WorkflowPhase::Succeeded)?;
        let pods = pods_of(&env, &wf).await?;
        let main = pods
            .first()
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.iter().find(|c| c.name == "main"))
            .and_then(|c| c.args.clone());
        ensure!(
            main == Some(vec![
                "echo".into(),
                "hello from a configmap / hello from a configmap".into()
            ]),
            "{main:?}"
        );
        let wf = env.run_workflow(&workflow(&unlabelled), TIMEOUT).await?;
        ensure_phase(&wf, WorkflowPhase::Error)?;
        let message = wf.status.and_then(|s| s.message).unwrap_or_default();
        ensure!(
            message.contains(&format!(
                "ConfigMap '{unlabelled}' does not exist. Please make sure it has the label workflows.argoproj.io/configmap-type: Parameter"
            )),
            "{message}"
        );
        Ok(())
    }
    .await;
    kubectl.ok(&["-n", "argo", "delete", "configmap", &labelled, &unlabelled])?;
    result
}

/// Argo's `sidecar` example, with a sidecar that would run for an hour: main's end stops it,
/// and the workflow and its pod succeed with main.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecars_are_stopped_when_main_ends() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "sidecar-",
                "",
                r#"    container: {image: alpine:3.20, command: [sh, -c], args: ["echo main done"]}
    sidecars:
    - {name: waits, image: alpine:3.20, command: [sh, -c], args: ["sleep 3600"]}
"#,
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let pods = pods_of(&env, &wf).await?;
    let status = pods
        .first()
        .and_then(|p| p.status.clone())
        .unwrap_or_default();
    ensure!(status.phase.as_deref() == Some("Succeeded"), "{status:#?}");
    let sidecar = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == "waits")
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref())
        .map(|t| t.exit_code);
    ensure!(sidecar == Some(0), "{status:#?}");
    Ok(())
}

/// An expression Flotilla cannot evaluate yet is refused at submission, naming where it is —
/// never passed to the container as text while the workflow succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expression_is_refused_naming_where_it_is() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "expression-",
                "",
                "    container: {image: argoproj/argosay:v2, args: [echo, \"{{=1 + 1}}\"]}\n",
            ),
            TIMEOUT,
        )
        .await?;
    let status = wf.status.clone().unwrap_or_default();
    let message = status.message.clone().unwrap_or_default();
    ensure!(
        status.phase.is_some_and(|p| p != WorkflowPhase::Succeeded)
            && message.contains(
                "templates.main.container.args[1]: expressions ({{=…}}) are not supported by Flotilla yet: {{=1 + 1}}"
            ),
        "{status:#?}"
    );
    ensure!(pods_of(&env, &wf).await?.is_empty(), "no pod ran");
    Ok(())
}

/// Today's `argoproj/argosay:v2` echoes to standard output: the template's `outputs.result`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argosay_echo_is_the_templates_result() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "argosay-result-",
                "",
                "    container: {image: argoproj/argosay:v2, args: [echo, hello from argosay]}\n",
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let result = node(&wf, &wf.name_any()).and_then(|n| n.outputs.clone().and_then(|o| o.result));
    ensure!(
        result.as_deref() == Some("hello from argosay"),
        "{result:?}"
    );
    Ok(())
}
