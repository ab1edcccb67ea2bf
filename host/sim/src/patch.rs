//! PATCH semantics of the Kubernetes API server, as pure functions over JSON.
//!
//! The simulator accepts the three patch content types a real API server accepts for
//! built-in kinds:
//!
//! - `application/json-patch+json` (RFC 6902), applied with the `json-patch` crate one
//!   operation at a time so failures can be reported in the wording of the Go library the
//!   API server uses (`gopkg.in/evanphx/json-patch.v4`), see [`json`];
//! - `application/merge-patch+json` (RFC 7386), applied with `json_patch::merge`;
//! - `application/strategic-merge-patch+json`, a port of apimachinery's
//!   `pkg/util/strategicpatch` server-side merge (see [`strategic`]) driven by the patch
//!   metadata table in [`schema`] — the Go struct tags `patchStrategy` / `patchMergeKey`.
//!
//! Server-side apply (`application/apply-patch+yaml`) merges under field ownership and is
//! the field manager's ([`crate::fieldmanager`]); the write handler sends it there.
//!
//! Status codes follow `k8s.io/apiserver/pkg/endpoints/handlers/patch.go`: body decoding
//! errors are 400, JSON-patch operation failures 422, strategic-merge errors the mix that
//! `interpretStrategicMergePatchError` produces (400 / 422 / plain 500), and strategic merge
//! on a kind without Go struct metadata (custom resources) 415.

mod golang;
mod json;
pub(crate) mod schema;
mod strategic;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};

/// The patch formats a PATCH request may carry, named by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// `application/json-patch+json`: an RFC 6902 list of operations.
    Json,
    /// `application/merge-patch+json`: an RFC 7386 merge document.
    Merge,
    /// `application/strategic-merge-patch+json`: Kubernetes' strategic merge patch.
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply ([`crate::fieldmanager::apply`]).
    Apply,
}

impl PatchType {
    /// Maps a `Content-Type` header value to a patch type.
    ///
    /// Like the API server, everything from the first `;` on (e.g. `; charset=utf-8`) is
    /// ignored and the rest must match exactly (case and whitespace included); `None` means
    /// the server answers 415 listing the types it accepts.
    pub(crate) fn from_content_type(ct: &str) -> Option<PatchType> {
        let media_type = match ct.split_once(';') {
            Some((head, _)) if !head.is_empty() => head,
            _ => ct,
        };
        match media_type {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Why a patch could not be applied. Each variant maps to one HTTP status and Status
/// `reason`; [`PatchError::to_status`] renders the exact `metav1.Status` body Kubernetes sends.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PatchError {
    /// 400 BadRequest: the body could not be decoded as the declared patch type.
    #[error("{0}")]
    Malformed(String),
    /// 422 Invalid: the patch is well-formed but cannot be applied (a JSON-patch `test`
    /// failed, a path is missing, ...). Kubernetes answers with the generic message
    /// "the server rejected our request due to an error in our request" and puts this text
    /// in `details.causes[0].message` with reason `UnexpectedServerResponse`.
    #[error("{0}")]
    Invalid(String),
    /// 413 RequestEntityTooLarge: a JSON patch with more than 10000 operations.
    #[error("The allowed maximum operations in a JSON patch is {max}, got {count}")]
    TooManyOperations { max: usize, count: usize },
    /// 500 with an empty reason (`StatusReasonUnknown`): strategic-merge failures that
    /// apimachinery reports as plain Go errors, which the API server renders verbatim as
    /// 500s (e.g. "map: map[image:nginx] does not contain declared merge key: name").
    #[error("{0}")]
    ServerError(String),
    /// 415 UnsupportedMediaType: strategic merge patch on a kind without Go struct patch
    /// metadata — custom resources, exactly as the real API server refuses it.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )]
    UnsupportedForKind { group: String, kind: String },
}

/// The most operations one JSON patch may carry (apiserver `maxJSONPatchOperations`).
pub(crate) const MAX_JSON_PATCH_OPERATIONS: usize = 10000;

impl PatchError {
    /// The HTTP status code the API server answers with.
    pub(crate) fn status_code(&self) -> u16 {
        match self {
            PatchError::Malformed(_) => 400,
            PatchError::Invalid(_) => 422,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::ServerError(_) => 500,
            PatchError::UnsupportedForKind { .. } => 415,
        }
    }

    /// The `metav1.Status` reason; empty for [`PatchError::ServerError`] (`StatusReasonUnknown`).
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            PatchError::Malformed(_) => "BadRequest",
            PatchError::Invalid(_) => "Invalid",
            PatchError::TooManyOperations { .. } => "RequestEntityTooLarge",
            PatchError::ServerError(_) => "",
            PatchError::UnsupportedForKind { .. } => "UnsupportedMediaType",
        }
    }

