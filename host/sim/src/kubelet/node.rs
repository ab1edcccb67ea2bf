//! The node side of the kubelet: registering the `Node`, its heartbeat (Lease in
//! `kube-node-lease` and `nodes/status`), and binding schedulable pods to it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{KubeletError, Shared};

/// Seconds a node Lease stays valid without renewal (the kubelet's default).
const LEASE_DURATION_SECONDS: i32 = 40;
const LEASE_NAMESPACE: &str = "kube-node-lease";
const KUBELET_VERSION: &str = "v1.33.0";

/// The labels the kubelet puts on its Node.
fn node_labels(node: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("kubernetes.io/hostname".to_owned(), node.to_owned()),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("kubernetes.io/arch".to_owned(), "amd64".to_owned()),
        ("beta.kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("beta.kubernetes.io/arch".to_owned(), "amd64".to_owned()),
    ])
}

fn conditions(since: Timestamp, now: Timestamp) -> Value {
    let c = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": Time(now), "lastTransitionTime": Time(since),
        })
    };
    json!([
        c(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available"
        ),
        c(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure"
        ),
        c(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available"
        ),
        c(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status"
        ),
    ])
}

fn node_status(shared: &Shared, since: Timestamp, now: Timestamp) -> Value {
    let resources =
        json!({"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"});
    json!({
        "conditions": conditions(since, now),
        "addresses": [
            {"type": "InternalIP", "address": shared.options.node_ip},
            {"type": "Hostname", "address": shared.node_name},
        ],
        "capacity": resources,
        "allocatable": resources,
        "daemonEndpoints": {"kubeletEndpoint": {"Port": shared.api_port}},
        "nodeInfo": {
            "machineID": super::lifecycle::fake_digest(&shared.node_name)[..32],
            "systemUUID": super::lifecycle::fake_digest(&format!("uuid/{}", shared.node_name))[..32],
            "bootID": super::lifecycle::fake_digest(&format!("boot/{}/{}", shared.node_name, since))[..32],
            "kernelVersion": "",
            "osImage": "Flotilla simulated kubelet",
            "containerRuntimeVersion": "sim://0.1.0",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    })
}

/// Creates the Node (or adopts an existing one of that name) and writes its initial status.
pub(super) async fn register(shared: &Shared) -> Result<(), KubeletError> {
    let nodes: Api<Node> = Api::all(shared.client.clone());
    let err = |source| KubeletError::RegisterNode {
        node: shared.node_name.clone(),
        source,
    };
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": shared.node_name, "labels": node_labels(&shared.node_name)},
        "spec": {},
    }))
    .map_err(|e| err(kube::Error::SerdeError(e)))?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let patch = json!({"metadata": {"labels": node_labels(&shared.node_name)}});
            nodes
                .patch(
                    &shared.node_name,
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
                .map_err(err)?;
        }
        Err(e) => return Err(err(e)),
    }
    let now = Timestamp::now();
    let status = json!({"status": node_status(shared, now, now)});
    nodes
        .patch_status(
            &shared.node_name,
            &PatchParams::default(),
            &Patch::Merge(status),
        )
        .await
        .map_err(err)?;
    Ok(())
}

/// Renews the node Lease and the status heartbeat forever, every `options.heartbeat`.
pub(super) async fn heartbeat(shared: &Shared) {
    let since = Timestamp::now();
    let mut ticks = tokio::time::interval(shared.options.heartbeat);
    loop {
        ticks.tick().await;
        if let Err(e) = renew_lease(shared).await {
            tracing::warn!(node = %shared.node_name, error = %e, "renewing the node lease");
        }
        let nodes: Api<Node> = Api::all(shared.client.clone());
        let status = json!({"status": {"conditions": conditions(since, Timestamp::now())}});
        if let Err(e) = nodes
            .patch_status(
                &shared.node_name,
                &PatchParams::default(),
                &Patch::Merge(status),
            )
            .await
        {
            tracing::warn!(node = %shared.node_name, error = %e, "updating the node status");
        }
    }
}

async fn renew_lease(shared: &Shared) -> Result<(), kube::Error> {
    let leases: Api<Lease> = Api::namespaced(shared.client.clone(), LEASE_NAMESPACE);
    let now = MicroTime(Timestamp::now());
    let spec = json!({
        "holderIdentity": shared.node_name,
        "leaseDurationSeconds": LEASE_DURATION_SECONDS,
        "renewTime": now,
    });
    match leases
        .patch(
            &shared.node_name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => {
            let nodes: Api<Node> = Api::all(shared.client.clone());
            let uid = nodes
                .get(&shared.node_name)
                .await?
                .metadata
                .uid
                .unwrap_or_default();
            let lease: Lease = serde_json::from_value(json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": shared.node_name,
                    "namespace": LEASE_NAMESPACE,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": shared.node_name, "uid": uid}],
                },
                "spec": spec,
            }))
            .map_err(kube::Error::SerdeError)?;
            leases
                .create(&PostParams::default(), &lease)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Why a pod is not for this node's scheduler, or `None` when it should be bound here.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Schedulable {
    Yes,
    /// Not ours to schedule (another scheduler, gated, already bound, terminating, finished).
    NotOurs,
    /// Ours, but the node does not satisfy its node selector or required node affinity.
    Unschedulable,
}

