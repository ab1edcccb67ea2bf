//! One reconcile of one workflow: a finished workflow is cleaned up; a running one is checked,
//! validated once, walked under its execution control, ended when its root is, then cleaned up.

use crate::decision::{Decision, Effects, PodAction};
use crate::naming::{self, PodNameFormat};
use crate::template::Evaluator;
use crate::workflow::{NodePhase, NodeType, Workflow, WorkflowPhase, WorkflowStatus};
use crate::{EngineConfig, Observed, PodPhase};
use crate::{earliest, exit, finalizer, gc, graph, lifecycle, references, time, validate, walk};

/// Decides what happens next for `wf`.
///
/// A finished workflow only gets clean-up decisions (pod GC, completed labels, TTL); a running one
/// is walked under its execution control (shutdown, deadline, suspension), then cleaned up after.
pub fn reconcile(
    wf: &Workflow,
    observed: &Observed,
    config: &EngineConfig,
    now: jiff::Timestamp,
) -> Decision {
    // What this pass may spend on expressions, validation's checks included.
    let evaluator = observed
        .expressions
        .clone()
        .map(|port| Evaluator::within(port, observed.expression_fuel));
    let mut decision = pass(wf, observed, config, now, evaluator.as_ref());
    if let Some(evaluator) = &evaluator {
        if evaluator.throttled() {
            // The namespace's allowance ran out mid-pass: nothing of the pass is kept (an
            // expression that found it spent failed), and it is tried again once it has grown.
            let status = wf.status.clone().unwrap_or_default();
            decision = Effects::default().decide(status, Some(THROTTLED_RETRY));
        }
        decision.expression_fuel = evaluator.spent();
    }
    // Argo's node events, for the phases this pass changed.
    let before = wf.status.as_ref().map(|s| &s.nodes);
    decision.node_events = crate::node_events::changes(
        before.unwrap_or(&Default::default()),
        &decision.status.nodes,
    );
    decision
}

