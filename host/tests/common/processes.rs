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
/// once it says it is serving (at most a minute). The kubeconfig's path and the process.
pub fn sim_serve(dir: &Path, extra: &[&str]) -> (PathBuf, Killed) {
    let kubeconfig = dir.join("kubeconfig");
    let mut sim = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["sim", "serve", "--clusters", "1", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("flotilla sim serve runs");
    let stdout = sim.stdout.take().expect("stdout");
    let sim = Killed(sim);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains("serving until Ctrl-C") => break,
            Ok(_) => {}
            Err(e) => panic!("flotilla sim serve did not start: {e}"),
        }
    }
    (kubeconfig, sim)
}

/// `flotilla controller` for cluster-0 of `kubeconfig`, as its Deployment runs it; the caller
/// adds its own flags and spawns it.
pub fn controller(kubeconfig: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flotilla"));
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