/// The scheduling decision for `pod` on a node with `labels` (pure).
pub(super) fn schedulable(pod: &Pod, labels: &BTreeMap<String, String>) -> Schedulable {
    let Some(spec) = &pod.spec else {
        return Schedulable::NotOurs;
    };
    let scheduler = spec.scheduler_name.as_deref().unwrap_or_default();
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default();
    if !(scheduler.is_empty() || scheduler == "default-scheduler")
        || spec.node_name.as_deref().is_some_and(|n| !n.is_empty())
        || spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|g| !g.is_empty())
        || pod.metadata.deletion_timestamp.is_some()
        || matches!(phase, "Succeeded" | "Failed")
    {
        return Schedulable::NotOurs;
    }
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    // Terms are ORed, expressions within a term ANDed; fields (not labels) never match here.
    let affinity_ok = required.is_none_or(|r| {
        r.node_selector_terms.iter().any(|term| {
            term.match_fields.as_ref().is_none_or(Vec::is_empty)
                && term
                    .match_expressions
                    .iter()
                    .flatten()
                    .all(|e| requirement_matches(e, labels))
        })
    });
    if selector_ok && affinity_ok {
        Schedulable::Yes
    } else {
        Schedulable::Unschedulable
    }
}

fn requirement_matches(req: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&req.key);
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// The scheduler's message for a pod no node fits (one node, selector/affinity mismatch).
const UNSCHEDULABLE_MESSAGE: &str = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";

/// Binds `pod` to this node if the default scheduler would; marks it Unschedulable if it cannot fit.
pub(super) async fn bind_if_schedulable(shared: &Shared, pod: &Pod) {
    let (Some(namespace), Some(name)) = (
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref(),
    ) else {
        return;
    };
    let pods: Api<Pod> = Api::namespaced(shared.client.clone(), namespace);
    match schedulable(pod, &node_labels(&shared.node_name)) {
        Schedulable::NotOurs => {}
        Schedulable::Unschedulable => {
            let already = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        c.type_ == "PodScheduled" && c.reason.as_deref() == Some("Unschedulable")
                    })
                });
            if already {
                return;
            }
            let condition = json!({
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": UNSCHEDULABLE_MESSAGE, "lastTransitionTime": Time(Timestamp::now()), "lastProbeTime": null,
            });
            let patch = Patch::Merge(json!({"status": {"conditions": [condition]}}));
            if let Err(e) = pods
                .patch_status(name, &PatchParams::default(), &patch)
                .await
            {
                tracing::warn!(pod = %name, namespace = %namespace, error = %e, "marking pod unschedulable");
            }
        }
        Schedulable::Yes => {
            let binding = json!({
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name, "namespace": namespace, "uid": pod.metadata.uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": shared.node_name},
            });
            match pods
                .create_subresource::<Value, Value>(
                    "binding",
                    name,
                    &PostParams::default(),
                    &binding,
                )
                .await
            {
                Ok(_) => {
                    tracing::debug!(pod = %name, namespace = %namespace, node = %shared.node_name, "bound")
                }
                // Someone else bound it first, or it is gone: nothing to do.
                Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => {}
                Err(e) => {
                    tracing::warn!(pod = %name, namespace = %namespace, error = %e, "binding pod")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}))
            .unwrap()
    }

    #[test]
    fn scheduling_decisions() {
        let labels = node_labels("sim");
        let ok = |spec: Value| schedulable(&pod(spec), &labels);
        assert_eq!(ok(json!({"containers": []})), Schedulable::Yes);
        assert_eq!(
            ok(json!({"containers": [], "schedulerName": "default-scheduler"})),
            Schedulable::Yes
        );
        assert_eq!(
            ok(json!({"containers": [], "schedulerName": "volcano"})),
            Schedulable::NotOurs
        );
        assert_eq!(
            ok(json!({"containers": [], "nodeName": "other"})),
            Schedulable::NotOurs
        );
        assert_eq!(
            ok(json!({"containers": [], "schedulingGates": [{"name": "g"}]})),
            Schedulable::NotOurs
        );
        assert_eq!(
            ok(json!({"containers": [], "nodeSelector": {"kubernetes.io/os": "linux"}})),
            Schedulable::Yes
        );
        assert_eq!(
            ok(json!({"containers": [], "nodeSelector": {"gpu": "true"}})),
            Schedulable::Unschedulable
        );
        let affinity = |op: &str, values: Value| {
            json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/arch", "operator": op, "values": values}]}]
            }}}})
        };
        assert_eq!(
            ok(affinity("In", json!(["amd64", "arm64"]))),
            Schedulable::Yes
        );
        assert_eq!(
            ok(affinity("NotIn", json!(["amd64"]))),
            Schedulable::Unschedulable
        );
        assert_eq!(
            ok(affinity("DoesNotExist", json!(null))),
            Schedulable::Unschedulable
        );
    }
}
