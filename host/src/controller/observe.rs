//! From the watch caches to the engine's `Observed`: the pods and task results of one workflow,
//! keyed by node ID.

use std::collections::BTreeMap;

use super::ownership::{self, Owner, PodStamps, ProofKey};
use super::pod_view::WorkflowPod;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use flotilla_engine::naming::{self, PodNameFormat};
use flotilla_engine::workflow::report_digest::{self, Termination};
use flotilla_engine::workflow::{NodeType, Workflow, WorkflowTaskResult, labels};
use flotilla_engine::{Observed, ObservedPod, ObservedResult, PodPhase};

/// The watch caches of one cluster.
pub(super) type Caches<'a> = (&'a Store<WorkflowPod>, &'a Store<WorkflowTaskResult>);

/// Looks up each pod node's pod and task result by their deterministic names, so a reconcile
/// costs as much as the workflow has nodes, not as many pods as the cluster runs. `caches`
/// gives the caches for a node's cluster (`None`: the controller's own) and namespace; `made`
/// the uids of pods this controller made whose status write was lost (by node ID), which count
/// as recorded.
///
/// Only what is proven to be this workflow's is observed (`super::ownership`): a pod stamped
/// with the workflow's uid, the node and the controller's proof — and, once the node has a pod
/// uid recorded, the pod of that uid (a copy made after deleting it carries the same stamps) —
/// and a task result owned by that pod and saying what the pod's main container vouched for
/// (`report_digest`): anyone who may write task results in the namespace can change one after
/// the executor wrote it, but only the kubelet writes the termination message the digest is
/// in. A pod of the node's name that is someone else's fails an unfinished node with a message
/// naming it (`Observed::create_errors`), and is never touched.
pub(super) fn observe<'a>(
    wf: &Workflow,
    cluster: Option<&str>,
    key: &ProofKey,
    made: &BTreeMap<String, String>,
    caches: impl Fn(Option<&str>, &str) -> Option<Caches<'a>>,
) -> Observed {
    let name = wf.name_any();
    let namespace = wf.namespace().unwrap_or_default();
    let uid = wf.metadata.uid.clone().unwrap_or_default();
    let owner = Owner {
        name: &name,
        namespace: &namespace,
        uid: &uid,
        cluster,
        key,
    };
    let format = PodNameFormat::of(wf);
    let mut observed = Observed::default();
    let Some(status) = &wf.status else {
        return observed;
    };
    // Observations are keyed by node ID, and the engine looks them up by ID: a node filed under
    // another key (a status the controller did not write) would lend its place to the node
    // whose ID it carries. The engine errors such a workflow; nothing of it is observed here.
    let pod_nodes = status
        .nodes
        .iter()
        .filter(|(key, n)| n.type_ == NodeType::Pod && **key == n.id)
        .map(|(_, n)| n);
    for node in pod_nodes {
        let ns = node.namespace.as_deref().unwrap_or(&namespace);
        let pod_name = naming::node_pod_name(&name, node, format);
        let Some((pods, results)) = caches(node.cluster.as_deref(), ns) else {
            continue;
        };
        let Some(pod) = pods.get(&ObjectRef::new(&pod_name).within(ns)) else {
            continue;
        };
        let refusal = if !owner.owns_pod(PodStamps::of(pod.as_ref()), &node.id) {
            Some(Owner::foreign_pod(ns, &pod_name, node.cluster.as_deref()))
        } else if !ownership::is_the_pinned_pod(
            made.get(&node.id)
                .map(String::as_str)
                .or(node.pod_uid.as_deref()),
            pod.uid().as_deref(),
        ) {
            Some(Owner::replaced_pod(ns, &pod_name, node.cluster.as_deref()))
        } else {
            None
        };
        if let Some(message) = refusal {
            if !node.phase.is_fulfilled() {
                observed.create_errors.insert(node.id.clone(), message);
            }
            continue;
        }
        observed
            .pod_labels
            .insert(node.id.clone(), pod.labels().clone());
        let observed_pod = observed_pod(&pod);
        if let Some(pod_uid) = &observed_pod.uid
            && let Some(result) = results.get(&ObjectRef::new(&node.id).within(ns))
            && ownership::reported_by(result.metadata.owner_references.as_deref(), pod_uid)
            && vouched_for(&pod, &result)
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
        observed.pods.insert(node.id.clone(), observed_pod);
    }
    observed
}

/// The termination message of the pod's `main` container, once it has ended.
fn main_termination(pod: &WorkflowPod) -> Option<Termination<'_>> {
    pod.status
        .container_statuses
        .iter()
        .find(|c| c.name == "main")
        .and_then(|c| c.state.terminated.as_ref())
        .map(|t| Termination::parse(t.message.as_deref().unwrap_or_default()))
}

