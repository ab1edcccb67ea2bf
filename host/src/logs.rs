//! `flotilla logs WORKFLOW [--follow]`: the logs of every pod of a workflow — in its own cluster
//! or another — each line prefixed with its node and cluster, as `argo logs` does for one
//! cluster. Pods elsewhere are reached with the controller's `rest-config` Secret, so the user
//! needs to be allowed to read it (the same credentials the controller uses; nothing is printed
//! of them).
//!
//! Those credentials are the controller's, not the user's, so they are used only within what
//! the user may do and what the workflow proves: the workflow is read with the user's own
//! identity first, and nothing of the Secret is read if that fails; an entry is checked against
//! what the operator allows of this machine (`Options::local_access`: no files, no credential
//! plugins by default), exactly as the controller checks it; and a remote pod's log is read
//! only if the pod carries the workflow's uid label — the recorded pod name, cluster and
//! namespace are the workflow's status, which whoever writes the workflow writes.
//!
//! With `--follow`, logs are streamed as pods start, until the workflow has finished and every
//! stream has ended; the workflow is watched, not polled.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::mpsc;

use crate::clusters::{LocalAccess, Registry};
use flotilla_engine::naming::{self, PodNameFormat};
use flotilla_engine::workflow::{DecodeError, Lenient, NodeType, Workflow};

/// Why logs could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("workflow {name:?} not found in namespace {namespace:?}")]
    NotFound { namespace: String, name: String },
    #[error("workflow {name:?} in namespace {namespace:?} cannot be read: {error}")]
    Malformed {
        namespace: String,
        name: String,
        error: DecodeError,
    },
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

/// One pod of the workflow, and where it runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PodAt {
    node: String,
    /// `None`: the workflow's own cluster.
    cluster: Option<String>,
    namespace: String,
    pod: String,
}

/// The pods of the workflow's pod nodes, in the order they started.
fn pods_of(wf: &Workflow) -> Vec<PodAt> {
    let name = wf.name_any();
    let namespace = wf.namespace().unwrap_or_default();
    let format = PodNameFormat::of(wf);
    let mut nodes: Vec<_> = wf
        .status
        .iter()
        .flat_map(|s| s.nodes.values())
        .filter(|n| n.type_ == NodeType::Pod)
        .collect();
    nodes.sort_by(|a, b| {
        let at = |n: &flotilla_engine::workflow::NodeStatus| n.started_at.as_ref().map(|t| t.0);
        at(a).cmp(&at(b)).then(a.name.cmp(&b.name))
    });
    nodes
        .into_iter()
        .map(|n| PodAt {
            node: n.display_name.clone(),
            cluster: n.cluster.clone(),
            namespace: n.namespace.clone().unwrap_or_else(|| namespace.clone()),
            pod: naming::node_pod_name(&name, n, format),
        })
        .collect()
}

/// Clients for the workflow's own cluster and, from the `rest-config` Secret, for others.
struct Clients {
    own: Client,
    own_name: String,
    controller_namespace: String,
    local_access: LocalAccess,
    registry: Option<Registry>,
    remote: HashMap<(String, String), Client>,
}

impl Clients {
    async fn get(&mut self, at: &PodAt) -> Result<Client, String> {
        let Some(cluster) = &at.cluster else {
            return Ok(self.own.clone());
        };
        let key = (cluster.clone(), at.namespace.clone());
        if let Some(client) = self.remote.get(&key) {
            return Ok(client.clone());
        }
        if self.registry.is_none() {
            let registry = crate::clusters::load::registry(
                &self.own,
                &self.controller_namespace,
                &self.local_access,
            )
            .await
            .map_err(|e| {
                format!(
                    "reading the cluster Secrets in namespace {}: {e}",
                    self.controller_namespace
                )
            })?;
            self.registry = Some(registry);
        }
        let registry = self.registry.as_ref().ok_or("no registry")?;
        let entry = registry
            .lookup(cluster, &at.namespace)
            .map_err(|e| e.to_string())?;
        let config = entry
            .config
            .to_config(cluster)
            .await
            .map_err(|e| format!("rest-config key {}: {e}", entry.key))?;
        let client = Client::try_from(config).map_err(|e| e.to_string())?;
        self.remote.insert(key, client.clone());
        Ok(client)
    }

    fn label(&self, at: &PodAt) -> String {
        let cluster = at.cluster.as_deref().unwrap_or(&self.own_name);
        format!("{} ({cluster}/{})", at.node, at.namespace)
    }
}

