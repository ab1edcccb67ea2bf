//! Server-side strategic merge patch: a port of apimachinery's
//! `strategicpatch.StrategicMergeMapPatch` (`mergeMap` with `MergeParallelList` and
//! `IgnoreUnmatchedNulls`), including its directives (`$patch`, `$retainKeys`,
//! `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`), its ordering rules and its
//! errors, with the HTTP classes `interpretStrategicMergePatchError` gives them.
//!
//! Faithfulness notes: patch keys are processed in map order (Go's is random; it only
//! matters for patches that touch the same list twice), and a field unknown to the
//! [`schema`] table is treated as untagged rather than rejected, so unknown fields are kept
//! as the patch gives them (the real server drops or rejects them when decoding).

use serde_json::{Map, Value};

use super::PatchError;
use super::golang::{fmt_s, fmt_v, type_name};
use super::schema::{self, Strategy, Struct};

mod order;

use order::{normalize_element_order, partition, validate_patch_with_set_order_list};

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

// mergepatch sentinel errors, with the status class the API server maps them to.
fn err_bad_patch_format_for_primitive_list() -> PatchError {
    PatchError::Malformed("invalid patch format of primitive list".to_owned())
}
fn err_bad_patch_format_for_retain_keys() -> PatchError {
    PatchError::Malformed("invalid patch format of retainKeys".to_owned())
}
fn err_bad_patch_format_for_set_element_order_list() -> PatchError {
    PatchError::Malformed("invalid patch format of setElementOrder list".to_owned())
}
fn err_patch_content_not_match_retain_keys() -> PatchError {
    PatchError::Invalid("patch content doesn't match retainKeys list".to_owned())
}
fn err_no_list_of_lists() -> PatchError {
    PatchError::Invalid("lists of lists are not supported".to_owned())
}
fn err_no_merge_key(map: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::ServerError(format!(
        "map: {} does not contain declared merge key: {key}",
        fmt_v(&Value::Object(map.clone()))
    ))
}
fn err_bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::ServerError(format!(
        "expected a {expected}, but received a {}",
        type_name(actual)
    ))
}
fn err_bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    PatchError::ServerError(format!(
        "unknown patch type: {} in map: {}",
        fmt_s(directive),
        fmt_v(&Value::Object(map.clone()))
    ))
}
fn err_not_a_map(index: usize) -> PatchError {
    PatchError::ServerError(format!("value for key {index} is not a map."))
}

const MAP_TYPE: &str = "map[string]interface {}";
const SLICE_TYPE: &str = "[]interface {}";

/// Applies a strategic merge `patch` to `original` (a stored object) using the patch
/// metadata `table` of its kind.
pub(super) fn apply(
    original: Value,
    patch: Map<String, Value>,
    table: Struct,
) -> Result<Value, PatchError> {
    let Value::Object(original) = original else {
        return Err(PatchError::Malformed("invalid JSON document".to_owned()));
    };
    merge_map(original, patch, table).map(Value::Object)
}

/// `mergeMap`: merges `patch` into `original`, both objects of the struct described by `table`.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    table: Struct,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            // The rest of the patch replaces the object as is.
            Some(REPLACE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
                Ok(patch)
            }
            Some(DELETE_DIRECTIVE) => Ok(Map::new()),
            _ => Err(err_bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order_lists(&mut original, &mut patch, table)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            Some(_) => (
                extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)
                    .ok_or_else(err_bad_patch_format_for_primitive_list)?
                    .to_owned(),
                true,
            ),
            None => (key, false),
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        // Absent from the original (this includes a deletion list for a missing field, which
        // Kubernetes stores as the field's value): take the patch value as is.
        let Some(original_value) = original.remove(&key) else {
            original.insert(key, patch_value);
            continue;
        };
        let (strategy, fields) = schema::field(table, &key);
        let merged = match (original_value, patch_value) {
            (Value::Object(o), Value::Object(p)) => Value::Object(merge_map(o, p, fields)?),
            (Value::Array(o), Value::Array(p)) => {
                Value::Array(merge_list_field(o, p, strategy, fields, is_delete_list)?)
            }
            // Different types, or primitives: the patch value wins.
            (_, p) => p,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// `extractKey`: the list name after `<prefix>/`, `None` when the key is not of that form.
fn extract_key<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let (head, rest) = key.split_once('/')?;
    (head == prefix).then_some(rest)
}

/// `applyRetainKeysDirective`: drops the original's fields missing from `$retainKeys`,
/// after checking every non-null patch field is listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(err_bad_patch_format_for_retain_keys());
    };
    let listed = |key: &str| retain.iter().any(|v| v.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !listed(key) {
            return Err(err_patch_content_not_match_retain_keys());
        }
    }
    original.retain(|key, _| listed(key));
    Ok(())
}

/// `mergePatchIntoOriginal`: merges each list that has a `$setElementOrder/<list>` directive
/// and orders it as the directive says (server-only elements keep their relative places).
fn merge_set_element_order_lists(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    table: Struct,
) -> Result<(), PatchError> {
    let directive_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive_key in directive_keys {
        let Some(order) = patch.remove(&directive_key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(err_bad_arg_type(SLICE_TYPE, &order));
        };
        let list_key = extract_key(&directive_key, SET_ELEMENT_ORDER_PREFIX)
            .ok_or_else(err_bad_patch_format_for_set_element_order_list)?;
        let original_list = match original.get(list_key) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(err_bad_arg_type(SLICE_TYPE, other)),
        };
        let patch_list = match patch.get(list_key) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(err_bad_arg_type(SLICE_TYPE, other)),
        };
        let (strategy, fields) = schema::field(table, list_key);
        let merge_key = strategy.merge_key();
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            merge_key,
        )?;

        let original_items = original_list.clone().unwrap_or_default();
        let patch_items = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => p,
            (Some(o), Some(p)) => merge_list_field(o, p, strategy, fields, false)?,
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, merge_key)?;
        let kind = element_kind(&[&original_items, &patch_items])?;
        let both = normalize_element_order(
            in_order,
            server_only,
            &order,
            &original_items,
            merge_key,
            kind,
        )?;
        original.insert(list_key.to_owned(), Value::Array(both));
        patch.remove(list_key);
    }
    Ok(())
}

