//! Events: one storage, two APIs.
//!
//! Kubernetes serves the same Event objects as core `v1` `events` and as `events.k8s.io/v1`
//! `events`. kube-rs's `Recorder` writes the latter; `kubectl get events` and
//! `kubectl describe` read the former. Storage keeps the core v1 form; these pure functions
//! convert between the shapes as `pkg/apis/events/v1/conversion.go` does (through the
//! internal type, so each field has exactly one counterpart), validate as
//! `pkg/apis/core/validation/events.go` does (on the core form, with core field paths, exactly
//! like the real server). Field selectors on events (both APIs) are answered by `selector`.
//!
//! Output is shaped like Go's JSON encoding of the typed object: fields Go always writes
//! (`involvedObject`, `source`, `firstTimestamp: null`, `reportingComponent: ""`, ...) are
//! always present and `omitempty` fields are omitted when empty, so clients that require
//! them (k8s-openapi's core `Event` requires `involvedObject`) decode what we serve.
//! Nested object references and metadata pass through as given; unknown top-level fields
//! are dropped, as decoding into the Go type drops them.

mod validate;

use serde_json::{Map, Value};

pub(crate) use validate::{validate_create, validate_update};

/// `apiVersion` of the core form, which storage holds.
pub(crate) const CORE_API_VERSION: &str = "v1";
/// `apiVersion` of the events.k8s.io form.
pub(crate) const EVENTS_API_VERSION: &str = "events.k8s.io/v1";

/// The API a request came through; validation depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventApi {
    /// `/api/v1/.../events`: legacy validation only.
    Core,
    /// `/apis/events.k8s.io/v1/.../events`: strict validation on create and update.
    EventsV1,
}

/// The internal `core.Event`: every field of both shapes, each under one name.
#[derive(Debug, Default)]
struct Internal {
    metadata: Value,
    involved_object: Value,
    reason: Value,
    message: Value,
    source: Value,
    first_timestamp: Value,
    last_timestamp: Value,
    count: Value,
    type_: Value,
    event_time: Value,
    series: Value,
    action: Value,
    related: Value,
    reporting_controller: Value,
    reporting_instance: Value,
}

fn into_map(obj: Value) -> Map<String, Value> {
    match obj {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Internal {
    fn from_core(obj: Value) -> Self {
        let mut m = into_map(obj);
        let mut take = |key: &str| m.remove(key).unwrap_or(Value::Null);
        Self {
            metadata: take("metadata"),
            involved_object: take("involvedObject"),
            reason: take("reason"),
            message: take("message"),
            source: take("source"),
            first_timestamp: take("firstTimestamp"),
            last_timestamp: take("lastTimestamp"),
            count: take("count"),
            type_: take("type"),
            event_time: take("eventTime"),
            series: take("series"),
            action: take("action"),
            related: take("related"),
            reporting_controller: take("reportingComponent"),
            reporting_instance: take("reportingInstance"),
        }
    }

    fn from_events_v1(obj: Value) -> Self {
        let mut m = into_map(obj);
        let mut take = |key: &str| m.remove(key).unwrap_or(Value::Null);
        Self {
            metadata: take("metadata"),
            involved_object: take("regarding"),
            reason: take("reason"),
            message: take("note"),
            source: take("deprecatedSource"),
            first_timestamp: take("deprecatedFirstTimestamp"),
            last_timestamp: take("deprecatedLastTimestamp"),
            count: take("deprecatedCount"),
            type_: take("type"),
            event_time: take("eventTime"),
            series: take("series"),
            action: take("action"),
            related: take("related"),
            reporting_controller: take("reportingController"),
            reporting_instance: take("reportingInstance"),
        }
    }

    /// Core v1 JSON in the field order and `omitempty` behaviour of `k8s.io/api/core/v1.Event`.
    fn into_core(self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), "Event".into());
        m.insert("apiVersion".into(), CORE_API_VERSION.into());
        always(&mut m, "metadata", self.metadata, Value::Object(Map::new()));
        always(
            &mut m,
            "involvedObject",
            self.involved_object,
            Value::Object(Map::new()),
        );
        omit_empty(&mut m, "reason", self.reason);
        omit_empty(&mut m, "message", self.message);
        m.insert("source".into(), event_source(self.source));
        always(&mut m, "firstTimestamp", self.first_timestamp, Value::Null);
        always(&mut m, "lastTimestamp", self.last_timestamp, Value::Null);
        omit_empty(&mut m, "count", self.count);
        omit_empty(&mut m, "type", self.type_);
        always(&mut m, "eventTime", self.event_time, Value::Null);
        omit_null(&mut m, "series", series(self.series, false));
        omit_empty(&mut m, "action", self.action);
        omit_null(&mut m, "related", self.related);
        always(
            &mut m,
            "reportingComponent",
            self.reporting_controller,
            Value::from(""),
        );
        always(
            &mut m,
            "reportingInstance",
            self.reporting_instance,
            Value::from(""),
        );
        Value::Object(m)
    }

    /// events.k8s.io/v1 JSON as `k8s.io/api/events/v1.Event` encodes.
    fn into_events_v1(self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), "Event".into());
        m.insert("apiVersion".into(), EVENTS_API_VERSION.into());
        always(&mut m, "metadata", self.metadata, Value::Object(Map::new()));
        always(&mut m, "eventTime", self.event_time, Value::Null);
        omit_null(&mut m, "series", series(self.series, true));
        omit_empty(&mut m, "reportingController", self.reporting_controller);
        omit_empty(&mut m, "reportingInstance", self.reporting_instance);
        omit_empty(&mut m, "action", self.action);
        omit_empty(&mut m, "reason", self.reason);
        always(
            &mut m,
            "regarding",
            self.involved_object,
            Value::Object(Map::new()),
        );
        omit_null(&mut m, "related", self.related);
        omit_empty(&mut m, "note", self.message);
        omit_empty(&mut m, "type", self.type_);
        m.insert("deprecatedSource".into(), event_source(self.source));
        always(
            &mut m,
            "deprecatedFirstTimestamp",
            self.first_timestamp,
            Value::Null,
        );
        always(
            &mut m,
            "deprecatedLastTimestamp",
            self.last_timestamp,
            Value::Null,
        );
        omit_empty(&mut m, "deprecatedCount", self.count);
        Value::Object(m)
    }
}

