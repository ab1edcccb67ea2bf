//! Writing a decision's status back: what is sent (a merge patch of the status and the labels
//! that mirror it, conditional on the version decided from) and the pod uids recorded in it.

use std::collections::BTreeMap;

use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;

use flotilla_engine::workflow::{Workflow, WorkflowPhase, WorkflowStatus, json_len, labels};

/// The pod uid recorded for each node of the status decided from (`podUID`), by node ID.
pub(super) fn pinned_uids(wf: &Workflow) -> BTreeMap<&str, &str> {
    wf.status
        .iter()
        .flat_map(|s| s.nodes.values())
        .filter_map(|n| Some((n.id.as_str(), n.pod_uid.as_deref()?)))
        .collect()
}

/// Records the uids of the pods just made on their nodes: a pod of the same name with another
/// uid, later, is someone else's (see `observe`).
pub(super) fn record_created(status: &mut WorkflowStatus, created: &BTreeMap<String, String>) {
    for (node_id, uid) in created {
        if let Some(node) = status.nodes.get_mut(node_id) {
            node.pod_uid = Some(uid.clone());
        }
    }
}

/// The merge patch that takes `old` to `new`: the status (a field that went away sent as null,
/// or a merge patch would leave it in place) and the phase labels, conditional on
/// `resource_version` — the spec is never re-sent, and a concurrent change makes it a 409.
pub(super) fn patch(
    old: Option<&WorkflowStatus>,
    new: &WorkflowStatus,
    resource_version: Option<&str>,
) -> Value {
    let mut meta_labels = serde_json::Map::new();
    if let Some(phase) = new.phase {
        meta_labels.insert(labels::PHASE.into(), phase.to_string().into());
        if phase.is_finished() {
            meta_labels.insert(labels::COMPLETED.into(), "true".into());
        }
    }
    let old = old.and_then(|s| serde_json::to_value(s).ok());
    let new = serde_json::to_value(new).unwrap_or_default();
    serde_json::json!({
        "metadata": {"resourceVersion": resource_version, "labels": meta_labels},
        "status": flotilla_engine::merge_patch::diff(old.as_ref(), &new),
    })
}

/// `status` as it is stored on `wf`: its nodes compressed when the workflow would be too
/// large with them whole. When it would be too large even so, the status last stored with the
/// workflow in error, as Argo marks it — a status the API server cannot take is never sent
/// again and again.
fn stored(wf: &Workflow, status: &WorkflowStatus) -> WorkflowStatus {
    status
        .stored(beside_status(wf))
        .unwrap_or_else(|message| too_large(wf, message))
}

/// The bytes of `wf` other than its status.
fn beside_status(wf: &Workflow) -> usize {
    json_len(&wf.metadata) + json_len(&wf.spec)
}

/// Whether `status` can be stored on `wf` at all (`Err`: the message the workflow errors with).
/// Checked before pods are created, so that a workflow errs without making pods no stored
/// status would record; it costs a compression when the status is past the size limit whole.
pub(super) fn storable(wf: &Workflow, status: &WorkflowStatus) -> Result<(), String> {
    let others = beside_status(wf);
    // The common case, on the pod-creation path: whole, it fits (no copy, no compression).
    if others + json_len(status) <= flotilla_engine::workflow::compressed::MAX_WORKFLOW_SIZE {
        return Ok(());
    }
    status.stored(others).map(drop)
}

/// The status last stored on `wf`, the workflow in error saying why.
fn too_large(wf: &Workflow, message: String) -> WorkflowStatus {
    tracing::warn!(workflow = ?wf.metadata.name, namespace = ?wf.metadata.namespace, %message, "workflow too large to store; it errors");
    let mut last = wf
        .status
        .as_ref()
        .map(WorkflowStatus::as_stored)
        .unwrap_or_default();
    last.phase = Some(WorkflowPhase::Error);
    last.message = Some(message);
    last.finished_at = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::now(),
    ));
    last
}

