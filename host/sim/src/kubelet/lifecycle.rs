//! The life of a pod on the simulated node, as pure state: which containers run when, what a
//! container's exit means under the pod's `restartPolicy`, and (in [`status`]) the `PodStatus` a
//! real kubelet would report at each step.
//!
//! The I/O side drives a [`PodRun`]: [`PodRun::sandbox_ready`] once the "sandbox" is up, then
//! [`PodRun::started`] / [`PodRun::exited`] as emulated programs run, following the [`Next`]
//! instructions those return; [`PodRun::deadline_exceeded`] and [`PodRun::kill_all`] stop it early.
//! Semantics follow the kubelet (`pkg/kubelet/kubelet_pods.go` `getPhase`, `pkg/kubelet/status`):
//! init containers run one after another and must all succeed before the regular containers start
//! together; `Never` makes any failure final, `OnFailure` restarts failed containers, `Always`
//! restarts every container (so such a pod never succeeds), with the kubelet's crash-loop back-off.

mod status;

#[cfg(test)]
mod tests;

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod};

pub(crate) use status::fake_digest;

/// Reason and message Kubernetes puts on a pod that ran past `activeDeadlineSeconds`.
pub(crate) const DEADLINE_REASON: &str = "DeadlineExceeded";
pub(crate) const DEADLINE_MESSAGE: &str =
    "Pod was active on the node longer than the specified deadline";

/// Exit code a container shows when the kubelet kills it (SIGKILL).
pub(crate) const KILLED_EXIT_CODE: i32 = 137;

/// The pod's `spec.restartPolicy` (default `Always`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    fn of(pod: &Pod) -> Self {
        match pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
            Some("Never") => Self::Never,
            Some("OnFailure") => Self::OnFailure,
            _ => Self::Always,
        }
    }
}

/// Identifies a container of the pod: an init container or a regular one, by index in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Slot {
    pub(crate) init: bool,
    pub(crate) index: usize,
}

/// What the driver must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Start this container now.
    Start(Slot),
    /// Start this container again after the crash-loop back-off.
    RestartAfter(Slot, Duration),
}

/// How an instance of a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terminated {
    pub(crate) exit_code: i32,
    /// `Completed` for exit code 0, else `Error`.
    pub(crate) reason: String,
    pub(crate) message: Option<String>,
    pub(crate) started_at: Timestamp,
    pub(crate) finished_at: Timestamp,
    pub(crate) container_id: String,
}

/// The state of a container as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunState {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
        container_id: String,
    },
    Terminated(Terminated),
}

/// One container of the pod and its history on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerRun {
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) state: RunState,
    pub(crate) last_termination: Option<Terminated>,
    pub(crate) restart_count: i32,
    /// Whether an instance has ever been started (decides `imageID` and the Initialized condition).
    pub(crate) ever_started: bool,
}

impl ContainerRun {
    fn new(container: &Container, reason: &str) -> Self {
        Self {
            name: container.name.clone(),
            image: container.image.clone().unwrap_or_default(),
            state: RunState::Waiting {
                reason: reason.to_owned(),
                message: None,
            },
            last_termination: None,
            restart_count: 0,
            ever_started: false,
        }
    }

    fn succeeded(&self) -> bool {
        matches!(&self.state, RunState::Terminated(t) if t.exit_code == 0)
    }
}

/// A pod's run on this node. Build with [`PodRun::new`]; all changes go through its methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodRun {
    namespace: String,
    name: String,
    uid: String,
    pub(crate) restart_policy: RestartPolicy,
    pub(crate) init: Vec<ContainerRun>,
    pub(crate) containers: Vec<ContainerRun>,
    pub(crate) host_ip: String,
    pub(crate) pod_ip: String,
    pub(crate) start_time: Timestamp,
    pub(crate) sandbox_ready: bool,
    /// Set once the pod reached Succeeded or Failed: phase and, for a deadline, reason and message.
    terminal: Option<(&'static str, Option<&'static str>, Option<&'static str>)>,
    /// Crash-loop back-off: first delay and cap.
    backoff_base: Duration,
    backoff_max: Duration,
}

