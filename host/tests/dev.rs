//! `flotilla dev`, the project's main job, run as a user runs it: the real binary, then the real
//! kubectl against the clusters it serves.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_kubeconfig(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flotilla-dev-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("kubeconfig")
}

#[test]
fn dev_keep_serves_two_clusters_that_kubectl_can_use() {
    let kubeconfig = temp_kubeconfig("keep");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["dev", "--keep", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("flotilla runs");
    let stdout = child.stdout.take().expect("stdout");
    let _guard = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains("serving until Ctrl-C") => break,
            Ok(line) => printed.push(line),
            Err(e) => {
                panic!("flotilla dev did not reach 'serving' ({e}); it printed: {printed:#?}")
            }
        }
    }
    assert!(
        printed.iter().any(|l| l.starts_with("cluster-0")),
        "{printed:#?}"
    );
    assert!(
        printed.iter().any(|l| l.starts_with("cluster-1")),
        "{printed:#?}"
    );
    assert!(
        printed
            .iter()
            .any(|l| l.contains(&kubeconfig.display().to_string())),
        "prints where the kubeconfig is: {printed:#?}"
    );

    for context in ["cluster-0", "cluster-1"] {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--context", context, "get", "namespaces", "-o", "name"])
            .output()
            .expect("kubectl must be installed for this test (kubectl 1.24 or later)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "kubectl on {context}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("namespace/default"), "{context}: {text}");
        // The manifests go into the primary cluster only.
        assert_eq!(
            text.contains("namespace/argo"),
            context == "cluster-0",
            "{context}: {text}"
        );
    }
    let current = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["config", "current-context"])
        .output()
        .expect("kubectl");
    assert_eq!(String::from_utf8_lossy(&current.stdout).trim(), "cluster-0");
}

#[test]
fn dev_without_the_workflow_engine_says_so() {
    let kubeconfig = temp_kubeconfig("run");
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["dev", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .expect("flotilla runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the Workflow resource (argoproj.io/v1alpha1) is not installed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("examples/multi-cluster.yaml"),
        "names the workflow it could not run: {stderr}"
    );
}
