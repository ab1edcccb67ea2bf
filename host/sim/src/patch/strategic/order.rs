//! Element order of merged lists: apimachinery's `normalizeElementOrder` family, which
//! places patch elements by the patch (or `$setElementOrder`) order and server-only elements
//! by their live positions, and the `$setElementOrder` consistency check.

use serde_json::Value;

use super::super::golang::{fmt_v, slice_stable};
use super::{
    DELETE_DIRECTIVE, DIRECTIVE_MARKER, Kind, MAP_TYPE, PatchError, SET_ELEMENT_ORDER_PREFIX,
    err_bad_arg_type, err_no_merge_key, find_by_key,
};

/// `partitionPrimitivesByPresentInList` / `partitionMapsByPresentInList`: splits `merged`
/// into the elements present in `by` (by merge key for objects) and the server-only rest.
pub(super) fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::with_capacity(merged.len());
    let mut server_only = Vec::with_capacity(merged.len());
    for item in merged {
        let found = if merge_key.is_empty() {
            by.contains(&item)
        } else {
            let Value::Object(map) = &item else {
                return Err(err_bad_arg_type(MAP_TYPE, &item));
            };
            let Some(key_value) = map.get(merge_key) else {
                return Err(err_no_merge_key(map, merge_key));
            };
            find_by_key(by, merge_key, key_value)?.is_some()
        };
        if found {
            present.push(item)
        } else {
            server_only.push(item)
        }
    }
    Ok((present, server_only))
}

/// `normalizeElementOrder`: sorts the patch elements by `patch_order` and the server-only
/// ones by `server_order`, then interleaves them.
pub(super) fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let patch = normalize_slice_order(patch, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted(
        server_only,
        patch,
        server_order,
        merge_key,
        kind,
    ))
}

/// `index`: position of `item` in `list`, comparing merge key values for objects (a missing
/// key compares equal to a missing key, as Go's nil interfaces do).
fn index_of(list: &[Value], item: &Value, merge_key: &str, kind: Kind) -> Option<usize> {
    let wanted = comparable(item, merge_key, kind);
    list.iter()
        .position(|v| comparable(v, merge_key, kind) == wanted)
}

/// What `index` compares: the merge key value of an object, the element itself otherwise.
fn comparable<'v>(value: &'v Value, merge_key: &str, kind: Kind) -> Option<&'v Value> {
    match kind {
        Kind::Map => value.as_object().and_then(|m| m.get(merge_key)),
        Kind::Scalar(_) => Some(value),
    }
}

/// `normalizeSliceOrder`: stable sort by position in `order` (Go's comparator, which says
/// "less" whenever either element is missing from `order`), `$patch: delete` elements last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let (mut to_sort, to_delete) = if kind == Kind::Map {
        for item in to_sort.iter().chain(order.iter()) {
            let Value::Object(map) = item else {
                return Err(err_bad_arg_type(MAP_TYPE, item));
            };
            if !map.contains_key(merge_key) {
                return Err(err_no_merge_key(map, merge_key));
            }
        }
        to_sort
            .into_iter()
            .partition::<Vec<Value>, _>(|v| !is_delete_element(v))
    } else {
        (to_sort, Vec::new())
    };
    slice_stable(&mut to_sort, |a, b| {
        match (
            index_of(order, a, merge_key, kind),
            index_of(order, b, merge_key, kind),
        ) {
            (Some(i), Some(j)) => i < j,
            _ => true,
        }
    });
    to_sort.extend(to_delete);
    Ok(to_sort)
}

fn is_delete_element(value: &Value) -> bool {
    value.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE)
}

/// `mergeSortedSlice`: inserts the server-only elements (`left`) among the patch elements
/// (`right`), keeping each side's order and using `server_order` to place them.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (index_of(server_order, l, merge_key, kind), index_of(server_order, r, merge_key, kind)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// `validatePatchWithSetOrderList`: the patch list's elements (directives aside) must
/// appear in the `$setElementOrder` list, in the same relative order.
pub(super) fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if patch_list.is_empty() || order.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut kept = Vec::with_capacity(patch_list.len());
        for item in patch_list {
            if !item.is_object() {
                return Err(err_bad_arg_type(MAP_TYPE, item));
            }
            if !is_delete_element(item) {
                kept.push(item);
            }
        }
        kept
    };
    let (mut p, mut s) = (0, 0);
    while let (Some(item), Some(ordered)) = (non_delete.get(p), order.get(s)) {
        if item.get(DIRECTIVE_MARKER).is_some() {
            p += 1;
            continue;
        }
        if merge_key_value_equal(item, ordered, merge_key)? {
            p += 1;
        }
        s += 1;
    }
    if p < non_delete.len() && s >= order.len() {
        return Err(PatchError::ServerError(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            fmt_v(&Value::Array(patch_list.to_vec())),
            fmt_v(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

/// `mergeKeyValueEqual`: equal elements for primitives, equal merge key values for objects.
fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(l) = left else {
        return Err(err_bad_arg_type(MAP_TYPE, left));
    };
    let Value::Object(r) = right else {
        return Err(err_bad_arg_type(MAP_TYPE, right));
    };
    let Some(lv) = l.get(merge_key) else {
        return Err(err_no_merge_key(l, merge_key));
    };
    let Some(rv) = r.get(merge_key) else {
        return Err(err_no_merge_key(r, merge_key));
    };
    Ok(lv == rv)
}
