//! `flotilla-executor resource`: what a resource template's pod runs (Argo's
//! `argoexec resource`). With the pod's own service account — so the workflow's RBAC, not the
//! controller's, decides what it may touch — it gets, creates, applies, replaces, patches or
//! deletes the template's manifest in the pod's cluster, waits for `successCondition` or
//! `failureCondition`, and reads output parameters (`valueFrom.jsonPath`) off the object.
//!
//! [`ResourceJob`] (`job`) is the pure part: what to do, parsed and checked before any request.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{GroupVersionKind, TypeMeta};
use kube::discovery::Scope;
use kube::runtime::wait::{self as kube_wait, await_condition, conditions};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::condition::ConditionError;
use super::path::JsonPathError;
use flotilla_engine::resource_target::{self, ManifestError, ResourceTarget, TargetError};
use flotilla_engine::workflow::Outputs;

/// kubectl's annotation recording what `apply` last applied (its three-way merge needs it).
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Why a resource action failed; the node fails with this message.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error("the template is not valid JSON: {0}")]
    BadTemplate(String),
    #[error("the template has no resource")]
    NoResource,
    #[error("resource action {0:?} must be one of: get, create, apply, delete, replace, patch")]
    BadAction(String),
    #[error("resource manifest: {0}")]
    BadManifest(String),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("resource {0}")]
    Unsupported(String),
    #[error(transparent)]
    Condition(#[from] ConditionError),
    #[error("finding the API for {kind}: {}", brief(.source))]
    Discovery {
        kind: String,
        #[source]
        source: kube::Error,
    },
    #[error("{verb} {what}: {}", brief(.source))]
    Api {
        verb: &'static str,
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{what} was deleted while waiting for its success condition")]
    Vanished { what: String },
    #[error("failure condition '{0}' evaluated true")]
    FailureCondition(String),
    #[error("output parameter {name:?}: {source}")]
    Output {
        name: String,
        #[source]
        source: JsonPathError,
    },
}

/// A Kubernetes error as a person reads it: the API server's own message for a Status.
fn brief(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// Where the job runs: the pod's namespace, what the controller authorized the manifest to act
/// on, and the workflow that may own what it creates.
#[derive(Debug, Clone)]
pub struct Context {
    pub namespace: String,
    pub target: ResourceTarget,
    pub workflow_name: String,
    pub workflow_namespace: String,
    pub workflow_uid: Option<String>,
}

/// Runs the job against the cluster; `say` receives kubectl-like progress lines (the pod's
/// standard output). Returns the outputs read off the object.
pub async fn run(
    client: &Client,
    job: &ResourceJob,
    ctx: &Context,
    say: &mut (dyn FnMut(String) + Send),
) -> Result<Outputs, ResourceError> {
    let mut manifest = job.manifest.clone();
    let types: TypeMeta = serde_json::from_value(manifest.clone())
        .map_err(|e| ResourceError::BadManifest(e.to_string()))?;
    let gvk = GroupVersionKind::try_from(&types)
        .map_err(|e| ResourceError::BadManifest(e.to_string()))?;
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|source| ResourceError::Discovery {
            kind: format!("{} {}", types.api_version, types.kind),
            source,
        })?;
    // Discovery is the only request before this check: nothing touches the object until its
    // target is the one the controller authorized.
    let api: Api<DynamicObject> = match resolve_target(&mut manifest, &caps.scope, ctx)? {
        Some(ns) => Api::namespaced_with(client.clone(), &ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    if job.set_owner {
        set_owner(&mut manifest, ctx)?;
    }
    let name = manifest["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let what = |name: &str| format!("{}/{name}", resource.kind.to_lowercase());
    let api_error = |verb: &'static str, name: &str| {
        let what = what(name);
        move |source| ResourceError::Api { verb, what, source }
    };
    let object: DynamicObject = serde_json::from_value(manifest.clone())
        .map_err(|e| ResourceError::BadManifest(e.to_string()))?;
    let result = match job.verb {
        Verb::Get => api.get(&name).await.map_err(api_error("getting", &name))?,
        Verb::Create => api
            .create(&PostParams::default(), &object)
            .await
            .map_err(api_error("creating", &name))?,
        Verb::Apply => apply(&api, &manifest, &name)
            .await
            .map_err(api_error("applying", &name))?,
        Verb::Replace => {
            let current = api
                .get(&name)
                .await
                .map_err(api_error("replacing", &name))?;
            let mut object = object;
            object.metadata.resource_version = current.resource_version();
            api.replace(&name, &PostParams::default(), &object)
                .await
                .map_err(api_error("replacing", &name))?
        }
        Verb::Patch => {
            let params = PatchParams::default();
            let patch = match job.merge {
                MergeStrategy::Strategic => Patch::Strategic(&manifest),
                MergeStrategy::Merge => Patch::Merge(&manifest),
            };
            api.patch(&name, &params, &patch)
                .await
                .map_err(api_error("patching", &name))?
        }
        Verb::Delete => {
            delete(&api, &name, what(&name)).await?;
            say(format!("{} {}", what(&name), Verb::Delete.done()));
            return Ok(Outputs::default());
        }
    };
    let name = result.name_any();
    say(format!("{} {}", what(&name), job.verb.done()));
    let mut current = serde_json::to_value(&result).unwrap_or_default();
    if job.waits() {
        current = wait(&api, job, &name, current, &what(&name), say).await?;
    }
    job.outputs(&current)
}

/// The namespace the object is in (`None`: cluster-scoped), its default applied to the manifest,
/// once the controller's authorized target permits it.
fn resolve_target(
    manifest: &mut Value,
    scope: &Scope,
    ctx: &Context,
) -> Result<Option<String>, ResourceError> {
    let namespace = match scope {
        Scope::Namespaced => Some(
            resource_target::manifest_namespace(manifest)?
                .unwrap_or(&ctx.namespace)
                .to_string(),
        ),
        Scope::Cluster => None,
    };
    ctx.target
        .permits(&resource_target::describe(manifest), namespace.as_deref())?;
    if let Some(ns) = &namespace {
        manifest["metadata"]["namespace"] = json!(ns);
    }
    Ok(namespace)
}

fn set_owner(manifest: &mut Value, ctx: &Context) -> Result<(), ResourceError> {
    let Some(uid) = &ctx.workflow_uid else {
        return Err(ResourceError::Unsupported(
            "setOwnerReference: the pod does not know its workflow's uid (ARGO_WORKFLOW_UID)"
                .into(),
        ));
    };
    let ns = manifest["metadata"]["namespace"].as_str();
    if ns.is_some_and(|ns| ns != ctx.workflow_namespace) {
        return Err(ResourceError::Unsupported(format!(
            "setOwnerReference: the object is in namespace {:?} but its owner, workflow {:?}, is in {:?}; Kubernetes owner references cannot cross namespaces",
            ns.unwrap_or_default(),
            ctx.workflow_name,
            ctx.workflow_namespace
        )));
    }
    let owner = OwnerReference {
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Workflow".into(),
        name: ctx.workflow_name.clone(),
        uid: uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let meta = &mut manifest["metadata"];
    let mut owners = meta["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    owners.push(serde_json::to_value(owner).unwrap_or_default());
    meta["ownerReferences"] = Value::Array(owners);
    Ok(())
}

/// kubectl's client-side apply: create with the last-applied annotation, or a merge patch
/// from the annotation (the last applied configuration) to this one.
async fn apply(
    api: &Api<DynamicObject>,
    manifest: &Value,
    name: &str,
) -> Result<DynamicObject, kube::Error> {
    let mut applied = manifest.clone();
    if let Some(annotations) = applied["metadata"]["annotations"].as_object_mut() {
        annotations.remove(LAST_APPLIED);
    }
    let last_applied = applied.to_string();
    let mut desired = applied.clone();
    desired["metadata"]["annotations"][LAST_APPLIED] = json!(last_applied);
    match api.get_opt(name).await? {
        None => {
            let object: DynamicObject =
                serde_json::from_value(desired).map_err(kube::Error::SerdeError)?;
            api.create(&PostParams::default(), &object).await
        }
        Some(existing) => {
            let last: Option<Value> = existing
                .annotations()
                .get(LAST_APPLIED)
                .and_then(|a| serde_json::from_str(a).ok());
            let patch = flotilla_engine::merge_patch::diff(last.as_ref(), &desired);
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
        }
    }
}

/// `kubectl delete --ignore-not-found` (Argo's flags) with kubectl's default `--wait`: returns
/// once the object is gone, finalizers included.
async fn delete(api: &Api<DynamicObject>, name: &str, what: String) -> Result<(), ResourceError> {
    let pending = match api.delete(name, &DeleteParams::default()).await {
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(source) => {
            return Err(ResourceError::Api {
                verb: "deleting",
                what,
                source,
            });
        }
        Ok(either) => either.left(),
    };
    let Some(uid) = pending.and_then(|o| o.uid()) else {
        return Ok(());
    };
    watch_until(api, name, conditions::is_deleted(&uid))
        .await
        .map_err(|source| ResourceError::Api {
            verb: "waiting for the deletion of",
            what,
            source,
        })?;
    Ok(())
}

/// Watches the object until the job's conditions decide.
async fn wait(
    api: &Api<DynamicObject>,
    job: &ResourceJob,
    name: &str,
    first: Value,
    what: &str,
    say: &mut (dyn FnMut(String) + Send),
) -> Result<Value, ResourceError> {
    if let Some(decided) = job.judge(&first) {
        return decided.map(|()| first);
    }
    say(format!("waiting for {what}"));
    let decides = |o: Option<&DynamicObject>| {
        o.is_none_or(|o| {
            job.judge(&serde_json::to_value(o).unwrap_or_default())
                .is_some()
        })
    };
    let vanished = || ResourceError::Vanished {
        what: what.to_string(),
    };
    let object = watch_until(api, name, decides)
        .await
        .map_err(|source| ResourceError::Api {
            verb: "waiting for",
            what: what.to_string(),
            source,
        })?
        .ok_or_else(vanished)?;
    let value = serde_json::to_value(&object).unwrap_or_default();
    job.judge(&value).ok_or_else(vanished)?.map(|()| value)
}

/// How often an object is read while waiting for it without a watch (Argo's executor polls
/// every 5 s: `RESOURCE_STATE_CHECK_INTERVAL`).
const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// `await_condition`, riding out watch failures (an API server restart, 410 Gone) with a
/// capped back-off: the template's deadline, not a blip, ends the wait. A service account that
/// may not list or watch the kind — Argo's executor needs only `get`, and its documented minimal
/// role grants no more — waits by reading the object every [`POLL_INTERVAL`] instead; one that
/// may not read it either gets the API server's refusal.
async fn watch_until(
    api: &Api<DynamicObject>,
    name: &str,
    condition: impl kube_wait::Condition<DynamicObject>,
) -> Result<Option<DynamicObject>, kube::Error> {
    let mut delay = std::time::Duration::from_millis(200);
    loop {
        let probe = |o: Option<&DynamicObject>| condition.matches_object(o);
        match await_condition(api.clone(), name, probe).await {
            Ok(found) => return Ok(found),
            Err(kube_wait::Error::ProbeFailed(e)) if watch_refused(&e) => {
                tracing::debug!(error = %e, object = name, "may not watch; polling");
                return poll_until(api, name, condition).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, object = name, "watch failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
            }
        }
    }
}

/// The watch was refused for good: not allowed (401, 403), or the kind cannot be listed or
/// watched (405).
fn watch_refused(e: &kube::runtime::watcher::Error) -> bool {
    use kube::runtime::watcher::Error as W;
    let code = match e {
        W::InitialListFailed(kube::Error::Api(s))
        | W::WatchStartFailed(kube::Error::Api(s))
        | W::WatchFailed(kube::Error::Api(s)) => s.code,
        W::WatchError(s) => s.code,
        _ => return false,
    };
    matches!(code, 401 | 403 | 405)
}

/// Reads the object until `condition` holds for it (`None`: it does not exist); transient
/// errors (5xx, 408, 429, the connection) are read again, any other refusal is returned.
async fn poll_until(
    api: &Api<DynamicObject>,
    name: &str,
    condition: impl kube_wait::Condition<DynamicObject>,
) -> Result<Option<DynamicObject>, kube::Error> {
    loop {
        match api.get_opt(name).await {
            Ok(found) if condition.matches_object(found.as_ref()) => return Ok(found),
            Ok(_) => {}
            Err(kube::Error::Api(s))
                if (400..500).contains(&s.code) && !matches!(s.code, 408 | 429) =>
            {
                return Err(kube::Error::Api(s));
            }
            Err(e) => tracing::debug!(error = %e, object = name, "reading failed; retrying"),
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// How a resource template's container ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    pub code: i32,
    /// Why it failed.
    pub message: Option<String>,
    /// What the container leaves as its termination message: the digest of what it reported
    /// (`report_digest`), then `message`.
    pub termination: Option<String>,
}

/// A resource template's pod from start to end: run the job, report the outputs as the node's
/// task result, and say how the container exits.
pub async fn execute(
    client: &Client,
    identity: &super::Identity,
    say: &mut (dyn FnMut(String) + Send),
) -> Exit {
    let pod = &identity.pod;
    let label = |key: &str| pod.labels.get(key).cloned().unwrap_or_default();
    let target = ResourceTarget::from_env(identity.resource_target.as_deref());
    let outcome = match (target, ResourceJob::from_template(&identity.template)) {
        (Ok(target), Ok(job)) => {
            let ctx = Context {
                namespace: pod.namespace.clone(),
                target,
                workflow_name: label(flotilla_engine::workflow::labels::WORKFLOW),
                workflow_namespace: label(flotilla_engine::workflow::labels::WORKFLOW_NAMESPACE),
                workflow_uid: identity.workflow_uid.clone(),
            };
            run(client, &job, &ctx, say).await
        }
        (Err(e), _) => Err(e.into()),
        (_, Err(e)) => Err(e),
    };
    let (outputs, exit) = match outcome {
        Ok(mut outputs) => {
            outputs.exit_code = Some("0".into());
            let exit = Exit {
                code: 0,
                message: None,
                termination: None,
            };
            (Some(outputs), exit)
        }
        Err(e) => {
            let exit = Exit {
                code: 1,
                message: Some(e.to_string()),
                termination: None,
            };
            (None, exit)
        }
    };
    // A failure (a refused target among them) is recorded on the task result too.
    let reported = super::task_result(pod, outputs, exit.message.clone());
    match super::report(client, &reported).await {
        Ok(()) => Exit {
            termination: Some(super::termination_message(
                &reported,
                exit.message.as_deref(),
            )),
            ..exit
        },
        // The action's own failure is the news; a report that failed too only adds to it.
        Err(e) => {
            let reporting = format!("reporting outputs: {}", brief(&e));
            let message = match exit.message {
                Some(failure) => format!("{failure} (and {reporting})"),
                None => reporting,
            };
            Exit {
                code: 1,
                termination: Some(message.clone()),
                message: Some(message),
            }
        }
    }
}

mod job;
#[cfg(test)]
mod tests;

use job::MergeStrategy;
pub use job::{ResourceJob, Verb};
