//! Execution control, as Argo's controller applies it: `spec.shutdown` (`Stop`, `Terminate`) and
//! the workflow's `activeDeadlineSeconds` halt a running workflow — every unfulfilled node fails
//! with Argo's message and running pods are deleted — and `spec.suspend` holds it: no node starts
//! while pods already running carry on.
//!
//! Decided once per reconcile from the spec, the status and `now`; the walk applies it.

use std::time::Duration;

use crate::workflow::WorkflowSpec;

/// Argo's pod-node message when the workflow's deadline has passed (its executor writes the same).
pub(super) const DEADLINE_MESSAGE: &str = "Step exceeded its deadline";

/// Why the walk fails every unfulfilled node instead of running it, with the messages Argo gives
/// each kind of node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Halt {
    /// Pod nodes, whose running pods are deleted: `workflow shutdown with strategy: Stop`, or
    /// `Step exceeded its deadline`.
    pub(super) pod: String,
    /// Active suspend nodes: `Stopped with strategy 'Stop'`, or `Step exceeded its deadline`.
    pub(super) suspend: String,
    /// Retry nodes whose last attempt failed: no further attempt is made.
    pub(super) retry: String,
    /// The workflow's message when it ends Failed or Error. A shutdown names its strategy; a
    /// deadline keeps the root node's message, as in Argo.
    pub(super) workflow: Option<String>,
    /// Whether the exit handler still runs (`Stop` and a deadline: yes; `Terminate`: no).
    pub(super) exit_handlers: bool,
}

/// What holds or halts the workflow during this reconcile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Control {
    pub(super) halt: Option<Halt>,
    /// `spec.suspend: true` and nothing halts the workflow: no node starts and the workflow does
    /// not end until it is resumed.
    pub(super) frozen: bool,
    /// The deadline has not passed yet: reconcile again when it does, even if nothing happens.
    pub(super) requeue_after: Option<Duration>,
}

/// `spec.shutdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shutdown {
    /// Fail everything now, but still run exit handlers.
    Stop,
    /// Fail everything now, exit handlers included.
    Terminate,
}

impl Shutdown {
    fn parse(value: Option<&str>) -> Result<Option<Shutdown>, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some("Stop") => Ok(Some(Shutdown::Stop)),
            Some("Terminate") => Ok(Some(Shutdown::Terminate)),
            Some(other) => Err(format!(
                "spec.shutdown {other:?} is not a shutdown strategy: use Stop or Terminate"
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Shutdown::Stop => "Stop",
            Shutdown::Terminate => "Terminate",
        }
    }

    fn halt(self) -> Halt {
        let stopped = format!("Stopped with strategy '{}'", self.as_str());
        Halt {
            pod: format!("workflow shutdown with strategy: {}", self.as_str()),
            suspend: stopped.clone(),
            retry: stopped.clone(),
            workflow: Some(stopped),
            exit_handlers: self == Shutdown::Stop,
        }
    }
}

/// The workflow's deadline: `startedAt` (to the second, as Argo truncates it) plus
/// `activeDeadlineSeconds`.
fn deadline(
    spec: &WorkflowSpec,
    started_at: Option<jiff::Timestamp>,
) -> Result<Option<jiff::Timestamp>, String> {
    let Some(seconds) = spec.active_deadline_seconds else {
        return Ok(None);
    };
    if seconds < 0 {
        return Err(format!(
            "spec.activeDeadlineSeconds {seconds} must be a non-negative number of seconds"
        ));
    }
    let Some(started) = started_at else {
        return Ok(None);
    };
    let started = jiff::Timestamp::from_second(started.as_second()).unwrap_or(started);
    Ok(Some(
        started
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap_or(jiff::Timestamp::MAX),
    ))
}

/// How the workflow runs this reconcile, or why its lifecycle settings are invalid (a message
/// naming the field and the value).
pub(super) fn control(
    spec: &WorkflowSpec,
    started_at: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
) -> Result<Control, String> {
    let shutdown = Shutdown::parse(spec.shutdown.as_deref())?;
    let deadline = deadline(spec, started_at)?;
    let mut control = Control::default();
    if let Some(deadline) = deadline {
        if now > deadline {
            control.halt = Some(Halt {
                pod: DEADLINE_MESSAGE.into(),
                suspend: DEADLINE_MESSAGE.into(),
                retry: format!("retry exceeded workflow deadline {deadline}"),
                workflow: None,
                exit_handlers: true,
            });
        } else {
            // Argo's test is "after the deadline": wake just past it.
            let left = deadline.duration_since(now);
            control.requeue_after =
                Some(Duration::try_from(left).unwrap_or_default() + Duration::from_millis(1));
        }
    }
    // A shutdown wins over a deadline, as in Argo's execution control.
    if let Some(shutdown) = shutdown {
        control.halt = Some(shutdown.halt());
    }
    control.frozen = spec.suspend == Some(true) && control.halt.is_none();
    Ok(control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn the_deadline_counts_from_the_start_truncated_to_the_second() {
        let spec = WorkflowSpec {
            active_deadline_seconds: Some(10),
            ..Default::default()
        };
        let started = at(100)
            .checked_add(jiff::SignedDuration::from_millis(900))
            .unwrap();
        let before = control(&spec, Some(started), at(110)).unwrap();
        assert!(before.halt.is_none());
        assert_eq!(before.requeue_after, Some(Duration::from_millis(1)));
        let after = control(&spec, Some(started), at(111)).unwrap();
        assert_eq!(after.halt.unwrap().pod, DEADLINE_MESSAGE);
    }

    #[test]
    fn shutdown_wins_over_suspend_and_the_deadline() {
        let spec = WorkflowSpec {
            active_deadline_seconds: Some(0),
            shutdown: Some("Terminate".into()),
            suspend: Some(true),
            ..Default::default()
        };
        let c = control(&spec, Some(at(100)), at(200)).unwrap();
        assert!(!c.frozen);
        let halt = c.halt.unwrap();
        assert_eq!(halt.pod, "workflow shutdown with strategy: Terminate");
        assert_eq!(
            halt.workflow.as_deref(),
            Some("Stopped with strategy 'Terminate'")
        );
    }

    #[test]
    fn invalid_settings_name_the_field_and_value() {
        let spec = WorkflowSpec {
            shutdown: Some("Pause".into()),
            ..Default::default()
        };
        assert_eq!(
            control(&spec, None, at(0)).unwrap_err(),
            r#"spec.shutdown "Pause" is not a shutdown strategy: use Stop or Terminate"#
        );
        let spec = WorkflowSpec {
            active_deadline_seconds: Some(-5),
            ..Default::default()
        };
        assert_eq!(
            control(&spec, None, at(0)).unwrap_err(),
            "spec.activeDeadlineSeconds -5 must be a non-negative number of seconds"
        );
    }
}
