//! Shutdown, deadlines, pod GC and TTLs, with Argo's messages.

use super::*;

#[test]
fn the_workflow_deadline_fails_running_nodes_and_deletes_their_pods() {
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  activeDeadlineSeconds: 10\n",
        r#"
      steps:
        - - {name: a, template: sleep}
          - {name: b, template: sleep}
        - - {name: after, template: ok}
"#,
    )));
    let pods = h.step();
    assert_eq!(pods.len(), 2);
    assert_eq!(
        h.requeue_after,
        Some(Duration::from_millis(10_001)),
        "the deadline fires without any event"
    );
    running(&mut h, &pods);
    h.advance(10);
    assert!(h.step().is_empty());
    assert_eq!(
        h.phase(),
        Some(WorkflowPhase::Running),
        "not after the deadline yet"
    );
    h.advance(1);
    assert!(h.step().is_empty(), "nothing starts after the deadline");
    let mut expected: Vec<String> = pods.iter().map(name_of).collect();
    expected.sort();
    assert_eq!(h.deleted(), expected);
    for step in ["a", "b"] {
        assert_eq!(h.node(step).phase, NodePhase::Failed);
        assert_eq!(
            h.node(step).message.as_deref(),
            Some("Step exceeded its deadline")
        );
    }
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert!(
        h.message().is_some_and(|m| m.starts_with("child '")),
        "the root node's message, as in Argo: {:?}",
        h.message()
    );
    assert_eq!(h.requeue_after, None);
    // Deleting pods are not deleted again.
    for pod in h.observed.pods.values_mut() {
        pod.deleting = true;
    }
    h.step();
    assert!(h.deleted().is_empty());
}

/// A pod that ended but whose report never came (or is not the one the pod vouched for) holds
/// its node Running; past the workflow's deadline the node fails like a running one.
#[test]
fn the_workflow_deadline_settles_a_node_still_waiting_for_its_report() {
    let mut h = Harness::new(&with_templates(
        "
spec:
  entrypoint: ok
  activeDeadlineSeconds: 10
  templates:
",
    ));
    let pods = h.step();
    h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    let id = Harness::node_id(&pods[0]);
    h.observed.results.remove(&id);
    let node = |h: &Harness| h.wf.status.as_ref().unwrap().nodes[&id].clone();
    h.step();
    assert_eq!(node(&h).phase, NodePhase::Running, "waits for the report");
    h.advance(11);
    h.step();
    assert!(
        h.deleted().is_empty(),
        "the pod has ended: nothing to delete"
    );
    assert_eq!(node(&h).phase, NodePhase::Failed);
    assert_eq!(
        node(&h).message.as_deref(),
        Some("Step exceeded its deadline")
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
}

#[test]
fn a_pod_past_its_template_deadline_fails_with_the_kubelet_message() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"
      activeDeadlineSeconds: 5
      container: {image: argoproj/argosay:v2, args: [sleep, 30s]}
"#,
    )));
    let pods = h.step();
    assert_eq!(pods[0]["spec"]["activeDeadlineSeconds"], 5);
    h.observe(&pods[0], PodPhase::Failed, Some(137), Outputs::default());
    let message = "Pod was active on the node longer than the specified deadline";
    h.observed.pods.values_mut().for_each(|p| {
        p.message = Some(message.into());
    });
    h.step();
    assert_eq!(h.node("wf").message.as_deref(), Some(message));
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert_eq!(h.message(), Some(message));
}

#[test]
fn terminate_deletes_running_pods_and_fails_with_the_strategy() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"
      dag:
        tasks:
          - {name: A, template: sleep}
          - {name: B, depends: A, template: ok}
"#,
    )));
    let pods = h.step();
    running(&mut h, &pods);
    h.step();
    h.wf.spec.shutdown = Some("Terminate".into());
    assert!(h.step().is_empty());
    assert_eq!(h.deleted(), [name_of(&pods[0])]);
    assert_eq!(h.node("A").phase, NodePhase::Failed);
    assert_eq!(
        h.node("A").message.as_deref(),
        Some("workflow shutdown with strategy: Terminate")
    );
    assert_eq!(h.node("B").phase, NodePhase::Omitted);
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert_eq!(h.message(), Some("Stopped with strategy 'Terminate'"));
}

