//! Argo's `{{=…}}` expressions where Argo's own examples put them: task arguments over
//! `withItems`, container arguments, `when`, `withParam`; refused at validation when they call a
//! function the evaluator lacks, or when the controller has no evaluator.

use super::*;

/// A container's standard output becomes its node's `outputs.result`.
fn says(result: &str) -> impl Fn(&Value) -> (PodPhase, Option<i32>, Outputs) + '_ {
    move |_| {
        let outputs = Outputs {
            result: Some(result.to_string()),
            ..Default::default()
        };
        (PodPhase::Succeeded, Some(0), outputs)
    }
}

/// After argo-workflows' examples/expression-tag-template.yaml.
#[test]
fn task_arguments_and_container_args_are_evaluated_per_item() {
    let mut h = Harness::new(&main_spec(
        r#"      dag:
        tasks:
        - name: task-0
          template: pod-0
          arguments:
            parameters: [{name: foo, value: "{{=asInt(item) * 10}}"}]
          withItems: [1, 2]
    - name: pod-0
      inputs: {parameters: [{name: foo}]}
      container:
        image: argoproj/argosay:v2
        args: [echo, "hello {{=asInt(inputs.parameters.foo) + 1}} {{=sprig.upper(workflow.name)}}"]
"#,
    ));
    let pods = h.step();
    let mut said: Vec<String> = pods.iter().map(args_of).collect();
    said.sort();
    assert_eq!(
        said,
        [r#"["echo","hello 11 WF"]"#, r#"["echo","hello 21 WF"]"#]
    );
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(
        h.node("task-0(0:1)").inputs.as_ref().unwrap().parameters[0]
            .value
            .as_ref()
            .map(|v| v.as_str()),
        Some("10")
    );
}

/// `when` holding an expression over a step's result (examples/conditionals-complex.yaml's
/// shape): the expression's value is what `when` then evaluates.
#[test]
fn when_takes_the_value_of_an_expression_over_a_steps_result() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - {name: flip, template: flip}
      - - {name: heads, template: ok, when: "{{=steps.flip.outputs.result == 'heads'}}"}
        - {name: tails, template: ok, when: "{{=sprig.trim(steps.flip.outputs.result) == 'tails'}}"}
    - name: flip
      container: {image: argoproj/argosay:v2}
    - name: ok
      container: {image: argoproj/argosay:v2}
"#,
    ));
    assert_eq!(h.run(&says("heads")), WorkflowPhase::Succeeded);
    assert_eq!(h.node("heads").phase, NodePhase::Succeeded);
    let tails = h.node("tails");
    assert_eq!(tails.phase, NodePhase::Skipped);
    assert_eq!(
        tails.message.as_deref(),
        Some("when 'false' evaluated false")
    );
}

#[test]
fn with_param_takes_the_list_an_expression_builds() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - name: each
          template: echo
          arguments: {parameters: [{name: n, value: "{{item}}"}]}
          withParam: "{{=toJson(filter([1, 2, 3], {# > 1}))}}"
    - name: echo
      inputs: {parameters: [{name: n}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.n}}"]}