/// When a pass dropped for its namespace's expression allowance is tried again.
const THROTTLED_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// One pass over `wf`, its expressions evaluated by `evaluator`.
fn pass(
    wf: &Workflow,
    observed: &Observed,
    config: &EngineConfig,
    now: jiff::Timestamp,
    evaluator: Option<&Evaluator>,
) -> Decision {
    if wf.metadata.deletion_timestamp.is_some() {
        return finalizer::cleanup(wf, observed);
    }
    let empty = WorkflowStatus::default();
    let persisted = wf.status.as_ref().unwrap_or(&empty);
    let mut cleanup = gc::Cleanup::default();
    if persisted.phase.is_some_and(WorkflowPhase::is_finished) {
        // Only a `workflowTemplateRef`'s spec matters now (its pod GC and TTL settings).
        let resolved = references::resolve(wf, observed, references::Scope::SpecOnly);
        let wf = resolved.as_ref().map_or(wf, |r| &*r.workflow);
        // Settings edited into a finished workflow cannot fail it any more: invalid ones are
        // skipped (they were checked when it ran).
        if let Ok(pod_gc) = gc::pod_gc(&wf.spec, config) {
            gc::pods(wf, persisted, &pod_gc, observed, now, &mut cleanup);
        }
        gc::ttl(wf, persisted, now, &mut cleanup);
        return cleanup
            .effects
            .decide(persisted.clone(), cleanup.requeue_after);
    }
    let mut status = persisted.clone();
    let mut effects = Effects::default();
    // The workflow the walk runs: its own templates and those it takes from WorkflowTemplates.
    let resolved = references::resolve(wf, observed, references::Scope::Everything);
    let resolved = match resolved {
        Ok(resolved) => resolved,
        // A WorkflowTemplate created just before the workflow may not be cached yet.
        Err(e) if status.phase.is_none() && e.missing && just_created(wf, now) => {
            return effects.decide(status, Some(std::time::Duration::from_secs(1)));
        }
        // Argo fails a new workflow whose references do not resolve as invalid; a running one
        // (its spec edited, say) errors.
        Err(e) if status.phase.is_none() => return refused(status, &e.message, now, effects),
        Err(e) => {
            abort(&mut status, wf, observed, &e.message, now, &mut effects);
            return ended(status, effects);
        }
    };
    status.stored_templates = resolved.stored_templates;
    status.stored_workflow_template_spec = resolved.stored_spec.map(Box::new);
    let wf: &Workflow = &resolved.workflow;
    if let Err(message) = graph::check(&status.nodes) {
        // Not a graph this controller wrote: the workflow errors, and nothing is walked.
        abort(&mut status, wf, observed, &message, now, &mut effects);
        return ended(status, effects);
    }
    if status.phase.is_none() {
        status.started_at = Some(time(now));
        status.phase = Some(WorkflowPhase::Running);
        // A new workflow is validated once, before anything runs (Argo fails it as invalid).
        match validate::validate(wf, evaluator) {
            Err(e) => return refused(status, &e.to_string(), now, effects),
            Ok(validated) => {
                // Argo's words: a valid workflow starts running.
                effects.event(false, "WorkflowRunning", "Workflow Running".into());
                for warning in validated.warnings {
                    effects.event(true, "SpecWarning", warning.clone());
                    status.conditions.push(crate::workflow::Condition {
                        type_: "SpecWarning".into(),
                        status: "True".into(),
                        message: Some(warning),
                    });
                }
            }
        }
    }
    let started_at = status.started_at.as_ref().map(|t| t.0);
    let settings = lifecycle::control(&wf.spec, started_at, now).and_then(|control| {
        let pod_gc = gc::pod_gc(&wf.spec, config)?;
        gc::check_ttl(&wf.spec)?;
        Ok((control, pod_gc))
    });
    let (control, pod_gc) = match settings {
        Ok(settings) => settings,
        Err(message) => {
            abort(&mut status, wf, observed, &message, now, &mut effects);
            return ended(status, effects);
        }
    };
    let frozen = control.frozen;
    let halt_message = control.halt.as_ref().and_then(|h| h.workflow.clone());
    let mut requeue_after = control.requeue_after;
    let name = wf.metadata.name.clone().unwrap_or_default();
    let format = PodNameFormat::of(wf);
    let mut walker = walk::Walker::new(
        wf,
        observed,
        config,
        now,
        format,
        std::mem::take(&mut status.nodes),
        control,
    );
    walker.evaluator = evaluator.cloned();
    let outcome = walker.run(&name);
    if let Some(why) = walker.stopped() {
        // Nothing of a walk cut short is kept: the workflow errors from the nodes it had.
        status.nodes = persisted.nodes.clone();
        abort(&mut status, wf, observed, &why, now, &mut effects);
        return ended(status, effects);
    }
    effects.pods.append(&mut walker.pods);
    requeue_after = earliest(requeue_after, walker.requeue_after);
    status.outputs = walker.global_outputs.status();
    status.nodes = walker.into_nodes();
    match outcome {
        // What the walk could not start from (a parameter's ConfigMap gone, a spec edited into
        // an invalid one): the workflow errors and its running pods are stopped.
        Err(message) => abort(&mut status, wf, observed, &message, now, &mut effects),
        // A suspended workflow does not end until it is resumed, as in Argo.
        Ok(_) if frozen => {}
        // Nor does one whose exit handler is still running, or that still has pods running
        // (Argo waits for every pod's report).
        Ok(walk::Outcome {
            exit: Some(exit), ..
        }) if !exit.is_fulfilled() => {}
        Ok(walk::Outcome {
            pods_left: true, ..
        }) => {}
        Ok(walk::Outcome { root, exit, .. }) => match root {
            NodePhase::Succeeded | NodePhase::Skipped | NodePhase::Omitted => {
                // Argo: a failed exit handler fails a workflow that had succeeded.
                let exit_message = || {
                    let id = naming::node_id(&name, &exit::node_name(&name));
                    status.nodes.get(&id).and_then(|n| n.message.clone())
                };
                let (phase, message) = match exit {
                    Some(NodePhase::Failed) => (WorkflowPhase::Failed, exit_message()),
                    Some(NodePhase::Error) => (WorkflowPhase::Error, exit_message()),
                    _ => (WorkflowPhase::Succeeded, None),
                };
                finish(&mut status, phase, message, now, &mut effects)
            }
            NodePhase::Failed => {
                let message = halt_message.or_else(|| failure_message(&status, &name));
                finish(
                    &mut status,
                    WorkflowPhase::Failed,
                    message,
                    now,
                    &mut effects,
                )
            }
            NodePhase::Error => {
                let message = halt_message.or_else(|| failure_message(&status, &name));
                finish(
                    &mut status,
                    WorkflowPhase::Error,
                    message,
                    now,
                    &mut effects,
                )
            }
            NodePhase::Pending | NodePhase::Running => {}
        },
    }
    status.progress = Some(progress(&status));
    if status.phase.is_some_and(WorkflowPhase::is_finished) {
        // Nothing is left to wait for: no deadline, no back-off.
        requeue_after = None;
    }
    gc::pods(wf, persisted, &pod_gc, observed, now, &mut cleanup);
    effects.append(cleanup.effects);
    finalizer::guard(wf, &mut effects);
    effects.decide(status, earliest(requeue_after, cleanup.requeue_after))
}

/// A decision that ends this reconcile with `status` as it stands: nothing to requeue for.
/// A new workflow that cannot run as written fails as an invalid spec, as in Argo.
fn refused(
    mut status: WorkflowStatus,
    why: &str,
    now: jiff::Timestamp,
    mut effects: Effects,
) -> Decision {
    status.started_at.get_or_insert_with(|| time(now));
    status.nodes.clear();
    let message = Some(format!("invalid spec: {why}"));
    finish(
        &mut status,
        WorkflowPhase::Failed,
        message,
        now,
        &mut effects,
    );
    ended(status, effects)
}

