//! `flotilla` as separate processes, for the tests and benches that run the binary the way it is
//! deployed: `flotilla sim serve` for the clusters, `flotilla controller` for the controller.
//! Benches include this file by path (`#[path = "../tests/common/processes.rs"]`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child process, killed (SIGKILL) and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `flotilla sim serve --clusters 1` with `extra` flags, writing its kubeconfig into `dir`; back
/// once it says it is serving. The kubeconfig's path and the process.
pub fn sim_serve(dir: &Path, extra: &[&str]) -> (PathBuf, Killed) {
    let kubeconfig = dir.join("kubeconfig");
    let (sim, _) = serving(
        Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["sim", "serve", "--clusters", "1", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(extra),
    );
    (kubeconfig, sim)
}

/// Spawns `command` (a `flotilla sim serve` or `flotilla dev`) and waits, at most a minute for
/// each line, until it says it is serving; the process and the lines it printed before that.
pub fn serving(command: &mut Command) -> (Killed, Vec<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("flotilla runs");
    let stdout = child.stdout.take().expect("stdout");
    let child = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains("serving until Ctrl-C") => return (child, printed),
            Ok(line) => printed.push(line),
            Err(e) => panic!("{command:?} did not reach 'serving' ({e}); it printed: {printed:#?}"),
        }
    }
}

/// `flotilla controller` for cluster-0 of `kubeconfig`, as its Deployment runs it; the caller
/// adds its own flags and spawns it.
pub fn controller(kubeconfig: &Path) -> Command {
    controller_of(env!("CARGO_BIN_EXE_flotilla"), kubeconfig)
}

/// [`controller`], run by `program` (another build of `flotilla`, to compare two side by side).
pub fn controller_of(program: impl AsRef<std::ffi::OsStr>, kubeconfig: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .args([
            "controller",
            "--context",
            "cluster-0",
            "--cluster",
            "cluster-0",
        ])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .stdout(Stdio::null());
    command
}
