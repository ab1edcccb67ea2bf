use serde_json::{Value, json};

use super::*;

/// A core v1 event with every field set to a distinct value.
fn full_core() -> Value {
    json!({
        "kind": "Event", "apiVersion": "v1",
        "metadata": { "name": "wf-1.abc", "namespace": "argo", "uid": "e-1", "resourceVersion": "42",
                      "creationTimestamp": "2025-01-02T03:04:05Z", "labels": { "a": "b" } },
        "involvedObject": { "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf-1",
                            "namespace": "argo", "uid": "u-1", "resourceVersion": "7", "fieldPath": "spec" },
        "reason": "WorkflowRunning",
        "message": "workflow started",
        "source": { "component": "workflow-controller", "host": "node-1" },
        "firstTimestamp": "2025-01-02T03:04:05Z",
        "lastTimestamp": "2025-01-02T03:05:05Z",
        "count": 3,
        "type": "Warning",
        "eventTime": "2025-01-02T03:04:05.123456Z",
        "series": { "count": 4, "lastObservedTime": "2025-01-02T03:06:00.000000Z" },
        "action": "Reconcile",
        "related": { "kind": "Pod", "name": "wf-1-main", "namespace": "argo" },
        "reportingComponent": "flotilla.dev/controller",
        "reportingInstance": "controller-0",
    })
}

/// The same event as events.k8s.io/v1 serves it.
fn full_events_v1() -> Value {
    let core = full_core();
    json!({
        "kind": "Event", "apiVersion": "events.k8s.io/v1",
        "metadata": core["metadata"],
        "eventTime": "2025-01-02T03:04:05.123456Z",
        "series": { "count": 4, "lastObservedTime": "2025-01-02T03:06:00.000000Z" },
        "reportingController": "flotilla.dev/controller",
        "reportingInstance": "controller-0",
        "action": "Reconcile",
        "reason": "WorkflowRunning",
        "regarding": core["involvedObject"],
        "related": core["related"],
        "note": "workflow started",
        "type": "Warning",
        "deprecatedSource": { "component": "workflow-controller", "host": "node-1" },
        "deprecatedFirstTimestamp": "2025-01-02T03:04:05Z",
        "deprecatedLastTimestamp": "2025-01-02T03:05:05Z",
        "deprecatedCount": 3,
    })
}

#[test]
fn every_field_has_its_counterpart() {
    assert_eq!(to_events_v1(&full_core()), full_events_v1());
    assert_eq!(from_events_v1(full_events_v1()), full_core());
}

#[test]
fn round_trips_keep_every_field() {
    assert_eq!(from_events_v1(to_events_v1(&full_core())), full_core());
    assert_eq!(
        to_events_v1(&from_events_v1(full_events_v1())),
        full_events_v1()
    );
    // Sparse objects survive too.
    let sparse = json!({ "metadata": { "name": "x", "namespace": "n" }, "reason": "R", "eventTime": "2025-01-01T00:00:00.000000Z" });
    let core = from_events_v1(sparse);
    assert_eq!(from_events_v1(to_events_v1(&core)), core);
    assert_eq!(normalize_core(core.clone()), core);
}

/// What kube-rs 5's `Recorder::publish` creates: events.k8s.io/v1 with eventTime, regarding,
/// note, reporting fields, action/reason/type, a `<name>.<hex nanos>` name and no deprecated fields.
fn recorder_event() -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": { "name": "wf-1.181e3f0a9b2c4d5e", "namespace": "argo" },
        "eventTime": "2025-01-02T03:04:05.123456Z",
        "regarding": { "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf-1",
                       "namespace": "argo", "uid": "u-1" },
        "note": "workflow started",
        "reportingController": "flotilla-controller",
        "reportingInstance": "flotilla-controller-7d9f",
        "action": "Reconcile",
        "reason": "WorkflowRunning",
        "type": "Normal",
    })
}

#[test]
fn recorder_event_becomes_what_kubectl_get_events_reads() {
    let core = from_events_v1(recorder_event());
    assert_eq!(
        core,
        json!({
            "kind": "Event", "apiVersion": "v1",
            "metadata": { "name": "wf-1.181e3f0a9b2c4d5e", "namespace": "argo" },
            "involvedObject": { "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf-1",
                                "namespace": "argo", "uid": "u-1" },
            "reason": "WorkflowRunning",
            "message": "workflow started",
            "source": {},
            "firstTimestamp": null,
            "lastTimestamp": null,
            "type": "Normal",
            "eventTime": "2025-01-02T03:04:05.123456Z",
            "action": "Reconcile",
            "reportingComponent": "flotilla-controller",
            "reportingInstance": "flotilla-controller-7d9f",
        })
    );
    assert_eq!(validate_create(&core, EventApi::EventsV1), vec![]);
    // Served back through events.k8s.io/v1 it carries Go's always-written empty fields.
    let v1 = to_events_v1(&core);
    let mut expected = recorder_event();
    expected["deprecatedSource"] = json!({});
    expected["deprecatedFirstTimestamp"] = Value::Null;
    expected["deprecatedLastTimestamp"] = Value::Null;
    assert_eq!(v1, expected);
}

