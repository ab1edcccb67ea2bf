//! The production shape, with separate processes: `flotilla sim serve` stands in for the
//! clusters, `flotilla controller` runs as it would in its Deployment, and the user drives both
//! with the real kubectl; the Deployment's probes answer as they would in the cluster.

use std::io::{BufRead, BufReader};
use std::path::Path;
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

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl must be installed for this test (kubectl 1.24 or later)");
    assert!(
        out.status.success(),
        "kubectl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An address on loopback that nothing listens on now.
fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").to_string()
}

/// The status code of `GET path` at `addr`, if anything answered.
fn get(addr: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn the_controller_process_runs_a_workflow_submitted_with_kubectl() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("flotilla-processes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let kubeconfig = dir.join("kubeconfig");

    let mut sim = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["sim", "serve", "--clusters", "1", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .spawn()
        .expect("flotilla sim serve runs");
    let stdout = sim.stdout.take().expect("stdout");
    let _sim = Killed(sim);
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

    for file in [
        "manifests/base/crds.yaml",
        "manifests/base/namespace.yaml",
        "manifests/base/controller-rbac.yaml",
    ] {
        kubectl(
            &kubeconfig,
            &["apply", "-f", &repo.join(file).display().to_string()],
        );
    }
    kubectl(
        &kubeconfig,
        &[
            "wait",
            "--for=condition=Established",
            "crd/workflows.argoproj.io",
            "--timeout=60s",
        ],
    );

    let probes = free_port();
    let controller = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args([
            "controller",
            "--context",
            "cluster-0",
            "--cluster",
            "cluster-0",
            "--metrics-addr",
            &probes,
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .spawn()
        .expect("flotilla controller runs");
    let _controller = Killed(controller);
    // The Deployment's probes: ready once the caches have listed.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while get(&probes, "/readyz") != Some(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "the controller never became ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(&probes, "/healthz"), Some(200));

    let name = kubectl(
        &kubeconfig,
        &[
            "-n",
            "argo",
            "create",
            "-f",
            &repo.join("examples/hello-world.yaml").display().to_string(),
            "-o",
            "name",
        ],
    );
    let name = name.trim();
    assert!(
        name.starts_with("workflow.argoproj.io/hello-world-"),
        "{name}"
    );
    kubectl(
        &kubeconfig,
        &[
            "-n",
            "argo",
            "wait",
            "--for=jsonpath={.status.phase}=Succeeded",
            name,
            "--timeout=60s",
        ],
    );
    let table = kubectl(&kubeconfig, &["-n", "argo", "get", "workflows"]);
    assert!(
        table.contains("Succeeded"),
        "kubectl get workflows: {table}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
