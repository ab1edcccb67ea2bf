//! One reconcile of one workflow, in one span: gather → decide → finalizer before → apply →
//! finalizer after → write the status → publish events → requeue. Each step is a function of
//! its own module; this one only sequences them and says what a step's outcome means for the
//! rest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use kube::ResourceExt as _;
use kube::runtime::controller::Action as Requeue;
use tracing::{Instrument as _, info, info_span, warn};

use super::finalizer::Changed;
use super::status;
use super::{Context, ControllerError, apply, events, finalizer, gather, ownership, requeue};
use crate::panics;
use flotilla_engine::workflow::Workflow;
use flotilla_engine::{self as engine, Decision, EngineConfig, FinalizerChange, Observed};

/// How soon a reconcile that lost a race (a conflicting write) is tried again.
const AFTER_CONFLICT: Duration = Duration::from_millis(50);

pub(super) async fn reconcile(
    wf: Arc<Workflow>,
    ctx: Arc<Context>,
) -> Result<Requeue, ControllerError> {
    // A standby passes over every workflow; on becoming the leader it reconciles them all.
    if !ctx.leadership.is_leading() {
        return Ok(Requeue::await_change());
    }
    let name = wf.name_any();
    let namespace = wf.namespace().unwrap_or_default();
    let span = info_span!("reconcile", workflow = %name, namespace = %namespace);
    // Whatever one workflow makes the controller do, a panic stays with that workflow: it is
    // logged and retried with back-off, and the controller keeps serving every other one.
    let steps = std::panic::AssertUnwindSafe(steps(&wf, &ctx, &namespace).instrument(span));
    // A replica that stops leading stops at once: what this pass has not sent is dropped.
    let outcome = tokio::select! {
        outcome = steps.catch_unwind() => outcome,
        () = ctx.leadership.lost() => return Ok(Requeue::await_change()),
    };
    match outcome {
        Ok(Ok(requeue)) => {
            ctx.failures
                .succeeded(wf.metadata.uid.as_deref().unwrap_or_default());
            Ok(requeue)
        }
        Ok(Err(source)) => Err(ControllerError::Api {
            namespace,
            name,
            source,
        }),
        Err(panic) => Err(ControllerError::Panicked {
            namespace,
            name,
            message: panics::message(panic.as_ref()),
        }),
    }
}

async fn steps(wf: &Workflow, ctx: &Context, namespace: &str) -> Result<Requeue, kube::Error> {
    let Some(gathered) = gather::gather(ctx, wf, namespace).await else {
        return Ok(Requeue::requeue(Duration::from_secs(1)));
    };
    let started = Instant::now();
    let key = wf.metadata.uid.clone().unwrap_or_default();
    let made = gathered.made;
    let mut decision = decide(wf, &gathered.observed, &ctx.engine);
    let decided = started.elapsed();
    ctx.allowances.spend(namespace, decision.expression_fuel);

    // The finalizer goes on before any pod the workflow cannot own is created.
    let mut resource_version = wf.metadata.resource_version.clone();
    if decision.finalizer == Some(FinalizerChange::Add) {
        match finalizer::change(ctx, wf, true).await? {
            Changed::Done(version) => resource_version = version,
            Changed::Conflict => return Ok(Requeue::requeue(AFTER_CONFLICT)),
            Changed::Gone => return Ok(Requeue::await_change()),
        }
    }

    let creates = decision
        .pods
        .iter()
        .any(|a| matches!(a, engine::PodAction::Create { .. }));
    // A status no API server could store (`WorkflowStatus::stored`) errs the workflow when it
    // is written; its pods are not made first, where no status would record them.
    if creates && let Err(message) = status::storable(wf, &decision.status) {
        warn!(%message, "the workflow's status could not be stored; its pods are not created");
        decision
            .pods
            .retain(|a| !matches!(a, engine::PodAction::Create { .. }));
    }
    let applied = apply_pods(ctx, wf, &key, &made, &mut decision).await;
    if applied.error.is_none() && decision.finalizer == Some(FinalizerChange::Remove) {
        match finalizer::change(ctx, wf, false).await? {
            Changed::Done(_) => info!("remote pods deleted; finalizer released"),
            Changed::Conflict => return Ok(Requeue::requeue(AFTER_CONFLICT)),
            Changed::Gone => {}
        }
    }
    let refusals = !applied.refused.is_empty();
    if refusals {
        ctx.refusals.remember(wf, applied.refused, &ctx.workflows);
    }

    let written = status::write(
        &ctx.client,
        wf,
        &decision.status,
        resource_version.as_deref(),
    )
    .await?;
    match written {
        // The uids made are in the stored status now, but not yet in the cache a pass woken
        // before its watch event reads: remembered until it shows them (`gather`), so that
        // such a pass never takes another pod of the node's name for the node's.
        status::Written::Saved if !applied.created.is_empty() => {
            ctx.made.remember(wf, applied.created, &ctx.workflows)
        }
        status::Written::Saved => {}
        // Lost to a newer version: the uids of the pods made wait in memory for the next write.
        status::Written::Conflict => {
            if !applied.created.is_empty() {
                ctx.made.remember(wf, applied.created, &ctx.workflows);
            }
            return Ok(Requeue::requeue(AFTER_CONFLICT));
        }
        status::Written::Gone => {
            ctx.made.forget(&key);
            return Ok(Requeue::await_change());
        }
    }

    // Events only once the decision they report is saved: a retried reconcile repeats nothing.
    events::decided(ctx, wf, &decision.events).await;
    super::node_events::publish(ctx, wf, &decision.node_events).await;
    // The status (with the pods made) is saved whatever else failed: now retry what did.
    if let Some(e) = applied.error {
        return Err(e);
    }
    if refusals {
        // The engine turns them into Error nodes on the next pass.
        return Ok(Requeue::requeue(Duration::from_millis(1)));
    }
    if phase_finished(wf) {
        ctx.refusals.forget(&key);
    }
    tracing::debug!(
        nodes = wf.status.as_ref().map_or(0, |s| s.nodes.len()),
        pods_observed = gathered.observed.pods.len(),
        decide_us = decided.as_micros() as u64,
        total_us = started.elapsed().as_micros() as u64,
        "reconciled"
    );
    // Creations put off pass after pass are tried again less and less often.
    let deferred = match &applied.deferred {
        Some(deferred) => Some((
            ctx.deferrals.failed(&key, &ctx.workflows),
            deferred.retry_after,
        )),
        None => {
            ctx.deferrals.succeeded(&key);
            None
        }
    };
    // While a cluster cannot be seen, look again now and then (its recovery also wakes us).
    Ok(
        match requeue::after(decision.requeue_after, gathered.blind_for, deferred) {
            Some(after) => Requeue::requeue(after),
            None => Requeue::await_change(),
        },
    )
}

