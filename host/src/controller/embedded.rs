//! A controller run as a task of the calling process: for the sandbox, the benchmarks
//! (`flotilla bench`) and tests that drive one beside their own clients.

use super::{ControllerConfig, run};

/// Runs a controller in this process with `config` until the returned handle is dropped.
pub fn spawn(client: kube::Client, config: ControllerConfig) -> ControllerHandle {
    // Readiness is one per process: a controller aborted before this one never said it stopped.
    crate::health::stopped();
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

    /// Waits until the controller's caches have listed (what `/readyz` reports); `false` if it
    /// stopped or `timeout` passed first. Readiness is kept per process: meaningful while this
    /// is the only controller running in it.
    pub async fn ready(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.is_running() && tokio::time::Instant::now() < deadline {
            if crate::health::listed() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        false
    }
}

impl Drop for ControllerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