/// `mergeSliceHandler`: merge lists with a merge strategy, otherwise the patch list wins.
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    strategy: Strategy,
    fields: Struct,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    match strategy {
        Strategy::Default => Ok(patch),
        Strategy::MergeKey(key) => merge_list(original, patch, fields, key, is_delete_list),
        Strategy::MergeSet => merge_list(original, patch, fields, "", is_delete_list),
    }
}

/// Element kinds as Go's `reflect.Kind` distinguishes them for list merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    Scalar(&'static str),
}

/// `sliceElementType`: all elements of all lists must share one Go type, not be lists.
fn element_kind(lists: &[&[Value]]) -> Result<Kind, PatchError> {
    let mut first: Option<&'static str> = None;
    for value in lists.iter().flat_map(|l| l.iter()) {
        let name = type_name(value);
        match first {
            None if value.is_null() => {
                // Go calls .Kind() on a nil reflect.Type here and panics; the server answers 500.
                return Err(PatchError::ServerError(
                    "runtime error: invalid memory address or nil pointer dereference".to_owned(),
                ));
            }
            None if value.is_array() => return Err(err_no_list_of_lists()),
            None => first = Some(name),
            Some(prev) if prev != name => {
                let all = Value::Array(lists.iter().map(|l| Value::Array(l.to_vec())).collect());
                return Err(PatchError::ServerError(format!(
                    "list element types are not identical: {}",
                    fmt_v(&all)
                )));
            }
            Some(_) => {}
        }
    }
    match first {
        Some(MAP_TYPE) => Ok(Kind::Map),
        Some(name) => Ok(Kind::Scalar(name)),
        None => Err(PatchError::ServerError(
            "no elements in any of the given slices".to_owned(),
        )),
    }
}

/// `mergeSlice`: merges a list with merge strategy (keyed objects or a set of primitives).
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    fields: Struct,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(&[&original, &patch])?;
    let (merged, server_order, patch) = if kind == Kind::Map {
        if merge_key.is_empty() {
            return Err(PatchError::ServerError(
                "cannot merge lists without merge key for type string".to_owned(),
            ));
        }
        let (original, patch) = apply_list_directives(original, patch, merge_key)?;
        let merged = merge_keyed_elements(original.clone(), &patch, merge_key, fields)?;
        (merged, original, patch)
    } else {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut both = original.clone();
        both.extend(patch.iter().cloned());
        (deduplicate_scalars(both), original, patch)
    };
    let (patch_items, server_only) = partition(merged, &patch, merge_key)?;
    normalize_element_order(
        patch_items,
        server_only,
        &patch,
        &server_order,
        merge_key,
        kind,
    )
}

/// `mergeSliceWithSpecialElements`: applies `$patch: delete` elements to the original and
/// handles `$patch: replace` (the list becomes the patch's plain elements). Returns the
/// updated original and the patch without directive elements.
fn apply_list_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(map) = &item else {
            return Err(err_bad_arg_type(MAP_TYPE, &item));
        };
        let Some(directive) = map.get(DIRECTIVE_MARKER) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let Some(key_value) = map.get(merge_key) else {
                    return Err(err_no_merge_key(map, merge_key));
                };
                let mut kept = Vec::with_capacity(original.len());
                for (index, element) in original.into_iter().enumerate() {
                    let Value::Object(element_map) = &element else {
                        return Err(err_not_a_map(index));
                    };
                    if element_map.get(merge_key) != Some(key_value) {
                        kept.push(element);
                    }
                }
                original = kept;
            }
            // Keep going to prune any other directive elements.
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(PatchError::ServerError(
                    "merging lists cannot yet be specified in the patch".to_owned(),
                ));
            }
            _ => return Err(err_bad_patch_type(directive, map)),
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// `findMapInSliceBasedOnKeyValue`: the index of the element whose `key` equals `value`.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (index, element) in list.iter().enumerate() {
        let Value::Object(map) = element else {
            return Err(err_not_a_map(index));
        };
        if map.get(key) == Some(value) {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// `mergeSliceWithoutSpecialElements`: merges each patch element into the original element
/// with the same merge key value, or appends it.
fn merge_keyed_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    fields: Struct,
) -> Result<Vec<Value>, PatchError> {
    for item in patch {
        let Value::Object(patch_map) = item else {
            return Err(err_bad_arg_type(MAP_TYPE, item));
        };
        let Some(key_value) = patch_map.get(merge_key) else {
            return Err(err_no_merge_key(patch_map, merge_key));
        };
        match find_by_key(&original, merge_key, key_value)? {
            Some(index) => {
                if let Some(slot) = original.get_mut(index) {
                    let Value::Object(original_map) = std::mem::take(slot) else {
                        return Err(err_not_a_map(index));
                    };
                    *slot = Value::Object(merge_map(original_map, patch_map.clone(), fields)?);
                }
            }
            None => original.push(item.clone()),
        }
    }
    Ok(original)
}

/// `deduplicateScalars`, element moves included: a duplicate is replaced by the last element.
fn deduplicate_scalars(mut items: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i < items.len() {
        let mut j = i + 1;
        while j < items.len() {
            if items.get(i) == items.get(j) {
                items.swap_remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    items
}
