//! `validateStructuralInvariants` and value-validation nesting, as apiextensions checks them.

use serde_json::{Map, Value};

use super::{alternatives, bool_of, forbidden, invalid, is_zero, required, str_of, wrong_type};
use crate::validation::FieldError;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Root,
    Item,
    Field,
}

/// `validateStructuralInvariants`.
pub(super) fn structural_invariants(
    s: &Map<String, Value>,
    lvl: Level,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    let ty = str_of(s, "type");
    let items = s.get("items").and_then(Value::as_object);
    if ty == "array" && items.is_none() {
        errs.push(required(format!("{p}.items"), "must be specified"));
    }
    if let Some(items) = items {
        structural_invariants(items, Level::Item, &format!("{p}.items"), errs);
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            if let Some(v) = v.as_object() {
                structural_invariants(v, Level::Field, &format!("{p}.properties[{k}]"), errs);
            }
        }
    }
    if let Some(additional) = s.get("additionalProperties").filter(|v| !v.is_null()) {
        if lvl == Level::Root {
            errs.push(forbidden(
                format!("{p}.additionalProperties"),
                "must not be used at the root",
            ));
        }
        if let Some(a) = additional.as_object() {
            structural_invariants(a, Level::Field, &format!("{p}.additionalProperties"), errs);
        }
    }
    let int_or_string = bool_of(s, "x-kubernetes-int-or-string");
    let preserve = bool_of(s, "x-kubernetes-preserve-unknown-fields");
    let embedded = bool_of(s, "x-kubernetes-embedded-resource");
    if int_or_string && preserve {
        errs.push(invalid(
            format!("{p}.x-kubernetes-preserve-unknown-fields"),
            Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        errs.push(invalid(
            format!("{p}.x-kubernetes-embedded-resource"),
            Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    value_validation(s, is_int_or_string_any_of(s.get("anyOf")), lvl, p, errs);

    if embedded && ty != "object" {
        let detail = "must be object if x-kubernetes-embedded-resource is true";
        errs.push(wrong_type(ty, p, detail));
    } else if ty.is_empty() && !int_or_string && !preserve {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(required(format!("{p}.type"), detail));
    }
    if embedded && s.get("additionalProperties").is_some_and(|v| !v.is_null()) {
        errs.push(forbidden(
            format!("{p}.additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(invalid(
            format!("{p}.type"),
            Value::String(ty.to_string()),
            "must be object at the root",
        ));
    }
    let check_metadata = lvl == Level::Root || embedded;
    let props = s.get("properties").and_then(Value::as_object);
    for key in ["kind", "apiVersion"] {
        if let Some(prop) = props.and_then(|ps| ps.get(key)).and_then(Value::as_object)
            && check_metadata
            && str_of(prop, "type") != "string"
        {
            errs.push(invalid(
                format!("{p}.properties[{key}].type"),
                Value::String(str_of(prop, "type").to_string()),
                "must be string",
            ));
        }
    }
    if let Some(meta) = props
        .and_then(|ps| ps.get("metadata"))
        .and_then(Value::as_object)
    {
        let mp = format!("{p}.properties[metadata]");
        if check_metadata && str_of(meta, "type") != "object" {
            errs.push(invalid(
                format!("{mp}.type"),
                Value::String(str_of(meta, "type").to_string()),
                "must be object",
            ));
        }
        if lvl == Level::Root && !root_metadata_is_implicit(meta) {
            errs.push(forbidden(
                mp,
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
    if embedded && !preserve && props.is_none_or(Map::is_empty) {
        errs.push(required(
            format!("{p}.properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// Root `metadata` may only restrict `name` and `generateName` (beyond `type` and the
/// separately-checked `default`).
fn root_metadata_is_implicit(meta: &Map<String, Value>) -> bool {
    meta.iter().all(|(k, v)| match k.as_str() {
        "type" | "default" | "example" => true,
        "properties" => v
            .as_object()
            .is_none_or(|ps| ps.keys().all(|k| k == "name" || k == "generateName")),
        _ => is_zero(v),
    })
}

/// The int-or-string pattern `anyOf: [{type: integer}, {type: string}]`.
fn is_int_or_string_any_of(any_of: Option<&Value>) -> bool {
    any_of.and_then(Value::as_array).is_some_and(|alts| {
        matches!(alts.as_slice(), [a, b] if *a == serde_json::json!({"type": "integer"})
            && *b == serde_json::json!({"type": "string"}))
    })
}

/// `validateValueValidation` over the junctors of a node.
fn value_validation(
    s: &Map<String, Value>,
    skip_any_of: bool,
    lvl: Level,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    let skip_first_all_of_any_of = s
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_object)
        .is_some_and(|first| is_int_or_string_any_of(first.get("anyOf")));
    for (key, skip) in [("anyOf", skip_any_of), ("allOf", false), ("oneOf", false)] {
        if skip {
            continue;
        }
        for (i, alt) in alternatives(s, key) {
            let skip_nested = key == "allOf" && i == 0 && skip_first_all_of_any_of;
            nested_value_validation(alt, skip_nested, lvl, &format!("{p}.{key}[{i}]"), errs);
        }
    }
    if let Some(not) = s.get("not").and_then(Value::as_object) {
        nested_value_validation(not, false, lvl, &format!("{p}.not"), errs);
    }
}

/// `validateNestedValueValidation`: inside junctors only value validations are allowed.
fn nested_value_validation(
    s: &Map<String, Value>,
    skip_any_of: bool,
    lvl: Level,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    value_validation(s, skip_any_of, lvl, p, errs);
    if let Some(items) = s.get("items").and_then(Value::as_object) {
        nested_value_validation(items, false, lvl, &format!("{p}.items"), errs);
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            if let Some(v) = v.as_object() {
                nested_value_validation(
                    v,
                    false,
                    Level::Field,
                    &format!("{p}.properties[{k}]"),
                    errs,
                );
            }
        }
    }
    let rules: [(&str, &str); 13] = [
        ("type", "must be empty to be structural"),
        ("additionalProperties", "must be undefined to be structural"),
        ("default", "must be undefined to be structural"),
        ("title", "must be empty to be structural"),
        ("description", "must be empty to be structural"),
        ("nullable", "must be false to be structural"),
        ("externalDocs", "must be undefined to be structural"),
        (
            "x-kubernetes-preserve-unknown-fields",
            "must be false to be structural",
        ),
        (
            "x-kubernetes-embedded-resource",
            "must be false to be structural",
        ),
        (
            "x-kubernetes-int-or-string",
            "must be false to be structural",
        ),
        (
            "x-kubernetes-list-map-keys",
            "must be empty to be structural",
        ),
        (
            "x-kubernetes-list-type",
            "must be undefined to be structural",
        ),
        (
            "x-kubernetes-map-type",
            "must be undefined to be structural",
        ),
    ];
    for (key, detail) in rules {
        if s.get(key)
            .is_some_and(|v| !is_zero(v) || (v.is_string() && key.ends_with("-type")))
        {
            errs.push(forbidden(format!("{p}.{key}"), detail));
        }
    }
    if s.get("x-kubernetes-validations")
        .is_some_and(|v| !is_zero(v))
    {
        errs.push(forbidden(
            format!("{p}.x-kubernetes-validations"),
            "must be empty to be structural",
        ));
    }
    if s.get("properties")
        .and_then(Value::as_object)
        .is_some_and(|ps| ps.contains_key("metadata"))
    {
        errs.push(forbidden(
            format!("{p}.properties[metadata]"),
            "must not be specified in a nested context",
        ));
    }
}
