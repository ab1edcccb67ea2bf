//! CronWorkflows, as Argo's cron controller runs them: when one of the schedules comes due, its
//! workflow is submitted (named `<cron>-<scheduled Unix seconds>`, so a repeated submission is
//! the same object and is refused by the API server), unless the CronWorkflow is suspended,
//! the schedule is past its starting deadline, or `concurrencyPolicy: Forbid` finds one still
//! running (`Replace` terminates those first). Finished workflows beyond the history limits are
//! deleted, oldest first. Pure: the controller supplies the time and the CronWorkflow's own
//! workflows, proven its by their owner reference.

use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube_core::Resource;

use crate::workflow::{
    ActiveWorkflow, Condition, CronWorkflow, CronWorkflowStatus, Workflow, WorkflowPhase,
};

/// The label Argo puts on a CronWorkflow's workflows: the CronWorkflow's name.
pub const CRON_LABEL: &str = "workflows.argoproj.io/cron-workflow";
/// The annotation Argo puts on them: the time they were scheduled for (RFC 3339).
pub const SCHEDULED_TIME: &str = "workflows.argoproj.io/scheduled-time";
/// Longest CronWorkflow name (Argo's: its workflows add `-` and ten digits within 63).
pub const MAX_NAME: usize = 52;
/// Most schedules one CronWorkflow may have.
pub const MAX_SCHEDULES: usize = 20;
/// How far back a CronWorkflow with no recorded schedule looks for a due one.
const UNRECORDED_WINDOW_SECS: i64 = 60;
/// Longest part of a schedule quoted in a message.
const MAX_QUOTED: usize = 64;
/// How far ahead a schedule must occur: one that cannot (`0 0 30 2 *`) is a spec error, as
/// Argo's scheduler gives up after five years.
const HORIZON_YEARS: i16 = 5;

/// One workflow the CronWorkflow submitted, as the controller observed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    pub name: String,
    pub uid: String,
    pub phase: Option<WorkflowPhase>,
    pub finished_at: Option<Timestamp>,
}

/// What to do for a CronWorkflow.
#[derive(Debug, Clone, Default)]
pub struct CronDecision {
    pub status: CronWorkflowStatus,
    /// The workflow to submit now.
    pub submit: Option<Workflow>,
    /// Running workflows to terminate first (`Replace`), by name and uid.
    pub terminate: Vec<(String, String)>,
    /// Finished workflows past the history limits, by name and uid.
    pub delete: Vec<(String, String)>,
    /// When the next schedule comes due.
    pub requeue_after: Option<Duration>,
}

/// The schedules and their time zone, parsed.
struct Schedules {
    crons: Vec<croner::Cron>,
    tz: TimeZone,
    /// The earliest next occurrence of any of them after `now` (found once, by `check`).
    next: Timestamp,
}

