//! CronWorkflows against Argo's cron controller's behaviour.

use super::*;
use crate::workflow::CronWorkflow;

fn cron(yaml: &str) -> CronWorkflow {
    let mut cron: CronWorkflow = serde_yaml::from_str(&format!(
        "metadata: {{name: nightly, namespace: argo, uid: cron-uid, creationTimestamp: \"2026-01-10T09:00:30Z\"}}\n{yaml}"
    ))
    .expect("test cron parses");
    cron.metadata.namespace = Some("argo".into());
    cron
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

const EVERY_MINUTE: &str = "spec:\n  schedules: ['* * * * *']\n  workflowSpec: {entrypoint: main, templates: [{name: main, suspend: {}}]}\n";

fn running(name: &str) -> Child {
    Child {
        name: name.into(),
        uid: format!("uid-{name}"),
        phase: Some(WorkflowPhase::Running),
        finished_at: None,
    }
}

#[test]
fn a_due_schedule_submits_argos_workflow_once() {
    let c = cron(EVERY_MINUTE);
    // Created at 09:00:30: the 09:00 schedule was before it, 09:01 is the first.
    let d = decide(&c, &[], None, at("2026-01-10T09:00:45Z"));
    assert!(d.submit.is_none());
    assert_eq!(d.requeue_after, Some(Duration::from_secs(15)));
    let d = decide(&c, &[], Some("blue"), at("2026-01-10T09:01:02Z"));
    let wf = d.submit.expect("submitted");
    let due = at("2026-01-10T09:01:00Z");
    assert_eq!(
        wf.metadata.name.as_deref(),
        Some(format!("nightly-{}", due.as_second()).as_str())
    );
    let labels = wf.metadata.labels.unwrap();
    assert_eq!(labels[CRON_LABEL], "nightly");
    assert_eq!(
        labels[crate::workflow::labels::CONTROLLER_INSTANCE_ID],
        "blue"
    );
    assert_eq!(
        wf.metadata.annotations.unwrap()[SCHEDULED_TIME],
        "2026-01-10T09:01:00Z"
    );
    let owner = &wf.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("CronWorkflow", "cron-uid", Some(true))
    );
    assert_eq!(wf.spec.entrypoint.as_deref(), Some("main"));
    assert_eq!(d.status.last_scheduled_time, Some(Time(due)));
    assert_eq!(d.requeue_after, Some(Duration::from_secs(58)));
    // Acted on: the same schedule submits nothing more.
    let mut c = c;
    c.status = Some(d.status);
    assert!(
        decide(&c, &[], None, at("2026-01-10T09:01:30Z"))
            .submit
            .is_none()
    );
}

#[test]
fn concurrency_policies_as_argo() {
    let now = at("2026-01-10T09:05:01Z");
    let busy = [running("nightly-1")];
    let allow = decide(&cron(EVERY_MINUTE), &busy, None, now);
    assert!(allow.submit.is_some() && allow.terminate.is_empty());
    let forbid = cron(&EVERY_MINUTE.replace("spec:\n", "spec:\n  concurrencyPolicy: Forbid\n"));
    let d = decide(&forbid, &busy, None, now);
    assert!(d.submit.is_none(), "one still runs");
    assert_eq!(
        d.status.last_scheduled_time,
        Some(Time(at("2026-01-10T09:05:00Z"))),
        "the skipped schedule is not run late"
    );
    assert_eq!(d.status.active.len(), 1);
    assert!(decide(&forbid, &[], None, now).submit.is_some());
    let replace = cron(&EVERY_MINUTE.replace("spec:\n", "spec:\n  concurrencyPolicy: Replace\n"));
    let d = decide(&replace, &busy, None, now);
    assert!(d.submit.is_some());
    assert_eq!(
        d.terminate,
        [("nightly-1".to_string(), "uid-nightly-1".to_string())]
    );
}

#[test]
fn suspended_or_late_schedules_are_skipped() {
    let now = at("2026-01-10T09:05:30Z");
    let suspended = cron(&EVERY_MINUTE.replace("spec:\n", "spec:\n  suspend: true\n"));
    assert!(decide(&suspended, &[], None, now).submit.is_none());
    let late = cron(&EVERY_MINUTE.replace("spec:\n", "spec:\n  startingDeadlineSeconds: 10\n"));
    assert!(decide(&late, &[], None, now).submit.is_none(), "30 s late");
    let lenient = cron(&EVERY_MINUTE.replace("spec:\n", "spec:\n  startingDeadlineSeconds: 60\n"));
    assert!(decide(&lenient, &[], None, now).submit.is_some());
}

