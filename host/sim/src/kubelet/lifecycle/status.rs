//! Rendering a [`PodRun`] as the `PodStatus` the kubelet writes to `pods/status`.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{ContainerRun, PodRun, RunState, Terminated};

impl PodRun {
    /// The status Kubernetes would show for this pod at `now`. Fields the kubelet does not own
    /// (`qosClass`, `nominatedNodeName`, the scheduler's `PodScheduled` condition) are kept from
    /// the pod's current status; a condition keeps its `lastTransitionTime` while its status holds.
    pub(crate) fn status(&self, pod: &Pod, now: Timestamp) -> PodStatus {
        let previous = pod.status.clone().unwrap_or_default();
        let phase = self.phase();
        let terminal = matches!(phase, "Succeeded" | "Failed");
        let old_conditions = previous.conditions.clone().unwrap_or_default();
        let condition = |type_: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
            let status = if ok { "True" } else { "False" };
            let since = old_conditions
                .iter()
                .find(|c| c.type_ == type_ && c.status == status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| time(now));
            PodCondition {
                type_: type_.to_owned(),
                status: status.to_owned(),
                last_transition_time: Some(since),
                last_probe_time: None,
                reason: reason.map(str::to_owned),
                message,
                observed_generation: None,
            }
        };

        let initialized = self.init.iter().all(ContainerRun::succeeded)
            || self.containers.iter().any(|c| c.ever_started);
        let incomplete: Vec<&str> = self
            .init
            .iter()
            .filter(|c| !c.succeeded())
            .map(|c| c.name.as_str())
            .collect();
        let unready: Vec<&str> = self
            .containers
            .iter()
            .filter(|c| !is_ready(c))
            .map(|c| c.name.as_str())
            .collect();
        let ready = unready.is_empty() && !terminal;
        let (ready_reason, ready_message) = if terminal {
            (Some("PodCompleted"), None)
        } else if ready {
            (None, None)
        } else {
            (
                Some("ContainersNotReady"),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
            )
        };

        let mut conditions = vec![
            condition(
                "PodReadyToStartContainers",
                self.sandbox_ready && !terminal,
                None,
                None,
            ),
            if initialized {
                let reason =
                    (phase == "Succeeded" && !self.init.is_empty()).then_some("PodCompleted");
                condition("Initialized", true, reason, None)
            } else {
                let message = format!(
                    "containers with incomplete status: [{}]",
                    incomplete.join(" ")
                );
                condition(
                    "Initialized",
                    false,
                    Some("ContainersNotInitialized"),
                    Some(message),
                )
            },
            condition("Ready", ready, ready_reason, ready_message.clone()),
            condition("ContainersReady", ready, ready_reason, ready_message),
        ];
        match old_conditions.iter().find(|c| c.type_ == "PodScheduled") {
            Some(scheduled) => conditions.push(scheduled.clone()),
            None => conditions.push(condition("PodScheduled", true, None, None)),
        }

        PodStatus {
            phase: Some(phase.to_owned()),
            conditions: Some(conditions),
            host_ip: Some(self.host_ip.clone()),
            host_ips: Some(vec![HostIP {
                ip: self.host_ip.clone(),
            }]),
            pod_ip: Some(self.pod_ip.clone()),
            pod_ips: Some(vec![PodIP {
                ip: self.pod_ip.clone(),
            }]),
            start_time: Some(time(self.start_time)),
            init_container_statuses: (!self.init.is_empty())
                .then(|| self.init.iter().map(container_status).collect()),
            container_statuses: Some(self.containers.iter().map(container_status).collect()),
            reason: self
                .terminal
                .and_then(|(_, reason, _)| reason)
                .map(str::to_owned),
            message: self
                .terminal
                .and_then(|(_, _, message)| message)
                .map(str::to_owned),
            qos_class: previous.qos_class,
            nominated_node_name: previous.nominated_node_name,
            ..Default::default()
        }
    }
}

/// Without probes a running container is ready, and only then.
fn is_ready(c: &ContainerRun) -> bool {
    matches!(c.state, RunState::Running { .. })
}

fn container_status(c: &ContainerRun) -> ContainerStatus {
    let (state, container_id, started) = match &c.state {
        RunState::Waiting { reason, message } => (
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: message.clone(),
                }),
                ..Default::default()
            },
            c.last_termination.as_ref().map(|t| t.container_id.clone()),
            false,
        ),
        RunState::Running {
            started_at,
            container_id,
        } => (
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(time(*started_at)),
                }),
                ..Default::default()
            },
            Some(container_id.clone()),
            true,
        ),
        RunState::Terminated(t) => (
            ContainerState {
                terminated: Some(terminated(t)),
                ..Default::default()
            },
            Some(t.container_id.clone()),
            false,
        ),
    };
    let image = normalise_image(&c.image);
    ContainerStatus {
        name: c.name.clone(),
        image_id: if c.ever_started {
            image_id(&image)
        } else {
            String::new()
        },
        image,
        container_id,
        ready: is_ready(c),
        started: Some(started),
        restart_count: c.restart_count,
        state: Some(state),
        last_state: Some(ContainerState {
            terminated: c.last_termination.as_ref().map(terminated),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn terminated(t: &Terminated) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: t.exit_code,
        reason: Some(t.reason.clone()),
        message: t.message.clone(),
        started_at: Some(time(t.started_at)),
        finished_at: Some(time(t.finished_at)),
        container_id: Some(t.container_id.clone()),
        signal: None,
    }
}

/// A `metav1.Time`, which has whole-second precision.
fn time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// The image reference as containerd reports it: registry and `library/` filled in, `:latest` added.
pub(crate) fn normalise_image(image: &str) -> String {
    if image.is_empty() {
        return String::new();
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let mut parts: Vec<&str> = name.split('/').collect();
    let has_registry = parts.len() > 1
        && parts
            .first()
            .is_some_and(|p| p.contains('.') || p.contains(':') || *p == "localhost");
    if !has_registry {
        if parts.len() == 1 {
            parts.insert(0, "library");
        }
        parts.insert(0, "docker.io");
    }
    let mut out = parts.join("/");
    let last = out.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && digest.is_none() {
        out.push_str(":latest");
    }
    if let Some(digest) = digest {
        out.push('@');
        out.push_str(digest);
    }
    out
}

/// `imageID` as containerd reports it: the repository at a (made-up, stable) digest.
fn image_id(normalised: &str) -> String {
    if normalised.contains('@') {
        return normalised.to_owned();
    }
    let repo = match normalised.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => normalised,
    };
    format!("{repo}@sha256:{}", fake_digest(normalised))
}

/// 64 hex digits derived from `input` (FNV-1a), standing in for a content digest.
pub(crate) fn fake_digest(input: &str) -> String {
    (0u64..4)
        .map(|round| {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for byte in input.bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
            format!("{hash:016x}")
        })
        .collect()
}