/// The engine's decision for `wf`, off the async threads (plugins may block; so may a large
/// workflow's decision). A panic in it is a bug met by this workflow's input: the workflow
/// errors saying so, and nothing else.
fn decide(wf: &Workflow, observed: &Observed, config: &EngineConfig) -> Decision {
    let now = jiff::Timestamp::now();
    let decide = std::panic::AssertUnwindSafe(|| {
        crate::plugins::outside_async(|| engine::reconcile(wf, observed, config, now))
    });
    match std::panic::catch_unwind(decide) {
        Ok(decision) => decision,
        Err(panic) => {
            let message = panics::message(panic.as_ref());
            tracing::error!(panic = %message, "deciding the workflow panicked");
            engine::internal_error(wf, &message, now)
        }
    }
}

/// Applies the decision's pods and workflow deletion, and records the uids of the pods made
/// (now, and on earlier passes whose write was lost) in the status to be written.
async fn apply_pods(
    ctx: &Context,
    wf: &Workflow,
    key: &str,
    made: &std::collections::BTreeMap<String, String>,
    decision: &mut Decision,
) -> apply::Applied {
    let name = wf.name_any();
    let namespace = wf.namespace().unwrap_or_default();
    let owner = ownership::Owner {
        name: &name,
        namespace: &namespace,
        uid: key,
        cluster: ctx.engine.cluster.as_deref(),
        key: &ctx.proof_key,
    };
    status::record_created(&mut decision.status, made);
    // Read only when a pod is created or deleted: a steady reconcile of a wide workflow does
    // neither, and need not index its nodes.
    let touches_pods = decision.pods.iter().any(|a| {
        matches!(
            a,
            engine::PodAction::Create { .. } | engine::PodAction::Delete { .. }
        )
    });
    let mut pinned = match touches_pods {
        true => status::pinned_uids(wf),
        false => Default::default(),
    };
    pinned.extend(made.iter().map(|(node, uid)| (node.as_str(), uid.as_str())));
    let applied = apply::apply(
        ctx,
        owner,
        &pinned,
        &decision.pods,
        decision.delete_workflow.as_ref(),
    )
    .await;
    status::record_created(&mut decision.status, &applied.created);
    applied
}

fn phase_finished(wf: &Workflow) -> bool {
    wf.status
        .as_ref()
        .and_then(|s| s.phase)
        .is_some_and(|p| p.is_finished())
}
