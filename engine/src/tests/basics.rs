//! Steps, DAGs, fan-outs, parameters and Argo's workflow events on small workflows.

use super::*;

#[test]
fn hello_world_runs_one_pod_named_after_the_workflow() {
    let mut h = Harness::new(HELLO);
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(
        pod["metadata"]["name"], "wf",
        "a single-node workflow's pod is named after it (v2 names)"
    );
    assert_eq!(pod["metadata"]["namespace"], "argo");
    assert_eq!(
        pod["metadata"]["labels"]["workflows.argoproj.io/workflow"],
        "wf"
    );
    assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert_eq!(pod["spec"]["containers"][0]["name"], "main");
    assert_eq!(pod["spec"]["containers"][0]["image"], "argoproj/argosay:v2");
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    // Reconciling again before the pod is observed asks for the same pod (idempotent by name).
    let again = h.step();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["metadata"]["name"], "wf");
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.progress.as_deref(), Some("1/1"));
    assert!(status.finished_at.is_some());
    assert_eq!(h.node("wf").phase, NodePhase::Succeeded);
}

#[test]
fn steps_run_group_by_group() {
    let mut h = Harness::new(&main_spec(
        r#"
      steps:
        - - {name: first, template: say, arguments: {parameters: [{name: msg, value: one}]}}
        - - {name: second-a, template: say, arguments: {parameters: [{name: msg, value: two}]}}
          - {name: second-b, template: say, arguments: {parameters: [{name: msg, value: three}]}}
    - name: say
      inputs: {parameters: [{name: msg}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.msg}}"]}
"#,
    ));
    let first = h.step();
    assert_eq!(first.len(), 1, "only the first group starts");
    assert_eq!(args_of(&first[0]), r#"["echo","one"]"#);
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(h.distinct_pods(), 3, "{:?}", h.pod_names());
    assert_eq!(h.node("[1]").children.len(), 2);
    assert_eq!(
        h.node("second-b").inputs.as_ref().unwrap().parameters[0].value,
        Some(AnyString::from("three"))
    );
}

const DIAMOND: &str = r#"
spec:
  entrypoint: diamond
  templates:
    - name: diamond
      dag:
        tasks:
          - {name: A, template: echo, arguments: {parameters: [{name: message, value: A}]}}
          - {name: B, depends: A, template: echo, arguments: {parameters: [{name: message, value: "{{tasks.A.outputs.parameters.out}}-B"}]}}
          - {name: C, depends: A, template: echo, arguments: {parameters: [{name: message, value: C}]}}
          - {name: D, depends: B && C, template: echo, arguments: {parameters: [{name: message, value: D}]}}
    - name: echo
      inputs: {parameters: [{name: message}]}
      outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out}}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.message}}", /tmp/out]}
"#;

#[test]
fn dag_diamond_with_outputs_passed_between_tasks() {
    let mut h = Harness::new(DIAMOND);
    assert_eq!(h.step().len(), 1, "only A has no dependencies");
    assert_eq!(h.run(&echo_outputs), WorkflowPhase::Succeeded);
    assert_eq!(h.distinct_pods(), 4, "{:?}", h.pod_names());
    let b = h
        .created
        .iter()
        .find(|p| p["metadata"]["annotations"]["workflows.argoproj.io/node-name"] == "wf.B")
        .unwrap();
    assert_eq!(
        args_of(b),
        r#"["echo","A-B","/tmp/out"]"#,
        "B received A's output parameter"
    );
    // D hangs under both B and C; A under the DAG node.
    let d_id = h.node("D").id.clone();
    assert!(h.node("B").children.contains(&d_id) && h.node("C").children.contains(&d_id));
    assert!(h.node("wf").children.contains(&h.node("A").id));
    assert_eq!(
        h.wf.status.as_ref().unwrap().progress.as_deref(),
        Some("4/4")
    );
}

#[test]
fn a_failed_task_fails_the_dag_and_omits_its_dependents() {
    let mut h = Harness::new(DIAMOND);
    let phase = h.run(&|pod: &Value| {
        if pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"] == "wf.B" {
            (PodPhase::Failed, Some(3), Outputs::default())
        } else {
            echo_outputs(pod)
        }
    });
    assert_eq!(phase, WorkflowPhase::Failed);
    assert_eq!(h.node("B").message.as_deref(), Some("Error (exit code 3)"));
    assert_eq!(h.node("D").phase, NodePhase::Omitted);
    let message = h.message().unwrap_or_default().to_string();
    assert!(message.contains("exit code 3"), "{message}");
}

