//! RFC 6902 JSON patch as the API server applies it.
//!
//! The body is first decoded the way the API server's field validation decodes it (into
//! `[]handlers.jsonPatchOp`), which is where 400s come from; each operation is then applied
//! with the `json-patch` crate, one at a time, and a failure is reported as a 422 in the
//! wording of `gopkg.in/evanphx/json-patch.v4`, which the API server uses — worked out from
//! the document as it stood before the failing operation.
//!
//! Not reproduced from the Go library: negative array indices (an extension it enables) and
//! paths that do not start with `/` (which it resolves by ignoring their first segment) are
//! refused as missing paths.

use json_patch::jsonptr::PointerBuf;
use json_patch::{
    AddOperation, CopyOperation, MoveOperation, PatchErrorKind, PatchOperation, RemoveOperation,
    ReplaceOperation, TestOperation,
};
use serde_json::{Map, Value};

use super::golang::json_kind;
use super::{MAX_JSON_PATCH_OPERATIONS, PatchError};

/// Applies a JSON patch body to `doc`.
pub(super) fn apply(mut doc: Value, body: &[u8]) -> Result<Value, PatchError> {
    let operations = decode(body)?;
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_JSON_PATCH_OPERATIONS,
            count: operations.len(),
        });
    }
    let mut copied = 0usize;
    for operation in &operations {
        apply_one(&mut doc, operation.as_ref(), &mut copied)?;
    }
    Ok(doc)
}

/// What the copies of one patch may add up to (the API server's `AccumulatedCopySizeLimit`):
/// a value copied into itself doubles with each operation.
const MAX_COPIED_BYTES: usize = 3 * 1024 * 1024;

/// Refuses an operation that would nest the document deeper than [`super::MAX_DEPTH`] (`value`
/// put at `path`), checked before it is carried out: operations name their paths in strings,
/// so no decoder bounds how deep they build — and a document too deep could not even be
/// dropped without overflowing the stack.
fn check_depth(path: &PointerBuf, value: &Value) -> Result<(), PatchError> {
    let depth = path.tokens().count() + super::depth(value);
    if depth > super::MAX_DEPTH {
        return Err(invalid(format!(
            "the patched object would be nested deeper than {} levels",
            super::MAX_DEPTH
        )));
    }
    Ok(())
}

/// Decodes the body as `[]jsonPatchOp{op, path, from string; value interface{}}`: an array
/// (or `null`) of objects (or `null`s) whose `op`/`path`/`from` are strings when present.
fn decode(body: &[u8]) -> Result<Vec<Option<Map<String, Value>>>, PatchError> {
    let malformed =
        |detail: String| PatchError::Malformed(format!("error decoding patch: {detail}"));
    let value: Value = serde_json::from_slice(body).map_err(|err| malformed(err.to_string()))?;
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(malformed(format!(
                "json: cannot unmarshal {} into Go value of type []handlers.jsonPatchOp",
                json_kind(&other)
            )));
        }
    };
    let mut operations = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Null => operations.push(None),
            Value::Object(map) => {
                for field in ["op", "path", "from"] {
                    match map.get(field) {
                        None | Some(Value::Null | Value::String(_)) => {}
                        Some(other) => {
                            return Err(malformed(format!(
                                "json: cannot unmarshal {} into Go struct field jsonPatchOp.{field} of type string",
                                json_kind(other)
                            )));
                        }
                    }
                }
                operations.push(Some(map));
            }
            other => {
                return Err(malformed(format!(
                    "json: cannot unmarshal {} into Go value of type handlers.jsonPatchOp",
                    json_kind(&other)
                )));
            }
        }
    }
    Ok(operations)
}

fn invalid(message: String) -> PatchError {
    PatchError::Invalid(message)
}

fn string_field<'a>(operation: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    operation.get(field).and_then(Value::as_str)
}

