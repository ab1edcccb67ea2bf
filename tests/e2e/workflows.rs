//! Argo-shaped workflows run by the controller on cluster-0: the single-cluster engine end to end.

use anyhow::{Result, ensure};
use flotilla_e2e::{
    Env, WORKFLOW_TIMEOUT as TIMEOUT, ensure_phase, first_input, main_workflow, node, phase,
    pods_of,
};
use flotilla_engine::workflow::{NodePhase, NodeType, Workflow, WorkflowPhase};
use kube::ResourceExt;
use kube::api::Api;

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
    let yaml = format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: {}}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: a-moment
        template: pause
        withSequence: {{count: "6000"}}
  - name: pause
    suspend: {{duration: "1"}}
"#,
        name_without_id_collisions()
    );
    let wf = env.run_workflow(&yaml, TIMEOUT).await?;
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

/// A name for the 6000-node workflow whose node IDs are all distinct: one in about 300 names
/// makes two of its nodes share an ID (Argo's IDs are 32-bit hashes), which errors the workflow
/// (`engine::tests::basics::two_nodes_of_one_id_error_the_workflow_naming_both`).
fn name_without_id_collisions() -> String {
    loop {
        let name = flotilla_e2e::unique("large");
        let mut ids = std::collections::HashSet::new();
        let names = [
            name.clone(),
            format!("{name}[0]"),
            format!("{name}[0].a-moment"),
        ]
        .into_iter()
        .chain((0..6000).map(|i| format!("{name}[0].a-moment({i}:{i})")));
        if names
            .map(|node| flotilla_engine::naming::node_id(&name, &node))
            .all(|id| ids.insert(id))
        {
            return name;
        }
    }
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
    // Argo's `processNodeRetries` once the limit is reached.
    ensure!(
        flaky.message.as_deref() == Some("No more retries left"),
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

/// Argo's node events: each node's phase changes are Events on the workflow, annotated with the
/// node's name and type, as `kubectl get events` shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_nodes_phase_changes_are_events_on_the_workflow() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "node-events-",
                "",
                "    container: {image: argoproj/argosay:v2}\n",
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let name = wf.name_any();
    let kubectl = env.kubectl("cluster-0");
    let selector = format!("involvedObject.name={name}");
    let reasons = flotilla_e2e::wait_for("the node's events", TIMEOUT, || {
        let events = kubectl.json(&["-n", "argo", "get", "events", "--field-selector", &selector]);
        async move {
            let events = events?;
            let mut found: Vec<(String, String, String, String)> = events["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| {
                    e["reason"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("WorkflowNode"))
                })
                .map(|e| {
                    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
                    let annotations = &e["metadata"]["annotations"];
                    (
                        text(&e["reason"]),
                        text(&e["message"]),
                        text(&annotations["workflows.argoproj.io/node-name"]),
                        text(&annotations["workflows.argoproj.io/node-type"]),
                    )
                })
                .collect();
            found.sort();
            Ok((found.len() >= 2).then_some(found))
        }
    })
    .await?;
    ensure!(
        reasons
            == [
                (
                    "WorkflowNodeRunning".to_string(),
                    format!("Running node {name}"),
                    name.clone(),
                    "Pod".to_string()
                ),
                (
                    "WorkflowNodeSucceeded".to_string(),
                    format!("Succeeded node {name}"),
                    name.clone(),
                    "Pod".to_string()
                ),
            ],
        "{reasons:#?}"
    );
    Ok(())
}
