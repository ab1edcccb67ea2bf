//! Exit hooks of steps and tasks (`onExit` on a step or DAG task), in the shape of Argo's
//! `exit-handler-step-level` and `template-on-exit` examples: Argo's node names, who waits for
//! a hook, and what its outcome changes (nothing).

use super::*;

/// Steps: `hello` (running `work`) with the hook `bye`, then `after`.
fn steps_with_hook(work: &str, hook: &str) -> Harness {
    Harness::new(&with_templates(&main_spec(&format!(
        r#"      steps:
        - - {{name: hello, template: {work}, onExit: {hook}}}
        - - {{name: after, template: ok}}
{BYE}"#
    ))))
}

/// The hook template of these tests: says `bye`.
const BYE: &str = "    - name: bye
      container: {image: argoproj/argosay:v2, args: [echo, bye]}
";

/// The cluster reports `pod` failed, its kubelet saying `message`.
fn fail_saying(h: &mut Harness, pod: &Value, message: &str) {
    h.observe(pod, PodPhase::Failed, Some(1), Outputs::default());
    if let Some(observed) = h.observed.pods.get_mut(&Harness::node_id(pod)) {
        observed.message = Some(message.into());
    }
}

#[test]
fn a_steps_hook_runs_after_it_and_the_next_group_waits_for_the_hook() {
    let mut h = steps_with_hook("ok", "bye");
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    let pods = h.step();
    assert_eq!(
        pods.len(),
        1,
        "the hook's pod, and not yet `after`'s: {pods:#?}"
    );
    assert_eq!(user_args(&pods[0]), ["echo", "bye"]);
    // Argo's node `<step node>.onExit`, shown `<step>.onExit`, a child of the step's node in
    // the steps template's boundary, flagged as a hook.
    let hook = h.node("hello.onExit").clone();
    let step = h.node("hello").clone();
    assert_eq!(hook.name, "wf[0].hello.onExit");
    assert_eq!(hook.template_name.as_deref(), Some("bye"));
    assert_eq!(hook.boundary_id.as_deref(), Some("wf"));
    assert_eq!(hook.node_flag.and_then(|f| f.hooked), Some(true));
    assert!(step.children.contains(&hook.id), "{:?}", step.children);
    assert_eq!(h.node("[0]").phase, NodePhase::Running);
    // Still running: nothing moves on.
    running(&mut h, &pods);
    assert!(h.step().is_empty());
    h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    assert_eq!(Harness::node_id(&pods[0]), h.node("after").id);
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
}

#[test]
fn a_failed_step_runs_its_hook_before_the_workflow_fails() {
    let mut h = steps_with_hook("fail", "bye");
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Failed);
    assert_eq!(h.node("hello").phase, NodePhase::Failed);
    assert_eq!(h.node("hello.onExit").phase, NodePhase::Succeeded);
    let hook_pods = h
        .created
        .iter()
        .filter(|p| Harness::node_id(p) == h.node("hello.onExit").id)
        .count();
    assert!(hook_pods >= 1, "the hook ran");
    assert!(
        h.wf.status
            .as_ref()
            .unwrap()
            .nodes
            .values()
            .all(|n| n.display_name != "after"),
        "nothing after a failed step"
    );
}

#[test]
fn a_failing_hook_changes_no_phase() {
    let mut h = steps_with_hook("ok", "fail");
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Succeeded);
    assert_eq!(h.node("hello.onExit").phase, NodePhase::Failed);
    assert_eq!(h.node("hello").phase, NodePhase::Succeeded);
    assert_eq!(h.node("after").phase, NodePhase::Succeeded);
}

#[test]
fn a_skipped_step_has_no_hook() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"      steps:
        - - {name: hello, template: ok, onExit: ok, when: "1 == 2"}
"#,
    )));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(h.node("hello").phase, NodePhase::Skipped);
    assert!(h.created.is_empty(), "{:#?}", h.created);
}

#[test]
fn each_item_of_a_fanned_out_step_has_its_hook() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"      steps:
        - - {name: hello, template: ok, onExit: ok, withItems: [a, b]}