/// Applies one decoded operation, with evanphx/json-patch's checks and messages.
fn apply_one(
    doc: &mut Value,
    operation: Option<&Map<String, Value>>,
    copied: &mut usize,
) -> Result<(), PatchError> {
    let Some(operation) = operation else {
        return Err(invalid("Unexpected kind: unknown".to_owned()));
    };
    let kind = string_field(operation, "op").unwrap_or("unknown");
    let path = string_field(operation, "path");
    let from = string_field(operation, "from");
    let value = operation.get("value").cloned().unwrap_or(Value::Null);
    let op = match kind {
        "add" => {
            let path = path.ok_or_else(|| {
                invalid("add operation failed to decode path: missing value".into())
            })?;
            let Some(ptr) = pointer(path).filter(|p| !p.is_root()) else {
                return Err(invalid(format!(
                    "add operation does not apply: doc is missing path: \"{path}\": missing value"
                )));
            };
            check_depth(&ptr, &value)?;
            PatchOperation::Add(AddOperation { path: ptr, value })
        }
        "remove" => {
            let path = path.ok_or_else(|| {
                invalid("remove operation failed to decode path: missing value".into())
            })?;
            let Some(ptr) = pointer(path).filter(|p| !p.is_root()) else {
                return Err(invalid(format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": missing value"
                )));
            };
            PatchOperation::Remove(RemoveOperation { path: ptr })
        }
        "replace" => {
            let path = path.ok_or_else(|| {
                invalid("replace operation failed to decode path: operation missing path field: missing value".into())
            })?;
            if path.is_empty() {
                // The whole document is replaced by an object or array; any other value is a
                // silent no-op in the Go library (it wraps a nil error).
                if value.is_object() || value.is_array() {
                    *doc = value;
                }
                return Ok(());
            }
            let Some(ptr) = pointer(path) else {
                return Err(invalid(format!(
                    "replace operation does not apply: doc is missing path: {path}: missing value"
                )));
            };
            check_depth(&ptr, &value)?;
            PatchOperation::Replace(ReplaceOperation { path: ptr, value })
        }
        "test" => {
            let path = path.ok_or_else(|| {
                invalid("test operation failed to decode path: operation missing path field: missing value".into())
            })?;
            let Some(ptr) = pointer(path) else {
                return Err(invalid(format!(
                    "test operation does not apply: is missing path: {path}: missing value"
                )));
            };
            PatchOperation::Test(TestOperation { path: ptr, value })
        }
        "move" | "copy" => {
            let from = from.ok_or_else(|| {
                invalid(format!("{kind} operation failed to decode from: operation, missing from field: missing value"))
            })?;
            let Some(from_ptr) = pointer(from).filter(|p| !p.is_root()) else {
                return Err(invalid(format!(
                    "{kind} operation does not apply: doc is missing from path: {from}: missing value"
                )));
            };
            let path = path.ok_or_else(|| {
                invalid(if kind == "move" {
                    "move operation failed to decode path: operation missing path field: missing value".to_owned()
                } else {
                    "copy operation failed to decode path: missing value".to_owned()
                })
            })?;
            let Some(ptr) = pointer(path).filter(|p| !p.is_root()) else {
                return Err(invalid(format!(
                    "{kind} operation does not apply: doc is missing destination path: {path}: missing value"
                )));
            };
            if let Some(source) = doc.pointer(from) {
                check_depth(&ptr, source)?;
                if kind == "copy" {
                    *copied += serde_json::to_vec(source).map_or(0, |b| b.len());
                    if *copied > MAX_COPIED_BYTES {
                        return Err(invalid(format!(
                            "Unable to complete the copy, the accumulated size increase of copy is {copied}, exceeding the limit {MAX_COPIED_BYTES}"
                        )));
                    }
                }
            }
            if kind == "move" {
                PatchOperation::Move(MoveOperation {
                    from: from_ptr,
                    path: ptr,
                })
            } else {
                PatchOperation::Copy(CopyOperation {
                    from: from_ptr,
                    path: ptr,
                })
            }
        }
        other => return Err(invalid(format!("Unexpected kind: {other}"))),
    };
    match json_patch::patch(doc, std::slice::from_ref(&op)) {
        Ok(()) => Ok(()),
        // A failed single-operation patch leaves `doc` as it was before the operation.
        Err(err) => Err(invalid(go_message(doc, &op, &err.kind))),
    }
}

fn pointer(path: &str) -> Option<PointerBuf> {
    PointerBuf::parse(path).ok()
}

/// Where an operation's target sits, as evanphx's `findObject` + container lookup see it;
/// the strings are the decoded last path token.
enum Target {
    /// The parent does not exist or is not an object/array.
    MissingParent,
    /// Parent is an object without the key.
    MissingKey(String),
    /// Parent is an array and the token is not a number.
    BadIndex(String),
    /// Parent is an array and the index is outside it.
    OutOfRange(String),
    Present,
}

fn locate(doc: &Value, path: &PointerBuf) -> Target {
    let Some((parent, last)) = path.split_back() else {
        return Target::MissingParent;
    };
    let token = last.decoded().into_owned();
    match doc.pointer(parent.as_str()) {
        Some(Value::Object(map)) if map.contains_key(&token) => Target::Present,
        Some(Value::Object(_)) => Target::MissingKey(token),
        Some(Value::Array(items)) => match token.parse::<usize>() {
            Ok(index) if index < items.len() => Target::Present,
            Ok(_) => Target::OutOfRange(token),
            Err(_) => Target::BadIndex(token),
        },
        _ => Target::MissingParent,
    }
}

