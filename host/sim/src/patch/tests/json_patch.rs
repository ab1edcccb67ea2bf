//! JSON patch (RFC 6902): operations, failed tests, missing targets, bad bodies, the limit.

use super::*;

fn json_patch(original: Value, ops: Value) -> Result<Value, PatchError> {
    apply_patch(
        PatchType::Json,
        "",
        "Pod",
        original,
        &serde_json::to_vec(&ops).unwrap(),
    )
}

#[test]
fn json_patch_add_replace_remove_test() {
    let ops = json!([
        {"op": "test", "path": "/metadata/name", "value": "web"},
        {"op": "add", "path": "/metadata/labels/new", "value": "x"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:2"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/z"},
        {"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/application"},
        {"op": "copy", "from": "/metadata/name", "path": "/metadata/annotations/copied"}
    ]);
    let out = json_patch(live_pod(), ops).unwrap();
    assert_eq!(
        out["metadata"]["labels"],
        json!({"new": "x", "application": "web"})
    );
    assert_eq!(out["spec"]["containers"][0]["image"], json!("nginx:2"));
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["example.com/a", "example.com/b", "example.com/z"])
    );
    assert_eq!(out["metadata"]["annotations"]["copied"], json!("web"));
}

#[test]
fn json_patch_failing_test_is_invalid_with_the_go_message() {
    let ops = json!([
        {"op": "add", "path": "/metadata/labels/new", "value": "x"},
        {"op": "test", "path": "/metadata/resourceVersion", "value": "42"}
    ]);
    let err = json_patch(live_pod(), ops).unwrap_err();
    assert!(
        matches!(&err, PatchError::Invalid(m) if m == "testing value /metadata/resourceVersion failed: test failed")
    );
    assert_eq!(
        err.to_status(),
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server rejected our request due to an error in our request",
            "reason": "Invalid",
            "details": {"causes": [{
                "reason": "UnexpectedServerResponse",
                "message": "testing value /metadata/resourceVersion failed: test failed"
            }]},
            "code": 422
        })
    );
    let err = json_patch(
        live_pod(),
        json!([{"op": "test", "path": "/metadata/name", "value": "db"}]),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "testing value /metadata/name failed: test failed"
    );
}

#[test]
fn json_patch_missing_targets_use_the_go_messages() {
    let cases = [
        (
            json!({"op": "add", "path": "/metadata/nope/x", "value": 1}),
            "add operation does not apply: doc is missing path: \"/metadata/nope/x\": missing value",
        ),
        (
            json!({"op": "remove", "path": "/metadata/labels/nope"}),
            "error in remove for path: '/metadata/labels/nope': unable to remove nonexistent key: nope: missing value",
        ),
        (
            json!({"op": "remove", "path": "/metadata/finalizers/7"}),
            "error in remove for path: '/metadata/finalizers/7': Unable to access invalid index: 7: invalid index referenced",
        ),
        (
            json!({"op": "replace", "path": "/metadata/labels/nope", "value": 1}),
            "replace operation does not apply: doc is missing key: /metadata/labels/nope: missing value",
        ),
        (
            json!({"op": "replace", "path": "/nope/x", "value": 1}),
            "replace operation does not apply: doc is missing path: /nope/x: missing value",
        ),
        (
            json!({"op": "test", "path": "/nope/x", "value": 1}),
            "test operation does not apply: is missing path: /nope/x: missing value",
        ),
        (
            json!({"op": "move", "from": "/nope/x", "path": "/metadata/x"}),
            "move operation does not apply: doc is missing from path: /nope/x: missing value",
        ),
        (
            json!({"op": "frobnicate", "path": "/x"}),
            "Unexpected kind: frobnicate",
        ),
        (json!({"path": "/x"}), "Unexpected kind: unknown"),
        (
            json!({"op": "add", "value": 1}),
            "add operation failed to decode path: missing value",
        ),
        (
            json!({"op": "add", "path": "", "value": {}}),
            "add operation does not apply: doc is missing path: \"\": missing value",
        ),
    ];
    for (op, message) in cases {
        let err = json_patch(live_pod(), json!([op])).unwrap_err();
        assert!(
            matches!(&err, PatchError::Invalid(m) if m == message),
            "{op}: {err:?}"
        );
        assert_eq!(err.status_code(), 422);
    }
}

#[test]
fn json_patch_malformed_bodies_are_400() {
    let err = json_patch(live_pod(), json!({"op": "add"})).unwrap_err();
    assert!(matches!(&err, PatchError::Malformed(m)
        if m == "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"));
    let err = json_patch(live_pod(), json!([{"op": "add", "path": 5, "value": 1}])).unwrap_err();
    assert!(matches!(&err, PatchError::Malformed(m)
        if m == "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string"));
    let err = json_patch(live_pod(), json!(["add"])).unwrap_err();
    assert_eq!(err.status_code(), 400);
    let err = apply_patch(PatchType::Json, "", "Pod", live_pod(), b"[{").unwrap_err();
    assert_eq!(err.status_code(), 400);
    // An empty or null operation list is a no-op.
    assert_eq!(json_patch(live_pod(), json!([])).unwrap(), live_pod());
    assert_eq!(json_patch(live_pod(), Value::Null).unwrap(), live_pod());
}

#[test]
fn json_patch_operation_limit_is_413() {
    let ops = Value::Array(vec![
        json!({"op": "test", "path": "/kind", "value": "Pod"});
        10001
    ]);
    let err = json_patch(live_pod(), ops).unwrap_err();
    assert_eq!(err.status_code(), 413);
    assert_eq!(
        err.to_status()["message"],
        json!(
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
        )
    );
    let ops = Value::Array(vec![
        json!({"op": "test", "path": "/kind", "value": "Pod"});
        10000
    ]);
    assert!(json_patch(live_pod(), ops).is_ok());
}
