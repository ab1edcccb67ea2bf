//! Tests for the patch module: what `kubectl apply` / `kubectl patch` / kube-rs send, and
//! the API server's answers, including its error wording and status codes.

use serde_json::{Value, json};

use super::golang::{fmt_v, slice_stable};
use super::{PatchError, PatchType, apply_patch};

mod json_patch;
mod strategic;

fn smp(kind: &str, original: &Value, patch: Value) -> Result<Value, PatchError> {
    let body = serde_json::to_vec(&patch).unwrap();
    apply_patch(PatchType::StrategicMerge, "", kind, original.clone(), &body)
}

fn pod_smp(original: &Value, patch: Value) -> Value {
    smp("Pod", original, patch).unwrap()
}

fn live_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web", "tier": "frontend"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            "finalizers": ["example.com/a", "example.com/b"],
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "u1"}
            ]
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1",
                    "env": [
                        {"name": "A", "value": "1"},
                        {"name": "B", "value": "2"},
                        {"name": "C", "value": "3"}
                    ],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}]
                },
                {"name": "sidecar", "image": "busybox"}
            ],
            "tolerations": [{"key": "k1", "operator": "Exists"}],
            "volumes": [{"name": "data", "hostPath": {"path": "/data"}}]
        },
        "status": {"phase": "Running"}
    })
}

// ---------------------------------------------------------------- content types

#[test]
fn content_type_parameters_are_ignored_but_the_type_must_match_exactly() {
    assert_eq!(
        PatchType::from_content_type("application/json-patch+json"),
        Some(PatchType::Json)
    );
    assert_eq!(
        PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
        Some(PatchType::Merge)
    );
    assert_eq!(
        PatchType::from_content_type("application/strategic-merge-patch+json"),
        Some(PatchType::StrategicMerge)
    );
    assert_eq!(
        PatchType::from_content_type("application/apply-patch+yaml"),
        Some(PatchType::Apply)
    );
    assert_eq!(PatchType::from_content_type("application/json"), None);
    assert_eq!(
        PatchType::from_content_type("Application/Merge-Patch+json"),
        None
    );
    assert_eq!(
        PatchType::from_content_type(" application/merge-patch+json"),
        None
    );
    assert_eq!(
        PatchType::from_content_type(";application/merge-patch+json"),
        None
    );
}

// ---------------------------------------------------------------- merge patch

#[test]
fn merge_patch_nulls_delete_and_lists_are_replaced() {
    let body = br#"{"metadata":{"labels":{"tier":null,"new":"x"}},"spec":{"containers":[{"name":"only"}]}}"#;
    let out = apply_patch(
        PatchType::Merge,
        "argoproj.io",
        "Workflow",
        live_pod(),
        body,
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"app": "web", "new": "x"}));
    assert_eq!(out["spec"]["containers"], json!([{"name": "only"}]));
    assert_eq!(
        out["spec"]["tolerations"],
        live_pod()["spec"]["tolerations"]
    );
}

#[test]
fn merge_patch_body_errors_are_400() {
    let err = apply_patch(PatchType::Merge, "", "Pod", live_pod(), b"null").unwrap_err();
    assert!(matches!(&err, PatchError::Malformed(m) if m == "Invalid JSON Patch"));
    let err = apply_patch(PatchType::Merge, "", "Pod", live_pod(), b"[]").unwrap_err();
    assert!(matches!(&err, PatchError::Malformed(m)
        if m == "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"));
    let err = apply_patch(PatchType::Merge, "", "Pod", live_pod(), b"{\"a\":").unwrap_err();
    assert!(matches!(&err, PatchError::Malformed(m) if m.starts_with("error decoding patch: ")));
    assert_eq!(err.to_status()["reason"], json!("BadRequest"));
    assert_eq!(err.to_status()["code"], json!(400));
}

// ---------------------------------------------------------------- Go-isms

#[test]
fn go_value_formatting() {
    assert_eq!(
        fmt_v(&json!({"b": [1, "x"], "a": null, "c": true})),
        "map[a:<nil> b:[1 x] c:true]"
    );
    assert_eq!(fmt_v(&json!(1.5)), "1.5");
    assert_eq!(fmt_v(&json!(2.0)), "2");
    assert_eq!(fmt_v(&json!(123456.0)), "123456");
    assert_eq!(fmt_v(&json!(1234567.0)), "1.234567e+06");
    assert_eq!(fmt_v(&json!(0.00001)), "1e-05");
    assert_eq!(fmt_v(&json!(0.0001)), "0.0001");
}

#[test]
fn go_stable_sort_matches_a_stable_sort_for_consistent_comparators() {
    // Pseudo-random keys with many duplicates, long enough to exercise symMerge.
    let mut seed: u32 = 7;
    let items: Vec<(u32, usize)> = (0..203)
        .map(|i| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((seed >> 16) % 17, i)
        })
        .collect();
    let mut ours = items.clone();
    slice_stable(&mut ours, |a, b| a.0 < b.0);
    let mut expected = items;
    expected.sort_by_key(|item| item.0);
    assert_eq!(ours, expected);
}

#[test]
fn go_stable_sort_tolerates_inconsistent_comparators_like_go() {
    // Go's insertion sort with an always-true comparator reverses a block.
    let mut small: Vec<u32> = (0..5).collect();
    slice_stable(&mut small, |_, _| true);
    assert_eq!(small, [4, 3, 2, 1, 0]);
    let mut large: Vec<u32> = (0..100).collect();
    slice_stable(&mut large, |_, _| true);
    let mut sorted = large.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<u32>>());
}
