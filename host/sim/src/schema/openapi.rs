//! Static validation of a CRD's `openAPIV3Schema`: the structural-schema invariants
//! (`pkg/apiserver/schema/validation.go`) and the OpenAPI restrictions of
//! `ValidateCustomResourceDefinitionOpenAPISchema` (`pkg/apis/apiextensions/validation`).
//!
//! Works on the raw JSON so that keywords Kubernetes forbids (`$ref`, `id`, ...) are seen.
//! Not checked: that defaults validate against and survive pruning by their own schema
//! (`ValidateDefaults`), structural completeness of value validations, and CEL rules beyond
//! "rule is not specified".

mod invariants;

use serde_json::{Map, Value};

use crate::validation::FieldError;
use invariants::{Level, structural_invariants};

const OPENAPI_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
const META_FIELDS: [&str; 3] = ["metadata", "kind", "apiVersion"];

/// Root keywords allowed when the status subresource is enabled, as JSON names, with the Go
/// field names Kubernetes lists in its message.
const ROOT_ALLOWED_WITH_STATUS: [(&str, &str); 22] = [
    ("description", "Description"),
    ("type", "Type"),
    ("format", "Format"),
    ("title", "Title"),
    ("maximum", "Maximum"),
    ("exclusiveMaximum", "ExclusiveMaximum"),
    ("minimum", "Minimum"),
    ("exclusiveMinimum", "ExclusiveMinimum"),
    ("maxLength", "MaxLength"),
    ("minLength", "MinLength"),
    ("pattern", "Pattern"),
    ("maxItems", "MaxItems"),
    ("minItems", "MinItems"),
    ("uniqueItems", "UniqueItems"),
    ("multipleOf", "MultipleOf"),
    ("required", "Required"),
    ("items", "Items"),
    ("properties", "Properties"),
    ("externalDocs", "ExternalDocs"),
    ("example", "Example"),
    (
        "x-kubernetes-preserve-unknown-fields",
        "XPreserveUnknownFields",
    ),
    ("x-kubernetes-validations", "XValidations"),
];