"#,
    ));
    let pods = h.step();
    let mut said: Vec<String> = pods.iter().map(args_of).collect();
    said.sort();
    assert_eq!(said, [r#"["echo","2"]"#, r#"["echo","3"]"#]);
}

/// Argo substitutes a pod's template leniently: an expression that fails at run time reaches the
/// container as written.
#[test]
fn an_expression_failing_at_run_time_is_left_as_written() {
    let mut h = Harness::new(&main_spec(
        "      container: {image: argoproj/argosay:v2, args: [echo, \"{{=asInt('x')}}\"]}\n",
    ));
    let pods = h.step();
    assert_eq!(args_of(&pods[0]), r#"["echo","{{=asInt('x')}}"]"#);
}

#[test]
fn validation_names_the_field_and_the_function_the_evaluator_lacks() {
    let mut h = Harness::new(&main_spec(
        "      container: {image: argoproj/argosay:v2, args: [echo, \"{{=sprig.uuidv4()}}\"]}\n",
    ));
    assert!(h.step().is_empty());
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(WorkflowPhase::Failed), "{status:#?}");
    assert_eq!(
        status.message.as_deref(),
        Some(
            "invalid spec: templates.main.container.args[1]: {{=sprig.uuidv4()}}: the expression calls sprig.uuidv4(), which Flotilla's expressions do not have"
        )
    );
}

#[test]
fn validation_names_the_field_of_a_syntax_error() {
    let mut h = Harness::new(&main_spec(
        "      container: {image: argoproj/argosay:v2, args: [echo, \"{{=1 +}}\"]}\n",
    ));
    assert!(h.step().is_empty());
    let message = h.wf.status.as_ref().unwrap().message.clone().unwrap();
    assert!(
        message.starts_with(
            "invalid spec: templates.main.container.args[1]: {{=1 +}}: cannot parse the expression"
        ),
        "{message}"
    );
}

#[test]
fn without_an_evaluator_expressions_are_refused() {
    let mut h = Harness::new(&main_spec(
        "      container: {image: argoproj/argosay:v2, args: [echo, \"{{=1 + 1}}\"]}\n",
    ));
    h.observed.expressions = None;
    assert!(h.step().is_empty());
    let message = h.wf.status.as_ref().unwrap().message.clone().unwrap();
    assert!(
        message.ends_with("expressions ({{=…}}) are not supported by Flotilla yet: {{=1 + 1}}"),
        "{message}"
    );
}

/// A step's echoed text is its result; any other step says `heads`.
fn echoes(pod: &Value) -> (PodPhase, Option<i32>, Outputs) {
    let args = user_args(pod);
    let result = match args.first().map(String::as_str) {
        Some("echo") => args[1..].join(" "),
        _ => "heads".to_string(),
    };
    says(&result)(pod)
}

/// argo-workflows' examples/conditional-parameters.yaml: a steps template's output parameter
/// computed by `valueFrom.expression` over its steps' results.
#[test]
fn a_steps_output_parameter_takes_an_expressions_value() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - {name: flip-coin, template: flip-coin}
      - - {name: heads, template: heads, when: "{{steps.flip-coin.outputs.result}} == heads"}
        - {name: tails, template: tails, when: "{{steps.flip-coin.outputs.result}} == tails"}
      outputs:
        parameters:
        - name: stepresult
          valueFrom:
            expression: "steps['flip-coin'].outputs.result == 'heads' ? steps.heads.outputs.result : steps.tails.outputs.result"
        - name: fallback
          valueFrom: {expression: "asInt(steps.heads.outputs.result)", default: "none"}
    - name: flip-coin
      container: {image: argoproj/argosay:v2}
    - name: heads
      container: {image: argoproj/argosay:v2, args: [echo, "it was heads"]}
    - name: tails
      container: {image: argoproj/argosay:v2, args: [echo, "it was tails"]}
"#,
    ));
    assert_eq!(h.run(&echoes), WorkflowPhase::Succeeded);
    let outputs = h.node("wf").outputs.clone().unwrap();
    let value = |name: &str| {
        outputs
            .parameters
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.as_ref())
            .map(|v| v.0.clone())
    };
    assert_eq!(value("stepresult").as_deref(), Some("it was heads"));
    // `asInt` of words fails: the parameter takes its default.
    assert_eq!(value("fallback").as_deref(), Some("none"));
}

#[test]
fn an_output_expression_is_checked_at_validation() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - {name: a, template: a}
      outputs:
        parameters:
        - name: p
          valueFrom: {expression: "nope(steps.a.outputs.result)"}
    - name: a
      container: {image: argoproj/argosay:v2}
