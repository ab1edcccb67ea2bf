//! Carrying out a decision's pods and workflow deletion against the API servers.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use tracing::{debug, warn};

use super::Context;
use super::ownership::{self, Owner, PodStamps};
use super::pod_view::WorkflowPod;
use flotilla_engine::workflow::Workflow;
use flotilla_engine::{PodAction, PodManifest, WorkflowDeletion};

/// Pod creations in flight at once for one workflow: a wide fan-out is created at the API
/// server's pace, not one round trip at a time.
const CREATE_CONCURRENCY: usize = 32;

/// What carrying out a decision came to, for the status saved after it.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// Pod creations refused for good (node ID → reason): by the API server, or because a pod
    /// of that name exists that is not this workflow's.
    pub(super) refused: BTreeMap<String, String>,
    /// The uid of each node's pod created (or found proven ours) now, by node ID: recorded as
    /// the node's `podUID`.
    pub(super) created: BTreeMap<String, String>,
    /// A creation put off (a quota full now, a cluster not answering): look again soon.
    pub(super) deferred: Option<Deferred>,
    /// The first transient failure, if any: the reconcile is retried — after the status (with
    /// `created`) is saved, so no pod the controller made goes unrecorded.
    pub(super) error: Option<kube::Error>,
}

/// What became of one pod creation.
enum Creation {
    /// The node's pod exists (uid, when the answer gave one): created now, or found ours.
    Made(Option<String>),
    /// Refused for good: the node fails saying so.
    Refused(String),
    /// Not now (its cluster did not answer, or asked to be left alone for a while — a 429's or
    /// 503's `retryAfterSeconds`): asked for again, by the same name, later.
    Later(Option<Duration>),
}

/// Applies the pod actions for the workflow `owner` — creations first, concurrently; then
/// deletions and labels in order — and then deletes the workflow when asked. `pinned` is the pod
/// uid recorded for each node in the status decided from (`podUID`): a pod found in the way of
/// a create, or asked to be deleted before it was observed, is taken for the node's only if it
/// is that pod.
pub(super) async fn apply(
    ctx: &Context,
    owner: Owner<'_>,
    pinned: &BTreeMap<&str, &str>,
    pods: &[PodAction],
    delete_workflow: Option<&WorkflowDeletion>,
) -> Applied {
    // By index: a closure taking the borrowed manifests would need a higher-ranked lifetime
    // that async closures cannot express yet.
    let creates: Vec<usize> = (0..pods.len())
        .filter(|i| matches!(pods[*i], PodAction::Create { .. }))
        .collect();
    let outcomes: Vec<Result<(&str, Creation), kube::Error>> =
        futures::stream::iter(creates.into_iter().map(|i| async move {
            match &pods[i] {
                PodAction::Create {
                    node_id,
                    cluster,
                    namespace,
                    pod,
                } => {
                    let place = Place {
                        cluster: cluster.as_deref(),
                        namespace,
                        pinned: pinned.get(node_id.as_str()).copied(),
                    };
                    let creation = create_pod(ctx, owner, node_id, place, pod).await?;
                    Ok((node_id.as_str(), creation))
                }
                _ => Ok(("", Creation::Made(None))),
            }
        }))
        .buffer_unordered(CREATE_CONCURRENCY)
        .collect()
        .await;
    let mut applied = Applied::default();
    for outcome in outcomes {
        match outcome {
            Ok((node, Creation::Made(Some(uid)))) => {
                applied.created.insert(node.to_string(), uid);
            }
            Ok((node, Creation::Refused(reason))) => {
                applied.refused.insert(node.to_string(), reason);
            }
            Ok((_, Creation::Later(asked))) => {
                let deferred = applied.deferred.get_or_insert_with(Deferred::default);
                deferred.retry_after = deferred.retry_after.max(asked);
            }
            Ok((_, Creation::Made(None))) => {}
            Err(e) => {
                applied.error.get_or_insert(e);
            }
        }
    }
    if applied.error.is_none()
        && let Err(e) = other_pods(ctx, owner, pinned, pods).await
    {
        applied.error = Some(e);
    }
    if applied.error.is_none()
        && let Some(deletion) = delete_workflow
        && let Err(e) = delete_the_workflow(ctx, deletion).await
    {
        applied.error = Some(e);
    }
    applied
}