/// Whether `result` says what the pod's executor reported: the digest its `main` container left.
/// A result changed since (or written before the pod ended) is not the pod's word; the node
/// waits, as for a report not yet made.
fn vouched_for(pod: &WorkflowPod, result: &WorkflowTaskResult) -> bool {
    let Some(vouched) = main_termination(pod).and_then(|t| t.digest) else {
        return false;
    };
    vouched == report_digest::digest(result.outputs.as_ref(), result.message.as_deref())
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
    // A failed container's own words, without the digest line its executor put first.
    let message = status.message.clone().or_else(|| {
        terminated
            .filter(|t| t.exit_code != 0)
            .and_then(|t| Termination::parse(t.message.as_deref()?).message)
            .map(str::to_string)
    });
    ObservedPod {
        name: pod.name_any(),
        uid: pod.metadata.uid.clone(),
        phase,
        message,
        exit_code: terminated.map(|t| t.exit_code),
        pod_ip: status.pod_ip.clone(),
        host_node_name: pod.spec.node_name.clone(),
        deleting: pod.metadata.deletion_timestamp.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;
    use serde_json::json;

    /// Found by the fuzz target (`controller::fuzz::workflows`): node "wf" carrying the ID of
    /// node "wf-1", which is recorded in a cluster the policy denies, had its pod (found in the
    /// workflow's own namespace) observed as "wf-1"'s — so the engine deleted it "in" the
    /// denied cluster.
    #[test]
    fn a_node_filed_under_another_key_is_not_observed() {
        let wf: Workflow = serde_json::from_value(json!({
            "metadata": {"name": "wf", "namespace": "team-a", "uid": "uid-1"},
            "spec": {},
            "status": {"nodes": {
                "wf": {"id": "wf-1", "name": "wf", "displayName": "wf", "type": "Pod", "phase": "Pending"},
                "wf-1": {"id": "wf-1", "name": "wf.x", "displayName": "x", "type": "Pod", "phase": "Pending", "cluster": "c"},
            }},
        }))
        .unwrap();
        // A pod with every stamp right for node "wf-1", proof included: only the key it is
        // filed under is wrong.
        let key = ProofKey::new(&[1; ownership::PROOF_KEY_BYTES]);
        let name = naming::pod_name("wf", "wf", "", PodNameFormat::V2);
        let pod = proven_pod(&key, &name, "wf-1", json!({}));
        let mut pods = Writer::<WorkflowPod>::default();
        pods.apply_watcher_event(&Event::Apply(pod));
        let (pods, results) = (
            pods.as_reader(),
            Writer::<WorkflowTaskResult>::default().as_reader(),
        );
        let observed = observe(&wf, None, &key, &BTreeMap::new(), |_, _| {
            Some((&pods, &results))
        });
        assert!(observed.pods.is_empty(), "{:?}", observed.pods);
    }

    /// A pod of workflow "wf" (uid "uid-1") in "team-a" for `node_id`, proven with `key`.
    fn proven_pod(
        key: &ProofKey,
        name: &str,
        node_id: &str,
        status: serde_json::Value,
    ) -> WorkflowPod {
        let proof = flotilla_engine::CreatorProof::prove(
            key,
            &flotilla_engine::PodIdentity {
                workflow_uid: "uid-1",
                node_id,
                namespace: "team-a",
                name,
            },
        );
        serde_json::from_value(json!({"metadata": {
            "name": name, "namespace": "team-a", "uid": "pod-1",
            "labels": {labels::WORKFLOW: "wf", labels::WORKFLOW_NAMESPACE: "team-a", labels::WORKFLOW_UID: "uid-1"},
            "annotations": {labels::NODE_ID: node_id, labels::CREATOR_PROOF: proof},
        }, "status": status}))
        .unwrap()
    }

    /// Whoever may write task results in the namespace can rewrite one after the executor wrote
    /// it (owner reference and labels kept): only the result the pod's main container vouched
    /// for in its termination message is observed.
    #[test]
    fn only_the_task_result_the_pod_vouched_for_is_observed() {
        let wf: Workflow = serde_json::from_value(json!({
            "metadata": {"name": "wf", "namespace": "team-a", "uid": "uid-1"},
            "spec": {},
            "status": {"nodes": {
                "wf": {"id": "wf", "name": "wf", "displayName": "wf", "type": "Pod", "phase": "Running"},
            }},
        }))
        .unwrap();
        let key = ProofKey::new(&[1; ownership::PROOF_KEY_BYTES]);
        let real = flotilla_engine::workflow::Outputs {
            result: Some("real".into()),
            ..Default::default()
        };
        let vouched = report_digest::digest(Some(&real), None);
        let ended = |message: &str| {
            json!({"phase": "Succeeded", "containerStatuses": [{"name": "main",
                "state": {"terminated": {"exitCode": 0, "message": message}}}]})
        };
        let name = naming::pod_name("wf", "wf", "", PodNameFormat::V2);
        let result = |value: &str| -> WorkflowTaskResult {
            serde_json::from_value(json!({
                "metadata": {"name": "wf", "namespace": "team-a",
                    "labels": {labels::REPORT_OUTPUTS_COMPLETED: "true"},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": "pod-1"}]},
                "outputs": {"result": value},
            }))
            .unwrap()
        };
        let observed_result = |pod_status: serde_json::Value, value: &str| {
            let mut pods = Writer::<WorkflowPod>::default();
            pods.apply_watcher_event(&Event::Apply(proven_pod(&key, &name, "wf", pod_status)));
            let mut results = Writer::<WorkflowTaskResult>::default();
            results.apply_watcher_event(&Event::Apply(result(value)));
            let (pods, results) = (pods.as_reader(), results.as_reader());
            let observed = observe(&wf, None, &key, &BTreeMap::new(), |_, _| {
                Some((&pods, &results))
            });
            assert!(
                observed.pods.contains_key("wf"),
                "the pod is the workflow's"
            );
            observed.results.get("wf").map(|r| r.outputs.result.clone())
        };
        let vouching = ended(&report_digest::termination_message(&vouched, None));
        assert_eq!(
            observed_result(vouching.clone(), "real"),
            Some(Some("real".into()))
        );
        assert_eq!(observed_result(vouching, "forged"), None);
        // A pod that vouched for nothing (still running, or a message without the digest line).
        assert_eq!(observed_result(json!({"phase": "Running"}), "real"), None);
        assert_eq!(observed_result(ended("real"), "real"), None);
    }

    /// Whoever may delete and create pods in the namespace can put a copy of the controller's
    /// pod, every stamp and the proof included, in its place: once the node has the uid of the
    /// pod the controller created, the copy (another uid) is not observed and the node fails
    /// naming it; a node with no uid recorded yet takes the proven pod and the engine records it.
    #[test]
    fn a_pod_of_another_uid_than_the_recorded_one_is_not_observed() {
        let key = ProofKey::new(&[1; ownership::PROOF_KEY_BYTES]);
        let name = naming::pod_name("wf", "wf", "", PodNameFormat::V2);
        let workflow = |pinned: Option<&str>| -> Workflow {
            serde_json::from_value(json!({
                "metadata": {"name": "wf", "namespace": "team-a", "uid": "uid-1"},
                "spec": {},
                "status": {"nodes": {
                    "wf": {"id": "wf", "name": "wf", "displayName": "wf", "type": "Pod",
                        "phase": "Running", "podUID": pinned},
                }},
            }))
            .unwrap()
        };
        let mut pods = Writer::<WorkflowPod>::default();
        // `proven_pod` has uid "pod-1".
        pods.apply_watcher_event(&Event::Apply(proven_pod(&key, &name, "wf", json!({}))));
        let (pods, results) = (
            pods.as_reader(),
            Writer::<WorkflowTaskResult>::default().as_reader(),
        );
        let observe = |wf: &Workflow| {
            observe(wf, None, &key, &BTreeMap::new(), |_, _| {
                Some((&pods, &results))
            })
        };

        let copy = observe(&workflow(Some("pod-0")));
        assert!(copy.pods.is_empty(), "{:?}", copy.pods);
        assert_eq!(
            copy.create_errors.get("wf").map(String::as_str),
            Some(
                format!("pod team-a/{name} was replaced by a pod not created for this workflow")
                    .as_str()
            )
        );
        // Made on an earlier pass whose status write was lost: the made uid is the node's.
        let made = BTreeMap::from([("wf".to_string(), "pod-1".to_string())]);
        let remade = super::observe(&workflow(Some("pod-0")), None, &key, &made, |_, _| {
            Some((&pods, &results))
        });
        assert!(remade.pods.contains_key("wf") && remade.create_errors.is_empty());
        for pinned in [Some("pod-1"), None] {
            let ours = observe(&workflow(pinned));
            assert_eq!(
                ours.pods.get("wf").and_then(|p| p.uid.as_deref()),
                Some("pod-1"),
                "recorded: {pinned:?}"
            );
            assert!(ours.create_errors.is_empty());
        }
    }
}