"#,
    ));
    assert!(h.step().is_empty());
    assert_eq!(
        h.wf.status.as_ref().unwrap().message.as_deref(),
        Some(
            "invalid spec: templates.main.outputs.parameters.p.valueFrom.expression: the expression calls nope(), which Flotilla's expressions do not have"
        )
    );
}

/// The attempt a pod runs (`…(n)` ends its node name).
fn attempt_of(pod: &Value) -> usize {
    let name = pod["metadata"]["annotations"][crate::workflow::labels::NODE_NAME]
        .as_str()
        .unwrap();
    let n = name.rsplit_once('(').unwrap().1.trim_end_matches(')');
    n.parse().unwrap()
}

/// argo-workflows' examples/retry-conditional.yaml: retry while the last attempt exited above 1
/// and an input (substituted into the expression) says it is safe.
#[test]
fn a_retry_expression_stops_the_retries_when_it_turns_false() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - {name: safe-to-retry, template: safe-to-retry}
      - - name: retry
          template: retry
          arguments: {parameters: [{name: safe-to-retry, value: "{{steps.safe-to-retry.outputs.result}}"}]}
    - name: safe-to-retry
      container: {image: argoproj/argosay:v2, args: [echo, "true"]}
    - name: retry
      inputs: {parameters: [{name: safe-to-retry}]}
      retryStrategy:
        limit: "10"
        expression: "asInt(lastRetry.exitCode) > 1 && {{inputs.parameters.safe-to-retry}} == true"
      container: {image: argoproj/argosay:v2, args: [exit, "?"]}
"#,
    ));
    let phase = h.run(&|pod: &Value| {
        if user_args(pod).first().map(String::as_str) == Some("echo") {
            return echoes(pod);
        }
        // Exit codes 3, 2, then 1: the expression allows two retries, not a third.
        let code = 3 - attempt_of(pod) as i32;
        let outputs = Outputs {
            exit_code: Some(code.to_string()),
            ..Default::default()
        };
        (PodPhase::Failed, Some(code), outputs)
    });
    assert_eq!(phase, WorkflowPhase::Failed);
    let retry = h.node("retry");
    assert_eq!(retry.children.len(), 3, "{retry:#?}");
    assert_eq!(retry.phase, NodePhase::Failed);
    assert_eq!(
        retry.message.as_deref(),
        Some("retryStrategy.expression evaluated to false")
    );
}

#[test]
fn the_retry_limit_reached_says_no_more_retries_left() {
    let mut h = Harness::new(&main_spec(
        r#"      retryStrategy: {limit: "1", expression: "lastRetry.status == 'Failed'"}
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
"#,
    ));
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Failed);
    let retry = h.node("wf");
    assert_eq!(retry.children.len(), 2);
    assert_eq!(retry.message.as_deref(), Some("No more retries left"));
}

#[test]
fn a_retry_expression_that_is_not_a_bool_errors_the_node() {
    let mut h = Harness::new(&main_spec(
        r#"      retryStrategy: {limit: "3", expression: "lastRetry.exitCode"}
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
"#,
    ));
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Error);
    let retry = h.node("wf");
    assert_eq!(retry.phase, NodePhase::Error);
    assert_eq!(
        retry.message.as_deref(),
        Some("unable to cast expression result '1' to bool")
    );
}

/// Argo's idiom for a task whose name holds a `-`: `tasks['flip-coin']` in an expression.
#[test]
fn a_dag_task_named_by_index_is_in_scope() {
    let mut h = Harness::new(&main_spec(
        r#"      dag:
        tasks:
        - {name: flip-coin, template: flip}
        - name: heads
          depends: flip-coin
          template: flip
          when: "{{=tasks['flip-coin'].outputs.result == 'heads'}}"
        - name: computed
          depends: flip-coin
          template: flip
          when: "{{=tasks[sprig.trim(' flip-coin ')].outputs.result == 'tails'}}"
    - name: flip
      container: {image: argoproj/argosay:v2}
"#,
    ));
    assert_eq!(h.run(&says("heads")), WorkflowPhase::Succeeded);
    assert_eq!(h.node("heads").phase, NodePhase::Succeeded);
    // A computed index may name any task: every one is in scope.
    assert_eq!(h.node("computed").phase, NodePhase::Skipped);
}

