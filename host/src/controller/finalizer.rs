//! The workflow's finalizer around the pods a reconcile touches: put on before a pod the workflow
//! cannot own (another cluster or namespace) is created, taken off once those pods are gone.

use kube::ResourceExt as _;
use kube::api::{Api, Patch, PatchParams};

use super::Context;
use flotilla_engine as engine;
use flotilla_engine::workflow::Workflow;

/// What changing the finalizer came to.
pub(super) enum Changed {
    /// Done; the workflow's new resource version.
    Done(Option<String>),
    /// The workflow changed since it was read: decide again from the new one.
    Conflict,
    /// The workflow is gone.
    Gone,
}

/// Adds (`present`) or removes [`engine::FINALIZER`], conditional on the version decided from.
pub(super) async fn change(
    ctx: &Context,
    wf: &Workflow,
    present: bool,
) -> Result<Changed, kube::Error> {
    let mut finalizers: Vec<String> = wf
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != engine::FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(engine::FINALIZER.to_string());
    }
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": wf.metadata.resource_version, "finalizers": finalizers},
    });
    let api: Api<Workflow> =
        Api::namespaced(ctx.client.clone(), &wf.namespace().unwrap_or_default());
    let patched = api
        .patch(
            &wf.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await;
    match patched {
        Ok(patched) => Ok(Changed::Done(patched.metadata.resource_version)),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Changed::Conflict),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Changed::Gone),
        Err(e) => Err(e),
    }
}
