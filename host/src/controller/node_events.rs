//! Argo's node events (`WorkflowNode<Phase>`, decided by the engine's `node_events`), sent as
//! Argo's controller sends them: core/v1 Events on the workflow, each annotated with the node's
//! name and type (`workflows.argoproj.io/node-name`, `…/node-type`), so they are not folded
//! together as a recorder folds repeats of one reason. Argo's per-object spam filter is kept: a
//! workflow may send 25 at once and one more every five minutes; the rest are dropped, as in
//! Argo. `nodeEvents: {enabled: false}` in `workflow-controller-configmap` turns them off.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};
use parking_lot::Mutex;
use serde::Deserialize;
use tracing::{info, warn};

use super::Context;
use flotilla_engine::NodeEvent;
use flotilla_engine::node_events::{NODE_NAME, NODE_TYPE};
use flotilla_engine::workflow::Workflow;

/// The ConfigMap's key (Argo's).
const KEY: &str = "nodeEvents";
/// Events a workflow may send at once (client-go's `EventSourceObjectSpamFilter` burst).
const BURST: f64 = 25.0;
/// How long a workflow waits for one more (client-go's default: one per five minutes).
const REFILL: Duration = Duration::from_secs(300);
/// Workflows remembered before those with a full allowance are forgotten.
const REMEMBERED: usize = 4096;

/// Whether node events are sent, and what each workflow may still send.
#[derive(Debug)]
pub(crate) struct NodeEvents {
    enabled: AtomicBool,
    allowances: Mutex<HashMap<String, (f64, Instant)>>,
    /// Makes each event's name unique within the controller (client-go uses the time alone).
    sequence: AtomicU64,
}

impl Default for NodeEvents {
    fn default() -> Self {
        NodeEvents {
            enabled: AtomicBool::new(true),
            allowances: Mutex::new(HashMap::new()),
            sequence: AtomicU64::new(0),
        }
    }
}

/// Argo's `nodeEvents` setting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Setting {
    enabled: Option<bool>,
    /// Argo's option to send pods' events on the pod: not built, so accepted only as false.
    send_as_pod: Option<bool>,
}

/// Whether `cm` turns node events on (absent: on, Argo's default); `Err` says what is wrong.
pub(super) fn parse(cm: Option<&k8s_openapi::api::core::v1::ConfigMap>) -> Result<bool, String> {
    let Some(text) = cm.and_then(|cm| cm.data.as_ref()).and_then(|d| d.get(KEY)) else {
        return Ok(true);
    };
    let refused = |e: &dyn std::fmt::Display| {
        format!("ConfigMap {} key {KEY}: {e}", super::images::CONFIG_MAP)
    };
    flotilla_engine::bounded_yaml::within_budget(text).map_err(|e| refused(&e))?;
    let setting: Option<Setting> = serde_yaml::from_str(text).map_err(|e| refused(&e))?;
    let setting = setting.unwrap_or(Setting {
        enabled: None,
        send_as_pod: None,
    });
    if setting.send_as_pod == Some(true) {
        return Err(refused(&"sendAsPod is not supported by Flotilla"));
    }
    Ok(setting.enabled.unwrap_or(true))
}

/// Puts the `nodeEvents` setting of `cm` (absent: on) in force.
pub(super) async fn apply(ctx: &Context, cm: Option<&k8s_openapi::api::core::v1::ConfigMap>) {
    match parse(cm) {
        Ok(enabled) => {
            info!(enabled, "node events setting loaded");
            ctx.node_events.enabled.store(enabled, Ordering::Relaxed);
        }
        Err(message) => {
            let message = format!("{message}; keeping the last good setting");
            warn!(error = %message, "invalid nodeEvents setting");
            if let Some(cm) = cm {
                super::events::warn_on(ctx, cm, "InvalidNodeEvents", &message).await;
            }
        }
    }
}

