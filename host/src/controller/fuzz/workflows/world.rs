//! What the clusters hold for the fuzzer: pods and task results, each pod's life as a seed,
//! played into the world for a workflow's pod nodes.

use super::*;

/// What the clusters hold: pods and task results, by (cluster, namespace, name).
#[derive(Debug, Default)]
pub(super) struct World {
    pub(super) pods: BTreeMap<(Option<String>, String, String), Value>,
    pub(super) results: BTreeMap<(Option<String>, String, String), Value>,
}

/// One pod's life, as the fuzzer plays it.
#[derive(Debug, Clone)]
pub(super) struct PodSeed {
    pub(super) phase: &'static str,
    pub(super) exit_code: Option<i32>,
    /// Stamped for this workflow (else: someone else's pod of the same name).
    pub(super) owned: bool,
    pub(super) deleting: bool,
    pub(super) message: Option<String>,
    pub(super) result: Option<ResultSeed>,
}

#[derive(Debug, Clone)]
pub(super) struct ResultSeed {
    pub(super) outputs: Value,
    pub(super) complete: bool,
    /// Owned by the pod (else: made by someone else, claiming the node).
    pub(super) by_pod: bool,
    /// The pod's termination message carries this result's digest (else: the result was
    /// changed after the executor vouched for what it reported).
    pub(super) vouched: bool,
}

pub(super) fn pod_seed() -> BoxedStrategy<PodSeed> {
    let result = (
        task_outputs(),
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(outputs, complete, by_pod, vouched)| ResultSeed {
            outputs,
            complete,
            by_pod,
            vouched,
        });
    (
        select(
            &[
                "Pending",
                "Running",
                "Succeeded",
                "Failed",
                "Unknown",
                "",
                "Bogus",
            ][..],
        ),
        prop::option::of(select(&[0, 1, 2, 137, -1, i32::MIN, i32::MAX][..])),
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.2, text()),
        prop::option::weighted(0.7, result),
    )
        .prop_map(
            |(phase, exit_code, owned, deleting, message, result)| PodSeed {
                phase,
                exit_code,
                owned,
                deleting,
                message,
                result,
            },
        )
        .boxed()
}

/// The pods and task results of a workflow's pod nodes, played by `seeds` in order.
pub(super) fn populate(world: &mut World, wf: &Workflow, own: Option<&str>, seeds: &[PodSeed]) {
    let Some(status) = &wf.status else {
        return;
    };
    let ns = wf.metadata.namespace.clone().unwrap_or_default();
    let format = naming::PodNameFormat::of(wf);
    let pod_nodes = status
        .nodes
        .values()
        .filter(|n| n.type_ == flotilla_engine::workflow::NodeType::Pod);
    for (node, seed) in pod_nodes.zip(seeds.iter().cycle()) {
        let name = naming::node_pod_name(WORKFLOW, node, format);
        let namespace = node.namespace.clone().unwrap_or_else(|| ns.clone());
        let mut stamped = json!({
            labels::WORKFLOW: WORKFLOW,
            labels::WORKFLOW_NAMESPACE: ns,
            labels::WORKFLOW_UID: wf.metadata.uid.clone().unwrap_or_default(),
        });
        if let Some(own) = own {
            stamped[labels::WORKFLOW_CLUSTER] = own.into();
        }
        let mut annotations = json!({labels::NODE_ID: node.id});
        if seed.owned {
            annotations[labels::CREATOR_PROOF] = proof_key()
                .prove(&PodIdentity {
                    workflow_uid: wf.metadata.uid.as_deref().unwrap_or_default(),
                    node_id: &node.id,
                    namespace: &namespace,
                    name: &name,
                })
                .into();
        }
        let pod = json!({
            "metadata": {
                "name": name, "namespace": namespace, "uid": format!("pod-uid-{}", node.id),
                "labels": if seed.owned { stamped } else { json!({labels::WORKFLOW: WORKFLOW}) },
                "annotations": annotations,
            },
            "spec": {"nodeName": "node-1"},
            "status": {"phase": seed.phase},
        });
        put(world, node.cluster.clone(), pod, seed);
    }
}

/// Stores a pod (as created, now in the seed's state) and the task result its executor wrote.
pub(super) fn put(world: &mut World, cluster: Option<String>, mut pod: Value, seed: &PodSeed) {
    let (Some(name), Some(namespace)) = (
        pod["metadata"]["name"].as_str().map(String::from),
        pod["metadata"]["namespace"].as_str().map(String::from),
    ) else {
        return;
    };
    let node_id = pod["metadata"]["annotations"][labels::NODE_ID]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uid = pod["metadata"]["uid"].clone();
    pod["status"] = json!({"phase": seed.phase, "message": seed.message, "podIP": "10.0.0.1"});
    if let Some(code) = seed.exit_code {
        // What the executor left: the digest of the result it reported, then the message.
        let vouched = seed.result.as_ref().filter(|r| r.vouched).map(|r| {
            let outputs = serde_json::from_value::<Outputs>(r.outputs.clone()).ok();
            report_digest::digest(outputs.as_ref(), None)
        });
        let message = match vouched {
            Some(digest) => Some(report_digest::termination_message(
                &digest,
                seed.message.as_deref(),
            )),
            None => seed.message.clone(),
        };
        pod["status"]["containerStatuses"] = json!([{"name": "main", "state": {"terminated": {"exitCode": code, "message": message}}}]);
    }
    if seed.deleting {
        pod["metadata"]["deletionTimestamp"] = json!("2027-01-15T08:00:00Z");
    }
    if let Some(result) = &seed.result {
        let owner = if result.by_pod {
            uid
        } else {
            json!("someone-elses")
        };
        let value = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTaskResult",
            "metadata": {
                "name": node_id, "namespace": namespace, "uid": format!("result-{node_id}"),
                "labels": {labels::WORKFLOW: WORKFLOW, labels::REPORT_OUTPUTS_COMPLETED: result.complete.to_string()},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": owner}],
            },
            "outputs": result.outputs,
        });
        world
            .results
            .insert((cluster.clone(), namespace.clone(), node_id), value);
    }
    world.pods.insert((cluster, namespace, name), pod);
}
