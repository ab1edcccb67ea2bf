//! The executor as the simulated kubelet runs it: when a workflow pod's `main` container ends,
//! collect its outputs from the emulated filesystem and log, and report the task result — the
//! same code (`crate::executor`) a real pod runs.

use std::sync::OnceLock;

use flotilla_sim::kubelet::{ContainerExit, ContainerExitHook};
use flotilla_sim::logs::LogStream;
use futures::future::BoxFuture;
use kube::ResourceExt;

use crate::executor;
use crate::workflow::labels;

#[derive(Default)]
pub struct SimExecutor {
    client: OnceLock<kube::Client>,
}

impl std::fmt::Debug for SimExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimExecutor")
            .field("connected", &self.client.get().is_some())
            .finish()
    }
}

impl SimExecutor {
    /// The client task results are written with (set once the cluster is up).
    pub fn connect(&self, client: kube::Client) {
        let _ = self.client.set(client);
    }
}

impl ContainerExitHook for SimExecutor {
    fn on_container_exit<'a>(&'a self, exit: ContainerExit<'a>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if exit.container != "main" {
                return;
            }
            let Some(template) = exit.pod.annotations().get(labels::TEMPLATE).cloned() else {
                return;
            };
            let (ns, name) = (
                exit.pod.namespace().unwrap_or_default(),
                exit.pod.name_any(),
            );
            let stdout = exit.logs.stream_text(&ns, &name, "main", LogStream::Stdout);
            let read = |path: &str| {
                exit.fs
                    .read("main", path)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            };
            let (outputs, message) =
                match executor::collect_outputs(&template, read, &stdout, exit.exit_code) {
                    Ok(o) => (Some(o), None),
                    Err(e) => (None, Some(e.to_string())),
                };
            let pod = match executor::PodRef::from_pod(exit.pod) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(pod = %name, namespace = %ns, error = %e, "not reporting outputs");
                    return;
                }
            };
            let result = executor::task_result(&pod, outputs, message);
            let Some(client) = self.client.get() else {
                return;
            };
            if let Err(e) = executor::report(client, &result).await {
                tracing::warn!(pod = %name, namespace = %ns, error = %e, "reporting outputs failed");
            }
        })
    }
}