#[test]
fn stop_ends_a_retry_without_another_attempt() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"
      retryStrategy: {limit: "5"}
      container: {image: argoproj/argosay:v2, args: [sleep, 30s]}
"#,
    )));
    let pods = h.step();
    running(&mut h, &pods);
    h.wf.spec.shutdown = Some("Stop".into());
    assert!(h.step().is_empty());
    assert_eq!(h.distinct_pods(), 1);
    assert_eq!(h.deleted(), [name_of(&pods[0])]);
    assert_eq!(h.node("wf(0)").phase, NodePhase::Failed);
    assert_eq!(h.node("wf").phase, NodePhase::Failed);
    assert_eq!(
        h.node("wf").message.as_deref(),
        Some("Stopped with strategy 'Stop'")
    );
    assert_eq!(h.message(), Some("Stopped with strategy 'Stop'"));
}

#[test]
fn pod_gc_on_pod_success_deletes_succeeded_pods_once_their_outcome_is_stored() {
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  podGC: {strategy: OnPodSuccess, deleteDelayDuration: 0s}\n",
        r#"
      steps:
        - - {name: good, template: ok}
          - {name: bad, template: fail}
"#,
    )));
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Failed);
    assert!(
        h.deleted().is_empty() && h.labelled().is_empty(),
        "not before the outcome is stored"
    );
    h.step();
    assert_eq!(h.deleted(), [name_of(&h.pod_of("good"))]);
    assert_eq!(h.labelled(), [name_of(&h.pod_of("bad"))]);
    // What was done is observed, and nothing is asked twice.
    let good = h.node("good").id.clone();
    let bad = h.node("bad").id.clone();
    h.observed.pods.get_mut(&good).unwrap().deleting = true;
    h.observed
        .pod_labels
        .get_mut(&bad)
        .unwrap()
        .insert(crate::workflow::labels::COMPLETED.into(), "true".into());
    h.step();
    assert!(h.others.is_empty(), "{:?}", h.others);
    assert!(h.events.is_empty() && h.workflow_deleted.is_none());
    assert_eq!(h.requeue_after, None);
}

#[test]
fn pod_gc_waits_for_the_delete_delay() {
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  podGC: {strategy: OnPodCompletion, deleteDelayDuration: 30s}\n",
        r#"
      container: {image: argoproj/argosay:v2}
"#,
    )));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    h.step();
    assert!(h.deleted().is_empty());
    assert_eq!(h.labelled(), ["wf"], "labelled while it waits");
    assert_eq!(h.requeue_after, Some(Duration::from_millis(30_001)));
    h.advance(30);
    h.step();
    assert_eq!(h.deleted(), ["wf"]);
}

#[test]
fn pod_gc_honours_the_label_selector_and_workflow_strategies() {
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  podGC:\n    strategy: OnWorkflowCompletion\n    deleteDelayDuration: \"0\"\n    labelSelector: {matchLabels: {gc: \"yes\"}}\n",
        r#"
      steps:
        - - {name: collected, template: marked}
          - {name: kept, template: ok}
    - name: marked
      metadata: {labels: {gc: "yes"}}
      container: {image: argoproj/argosay:v2}
"#,
    )));
    let pods = h.step();
    for pod in &pods {
        h.observe(pod, PodPhase::Succeeded, Some(0), Outputs::default());
    }
    h.advance(1);
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Succeeded));
    h.step();
    assert_eq!(h.deleted(), [name_of(&h.pod_of("collected"))]);
    assert_eq!(h.labelled(), [name_of(&h.pod_of("kept"))]);

    // OnWorkflowSuccess keeps the pods of a failed workflow (labelled only).
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  podGC: {strategy: OnWorkflowSuccess}\n",
        r#"
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
"#,
    )));
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Failed);
    h.step();
    assert!(h.deleted().is_empty());
    assert_eq!(h.labelled(), ["wf"]);
}

