//! Event validation as `pkg/apis/core/validation/events.go` does it: legacy checks for every
//! event, strict checks for objects created or updated through events.k8s.io/v1. Like the real
//! server it runs on the core form (after [`super::from_events_v1`]) and reports core field
//! paths (`message`, `involvedObject.namespace`) whichever API the request used.
//!
//! Run it after the server has generated `metadata.name` from `generateName` and set
//! `metadata.namespace` from the URL, as kube-apiserver does before calling the strategy. The
//! strict path includes `ValidateObjectMeta` with DNS-subdomain names; the legacy path has no
//! metadata checks of its own (the generic ones still apply to every create).

use serde_json::Value;

use super::{EventApi, normalize_core};
use crate::validation::{
    FieldError, NameRule, is_dns1123_subdomain, is_qualified_name, validate_object_meta,
};

const REPORTING_INSTANCE_LENGTH_LIMIT: usize = 128;
const ACTION_LENGTH_LIMIT: usize = 128;
const REASON_LENGTH_LIMIT: usize = 128;
const NOTE_LENGTH_LIMIT: usize = 1024;

/// `ValidateEventCreate` on a core-form event.
pub(crate) fn validate_create(event: &Value, api: EventApi) -> Vec<FieldError> {
    let mut errs = legacy_validate(event);
    if api == EventApi::Core {
        return errs;
    }
    errs.extend(validate_object_meta(
        event.get("metadata").unwrap_or(&Value::Null),
        NameRule::Subdomain,
        true,
    ));
    validate_series(event, &mut errs);
    if is_zero_time(event.get("eventTime")) {
        errs.push(FieldError::required("eventTime", ""));
    }
    let type_ = text(event, "type");
    if type_ != "Normal" && type_ != "Warning" {
        errs.push(FieldError::invalid(
            "type",
            "".into(),
            format!("has invalid value: {type_}"),
        ));
    }
    if !is_zero_time(event.get("firstTimestamp")) {
        errs.push(FieldError::invalid(
            "firstTimestamp",
            "".into(),
            "needs to be unset",
        ));
    }
    if !is_zero_time(event.get("lastTimestamp")) {
        errs.push(FieldError::invalid(
            "lastTimestamp",
            "".into(),
            "needs to be unset",
        ));
    }
    if !event
        .get("count")
        .is_none_or(|c| c.is_null() || c.as_f64() == Some(0.0))
    {
        errs.push(FieldError::invalid("count", "".into(), "needs to be unset"));
    }
    let source = |key: &str| {
        event
            .get("source")
            .and_then(|s| s.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    if !source("component").is_empty() || !source("host").is_empty() {
        errs.push(FieldError::invalid(
            "source",
            "".into(),
            "needs to be unset",
        ));
    }
    errs
}

/// `ValidateEventUpdate` on core-form events: through events.k8s.io/v1 almost every field is
/// immutable. Fields are compared after normalisation, so an absent field equals its zero value.
pub(crate) fn validate_update(new: &Value, old: &Value, api: EventApi) -> Vec<FieldError> {
    let mut errs = legacy_validate(new);
    if api == EventApi::Core {
        return errs;
    }
    let new_n = normalize_core(new.clone());
    let old_n = normalize_core(old.clone());
    if new_n.get("series") != old_n.get("series") {
        validate_series(new, &mut errs);
    }
    // The same list as Kubernetes, including `reason` twice.
    let immutable = [
        ("involvedObject", "involvedObject"),
        ("reason", "reason"),
        ("message", "message"),
        ("source", "source"),
        ("firstTimestamp", "firstTimestamp"),
        ("lastTimestamp", "lastTimestamp"),
        ("count", "count"),
        ("reason", "reason"),
        ("type", "type"),
        ("eventTime", "eventTime"),
        ("action", "action"),
        ("related", "related"),
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
    ];
    for (key, path) in immutable {
        let (new_v, old_v) = (new_n.get(key), old_n.get(key));
        if new_v != old_v {
            errs.push(FieldError::invalid(
                path,
                new_v.cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
    }
    errs
}

/// `legacyValidateEvent`: namespace agreement, and for new-style events (with `eventTime`) the
/// reporting fields, action and reason.
fn legacy_validate(event: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let namespace = event
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let involved_ns = event
        .get("involvedObject")
        .and_then(|o| o.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            involved_ns.into(),
            "does not match event.namespace",
        )
    };
    if is_zero_time(event.get("eventTime")) {
        let agrees = if involved_ns.is_empty() {
            namespace.is_empty() || namespace == "default"
        } else {
            namespace == involved_ns
        };
        if !agrees {
            errs.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            errs.push(mismatch());
        }
        let controller = text(event, "reportingComponent");
        if controller.is_empty() {
            errs.push(FieldError::required("reportingController", ""));
        }
        for msg in is_qualified_name(controller) {
            errs.push(FieldError::invalid(
                "reportingController",
                controller.into(),
                msg,
            ));
        }
        for (key, path, limit) in [
            (
                "reportingInstance",
                "reportingInstance",
                REPORTING_INSTANCE_LENGTH_LIMIT,
            ),
            ("action", "action", ACTION_LENGTH_LIMIT),
            ("reason", "reason", REASON_LENGTH_LIMIT),
        ] {
            let value = text(event, key);
            if value.is_empty() {
                errs.push(FieldError::required(path, ""));
            }
            if value.len() > limit {
                errs.push(FieldError::invalid(
                    path,
                    "".into(),
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if text(event, "message").len() > NOTE_LENGTH_LIMIT {
            errs.push(FieldError::invalid(
                "message",
                "".into(),
                format!("can have at most {NOTE_LENGTH_LIMIT} characters"),
            ));
        }
    }
    for msg in is_dns1123_subdomain(namespace) {
        errs.push(FieldError::invalid("namespace", namespace.into(), msg));
    }
    errs
}

/// `validateV1EventSeries`.
fn validate_series(event: &Value, errs: &mut Vec<FieldError>) {
    let Some(series) = event.get("series").filter(|s| !s.is_null()) else {
        return;
    };
    if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
        errs.push(FieldError::invalid(
            "series.count",
            "".into(),
            "should be at least 2",
        ));
    }
    if is_zero_time(series.get("lastObservedTime")) {
        errs.push(FieldError::required("series.lastObservedTime", ""));
    }
}

fn text<'v>(event: &'v Value, key: &str) -> &'v str {
    event.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A `metav1.Time`/`MicroTime` that Go would decode to the zero time.
fn is_zero_time(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty() || s.starts_with("0001-01-01T00:00:00"),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::from_events_v1;
    use crate::validation::ErrorType;

    /// What kube-rs's `Recorder` posts to events.k8s.io/v1, already converted to core form.
    fn recorder_event() -> Value {
        from_events_v1(json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": { "name": "wf-1.17f3a2b4c5d6e7f8", "namespace": "argo" },
            "eventTime": "2025-01-02T03:04:05.123456Z",
            "reportingController": "flotilla-controller", "reportingInstance": "flotilla-controller",
            "action": "Reconcile", "reason": "WorkflowRunning", "type": "Normal",
            "regarding": { "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf-1",
                           "namespace": "argo", "uid": "u-1" },
            "note": "workflow started",
        }))
    }

    fn fields(errs: &[FieldError]) -> Vec<(&str, ErrorType)> {
        errs.iter().map(|e| (e.field.as_str(), e.kind)).collect()
    }

    #[test]
    fn recorder_event_is_valid_through_both_apis() {
        let ev = recorder_event();
        assert_eq!(validate_create(&ev, EventApi::EventsV1), vec![]);
        assert_eq!(validate_create(&ev, EventApi::Core), vec![]);
    }

    #[test]
    fn strict_create_requires_the_new_style_fields() {
        let ev = from_events_v1(json!({ "metadata": { "name": "e", "namespace": "argo" },
                                        "regarding": { "namespace": "argo" } }));
        let errs = validate_create(&ev, EventApi::EventsV1);
        assert_eq!(
            fields(&errs),
            vec![
                ("eventTime", ErrorType::Required),
                ("type", ErrorType::Invalid)
            ]
        );
        assert_eq!(errs[1].detail, "has invalid value: ");
        // The same object through core v1 passes: it is a legacy event.
        assert_eq!(validate_create(&ev, EventApi::Core), vec![]);

        let mut ev = recorder_event();
        for key in [
            "reportingComponent",
            "reportingInstance",
            "action",
            "reason",
        ] {
            ev[key] = json!("");
        }
        ev["type"] = json!("Info");
        let errs = validate_create(&ev, EventApi::EventsV1);
        assert_eq!(
            fields(&errs),
            vec![
                ("reportingController", ErrorType::Required),
                ("reportingController", ErrorType::Invalid),
                ("reportingController", ErrorType::Invalid),
                ("reportingInstance", ErrorType::Required),
                ("action", ErrorType::Required),
                ("reason", ErrorType::Required),
                ("type", ErrorType::Invalid),
            ]
        );
        assert_eq!(errs[1].detail, "name part must be non-empty");
        assert!(
            errs[2]
                .detail
                .starts_with("name part must consist of alphanumeric characters")
        );
        assert_eq!(errs[6].detail, "has invalid value: Info");
    }

    #[test]
    fn strict_create_forbids_deprecated_fields_and_checks_series() {
        let mut ev = recorder_event();
        ev["firstTimestamp"] = json!("2025-01-02T03:04:05Z");
        ev["lastTimestamp"] = json!("2025-01-02T03:04:05Z");
        ev["count"] = json!(3);
        ev["source"] = json!({ "component": "x" });
        ev["series"] = json!({ "count": 1 });
        let errs = validate_create(&ev, EventApi::EventsV1);
        assert_eq!(
            fields(&errs),
            vec![
                ("series.count", ErrorType::Invalid),
                ("series.lastObservedTime", ErrorType::Required),
                ("firstTimestamp", ErrorType::Invalid),
                ("lastTimestamp", ErrorType::Invalid),
                ("count", ErrorType::Invalid),
                ("source", ErrorType::Invalid),
            ]
        );
        assert!(
            errs[2..]
                .iter()
                .all(|e| e.detail == "needs to be unset" && e.value == Some(json!("")))
        );
        assert_eq!(errs[0].detail, "should be at least 2");
        // Legacy creation through core v1 accepts all of that.
        assert_eq!(validate_create(&ev, EventApi::Core), vec![]);
    }

    #[test]
    fn legacy_namespace_agreement() {
        let legacy = |ns: &str, involved_ns: &str| json!({ "metadata": { "name": "e", "namespace": ns }, "involvedObject": { "namespace": involved_ns } });
        assert_eq!(
            validate_create(&legacy("argo", "argo"), EventApi::Core),
            vec![]
        );
        assert_eq!(
            validate_create(&legacy("default", ""), EventApi::Core),
            vec![]
        );
        let errs = validate_create(&legacy("argo", "other"), EventApi::Core);
        assert_eq!(
            errs,
            vec![FieldError::invalid(
                "involvedObject.namespace",
                json!("other"),
                "does not match event.namespace"
            )]
        );
        assert_eq!(
            fields(&validate_create(&legacy("argo", ""), EventApi::Core)),
            vec![("involvedObject.namespace", ErrorType::Invalid)]
        );
        // New-style events about cluster-scoped objects live in default or kube-system.
        let mut ev = recorder_event();
        ev["involvedObject"]["namespace"] = json!("");
        assert_eq!(
            fields(&validate_create(&ev, EventApi::Core)),
            vec![("involvedObject.namespace", ErrorType::Invalid)]
        );
        ev["metadata"]["namespace"] = json!("kube-system");
        assert_eq!(validate_create(&ev, EventApi::Core), vec![]);
        // The namespace itself must be a DNS subdomain.
        let errs = validate_create(&legacy("Bad_NS", "Bad_NS"), EventApi::Core);
        assert_eq!(fields(&errs), vec![("namespace", ErrorType::Invalid)]);
    }

    #[test]
    fn length_limits() {
        let mut ev = recorder_event();
        ev["reason"] = json!("r".repeat(129));
        ev["action"] = json!("a".repeat(128));
        ev["message"] = json!("m".repeat(1025));
        let errs = validate_create(&ev, EventApi::Core);
        assert_eq!(
            fields(&errs),
            vec![
                ("reason", ErrorType::Invalid),
                ("message", ErrorType::Invalid)
            ]
        );
        assert_eq!(errs[0].detail, "can have at most 128 characters");
        assert_eq!(errs[1].detail, "can have at most 1024 characters");
    }

    #[test]
    fn strict_create_validates_the_name() {
        let mut ev = recorder_event();
        ev["metadata"]["name"] = json!("Not_A_Subdomain");
        let errs = validate_create(&ev, EventApi::EventsV1);
        assert_eq!(fields(&errs), vec![("metadata.name", ErrorType::Invalid)]);
        assert!(
            errs[0]
                .detail
                .starts_with("a lowercase RFC 1123 subdomain must consist of")
        );
        assert_eq!(
            validate_create(&ev, EventApi::Core),
            vec![],
            "core v1 does not check event names"
        );
        ev["metadata"] = json!({ "namespace": "argo", "generateName": "flotilla-" });
        assert_eq!(
            fields(&validate_create(&ev, EventApi::EventsV1)),
            vec![("metadata.name", ErrorType::Required)]
        );
    }

    #[test]
    fn strict_update_keeps_fields_immutable_but_allows_series() {
        let old = recorder_event();
        let mut new = old.clone();
        new["series"] = json!({ "count": 2, "lastObservedTime": "2025-01-02T03:05:00.000000Z" });
        assert_eq!(validate_update(&new, &old, EventApi::EventsV1), vec![]);
        new["series"] = json!({ "count": 1 });
        assert_eq!(
            fields(&validate_update(&new, &old, EventApi::EventsV1)),
            vec![
                ("series.count", ErrorType::Invalid),
                ("series.lastObservedTime", ErrorType::Required)
            ]
        );
        let mut new = old.clone();
        new["message"] = json!("changed");
        new["reason"] = json!("Other");
        new["reportingComponent"] = json!("someone-else");
        let errs = validate_update(&new, &old, EventApi::EventsV1);
        assert_eq!(
            fields(&errs),
            vec![
                ("reason", ErrorType::Invalid),
                ("message", ErrorType::Invalid),
                ("reason", ErrorType::Invalid),
                ("reportingController", ErrorType::Invalid),
            ]
        );
        assert_eq!(errs[1].value, Some(json!("changed")));
        assert!(errs.iter().all(|e| e.detail == "field is immutable"));
        // Through core v1 anything goes as long as the legacy checks pass.
        assert_eq!(validate_update(&new, &old, EventApi::Core), vec![]);
    }

    #[test]
    fn reporting_controller_is_a_qualified_name() {
        let mut ev = recorder_event();
        ev["reportingComponent"] = json!("flotilla.dev/controller");
        assert_eq!(validate_create(&ev, EventApi::EventsV1), vec![]);
        ev["reportingComponent"] = json!("a/b/c");
        let errs = validate_create(&ev, EventApi::EventsV1);
        assert_eq!(
            fields(&errs),
            vec![("reportingController", ErrorType::Invalid)]
        );
        assert_eq!(errs[0].value, Some(json!("a/b/c")));
        assert!(
            errs[0]
                .detail
                .starts_with("a qualified name must consist of alphanumeric characters")
        );
    }
}