#[test]
fn recorder_series_patch_round_trips() {
    // The Recorder's repeat: a merge patch carrying the whole cached event plus a series.
    let mut repeat = recorder_event();
    repeat["series"] = json!({ "count": 2, "lastObservedTime": "2025-01-02T03:09:00.000000Z" });
    let old = from_events_v1(recorder_event());
    let new = from_events_v1(repeat.clone());
    assert_eq!(new["series"], repeat["series"]);
    assert_eq!(validate_update(&new, &old, EventApi::EventsV1), vec![]);
}

#[test]
fn legacy_core_event_is_normalised_like_go_encodes_it() {
    let legacy = json!({
        "metadata": { "name": "p.1", "namespace": "default" },
        "involvedObject": { "kind": "Pod", "name": "p", "namespace": "default" },
        "reason": "Scheduled", "message": "assigned", "type": "Normal",
        "source": { "component": "default-scheduler", "host": "" },
        "firstTimestamp": "2025-01-02T03:04:05Z", "lastTimestamp": "2025-01-02T03:04:05Z", "count": 1,
        "action": "", "unknownField": true,
    });
    let core = normalize_core(legacy);
    assert_eq!(core["source"], json!({ "component": "default-scheduler" }));
    assert_eq!(core["eventTime"], Value::Null);
    assert_eq!(core["reportingComponent"], "");
    assert_eq!(core["reportingInstance"], "");
    assert!(
        core.get("action").is_none()
            && core.get("series").is_none()
            && core.get("related").is_none()
    );
    assert!(core.get("unknownField").is_none());
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["kind"], "Event");
    let v1 = to_events_v1(&core);
    assert_eq!(v1["eventTime"], Value::Null);
    assert_eq!(v1["deprecatedCount"], 1);
    assert_eq!(v1["note"], "assigned");
    assert_eq!(v1["regarding"]["name"], "p");
    assert!(v1.get("reportingController").is_none() && v1.get("reportingInstance").is_none());
    assert!(
        v1.get("involvedObject").is_none()
            && v1.get("message").is_none()
            && v1.get("source").is_none()
    );
}

#[test]
fn empty_and_non_object_input_still_yield_complete_shapes() {
    let core = from_events_v1(json!("not an object"));
    assert_eq!(
        core,
        json!({ "kind": "Event", "apiVersion": "v1", "metadata": {}, "involvedObject": {}, "source": {},
                "firstTimestamp": null, "lastTimestamp": null, "eventTime": null,
                "reportingComponent": "", "reportingInstance": "" })
    );
    let v1 = to_events_v1(&json!(null));
    assert_eq!(
        v1,
        json!({ "kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": {}, "eventTime": null,
                "regarding": {}, "deprecatedSource": {}, "deprecatedFirstTimestamp": null,
                "deprecatedLastTimestamp": null })
    );
}

#[test]
fn series_shapes_differ_per_api() {
    let core = normalize_core(
        json!({ "series": { "lastObservedTime": "2025-01-02T03:04:05.000000Z", "state": "x" } }),
    );
    assert_eq!(
        core["series"],
        json!({ "lastObservedTime": "2025-01-02T03:04:05.000000Z" })
    );
    assert_eq!(
        to_events_v1(&core)["series"],
        json!({ "count": 0, "lastObservedTime": "2025-01-02T03:04:05.000000Z" })
    );
}

#[test]
fn typed_clients_decode_both_shapes() {
    use k8s_openapi::api::core::v1::{Event as CoreEvent, ObjectReference};
    use k8s_openapi::api::events::v1::Event as EventsV1Event;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

    // kube-rs's Recorder serialises a k8s-openapi events.k8s.io/v1 Event.
    let recorded = EventsV1Event {
        metadata: ObjectMeta {
            name: Some("wf-1.181e3f0a9b2c4d5e".into()),
            namespace: Some("argo".into()),
            ..Default::default()
        },
        event_time: Some(MicroTime("2025-01-02T03:04:05.123456Z".parse().unwrap())),
        regarding: Some(ObjectReference {
            kind: Some("Workflow".into()),
            name: Some("wf-1".into()),
            namespace: Some("argo".into()),
            ..Default::default()
        }),
        note: Some("workflow started".into()),
        reporting_controller: Some("flotilla-controller".into()),
        reporting_instance: Some("flotilla-controller".into()),
        action: Some("Reconcile".into()),
        reason: Some("WorkflowRunning".into()),
        type_: Some("Normal".into()),
        ..Default::default()
    };
    let core = from_events_v1(serde_json::to_value(&recorded).unwrap());
    assert_eq!(validate_create(&core, EventApi::EventsV1), vec![]);
    // What `kubectl get events` (core v1) decodes.
    let as_core: CoreEvent = serde_json::from_value(core.clone()).unwrap();
    assert_eq!(as_core.involved_object.name.as_deref(), Some("wf-1"));
    assert_eq!(as_core.message.as_deref(), Some("workflow started"));
    assert_eq!(
        as_core.reporting_component.as_deref(),
        Some("flotilla-controller")
    );
    assert_eq!(as_core.event_time, recorded.event_time);
    assert_eq!(as_core.first_timestamp, None);
    assert_eq!(as_core.count, None);
    // And what a kube-rs client of events.k8s.io/v1 reads back.
    let back: EventsV1Event = serde_json::from_value(to_events_v1(&core)).unwrap();
    assert_eq!(back.note, recorded.note);
    assert_eq!(back.regarding, recorded.regarding);
    assert_eq!(back.event_time, recorded.event_time);
    assert_eq!(back.reporting_controller, recorded.reporting_controller);
    assert_eq!(back.deprecated_source, Some(Default::default()));
}
