//! `flotilla-executor sidecar -- COMMAND…`: a sidecar container's PID 1, as Argo's emissary is
//! around each sidecar. It runs the command, forwarding signals, until `main` has ended — the
//! main container's executor leaves [`MAIN_EXITED`] in the volume both mount (the one that
//! carries this binary) — and then stops it as the kubelet would: SIGTERM to its process group,
//! SIGKILL after a grace period. A sidecar stopped that way did not fail: it exits 0, so the pod
//! ends with main's outcome. A command that ends first exits with its own code.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};

use crate::wrap::{WrapError, exit_code, spawn};

/// The file main's executor leaves once main's command has ended, next to the executor binary.
pub const MAIN_EXITED: &str = "main-exited";

/// How often a sidecar looks for [`MAIN_EXITED`].
const POLL: Duration = Duration::from_millis(500);

/// How long a sidecar has after SIGTERM before SIGKILL: Kubernetes' default grace period.
pub const GRACE: Duration = Duration::from_secs(30);

/// Where [`MAIN_EXITED`] is for an executor run as `argv0`: next to the binary.
pub fn main_exited_path(argv0: &str) -> PathBuf {
    Path::new(argv0)
        .parent()
        .unwrap_or(Path::new("."))
        .join(MAIN_EXITED)
}

/// Leaves [`MAIN_EXITED`] at `path` (main's executor, once main's command has ended). A file that
/// cannot be written is logged: the sidecars then run on, as they would without Flotilla.
pub fn main_exited(path: &Path) {
    if let Err(e) = std::fs::write(path, b"") {
        eprintln!(
            "flotilla-executor: telling the sidecars main has ended ({}): {e}",
            path.display()
        );
    }
}

/// Runs `command` until it ends (its exit code) or until `main_exited` appears (0, once the
/// command has stopped).
pub async fn run_sidecar(
    command: &[String],
    main_exited: &Path,
    grace: Duration,
) -> Result<i32, WrapError> {
    let (mut child, forwarding) = spawn(command, Stdio::inherit())?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);
    loop {
        tokio::select! {
            status = child.wait() => {
                drop(forwarding);
                return Ok(exit_code(status.map_err(WrapError::Wait)?));
            }
            () = tokio::time::sleep(POLL) => {
                if main_exited.exists() {
                    break;
                }
            }
        }
    }
    drop(forwarding);
    if let Some(group) = group {
        let _ = kill_process_group(group, Signal::TERM);
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        if let Some(group) = group {
            let _ = kill_process_group(group, Signal::KILL);
        }
        child.wait().await.map_err(WrapError::Wait)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn a_sidecar_runs_until_main_has_ended_and_then_exits_0() {
        let dir = std::env::temp_dir().join(format!("sidecar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join(MAIN_EXITED);
        let _ = std::fs::remove_file(&marker);
        let sidecar = tokio::spawn({
            let marker = marker.clone();
            async move { run_sidecar(&sh("sleep 600"), &marker, GRACE).await }
        });
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!sidecar.is_finished(), "runs while main runs");
        main_exited(&marker);
        let code = tokio::time::timeout(Duration::from_secs(10), sidecar)
            .await
            .expect("stopped once main ended, well within the grace period")
            .unwrap()
            .unwrap();
        assert_eq!(code, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_sidecar_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let dir = std::env::temp_dir().join(format!("sidecar-stubborn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join(MAIN_EXITED);
        main_exited(&marker);
        let stopped = tokio::time::timeout(
            Duration::from_secs(60),
            run_sidecar(
                &sh("trap '' TERM; sleep 600 & wait"),
                &marker,
                Duration::from_millis(300),
            ),
        )
        .await
        .expect("killed after its grace period, not left to its ten minutes");
        assert_eq!(stopped.unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_sidecar_that_ends_first_exits_with_its_code() {
        let marker = std::env::temp_dir()
            .join("no-such-dir-for-sidecars")
            .join(MAIN_EXITED);
        let code = run_sidecar(&sh("exit 3"), &marker, GRACE).await.unwrap();
        assert_eq!(code, 3);
    }

    #[test]
    fn the_marker_is_next_to_the_executor_binary() {
        assert_eq!(
            main_exited_path("/var/run/argo/flotilla-executor"),
            Path::new("/var/run/argo/main-exited")
        );
    }
}
