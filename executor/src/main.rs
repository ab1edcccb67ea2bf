//! `flotilla-executor`: the binary every workflow pod receives (Argo's `argoexec`). The init
//! container runs `install PATH` to put it where `main` can run it; `main` runs `run -- COMMAND…`,
//! each sidecar `sidecar -- COMMAND…`; a resource template's pod runs `resource`. It talks to its own cluster only, with the pod's
//! service account (the in-cluster configuration).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "flotilla-executor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy this binary to PATH (the pod's init container, for `main` to run).
    Install { path: PathBuf },
    /// Run the main command, then report the node's outputs; exits with the command's code.
    Run {
        /// The command and its arguments, after `--`.
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
    /// A sidecar: run the command until it ends, or until main has ended (then stop it and
    /// exit 0).
    Sidecar {
        /// The command and its arguments, after `--`.
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
    /// A resource template's pod: get/create/apply/replace/patch/delete its manifest with the
    /// pod's service account, wait for its conditions, then report the node's outputs.
    Resource,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Install { path } => install(&path),
        Command::Run { command } => runtime().and_then(|rt| rt.block_on(run(command))),
        Command::Sidecar { command } => runtime().and_then(|rt| rt.block_on(sidecar(command))),
        Command::Resource => runtime().and_then(|rt| rt.block_on(resource())),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    // One thread: the executor waits on one child process or one watch at a time.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// kube-client logs a response body it cannot decode at WARN; it stays out of the log unless
/// `FLOTILLA_LOG` names kube_client.
const QUIET_BODIES: &str = "warn,kube_client::client=error";

/// Logs go to standard error, `warn` unless `FLOTILLA_LOG` says otherwise (an invalid one is
/// ignored).
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let configured = std::env::var("FLOTILLA_LOG").unwrap_or_default();
    let filter = log_filter(&configured);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(QUIET_BODIES)),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

fn log_filter(configured: &str) -> String {
    match configured.trim() {
        "" => QUIET_BODIES.to_owned(),
        c if c.contains("kube_client") => c.to_owned(),
        c => format!("{c},kube_client::client=error"),
    }
}

/// The pod's own cluster, as its service account.
async fn client() -> Result<kube::Client> {
    let config = kube::Config::infer()
        .await
        .context("finding Kubernetes credentials (in-cluster or kubeconfig)")?;
    kube::Client::try_from(config).context("using the Kubernetes credentials")
}

/// `run -- COMMAND…`: exits with the command's exit code.
async fn run(command: Vec<String>) -> Result<ExitCode> {
    let exited = main_exited_path();
    let outcome = async {
        let identity = flotilla_executor::Identity::from_env()?;
        let client = client().await?;
        let code = flotilla_executor::run_wrapped(&command, &identity, &client, &exited).await?;
        Ok(exit_code(code))
    }
    .await;
    if outcome.is_err() {
        // The command never ran (or its report failed): the sidecars must not wait for it.
        flotilla_executor::sidecar::main_exited(&exited);
    }
    outcome
}

/// `sidecar -- COMMAND…`: exits with the command's code, or 0 once main has ended.
async fn sidecar(command: Vec<String>) -> Result<ExitCode> {
    use flotilla_executor::sidecar;
    let code = sidecar::run_sidecar(&command, &main_exited_path(), sidecar::GRACE).await?;
    Ok(exit_code(code))
}

/// Where main's executor tells the sidecars it has ended: next to this binary, in the volume
/// the pod's wrapped containers share.
fn main_exited_path() -> PathBuf {
    let argv0 = std::env::args().next().unwrap_or_default();
    flotilla_executor::sidecar::main_exited_path(&argv0)
}

/// `resource`: a resource template's pod. Progress goes to standard output; the termination log
/// (which the kubelet makes the container's message) gets the digest of what was reported, and a
/// failure's words.
async fn resource() -> Result<ExitCode> {
    let identity = flotilla_executor::Identity::from_env()?;
    let client = client().await?;
    let mut say = |line: String| println!("{line}");
    let exit = flotilla_executor::resource::execute(&client, &identity, &mut say).await;
    if let Some(message) = &exit.message {
        eprintln!("{message}");
    }
    if let Some(termination) = &exit.termination {
        let _ = std::fs::write(flotilla_executor::TERMINATION_LOG, termination);
    }
    Ok(exit_code(exit.code))
}

/// `install PATH`: copies this binary where the pod's `main` container runs it.
fn install(path: &Path) -> Result<ExitCode> {
    let me = std::env::current_exe().context("finding the flotilla-executor binary")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::copy(&me, path)
        .with_context(|| format!("copying {} to {}", me.display(), path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn response_bodies_stay_out_of_the_log_unless_asked_for() {
        assert_eq!(super::log_filter(""), "warn,kube_client::client=error");
        assert_eq!(
            super::log_filter("debug"),
            "debug,kube_client::client=error"
        );
        assert_eq!(super::log_filter("kube_client=debug"), "kube_client=debug");
    }
}
