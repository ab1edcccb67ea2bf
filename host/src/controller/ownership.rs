//! Whether a pod or task result is this workflow's: proven from what the controller stamped on
//! it, never assumed from its name. Names are deterministic and labels are public — anyone who
//! may list pods in a namespace a workflow uses reads its uid off its first pod — so anyone who
//! may create pods there can make a look-alike of its next one. What they cannot make is the
//! creator proof (a MAC under the controller's key, [`ProofKey`]), and what they cannot set is
//! the uid of a pod the API server made for the controller.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use flotilla_engine::workflow::labels;
use flotilla_engine::{CreatorProof, PodIdentity};

/// The controller's key for creator proofs: HMAC-SHA256 over a pod's identity. Held in memory
/// only (from the Secret `proof_key::SECRET`), never printed.
#[derive(Clone)]
pub(crate) struct ProofKey(ring::hmac::Key);

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProofKey(..)")
    }
}

/// Bytes a key needs at least (the hash's output size).
pub(crate) const PROOF_KEY_BYTES: usize = 32;

impl ProofKey {
    pub(crate) fn new(bytes: &[u8]) -> ProofKey {
        ProofKey(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes))
    }

    /// Whether `proof` is this key's proof for `pod` (compared in constant time).
    pub(crate) fn verifies(&self, pod: &PodIdentity<'_>, proof: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(proof) else {
            return false;
        };
        ring::hmac::verify(&self.0, &message(pod), &tag).is_ok()
    }
}

impl CreatorProof for ProofKey {
    fn prove(&self, pod: &PodIdentity<'_>) -> String {
        let tag = ring::hmac::sign(&self.0, &message(pod));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }
}

/// What is signed: a version and each field with its length, so no two identities share bytes.
fn message(pod: &PodIdentity<'_>) -> Vec<u8> {
    let fields = [pod.workflow_uid, pod.node_id, pod.namespace, pod.name];
    let mut bytes = b"flotilla.dev/creator-proof/v1".to_vec();
    for field in fields {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(field.as_bytes());
    }
    bytes
}

/// The workflow whose pods are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) name: &'a str,
    pub(crate) namespace: &'a str,
    /// The workflow's uid (every stored object has one).
    pub(crate) uid: &'a str,
    /// The controller's cluster (`ARGO_CLUSTER`), stamped on every pod when set: two primary
    /// clusters sharing a remote namespace never take each other's pods.
    pub(crate) cluster: Option<&'a str>,
    /// The key the controller's creator proofs are made with.
    pub(crate) key: &'a ProofKey,
}

/// Where a pod is and what it says of itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PodStamps<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) labels: &'a BTreeMap<String, String>,
    pub(crate) annotations: &'a BTreeMap<String, String>,
}

impl<'a> PodStamps<'a> {
    /// The stamps of a pod object.
    pub(crate) fn of(pod: &'a impl kube::Resource) -> PodStamps<'a> {
        let meta = pod.meta();
        PodStamps {
            namespace: meta.namespace.as_deref().unwrap_or_default(),
            name: meta.name.as_deref().unwrap_or_default(),
            labels: kube::ResourceExt::labels(pod),
            annotations: kube::ResourceExt::annotations(pod),
        }
    }
}

impl Owner<'_> {
    /// Whether this pod was made by this controller for `node_id` of this workflow: its labels
    /// name the workflow and its proof verifies under the controller's key.
    pub(crate) fn owns_pod(&self, pod: PodStamps<'_>, node_id: &str) -> bool {
        let label = |key: &str| pod.labels.get(key).map(String::as_str);
        let annotation = |key: &str| pod.annotations.get(key).map(String::as_str);
        let identity = PodIdentity {
            workflow_uid: self.uid,
            node_id,
            namespace: pod.namespace,
            name: pod.name,
        };
        label(labels::WORKFLOW) == Some(self.name)
            && label(labels::WORKFLOW_NAMESPACE) == Some(self.namespace)
            && label(labels::WORKFLOW_UID) == Some(self.uid)
            && label(labels::WORKFLOW_CLUSTER) == self.cluster
            && annotation(labels::NODE_ID) == Some(node_id)
            && annotation(labels::CREATOR_PROOF).is_some_and(|p| self.key.verifies(&identity, p))
    }

    /// The message a node fails with when the pod created for it is gone and another pod has
    /// taken its name — made by whoever may create pods there, stamps copied or not.
    pub(crate) fn replaced_pod(namespace: &str, name: &str, cluster: Option<&str>) -> String {
        format!(
            "pod {namespace}/{name}{} was replaced by a pod not created for this workflow",
            place(cluster)
        )
    }

