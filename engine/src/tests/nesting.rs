//! Templates nested in DAGs and steps: how a nested node's outcome reaches its parent.

use super::*;

/// A DAG whose task A runs a steps template of one step (`step` is its template), and whose
/// task B depends on A.
fn steps_in_a_dag(step: &str) -> Harness {
    Harness::new(&main_spec(&format!(
        r#"
      dag:
        tasks:
          - {{name: A, template: inner}}
          - {{name: B, depends: A, template: ok}}
    - name: inner
      steps:
        - - {{name: nested, template: {step}}}
    - name: ok
      container: {{image: argoproj/argosay:v2}}
    - name: fail
      container: {{image: argoproj/argosay:v2, args: [exit, "1"]}}
    - name: sleep
      container: {{image: argoproj/argosay:v2, args: [sleep, 30s]}}
"#
    )))
}

#[test]
fn a_failed_steps_task_omits_its_dependent_and_fails_the_dag() {
    let mut h = steps_in_a_dag("fail");
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Failed);
    assert_eq!(h.node("A").phase, NodePhase::Failed);
    assert_eq!(h.node("B").phase, NodePhase::Omitted);
}

#[test]
fn terminate_ends_a_dag_whose_task_is_a_steps_template_with_a_dependent() {
    let mut h = steps_in_a_dag("sleep");
    let pods = h.step();
    running(&mut h, &pods);
    h.step();
    h.wf.spec.shutdown = Some("Terminate".into());
    h.step();
    assert_eq!(h.deleted(), [pods[0]["metadata"]["name"].as_str().unwrap()]);
    let unfulfilled: Vec<_> =
        h.wf.status
            .as_ref()
            .unwrap()
            .nodes
            .values()
            .filter(|n| !n.phase.is_fulfilled())
            .map(|n| (n.display_name.clone(), n.type_, n.phase))
            .collect();
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed), "{unfulfilled:?}");
    assert_eq!(h.message(), Some("Stopped with strategy 'Terminate'"));
    assert_eq!(h.node("nested").phase, NodePhase::Failed);
    assert_eq!(h.node("B").phase, NodePhase::Omitted);
}
