//! Whether a pod or task result is this workflow's: proven from what the controller stamped on
//! it, never assumed from its name. Names are deterministic, so anyone who may create pods in a
//! namespace a workflow uses can create one of the same name first; what they cannot know before
//! the workflow exists is its uid, and what they cannot set is the uid of a pod the API server
//! made for the controller.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::workflow::labels;

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
}

impl Owner<'_> {
    /// Whether a pod with these labels and annotations was made for `node_id` of this workflow.
    pub(crate) fn owns_pod(
        &self,
        pod_labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
        node_id: &str,
    ) -> bool {
        let label = |key: &str| pod_labels.get(key).map(String::as_str);
        label(labels::WORKFLOW) == Some(self.name)
            && label(labels::WORKFLOW_NAMESPACE) == Some(self.namespace)
            && label(labels::WORKFLOW_UID) == Some(self.uid)
            && label(labels::WORKFLOW_CLUSTER) == self.cluster
            && annotations.get(labels::NODE_ID).map(String::as_str) == Some(node_id)
    }

    /// The message a node fails with when a pod of its name is someone else's.
    pub(crate) fn foreign_pod(namespace: &str, name: &str, cluster: Option<&str>) -> String {
        let place = match cluster {
            Some(c) => format!(" in cluster {c:?}"),
            None => String::new(),
        };
        format!("pod {namespace}/{name}{place} exists and was not created for this workflow")
    }
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

    const OWNER: Owner<'static> = Owner {
        name: "wf",
        namespace: "team-a",
        uid: "uid-1",
        cluster: Some("cluster-0"),
    };

    fn stamped() -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let pod_labels = [
            (labels::WORKFLOW, "wf"),
            (labels::WORKFLOW_NAMESPACE, "team-a"),
            (labels::WORKFLOW_UID, "uid-1"),
            (labels::WORKFLOW_CLUSTER, "cluster-0"),
        ];
        let annotations = [(labels::NODE_ID, "wf-123")];
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        (map(&pod_labels), map(&annotations))
    }

    #[test]
    fn a_pod_stamped_for_the_node_is_owned() {
        let (l, a) = stamped();
        assert!(OWNER.owns_pod(&l, &a, "wf-123"));
        assert!(!OWNER.owns_pod(&l, &a, "wf-456"));
    }

    #[test]
    fn any_missing_or_different_stamp_is_foreign() {
        for key in [
            labels::WORKFLOW,
            labels::WORKFLOW_NAMESPACE,
            labels::WORKFLOW_UID,
            labels::WORKFLOW_CLUSTER,
        ] {
            let (mut l, a) = stamped();
            l.remove(key);
            assert!(!OWNER.owns_pod(&l, &a, "wf-123"), "without {key}");
            l.insert(key.into(), "other".into());
            assert!(!OWNER.owns_pod(&l, &a, "wf-123"), "{key}=other");
        }
        let (l, _) = stamped();
        assert!(!OWNER.owns_pod(&l, &BTreeMap::new(), "wf-123"));
    }

    #[test]
    fn another_primary_clusters_pod_is_foreign() {
        let (l, a) = stamped();
        let elsewhere = Owner {
            cluster: Some("cluster-9"),
            ..OWNER
        };
        assert!(!elsewhere.owns_pod(&l, &a, "wf-123"));
        let unnamed = Owner {
            cluster: None,
            ..OWNER
        };
        assert!(!unnamed.owns_pod(&l, &a, "wf-123"));
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