/// What `flotilla logs` needs besides the workflow.
#[derive(Debug, Clone)]
pub struct Options {
    pub follow: bool,
    /// Where the controller's `rest-config` Secret is.
    pub controller_namespace: String,
    /// How to call the workflow's own cluster in prefixes.
    pub cluster_name: String,
    /// What the controller's credential entries may use of this machine (as the controller's
    /// own flags allow it).
    pub local_access: LocalAccess,
}

/// Prints (through `out`) every line of every pod of the workflow, prefixed
/// `NODE (CLUSTER/NAMESPACE): `. A pod whose logs cannot be read is reported in its place.
pub async fn logs(
    client: &Client,
    namespace: &str,
    name: &str,
    options: &Options,
    out: &mut (dyn FnMut(String) + Send),
) -> Result<(), LogsError> {
    // Decoded leniently: a malformed workflow is reported by field, never dumped whole.
    let api: Api<Lenient<Workflow>> = Api::namespaced(client.clone(), namespace);
    let wf = api
        .get_opt(name)
        .await
        .map_err(|source| LogsError::Api {
            what: format!("reading workflow {namespace}/{name}"),
            source,
        })?
        .ok_or_else(|| LogsError::NotFound {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })?
        .into_result()
        .map_err(|invalid| LogsError::Malformed {
            namespace: namespace.to_string(),
            name: name.to_string(),
            error: invalid.error,
        })?;
    let mut clients = Clients {
        own: client.clone(),
        own_name: options.cluster_name.clone(),
        controller_namespace: options.controller_namespace.clone(),
        local_access: options.local_access.clone(),
        registry: None,
        remote: HashMap::new(),
    };
    if !options.follow {
        for at in pods_of(&wf) {
            print_pod(&mut clients, &at, wf.metadata.uid.as_deref(), out).await;
        }
        return Ok(());
    }
    follow(&api, &wf, &mut clients, out).await
}

/// Whether `pod` was created for the workflow of uid `uid` (a workflow without a uid proves
/// nothing, so none of its pods is).
fn created_for(pod: &Pod, uid: Option<&str>) -> bool {
    uid.is_some_and(|uid| {
        pod.labels()
            .get(flotilla_engine::workflow::labels::WORKFLOW_UID)
            .map(String::as_str)
            == Some(uid)
    })
}

/// Why a recorded remote pod's log is not read.
fn not_ours(at: &PodAt) -> String {
    format!(
        "not reading logs: pod {}/{} in cluster {} was not created for this workflow",
        at.namespace,
        at.pod,
        at.cluster.as_deref().unwrap_or_default()
    )
}

