//! The workflow's exit handler (`onExit`): when it runs, what Argo tells it, and how its outcome
//! counts.

use super::*;

/// A workflow whose one step runs `work` (`ok`, `fail` or `sleep`), with an exit handler that
/// echoes what Argo tells it.
fn exit_handler_workflow(work: &str) -> Harness {
    Harness::new(&with_templates(&format!(
        r#"
spec:
  entrypoint: main
  onExit: exit-handler
  templates:
    - name: main
      steps:
        - - {{name: work, template: {work}}}
    - name: exit-handler
      container:
        image: argoproj/argosay:v2
        args: [echo, "{{{{workflow.status}}}} {{{{workflow.failures}}}}"]
"#
    )))
}

#[test]
fn the_exit_handler_runs_after_the_entrypoint_and_the_workflow_waits_for_it() {
    let mut h = exit_handler_workflow("ok");
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    h.observe(&pods[0], PodPhase::Succeeded, Some(0), Outputs::default());
    let exit = h.step();
    let [exit] = exit.as_slice() else {
        panic!("the exit handler's pod: {exit:#?}")
    };
    // Argo's node `<workflow>.onExit`, outside the entrypoint's boundary.
    let node = h.node("wf.onExit");
    assert_eq!(node.name, "wf.onExit");
    assert_eq!(node.boundary_id, None);
    assert!(name_of(exit).starts_with("wf-exit-handler-"));
    assert_eq!(user_args(exit), ["echo", "Succeeded []"]);
    assert_eq!(
        h.phase(),
        Some(WorkflowPhase::Running),
        "waits for the handler"
    );
    h.observe(exit, PodPhase::Succeeded, Some(0), Outputs::default());
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Succeeded));
    assert_eq!(
        h.wf.status.as_ref().unwrap().progress.as_deref(),
        Some("2/2")
    );
}

#[test]
fn a_failed_entrypoint_tells_the_exit_handler_what_failed() {
    let mut h = exit_handler_workflow("fail");
    assert_eq!(h.run(&fail_exits), WorkflowPhase::Failed);
    let exit = h.pod_of("wf.onExit");
    let args = user_args(&exit);
    let (status, failures) = args[1].split_once(' ').unwrap();
    assert_eq!(status, "Failed");
    let failures: Vec<Value> = serde_json::from_str(failures).unwrap();
    let work = failures
        .iter()
        .find(|f| f["displayName"] == "work")
        .expect("the failed step is listed");
    assert_eq!(work["phase"], "Failed");
    assert_eq!(work["templateName"], "fail");
    assert_eq!(work["message"], "Error (exit code 1)");
    assert!(work["podName"].as_str().unwrap().starts_with("wf-fail-"));
    // The handler succeeded: the workflow keeps the entrypoint's failure as its message.
    assert_eq!(h.node("wf.onExit").phase, NodePhase::Succeeded);
    assert_eq!(h.message(), h.node("wf").message.as_deref());
}

#[test]
fn a_failing_exit_handler_fails_a_workflow_that_succeeded() {
    let mut h = exit_handler_workflow("ok");
    let behaviour = |pod: &Value| {
        if args_of(pod).contains("Succeeded") {
            (PodPhase::Failed, Some(3), Outputs::default())
        } else {
            succeed(pod)
        }
    };
    assert_eq!(h.run(&behaviour), WorkflowPhase::Failed);
    assert_eq!(h.message(), Some("Error (exit code 3)"));
}

#[test]
fn stop_runs_the_exit_handler_and_terminate_does_not() {
    for (strategy, runs) in [("Stop", true), ("Terminate", false)] {
        let mut h = exit_handler_workflow("sleep");
        let pods = h.step();
        running(&mut h, &pods);
        h.step();
        h.wf.spec.shutdown = Some(strategy.into());
        let after = h.step();
        assert_eq!(h.deleted(), [name_of(&pods[0])], "{strategy}");
        assert_eq!(after.len(), usize::from(runs), "{strategy}: {after:#?}");
        if runs {
            assert_eq!(user_args(&after[0])[1].split(' ').next(), Some("Failed"));
            assert_eq!(h.phase(), Some(WorkflowPhase::Running));
            // The handler's running pod is not the Stop's to halt.
            running(&mut h, &after);
            h.step();
            assert!(h.deleted().is_empty(), "{:?}", h.deleted());
            assert_eq!(h.node("wf.onExit").phase, NodePhase::Running);
            assert_eq!(h.phase(), Some(WorkflowPhase::Running));
            h.observe(&after[0], PodPhase::Succeeded, Some(0), Outputs::default());
            h.step();
        }
        assert_eq!(h.phase(), Some(WorkflowPhase::Failed), "{strategy}");
        assert_eq!(
            h.message(),
            Some(format!("Stopped with strategy '{strategy}'").as_str())
        );
    }
}
