//! `flotilla stop|terminate|suspend|resume WORKFLOW…`: Argo's CLI verbs, changing the workflow
//! as `argo` does so either controller honours them.
//!
//! - `stop` and `terminate` merge-patch `spec.shutdown` (`Stop`, `Terminate`): the controller
//!   fails every unfinished node and deletes running pods.
//! - `suspend` sets `spec.suspend: true`: no new node starts until the workflow is resumed.
//! - `resume` clears `spec.suspend` and marks every Running suspend node Succeeded.
//!
//! Each refuses a missing or finished workflow with a message naming it.

use std::path::PathBuf;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

use flotilla_engine::workflow::{NodePhase, NodeType, Workflow, WorkflowPhase};

/// Why a command could not act on a workflow.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("workflow {name:?} not found in namespace {namespace:?}")]
    NotFound { namespace: String, name: String },
    /// Argo's wording: `cannot shutdown a completed workflow`, `cannot suspend completed
    /// workflows`.
    #[error("{what}: workflow {name:?} in namespace {namespace:?} already ended {phase}")]
    Finished {
        what: &'static str,
        namespace: String,
        name: String,
        phase: WorkflowPhase,
    },
    #[error("workflow {namespace}/{name}: {source}")]
    Api {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("workflow {namespace}/{name} kept changing while it was being resumed; try again")]
    Conflict { namespace: String, name: String },
    #[error("loading the kubeconfig: {0}")]
    Kubeconfig(String),
}

pub type Result<T, E = CommandError> = std::result::Result<T, E>;

/// Where the workflows live: the kubeconfig, its context and the namespace.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Target {
    /// Namespace of the workflows (default: the context's namespace).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Kubeconfig to use (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
}

impl Target {
    /// A client for the target and the namespace to act in.
    pub async fn connect(&self) -> Result<(Client, String)> {
        let client =
            crate::credentials::client(self.kubeconfig.as_deref(), self.context.clone(), false)
                .await
                .map_err(|e| CommandError::Kubeconfig(e.to_string()))?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        Ok((client, namespace))
    }
}

/// Which verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Stop,
    Terminate,
    Suspend,
    Resume,
}

impl Verb {
    /// What the CLI prints once done: `workflow NAME stopped`.
    pub fn past(self) -> &'static str {
        match self {
            Verb::Stop => "stopped",
            Verb::Terminate => "terminated",
            Verb::Suspend => "suspended",
            Verb::Resume => "resumed",
        }
    }

    pub async fn run(self, client: &Client, namespace: &str, name: &str) -> Result<()> {
        match self {
            Verb::Stop => stop(client, namespace, name).await,
            Verb::Terminate => terminate(client, namespace, name).await,
            Verb::Suspend => suspend(client, namespace, name).await,
            Verb::Resume => resume(client, namespace, name).await,
        }
    }
}

/// Stops a workflow: unfinished nodes fail, running pods are deleted, exit handlers would run.
pub async fn stop(client: &Client, namespace: &str, name: &str) -> Result<()> {
    shutdown(client, namespace, name, "Stop").await
}

/// Terminates a workflow: as `stop`, but exit handlers would not run either.
pub async fn terminate(client: &Client, namespace: &str, name: &str) -> Result<()> {
    shutdown(client, namespace, name, "Terminate").await
}

/// Suspends a workflow: no new node starts until it is resumed; running pods carry on.
pub async fn suspend(client: &Client, namespace: &str, name: &str) -> Result<()> {
    let api: Api<Workflow> = Api::namespaced(client.clone(), namespace);
    unfinished(&api, namespace, name, "cannot suspend completed workflows").await?;
    let patch = serde_json::json!({"spec": {"suspend": true}});
    patch_workflow(&api, namespace, name, &patch).await
}

/// Resumes a workflow: clears `spec.suspend` and marks every Running suspend node Succeeded.
pub async fn resume(client: &Client, namespace: &str, name: &str) -> Result<()> {
    let api: Api<Workflow> = Api::namespaced(client.clone(), namespace);
    // The status is written with the spec (Argo's Workflow has no status subresource), guarded by
    // the resourceVersion: retried when the controller wrote in between.
    for attempt in 0..10u32 {
        let mut wf = unfinished(&api, namespace, name, "cannot resume completed workflows").await?;
        let mut changed = false;
        if wf.spec.suspend == Some(true) {
            wf.spec.suspend = None;
            changed = true;
        }
        let now = flotilla_engine::time(jiff::Timestamp::now());
        for node in wf.status.iter_mut().flat_map(|s| s.nodes.values_mut()) {
            if node.type_ == NodeType::Suspend && node.phase == NodePhase::Running {
                node.phase = NodePhase::Succeeded;
                node.finished_at = Some(now.clone());
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        match api.replace(name, &PostParams::default(), &wf).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt + 1))).await;
            }
            Err(e) => return Err(api_error(namespace, name, e)),
        }
    }
    Err(CommandError::Conflict {
        namespace: namespace.into(),
        name: name.into(),
    })
}

async fn shutdown(client: &Client, namespace: &str, name: &str, strategy: &str) -> Result<()> {
    let api: Api<Workflow> = Api::namespaced(client.clone(), namespace);
    unfinished(
        &api,
        namespace,
        name,
        "cannot shutdown a completed workflow",
    )
    .await?;
    let patch = serde_json::json!({"spec": {"shutdown": strategy}});
    patch_workflow(&api, namespace, name, &patch).await
}

/// The workflow, if it exists and has not finished.
async fn unfinished(
    api: &Api<Workflow>,
    namespace: &str,
    name: &str,
    what: &'static str,
) -> Result<Workflow> {
    let wf = match api.get(name).await {
        Ok(wf) => wf,
        Err(kube::Error::Api(s)) if s.code == 404 => {
            return Err(CommandError::NotFound {
                namespace: namespace.into(),
                name: name.into(),
            });
        }
        Err(e) => return Err(api_error(namespace, name, e)),
    };
    if let Some(phase) = wf
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .filter(|p| p.is_finished())
    {
        return Err(CommandError::Finished {
            what,
            namespace: namespace.into(),
            name: wf.name_any(),
            phase,
        });
    }
    Ok(wf)
}

async fn patch_workflow(
    api: &Api<Workflow>,
    namespace: &str,
    name: &str,
    patch: &serde_json::Value,
) -> Result<()> {
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(CommandError::NotFound {
            namespace: namespace.into(),
            name: name.into(),
        }),
        Err(e) => Err(api_error(namespace, name, e)),
    }
}

fn api_error(namespace: &str, name: &str, source: kube::Error) -> CommandError {
    CommandError::Api {
        namespace: namespace.into(),
        name: name.into(),
        source,
    }
}
