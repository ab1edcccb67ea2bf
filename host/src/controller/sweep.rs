//! The orphan sweep: pods of this controller in other clusters or namespaces whose workflow no
//! longer exists — its finalizer removed by hand, say — are deleted. Every configured cluster is
//! listed (one request per `rest-config` key, no watch), as is the controller's own cluster for
//! pods outside their workflow's namespace; a pod belongs to a workflow only if the workflow's
//! uid matches, so a new workflow of the same name never adopts an old pod. Only a pod whose
//! creator proof verifies is deleted (`ownership::made_by`), with its uid as a precondition: a
//! pod someone else labelled as a workflow's is not this sweep's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Preconditions};
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use super::Context;
use super::ownership::{self, PodStamps, ProofKey};
use flotilla_engine::workflow::{Workflow, labels};

/// Runs a sweep now and then every `every`, for as long as the controller runs.
pub(super) async fn run(ctx: Arc<Context>, selector: String, every: Duration) {
    let Some(own) = ctx.engine.cluster.clone() else {
        return;
    };
    let selector = format!("{selector},{}={own}", labels::WORKFLOW_CLUSTER);
    loop {
        sweep(&ctx, &selector).await;
        tokio::time::sleep(every).await;
    }
}

/// The workflows that exist now, by namespace and name, with their uids — read from the API,
/// not a cache, so that a pod is never deleted on a guess. Metadata only: a malformed workflow
/// exists all the same (its pods are not orphans), and its content is never decoded here.
async fn workflows(
    ctx: &Context,
) -> Result<HashMap<(String, String), Option<String>>, kube::Error> {
    let api: Api<Workflow> = Api::all(ctx.client.clone());
    let list = api.list_metadata(&ListParams::default()).await?;
    Ok(list
        .items
        .into_iter()
        .map(|wf| {
            (
                (wf.namespace().unwrap_or_default(), wf.name_any()),
                wf.metadata.uid,
            )
        })
        .collect())
}

async fn sweep(ctx: &Context, selector: &str) {
    let alive = match workflows(ctx).await {
        Ok(alive) => alive,
        Err(e) => {
            warn!(error = %e, "orphan sweep: listing workflows failed; skipping this sweep");
            return;
        }
    };
    // The controller's own cluster: only pods outside their workflow's namespace lack an owner
    // reference that Kubernetes would follow.
    let own = (&ctx.client, None);
    sweep_one(own, &ctx.proof_key, selector, "own cluster", true, &alive).await;
    let registry = ctx.remotes.registry();
    for entry in registry.entries() {
        let client = match ctx.remotes.client(entry).await {
            Ok(client) => client,
            Err(problem) => {
                warn!(cluster = %entry.cluster, key = %entry.key, problem = %problem, "orphan sweep: cannot reach the cluster; its orphans wait for the next sweep");
                continue;
            }
        };
        let what = format!("cluster {}", entry.cluster);
        sweep_one(
            (&client, entry.namespace.as_deref()),
            &ctx.proof_key,
            selector,
            &what,
            false,
            &alive,
        )
        .await;
    }
}

async fn sweep_one(
    (client, namespace): (&Client, Option<&str>),
    key: &ProofKey,
    selector: &str,
    what: &str,
    elsewhere_only: bool,
    alive: &HashMap<(String, String), Option<String>>,
) {
    let api: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let pods = match api.list(&ListParams::default().labels(selector)).await {
        Ok(list) => list.items,
        Err(e) => {
            warn!(error = %e, target = %what, "orphan sweep: listing pods failed; will retry");
            return;
        }
    };
    tracing::debug!(target_cluster = %what, pods = pods.len(), "orphan sweep");
    for pod in pods {
        let l = pod.labels();
        let (Some(name), Some(wf_ns)) =
            (l.get(labels::WORKFLOW), l.get(labels::WORKFLOW_NAMESPACE))
        else {
            continue;
        };
        let pod_ns = pod.namespace().unwrap_or_default();
        if elsewhere_only && &pod_ns == wf_ns {
            continue;
        }
        let owner = alive.get(&(wf_ns.clone(), name.clone()));
        if owner.is_some_and(|uid| uid.as_ref() == l.get(labels::WORKFLOW_UID)) {
            continue;
        }
        if !ownership::made_by(key, PodStamps::of(&pod)) {
            continue;
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), &pod_ns);
        let this_pod = DeleteParams {
            preconditions: Some(Preconditions {
                uid: pod.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match pods.delete(&pod.name_any(), &this_pod).await {
            Ok(_) => {
                info!(pod = %pod.name_any(), namespace = %pod_ns, target = %what, workflow = %name, "orphan sweep: deleted a pod whose workflow is gone")
            }
            // Gone, or another pod of that name now (the uid precondition failed).
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => {
                warn!(pod = %pod.name_any(), namespace = %pod_ns, target = %what, error = %e, "orphan sweep: could not delete a pod whose workflow is gone; will retry")
            }
        }
    }
}
