//! The CronWorkflow controller, beside the workflow controller as Argo's cron controller is
//! beside its workflow controller: `flotilla_engine::cron` decides, this module reads the
//! CronWorkflows and the workflows they submitted, and acts — only while this replica leads.
//!
//! A CronWorkflow's workflows are the ones labelled with its name whose controlling owner
//! reference carries its uid: a label alone is anyone's to write, and proves nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tracing::{Instrument, info, warn};

use flotilla_engine::cron::{self, CRON_LABEL, Child};
use flotilla_engine::workflow::{CronWorkflow, Lenient, Workflow};

use super::{lenient, scoped};

/// Why a CronWorkflow's reconcile failed (retried after [`RETRY`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CronError {
    #[error("cron workflow {namespace}/{name}: {action}: {source}")]
    Api {
        namespace: String,
        name: String,
        action: &'static str,
        source: kube::Error,
    },
}

/// How soon a failed reconcile is tried again.
const RETRY: Duration = Duration::from_secs(10);
/// How soon after a panic (a bug) a CronWorkflow is decided again.
const PANIC_RETRY: Duration = Duration::from_secs(300);
/// Longest submission error kept in a condition.
const MAX_MESSAGE: usize = 512;

struct Context {
    client: Client,
    /// The workflows labelled as some CronWorkflow's, decoded one by one.
    children: Store<Lenient<Workflow>>,
    /// Whether `children` has listed since the controller started.
    children_listed: Arc<AtomicBool>,
    instance_id: Option<String>,
    leadership: crate::leader::Leadership,
}

/// Watches CronWorkflows (of `namespace`, or all) matching `selector` (the controller's
/// instance) and runs them until the returned future is dropped.
pub(super) async fn run(
    client: Client,
    namespace: Option<String>,
    selector: String,
    instance_id: Option<String>,
    leadership: crate::leader::Leadership,
    invalid: lenient::InvalidReporter,
) {
    let crons: Api<Lenient<CronWorkflow>> = scoped(&client, namespace.as_deref());
    let (cron_store, cron_writer) = reflector::store();
    let cron_stream = reflector::reflector(
        cron_writer,
        lenient::typed(
            watcher(crons, watcher::Config::default().labels(&selector)).default_backoff(),
            invalid,
        ),
    )
    .applied_objects();
    let workflows: Api<Lenient<Workflow>> = scoped(&client, namespace.as_deref());
    let (children, children_writer) = reflector::store();
    let children_listed = Arc::new(AtomicBool::new(false));
    let listed = children_listed.clone();
    let child_wakes = reflector::reflector(
        children_writer,
        watcher(
            workflows,
            watcher::Config::default().labels(&format!("{CRON_LABEL},{selector}")),
        )
        .modify(super::without_managed_fields)
        .default_backoff(),
    )
    .inspect(move |event| {
        if let Ok(watcher::Event::InitDone) = event {
            listed.store(true, Ordering::Release);
        }
    })
    .touched_objects()
    .filter_map(|child| futures::future::ready(child.ok().and_then(|c| owner(&c))));
    let ready = children_listed.clone();
    let acquired = leadership.acquired(move || ready.load(Ordering::Acquire));
    let ctx = Arc::new(Context {
        client,
        children,
        children_listed,
        instance_id,
        leadership,
    });
    Controller::for_stream(cron_stream, cron_store)
        .reconcile_on(child_wakes)
        .reconcile_all_on(acquired)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                match e {
                    kube::runtime::controller::Error::ObjectNotFound(_) => {}
                    e => warn!(error = %e, "cron workflow reconcile failed"),
                }
            }
        })
        .await;
}

/// The CronWorkflow a workflow names as its controlling owner.
fn owner(wf: &Lenient<Workflow>) -> Option<ObjectRef<CronWorkflow>> {
    let reference = wf
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "CronWorkflow")?;
    Some(ObjectRef::new(&reference.name).within(&wf.namespace()?))
}

