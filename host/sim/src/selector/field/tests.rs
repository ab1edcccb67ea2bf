//! Field selector parsing, per-resource selectable fields and value reading from objects.

use serde_json::json;

use super::*;

fn pod() -> Value {
    json!({
        "metadata": {"name": "p1", "namespace": "ns"},
        "spec": {"nodeName": "n1", "restartPolicy": "Never"},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}], "podIP": "10.0.0.9"},
    })
}

#[test]
fn matching_table() {
    let pod = pod();
    let cases = [
        ("", true),
        ("metadata.name=p1", true),
        ("metadata.name==p1", true),
        ("metadata.name!=p1", false),
        ("metadata.name=p2", false),
        ("status.phase=Running,spec.nodeName=n1", true),
        ("status.phase=Running,spec.nodeName!=n1", false),
        ("spec.schedulerName=", true),
        ("spec.schedulerName!=", false),
        ("spec.hostNetwork=false", true),
        ("status.podIP=10.0.0.1", true),
        ("spec.host=n1", true),
        (",metadata.name=p1,", true),
        ("metadata.name=p1,metadata.name=p2", false),
    ];
    for (selector, want) in cases {
        let parsed = FieldSelector::parse(selector).unwrap_or_else(|e| panic!("{selector:?}: {e}"));
        assert_eq!(
            parsed.matches_object(&pod, "", "pods"),
            want,
            "{selector:?}"
        );
    }
}

#[test]
fn escaped_values() {
    let parsed = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
    assert_eq!(parsed.terms[0].value, r"a,b=c\d");
    let parsed = FieldSelector::parse(r"metadata.name=x\,y,status.phase=P").unwrap();
    assert_eq!(parsed.terms.len(), 2);
    let object = json!({"metadata": {"name": "x,y"}, "status": {"phase": "P"}});
    assert!(parsed.matches_object(&object, "", "pods"));
}

// Messages from apimachinery/pkg/fields/selector.go (parseSelector, UnescapeValue,
// InvalidEscapeSequence, UnescapedRune).
#[test]
fn parse_errors_use_kubernetes_wording() {
    let cases = [
        ("abc", "invalid selector: 'abc'; can't understand 'abc'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        (
            r"a=\x",
            r"invalid field selector: invalid escape sequence: \x",
        ),
        (
            r"a=\!",
            r"invalid field selector: invalid escape sequence: \!",
        ),
        (
            r"a=b\",
            r"invalid field selector: invalid escape sequence: \",
        ),
        (
            "a===b",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "a=b=c",
            "invalid field selector: unescaped character in value: 61",
        ),
    ];
    for (selector, want) in cases {
        assert_eq!(
            FieldSelector::parse(selector),
            Err(SelectorError::Field(want.into())),
            "{selector:?}"
        );
    }
}

#[test]
fn operators_split_at_first_occurrence() {
    let parsed = FieldSelector::parse("a=!b,c!=d,e==f, g =h").unwrap();
    let terms: Vec<(&str, &str, bool)> = parsed
        .terms
        .iter()
        .map(|t| (t.field.as_str(), t.value.as_str(), t.negated))
        .collect();
    // Raw terms are sorted before parsing, so " g =h" comes first.
    assert_eq!(
        terms,
        [
            (" g ", "h", false),
            ("a", "!b", false),
            ("c", "d", true),
            ("e", "f", false)
        ]
    );
}