impl NodeEvents {
    /// How many of `wanted` events the workflow `uid` may send now (and takes them).
    fn take(&self, uid: &str, wanted: usize, now: Instant) -> usize {
        let mut allowances = self.allowances.lock();
        let grown = |(left, at): (f64, Instant)| {
            let back = now.saturating_duration_since(at).as_secs_f64() / REFILL.as_secs_f64();
            (left + back).min(BURST)
        };
        if allowances.len() >= REMEMBERED && !allowances.contains_key(uid) {
            allowances.retain(|_, entry| grown(*entry) < BURST);
        }
        let left = allowances.get(uid).copied().map_or(BURST, grown);
        let taken = (left.floor() as usize).min(wanted);
        allowances.insert(uid.to_string(), (left - taken as f64, now));
        taken
    }
}

/// Sends a decision's node events about `wf`, within its allowance.
pub(super) async fn publish(ctx: &Context, wf: &Workflow, events: &[NodeEvent]) {
    if events.is_empty() || !ctx.node_events.enabled.load(Ordering::Relaxed) {
        return;
    }
    let uid = wf.metadata.uid.clone().unwrap_or_default();
    let allowed = ctx.node_events.take(&uid, events.len(), Instant::now());
    let namespace = wf.metadata.namespace.clone().unwrap_or_default();
    let name = wf.metadata.name.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(ctx.client.clone(), &namespace);
    for event in &events[..allowed] {
        let now = jiff::Timestamp::now();
        let sequence = ctx.node_events.sequence.fetch_add(1, Ordering::Relaxed);
        let unique = u64::try_from(now.as_nanosecond()).unwrap_or_default() ^ sequence;
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{unique:x}")),
                namespace: Some(namespace.clone()),
                annotations: Some(BTreeMap::from([
                    (NODE_NAME.to_string(), event.node_name.clone()),
                    (NODE_TYPE.to_string(), event.node_type.clone()),
                ])),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("argoproj.io/v1alpha1".into()),
                kind: Some("Workflow".into()),
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                uid: Some(uid.clone()),
                resource_version: wf.metadata.resource_version.clone(),
                ..Default::default()
            },
            reason: Some(event.reason.clone()),
            message: Some(event.message.clone()),
            type_: Some(if event.warning { "Warning" } else { "Normal" }.into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            source: Some(EventSource {
                component: Some(super::reporter(None).controller),
                host: None,
            }),
            reporting_component: Some(super::reporter(None).controller),
            reporting_instance: ctx.leadership.identity().map(str::to_owned),
            ..Default::default()
        };
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            warn!(error = %e, "recording a node event failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_map(data: &str) -> k8s_openapi::api::core::v1::ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": super::super::images::CONFIG_MAP, "namespace": "argo"},
            "data": {"nodeEvents": data},
        }))
        .unwrap()
    }

    #[test]
    fn the_setting_is_read_as_argo_writes_it() {
        assert_eq!(parse(None), Ok(true));
        assert_eq!(parse(Some(&config_map("enabled: false\n"))), Ok(false));
        assert_eq!(parse(Some(&config_map("enabled: true\n"))), Ok(true));
        let refused = parse(Some(&config_map("enabled: true\nsendAsPod: true\n"))).unwrap_err();
        assert!(refused.contains("sendAsPod"), "{refused}");
        let refused = parse(Some(&config_map("enabld: false\n"))).unwrap_err();
        assert!(
            refused.contains("key nodeEvents") && refused.contains("enabld"),
            "{refused}"
        );
    }

    #[test]
    fn a_workflow_sends_a_burst_then_one_event_every_five_minutes() {
        let events = NodeEvents::default();
        let start = Instant::now();
        assert_eq!(events.take("a", 30, start), 25);
        assert_eq!(events.take("a", 1, start), 0);
        // Another workflow has its own allowance.
        assert_eq!(events.take("b", 3, start), 3);
        assert_eq!(events.take("a", 5, start + REFILL), 1);
        assert_eq!(events.take("a", 30, start + REFILL * 100), 25);
    }
}
