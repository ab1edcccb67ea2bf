//! Signals sent to the executor reach the command it runs.
//!
//! `flotilla-executor run` is the main container's PID 1, and the kernel applies no default action
//! to a signal sent to a PID namespace's init: without forwarding, the SIGTERM the kubelet sends
//! when a pod is deleted (`stop`, `terminate`, a deadline, pod GC) would be ignored and the pod
//! would sit out its whole grace period until SIGKILL. Argo's emissary forwards them the same way.
//! They go to the command's whole process group, so that a shell's children stop with it.

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

/// The signals a container runtime or a user sends to stop or poke a process.
const FORWARDED: [(SignalKind, Signal, &str); 6] = [
    (SignalKind::terminate(), Signal::TERM, "SIGTERM"),
    (SignalKind::interrupt(), Signal::INT, "SIGINT"),
    (SignalKind::hangup(), Signal::HUP, "SIGHUP"),
    (SignalKind::quit(), Signal::QUIT, "SIGQUIT"),
    (SignalKind::user_defined1(), Signal::USR1, "SIGUSR1"),
    (SignalKind::user_defined2(), Signal::USR2, "SIGUSR2"),
];

/// Signal handlers, installed before the command starts so that no signal falls between its
/// start and the forwarding.
#[derive(Debug)]
pub(crate) struct Forwarding {
    streams: Vec<(tokio::signal::unix::Signal, Signal, &'static str)>,
}

impl Forwarding {
    /// Installs the handlers. A signal whose handler cannot be installed is logged and not
    /// forwarded; the command still runs.
    pub(crate) fn install() -> Forwarding {
        let mut streams = Vec::with_capacity(FORWARDED.len());
        for (kind, sig, name) in FORWARDED {
            match signal(kind) {
                Ok(stream) => streams.push((stream, sig, name)),
                Err(e) => tracing::warn!(signal = name, error = %e, "not forwarding a signal"),
            }
        }
        Forwarding { streams }
    }

    /// Forwards every signal received from now on to `child`'s process group (the command runs
    /// in a group of its own) until the returned set is dropped.
    pub(crate) fn to(self, child: Option<u32>) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        let Some(pid) = child
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw)
        else {
            return tasks;
        };
        for (mut stream, sig, name) in self.streams {
            tasks.spawn(async move {
                while stream.recv().await.is_some() {
                    tracing::debug!(signal = name, "forwarding a signal to the command");
                    // The command may have exited already; there is no one left to tell.
                    let _ = kill_process_group(pid, sig);
                }
            });
        }
        tasks
    }
}