// Messages from pkg/apis/core/v1/conversion.go, pkg/apis/batch/v1/conversion.go,
// apimachinery/pkg/runtime/conversion.go (DefaultMetaV1FieldSelectorConversion) and the
// apiextensions-apiserver crConverter.
#[test]
fn supported_fields_per_resource() {
    let check = |selector: &str, group: &str, resource: &str, namespaced: bool| {
        FieldSelector::parse(selector)
            .unwrap()
            .check_supported(group, resource, namespaced)
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        check("spec.nodeName=n,status.phase=Running", "", "pods", true),
        Ok(())
    );
    assert_eq!(check("spec.host=n", "", "pods", true), Ok(()));
    assert_eq!(
        check("spec.foo=x", "", "pods", true),
        Err("field label not supported: spec.foo".into())
    );
    assert_eq!(
        check("status.podIPs=x", "", "pods", true),
        Err("field label not supported: status.podIPs".into())
    );
    assert_eq!(
        check("metadata.namespace=x", "", "nodes", false),
        Err("field label not supported: metadata.namespace".into())
    );
    assert_eq!(check("spec.unschedulable=true", "", "nodes", false), Ok(()));
    assert_eq!(
        check(
            "status.phase=Active,metadata.name=a",
            "",
            "namespaces",
            false
        ),
        Ok(())
    );
    assert_eq!(check("type=Opaque", "", "secrets", true), Ok(()));
    assert_eq!(
        check(
            "involvedObject.name=p,source=kubelet,reportingComponent=x",
            "",
            "events",
            true
        ),
        Ok(())
    );
    assert_eq!(
        check("data.x=1", "", "configmaps", true),
        Err(
            r#""data.x" is not a known field selector: only "metadata.name", "metadata.namespace""#
                .into()
        )
    );
    assert_eq!(
        check(
            "metadata.namespace=x",
            "coordination.k8s.io",
            "leases",
            true
        ),
        Ok(())
    );
    assert_eq!(check("status.successful=1", "batch", "jobs", true), Ok(()));
    assert_eq!(
        check("spec.x=1", "batch", "jobs", true),
        Err(r#"field label "spec.x" not supported for batchv1.Job"#.into())
    );
    assert_eq!(
        check("metadata.namespace=x", "argoproj.io", "workflows", true),
        Ok(())
    );
    assert_eq!(
        check("status.phase=Running", "argoproj.io", "workflows", true),
        Err("field label not supported: status.phase".into())
    );
    assert_eq!(
        check(
            "metadata.namespace=x",
            "example.com",
            "clusterthings",
            false
        ),
        Err("field label not supported: metadata.namespace".into())
    );
    // The first unsupported field in sorted term order is reported.
    assert_eq!(
        check("z=1,b=2", "", "pods", true),
        Err("field label not supported: b".into())
    );
    let err = FieldSelector::parse("x=1")
        .unwrap()
        .check_supported("", "pods", true)
        .unwrap_err();
    assert!(matches!(err, SelectorError::UnsupportedField { ref field, .. } if field == "x"));
}

#[test]
fn selectable_field_defaults_and_aliases() {
    let empty = json!({});
    assert_eq!(
        selectable_field("", "pods", &empty, "spec.hostNetwork").as_deref(),
        Some("false")
    );
    assert_eq!(
        selectable_field("", "nodes", &empty, "spec.unschedulable").as_deref(),
        Some("false")
    );
    assert_eq!(
        selectable_field("", "replicationcontrollers", &empty, "status.replicas").as_deref(),
        Some("0")
    );
    assert_eq!(
        selectable_field(
            "batch",
            "jobs",
            &json!({"status": {"succeeded": 2}}),
            "status.successful"
        )
        .as_deref(),
        Some("2")
    );
    assert_eq!(
        selectable_field("batch", "jobs", &empty, "status.successful").as_deref(),
        Some("0")
    );
    let event = json!({"source": {"component": ""}, "reportingComponent": "ctrl"});
    assert_eq!(
        selectable_field("", "events", &event, "source").as_deref(),
        Some("ctrl")
    );
    let event = json!({"source": {"component": "kubelet"}, "reportingComponent": "ctrl"});
    assert_eq!(
        selectable_field("", "events", &event, "source").as_deref(),
        Some("kubelet")
    );
    let old_pod = json!({"status": {"podIP": "10.1.1.1"}});
    assert_eq!(
        selectable_field("", "pods", &old_pod, "status.podIP").as_deref(),
        Some("10.1.1.1")
    );
    assert_eq!(
        selectable_field("", "pods", &pod(), "spec.host").as_deref(),
        Some("n1")
    );
    assert_eq!(
        selectable_field("", "pods", &pod(), "spec.nodeName").as_deref(),
        Some("n1")
    );
}

/// An event as storage keeps it (core form); events.k8s.io requests match the same object.
fn stored_event() -> Value {
    json!({
        "metadata": {"name": "wf-1.abc", "namespace": "argo"},
        "involvedObject": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf-1",
                           "namespace": "argo", "uid": "u-1", "resourceVersion": "7", "fieldPath": "spec"},
        "reason": "WorkflowRunning",
        "message": "workflow started",
        "type": "Warning",
        "source": {"component": "workflow-controller"},
        "reportingComponent": "flotilla.dev/controller",
    })
}