#[test]
fn a_missed_stretch_runs_only_its_latest_schedule() {
    let mut c = cron(EVERY_MINUTE);
    c.status = Some(CronWorkflowStatus {
        last_scheduled_time: Some(Time(at("2026-01-10T09:01:00Z"))),
        ..Default::default()
    });
    // The controller was away for an hour.
    let d = decide(&c, &[], None, at("2026-01-10T10:01:30Z"));
    let name = d.submit.unwrap().metadata.name.unwrap();
    assert_eq!(
        name,
        format!("nightly-{}", at("2026-01-10T10:01:00Z").as_second())
    );
}

#[test]
fn history_limits_delete_the_oldest_finished() {
    let finished = |name: &str, phase, minute: u32| Child {
        name: name.into(),
        uid: format!("uid-{name}"),
        phase: Some(phase),
        finished_at: Some(at(&format!("2026-01-10T09:{minute:02}:00Z"))),
    };
    let children = [
        finished("s1", WorkflowPhase::Succeeded, 1),
        finished("s2", WorkflowPhase::Succeeded, 2),
        finished("s3", WorkflowPhase::Succeeded, 3),
        finished("s4", WorkflowPhase::Succeeded, 4),
        finished("f1", WorkflowPhase::Failed, 1),
        finished("e2", WorkflowPhase::Error, 2),
        running("r"),
    ];
    let d = decide(
        &cron(EVERY_MINUTE),
        &children,
        None,
        at("2026-01-10T09:00:40Z"),
    );
    let deleted: Vec<&str> = d.delete.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(deleted, ["s1", "f1"]);
    let none_kept = cron(&EVERY_MINUTE.replace(
        "spec:\n",
        "spec:\n  successfulJobsHistoryLimit: 0\n  failedJobsHistoryLimit: 2\n",
    ));
    let d = decide(&none_kept, &children, None, at("2026-01-10T09:00:40Z"));
    let deleted: Vec<&str> = d.delete.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(deleted, ["s4", "s3", "s2", "s1"]);
}

#[test]
fn schedules_are_read_in_their_time_zone() {
    let c = cron(
        "spec:\n  schedule: '0 9 * * *'\n  timezone: America/New_York\n  workflowSpec: {entrypoint: main}\n",
    );
    // 09:00 in New York in January is 14:00 UTC.
    assert!(
        decide(&c, &[], None, at("2026-01-10T13:59:00Z"))
            .submit
            .is_none()
    );
    let d = decide(&c, &[], None, at("2026-01-10T14:00:05Z"));
    assert_eq!(
        d.status.last_scheduled_time,
        Some(Time(at("2026-01-10T14:00:00Z")))
    );
    // And Sunday is 0 (and 7), as in standard cron.
    let sunday = cron("spec:\n  schedules: ['0 0 * * 0']\n  workflowSpec: {entrypoint: main}\n");
    let d = decide(&sunday, &[], None, at("2026-01-11T00:00:01Z"));
    assert!(d.submit.is_some(), "2026-01-11 is a Sunday");
}

#[test]
fn the_latest_of_several_schedules_is_the_one_run() {
    let c = cron(
        "spec:\n  schedules: ['0 * * * *', '30 * * * *']\n  workflowSpec: {entrypoint: main}\n",
    );
    let d = decide(&c, &[], None, at("2026-01-10T10:30:20Z"));
    assert_eq!(
        d.status.last_scheduled_time,
        Some(Time(at("2026-01-10T10:30:00Z")))
    );
    assert_eq!(d.requeue_after, Some(Duration::from_secs(29 * 60 + 40)));
}

#[test]
fn a_spec_error_is_a_condition_naming_it_and_submits_nothing() {
    for (spec, message) in [
        (
            "schedules: ['61 * * * *']",
            "cron schedule 61 * * * * is malformed: ",
        ),
        (
            "schedules: ['* * * *']",
            "cron schedule * * * * is malformed: ",
        ),
        (
            "schedules: ['@every 1h']",
            "cron schedule @every 1h is malformed: @every is not supported",
        ),
        (
            "schedules: []",
            "cron workflow must have at least one schedule",
        ),
        (
            "schedule: '* * * * *'\n  schedules: ['* * * * *']",
            "cron workflow cannot have both",
        ),
        (
            "schedules: ['* * * * *']\n  timezone: Mars/Olympus",
            "invalid timezone 'Mars/Olympus'",
        ),
        (
            "schedules: ['* * * * *']\n  concurrencyPolicy: Sometimes",
            "invalid ConcurrencyPolicy: Sometimes",
        ),
        (
            "schedules: ['* * * * *']\n  when: '{{= true }}'",
            "spec.when is not supported by Flotilla",
        ),
    ] {
        let c = cron(&format!(
            "spec:\n  {spec}\n  workflowSpec: {{entrypoint: main}}\n"
        ));
        let d = decide(&c, &[], None, at("2026-01-10T10:31:00Z"));
        assert!(d.submit.is_none(), "{spec}");
        let condition = d.status.conditions.iter().find(|c| c.type_ == "SpecError");
        let text = condition
            .and_then(|c| c.message.as_deref())
            .unwrap_or_default();
        assert!(text.starts_with(message), "{spec}: {text}");
    }
    // Mended, the condition goes.
    let mut c = cron(EVERY_MINUTE);
    c.status = Some(CronWorkflowStatus {
        conditions: vec![crate::workflow::Condition {
            type_: "SpecError".into(),
            status: "True".into(),
            message: Some("old".into()),
        }],
        ..Default::default()
    });
    assert!(
        decide(&c, &[], None, at("2026-01-10T10:31:00Z"))
            .status
            .conditions
            .is_empty()
    );
    let mut long = cron(EVERY_MINUTE);
    long.metadata.name = Some("n".repeat(53));
    let d = decide(&long, &[], None, at("2026-01-10T10:31:00Z"));
    assert!(d.submit.is_none());
}

