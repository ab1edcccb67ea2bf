//! From the watch caches to the engine's `Observed`: the pods and task results of one workflow,
//! keyed by node ID.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use crate::engine::{Observed, ObservedPod, ObservedResult, PodPhase};
use crate::workflow::{Workflow, WorkflowTaskResult, labels};

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

pub(super) fn observe(
    wf: &Workflow,
    pods: &Store<Pod>,
    results: &Store<WorkflowTaskResult>,
) -> Observed {
    let name = wf.name_any();
    let namespace = wf.namespace().unwrap_or_default();
    let mut observed = Observed::default();
    for pod in pods.state() {
        if !belongs(pod.labels(), pod.namespace().as_deref(), &name, &namespace) {
            continue;
        }
        let Some(node_id) = pod.annotations().get(labels::NODE_ID).cloned() else {
            continue;
        };
        observed
            .pod_labels
            .insert(node_id.clone(), pod.labels().clone());
        observed.pods.insert(node_id, observed_pod(&pod));
    }
    for result in results.state() {
        if !belongs(
            result.labels(),
            result.namespace().as_deref(),
            &name,
            &namespace,
        ) {
            continue;
        }
        let complete = result
            .labels()
            .get(labels::REPORT_OUTPUTS_COMPLETED)
            .is_some_and(|v| v == "true");
        observed.results.insert(
            result.name_any(),
            ObservedResult {
                outputs: result.outputs.clone().unwrap_or_default(),
                complete,
                message: result.message.clone(),
            },
        );
    }
    observed
}

fn observed_pod(pod: &Pod) -> ObservedPod {
    let status = pod.status.as_ref();
    let phase = match status.and_then(|s| s.phase.as_deref()) {
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some("Unknown") => PodPhase::Unknown,
        _ => PodPhase::Pending,
    };
    let main = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == "main"));
    let terminated = main
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref());
    let message = status.and_then(|s| s.message.clone()).or_else(|| {
        terminated
            .filter(|t| t.exit_code != 0)
            .and_then(|t| t.message.clone().filter(|m| !m.is_empty()))
    });
    ObservedPod {
        name: pod.name_any(),
        phase,
        message,
        exit_code: terminated.map(|t| t.exit_code),
        pod_ip: status.and_then(|s| s.pod_ip.clone()),
        host_node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        deleting: pod.metadata.deletion_timestamp.is_some(),
    }
}
