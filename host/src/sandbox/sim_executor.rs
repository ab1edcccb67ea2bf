//! The executor as the simulated kubelet runs it: when a workflow pod's `main` container ends,
//! collect its outputs from the emulated filesystem and log, and report the task result — the
//! same code (`flotilla-executor`) a real pod runs.

use std::sync::OnceLock;

use flotilla_sim::kubelet::{ContainerExit, ContainerHooks, NativeExit, NativeStart};
use flotilla_sim::logs::LogStream;
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use flotilla_engine::workflow::labels;
use flotilla_executor as executor;

#[derive(Default)]
pub struct SimExecutor {
    client: OnceLock<kube::Client>,
    /// The cluster's address and CA with the kubelet's credentials, from which a pod's
    /// service-account client is made.
    config: OnceLock<kube::Config>,
}

impl std::fmt::Debug for SimExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimExecutor")
            .field("connected", &self.client.get().is_some())
            .finish()
    }
}

impl SimExecutor {
    /// The cluster the kubelet runs pods for (set once it is up). Task results of wrapped
    /// commands are written with this config's credentials.
    pub fn connect(&self, config: kube::Config) -> Result<(), kube::Error> {
        let _ = self.client.set(kube::Client::try_from(config.clone())?);
        let _ = self.config.set(config);
        Ok(())
    }

    /// A resource template's pod: run `flotilla-executor resource` as the pod's service
    /// account, with the token a real kubelet would mount (a bound TokenRequest).
    fn resource_pod(&self, start: NativeStart<'_>) -> BoxFuture<'static, NativeExit> {
        let failed = |message: String| NativeExit {
            code: 1,
            message: Some(message),
        };
        let Some(config) = self.config.get().cloned() else {
            return Box::pin(
                async move { failed("the simulated kubelet is not connected".into()) },
            );
        };
        let spec = start.pod.spec.clone().unwrap_or_default();
        if spec.automount_service_account_token == Some(false) {
            let message =
                "no Kubernetes credentials in the pod: automountServiceAccountToken is false"
                    .to_string();
            return Box::pin(async move { failed(message) });
        }
        let identity = match executor::Identity::from_vars(|n| start.env.get(n).cloned()) {
            Ok(i) => i,
            Err(e) => {
                let message = e.to_string();
                return Box::pin(async move { failed(message) });
            }
        };
        let account = spec
            .service_account_name
            .unwrap_or_else(|| "default".into());
        let (namespace, pod, uid) = (
            start.pod.namespace().unwrap_or_default(),
            start.pod.name_any(),
            start.pod.uid(),
        );
        let output = start.output;
        Box::pin(async move {
            let client = match pod_client(config, &namespace, &account, &pod, uid).await {
                Ok(c) => c,
                Err(e) => return failed(e),
            };
            let mut say = |line: String| output.line(LogStream::Stdout, &line);
            let exit = executor::resource::execute(&client, &identity, &mut say).await;
            if let Some(message) = &exit.message {
                output.line(LogStream::Stderr, message);
            }
            NativeExit {
                code: exit.code,
                message: exit.termination,
            }
        })
    }
}

/// A client authenticated as the pod's service account, as its mounted token would be.
async fn pod_client(
    mut config: kube::Config,
    namespace: &str,
    account: &str,
    pod: &str,
    uid: Option<String>,
) -> Result<kube::Client, String> {
    let admin = kube::Client::try_from(config.clone()).map_err(|e| e.to_string())?;
    let accounts: Api<ServiceAccount> = Api::namespaced(admin, namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod.to_string()),
                uid,
            }),
            expiration_seconds: Some(3600),
        },
        ..Default::default()
    };
    let token = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .map_err(|e| format!("mounting the token of service account {account:?}: {e}"))?;
    let token = token.status.map(|s| s.token).unwrap_or_default();
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..Default::default()
    };
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// Whether `argv` is a resource template's executor (`/bin/flotilla-executor resource`).
fn is_resource_executor(argv: &[String]) -> bool {
    matches!(argv, [program, verb] if program == flotilla_engine::EXECUTOR_BINARY && verb == "resource")
}

impl ContainerHooks for SimExecutor {
    fn run_native(&self, start: NativeStart<'_>) -> Option<BoxFuture<'static, NativeExit>> {
        is_resource_executor(start.argv).then(|| self.resource_pod(start))
    }

    fn on_container_exit<'a>(&'a self, exit: ContainerExit<'a>) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            if exit.container != "main" {
                return None;
            }
            // A resource template's executor reported its own outputs (`run_native`); this hook
            // stands in for the wrapper a wrapped command's container runs, and it has none.
            let main = exit
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.iter().find(|c| c.name == "main"));
            if main
                .and_then(|c| c.command.as_deref())
                .is_some_and(is_resource_executor)
            {
                return None;
            }
            let template = exit.pod.annotations().get(labels::TEMPLATE).cloned()?;
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
                    return None;
                }
            };
            let result = executor::task_result(&pod, outputs, message);
            let client = self.client.get()?;
            match executor::report(client, &result).await {
                // As the wrapper does once it has reported: the digest first, then what the
                // command left.
                Ok(()) => Some(executor::termination_message(
                    &result,
                    exit.termination_message,
                )),
                Err(e) => {
                    tracing::warn!(pod = %name, namespace = %ns, error = %e, "reporting outputs failed");
                    None
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    /// The simulated kubelet emulates the executor's sidecar protocol by the file's name.
    #[test]
    fn the_kubelet_and_the_executor_agree_on_the_main_exited_file() {
        assert_eq!(
            flotilla_sim::kubelet::MAIN_EXITED,
            flotilla_executor::sidecar::MAIN_EXITED
        );
    }
}