/// The workflows `cron` submitted: labelled with its name, controlled by its uid, decoded.
fn children_of(cron: &CronWorkflow, children: &Store<Lenient<Workflow>>) -> Vec<Child> {
    let (Some(uid), Some(name), Some(namespace)) = (
        cron.metadata.uid.as_deref(),
        cron.metadata.name.as_deref(),
        cron.metadata.namespace.as_deref(),
    ) else {
        return Vec::new();
    };
    children
        .state()
        .iter()
        .filter_map(|wf| wf.valid())
        .filter(|wf| wf.metadata.namespace.as_deref() == Some(namespace))
        .filter(|wf| wf.labels().get(CRON_LABEL).map(String::as_str) == Some(name))
        .filter(|wf| {
            wf.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && o.kind == "CronWorkflow" && o.uid == uid)
        })
        .map(|wf| Child {
            name: wf.name_any(),
            uid: wf.metadata.uid.clone().unwrap_or_default(),
            phase: wf.status.as_ref().and_then(|s| s.phase),
            finished_at: wf
                .status
                .as_ref()
                .and_then(|s| s.finished_at.as_ref())
                .map(|t| t.0),
        })
        .collect()
}

async fn reconcile(cron: Arc<CronWorkflow>, ctx: Arc<Context>) -> Result<Action, CronError> {
    let span = tracing::info_span!(
        "cron_reconcile",
        cron = %cron.name_any(),
        namespace = cron.namespace().as_deref().unwrap_or_default()
    );
    async move {
        if !ctx.leadership.is_leading() {
            return Ok(Action::await_change());
        }
        // Deciding before the workflows have listed would see none running.
        if !ctx.children_listed.load(Ordering::Acquire) {
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let children = children_of(&cron, &ctx.children);
        let now = jiff::Timestamp::now();
        let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cron::decide(&cron, &children, ctx.instance_id.as_deref(), now)
        }));
        let Ok(decision) = decided else {
            warn!("deciding this cron workflow panicked (a bug in Flotilla); trying again later");
            return Ok(Action::requeue(PANIC_RETRY));
        };
        let namespace = cron.namespace().unwrap_or_default();
        let name = cron.name_any();
        let failed = |action, source| CronError::Api {
            namespace: namespace.clone(),
            name: name.clone(),
            action,
            source,
        };
        let crons: Api<CronWorkflow> = Api::namespaced(ctx.client.clone(), &namespace);
        // The status first, on the version decided from: a reconcile that read an older copy
        // (its own write not seen yet) is refused here, before it acts on what it read.
        if cron.status.as_ref() != Some(&decision.status) {
            let patch = serde_json::json!({
                "metadata": {"resourceVersion": cron.resource_version()},
                "status": decision.status,
            });
            match crons
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    return Ok(Action::requeue(Duration::from_secs(1)));
                }
                Err(e) => return Err(failed("writing its status", e)),
            }
        }
        let workflows: Api<Workflow> = Api::namespaced(ctx.client.clone(), &namespace);
        for (child, uid) in &decision.terminate {
            // The uid in the patch is checked against the object's: never another of that name.
            let patch = serde_json::json!({
                "metadata": {"uid": uid},
                "spec": {"shutdown": "Terminate"},
            });
            match workflows
                .patch(child, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => info!(workflow = %child, "terminated for concurrencyPolicy: Replace"),
                Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409 | 422) => {}
                Err(e) => return Err(failed("terminating a running workflow", e)),
            }
        }
        if let Some(wf) = &decision.submit {
            match workflows.create(&PostParams::default(), wf).await {
                Ok(created) => info!(workflow = %created.name_any(), "submitted"),
                // Submitted already: the name is the schedule's.
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                // As Argo's: the schedule is spent, and the condition says why.
                Err(e) => {
                    warn!(error = %e, "submitting the scheduled workflow failed");
                    let mut status = decision.status.clone();
                    let message = format!("Failed to submit Workflow: {e}");
                    let message: String = message.chars().take(MAX_MESSAGE).collect();
                    status.conditions.retain(|c| c.type_ != "SubmissionError");
                    status
                        .conditions
                        .push(flotilla_engine::workflow::Condition {
                            type_: "SubmissionError".into(),
                            status: "True".into(),
                            message: Some(message),
                        });
                    let patch = serde_json::json!({"status": status});
                    crons
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .map_err(|e| failed("writing its status", e))?;
                }
            }
        }
        for (child, uid) in &decision.delete {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match workflows.delete(child, &params).await {
                Ok(_) => info!(workflow = %child, "deleted past the history limit"),
                Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => {}
                Err(e) => return Err(failed("deleting a finished workflow", e)),
            }
        }
        Ok(match decision.requeue_after {
            Some(after) => Action::requeue(after),
            None => Action::await_change(),
        })
    }
    .instrument(span)
    .await
}

fn error_policy(_: Arc<CronWorkflow>, error: &CronError, _: Arc<Context>) -> Action {
    warn!(error = %error, "will retry");
    Action::requeue(RETRY)
}