impl PodRun {
    /// A pod the kubelet has just admitted at `now`: every container waiting.
    pub(crate) fn new(pod: &Pod, host_ip: &str, pod_ip: &str, now: Timestamp) -> Self {
        let spec = pod.spec.as_ref();
        let init_specs = spec
            .and_then(|s| s.init_containers.as_deref())
            .unwrap_or_default();
        let main_specs = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
        let has_init = !init_specs.is_empty();
        let init = init_specs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                ContainerRun::new(
                    c,
                    if i == 0 {
                        "ContainerCreating"
                    } else {
                        "PodInitializing"
                    },
                )
            })
            .collect();
        let containers = main_specs
            .iter()
            .map(|c| {
                ContainerRun::new(
                    c,
                    if has_init {
                        "PodInitializing"
                    } else {
                        "ContainerCreating"
                    },
                )
            })
            .collect();
        Self {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            restart_policy: RestartPolicy::of(pod),
            init,
            containers,
            host_ip: host_ip.to_owned(),
            pod_ip: pod_ip.to_owned(),
            start_time: now,
            sandbox_ready: false,
            terminal: None,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
        }
    }

    /// Replaces the kubelet's crash-loop back-off (10 s doubling up to 5 min) with a faster one.
    pub(crate) fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    pub(crate) fn container(&self, slot: Slot) -> Option<&ContainerRun> {
        if slot.init {
            self.init.get(slot.index)
        } else {
            self.containers.get(slot.index)
        }
    }

    fn container_mut(&mut self, slot: Slot) -> Option<&mut ContainerRun> {
        if slot.init {
            self.init.get_mut(slot.index)
        } else {
            self.containers.get_mut(slot.index)
        }
    }

    /// The `containerID` the next instance of this container gets (`sim://` + a stable digest).
    pub(crate) fn next_container_id(&self, slot: Slot) -> String {
        let restarts = self
            .container(slot)
            .map_or(0, |c| c.restart_count + i32::from(c.ever_started));
        let name = self.container(slot).map_or("", |c| c.name.as_str());
        format!(
            "sim://{}",
            fake_digest(&format!("{}/{name}/{restarts}", self.uid))
        )
    }

    /// The phase Kubernetes shows now.
    pub(crate) fn phase(&self) -> &'static str {
        match self.terminal {
            Some((phase, _, _)) => phase,
            None => self.computed_phase(),
        }
    }

    /// True once the pod is Succeeded or Failed; nothing runs or restarts after that.
    pub(crate) fn is_terminal(&self) -> bool {
        self.terminal.is_some()
    }

    /// How long the pod may be active on the node (`activeDeadlineSeconds`, counted from
    /// `startTime`), if it has a deadline.
    pub(crate) fn active_deadline(pod: &Pod) -> Option<Duration> {
        let seconds = pod.spec.as_ref()?.active_deadline_seconds?;
        Some(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
    }

    /// The sandbox is up: start the first init container, or every regular container.
    pub(crate) fn sandbox_ready(&mut self) -> Vec<Next> {
        self.sandbox_ready = true;
        if self.is_terminal() {
            return Vec::new();
        }
        if !self.init.is_empty() {
            return vec![Next::Start(Slot {
                init: true,
                index: 0,
            })];
        }
        self.start_regular()
    }

    fn start_regular(&mut self) -> Vec<Next> {
        for c in &mut self.containers {
            if matches!(&c.state, RunState::Waiting { .. }) && !c.ever_started {
                c.state = RunState::Waiting {
                    reason: "ContainerCreating".to_owned(),
                    message: None,
                };
            }
        }
        (0..self.containers.len())
            .map(|index| Next::Start(Slot { init: false, index }))
            .collect()
    }

    /// A container instance started at `now` (for a restart, after its back-off).
    pub(crate) fn started(&mut self, slot: Slot, now: Timestamp) {
        let container_id = self.next_container_id(slot);
        let Some(c) = self.container_mut(slot) else {
            return;
        };
        if let RunState::Terminated(t) = &c.state {
            c.last_termination = Some(t.clone());
        }
        if c.ever_started {
            c.restart_count += 1;
        }
        c.ever_started = true;
        c.state = RunState::Running {
            started_at: now,
            container_id,
        };
    }

    /// A container could not be created (bad env reference, say): it waits with this reason
    /// (`CreateContainerConfigError`) and message, as the kubelet leaves it until something changes.
    pub(crate) fn cannot_create(&mut self, slot: Slot, reason: &str, message: String) {
        if let Some(c) = self.container_mut(slot) {
            c.state = RunState::Waiting {
                reason: reason.to_owned(),
                message: Some(message),
            };
        }
    }

    /// A running container ended at `now` with `exit_code` and its termination `message`; returns
    /// what to start next under the restart policy.
    pub(crate) fn exited(
        &mut self,
        slot: Slot,
        exit_code: i32,
        message: Option<String>,
        now: Timestamp,
    ) -> Vec<Next> {
        let Some(c) = self.container_mut(slot) else {
            return Vec::new();
        };
        let RunState::Running {
            started_at,
            container_id,
        } = &c.state
        else {
            return Vec::new();
        };
        let reason = if exit_code == 0 { "Completed" } else { "Error" };
        let restart_count = c.restart_count;
        c.state = RunState::Terminated(Terminated {
            exit_code,
            reason: reason.to_owned(),
            message,
            started_at: *started_at,
            finished_at: now,
            container_id: container_id.clone(),
        });
        if self.is_terminal() {
            return Vec::new();
        }
        let restart = match self.restart_policy {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => exit_code != 0,
            RestartPolicy::Always => !slot.init || exit_code != 0,
        };
        let next = if restart {
            let delay = self.backoff(restart_count);
            vec![Next::RestartAfter(slot, delay)]
        } else if slot.init && exit_code == 0 {
            match slot.index + 1 {
                i if i < self.init.len() => {
                    if let Some(next) = self.init.get_mut(i) {
                        next.state = RunState::Waiting {
                            reason: "ContainerCreating".to_owned(),
                            message: None,
                        };
                    }
                    vec![Next::Start(Slot {
                        init: true,
                        index: i,
                    })]
                }
                _ => self.start_regular(),
            }
        } else {
            Vec::new()
        };
        self.settle();
        next
    }

    /// A container is in crash-loop back-off for `delay` before it restarts (shown as waiting).
    pub(crate) fn backing_off(&mut self, slot: Slot, delay: Duration) {
        let pod = format!("{}_{}({})", self.name, self.namespace, self.uid);
        let Some(c) = self.container_mut(slot) else {
            return;
        };
        if delay.is_zero() {
            return;
        }
        if let RunState::Terminated(t) = &c.state {
            c.last_termination = Some(t.clone());
        }
        let message = format!(
            "back-off {} restarting failed container={} pod={pod}",
            go_duration(delay),
            c.name
        );
        c.state = RunState::Waiting {
            reason: "CrashLoopBackOff".to_owned(),
            message: Some(message),
        };
    }

    /// The kubelet's back-off before restart number `restarts + 1`: none for the first restart, then
    /// the base doubling up to the cap.
    fn backoff(&self, restarts: i32) -> Duration {
        match u32::try_from(restarts) {
            Ok(0) | Err(_) => Duration::ZERO,
            Ok(n) => self
                .backoff_base
                .saturating_mul(1u32 << (n - 1).min(20))
                .min(self.backoff_max),
        }
    }

    /// Stops every running container at `now` (deletion or deadline): they end as killed.
    pub(crate) fn kill_all(&mut self, now: Timestamp) {
        for c in self.init.iter_mut().chain(self.containers.iter_mut()) {
            if let RunState::Running {
                started_at,
                container_id,
            } = &c.state
            {
                c.state = RunState::Terminated(Terminated {
                    exit_code: KILLED_EXIT_CODE,
                    reason: "Error".to_owned(),
                    message: None,
                    started_at: *started_at,
                    finished_at: now,
                    container_id: container_id.clone(),
                });
            }
        }
    }

    /// The pod is being deleted: containers are killed and the pod ends in a terminal phase
    /// (Failed unless it had already succeeded), as the kubelet does before the final delete.
    pub(crate) fn deleting(&mut self, now: Timestamp) {
        if self.is_terminal() {
            return;
        }
        self.kill_all(now);
        let phase = if self.computed_phase() == "Succeeded" {
            "Succeeded"
        } else {
            "Failed"
        };
        self.terminal = Some((phase, None, None));
    }

    /// `activeDeadlineSeconds` ran out: containers are killed and the pod fails.
    pub(crate) fn deadline_exceeded(&mut self, now: Timestamp) {
        if self.is_terminal() {
            return;
        }
        self.kill_all(now);
        self.terminal = Some(("Failed", Some(DEADLINE_REASON), Some(DEADLINE_MESSAGE)));
    }

    /// Makes a terminal phase sticky once reached.
    fn settle(&mut self) {
        let phase = self.computed_phase();
        if matches!(phase, "Succeeded" | "Failed") {
            self.terminal = Some((phase, None, None));
        }
    }

    /// The kubelet's `getPhase` over the current container states.
    fn computed_phase(&self) -> &'static str {
        let failed_init = self.init.iter().any(|c| {
            matches!(&c.state, RunState::Terminated(t) if t.exit_code != 0)
                || c.last_termination
                    .as_ref()
                    .is_some_and(|t| t.exit_code != 0)
                    && matches!(c.state, RunState::Waiting { .. })
        });
        if failed_init && self.restart_policy == RestartPolicy::Never {
            return "Failed";
        }
        if !self.init.iter().all(ContainerRun::succeeded) {
            return "Pending";
        }
        let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
        for c in &self.containers {
            match &c.state {
                RunState::Running { .. } => running += 1,
                RunState::Terminated(t) => {
                    stopped += 1;
                    if t.exit_code == 0 {
                        succeeded += 1;
                    }
                }
                RunState::Waiting { .. } if c.last_termination.is_some() => stopped += 1,
                RunState::Waiting { .. } => waiting += 1,
            }
        }
        if waiting > 0 {
            "Pending"
        } else if running > 0 {
            "Running"
        } else if stopped > 0 {
            if self.restart_policy == RestartPolicy::Always {
                "Running"
            } else if stopped == succeeded {
                "Succeeded"
            } else if self.restart_policy == RestartPolicy::Never {
                "Failed"
            } else {
                "Running"
            }
        } else {
            "Pending"
        }
    }
}

/// A duration as Go prints it (`10s`, `1m20s`, `5m0s`), for back-off messages.
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    match (secs / 60, secs % 60) {
        (0, _) if millis > 0 && secs == 0 => format!("{millis}ms"),
        (0, s) => format!("{s}s"),
        (m, s) if m < 60 => format!("{m}m{s}s"),
        (m, s) => format!("{}h{}m{s}s", m / 60, m % 60),
    }
}
