//! Following a workflow to the end, printing each node as its phase changes and, at the end, a
//! table of nodes with the cluster and namespace each ran in.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use flotilla_engine::workflow::{NodePhase, NodeType, Workflow};

/// How long `flotilla dev` waits for a workflow before giving up.
const TIMEOUT: Duration = Duration::from_secs(300);

pub async fn follow(client: &kube::Client, wf: &Workflow) -> Result<Workflow> {
    let name = wf.name_any();
    let ns = wf.namespace().unwrap_or_default();
    let api: Api<Workflow> = Api::namespaced(client.clone(), &ns);
    println!("workflow {ns}/{name} submitted");
    let mut seen: BTreeMap<String, NodePhase> = BTreeMap::new();
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher(api, config).applied_objects().boxed();
    let watch = async {
        while let Some(current) = stream.try_next().await.context("watching the workflow")? {
            let Some(status) = &current.status else {
                continue;
            };
            for node in status.nodes.values() {
                if seen.get(&node.id) != Some(&node.phase) {
                    seen.insert(node.id.clone(), node.phase);
                    if node.type_ == NodeType::Pod || node.phase.is_fulfilled() {
                        println!(
                            "  {:<40} {:<10} {}",
                            node.display_name,
                            node.phase.to_string(),
                            node.message.clone().unwrap_or_default()
                        );
                    }
                }
            }
            if status.phase.is_some_and(|p| p.is_finished()) {
                return Ok(current);
            }
        }
        bail!("the watch on workflow {ns}/{name} ended")
    };
    let finished = tokio::time::timeout(TIMEOUT, watch)
        .await
        .with_context(|| format!("workflow {ns}/{name} did not finish within {TIMEOUT:?}"))??;
    print_summary(&finished);
    Ok(finished)
}

fn print_summary(wf: &Workflow) {
    let Some(status) = &wf.status else { return };
    let phase = status.phase.map(|p| p.to_string()).unwrap_or_default();
    println!(
        "workflow {} {phase}{}",
        wf.name_any(),
        status
            .message
            .as_ref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    );
    println!(
        "  {:<40} {:<10} {:<12} {:<12} POD",
        "NODE", "PHASE", "CLUSTER", "NAMESPACE"
    );
    let own_ns = wf.namespace().unwrap_or_default();
    for node in status.nodes.values().filter(|n| n.type_ == NodeType::Pod) {
        let cluster = node.cluster.clone().unwrap_or_else(|| "cluster-0".into());
        let namespace = node.namespace.clone().unwrap_or_else(|| own_ns.clone());
        println!(
            "  {:<40} {:<10} {:<12} {:<12} {}",
            node.display_name,
            node.phase.to_string(),
            cluster,
            namespace,
            node.id
        );
    }
}
