//! Suspend templates and suspended workflows: resume, durations, and what shutdown and
//! deadlines do to a waiting node.

use super::*;

const APPROVE: &str = r#"
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: approve, template: approve}
        - - {name: release, template: ok}
    - name: approve
      suspend: {}
"#;

#[test]
fn a_suspend_node_waits_until_resumed() {
    let mut h = Harness::new(&with_templates(APPROVE));
    assert!(h.step().is_empty());
    assert!(h.step().is_empty());
    let approve = h.node("approve");
    assert_eq!(approve.type_, NodeType::Suspend);
    assert_eq!(approve.phase, NodePhase::Running);
    assert_eq!(h.phase(), Some(WorkflowPhase::Running));
    assert_eq!(h.requeue_after, None, "only a resume moves it on");
    // `flotilla resume` (as `argo resume`) marks the node Succeeded.
    let id = h.node("approve").id.clone();
    let status = h.wf.status.as_mut().unwrap();
    status.nodes.get_mut(&id).unwrap().phase = NodePhase::Succeeded;
    let pods = h.step();
    assert_eq!(pods.len(), 1, "the next step starts");
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
}

#[test]
fn a_suspend_duration_resumes_by_itself() {
    let mut h = Harness::new(&with_templates(
        &APPROVE.replace("suspend: {}", "suspend: {duration: \"30\"}"),
    ));
    assert!(h.step().is_empty());
    assert_eq!(h.requeue_after, Some(Duration::from_millis(30_001)));
    h.advance(30);
    assert!(h.step().is_empty());
    assert_eq!(h.node("approve").phase, NodePhase::Running);
    h.advance(1);
    assert_eq!(h.step().len(), 1);
    assert_eq!(h.node("approve").phase, NodePhase::Succeeded);
}

#[test]
fn an_invalid_suspend_duration_errors_naming_it() {
    let mut h = Harness::new(&with_templates(
        &APPROVE.replace("suspend: {}", "suspend: {duration: later}"),
    ));
    h.step();
    assert_eq!(h.node("approve").phase, NodePhase::Error);
    let message = h.node("approve").message.clone().unwrap_or_default();
    assert!(
        message.starts_with(r#"template "approve": suspend.duration is invalid: "later""#),
        "{message}"
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Error));
}

#[test]
fn shutdown_and_deadline_fail_an_active_suspend_node() {
    let mut h = Harness::new(&with_templates(APPROVE));
    h.step();
    h.wf.spec.shutdown = Some("Terminate".into());
    h.step();
    assert_eq!(h.node("approve").phase, NodePhase::Failed);
    assert_eq!(
        h.node("approve").message.as_deref(),
        Some("Stopped with strategy 'Terminate'")
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert!(h.created.is_empty());

    let mut h = Harness::new(&with_templates(&APPROVE.replace(
        "entrypoint: main",
        "entrypoint: main\n  activeDeadlineSeconds: 60",
    )));
    h.step();
    h.advance(61);
    h.step();
    assert_eq!(
        h.node("approve").message.as_deref(),
        Some("Step exceeded its deadline")
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
}

#[test]
fn a_suspended_workflow_starts_nothing_until_resumed() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"
      steps:
        - - {name: first, template: ok}
        - - {name: second, template: ok}
"#,
    )));
    let pods = h.step();
    running(&mut h, &pods);
    h.wf.spec.suspend = Some(true);
    h.step();
    assert!(h.deleted().is_empty(), "running pods carry on");
    h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    assert!(h.step().is_empty());
    assert!(h.step().is_empty());
    assert_eq!(h.node("first").phase, NodePhase::Succeeded);
    let status = h.wf.status.as_ref().unwrap();
    assert!(
        !status.nodes.values().any(|n| n.display_name == "second"),
        "the next step has no node yet"
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Running));
    h.wf.spec.suspend = None;
    assert_eq!(h.step().len(), 1);
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
}