// Field names from pkg/apis/core/v1/conversion.go and pkg/apis/events/v1/conversion.go
// (AddFieldLabelConversionsForEvent); values from pkg/apis/events/selection.go.
#[test]
fn event_fields_of_both_apis() {
    let event = stored_event();
    let select = |group: &str, selector: &str| -> Result<bool, String> {
        let parsed = FieldSelector::parse(selector).map_err(|e| e.to_string())?;
        parsed
            .check_supported(group, "events", true)
            .map_err(|e| e.to_string())?;
        Ok(parsed.matches_object(&event, group, "events"))
    };
    for selector in [
        "involvedObject.name=wf-1",
        "involvedObject.kind=Workflow",
        "involvedObject.uid=u-1",
        "involvedObject.fieldPath=spec",
        "reason=WorkflowRunning",
        "type=Warning",
        "source=workflow-controller",
        "reportingComponent=flotilla.dev/controller",
        "metadata.name=wf-1.abc",
        "metadata.namespace=argo",
    ] {
        assert_eq!(select("", selector), Ok(true), "{selector}");
    }
    for selector in [
        "regarding.name=wf-1",
        "regarding.kind=Workflow",
        "regarding.resourceVersion=7",
        "regarding.apiVersion=argoproj.io/v1alpha1",
        "reportingController=flotilla.dev/controller",
        "source=workflow-controller",
        "reason=WorkflowRunning",
        "type=Warning",
        "metadata.name=wf-1.abc",
    ] {
        assert_eq!(select("events.k8s.io", selector), Ok(true), "{selector}");
    }
    assert_eq!(select("events.k8s.io", "regarding.name=other"), Ok(false));
    for (group, field) in [
        ("", "message"),
        ("", "regarding.name"),
        ("events.k8s.io", "involvedObject.name"),
        ("events.k8s.io", "reportingComponent"),
        ("events.k8s.io", "regarding.bogus"),
    ] {
        assert_eq!(
            select(group, &format!("{field}=x")),
            Err(format!("field label not supported: {field}")),
            "{group} {field}"
        );
    }
    // `source` falls back to the reporting controller for new-style events.
    let recorded = json!({"source": {}, "reportingComponent": "flotilla-controller"});
    for group in ["", "events.k8s.io"] {
        assert_eq!(
            selectable_field(group, "events", &recorded, "source").as_deref(),
            Some("flotilla-controller"),
            "{group}"
        );
    }
}

#[test]
fn field_str_renders_scalars() {
    let object =
        json!({"a": {"s": "x", "n": 3, "f": 1.5, "b": true, "null": null, "o": {}, "l": []}});
    assert_eq!(field_str(&object, "a.s").as_deref(), Some("x"));
    assert_eq!(field_str(&object, "a.n").as_deref(), Some("3"));
    assert_eq!(field_str(&object, "a.f").as_deref(), Some("1.5"));
    assert_eq!(field_str(&object, "a.b").as_deref(), Some("true"));
    for path in ["a.null", "a.o", "a.l", "a.missing", "a.s.deeper", "", "a"] {
        assert_eq!(field_str(&object, path), None, "{path}");
    }
}

#[test]
fn empty_terms_select_everything() {
    assert!(FieldSelector::parse("").unwrap().terms.is_empty());
    assert!(FieldSelector::parse(",,").unwrap().terms.is_empty());
    assert!(
        FieldSelector::parse(",,")
            .unwrap()
            .matches_object(&json!({}), "", "pods")
    );
}

#[test]
fn custom_lookup_treats_missing_as_empty() {
    let parsed = FieldSelector::parse("a=,b!=x").unwrap();
    assert!(parsed.matches(|_: &str| None::<&str>));
    assert!(!parsed.matches(|f: &str| (f == "a").then(|| "1".to_owned())));
}