#[test]
fn ttl_deletes_the_finished_workflow_when_due() {
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  ttlStrategy: {secondsAfterSuccess: 10, secondsAfterFailure: 0}\n",
        r#"
      container: {image: argoproj/argosay:v2}
"#,
    )));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    h.step();
    assert_eq!(h.workflow_deleted, None);
    assert_eq!(h.requeue_after, Some(Duration::from_millis(10_001)));
    h.advance(10);
    h.step();
    assert_eq!(
        h.workflow_deleted,
        Some(WorkflowDeletion {
            namespace: "argo".into(),
            name: "wf".into(),
            uid: Some("uid-1".into()),
        })
    );

    // Failed: the failure TTL (0) applies at once.
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  ttlStrategy: {secondsAfterCompletion: 600, secondsAfterFailure: 0}\n",
        r#"
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
"#,
    )));
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Failed);
    h.step();
    assert!(h.workflow_deleted.is_some());
}

#[test]
fn invalid_lifecycle_settings_error_the_workflow_naming_the_field() {
    let mut h = Harness::new(&with_templates(&main_spec_with(
        "  podGC: {strategy: OnPodSuccess, deleteDelayDuration: soon}\n",
        r#"
      container: {image: argoproj/argosay:v2}
"#,
    )));
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Error));
    assert_eq!(
        h.message(),
        Some(
            r#"podGC.deleteDelayDuration is invalid: "soon" is not a duration (e.g. 30s, 1m, 1h30m)"#
        )
    );

    let mut h = Harness::new(&with_templates(
        "spec:\n  entrypoint: main\n  ttlStrategy: {secondsAfterFailure: -1}\n  templates:\n    - name: main\n      container: {image: argoproj/argosay:v2}\n",
    ));
    h.step();
    assert_eq!(
        h.message(),
        Some("ttlStrategy.secondsAfterFailure -1 must be a non-negative number of seconds")
    );

    // An unknown shutdown strategy patched onto a running workflow ends it, deleting its pods.
    let mut h = Harness::new(&with_templates(
        "spec:\n  entrypoint: sleep\n  templates:\n    - name: x\n      container: {image: argoproj/argosay:v2}\n",
    ));
    let pods = h.step();
    running(&mut h, &pods);
    h.step();
    h.wf.spec.shutdown = Some("Pause".into());
    h.step();
    assert_eq!(h.deleted(), [name_of(&pods[0])]);
    assert_eq!(h.phase(), Some(WorkflowPhase::Error));
    assert_eq!(
        h.message(),
        Some(r#"spec.shutdown "Pause" is not a shutdown strategy: use Stop or Terminate"#)
    );
}

#[test]
fn terminate_deletes_a_pod_asked_for_but_not_yet_seen() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"
      dag:
        tasks:
          - {name: A, template: sleep}
"#,
    )));
    // The pod is asked for, but the cache has not shown it yet when the user terminates.
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    h.wf.spec.shutdown = Some("Terminate".into());
    h.step();
    assert_eq!(
        h.deleted(),
        [name_of(&pods[0])],
        "deleted by its deterministic name"
    );
    assert_eq!(h.node("A").phase, NodePhase::Failed);
}

#[test]
fn a_template_timeout_bounds_the_pod_and_fails_a_node_still_pending() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"
      timeout: 10s
      activeDeadlineSeconds: 60
      container: {image: argoproj/argosay:v2, args: [sleep, 30s]}
"#,
    )));
    let pods = h.step();
    assert_eq!(
        pods[0]["spec"]["activeDeadlineSeconds"], 10,
        "the shorter of timeout and activeDeadlineSeconds"
    );
    assert_eq!(h.requeue_after, Some(Duration::from_millis(10_001)));
    h.observe(&pods[0], PodPhase::Pending, None, Outputs::default());
    h.advance(5);
    h.step();
    assert_eq!(h.node("wf").phase, NodePhase::Pending);
    h.advance(6);
    h.step();
    assert_eq!(h.deleted(), [name_of(&pods[0])]);
    let node = h.node("wf");
    assert_eq!(node.phase, NodePhase::Failed);
    assert_eq!(
        node.message.as_deref(),
        Some("timeout: the node did not start within its timeout of 10s")
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
}

#[test]
fn a_running_pod_is_left_to_the_kubelet_deadline() {
    let mut h = Harness::new(&with_templates(&main_spec(
        r#"
      timeout: 10s
      container: {image: argoproj/argosay:v2, args: [sleep, 30s]}
"#,
    )));
    let pods = h.step();
    running(&mut h, &pods);
    h.advance(30);
    h.step();
    assert!(h.deleted().is_empty());
    assert_eq!(h.node("wf").phase, NodePhase::Running);
}