    /// The full `metav1.Status` body, field for field as the API server encodes it
    /// (`errors.NewBadRequest`, `errors.NewGenericServerResponse(422, ...)`,
    /// `errors.NewRequestEntityTooLargeError`, `ErrorToAPIStatus` for plain errors).
    pub(crate) fn to_status(&self) -> Value {
        let mut status = Map::new();
        status.insert("kind".into(), json!("Status"));
        status.insert("apiVersion".into(), json!("v1"));
        status.insert("metadata".into(), json!({}));
        status.insert("status".into(), json!("Failure"));
        let message = match self {
            PatchError::Invalid(_) => {
                "the server rejected our request due to an error in our request".to_owned()
            }
            PatchError::TooManyOperations { .. } => format!("Request entity too large: {self}"),
            other => other.to_string(),
        };
        status.insert("message".into(), Value::String(message));
        let reason = self.reason();
        if !reason.is_empty() {
            status.insert("reason".into(), json!(reason));
        }
        if let PatchError::Invalid(detail) = self {
            status.insert(
                "details".into(),
                json!({"causes": [{"reason": "UnexpectedServerResponse", "message": detail}]}),
            );
        }
        status.insert("code".into(), json!(self.status_code()));
        Value::Object(status)
    }
}

/// Applies a PATCH body to the stored object `original` of the given API group and kind,
/// returning the patched object. `original` is not modified.
///
/// The result is the merged JSON only: the caller still decodes/validates it, keeps
/// immutable fields, and bumps `resourceVersion`, as the API server does after patching.
pub(crate) fn apply_patch(
    patch_type: PatchType,
    group: &str,
    kind: &str,
    original: Value,
    body: &[u8],
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Json => json::apply(original, body),
        PatchType::Merge => apply_merge(original, body),
        PatchType::StrategicMerge => {
            // The 415 comes from the handler's content-type check, before the body is read.
            let schema =
                schema::lookup(group, kind).ok_or_else(|| PatchError::UnsupportedForKind {
                    group: group.to_owned(),
                    kind: kind.to_owned(),
                })?;
            let patch = decode_patch_map(body, "")?.unwrap_or_default();
            strategic::apply(original, patch, schema)
        }
        // Applies merge under field ownership; the handler never sends one here.
        PatchType::Apply => Err(PatchError::ServerError(
            "an apply patch is merged by the field manager".to_owned(),
        )),
    }
}

/// How deep a patched object may be nested: every walk over objects (ownership, encoding)
/// recurses, so depth is bounded where it could grow.
const MAX_DEPTH: usize = 1000;

/// How deeply `value` is nested, counted without recursion.
pub(super) fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((value, level)) = stack.pop() {
        deepest = deepest.max(level);
        match value {
            Value::Object(map) => stack.extend(map.values().map(|v| (v, level + 1))),
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, level + 1))),
            _ => {}
        }
    }
    deepest
}

/// RFC 7386 merge patch. The body is first decoded as the API server's field validation
/// does (into a `map[string]interface{}`, so only an object or `null` gets through), then
/// `null` is refused by the merge library as "Invalid JSON Patch".
fn apply_merge(mut doc: Value, body: &[u8]) -> Result<Value, PatchError> {
    let patch = decode_patch_map(body, "error decoding patch: ")?
        .ok_or_else(|| PatchError::Malformed("Invalid JSON Patch".to_owned()))?;
    json_patch::merge(&mut doc, &Value::Object(patch));
    Ok(doc)
}

/// Decodes a patch body that must be a JSON object; `Ok(None)` for a literal `null`.
/// Errors are 400s carrying `prefix` and Go's `encoding/json` wording for type mismatches.
fn decode_patch_map(body: &[u8], prefix: &str) -> Result<Option<Map<String, Value>>, PatchError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| PatchError::Malformed(format!("{prefix}{err}")))?;
    match value {
        Value::Object(map) => Ok(Some(map)),
        Value::Null => Ok(None),
        other => Err(PatchError::Malformed(format!(
            "{prefix}json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            golang::json_kind(&other)
        ))),
    }
}
