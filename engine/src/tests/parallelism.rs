//! A template's own `parallelism` and `failFast`.

use super::*;

#[test]
fn dag_parallelism_starts_no_more_than_n_tasks_at_once() {
    let mut h = Harness::new(&main_spec(
        r#"
      parallelism: 2
      dag:
        tasks:
          - {name: a, template: say}
          - {name: b, template: say}
          - {name: c, template: say}
          - {name: d, template: say}
    - name: say
      container: {image: argoproj/argosay:v2}
"#,
    ));
    let first = h.step();
    assert_eq!(first.len(), 2, "two of four tasks start");
    running(&mut h, &first);
    assert!(h.step().is_empty(), "none while both run");
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.nodes.len(), 3, "held-back tasks have no node yet");
    assert!(
        status
            .nodes
            .values()
            .all(|n| n.children.iter().all(|c| status.nodes.contains_key(c))),
        "no child link points at a node that does not exist"
    );
    h.observe(&first[0], PodPhase::Succeeded, Some(0), Outputs::default());
    let next = h.step();
    assert_eq!(next.len(), 1, "one finished, one more starts");
    for pod in [&first[1], &next[0]] {
        h.observe(pod, PodPhase::Succeeded, Some(0), Outputs::default());
    }
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(h.distinct_pods(), 4);
}

#[test]
fn steps_parallelism_bounds_a_fan_out() {
    let mut h = Harness::new(&main_spec(
        r#"
      parallelism: 1
      steps:
        - - {name: each, template: say, withItems: [1, 2, 3]}
    - name: say
      container: {image: argoproj/argosay:v2}
"#,
    ));
    for _ in 0..3 {
        let pods = h.step();
        assert_eq!(pods.len(), 1, "one item at a time");
        running(&mut h, &pods);
        assert!(h.step().is_empty());
        h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    }
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Succeeded));
}

/// A `failFast` fan-out of four, two at a time, whose first pod has failed while the second
/// still runs: the pods, and the harness.
fn failed_fast() -> (Harness, Vec<Value>) {
    let mut h = Harness::new(&main_spec(
        r#"
      failFast: true
      parallelism: 2
      steps:
        - - {name: each, template: say, withItems: [1, 2, 3, 4]}
    - name: say
      container: {image: argoproj/argosay:v2}
"#,
    ));
    let pods = h.step();
    assert_eq!(pods.len(), 2);
    running(&mut h, &pods);
    h.step();
    h.observe(&pods[0], PodPhase::Failed, Some(1), Outputs::default());
    assert!(h.step().is_empty(), "nothing more starts");
    (h, pods)
}

#[test]
fn fail_fast_fails_the_template_at_the_first_failed_child() {
    let (mut h, pods) = failed_fast();
    let main = h.node("wf");
    assert_eq!(main.phase, NodePhase::Failed);
    assert_eq!(
        main.message.as_deref(),
        Some("template has failed or errored children and failFast enabled")
    );
    // As Argo waits for every pod's report, the workflow ends once the sibling's pod has.
    assert_eq!(h.phase(), Some(WorkflowPhase::Running));
    assert_eq!(h.node("each(1:2)").phase, NodePhase::Running);
    h.observe(&pods[1], PodPhase::Succeeded, Some(0), Outputs::default());
    assert!(h.step().is_empty());
    assert_eq!(h.node("each(1:2)").phase, NodePhase::Succeeded);
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert_eq!(
        h.message(),
        Some("template has failed or errored children and failFast enabled")
    );
    // Argo leaves the groups failFast cut off as they were; no pod node is left running.
    let status = h.wf.status.as_ref().unwrap();
    assert!(
        status
            .nodes
            .values()
            .all(|n| n.type_ != NodeType::Pod || n.phase.is_fulfilled()),
        "a finished workflow has no pod node left running"
    );
}

#[test]
fn terminate_while_a_fail_fast_sibling_runs_deletes_its_pod() {
    let (mut h, pods) = failed_fast();
    h.wf.spec.shutdown = Some("Terminate".into());
    assert!(h.step().is_empty());
    assert_eq!(h.deleted(), [pods[1]["metadata"]["name"].as_str().unwrap()]);
    let sibling = h.node("each(1:2)");
    assert_eq!(sibling.phase, NodePhase::Failed);
    assert_eq!(
        sibling.message.as_deref(),
        Some("workflow shutdown with strategy: Terminate")
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
}