fn brief(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

async fn print_pod(
    clients: &mut Clients,
    at: &PodAt,
    uid: Option<&str>,
    out: &mut (dyn FnMut(String) + Send),
) {
    let prefix = clients.label(at);
    let client = match clients.get(at).await {
        Ok(c) => c,
        Err(problem) => return out(format!("{prefix}: cannot read logs: {problem}")),
    };
    let pods: Api<Pod> = Api::namespaced(client, &at.namespace);
    if at.cluster.is_some() {
        match pods.get_opt(&at.pod).await {
            Ok(Some(pod)) if created_for(&pod, uid) => {}
            Ok(Some(_)) => return out(format!("{prefix}: {}", not_ours(at))),
            Ok(None) => return,
            Err(e) => return out(format!("{prefix}: cannot read logs: {}", brief(&e))),
        }
    }
    let params = LogParams {
        container: Some("main".into()),
        ..Default::default()
    };
    match pods.logs(&at.pod, &params).await {
        Ok(text) => {
            for line in text.lines() {
                out(format!("{prefix}: {line}"));
            }
        }
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(kube::Error::Api(s)) => out(format!("{prefix}: cannot read logs: {}", s.message)),
        Err(e) => out(format!("{prefix}: cannot read logs: {e}")),
    }
}

/// Streams each pod's log from when it starts, until the workflow has finished and every
/// stream has ended.
async fn follow(
    api: &Api<Lenient<Workflow>>,
    wf: &Workflow,
    clients: &mut Clients,
    out: &mut (dyn FnMut(String) + Send),
) -> Result<(), LogsError> {
    let (lines, mut received) = mpsc::unbounded_channel::<String>();
    let mut following: HashSet<PodAt> = HashSet::new();
    let mut streams = 0usize;
    let (ended_tx, mut ended) = mpsc::unbounded_channel::<()>();
    let config = watcher::Config::default().fields(&format!("metadata.name={}", wf.name_any()));
    let mut changes = std::pin::pin!(
        watcher(api.clone(), config)
            .default_backoff()
            .applied_objects()
    );
    let mut current = Arc::new(wf.clone());
    loop {
        for at in pods_of(&current) {
            if following.contains(&at) {
                continue;
            }
            let client = match clients.get(&at).await {
                Ok(c) => c,
                Err(problem) => {
                    out(format!(
                        "{}: cannot read logs: {problem}",
                        clients.label(&at)
                    ));
                    following.insert(at);
                    continue;
                }
            };
            streams += 1;
            let (lines, ended_tx, prefix) = (lines.clone(), ended_tx.clone(), clients.label(&at));
            let at_owned = at.clone();
            let uid = wf.metadata.uid.clone();
            tokio::spawn(async move {
                stream_pod(client, &at_owned, uid.as_deref(), &prefix, &lines).await;
                let _ = ended_tx.send(());
            });
            following.insert(at);
        }
        let finished = current
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(|p| p.is_finished());
        if finished && streams == 0 {
            while let Ok(line) = received.try_recv() {
                out(line);
            }
            return Ok(());
        }
        tokio::select! {
            Some(line) = received.recv() => out(line),
            Some(()) = ended.recv() => streams -= 1,
            change = changes.next() => match change {
                Some(Ok(Lenient::Valid(wf))) => current = Arc::new(wf),
                // A malformed version: keep following the last one that could be read.
                Some(Ok(Lenient::Invalid(invalid))) => {
                    tracing::debug!(error = %invalid.error, "the workflow cannot be read; waiting for a readable version")
                }
                Some(Err(e)) => tracing::debug!(error = %e, "watching the workflow; retrying"),
                None => return Ok(()),
            },
        }
    }
}

/// Whether the pod's `main` container has started (it is running or has run).
fn main_started(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter(|c| c.name == "main")
        .any(|c| {
            c.state
                .as_ref()
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
        })
}

/// Follows one pod's `main` log, waiting for the container to start.
async fn stream_pod(
    client: Client,
    at: &PodAt,
    uid: Option<&str>,
    prefix: &str,
    lines: &mpsc::UnboundedSender<String>,
) {
    let pods: Api<Pod> = Api::namespaced(client, &at.namespace);
    // A pod in another cluster is read with the controller's credentials: only while it is
    // seen to be this workflow's.
    let must_prove = at.cluster.is_some();
    let params = LogParams {
        container: Some("main".into()),
        follow: true,
        ..Default::default()
    };
    let mut delay = std::time::Duration::from_millis(100);
    let mut missing = 0;
    loop {
        let absent = match pods.get_opt(&at.pod).await {
            Ok(None) => true,
            Ok(Some(pod)) if must_prove && !created_for(&pod, uid) => {
                let _ = lines.send(format!("{prefix}: {}", not_ours(at)));
                return;
            }
            // Before its container has started a pod has no log to follow: an API server
            // answers a pod no node has taken with an empty one, which would end the stream.
            Ok(Some(pod)) if !main_started(&pod) => false,
            Ok(Some(_)) => match pods.log_stream(&at.pod, &params).await {
                Ok(stream) => {
                    let mut stream = std::pin::pin!(stream.lines());
                    while let Some(Ok(line)) = stream.next().await {
                        if lines.send(format!("{prefix}: {line}")).is_err() {
                            return;
                        }
                    }
                    return;
                }
                Err(kube::Error::Api(s)) if s.code == 404 => true,
                // The container has not started yet: wait for it.
                Err(kube::Error::Api(s)) if s.code == 400 => false,
                Err(e) => {
                    let _ = lines.send(format!("{prefix}: cannot read logs: {e}"));
                    return;
                }
            },
            Err(e) => {
                let _ = lines.send(format!("{prefix}: cannot read logs: {}", brief(&e)));
                return;
            }
        };
        // Not created yet, or already deleted (pod GC): a while, then give up.
        if absent {
            missing += 1;
            if missing > 30 {
                return;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pod_labelled_with_the_workflows_uid_is_the_workflows() {
        let mut pod = Pod::default();
        pod.metadata.labels = Some(
            [(
                flotilla_engine::workflow::labels::WORKFLOW_UID.to_string(),
                "uid-1".to_string(),
            )]
            .into(),
        );
        assert!(created_for(&pod, Some("uid-1")));
        assert!(!created_for(&pod, Some("uid-2")), "another workflow's pod");
        assert!(!created_for(&pod, None), "no uid proves nothing");
        assert!(!created_for(&Pod::default(), Some("uid-1")), "unlabelled");
    }
}
