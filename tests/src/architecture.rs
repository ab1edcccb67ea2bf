//! `docs/architecture.md` opens with the crate graph; this keeps it in step with the workspace's
//! manifests as `cargo metadata` reads them. A crate added, removed or given a new workspace
//! dependency fails here until the picture says so.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Where the right-hand column of the picture (the data path) begins.
const LEFT_COLUMN: usize = 52;
const ARROW: &str = "──►";

/// Each crate's workspace dependencies: name → whether only for development (`(dev)`).
type Graph = BTreeMap<String, BTreeMap<String, bool>>;

/// The graph the picture draws: `A ──► B, C (dev)` lines in the left column, continued on the
/// next lines while they end with a comma.
fn drawn(doc: &str) -> Graph {
    let picture = doc
        .split("```text")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/architecture.md opens with a ```text picture");
    let mut graph = Graph::new();
    let mut continued: Option<String> = None;
    for line in picture.lines() {
        let left: String = line.chars().take(LEFT_COLUMN).collect();
        let items = match (left.split_once(ARROW), &continued) {
            (Some((name, items)), _) => {
                let name = name.trim().to_string();
                graph.entry(name.clone()).or_default();
                continued = Some(name);
                items.trim().to_string()
            }
            (None, Some(_)) => left.trim().to_string(),
            (None, None) => continue,
        };
        let Some(name) = continued.clone() else {
            continue;
        };
        for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "(none)" {
                continue;
            }
            let (dep, dev) = match item.strip_suffix("(dev)") {
                Some(dep) => (dep.trim(), true),
                None => (item, false),
            };
            graph
                .entry(name.clone())
                .or_default()
                .insert(dep.to_string(), dev);
        }
        if !items.ends_with(',') {
            continued = None;
        }
    }
    graph
}

/// The graph the manifests declare: a dependency is for development when it is a
/// dev-dependency or optional (behind a feature such as `dev`) everywhere it is declared.
fn declared(metadata: &Value) -> Graph {
    let packages = metadata["packages"]
        .as_array()
        .expect("cargo metadata lists packages");
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut graph = Graph::new();
    for package in packages {
        let name = package["name"].as_str().unwrap_or_default();
        let deps = graph.entry(name.to_string()).or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if dep_name == name || !members.contains(&dep_name) {
                continue;
            }
            let dev = dep["kind"] == "dev" || dep["optional"] == true;
            let entry = deps.entry(dep_name.to_string()).or_insert(dev);
            *entry = *entry && dev;
        }
    }
    graph
}

#[test]
fn the_crate_graph_in_the_architecture_doc_is_the_workspaces() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/architecture.md"))
        .expect("docs/architecture.md is readable");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    assert_eq!(
        drawn(&doc),
        declared(&metadata),
        "docs/architecture.md's crate graph (left) differs from the workspace's (right)"
    );
}

#[test]
fn the_picture_is_read_as_drawn() {
    let right = format!("{:52}right column ──► x", "       c (dev)");
    let doc = format!("```text\n a ──► b,\n{right}\n d ──► (none)\n```");
    let graph = drawn(&doc);
    assert_eq!(
        graph["a"],
        BTreeMap::from([("b".into(), false), ("c".into(), true)])
    );
    assert!(graph["d"].is_empty());
    assert_eq!(graph.len(), 2);
}