/// `getTemplateOutputsFromScope`: an output that does not resolve, with no default, errors
/// the node rather than vanishing.
#[test]
fn an_output_expression_that_fails_without_a_default_errors_the_node() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - {name: a, template: a}
      outputs:
        parameters:
        - name: p
          valueFrom: {expression: "asInt(steps.a.outputs.result)"}
    - name: a
      container: {image: argoproj/argosay:v2}
"#,
    ));
    assert_eq!(h.run(&says("not a number")), WorkflowPhase::Error);
    let root = h.node("wf");
    assert_eq!(root.phase, NodePhase::Error);
    let message = root.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("outputs.parameters.p: failed to evaluate expression: asInt"),
        "{message}"
    );
}

/// Argo writes an expression's value with `json.Marshal`: a control character in it (coloured
/// output, say) is escaped, not an error.
#[test]
fn an_expression_value_may_hold_control_characters() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - {name: a, template: a}
      - - name: b
          template: echo
          arguments: {parameters: [{name: x, value: "{{=steps.a.outputs.result}}"}]}
    - name: a
      container: {image: argoproj/argosay:v2}
    - name: echo
      inputs: {parameters: [{name: x}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{=inputs.parameters.x}}"]}
"#,
    ));
    let coloured = "\u{1b}[31mred\u{1b}[0m";
    assert_eq!(h.run(&says(coloured)), WorkflowPhase::Succeeded);
    let b = h.node("b");
    let x = b.inputs.as_ref().unwrap().parameters[0]
        .value
        .as_ref()
        .unwrap();
    assert_eq!(x.0, coloured);
    let said = args_of(h.created.last().unwrap());
    assert_eq!(said, serde_json::to_string(&["echo", coloured]).unwrap());
}

/// argo-workflows#10393: `workflow.status` is unknown until the exit handler's pass, and an
/// expression reading it is left for then rather than taking it as nil.
#[test]
fn an_expression_on_the_workflows_status_waits_for_the_exit_handler() {
    let mut h = Harness::new(&main_spec_with(
        "  onExit: exit\n",
        r#"      container: {image: argoproj/argosay:v2, args: [echo, "{{=workflow.status != 'Succeeded'}}"]}
    - name: exit
      container: {image: argoproj/argosay:v2, args: [echo, "{{=workflow.status}}"]}
"#,
    ));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    let said: Vec<String> = h.created.iter().map(args_of).collect();
    assert_eq!(
        said,
        [
            r#"["echo","{{=workflow.status != 'Succeeded'}}"]"#,
            r#"["echo","Succeeded"]"#
        ]
    );
}

/// How a scripted evaluator answers an evaluation: from its variables and the fuel it is given.
type Answer =
    fn(&[(String, String)], u64) -> Result<ports::Spent<Option<String>>, ports::ExpressionFailure>;

/// An evaluator that checks everything and evaluates as its script says.
#[derive(Debug)]
struct Scripted(Answer);

impl ports::Expressions for Scripted {
    fn check(&self, _: &str, _: u64) -> Result<ports::Spent<()>, ports::ExpressionFailure> {
        Ok(ports::Spent { value: (), fuel: 1 })
    }

    fn evaluate(
        &self,
        _: &str,
        variables: Vec<(String, String)>,
        fuel: u64,
    ) -> Result<ports::Spent<Option<String>>, ports::ExpressionFailure> {
        (self.0)(&variables, fuel)
    }
}

fn failure(message: &str, fuel: u64, exhausted: bool) -> ports::ExpressionFailure {
    ports::ExpressionFailure {
        message: message.into(),
        fuel,
        exhausted,
    }
}

