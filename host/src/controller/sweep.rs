//! The orphan sweep: pods of this controller in other clusters or namespaces whose workflow no
//! longer exists — its finalizer removed by hand, say — are deleted. Every configured cluster is
//! listed (one request per `rest-config` key, no watch), as is the controller's own cluster for
//! pods outside their workflow's namespace; a pod belongs to a workflow only if the workflow's
//! uid matches, so a new workflow of the same name never adopts an old pod. Only a pod whose
//! creator proof verifies is deleted (`ownership::made_by`), with its uid as a precondition: a
//! pod someone else labelled as a workflow's is not this sweep's. The list of workflows is a
//! snapshot taken before the clusters are listed, so a pod it finds no workflow for has its
//! workflow read again before it is deleted: a workflow made meanwhile keeps its pods.

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
        // Only the leader deletes; a sweep stops the moment this replica stops leading.
        if ctx.leadership.is_leading() {
            tokio::select! {
                () = sweep(&ctx, &selector) => {}
                () = ctx.leadership.lost() => {}
            }
        }
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
    let sweeper = Sweeper {
        workflows: &ctx.client,
        key: &ctx.proof_key,
        selector,
        alive: &alive,
    };
    sweeper.sweep(own, "own cluster", true).await;
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
        sweeper
            .sweep((&client, entry.namespace.as_deref()), &what, false)
            .await;
    }
}

/// Whether a pod stamped with workflow uid `stamped` is an orphan, given the workflow of its
/// name: `None` if there is none, else its uid.
fn orphaned(workflow: Option<Option<&str>>, stamped: Option<&str>) -> bool {
    match workflow {
        None => true,
        Some(uid) => uid != stamped,
    }
}

/// One sweep's view: the controller's own client (where workflows live), the proof key, the
/// pods' selector and the snapshot of workflows it started from.
struct Sweeper<'a> {
    workflows: &'a Client,
    key: &'a ProofKey,
    selector: &'a str,
    alive: &'a HashMap<(String, String), Option<String>>,
}

impl Sweeper<'_> {
    /// The workflow `namespace/name` now, read again before its pod is deleted: `None` if it
    /// does not exist, else its uid.
    async fn reread(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Option<String>>, kube::Error> {
        let api: Api<Workflow> = Api::namespaced(self.workflows.clone(), namespace);
        Ok(api.get_metadata_opt(name).await?.map(|wf| wf.metadata.uid))
    }

    /// Sweeps one cluster (the namespace `namespace` of it, or all), deleting the orphans among
    /// the pods of this controller there — only those outside their workflow's namespace if
    /// `elsewhere_only`.
    async fn sweep(
        &self,
        (client, namespace): (&Client, Option<&str>),
        what: &str,
        elsewhere_only: bool,
    ) {
        let (key, selector, alive) = (self.key, self.selector, self.alive);
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
            let stamped = l.get(labels::WORKFLOW_UID).map(String::as_str);
            let owner = alive.get(&(wf_ns.clone(), name.clone()));
            if !orphaned(owner.map(Option::as_deref), stamped) {
                continue;
            }
            if !ownership::made_by(key, PodStamps::of(&pod)) {
                continue;
            }
            match self.reread(wf_ns, name).await {
                Ok(now) if orphaned(now.as_ref().map(Option::as_deref), stamped) => {}
                Ok(_) => continue,
                Err(e) => {
                    warn!(workflow = %name, namespace = %wf_ns, error = %e, "orphan sweep: could not read the workflow again; its pods wait for the next sweep");
                    continue;
                }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ownership::PROOF_KEY_BYTES;
    use flotilla_engine::{CreatorProof, PodIdentity};
    use kube::api::PostParams;

    #[test]
    fn a_pod_is_an_orphan_when_no_workflow_of_its_uid_has_its_name() {
        assert!(orphaned(None, Some("u1")));
        assert!(
            orphaned(Some(Some("u2")), Some("u1")),
            "a new workflow of the name"
        );
        assert!(!orphaned(Some(Some("u1")), Some("u1")));
    }

    /// The sweep lists workflows first and clusters after: a workflow made in between (and
    /// its pod, in another namespace) is not in the list it works from. Its pod is kept, the
    /// workflow being read again first; once the workflow is gone, the pod goes.
    #[tokio::test]
    async fn a_workflow_made_after_the_sweeps_list_keeps_its_pods() {
        let mut config = flotilla_sim::ClusterConfig::new("c1");
        config.kubelet = false;
        let sim = flotilla_sim::SimCluster::start(config)
            .await
            .expect("simulator");
        let client = sim.client().expect("client");
        crate::sandbox::install(&client).await.expect("CRDs");
        let workflows: Api<Workflow> = Api::namespaced(client.clone(), "argo");
        let wf: Workflow = serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "wf"},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": {"image": "argoproj/argosay:v2"}}]},
        }))
        .expect("workflow");
        let wf = workflows
            .create(&PostParams::default(), &wf)
            .await
            .expect("workflow created");
        let uid = wf.metadata.uid.clone().expect("uid");

        // The controller's pod for it in namespace `default`, proven.
        let key = ProofKey::new(&[7; PROOF_KEY_BYTES]);
        let proof = key.prove(&PodIdentity {
            workflow_uid: &uid,
            node_id: "wf-1",
            namespace: "default",
            name: "wf-1-pod",
        });
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "wf-1-pod", "namespace": "default",
                "labels": {labels::WORKFLOW: "wf", labels::WORKFLOW_NAMESPACE: "argo",
                    labels::WORKFLOW_UID: uid, labels::WORKFLOW_CLUSTER: "c1"},
                "annotations": {labels::NODE_ID: "wf-1", labels::CREATOR_PROOF: proof}},
            "spec": {"containers": [{"name": "main", "image": "argoproj/argosay:v2"}]},
        }))
        .expect("pod");
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("pod created");

        let selector = format!("{},{}=c1", labels::WORKFLOW, labels::WORKFLOW_CLUSTER);
        let before_it = HashMap::new();
        let sweeper = Sweeper {
            workflows: &client,
            key: &key,
            selector: &selector,
            alive: &before_it,
        };
        sweeper.sweep((&client, None), "own cluster", true).await;
        assert!(
            pods.get_opt("wf-1-pod").await.expect("get").is_some(),
            "the pod of a workflow made after the list is kept"
        );

        workflows
            .delete("wf", &DeleteParams::default())
            .await
            .expect("workflow deleted");
        sweeper.sweep((&client, None), "own cluster", true).await;
        let left = pods.get_opt("wf-1-pod").await.expect("get");
        assert!(
            left.is_none_or(|p| p.metadata.deletion_timestamp.is_some()),
            "the orphan is deleted"
        );
    }
}