    /// The message a node fails with when a pod of its name is someone else's.
    pub(crate) fn foreign_pod(namespace: &str, name: &str, cluster: Option<&str>) -> String {
        format!(
            "pod {namespace}/{name}{} exists and was not created for this workflow",
            place(cluster)
        )
    }
}

/// Where a pod is, for a message: ` in cluster "c"`, or nothing in the controller's own.
fn place(cluster: Option<&str>) -> String {
    match cluster {
        Some(c) => format!(" in cluster {c:?}"),
        None => String::new(),
    }
}

/// Whether a pod of uid `uid` is the one recorded for its node (`pinned`, the node's `podUID`):
/// any pod the controller proves its own while nothing is recorded yet, only that one after.
/// A recorded uid is only ever a further condition, never a proof: a forged status can make its
/// own workflow refuse its pods, and nothing else.
pub(crate) fn is_the_pinned_pod(pinned: Option<&str>, uid: Option<&str>) -> bool {
    match pinned {
        None => true,
        Some(pinned) => uid == Some(pinned),
    }
}

/// Whether this controller made the pod, whatever workflow it was for: its creator proof
/// verifies for the workflow uid and node it is stamped with (the proof binds them, with its
/// namespace and name). What the orphan sweep checks before deleting a pod it has no workflow
/// for: a pod someone else labelled as Flotilla's is not the sweep's to delete.
pub(crate) fn made_by(key: &ProofKey, pod: PodStamps<'_>) -> bool {
    let (Some(workflow_uid), Some(node_id), Some(proof)) = (
        pod.labels.get(labels::WORKFLOW_UID),
        pod.annotations.get(labels::NODE_ID),
        pod.annotations.get(labels::CREATOR_PROOF),
    ) else {
        return false;
    };
    let identity = PodIdentity {
        workflow_uid,
        node_id,
        namespace: pod.namespace,
        name: pod.name,
    };
    key.verifies(&identity, proof)
}