"#,
    )));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    for item in ["hello(0:a)", "hello(1:b)"] {
        let hook = h.node(&format!("{item}.onExit")).clone();
        assert_eq!(hook.name, format!("wf[0].{item}.onExit"));
        assert_eq!(hook.phase, NodePhase::Succeeded);
        assert!(h.node(item).children.contains(&hook.id));
    }
}

#[test]
fn a_retried_steps_hook_runs_once_after_its_last_attempt() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"      steps:
        - - {name: hello, template: flaky, onExit: ok}
    - name: flaky
      retryStrategy: {limit: "1"}
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
"#,
    )));
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Failed);
    let retry = h.node("hello").clone();
    assert_eq!(retry.type_, NodeType::Retry);
    let hook = h.node("hello.onExit").clone();
    assert_eq!(hook.phase, NodePhase::Succeeded);
    assert!(retry.children.contains(&hook.id));
    // The Retry node's outbound node is its last attempt, not the hook.
    let last = h.node("hello(1)").id.clone();
    assert_eq!(h.node("wf").outbound_nodes, [last]);
}

/// A DAG: `A` (hook `bye`), and `B` depending on it.
fn dag_with_hook(work: &str) -> Harness {
    Harness::new(&with_templates(&main_spec(&format!(
        r#"      dag:
        tasks:
          - {{name: A, template: {work}, onExit: bye}}
          - {{name: B, template: ok, depends: A}}
{BYE}"#
    ))))
}

#[test]
fn a_tasks_dependents_wait_for_its_hook() {
    let mut h = dag_with_hook("ok");
    let pods = h.step();
    h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    let pods = h.step();
    assert_eq!(pods.len(), 1, "the hook's pod only: {pods:#?}");
    let hook = h.node("A.onExit").clone();
    assert_eq!(hook.name, "wf.A.onExit");
    assert_eq!(hook.boundary_id.as_deref(), Some("wf"));
    assert!(h.node("A").children.contains(&hook.id));
    let hook_pod = h.pod_of("A.onExit");
    running(&mut h, &pods);
    assert!(h.step().is_empty(), "B waits for A's hook");
    h.observe(&hook_pod, PodPhase::Succeeded, Some(0), Outputs::default());
    let pods = h.step();
    assert_eq!(Harness::node_id(&pods[0]), h.node("B").id);
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
}

#[test]
fn a_dag_ends_only_after_its_last_tasks_hook() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"      dag:
        tasks:
          - {name: A, template: fail, onExit: ok}
"#,
    )));
    let pods = h.step();
    h.observe(&pods[0], PodPhase::Failed, Some(1), Outputs::default());
    let pods = h.step();
    assert_eq!(pods.len(), 1, "the hook's pod");
    assert_eq!(h.node("wf").phase, NodePhase::Running, "the DAG waits");
    assert_eq!(h.phase(), Some(WorkflowPhase::Running));
    h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
}

#[test]
fn stop_runs_a_steps_hook_and_terminate_does_not() {
    for (strategy, runs) in [("Stop", true), ("Terminate", false)] {
        let mut h = steps_with_hook("sleep", "bye");
        let pods = h.step();
        running(&mut h, &pods);
        h.step();
        h.wf.spec.shutdown = Some(strategy.into());
        let after = h.step();
        assert_eq!(after.len(), usize::from(runs), "{strategy}: {after:#?}");
        if runs {
            assert_eq!(user_args(&after[0]), ["echo", "bye"]);
            assert_eq!(h.phase(), Some(WorkflowPhase::Running), "{strategy}");
            h.observe(&after[0], PodPhase::Succeeded, Some(0), Outputs::default());
            h.step();
        }
        assert_eq!(h.phase(), Some(WorkflowPhase::Failed), "{strategy}");
    }
}

/// Under `Stop`, hooks run, but share one budget of pod creations per reconcile, as the
/// workflow's exit handler does; each hook did not get the whole cap again.
#[test]
fn hooks_under_stop_share_the_reconciles_creations() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"      steps:
        - - {name: hello, template: sleep, onExit: ok, withItems: [a, b, c, d, e]}
