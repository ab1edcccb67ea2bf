//! A controller run as a task of the calling process: for the sandbox, the benchmarks
//! (`flotilla bench`) and tests that drive one beside their own clients.

use super::{ControllerConfig, run};

/// Runs a controller in this process with `config` until the returned handle is dropped.
pub fn spawn(client: kube::Client, config: ControllerConfig) -> ControllerHandle {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = run(client, config, shutdown).await {
            tracing::error!(error = %e, "controller stopped");
        }
    });
    ControllerHandle { _stop: stop, task }
}

/// A controller running in this process; dropping it stops the controller.
#[derive(Debug)]
pub struct ControllerHandle {
    _stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ControllerHandle {
    /// Whether the controller is still running (it has neither returned nor panicked).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for ControllerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