/// Decides what happens next for `cron` at `now`, given the workflows it owns; `instance_id` is
/// the controller's (`workflows.argoproj.io/controller-instanceid`), given to what it submits.
pub fn decide(
    cron: &CronWorkflow,
    children: &[Child],
    instance_id: Option<&str>,
    now: Timestamp,
) -> CronDecision {
    let mut status = cron.status.clone().unwrap_or_default();
    let mut decision = CronDecision::default();
    let running: Vec<&Child> = children
        .iter()
        .filter(|c| !c.phase.is_some_and(WorkflowPhase::is_finished))
        .collect();
    status.active = running.iter().map(|c| reference(cron, c)).collect();
    decision.delete = past_history(cron, children);
    let schedules = match check(cron, now) {
        Ok(schedules) => {
            status.conditions.retain(|c| c.type_ != "SpecError");
            schedules
        }
        Err(message) => {
            set_condition(&mut status, "SpecError", message);
            decision.status = status;
            return decision;
        }
    };
    let now_zoned = now.to_zoned(schedules.tz.clone());
    // Without a recorded schedule (a new CronWorkflow, or a status wiped by a replace), only a
    // schedule of the last minute, and none before the CronWorkflow existed, is run: a wiped
    // status never brings back older ones.
    let last = match status.last_scheduled_time.as_ref() {
        Some(t) => t.0,
        None => {
            let recent = now - jiff::SignedDuration::from_secs(UNRECORDED_WINDOW_SECS);
            cron.metadata
                .creation_timestamp
                .as_ref()
                .map_or(recent, |t| t.0.max(recent))
        }
    };
    let due = schedules
        .crons
        .iter()
        .filter_map(|c| c.find_previous_occurrence(&now_zoned, true).ok())
        .map(|z| z.timestamp())
        .filter(|t| *t > last)
        .max();
    decision.requeue_after = Some(
        Duration::try_from(schedules.next.duration_since(now))
            .unwrap_or_default()
            .max(Duration::from_secs(1)),
    );
    let Some(due) = due else {
        decision.status = status;
        return decision;
    };
    // A due schedule is acted on once, whatever comes of it.
    status.last_scheduled_time = Some(Time(due));
    let name = child_name(cron, due);
    if children.iter().any(|c| c.name == name) {
        // Submitted already, its status write lost or not yet seen: never again, and not one
        // of the running workflows `Forbid` and `Replace` weigh.
        decision.status = status;
        return decision;
    }
    let late = cron
        .spec
        .starting_deadline_seconds
        .filter(|s| *s > 0)
        .is_some_and(|s| now.as_second() > due.as_second().saturating_add(s));
    let policy = cron.spec.concurrency_policy.as_deref().unwrap_or("Allow");
    let skip =
        cron.spec.suspend == Some(true) || late || (policy == "Forbid" && !running.is_empty());
    if !skip {
        if policy == "Replace" {
            decision.terminate = running
                .iter()
                .map(|c| (c.name.clone(), c.uid.clone()))
                .collect();
        }
        decision.submit = Some(child(cron, due, instance_id));
    }
    decision.status = status;
    decision
}

