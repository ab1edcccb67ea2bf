//! `flotilla dev`, the project's main job, run as a user runs it: the real binary, then the real
//! kubectl against the clusters it serves.

use std::process::{Command, Stdio};

use common::processes::serving;

mod common;

fn temp_kubeconfig(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flotilla-dev-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("kubeconfig")
}

#[test]
fn dev_keep_serves_two_clusters_that_kubectl_can_use() {
    let kubeconfig = temp_kubeconfig("keep");
    let (_guard, printed) = serving(
        Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["dev", "--keep", "--kubeconfig"])
            .arg(&kubeconfig)
            .stderr(Stdio::inherit()),
    );
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

/// `flotilla dev` with `args`, which must succeed and print `expected`; what it printed.
fn dev(args: &[&str], name: &str, expected: &str) -> String {
    let kubeconfig = temp_kubeconfig(name);
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .arg("dev")
        .args(args)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("flotilla runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(expected), "{stdout}");
    stdout
}

/// The summary printed from the line that starts with `workflow` on; that line says Succeeded.
fn succeeded_summary<'a>(stdout: &'a str, workflow: &str) -> Vec<&'a str> {
    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with(workflow))
        .collect();
    assert!(
        summary.first().is_some_and(|l| l.ends_with("Succeeded")),
        "{stdout}"
    );
    summary
}

#[test]
fn dev_runs_an_argo_example_to_success() {
    let stdout = dev(
        &["examples/dag-diamond.yaml"],
        "diamond",
        "controller: running against cluster-0",
    );
    let summary = succeeded_summary(&stdout, "workflow dag-diamond-");
    for task in ["A", "B", "C", "D"] {
        let row = summary
            .iter()
            .find(|l| l.split_whitespace().next() == Some(task))
            .unwrap_or_else(|| panic!("node {task} is in the summary: {stdout}"));
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(columns[1..4], ["Succeeded", "cluster-0", "argo"], "{row}");
    }
}

#[test]
fn dev_runs_the_seed_example_in_cluster_1() {
    // The default workflow is the later design's example: its only template runs in cluster-1's
    // `default` namespace, enrolled and authorized as the design's quick start does.
    let stdout = dev(
        &[],
        "seed",
        "enrolled: rest-config keys cluster-1.default in cluster-0",
    );
    let summary = succeeded_summary(&stdout, "workflow main-");
    let row = summary
        .iter()
        .find(|l| l.trim_start().starts_with("main-"))
        .unwrap_or_else(|| panic!("the node is in the summary: {stdout}"));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        columns[1..4],
        ["Succeeded", "cluster-1", "default"],
        "{row}"
    );
}