/// Go's zero value test for `omitempty` scalars: absent, null, `""`, `0`, `false`.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn always(m: &mut Map<String, Value>, key: &str, v: Value, default: Value) {
    m.insert(key.to_owned(), if v.is_null() { default } else { v });
}

fn omit_empty(m: &mut Map<String, Value>, key: &str, v: Value) {
    if !is_empty(&v) {
        m.insert(key.to_owned(), v);
    }
}

fn omit_null(m: &mut Map<String, Value>, key: &str, v: Value) {
    if !v.is_null() {
        m.insert(key.to_owned(), v);
    }
}

/// `EventSource` (both `omitempty`); always an object, `{}` when unset.
fn event_source(v: Value) -> Value {
    match v {
        Value::Null => Value::Object(Map::new()),
        Value::Object(mut src) => {
            let mut out = Map::new();
            omit_empty(
                &mut out,
                "component",
                src.remove("component").unwrap_or(Value::Null),
            );
            omit_empty(&mut out, "host", src.remove("host").unwrap_or(Value::Null));
            Value::Object(out)
        }
        other => other,
    }
}

/// `EventSeries`: core omits a zero count; events.k8s.io/v1 always writes both fields.
fn series(v: Value, events_v1: bool) -> Value {
    match v {
        Value::Object(mut s) => {
            let mut out = Map::new();
            let count = s.remove("count").unwrap_or(Value::Null);
            if events_v1 {
                always(&mut out, "count", count, Value::from(0));
            } else {
                omit_empty(&mut out, "count", count);
            }
            always(
                &mut out,
                "lastObservedTime",
                s.remove("lastObservedTime").unwrap_or(Value::Null),
                Value::Null,
            );
            Value::Object(out)
        }
        other => other,
    }
}

/// An events.k8s.io/v1 Event in the core v1 form storage keeps (`Convert_v1_Event_To_core_Event`).
pub(crate) fn from_events_v1(obj: Value) -> Value {
    Internal::from_events_v1(obj).into_core()
}

/// A stored core v1 Event as events.k8s.io/v1 serves it (`Convert_core_Event_To_v1_Event`).
pub(crate) fn to_events_v1(obj: &Value) -> Value {
    Internal::from_core(obj.clone()).into_events_v1()
}

/// A core v1 Event as the server would store and return it after decoding it into the Go type
/// (defaults written, empty `omitempty` fields and unknown top-level fields dropped).
pub(crate) fn normalize_core(obj: Value) -> Value {
    Internal::from_core(obj).into_core()
}

#[cfg(test)]
mod tests;