/// The CronWorkflow's spec checked as Argo's `ValidateCronWorkflow` does, in its words.
fn check(cron: &CronWorkflow, now: Timestamp) -> Result<Schedules, String> {
    let name = cron.metadata.name.as_deref().unwrap_or_default();
    if name.len() > MAX_NAME {
        return Err(format!(
            "cron workflow name {name:?} must not be more than {MAX_NAME} characters long (currently {})",
            name.len()
        ));
    }
    for field in ["when", "stopStrategy"] {
        if cron.spec.other.get(field).is_some_and(|v| !v.is_null()) {
            return Err(format!(
                "spec.{field} is not supported by Flotilla: its expressions are not evaluated"
            ));
        }
    }
    match cron.spec.concurrency_policy.as_deref() {
        None | Some("" | "Allow" | "Forbid" | "Replace") => {}
        Some(other) => return Err(format!("invalid ConcurrencyPolicy: {}", quoted(other))),
    }
    let mut patterns: Vec<&str> = cron.spec.schedules.iter().map(String::as_str).collect();
    if let Some(one) = cron.spec.schedule.as_deref().filter(|s| !s.is_empty()) {
        if !patterns.is_empty() {
            return Err(
                "cron workflow cannot have both 'schedule' (deprecated) and 'schedules'".into(),
            );
        }
        patterns.push(one);
    }
    if patterns.is_empty() {
        return Err("cron workflow must have at least one schedule".into());
    }
    if patterns.len() > MAX_SCHEDULES {
        return Err(format!(
            "cron workflow has {} schedules; at most {MAX_SCHEDULES} are supported",
            patterns.len()
        ));
    }
    let tz = match cron.spec.timezone.as_deref().filter(|t| !t.is_empty()) {
        None => TimeZone::UTC,
        Some(name) => TimeZone::get(name).map_err(|e| format!("invalid timezone '{name}': {e}"))?,
    };
    // Argo's `cron.ParseStandard`: five fields, or a descriptor (`@hourly`…).
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build();
    let crons = patterns
        .iter()
        .map(|p| {
            let shown = quoted(p);
            if p.trim_start().starts_with("@every") {
                return Err(format!(
                    "cron schedule {shown} is malformed: @every is not supported by Flotilla (write the interval as a cron schedule)"
                ));
            }
            parser
                .parse(p)
                .map_err(|e| format!("cron schedule {shown} is malformed: {}", quoted(&e.to_string())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let now = now.to_zoned(tz.clone());
    let next = next_occurrence(&crons, &patterns, &now)?;
    Ok(Schedules { crons, tz, next })
}

/// The earliest next occurrence of the schedules after `now`; a schedule that never occurs
/// within [`HORIZON_YEARS`] is an error naming it.
fn next_occurrence(
    crons: &[croner::Cron],
    patterns: &[&str],
    now: &jiff::Zoned,
) -> Result<Timestamp, String> {
    let horizon = now.year().saturating_add(HORIZON_YEARS);
    let mut earliest: Option<Timestamp> = None;
    for (cron, pattern) in crons.iter().zip(patterns) {
        match cron.find_next_occurrence(now, false) {
            Ok(next) if next.year() <= horizon => {
                let next = next.timestamp();
                earliest = Some(earliest.map_or(next, |e| e.min(next)));
            }
            _ => {
                return Err(format!(
                    "cron schedule {} never occurs in the next {HORIZON_YEARS} years",
                    quoted(pattern)
                ));
            }
        }
    }
    earliest.ok_or_else(|| "cron workflow must have at least one schedule".to_string())
}

/// At most [`MAX_QUOTED`] characters of a tenant's text.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The workflow a schedule submits (Argo's `ConvertCronWorkflowToWorkflowWithProperties`).
fn child(cron: &CronWorkflow, scheduled: Timestamp, instance_id: Option<&str>) -> Workflow {
    let name = cron.metadata.name.clone().unwrap_or_default();
    let mut labels = cron
        .spec
        .workflow_metadata
        .as_ref()
        .map(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(CRON_LABEL.to_string(), name.clone());
    if let Some(id) = instance_id {
        labels.insert(
            crate::workflow::labels::CONTROLLER_INSTANCE_ID.to_string(),
            id.to_string(),
        );
    }
    let mut annotations = cron
        .spec
        .workflow_metadata
        .as_ref()
        .map(|m| m.annotations.clone())
        .unwrap_or_default();
    annotations.insert(
        SCHEDULED_TIME.to_string(),
        scheduled.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    Workflow {
        metadata: ObjectMeta {
            name: Some(child_name(cron, scheduled)),
            namespace: cron.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: CronWorkflow::api_version(&()).into_owned(),
                kind: CronWorkflow::kind(&()).into_owned(),
                name,
                uid: cron.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: cron.spec.workflow_spec.clone(),
        status: None,
    }
}

/// Argo's name of the workflow a schedule submits: `<cron>-<scheduled Unix seconds>`.
fn child_name(cron: &CronWorkflow, scheduled: Timestamp) -> String {
    format!(
        "{}-{}",
        cron.metadata.name.as_deref().unwrap_or_default(),
        scheduled.as_second()
    )
}

fn reference(cron: &CronWorkflow, child: &Child) -> ActiveWorkflow {
    ActiveWorkflow {
        kind: Some(Workflow::kind(&()).into_owned()),
        api_version: Some(Workflow::api_version(&()).into_owned()),
        name: Some(child.name.clone()),
        namespace: cron.metadata.namespace.clone(),
        uid: Some(child.uid.clone()),
    }
}

/// Finished workflows beyond `successfulJobsHistoryLimit` (default 3) and
/// `failedJobsHistoryLimit` (default 1), oldest first out.
fn past_history(cron: &CronWorkflow, children: &[Child]) -> Vec<(String, String)> {
    let limit = |set: Option<i32>, default: usize| {
        set.and_then(|n| usize::try_from(n).ok()).unwrap_or(default)
    };
    let mut out = Vec::new();
    for (phases, keep) in [
        (
            &[WorkflowPhase::Succeeded][..],
            limit(cron.spec.successful_jobs_history_limit, 3),
        ),
        (
            &[WorkflowPhase::Failed, WorkflowPhase::Error][..],
            limit(cron.spec.failed_jobs_history_limit, 1),
        ),
    ] {
        let mut done: Vec<&Child> = children
            .iter()
            .filter(|c| c.phase.is_some_and(|p| phases.contains(&p)))
            .collect();
        // Newest first; ties by name, so the choice is stable.
        done.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then(a.name.cmp(&b.name)));
        out.extend(
            done.iter()
                .skip(keep)
                .map(|c| (c.name.clone(), c.uid.clone())),
        );
    }
    out
}

fn set_condition(status: &mut CronWorkflowStatus, type_: &str, message: String) {
    status.conditions.retain(|c| c.type_ != type_);
    status.conditions.push(Condition {
        type_: type_.to_string(),
        status: "True".to_string(),
        message: Some(message),
    });
}

#[cfg(test)]
mod tests;