/// JSON names of `JSONSchemaProps` fields in Go declaration order.
const GO_FIELD_ORDER: [&str; 44] = [
    "id",
    "$schema",
    "$ref",
    "description",
    "type",
    "nullable",
    "format",
    "title",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "properties",
    "additionalProperties",
    "patternProperties",
    "dependencies",
    "additionalItems",
    "definitions",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

fn forbidden(field: String, detail: &str) -> FieldError {
    FieldError::forbidden(field, detail)
}

fn required(field: String, detail: &str) -> FieldError {
    FieldError::required(field, detail)
}

fn invalid(field: String, value: Value, detail: &str) -> FieldError {
    FieldError::invalid(field, value, detail)
}

fn not_supported(field: String, value: Value, supported: &[&str]) -> FieldError {
    FieldError::not_supported(field, value, supported)
}

/// Whether a JSON value is Go's zero value for the corresponding field.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

fn bool_of(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn props_of(m: &Map<String, Value>) -> Option<&Map<String, Value>> {
    m.get("properties")
        .and_then(Value::as_object)
        .filter(|p| !p.is_empty())
}

/// Validates `<fld>.openAPIV3Schema` (`fld` is `spec.validation` or `spec.versions[i].schema`).
pub(super) fn validate_schema(schema: &Value, fld: &str, status_enabled: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let root_path = format!("{fld}.openAPIV3Schema");
    let Some(root) = schema.as_object() else {
        errs.push(invalid(root_path, schema.clone(), "must be an object"));
        return errs;
    };
    if status_enabled {
        // Go walks JSONSchemaProps in field order, so the first offending field decides.
        let mut keys: Vec<&String> = root.keys().collect();
        keys.sort_by_key(|k| {
            GO_FIELD_ORDER
                .iter()
                .position(|g| g == k)
                .unwrap_or(GO_FIELD_ORDER.len())
        });
        for key in keys {
            let Some(v) = root.get(key) else { continue };
            if is_zero(v) {
                continue;
            }
            if key == "type" {
                if v.as_str() != Some("object") {
                    errs.push(invalid(
                        format!("{root_path}.type"),
                        v.clone(),
                        r#"only "object" is allowed as the type at the root of the schema if the status subresource is enabled"#,
                    ));
                    break;
                }
                continue;
            }
            if !ROOT_ALLOWED_WITH_STATUS.iter().any(|(json, _)| json == key) {
                let names: Vec<&str> = ROOT_ALLOWED_WITH_STATUS.iter().map(|(_, go)| *go).collect();
                let detail = format!(
                    "only [{}] fields are allowed at the root of the schema if the status subresource is enabled",
                    names.join(" ")
                );
                errs.push(invalid(root_path.clone(), schema.clone(), &detail));
                break;
            }
        }
    }
    if bool_of(root, "nullable") {
        errs.push(forbidden(
            format!("{root_path}.nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let mut structural = Vec::new();
    structural_invariants(root, Level::Root, &root_path, &mut structural);
    structural.sort_by(|a, b| (&a.field, &a.detail).cmp(&(&b.field, &b.detail)));
    errs.extend(structural);
    let ctx = Ctx {
        is_root: true,
        inside_meta: false,
        defaults_forbidden: None,
    };
    openapi_schema(root, &root_path, &ctx, &mut errs);
    errs
}

/// The schemas of a junctor (`allOf`, `anyOf`, `oneOf`) with their indices; entries that are not
/// objects are skipped (the structural checks report them).
fn alternatives<'s>(
    s: &'s Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = (usize, &'s Map<String, Value>)> {
    s.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, alt)| Some((i, alt.as_object()?)))
}

struct Ctx {
    is_root: bool,
    inside_meta: bool,
    /// `Some(reason)` where `default` is forbidden.
    defaults_forbidden: Option<String>,
}

/// `ValidateCustomResourceDefinitionOpenAPISchema` (without CEL compilation).
fn openapi_schema(s: &Map<String, Value>, p: &str, ctx: &Ctx, errs: &mut Vec<FieldError>) {
    let ty = str_of(s, "type");
    if !ty.is_empty() && !OPENAPI_TYPES.contains(&ty) {
        errs.push(not_supported(
            format!("{p}.type"),
            Value::String(ty.to_string()),
            &OPENAPI_TYPES,
        ));
    }
    if s.get("default").is_some_and(|d| !d.is_null())
        && let Some(reason) = &ctx.defaults_forbidden
    {
        errs.push(forbidden(
            format!("{p}.default"),
            &format!("must not be set {reason}"),
        ));
    }
    if !str_of(s, "id").is_empty() {
        errs.push(forbidden(format!("{p}.id"), "id is not supported"));
    }
    for (key, detail) in [
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ] {
        let present = match s.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => {
                key == "additionalItems" || key == "dependencies" || !o.is_empty()
            }
            Some(_) => true,
        };
        if present {
            errs.push(forbidden(format!("{p}.{key}"), detail));
        }
    }
    if ty == "null" {
        errs.push(forbidden(
            format!("{p}.type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if s.get("items")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        errs.push(forbidden(
            format!("{p}.items"),
            "items must be a schema object and not an array",
        ));
    }
    let embedded = bool_of(s, "x-kubernetes-embedded-resource");
    if ctx.inside_meta && embedded {
        errs.push(forbidden(
            format!("{p}.x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
    if bool_of(s, "uniqueItems") {
        errs.push(forbidden(
            format!("{p}.uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let child = |is_root: bool, inside_meta: bool, defaults_forbidden: Option<String>| Ctx {
        is_root,
        inside_meta,
        defaults_forbidden,
    };
    if let Some(additional) = s.get("additionalProperties").filter(|v| !v.is_null()) {
        if props_of(s).is_some() && (additional.as_bool() == Some(false) || additional.is_object())
        {
            errs.push(forbidden(
                format!("{p}.additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if let Some(a) = additional.as_object() {
            let reason = if ctx.inside_meta {
                Some("inside additionalProperties applying to object metadata".to_string())
            } else {
                ctx.defaults_forbidden.clone()
            };
            openapi_schema(
                a,
                &format!("{p}.additionalProperties"),
                &child(false, ctx.inside_meta, reason),
                errs,
            );
        }
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            let Some(v) = v.as_object() else { continue };
            let mut inside_meta = ctx.inside_meta;
            let mut reason = ctx.defaults_forbidden.clone();
            if (ctx.is_root || embedded) && META_FIELDS.contains(&k.as_str()) {
                inside_meta = true;
                if ctx.is_root {
                    reason = Some(format!("in top-level {k}"));
                }
            }
            openapi_schema(
                v,
                &format!("{p}.properties[{k}]"),
                &child(false, inside_meta, reason),
                errs,
            );
        }
    }
    let plain = child(false, ctx.inside_meta, ctx.defaults_forbidden.clone());
    if let Some(not) = s.get("not").and_then(Value::as_object) {
        openapi_schema(not, &format!("{p}.not"), &plain, errs);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for (i, alt) in alternatives(s, key) {
            openapi_schema(alt, &format!("{p}.{key}[{i}]"), &plain, errs);
        }
    }
    if let Some(items) = s.get("items").and_then(Value::as_object) {
        openapi_schema(items, &format!("{p}.items"), &plain, errs);
    }
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(invalid(
            format!("{p}.x-kubernetes-preserve-unknown-fields"),
            Value::Bool(false),
            "must be true or undefined",
        ));
    }
    list_and_map_types(s, ty, p, errs);
    for (i, rule) in s
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let text = rule.get("rule").and_then(Value::as_str).unwrap_or("");
        if text.trim().is_empty() {
            errs.push(required(
                format!("{p}.x-kubernetes-validations[{i}].rule"),
                "rule is not specified",
            ));
        }
    }
}

/// A schema's `type` that a rule needs to be another: required when empty, else invalid.
fn wrong_type(ty: &str, p: &str, detail: &str) -> FieldError {
    if ty.is_empty() {
        required(format!("{p}.type"), detail)
    } else {
        invalid(format!("{p}.type"), Value::String(ty.to_string()), detail)
    }
}

/// `x-kubernetes-map-type`, `x-kubernetes-list-type` and `x-kubernetes-list-map-keys` rules.
fn list_and_map_types(s: &Map<String, Value>, ty: &str, p: &str, errs: &mut Vec<FieldError>) {
    let type_rule = |detail: &str, errs: &mut Vec<FieldError>| errs.push(wrong_type(ty, p, detail));
    if let Some(map_type) = s.get("x-kubernetes-map-type").and_then(Value::as_str) {
        if ty != "object" {
            type_rule("must be object if x-kubernetes-map-type is specified", errs);
        }
        if map_type != "atomic" && map_type != "granular" {
            errs.push(not_supported(
                format!("{p}.x-kubernetes-map-type"),
                Value::String(map_type.to_string()),
                &["atomic", "granular"],
            ));
        }
    }
    let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
    if let Some(lt) = list_type {
        if ty != "array" {
            type_rule("must be array if x-kubernetes-list-type is specified", errs);
        }
        if !["atomic", "set", "map"].contains(&lt) {
            errs.push(not_supported(
                format!("{p}.x-kubernetes-list-type"),
                Value::String(lt.to_string()),
                &["atomic", "set", "map"],
            ));
        }
    }
    let keys: Vec<&str> = s
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !keys.is_empty() {
        match list_type {
            None => errs.push(required(
                format!("{p}.x-kubernetes-list-type"),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
            Some("map") => {}
            Some(other) => errs.push(invalid(
                format!("{p}.x-kubernetes-list-type"),
                Value::String(other.to_string()),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
        }
    }
    if list_type == Some("map") {
        if keys.is_empty() {
            errs.push(required(
                format!("{p}.x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        match s.get("items").and_then(Value::as_object) {
            None => errs.push(required(
                format!("{p}.items"),
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(items) if str_of(items, "type") != "object" => errs.push(invalid(
                format!("{p}.items.type"),
                Value::String(str_of(items, "type").to_string()),
                "must be object if parent array's x-kubernetes-list-type is map",
            )),
            Some(items) => {
                let item_props = items.get("properties").and_then(Value::as_object);
                let item_required: Vec<&str> = items
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for k in &keys {
                    match item_props
                        .and_then(|ps| ps.get(*k))
                        .and_then(Value::as_object)
                    {
                        None => errs.push(invalid(
                            format!("{p}.x-kubernetes-list-map-keys"),
                            Value::from(keys.clone()),
                            "entries must all be names of item properties",
                        )),
                        Some(prop) => {
                            if !item_required.contains(k)
                                && prop.get("default").is_none_or(Value::is_null)
                            {
                                errs.push(required(
                                    format!("{p}.items.properties[{k}].default"),
                                    "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                                ));
                            }
                            if bool_of(prop, "nullable") {
                                errs.push(forbidden(
                                    format!("{p}.items.properties[{k}].nullable"),
                                    "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
