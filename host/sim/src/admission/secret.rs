//! Secrets and ConfigMaps: `stringData`, key rules, size limits, immutability.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::validation::FieldError;

/// Secrets and ConfigMaps hold at most 1 MiB of data.
const MAX_DATA_BYTES: usize = 1024 * 1024;

/// `stringData` is write-only: merged into `data` (base64) and dropped, as the API server does.
/// `type` defaults to `Opaque` on every write (`SetDefaults_Secret`), with or without
/// `stringData`: a Secret created from `data` alone is `Opaque` too, so a later patch that adds
/// `stringData` does not read as a change of type.
pub(super) fn merge_string_data(obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    let kind = root.entry("type").or_insert(Value::Null);
    if kind.is_null() || kind == "" {
        *kind = json!("Opaque");
    }
    let Some(Value::Object(string_data)) = root.remove("stringData") else {
        return;
    };
    let data = root
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default();
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

fn is_config_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k != "."
        && k != ".."
        && !k.starts_with("..")
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn check_keys(
    map: Option<&Map<String, Value>>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> usize {
    let mut size = 0;
    for (k, v) in map.into_iter().flatten() {
        size += v.as_str().map_or(0, str::len);
        if !is_config_key(k) {
            errors.push(FieldError::invalid(
                format!("{field}[{k}]"),
                Value::String(k.clone()),
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ));
        }
    }
    size
}

pub(super) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let size = check_keys(
        obj.get("data").and_then(Value::as_object),
        "data",
        &mut errors,
    );
    // `data` is base64 text; the limit applies to decoded bytes (~3/4 of the text).
    if size / 4 * 3 > MAX_DATA_BYTES {
        errors.push(FieldError::too_long("data", MAX_DATA_BYTES));
    }
    errors
}

pub(super) fn validate_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if old.get("type") != new.get("type") {
        errors.push(FieldError::invalid(
            "type",
            new.get("type").cloned().unwrap_or(Value::Null),
            "field is immutable",
        ));
    }
    if old.get("immutable") == Some(&Value::Bool(true)) && (old.get("data") != new.get("data")) {
        errors.push(FieldError::forbidden(
            "data",
            "field is immutable when `immutable` is set",
        ));
    }
    errors
}

pub(super) fn validate_config_map(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut size = check_keys(
        obj.get("data").and_then(Value::as_object),
        "data",
        &mut errors,
    );
    size += check_keys(
        obj.get("binaryData").and_then(Value::as_object),
        "binaryData",
        &mut errors,
    );
    if size > MAX_DATA_BYTES {
        errors.push(FieldError::too_long("", MAX_DATA_BYTES));
    }
    errors
}