/// Carries out the pod actions other than creations, in order; stops at the first transient
/// failure.
async fn other_pods(
    ctx: &Context,
    owner: Owner<'_>,
    pinned: &BTreeMap<&str, &str>,
    pods: &[PodAction],
) -> Result<(), kube::Error> {
    for action in pods {
        match action {
            PodAction::Create { .. } => {}
            PodAction::Delete {
                node_id,
                cluster,
                namespace,
                name,
                pod_uid,
            } => {
                let Some((client, api)) = pods_in(ctx, cluster.as_deref(), namespace).await else {
                    continue;
                };
                let uid = match pod_uid {
                    Some(uid) => uid.clone(),
                    // Asked for but not observed yet: deleted only once it is proven ours (and
                    // is the pod recorded for the node, when one is).
                    None => match holder(&client, owner, namespace, name, node_id).await? {
                        Holder::Ours(uid)
                            if ownership::is_the_pinned_pod(
                                pinned.get(node_id.as_str()).copied(),
                                Some(&uid),
                            ) =>
                        {
                            uid
                        }
                        _ => continue,
                    },
                };
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(uid),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match api.delete(name, &params).await {
                    Ok(_) => {}
                    // Gone, or another pod has taken its name since: not ours to delete.
                    Err(kube::Error::Api(s)) if matches!(s.code, 404 | 409) => {}
                    Err(e) => return Err(e),
                }
            }
            PodAction::LabelCompleted {
                cluster,
                namespace,
                name,
                pod_uid,
                ..
            } => {
                let Some((_, api)) = pods_in(ctx, cluster.as_deref(), namespace).await else {
                    continue;
                };
                // The uid rides along as a precondition: Kubernetes refuses to change it (422),
                // so the patch cannot land on a pod that took the name since.
                let mut metadata = serde_json::json!({
                    "labels": {flotilla_engine::workflow::labels::COMPLETED: "true"},
                });
                if let Some(uid) = pod_uid {
                    metadata["uid"] = uid.as_str().into();
                }
                let patch = serde_json::json!({ "metadata": metadata });
                match api
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if matches!(s.code, 404 | 422) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// The pods of a namespace in a cluster (`None`: the controller's own), when it can be reached.
async fn pods_in(
    ctx: &Context,
    cluster: Option<&str>,
    namespace: &str,
) -> Option<(kube::Client, Api<Pod>)> {
    let client = reachable(ctx, cluster, namespace).await?;
    let api = Api::namespaced(client.clone(), namespace);
    Some((client, api))
}

/// Deletes the workflow (`ttlStrategy`), only the one of the uid decided on.
async fn delete_the_workflow(
    ctx: &Context,
    deletion: &WorkflowDeletion,
) -> Result<(), kube::Error> {
    let api: Api<Workflow> = Api::namespaced(ctx.client.clone(), &deletion.namespace);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: deletion.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(&deletion.name, &params).await {
        Ok(_) => Ok(()),
        // Gone already, or replaced by a newer workflow of the same name.
        Err(kube::Error::Api(s)) if matches!(s.code, 404 | 409) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The client for a cluster (`None`: the controller's own).
async fn client_for(
    ctx: &Context,
    cluster: Option<&str>,
    namespace: &str,
) -> Result<kube::Client, String> {
    match cluster {
        None => Ok(ctx.client.clone()),
        Some(cluster) => ctx
            .remotes
            .get(cluster, namespace)
            .await
            .map(|r| r.client.clone()),
    }
}

/// The client for a deletion or label in `cluster`; `None` (logged) when there is none now: the
/// pod stays observed, so a later reconcile tries again.
async fn reachable(ctx: &Context, cluster: Option<&str>, namespace: &str) -> Option<kube::Client> {
    match client_for(ctx, cluster, namespace).await {
        Ok(client) => Some(client),
        Err(e) => {
            warn!(cluster = ?cluster, namespace = %namespace, problem = %e, "cannot reach the pod's cluster; will retry");
            None
        }
    }
}

/// What holds a pod's name.
enum Holder {
    /// Nothing (any more).
    Nobody,
    /// `owner`'s pod for the node, of this uid.
    Ours(String),
    /// Someone else's pod (which is logged: a pod squatting on a workflow's name).
    Foreign,
}

/// Who holds pod `namespace/name`: `owner`'s pod for `node_id`, someone else's, or nothing.
async fn holder(
    client: &kube::Client,
    owner: Owner<'_>,
    namespace: &str,
    name: &str,
    node_id: &str,
) -> Result<Holder, kube::Error> {
    let api: Api<WorkflowPod> = Api::namespaced(client.clone(), namespace);
    let Some(pod) = api.get_opt(name).await? else {
        return Ok(Holder::Nobody);
    };
    if owner.owns_pod(PodStamps::of(&pod), node_id) {
        return Ok(pod.metadata.uid.map_or(Holder::Nobody, Holder::Ours));
    }
    warn!(pod = %name, namespace = %namespace, node = %node_id, "a pod of this node's name was not created for this workflow; leaving it alone");
    Ok(Holder::Foreign)
}

/// Where a pod is created, and the uid recorded for its node if one is.
#[derive(Clone, Copy)]
struct Place<'a> {
    cluster: Option<&'a str>,
    namespace: &'a str,
    pinned: Option<&'a str>,
}

/// The part of the API server's answer to a create that is kept: the new pod's uid.
#[derive(serde::Deserialize)]
struct CreatedPod {
    #[serde(default)]
    metadata: CreatedMeta,
}

#[derive(Default, serde::Deserialize)]
struct CreatedMeta {
    uid: Option<String>,
}

/// Creates one pod. A 401 — credentials expired or revoked before their time — is answered
/// by asking for credentials anew (reconnecting to a remote cluster) and one more try; only a
/// second 401 fails the node.
///
/// The engine's manifest is sent as it is: decoding it into a typed `Pod` only to encode it again
/// would double the client's cost per pod on the hot path.
async fn create_pod(
    ctx: &Context,
    owner: Owner<'_>,
    node_id: &str,
    place: Place<'_>,
    pod: &PodManifest,
) -> Result<Creation, kube::Error> {
    let Place {
        cluster, namespace, ..
    } = place;
    // Another cluster that asked to be left alone is sent nothing until its time has passed.
    if let Some(busy) = cluster
        && let Some(left) = ctx.busy.left(busy, std::time::Instant::now())
    {
        debug!(cluster = %busy, pod = %pod.name(), left = ?left, "the cluster asked to be left alone; creation put off");
        return Ok(Creation::Later(Some(left)));
    }
    let client = match client_for(ctx, cluster, namespace).await {
        Ok(client) => client,
        // No credentials for the target: the node fails saying why (and which Secret key).
        Err(message) => return Ok(Creation::Refused(message)),
    };
    let sent_at = std::time::Instant::now();
    let (client, sent) = match send_create(&client, namespace, pod).await {
        Err(kube::Error::Api(s)) if s.code == 401 => {
            warn!(cluster = ?cluster, pod = %pod.name(), "credentials refused (401); asking for fresh ones and trying once more");
            let client = match fresh_client_for(ctx, cluster, namespace, sent_at).await {
                Ok(client) => client,
                Err(message) => return Ok(Creation::Refused(message)),
            };
            let sent = send_create(&client, namespace, pod).await;
            (client, sent)
        }
        sent => (client, sent),
    };
    let creation = answered(&client, owner, node_id, place, pod, sent).await?;
    if let (Some(cluster), Creation::Later(Some(asked))) = (cluster, &creation) {
        ctx.busy.asked(cluster, std::time::Instant::now(), *asked);
    }
    Ok(creation)
}

/// Sends the create of `pod`; the API server's answer.
async fn send_create(
    client: &kube::Client,
    namespace: &str,
    pod: &PodManifest,
) -> Result<String, kube::Error> {
    let body = pod.json().as_bytes().to_vec();
    let request = kube::core::Request::new(format!("/api/v1/namespaces/{namespace}/pods"))
        .create(&PostParams::default(), body)
        .map_err(kube::Error::BuildRequest)?;
    client.request_text(request).await
}

/// What the answer to a create means for the node.
async fn answered(
    client: &kube::Client,
    owner: Owner<'_>,
    node_id: &str,
    place: Place<'_>,
    pod: &PodManifest,
    sent: Result<String, kube::Error>,
) -> Result<Creation, kube::Error> {
    let Place {
        cluster, namespace, ..
    } = place;
    let name = pod.name();
    match sent {
        Ok(answer) => Ok(Creation::Made(
            serde_json::from_str::<CreatedPod>(&answer)
                .ok()
                .and_then(|p| p.metadata.uid),
        )),
        // Created by an earlier reconcile whose observation has not arrived yet — or by someone
        // else, first: a name is no proof, the stamps are (and the uid, once one is recorded).
        Err(kube::Error::Api(s)) if s.code == 409 => {
            match holder(client, owner, namespace, name, node_id).await {
                Ok(Holder::Ours(uid)) if ownership::is_the_pinned_pod(place.pinned, Some(&uid)) => {
                    Ok(Creation::Made(Some(uid)))
                }
                Ok(Holder::Ours(_)) => Ok(Creation::Refused(Owner::replaced_pod(
                    namespace, name, cluster,
                ))),
                Ok(Holder::Foreign) => Ok(Creation::Refused(Owner::foreign_pod(
                    namespace, name, cluster,
                ))),
                // Gone between the 409 and the read (being deleted): asked for again later.
                Ok(Holder::Nobody) => Ok(Creation::Later(None)),
                Err(e) if cluster.is_some() => {
                    warn!(cluster = ?cluster, pod = %name, error = %e, "reading a pod in another cluster failed; will retry");
                    Ok(Creation::Later(None))
                }
                Err(e) => Err(e),
            }
        }
        // A quota refusal passes: the pod is created once room frees up (as Argo does), and the
        // others made meanwhile are recorded.
        Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("exceeded quota") => {
            warn!(pod = %name, namespace = %namespace, "the namespace's quota is full; will retry");
            Ok(Creation::Later(None))
        }
        Err(kube::Error::Api(s)) if matches!(s.code, 400 | 401 | 403 | 404 | 422) => {
            let place = match cluster {
                Some(c) => format!(" in cluster {c:?}"),
                None => String::new(),
            };
            let again = if s.code == 401 && cluster.is_some() {
                " (with credentials asked for anew after a first 401)"
            } else {
                ""
            };
            Ok(Creation::Refused(format!(
                "creating pod {namespace}/{name}{place}: {}{again}",
                s.message
            )))
        }
        // Another cluster not answering, or busy, must not hold up this one: the pod is asked
        // for again (same name) once it does — no sooner than it asked.
        Err(e) if cluster.is_some() => {
            let asked = retry_after(&e);
            warn!(cluster = ?cluster, pod = %name, error = %e, retry_after = ?asked, "creating a pod in another cluster failed; will retry");
            Ok(Creation::Later(asked))
        }
        Err(e) => Err(e),
    }
}

/// The `retryAfterSeconds` of an API error (a 429, a 503), if it has one.
fn retry_after(error: &kube::Error) -> Option<Duration> {
    let kube::Error::Api(status) = error else {
        return None;
    };
    let seconds = status.details.as_ref()?.retry_after_seconds;
    (seconds > 0).then(|| Duration::from_secs(seconds.into()))
}

/// The client for `cluster` with credentials asked for anew: a remote connection is dropped and
/// opened again (its provider asked, or its Secret entry read again); the controller's own
/// client reads its token again by itself.
async fn fresh_client_for(
    ctx: &Context,
    cluster: Option<&str>,
    namespace: &str,
    refused_since: std::time::Instant,
) -> Result<kube::Client, String> {
    match cluster {
        None => Ok(ctx.client.clone()),
        Some(cluster) => ctx
            .remotes
            .reconnect(cluster, namespace, refused_since)
            .await
            .map(|r| r.client.clone()),
    }
}

/// Pod creations put off in one pass, for when to try again.
#[derive(Debug, Default)]
pub(super) struct Deferred {
    /// The longest an API server asked to be left alone.
    pub(super) retry_after: Option<Duration>,
}
