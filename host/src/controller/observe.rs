//! From the watch caches to the engine's `Observed`: the pods and task results of one workflow,
//! keyed by node ID.

use super::pod_view::WorkflowPod;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::engine::{Observed, ObservedPod, ObservedResult, PodPhase};
use crate::naming::{self, PodNameFormat};
use crate::workflow::{NodeType, Workflow, WorkflowTaskResult, labels};

fn belongs(
    obj_labels: &std::collections::BTreeMap<String, String>,
    obj_ns: Option<&str>,
    name: &str,
    namespace: &str,
) -> bool {
    obj_labels.get(labels::WORKFLOW).is_some_and(|w| w == name)
        && obj_labels
            .get(labels::WORKFLOW_NAMESPACE)
            .map(String::as_str)
            .or(obj_ns)
            == Some(namespace)
}

/// The watch caches of one cluster.
pub(super) type Caches<'a> = (&'a Store<WorkflowPod>, &'a Store<WorkflowTaskResult>);

/// Looks up each pod node's pod and task result by their deterministic names, so a reconcile
/// costs as much as the workflow has nodes, not as many pods as the cluster runs. `caches`
/// gives the caches for a node's cluster (`None`: the controller's own) and namespace.
pub(super) fn observe<'a>(
    wf: &Workflow,
    caches: impl Fn(Option<&str>, &str) -> Option<Caches<'a>>,
) -> Observed {
    let name = wf.name_any();
    let namespace = wf.namespace().unwrap_or_default();
    let format = PodNameFormat::of(wf);
    let mut observed = Observed::default();
    let Some(status) = &wf.status else {
        return observed;
    };
    for node in status.nodes.values().filter(|n| n.type_ == NodeType::Pod) {
        let ns = node.namespace.as_deref().unwrap_or(&namespace);
        let pod_name = naming::node_pod_name(&name, node, format);
        let Some((pods, results)) = caches(node.cluster.as_deref(), ns) else {
            continue;
        };
        if let Some(pod) = pods.get(&ObjectRef::new(&pod_name).within(ns))
            && belongs(pod.labels(), Some(ns), &name, &namespace)
            && pod.annotations().get(labels::NODE_ID) == Some(&node.id)
        {
            observed
                .pod_labels
                .insert(node.id.clone(), pod.labels().clone());
            observed.pods.insert(node.id.clone(), observed_pod(&pod));
        }
        if let Some(result) = results.get(&ObjectRef::new(&node.id).within(ns))
            && belongs(result.labels(), Some(ns), &name, &namespace)
        {
            let complete = result
                .labels()
                .get(labels::REPORT_OUTPUTS_COMPLETED)
                .is_some_and(|v| v == "true");
            observed.results.insert(
                node.id.clone(),
                ObservedResult {
                    outputs: result.outputs.clone().unwrap_or_default(),
                    complete,
                    message: result.message.clone(),
                },
            );
        }
    }
    observed
}

fn observed_pod(pod: &WorkflowPod) -> ObservedPod {
    let status = &pod.status;
    let phase = match status.phase.as_deref() {
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some("Unknown") => PodPhase::Unknown,
        _ => PodPhase::Pending,
    };
    let terminated = status
        .container_statuses
        .iter()
        .find(|c| c.name == "main")
        .and_then(|c| c.state.terminated.as_ref());
    let message = status.message.clone().or_else(|| {
        terminated
            .filter(|t| t.exit_code != 0)
            .and_then(|t| t.message.clone().filter(|m| !m.is_empty()))
    });
    ObservedPod {
        name: pod.name_any(),
        phase,
        message,
        exit_code: terminated.map(|t| t.exit_code),
        pod_ip: status.pod_ip.clone(),
        host_node_name: pod.spec.node_name.clone(),
        deleting: pod.metadata.deletion_timestamp.is_some(),
    }
}