/// The message evanphx/json-patch v4 gives for the failure the crate reported.
fn go_message(doc: &Value, op: &PatchOperation, kind: &PatchErrorKind) -> String {
    let invalid_index =
        |idx: &str| format!("Unable to access invalid index: {idx}: invalid index referenced");
    let atoi = |idx: &str| format!("strconv.Atoi: parsing \"{idx}\": invalid syntax");
    match op {
        PatchOperation::Add(AddOperation { path, .. }) => match locate(doc, path) {
            Target::BadIndex(idx) => format!(
                "error in add for path: '{path}': value was not a proper array index: '{idx}': {}",
                atoi(&idx)
            ),
            Target::OutOfRange(idx) => {
                format!("error in add for path: '{path}': {}", invalid_index(&idx))
            }
            _ => format!(
                "add operation does not apply: doc is missing path: \"{path}\": missing value"
            ),
        },
        PatchOperation::Remove(RemoveOperation { path }) => match locate(doc, path) {
            Target::MissingKey(key) => format!(
                "error in remove for path: '{path}': unable to remove nonexistent key: {key}: missing value"
            ),
            Target::BadIndex(idx) => format!("error in remove for path: '{path}': {}", atoi(&idx)),
            Target::OutOfRange(idx) => format!(
                "error in remove for path: '{path}': {}",
                invalid_index(&idx)
            ),
            _ => format!(
                "remove operation does not apply: doc is missing path: \"{path}\": missing value"
            ),
        },
        PatchOperation::Replace(ReplaceOperation { path, .. }) => match locate(doc, path) {
            Target::MissingParent => {
                format!(
                    "replace operation does not apply: doc is missing path: {path}: missing value"
                )
            }
            _ => format!(
                "replace operation does not apply: doc is missing key: {path}: missing value"
            ),
        },
        PatchOperation::Test(TestOperation { path, .. }) => match (kind, locate(doc, path)) {
            (PatchErrorKind::TestFailed, _) | (_, Target::MissingKey(_) | Target::Present) => {
                format!("testing value {path} failed: test failed")
            }
            (_, Target::BadIndex(idx)) => {
                format!("error in test for path: '{path}': {}", atoi(&idx))
            }
            (_, Target::OutOfRange(idx)) => {
                format!("error in test for path: '{path}': {}", invalid_index(&idx))
            }
            (_, Target::MissingParent) => {
                format!("test operation does not apply: is missing path: {path}: missing value")
            }
        },
        PatchOperation::Move(MoveOperation { from, path }) => match (kind, locate(doc, from)) {
            (PatchErrorKind::InvalidFromPointer, Target::MissingKey(key)) => {
                format!(
                    "error in move for path: '{key}': unable to get nonexistent key: {key}: missing value"
                )
            }
            (PatchErrorKind::InvalidFromPointer, Target::OutOfRange(idx)) => {
                format!("error in move for path: '{idx}': {}", invalid_index(&idx))
            }
            (PatchErrorKind::InvalidFromPointer, Target::BadIndex(idx)) => {
                format!("error in move for path: '{idx}': {}", atoi(&idx))
            }
            (PatchErrorKind::InvalidFromPointer, _) => {
                format!(
                    "move operation does not apply: doc is missing from path: {from}: missing value"
                )
            }
            _ => format!(
                "move operation does not apply: doc is missing destination path: {path}: missing value"
            ),
        },
        PatchOperation::Copy(CopyOperation { from, path }) => match (kind, locate(doc, from)) {
            (PatchErrorKind::InvalidFromPointer, Target::MissingKey(key)) => format!(
                "error in copy for from: '{from}': unable to get nonexistent key: {key}: missing value"
            ),
            (PatchErrorKind::InvalidFromPointer, Target::OutOfRange(idx)) => {
                format!("error in copy for from: '{from}': {}", invalid_index(&idx))
            }
            (PatchErrorKind::InvalidFromPointer, Target::BadIndex(idx)) => {
                format!("error in copy for from: '{from}': {}", atoi(&idx))
            }
            (PatchErrorKind::InvalidFromPointer, _) => {
                format!(
                    "copy operation does not apply: doc is missing from path: {from}: missing value"
                )
            }
            _ => match locate(doc, path) {
                Target::OutOfRange(idx) | Target::BadIndex(idx) => {
                    format!(
                        "error while adding value during copy: {}",
                        invalid_index(&idx)
                    )
                }
                _ => format!(
                    "copy operation does not apply: doc is missing destination path: {path}: missing value"
                ),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::apply;
    use crate::patch::PatchError;

    /// `ops` applied to `{"data": data}`.
    fn patched(data: Value, ops: &[Value]) -> Result<Value, PatchError> {
        apply(json!({ "data": data }), &serde_json::to_vec(ops).unwrap())
    }

    #[test]
    fn a_json_patch_may_not_nest_an_object_without_bound() {
        // Each operation adds one level below the last: paths are strings, so no decoder limit
        // stops them.
        let mut path = String::from("/data");
        let ops: Vec<Value> = (0..1001)
            .map(|_| {
                path.push_str("/a");
                json!({"op": "add", "path": path.clone(), "value": {}})
            })
            .collect();
        let err = patched(json!({}), &ops).unwrap_err();
        assert_eq!(err.status_code(), 422);
        assert!(
            err.to_string().contains("nested deeper than 1000 levels"),
            "{err}"
        );
    }

    #[test]
    fn copies_that_double_a_value_are_stopped_at_the_accumulated_limit() {
        // Each copy puts the whole `data` under itself: it doubles every time.
        let ops: Vec<Value> = (0..30)
            .map(|i| json!({"op": "copy", "from": "/data", "path": format!("/data/c{i}")}))
            .collect();
        let err = patched(json!({"v": "x".repeat(1024)}), &ops).unwrap_err();
        assert_eq!(err.status_code(), 422);
        assert!(
            err.to_string()
                .contains("the accumulated size increase of copy is"),
            "{err}"
        );
    }
}