/// Whether a task result was written by the pod whose uid is `pod_uid`: the executor makes the
/// pod its owner, and a pod's uid is the API server's to give, so a result made before the pod
/// existed (or by another pod) cannot claim it.
pub(crate) fn reported_by(owners: Option<&[OwnerReference]>, pod_uid: &str) -> bool {
    owners
        .unwrap_or_default()
        .iter()
        .any(|o| o.kind == "Pod" && o.api_version == "v1" && o.uid == pod_uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ProofKey {
        ProofKey::new(&[7; PROOF_KEY_BYTES])
    }

    fn owner(key: &ProofKey) -> Owner<'_> {
        Owner {
            name: "wf",
            namespace: "team-a",
            uid: "uid-1",
            cluster: Some("cluster-0"),
            key,
        }
    }

    /// The stamps the controller puts on pod `shared/wf-123-pod` for node `wf-123`.
    fn stamped(key: &ProofKey) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let pod_labels = [
            (labels::WORKFLOW, "wf"),
            (labels::WORKFLOW_NAMESPACE, "team-a"),
            (labels::WORKFLOW_UID, "uid-1"),
            (labels::WORKFLOW_CLUSTER, "cluster-0"),
        ];
        let proof = key.prove(&PodIdentity {
            workflow_uid: "uid-1",
            node_id: "wf-123",
            namespace: "shared",
            name: "wf-123-pod",
        });
        let annotations = [
            (labels::NODE_ID, "wf-123"),
            (labels::CREATOR_PROOF, proof.as_str()),
        ];
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        (map(&pod_labels), map(&annotations))
    }

    fn at<'a>(
        name: &'a str,
        l: &'a BTreeMap<String, String>,
        a: &'a BTreeMap<String, String>,
    ) -> PodStamps<'a> {
        PodStamps {
            namespace: "shared",
            name,
            labels: l,
            annotations: a,
        }
    }

    #[test]
    fn a_pod_stamped_for_the_node_is_owned() {
        let key = key();
        let (l, a) = stamped(&key);
        assert!(owner(&key).owns_pod(at("wf-123-pod", &l, &a), "wf-123"));
        assert!(!owner(&key).owns_pod(at("wf-123-pod", &l, &a), "wf-456"));
    }

    #[test]
    fn any_missing_or_different_stamp_is_foreign() {
        let key = key();
        for label in [
            labels::WORKFLOW,
            labels::WORKFLOW_NAMESPACE,
            labels::WORKFLOW_UID,
            labels::WORKFLOW_CLUSTER,
        ] {
            let (mut l, a) = stamped(&key);
            l.remove(label);
            assert!(!owner(&key).owns_pod(at("wf-123-pod", &l, &a), "wf-123"));
            l.insert(label.into(), "other".into());
            assert!(!owner(&key).owns_pod(at("wf-123-pod", &l, &a), "wf-123"));
        }
        for annotation in [labels::NODE_ID, labels::CREATOR_PROOF] {
            let (l, mut a) = stamped(&key);
            a.remove(annotation);
            assert!(!owner(&key).owns_pod(at("wf-123-pod", &l, &a), "wf-123"));
            a.insert(annotation.into(), "other".into());
            assert!(!owner(&key).owns_pod(at("wf-123-pod", &l, &a), "wf-123"));
        }
    }

    /// What an attacker who can list pods sees: every stamp of the workflow's first pod. Copied
    /// onto a look-alike of its next pod, the proof does not verify: it is the first pod's.
    #[test]
    fn a_proof_copied_from_another_pod_or_made_with_another_key_is_foreign() {
        let key = key();
        let (l, a) = stamped(&key);
        assert!(!owner(&key).owns_pod(at("wf-456-pod", &l, &a), "wf-123"));
        let elsewhere = PodStamps {
            namespace: "team-b",
            ..at("wf-123-pod", &l, &a)
        };
        assert!(!owner(&key).owns_pod(elsewhere, "wf-123"));
        let other_key = ProofKey::new(&[8; PROOF_KEY_BYTES]);
        let (l, a) = stamped(&other_key);
        assert!(!owner(&key).owns_pod(at("wf-123-pod", &l, &a), "wf-123"));
    }

    #[test]
    fn fields_cannot_trade_bytes() {
        let key = key();
        let pod = |uid, node| PodIdentity {
            workflow_uid: uid,
            node_id: node,
            namespace: "ns",
            name: "p",
        };
        assert_ne!(key.prove(&pod("ab", "c")), key.prove(&pod("a", "bc")));
        assert!(!key.verifies(&pod("a", "bc"), &key.prove(&pod("ab", "c"))));
        assert!(!key.verifies(&pod("a", "bc"), "not base64 !"));
        assert_eq!(format!("{key:?}"), "ProofKey(..)");
    }

    /// The sweep's check: a proven pod is the controller's whichever workflow it is stamped
    /// for; relabelled for another workflow, or without a proof, it is not.
    #[test]
    fn the_controller_knows_its_pods_without_their_workflow() {
        let key = key();
        let (pod_labels, annotations) = stamped(&key);
        assert!(made_by(&key, at("wf-123-pod", &pod_labels, &annotations)));
        let mut relabelled = pod_labels.clone();
        relabelled.insert(labels::WORKFLOW_UID.into(), "uid-2".into());
        assert!(!made_by(&key, at("wf-123-pod", &relabelled, &annotations)));
        assert!(!made_by(&key, at("other-pod", &pod_labels, &annotations)));
        let mut unproven = annotations.clone();
        unproven.remove(labels::CREATOR_PROOF);
        assert!(!made_by(&key, at("wf-123-pod", &pod_labels, &unproven)));
        let other_key = ProofKey::new(&[9; PROOF_KEY_BYTES]);
        assert!(!made_by(
            &other_key,
            at("wf-123-pod", &pod_labels, &annotations)
        ));
    }

    #[test]
    fn another_primary_clusters_pod_is_foreign() {
        let key = key();
        let (l, a) = stamped(&key);
        let elsewhere = Owner {
            cluster: Some("cluster-9"),
            ..owner(&key)
        };
        assert!(!elsewhere.owns_pod(at("wf-123-pod", &l, &a), "wf-123"));
        let unnamed = Owner {
            cluster: None,
            ..owner(&key)
        };
        assert!(!unnamed.owns_pod(at("wf-123-pod", &l, &a), "wf-123"));
    }

    #[test]
    fn a_result_is_the_pods_only_if_the_pod_owns_it() {
        let owner = |kind: &str, uid: &str| OwnerReference {
            api_version: "v1".into(),
            kind: kind.into(),
            name: "p".into(),
            uid: uid.into(),
            ..Default::default()
        };
        assert!(reported_by(Some(&[owner("Pod", "pod-uid")]), "pod-uid"));
        assert!(!reported_by(Some(&[owner("Pod", "other")]), "pod-uid"));
        assert!(!reported_by(
            Some(&[owner("Workflow", "pod-uid")]),
            "pod-uid"
        ));
        assert!(!reported_by(None, "pod-uid"));
    }

    #[test]
    fn the_conflict_message_names_the_pod() {
        assert_eq!(
            Owner::foreign_pod("shared", "x", None),
            "pod shared/x exists and was not created for this workflow"
        );
        assert_eq!(
            Owner::foreign_pod("shared", "x", Some("cluster-1")),
            "pod shared/x in cluster \"cluster-1\" exists and was not created for this workflow"
        );
    }
}