/// Whether `wf` was created less than [`references::MISSING_GRACE`] ago (by the API server's
/// clock against the controller's: a skew only shortens or lengthens the wait).
fn just_created(wf: &Workflow, now: jiff::Timestamp) -> bool {
    let Some(created) = wf.metadata.creation_timestamp.as_ref() else {
        return false;
    };
    let grace = jiff::SignedDuration::try_from(references::MISSING_GRACE).unwrap_or_default();
    now.duration_since(created.0) < grace
}

fn ended(mut status: WorkflowStatus, effects: Effects) -> Decision {
    status.progress = Some(progress(&status));
    effects.decide(status, None)
}

/// The decision for a workflow whose reconcile failed inside the engine (a panic, contained by
/// the controller): a running workflow errors with `message` and keeps its nodes as they were;
/// a finished one is left as it is.
pub fn internal_error(wf: &Workflow, message: &str, now: jiff::Timestamp) -> Decision {
    let mut status = wf.status.clone().unwrap_or_default();
    let mut effects = Effects::default();
    if !status.phase.is_some_and(WorkflowPhase::is_finished)
        && wf.metadata.deletion_timestamp.is_none()
    {
        let message =
            format!("the controller failed deciding this workflow (a bug in Flotilla): {message}");
        finish(
            &mut status,
            WorkflowPhase::Error,
            Some(message),
            now,
            &mut effects,
        );
    }
    effects.decide(status, None)
}

/// Ends a running workflow whose lifecycle settings are invalid: its unfulfilled nodes error,
/// their pods are deleted, and the workflow errors with `message`.
fn abort(
    status: &mut WorkflowStatus,
    wf: &Workflow,
    observed: &Observed,
    message: &str,
    now: jiff::Timestamp,
    effects: &mut Effects,
) {
    let wf_namespace = wf.metadata.namespace.clone().unwrap_or_default();
    for (key, node) in status.nodes.iter_mut() {
        if node.phase.is_fulfilled() {
            continue;
        }
        // Pods are observed by node ID: a node filed under another key (a status the controller
        // did not write) would take another node's pod, in its own place, for its own.
        if let Some(pod) = observed
            .pods
            .get(&node.id)
            .filter(|_| *key == node.id)
            .filter(|p| !p.deleting && !matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed))
        {
            effects.pods.push(PodAction::Delete {
                node_id: node.id.clone(),
                cluster: node.cluster.clone(),
                namespace: node
                    .namespace
                    .clone()
                    .unwrap_or_else(|| wf_namespace.clone()),
                name: pod.name.clone(),
                pod_uid: pod.uid.clone(),
            });
        }
        node.phase = NodePhase::Error;
        node.message = Some(message.to_string());
        node.finished_at = Some(time(now));
    }
    finish(
        status,
        WorkflowPhase::Error,
        Some(message.to_string()),
        now,
        effects,
    );
}

fn finish(
    status: &mut WorkflowStatus,
    phase: WorkflowPhase,
    message: Option<String>,
    now: jiff::Timestamp,
    effects: &mut Effects,
) {
    status.phase = Some(phase);
    status.finished_at = Some(time(now));
    if message.is_some() {
        status.message = message;
    }
    let (warning, reason) = match phase {
        WorkflowPhase::Succeeded => (false, "WorkflowSucceeded"),
        WorkflowPhase::Failed => (true, "WorkflowFailed"),
        _ => (true, "WorkflowError"),
    };
    // Argo's words: "Workflow completed" for a success, the workflow's message otherwise.
    let message = match (phase, &status.message) {
        (WorkflowPhase::Succeeded, _) => "Workflow completed".to_string(),
        (_, Some(message)) => message.clone(),
        (_, None) => format!("Workflow completed: {phase}"),
    };
    effects.event(warning, reason, message);
}

/// Argo reports the workflow's failure with the root node's message, or that of the first failed
/// pod when the root has none (not an exit hook's: a hook's outcome changes nothing).
fn failure_message(status: &WorkflowStatus, root_id: &str) -> Option<String> {
    if let Some(m) = status.nodes.get(root_id).and_then(|n| n.message.clone()) {
        return Some(m);
    }
    status
        .nodes
        .values()
        .filter(|n| {
            n.type_ == NodeType::Pod
                && matches!(n.phase, NodePhase::Failed | NodePhase::Error)
                && !super::hooks::is_hook(n)
        })
        .find_map(|n| n.message.clone())
}

/// `done/total` over pod nodes, as Argo's `progress`.
fn progress(status: &WorkflowStatus) -> String {
    let pods = status.nodes.values().filter(|n| n.type_ == NodeType::Pod);
    let (done, total) = pods.fold((0, 0), |(d, t), n| {
        (d + usize::from(n.phase.is_fulfilled()), t + 1)
    });
    format!("{done}/{total}")
}
