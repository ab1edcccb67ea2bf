//! Kubernetes events the controller records: a decision's, on its workflow (after the status is
//! saved), and notes on the configuration objects it loads (plugins, policy).

use kube::runtime::events::{Event as KubeEvent, EventType, Recorder};
use kube::{Resource, ResourceExt as _};
use tracing::warn;

use super::Context;
use flotilla_engine::Event;
use flotilla_engine::workflow::Workflow;

/// Records a decision's events on `wf`.
pub(super) async fn decided(ctx: &Context, wf: &Workflow, events: &[Event]) {
    for event in events {
        let event = KubeEvent {
            type_: event_type(event.warning),
            reason: event.reason.clone(),
            note: Some(event.message.clone()),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &wf.object_ref(&())).await {
            warn!(error = %e, "recording an event failed");
        }
    }
}

/// Records a warning on a configuration object.
pub(super) async fn warn_on<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    reason: &str,
    note: &str,
) {
    note_on(ctx, object, true, reason, note).await;
}

/// Records a note on a configuration object.
pub(super) async fn note_on<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    warning: bool,
    reason: &str,
    note: &str,
) {
    // Every replica loads the configuration; only the leader says so (a standby logs).
    if !ctx.leadership.is_leading() {
        return;
    }
    let event = KubeEvent {
        type_: event_type(warning),
        reason: reason.into(),
        note: Some(note.to_string()),
        action: "Load".into(),
        secondary: None,
    };
    // A recorder of its own: the shared one folds repeats of a reason into one event's count,
    // keeping the first note — and here each note (which plugin, which problem) matters.
    let recorder = Recorder::new(
        ctx.client.clone(),
        super::reporter(ctx.leadership.identity()),
    );
    if let Err(e) = recorder.publish(&event, &object.object_ref(&())).await {
        warn!(error = %e, object = %object.name_any(), "recording an event failed");
    }
}

fn event_type(warning: bool) -> EventType {
    match warning {
        true => EventType::Warning,
        false => EventType::Normal,
    }
}