"#,
    )));
    h.config.max_pod_creates_per_reconcile = 3;
    let first = h.step();
    assert_eq!(first.len(), 3, "the cap");
    running(&mut h, &first);
    let rest = h.step();
    assert_eq!(rest.len(), 2);
    running(&mut h, &rest);
    h.step();
    h.wf.spec.shutdown = Some("Stop".into());
    let hooks = h.step();
    assert_eq!(hooks.len(), 3, "the cap, shared: {hooks:#?}");
    running(&mut h, &hooks);
    assert_eq!(h.step().len(), 2, "the rest on the next reconcile");
}

/// A hook gets the workflow's arguments it takes as inputs, as Argo passes `spec.arguments`.
#[test]
fn a_hook_takes_the_workflows_arguments() {
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  arguments: {parameters: [{name: who, value: world}, {name: other, value: x}]}\n",
        r#"      steps:
        - - {name: hello, template: ok, onExit: greet}
    - name: greet
      inputs: {parameters: [{name: who}]}
      container: {image: argoproj/argosay:v2, args: [echo, "bye {{inputs.parameters.who}}"]}
"#,
    )));
    let pods = h.step();
    h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    let hooks = h.step();
    assert_eq!(user_args(&hooks[0]), ["echo", "bye world"]);
}

/// An item whose arguments cannot be resolved errors, and is followed by its hook as any
/// completed item is.
#[test]
fn an_item_that_errors_on_its_arguments_has_its_hook() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"      steps:
        - - name: hello
            template: greet
            onExit: ok
            withItems: [{x: "1"}, plain]
            arguments: {parameters: [{name: v, value: "{{item.x}}"}]}
    - name: greet
      inputs: {parameters: [{name: v}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.v}}"]}
"#,
    )));
    h.run(&succeed);
    let errored =
        h.wf.status
            .as_ref()
            .unwrap()
            .nodes
            .values()
            .find(|n| n.phase == NodePhase::Error && n.name.ends_with("(1:plain)"))
            .cloned()
            .expect("the item without `x` errors");
    let hook =
        h.wf.status
            .as_ref()
            .unwrap()
            .nodes
            .values()
            .find(|n| n.name == format!("{}.onExit", errored.name))
            .cloned()
            .expect("its hook");
    assert_eq!(hook.phase, NodePhase::Succeeded);
}

/// The workflow's failure is told in the failed step's words, never its hook's.
#[test]
fn a_failed_hook_does_not_speak_for_the_workflow() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"      dag:
        tasks:
          - {name: A, template: fail, onExit: fail}
"#,
    )));
    let pods = h.step();
    fail_saying(&mut h, &pods[0], "the step's failure");
    let pods = h.step();
    fail_saying(&mut h, &pods[0], "the hook's failure");
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert_eq!(h.message(), Some("the step's failure"));
}

/// A hook that calls the template it hooks recurses as a template calling itself does: each
/// level is a step and its hook. A step whose template is missing errors at once, so every level
/// is walked in one pass (a tenant skips validation by writing the status's phase). It ends at
/// the recursion limit with the node's error, on a test thread's stack (2 MiB, unoptimised) —
/// never by overflowing the controller's stack.
#[test]
fn a_hook_that_hooks_itself_stops_at_the_recursion_limit() {
    for main in [
        "      steps:\n        - - {name: again, template: nowhere, onExit: main}\n",
        "      dag:\n        tasks:\n          - {name: again, template: nowhere, onExit: main}\n",
        "      steps:\n        - - {name: again, template: nowhere, onExit: main, withItems: [a]}\n",
        "      dag:\n        tasks:\n          - {name: again, template: nowhere, onExit: main, withItems: [a]}\n",
    ] {
        let mut h = Harness::new(&with_templates(&main_spec(main)));
        h.wf.status = Some(crate::workflow::WorkflowStatus {
            phase: Some(WorkflowPhase::Running),
            ..Default::default()
        });
        h.step();
        assert_recursion_stopped(&h);
    }
}