#[test]
fn depends_on_failure_and_when_conditions() {
    let mut h = Harness::new(&main_spec(
        r#"
      dag:
        tasks:
          - {name: flaky, template: fail}
          - {name: cleanup, depends: flaky.Failed, template: ok}
          - {name: never, depends: flaky.Succeeded, template: ok}
          - {name: maybe, template: ok, when: "{{workflow.name}} == other"}
    - name: fail
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
    - name: ok
      container: {image: argoproj/argosay:v2}
"#,
    ));
    let phase = h.run(&|pod: &Value| {
        if args_of(pod).contains("exit") {
            (PodPhase::Failed, Some(1), Outputs::default())
        } else {
            succeed(pod)
        }
    });
    assert_eq!(h.node("cleanup").phase, NodePhase::Succeeded);
    assert_eq!(h.node("never").phase, NodePhase::Omitted);
    assert_eq!(h.node("maybe").phase, NodePhase::Skipped);
    assert_eq!(
        h.node("maybe").message.as_deref(),
        Some("when 'wf == other' evaluated false")
    );
    // The failure of `flaky` reaches the leaves `never` (omitted) → the DAG fails, as in Argo.
    assert_eq!(phase, WorkflowPhase::Failed);
}

#[test]
fn with_items_fans_out_with_argo_node_names() {
    let mut h = Harness::new(&main_spec(
        r#"
      steps:
        - - name: print
            template: say
            arguments: {parameters: [{name: os, value: "{{item.image}}:{{item.tag}}"}]}
            withItems:
              - {image: debian, tag: "9.1"}
              - {image: alpine, tag: "3.6"}
    - name: say
      inputs: {parameters: [{name: os}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.os}}"]}
"#,
    ));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    let names: Vec<String> = h
        .created
        .iter()
        .map(|p| {
            p["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "wf[0].print(0:image:debian,tag:9.1)",
            "wf[0].print(1:image:alpine,tag:3.6)"
        ]
    );
    assert_eq!(args_of(&h.created[1]), r#"["echo","alpine:3.6"]"#);
}

/// A fan-out wider than the controller allows errors its node, naming the field, and makes no
/// pod; the error ends the workflow as any task's error does.
#[test]
fn a_fan_out_past_the_controllers_limit_errors_naming_the_field() {
    let mut h = Harness::new(&main_spec(
        r#"
      dag:
        tasks:
          - {name: fan, template: say, withParam: '["a", "b", "c"]'}
    - name: say
      container: {image: argoproj/argosay:v2}
"#,
    ));
    h.config.max_fan_out = 2;
    assert_eq!(h.run(&succeed), WorkflowPhase::Error);
    assert!(h.created.is_empty());
    assert_eq!(
        h.node("fan").message.as_deref(),
        Some(
            "withParam expands to 3 items, more than the 2 a fan-out may have (the controller's --max-fan-out)"
        )
    );
}

#[test]
fn a_missing_parameter_is_an_error_naming_it() {
    let mut h = Harness::new(&main_spec(
        r#"
      inputs: {parameters: [{name: who}]}
      container: {image: argoproj/argosay:v2}
"#,
    ));
    h.step();
    // Caught by validation before anything runs, as Argo does: the workflow fails as invalid.
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    let message = h.message().unwrap_or_default().to_string();
    assert!(
        message.starts_with("invalid spec: ") && message.contains("who"),
        "{message}"
    );
    assert!(h.created.is_empty());
}

#[test]
fn workflow_parallelism_limits_running_pods() {
    let mut h = Harness::new(&main_spec_with(
        "  parallelism: 2\n",
        r#"
      steps:
        - - {name: fan, template: ok, withSequence: {count: "5"}}
    - name: ok
      container: {image: argoproj/argosay:v2}
"#,
    ));
    assert_eq!(h.step().len(), 2);
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(
        h.created
            .iter()
            .map(Harness::node_id)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        5
    );
}

#[test]
fn pods_of_one_template_are_each_personalised() {
    let mut h = Harness::new(&main_spec(
        r#"
      steps:
        - - {name: fan, template: ok, withSequence: {count: "3"}}
    - name: ok
      container: {image: argoproj/argosay:v2, env: [{name: USER_VAR, value: "x"}]}
"#,
    ));
    let pods = h.step();
    assert_eq!(pods.len(), 3);
    let mut seen = std::collections::BTreeSet::new();
    for pod in &pods {
        let name = pod["metadata"]["name"].as_str().unwrap();
        let node = pod["metadata"]["annotations"]["workflows.argoproj.io/node-id"]
            .as_str()
            .unwrap();
        let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
        let value = |k: &str| {
            env.iter()
                .find(|e| e["name"] == k)
                .and_then(|e| e["value"].as_str())
                .unwrap()
        };
        assert_eq!(value("ARGO_POD_NAME"), name);
        assert_eq!(value("ARGO_NODE_ID"), node);
        assert_eq!(value("USER_VAR"), "x");
        assert!(
            pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
                .as_str()
                .unwrap()
                .contains("fan(")
        );
        assert!(
            seen.insert((name.to_string(), node.to_string())),
            "each pod is its own: {name}"
        );
    }
}

#[test]
fn runaway_recursion_fails_the_node_instead_of_the_controller() {
    let mut h = Harness::new(
        r#"
spec:
  entrypoint: loop
  templates:
    - name: loop
      steps:
        - - {name: again, template: loop}
"#,
    );
    h.step();
    assert_recursion_stopped(&h);
}

/// Steps `syovyzfb` and `sjznlmeg` of workflow `wf` hash to one node ID (Argo's IDs are 32-bit
/// FNV-1a hashes of node names; this pair was found by search). Argo would take the second for
/// the first and never run it, and the workflow would succeed; here the workflow errors naming
/// both, and makes no pod.
#[test]
fn two_nodes_of_one_id_error_the_workflow_naming_both() {
    assert_eq!(
        crate::naming::node_id("wf", "wf[0].syovyzfb"),
        crate::naming::node_id("wf", "wf[0].sjznlmeg"),
        "the test's names must collide"
    );
    let mut h = Harness::new(&main_spec(
        r#"      steps:
        - - {name: syovyzfb, template: ok}
          - {name: sjznlmeg, template: ok}
    - name: ok
      container: {image: argoproj/argosay:v2}
"#,
    ));
    let pods = h.step();
    assert!(pods.is_empty(), "{pods:?}");
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(WorkflowPhase::Error));
    let message = status.message.as_deref().unwrap_or_default();
    assert!(
        message.contains(r#""wf[0].syovyzfb""#) && message.contains(r#""wf[0].sjznlmeg""#),
        "{message}"
    );
}

/// The second of two nodes of one ID starts a pass after the first has succeeded: Argo would
/// find the first's node, take it as the second's, and go on without running it.
#[test]
fn a_later_node_of_an_earlier_ones_id_errors_the_workflow() {
    assert_eq!(
        crate::naming::node_id("wf", "wf[0].skucewja"),
        crate::naming::node_id("wf", "wf[1].sxojnqkt"),
        "the test's names must collide"
    );
    let mut h = Harness::new(&main_spec(
        r#"      steps:
        - - {name: skucewja, template: ok}
        - - {name: sxojnqkt, template: ok}
    - name: ok
      container: {image: argoproj/argosay:v2}
"#,
    ));
    assert_eq!(h.run(&succeed), WorkflowPhase::Error);
    let made: std::collections::BTreeSet<_> = h
        .created
        .iter()
        .map(|p| p["metadata"]["name"].to_string())
        .collect();
    assert_eq!(made.len(), 1, "only the first group's pod: {made:?}");
    let message = h.message().unwrap_or_default();
    assert!(
        message.contains(r#""wf[0].skucewja""#) && message.contains(r#""wf[1].sxojnqkt""#),
        "{message}"
    );
}

/// Argo's workflow events: `WorkflowRunning` ("Workflow Running") when a valid workflow starts,
/// `WorkflowSucceeded` ("Workflow completed") when it succeeds.
#[test]
fn a_workflow_says_it_runs_and_completes_in_argos_words() {
    let mut h = Harness::new(HELLO);
    h.step();
    let said = |h: &Harness| -> Vec<(bool, String, String)> {
        h.events
            .iter()
            .map(|e| (e.warning, e.reason.clone(), e.message.clone()))
            .collect()
    };
    assert_eq!(
        said(&h),
        [(false, "WorkflowRunning".into(), "Workflow Running".into())]
    );
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(
        said(&h),
        [(
            false,
            "WorkflowSucceeded".into(),
            "Workflow completed".into()
        )]
    );
}