/// An evaluator whose every evaluation over an `item` spends a tenth of a second's fuel; like
/// the real one, it cannot evaluate without an `item`.
fn costly_per_item() -> std::sync::Arc<dyn ports::Expressions> {
    std::sync::Arc::new(Scripted(|variables, fuel| {
        if !variables.iter().any(|(name, _)| name == "item") {
            return Err(failure("unknown variable: item", 1000, false));
        }
        Ok(ports::Spent {
            value: Some("1".into()),
            fuel: fuel.min(100_000_000),
        })
    }))
}

/// `count` steps, each with an argument computed from its item.
fn fan_out_with_an_expression(count: usize) -> String {
    main_spec(&format!(
        r#"      steps:
      - - name: each
          template: echo
          arguments: {{parameters: [{{name: n, value: "{{{{=asInt(item) + 1}}}}"}}]}}
          withSequence: {{count: "{count}"}}
    - name: echo
      inputs: {{parameters: [{{name: n}}]}}
      container: {{image: argoproj/argosay:v2}}
"#
    ))
}

/// A workflow whose expressions cost more than a pass allows errors, saying so, rather than
/// costing it again on every pass.
#[test]
fn expressions_past_the_pass_budget_error_the_workflow() {
    let mut h = Harness::new(&fan_out_with_an_expression(150));
    h.observed.expressions = Some(costly_per_item());
    let pods = h.step();
    assert!(
        pods.is_empty(),
        "{} pods, {:#?}",
        pods.len(),
        h.wf.status.as_ref().map(|s| &s.message)
    );
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(WorkflowPhase::Error), "{status:#?}");
    assert_eq!(
        status.message.as_deref(),
        Some(
            "the workflow's expressions used up the 10000000000 instructions one pass may spend on them"
        )
    );
}

/// Where Argo leaves an unresolved expression as written, one that hit a bound is an error:
/// it would fail the same way on every pass, and its text must not reach the container.
#[test]
fn an_expression_that_hits_a_bound_is_an_error_even_where_substitution_is_lenient() {
    let mut h = Harness::new(&main_spec(
        "      container: {image: argoproj/argosay:v2, args: [echo, \"{{=1 + 1}}\"]}\n",
    ));
    h.observed.expressions = Some(std::sync::Arc::new(Scripted(|_, _| {
        Err(failure(
            "the expression ran past its budget",
            100_000_000,
            true,
        ))
    })));
    let pods = h.step();
    assert!(pods.is_empty(), "{pods:#?}");
    let status = h.wf.status.as_ref().unwrap();
    let root = h.node("wf");
    assert_eq!(root.phase, NodePhase::Error, "{status:#?}");
    assert!(
        root.message
            .as_deref()
            .is_some_and(|m| m.contains("the expression ran past its budget")),
        "{root:#?}"
    );
}

/// A pass that runs into its namespace's allowance is dropped, not held against the workflow:
/// the status stays as it was, and the pass is tried again later, with what has grown back.
#[test]
fn a_pass_past_its_namespaces_allowance_is_tried_again_later() {
    let mut h = Harness::new(&fan_out_with_an_expression(10));
    h.observed.expressions = Some(costly_per_item());
    // Enough for about three of the ten items.
    h.observed.expression_fuel = Some(300_000_000);
    let decision = reconcile(&h.wf, &h.observed, &h.config, h.now);
    assert_eq!(decision.status, h.wf.status.clone().unwrap_or_default());
    assert!(decision.pods.is_empty() && decision.events.is_empty());
    assert_eq!(decision.requeue_after, Some(Duration::from_secs(10)));
    assert_eq!(decision.expression_fuel, 300_000_000);
    // With the allowance grown back, the pass goes through.
    h.observed.expression_fuel = Some(2_000_000_000);
    assert_eq!(h.step().len(), 10);
    assert_eq!(h.phase(), Some(WorkflowPhase::Running));
}