/// `examples/cron-workflow.yaml` submits, at its schedule in its time zone, a workflow that
/// validates.
#[test]
fn the_example_submits_a_valid_workflow_at_its_schedule() {
    let mut c: CronWorkflow =
        serde_yaml::from_str(include_str!("../../../examples/cron-workflow.yaml")).unwrap();
    c.metadata.namespace = Some("argo".into());
    c.metadata.uid = Some("uid".into());
    c.metadata.creation_timestamp = Some(Time(at("2026-01-09T00:00:00Z")));
    // 02:30 in Berlin in January is 01:30 UTC.
    assert!(
        decide(&c, &[], None, at("2026-01-10T01:29:00Z"))
            .submit
            .is_none()
    );
    let mut wf = decide(&c, &[], None, at("2026-01-10T01:30:10Z"))
        .submit
        .expect("due");
    wf.metadata.creation_timestamp = Some(Time(at("2026-01-10T01:30:11Z")));
    crate::validate::validate(&wf, None).expect("the submitted workflow validates");
    assert_eq!(wf.metadata.labels.unwrap()["team"], "reporting");
}

/// A status wiped (a replace) brings back no schedule older than a minute; one recorded never
/// comes back, even once its workflow is gone.
#[test]
fn without_a_recorded_schedule_only_the_last_minutes_is_run() {
    let c = cron(EVERY_MINUTE);
    let d = decide(&c, &[], None, at("2026-01-10T12:00:30Z"));
    assert_eq!(
        d.status.last_scheduled_time,
        Some(Time(at("2026-01-10T12:00:00Z"))),
        "not the hours of schedules since its creation"
    );
    let hourly = cron("spec:\n  schedules: ['0 * * * *']\n  workflowSpec: {entrypoint: main}\n");
    assert!(
        decide(&hourly, &[], None, at("2026-01-10T12:30:00Z"))
            .submit
            .is_none()
    );
}

/// The workflow of the due schedule exists (its status write was lost, or a reconcile read the
/// CronWorkflow before its own write): nothing is submitted or terminated again.
#[test]
fn a_schedule_whose_workflow_exists_is_not_submitted_or_replaced_again() {
    let replace = cron(&EVERY_MINUTE.replace("spec:\n", "spec:\n  concurrencyPolicy: Replace\n"));
    let now = at("2026-01-10T09:05:01Z");
    let own = running(&format!(
        "nightly-{}",
        at("2026-01-10T09:05:00Z").as_second()
    ));
    let d = decide(&replace, &[own.clone(), running("nightly-1")], None, now);
    assert!(d.submit.is_none());
    assert!(d.terminate.is_empty(), "{:?}", d.terminate);
    assert_eq!(
        d.status.last_scheduled_time,
        Some(Time(at("2026-01-10T09:05:00Z")))
    );
    let forbid = cron(&EVERY_MINUTE.replace("spec:\n", "spec:\n  concurrencyPolicy: Forbid\n"));
    let d = decide(&forbid, &[own], None, now);
    assert!(d.submit.is_none());
}

#[test]
fn a_schedule_that_never_occurs_is_a_spec_error_and_long_text_is_cut() {
    let never = cron("spec:\n  schedules: ['0 0 30 2 *']\n  workflowSpec: {entrypoint: main}\n");
    let d = decide(&never, &[], None, at("2026-01-10T10:31:00Z"));
    let message = d.status.conditions[0].message.clone().unwrap();
    assert_eq!(
        message,
        "cron schedule 0 0 30 2 * never occurs in the next 5 years"
    );
    let long = format!("{} * * * *", "x".repeat(500));
    let c = cron(&format!(
        "spec:\n  schedules: ['{long}']\n  workflowSpec: {{entrypoint: main}}\n"
    ));
    let d = decide(&c, &[], None, at("2026-01-10T10:31:00Z"));
    let message = d.status.conditions[0].message.clone().unwrap();
    assert!(message.len() < 300, "{message}");
}
