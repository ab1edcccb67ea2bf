//! `flotilla-executor run -- COMMAND…`: a workflow pod's main process on a real cluster. It runs the
//! template's command, passing its output through while keeping standard output for
//! `outputs.result`, then reports the node's outputs and exits with the command's exit code.
//!
//! The controller starts it with the pod's identity in the environment (the downward API gives
//! the namespace and uid), so it needs no permission beyond creating and patching its task
//! result — exactly the executor RBAC Argo documents.

use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::signals::Forwarding;

use super::{
    MAX_RESULT_BYTES, PodRef, TERMINATION_LOG, TERMINATION_LOG_ENV, collect_outputs, report,
    task_result, termination_message,
};

/// Why the executor could not do its job (the container then fails).
#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    #[error("environment variable {0} is not set: the pod was not created by Flotilla")]
    MissingEnv(&'static str),
    #[error("no command to run: the template's container has neither command nor args")]
    NoCommand,
    #[error("starting {command:?}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("waiting for the command: {0}")]
    Wait(std::io::Error),
    #[error("reporting outputs: {0}")]
    Report(#[from] kube::Error),
}

/// What the executor knows about its pod, from the environment the controller set.
#[derive(Debug, Clone)]
pub struct Identity {
    pub pod: PodRef,
    /// The template (as the controller annotated it) — what outputs to collect.
    pub template: String,
    /// The workflow's uid, for a resource template's `setOwnerReference`.
    pub workflow_uid: Option<String>,
    /// What a resource template's manifest was authorized to act on
    /// ([`flotilla_engine::resource_target::ENV`], set by the controller; absent on other pods).
    pub resource_target: Option<String>,
}

impl Identity {
    /// From the process environment (a real pod).
    pub fn from_env() -> Result<Identity, WrapError> {
        Identity::from_vars(|name| std::env::var(name).ok())
    }

    /// From the pod's environment variables as `lookup` gives them (the simulated kubelet
    /// resolves a container's environment itself).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Identity, WrapError> {
        use flotilla_engine::workflow::labels;
        let var = |name: &'static str| lookup(name).ok_or(WrapError::MissingEnv(name));
        let mut pod_labels = std::collections::BTreeMap::new();
        pod_labels.insert(labels::WORKFLOW.to_string(), var("ARGO_WORKFLOW_NAME")?);
        pod_labels.insert(
            labels::WORKFLOW_NAMESPACE.to_string(),
            var("ARGO_WORKFLOW_NAMESPACE")?,
        );
        if let Some(id) = lookup("ARGO_INSTANCE_ID") {
            pod_labels.insert(labels::CONTROLLER_INSTANCE_ID.to_string(), id);
        }
        Ok(Identity {
            pod: PodRef {
                name: var("ARGO_POD_NAME")?,
                namespace: var("ARGO_POD_NAMESPACE")?,
                uid: lookup("ARGO_POD_UID"),
                node_id: var("ARGO_NODE_ID")?,
                labels: pod_labels,
            },
            template: var("ARGO_TEMPLATE")?,
            workflow_uid: lookup("ARGO_WORKFLOW_UID"),
            resource_target: lookup(flotilla_engine::resource_target::ENV),
        })
    }
}

/// Runs `command`, tells the sidecars it has ended (the file `main_exited`, see
/// [`crate::sidecar`]), reports the outputs, and returns the exit code the container should
/// exit with.
pub async fn run_wrapped(
    command: &[String],
    identity: &Identity,
    client: &kube::Client,
    main_exited: &std::path::Path,
) -> Result<i32, WrapError> {
    // A script template: its source goes to a file the interpreter runs (Argo's `/argo/staging/script`).
    let mut command = command.to_vec();
    if let Ok(source) = std::env::var("ARGO_SCRIPT_SOURCE") {
        let path = std::env::var("ARGO_SCRIPT_PATH")
            .unwrap_or_else(|_| "/var/run/argo/script".to_string());
        std::fs::write(&path, source).map_err(|source| WrapError::Spawn {
            command: format!("writing the script to {path}"),
            source,
        })?;
        command.push(path);
    }
    let (mut child, forwarding) = spawn(&command, Stdio::piped())?;
    let mut captured = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        let mut stdout = tokio::io::stdout();
        let mut buf = [0u8; 8192];
        loop {
            let n = out.read(&mut buf).await.map_err(WrapError::Wait)?;
            if n == 0 {
                break;
            }
            let _ = stdout.write_all(&buf[..n]).await;
            if captured.len() < MAX_RESULT_BYTES {
                captured.extend_from_slice(&buf[..n.min(MAX_RESULT_BYTES - captured.len())]);
            }
        }
        let _ = stdout.flush().await;
    }
    let status = child.wait().await.map_err(WrapError::Wait)?;
    drop(forwarding);
    crate::sidecar::main_exited(main_exited);
    let code = exit_code(status);
    let stdout = String::from_utf8_lossy(&captured);
    let (outputs, message) = match collect_outputs(
        &identity.template,
        |p| std::fs::read_to_string(p).ok(),
        &stdout,
        code,
    ) {
        Ok(o) => (Some(o), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let reported = task_result(&identity.pod, outputs, message);
    report(client, &reported).await?;
    vouch(&reported);
    Ok(code)
}

/// Starts `command` in a process group of its own, which signals reach whole (a shell's
/// children hold its standard output open, and would keep the executor reading after the shell
/// was stopped), with the signals the executor receives forwarded to that group until the
/// returned set is dropped.
pub(crate) fn spawn(
    command: &[String],
    stdout: Stdio,
) -> Result<(tokio::process::Child, tokio::task::JoinSet<()>), WrapError> {
    let (program, args) = command.split_first().ok_or(WrapError::NoCommand)?;
    let signals = Forwarding::install();
    let child = tokio::process::Command::new(program)
        .args(args)
        .process_group(0)
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| WrapError::Spawn {
            command: command.join(" "),
            source,
        })?;
    let forwarding = signals.to(child.id());
    Ok((child, forwarding))
}

/// Leaves the digest of what was reported as the first line of the container's termination
/// message, keeping what the command itself wrote there after it. A termination log that cannot
/// be written leaves the report unvouched: the controller then waits for a report it can trust.
fn vouch(reported: &super::WorkflowTaskResult) {
    use std::io::Read as _;
    let path = std::env::var(TERMINATION_LOG_ENV).unwrap_or_else(|_| TERMINATION_LOG.into());
    let mut left = Vec::new();
    if let Ok(file) = std::fs::File::open(&path) {
        let _ = file.take(4096).read_to_end(&mut left);
    }
    let left = String::from_utf8_lossy(&left);
    let text = termination_message(reported, Some(&left));
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("flotilla-executor: writing the termination log {path}: {e}");
    }
}

#[cfg(unix)]
pub(crate) fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(not(unix))]
pub(crate) fn exit_code(status: std::process::ExitStatus) -> i32 {
    status.code().unwrap_or(1)
}
