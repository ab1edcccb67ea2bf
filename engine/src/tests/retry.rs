//! `retryStrategy`: limits, back-off and `maxDuration`, and `{{retries}}`.

use super::*;

#[test]
fn retries_until_success_within_the_limit() {
    let mut h = Harness::new(&main_spec(
        r#"
      retryStrategy: {limit: "3"}
      container: {image: argoproj/argosay:v2, args: [echo, "attempt {{retries}}"]}
"#,
    ));
    let attempts = std::cell::Cell::new(0);
    let phase = h.run(&|pod: &Value| {
        // Argo's `{{retries}}` counts the attempts from 0.
        assert_eq!(user_args(pod)[1], format!("attempt {}", attempts.get()));
        attempts.set(attempts.get() + 1);
        if attempts.get() < 3 {
            (PodPhase::Failed, Some(1), Outputs::default())
        } else {
            (PodPhase::Succeeded, Some(0), Outputs::default())
        }
    });
    assert_eq!(phase, WorkflowPhase::Succeeded);
    assert_eq!(
        h.node("wf").children.len(),
        3,
        "three attempts under the retry node"
    );
    assert_eq!(h.node("wf(2)").phase, NodePhase::Succeeded);
    // Argo's `nodeFlag.retried` on each attempt, not on the Retry node.
    for attempt in ["wf(0)", "wf(1)", "wf(2)"] {
        assert_eq!(
            h.node(attempt).node_flag.as_ref().and_then(|f| f.retried),
            Some(true),
            "{attempt}"
        );
    }
    assert_eq!(h.node("wf").node_flag, None);
    let names = h.pod_names();
    assert_eq!(names.len(), 3);
    assert!(names.iter().all(|n| n.starts_with("wf-main-")), "{names:?}");
}

#[test]
fn retries_stop_at_the_limit() {
    let mut h = Harness::new(&main_spec(
        r#"
      retryStrategy: {limit: 1, backoff: {duration: "5s"}}
      container: {image: argoproj/argosay:v2, args: [exit, "2"]}
"#,
    ));
    let phase = h.run(&|_: &Value| (PodPhase::Failed, Some(2), Outputs::default()));
    assert_eq!(phase, WorkflowPhase::Failed);
    assert_eq!(h.node("wf").children.len(), 2);
    // Argo's `processNodeRetries`: the limit reached, the retry node says so.
    assert_eq!(
        h.node("wf").message.as_deref(),
        Some("No more retries left")
    );
}

/// Runs the workflow with every attempt failing (exit code 1): it fails, and its retry node `wf`
/// says `message`.
fn gives_up<'h>(h: &'h mut Harness, message: &str) -> &'h crate::workflow::NodeStatus {
    let fail = |_: &Value| (PodPhase::Failed, Some(1), Outputs::default());
    assert_eq!(h.run(&fail), WorkflowPhase::Failed);
    let retry = h.node("wf");
    assert_eq!(retry.message.as_deref(), Some(message));
    retry
}

#[test]
fn retries_stop_when_max_duration_runs_out() {
    let mut h = Harness::new(
        r#"
spec:
  entrypoint: flaky
  templates:
    - name: flaky
      retryStrategy:
        limit: "10"
        backoff: {duration: "5s", maxDuration: "10s"}
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
"#,
    );
    // Attempt 0 starts at t=0 and fails; attempt 1 starts 5 s after and fails; the next
    // back-off would end past the 10 s budget, so the retry node gives up at once rather than
    // wait for nothing.
    let retry = gives_up(&mut h, "Backoff would exceed max duration limit");
    assert_eq!(retry.children.len(), 2, "{retry:#?}");
}

#[test]
fn retries_stop_once_max_duration_has_passed() {
    let mut h = Harness::new(
        r#"
spec:
  entrypoint: flaky
  templates:
    - name: flaky
      retryStrategy: {limit: "10", backoff: {maxDuration: "3s"}}
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
"#,
    );
    let retry = gives_up(&mut h, "Max duration limit exceeded");
    assert!(retry.children.len() < 11, "{retry:#?}");
}

/// Found by the fuzz target (`controller::fuzz::workflows`): an attempt that fails as it
/// starts (here: a namespace the policy denies) was retried at once, in the same reconcile,
/// as often as the limit allowed — without a limit, forever — so one workflow wedged a
/// reconcile worker. Each reconcile now makes a bounded number of attempts and comes back.
#[test]
fn attempts_that_fail_at_once_are_not_retried_without_end_in_one_reconcile() {
    for limit in ["", "limit: \"2147483647\", "] {
        let mut h = Harness::new(&format!(
            r#"
spec:
  entrypoint: main
  templates:
    - name: main
      namespace: team-b
      retryStrategy: {{{limit}retryPolicy: Always}}
      container: {{image: argoproj/argosay:v2}}
"#
        ));
        assert!(h.step().is_empty(), "nothing may be created in team-b");
        let attempts = h.node("wf").children.len();
        assert!(
            (1..=super::super::retry::MAX_ATTEMPTS_PER_RECONCILE).contains(&attempts),
            "{attempts} attempts in one reconcile"
        );
        assert_eq!(h.node("wf").phase, NodePhase::Running);
        assert!(h.requeue_after.is_some(), "the retries go on later");
        h.step();
        assert!(h.node("wf").children.len() > attempts, "and they do");
    }
}

/// Argo's workflow-level `spec.retryStrategy`: every template without a strategy of its own
/// runs under it — the steps template and its step alike become Retry nodes — and a template's
/// own strategy wins.
#[test]
fn the_workflows_retry_strategy_applies_to_templates_without_their_own() {
    let mut h = Harness::new(&main_spec_with(
        "  retryStrategy: {limit: 2}\n",
        r#"      steps:
      - - {name: flaky, template: flaky}
      - - {name: once, template: once, continueOn: {failed: true}}
    - name: flaky
      container: {image: argoproj/argosay:v2, args: [echo, flaky]}
    - name: once
      retryStrategy: {limit: 0}
      container: {image: argoproj/argosay:v2, args: [echo, once]}
"#,
    ));
    let flaky_attempts = std::cell::Cell::new(0);
    let phase = h.run(&|pod: &Value| {
        if user_args(pod)[1] == "once" {
            return (PodPhase::Failed, Some(1), Outputs::default());
        }
        flaky_attempts.set(flaky_attempts.get() + 1);
        if flaky_attempts.get() < 2 {
            return (PodPhase::Failed, Some(1), Outputs::default());
        }
        (PodPhase::Succeeded, Some(0), Outputs::default())
    });
    assert_eq!(phase, WorkflowPhase::Succeeded);
    assert_eq!(
        h.node("wf").type_,
        NodeType::Retry,
        "the steps template too"
    );
    let flaky = h.node("flaky");
    assert_eq!(flaky.type_, NodeType::Retry);
    assert_eq!(flaky.children.len(), 2, "failed once, then succeeded");
    // `once` always fails: its own `limit: 0` makes one attempt, not the workflow's three.
    assert_eq!(h.node("once").type_, NodeType::Retry);
    assert_eq!(h.node("once").children.len(), 1);
}
