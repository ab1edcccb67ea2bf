//! Argo-shaped workflows run by the controller on cluster-0: the single-cluster engine end to end.

use anyhow::{Result, ensure};
use flotilla::workflow::{NodePhase, NodeType, Workflow, WorkflowPhase};
use flotilla_e2e::{Env, WORKFLOW_TIMEOUT as TIMEOUT, node, phase, workflow_pods};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;

async fn pods_of(env: &Env, wf: &Workflow) -> Result<Vec<Pod>> {
    workflow_pods(&env.client("cluster-0").await?, "argo", &wf.name_any()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_and_output_parameters() -> Result<()> {
    let env = Env::start().await?;
    let _controller = env.controller().await?;
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
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Succeeded),
        "{:#?}",
        wf.status
    );
    let consumer = node(&wf, "consume-parameter").expect("consumer node");
    let input = consumer
        .inputs
        .as_ref()
        .and_then(|i| i.parameters.first())
        .and_then(|p| p.value.clone());
    ensure!(
        input.as_ref().map(|v| v.as_str()) == Some("hello world"),
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
    let env = Env::start().await?;
    let _controller = env.controller().await?;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_propagate_and_retries_are_bounded() -> Result<()> {
    let env = Env::start().await?;
    let _controller = env.controller().await?;
    let wf = env
        .run_workflow(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: retry-}
spec:
  entrypoint: main
  templates:
  - name: main
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
            TIMEOUT,
        )
        .await?;
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Failed),
        "{:#?}",
        wf.status
    );
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
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: restart-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: slow, template: sleep}
    - - {name: next, template: ok}
  - name: sleep
    container: {image: argoproj/argosay:v2, args: [sleep, 2s]}
  - name: ok
    container: {image: argoproj/argosay:v2}
"#,
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
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Succeeded),
        "{:#?}",
        wf.status
    );
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
    let env = Env::start().await?;
    let _controller = env.controller().await?;
    let bad = env
        .run_workflow(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: bad-}
spec:
  entrypoint: main
  templates:
  - name: main
    inputs: {parameters: [{name: who}]}
    container: {image: argoproj/argosay:v2}
"#,
            TIMEOUT,
        )
        .await?;
    ensure!(
        phase(&bad) == Some(WorkflowPhase::Failed),
        "{:#?}",
        bad.status
    );
    let message = bad
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
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
            "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: good-}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    container: {image: argoproj/argosay:v2}\n",
            TIMEOUT,
        )
        .await?;
    ensure!(phase(&good) == Some(WorkflowPhase::Succeeded));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_result_feeds_the_next_step() -> Result<()> {
    let env = Env::start().await?;
    let _controller = env.controller().await?;
    let wf = env
        .run_workflow(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: scripts-}
spec:
  entrypoint: main
  templates:
  - name: main
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
            TIMEOUT,
        )
        .await?;
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Succeeded),
        "{:#?}",
        wf.status
    );
    let print = node(&wf, "print").expect("print node");
    let n = print
        .inputs
        .as_ref()
        .and_then(|i| i.parameters.first())
        .and_then(|p| p.value.clone());
    ensure!(
        n.as_ref().map(|v| v.as_str()) == Some("42"),
        "the script's output reached the next step: {n:?}"
    );
    Ok(())
}