/// The API server's words when it refused a write for its size: the request (413) or the
/// object as etcd would store it (a 500 passing etcd's words on).
fn refused_for_size(error: &kube::Error) -> Option<&str> {
    match error {
        kube::Error::Api(s) if s.code == 413 || s.message.contains("request is too large") => {
            Some(&s.message)
        }
        _ => None,
    }
}

/// What became of a status write.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Written {
    /// Saved (or nothing to save).
    Saved,
    /// Someone else changed the workflow since it was read: the watch brings the new version.
    Conflict,
    /// The workflow is gone.
    Gone,
}

/// Saves `status` on `wf` if it differs from what `wf` holds (and `wf` is not being deleted).
pub(super) async fn write(
    client: &kube::Client,
    wf: &Workflow,
    status: &WorkflowStatus,
    resource_version: Option<&str>,
) -> Result<Written, kube::Error> {
    if wf.metadata.deletion_timestamp.is_some() || wf.status.as_ref() == Some(status) {
        return Ok(Written::Saved);
    }
    let old = wf.status.as_ref().map(WorkflowStatus::as_stored);
    let new = stored(wf, status);
    if old.as_ref() == Some(&new) {
        return Ok(Written::Saved);
    }
    let mut body = patch(old.as_ref(), &new, resource_version);
    if new.compressed_nodes.is_some()
        && let Some(status) = body.get_mut("status").and_then(Value::as_object_mut)
    {
        // Nodes a client stored beside compressed ones are dropped (compressed ones win).
        status.insert("nodes".into(), Value::Null);
    }
    let namespace = wf.metadata.namespace.as_deref().unwrap_or_default();
    let name = wf.metadata.name.as_deref().unwrap_or_default();
    let api: Api<Workflow> = Api::namespaced(client.clone(), namespace);
    let mut sent = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await;
    if let Err(e) = &sent
        && let Some(words) = refused_for_size(e)
    {
        // Measured small enough, refused all the same (labels, managed fields): the workflow
        // errors, keeping the status last stored.
        let failed = too_large(
            wf,
            format!("workflow is longer than maximum allowed size: {words}"),
        );
        let body = patch(old.as_ref(), &failed, resource_version);
        sent = api
            .patch(name, &PatchParams::default(), &Patch::Merge(&body))
            .await;
    }
    match sent {
        Ok(_) => Ok(Written::Saved),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Written::Conflict),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Written::Gone),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_engine::workflow::WorkflowPhase;
    use serde_json::json;

    fn status(value: Value) -> WorkflowStatus {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_patch_sends_what_changed_nulls_what_went_and_mirrors_the_phase() {
        let old = status(json!({"phase": "Running", "message": "waiting", "nodes": {}}));
        let mut new = status(json!({"phase": "Succeeded", "nodes": {}}));
        new.phase = Some(WorkflowPhase::Succeeded);
        let body = patch(Some(&old), &new, Some("42"));
        assert_eq!(body["metadata"]["resourceVersion"], "42");
        assert_eq!(
            body["metadata"]["labels"],
            json!({(labels::PHASE): "Succeeded", (labels::COMPLETED): "true"})
        );
        assert_eq!(body["status"]["phase"], "Succeeded");
        assert_eq!(body["status"]["message"], Value::Null);
        assert!(body["status"].get("nodes").is_none(), "unchanged: {body}");
    }

    #[test]
    fn uids_of_pods_made_are_recorded_on_their_nodes_and_read_back() {
        let node = |id: &str| json!({"id": id, "name": id, "displayName": id, "type": "Pod", "phase": "Pending"});
        let mut new = status(json!({"nodes": {"a": node("a"), "b": node("b")}}));
        record_created(
            &mut new,
            &[
                ("a".into(), "uid-a".into()),
                ("gone".into(), "uid-x".into()),
            ]
            .into(),
        );
        let mut wf: Workflow =
            serde_json::from_value(json!({"metadata": {"name": "wf"}, "spec": {}})).unwrap();
        wf.status = Some(new);
        assert_eq!(pinned_uids(&wf), [("a", "uid-a")].into());
    }
}
