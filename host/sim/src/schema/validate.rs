//! Validation of a custom resource against its compiled structural schema, with the messages
//! kube-openapi's validator produces and the field-error mapping apiextensions-apiserver applies
//! (`kubeOpenAPIResultToFieldErrors` in `pkg/apiserver/validation/validation.go`).
//!
//! Not implemented: `pattern` (no regular-expression engine among the crate's dependencies),
//! `format` checks, `uniqueItems` (forbidden in CRDs anyway) and CEL `x-kubernetes-validations`.

use serde_json::Value;

use super::structural::{Additional, Node, StructuralSchema};
use crate::validation::{ErrorType, FieldError};

impl StructuralSchema {
    /// Validates a (pruned, defaulted) custom resource. An empty result means valid.
    pub(crate) fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_node(&self.root, obj, "", &mut errs);
        errs
    }
}

/// The path apiextensions gives a kube-openapi error: the validator's name with no leading dot,
/// or a nil path (`<nil>`) at the root.
fn field_of(name: &str) -> String {
    let trimmed = name.trim_start_matches('.');
    if trimmed.is_empty() {
        "<nil>".to_string()
    } else {
        trimmed.to_string()
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// JSON type name of a value as kube-openapi infers it; integral JSON numbers decode to
/// integers on the server.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &[&str], v: &Value) -> bool {
    let actual = json_type(v);
    if expected.contains(&actual) {
        return true;
    }
    match v {
        // isFloatInt: an integral float is accepted where an integer is expected.
        Value::Number(n) if actual == "number" => {
            expected.contains(&"integer")
                && n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
        }
        // isIntFloat: an integer is accepted where a number is expected.
        Value::Number(_) => expected.contains(&"number"),
        _ => false,
    }
}

fn invalid(path: &str, value: Value, detail: String) -> FieldError {
    FieldError::invalid(field_of(path), value, detail)
}

/// A schema bound or a count as a `usize` (they never exceed it on 64-bit targets).
fn saturating_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Go's `%v` of a float64 bound as kube-openapi prints it (integral values without a fraction).
fn fmt_bound(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Returns the node's expected types: `type`, or integer and string for int-or-string.
fn expected_types(s: &Node) -> Vec<&str> {
    if s.int_or_string {
        vec!["integer", "string"]
    } else if s.type_.is_empty() {
        Vec::new()
    } else {
        vec![s.type_.as_str()]
    }
}

fn validate_node(s: &Node, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let expected = expected_types(s);
    if !expected.is_empty() {
        let ok = if v.is_null() {
            s.nullable
        } else {
            type_matches(&expected, v)
        };
        if !ok {
            let actual = json_type(v);
            errs.push(FieldError::type_invalid(
                field_of(path),
                Value::String(actual.to_string()),
                format!(
                    "{path} in body must be of type {}: \"{actual}\"",
                    expected.join(",")
                ),
            ));
            return;
        }
    }
    if v.is_null() {
        return;
    }
    validate_junctors(s, v, path, errs);
    match v {
        Value::String(text) => validate_string(s, text, path, errs),
        Value::Number(n) => validate_number(s, v, n.as_f64().unwrap_or(0.0), path, errs),
        Value::Array(items) => validate_array(s, items, path, errs),
        _ => {}
    }
    if let Some(allowed) = &s.enum_values
        && !allowed.iter().any(|a| values_equal(a, v))
    {
        // Strings as they are, anything else as its JSON text (kubeOpenAPIResultToFieldErrors).
        let values: Vec<String> = allowed
            .iter()
            .map(|a| match a {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        errs.push(FieldError::not_supported(
            field_of(path),
            v.clone(),
            &values,
        ));
    }
    if let Value::Object(map) = v {
        validate_object(s, map, path, errs);
    }
}

fn validate_string(s: &Node, text: &str, path: &str, errs: &mut Vec<FieldError>) {
    let len = text.chars().count() as u64;
    if let Some(max) = s.max_length
        && len > max
    {
        errs.push(FieldError::too_long(field_of(path), saturating_usize(max)));
    }
    if let Some(min) = s.min_length
        && len < min
    {
        errs.push(invalid(
            path,
            Value::String(text.to_string()),
            format!("{path} in body should be at least {min} chars long"),
        ));
    }
}

fn validate_number(s: &Node, v: &Value, f: f64, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(m) = s.multiple_of
        && m > 0.0
        && ((f / m).fract() != 0.0)
    {
        errs.push(invalid(
            path,
            v.clone(),
            format!("{path} in body should be a multiple of {}", fmt_bound(m)),
        ));
    }
    if let Some(max) = s.maximum {
        let fails = if s.exclusive_maximum {
            f >= max
        } else {
            f > max
        };
        if fails {
            let op = if s.exclusive_maximum {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(invalid(
                path,
                v.clone(),
                format!("{path} in body should be {op} {}", fmt_bound(max)),
            ));
        }
    }
    if let Some(min) = s.minimum {
        let fails = if s.exclusive_minimum {
            f <= min
        } else {
            f < min
        };
        if fails {
            let op = if s.exclusive_minimum {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(invalid(
                path,
                v.clone(),
                format!("{path} in body should be {op} {}", fmt_bound(min)),
            ));
        }
    }
}

fn validate_array(s: &Node, items: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    let len = items.len() as u64;
    if let Some(min) = s.min_items
        && len < min
    {
        errs.push(invalid(
            path,
            Value::from(len),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = s.max_items
        && len > max
    {
        errs.push(FieldError::too_many(
            field_of(path),
            Some(saturating_usize(len)),
            saturating_usize(max),
        ));
    }
    if let Some(item_schema) = s.items.as_deref() {
        for (i, item) in items.iter().enumerate() {
            validate_node(item_schema, item, &format!("{path}[{i}]"), errs);
        }
    }
}

fn validate_object(
    s: &Node,
    map: &serde_json::Map<String, Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let count = map.len() as u64;
    if let Some(min) = s.min_properties
        && count < min
    {
        errs.push(invalid(
            path,
            Value::from(count),
            format!("{path} in body should have at least {min} properties"),
        ));
        return;
    }
    if let Some(max) = s.max_properties
        && count > max
    {
        errs.push(FieldError::too_many(
            field_of(path),
            Some(saturating_usize(count)),
            saturating_usize(max),
        ));
        return;
    }
    match &s.additional {
        Some(Additional::Allows(false)) => {
            for k in map.keys().filter(|k| !s.properties.contains_key(*k)) {
                errs.push(invalid(
                    path,
                    Value::String(k.clone()),
                    format!("{path}.{k} in body is a forbidden property"),
                ));
            }
        }
        Some(Additional::Schema(add)) => {
            for (k, v) in map.iter().filter(|(k, _)| !s.properties.contains_key(*k)) {
                validate_node(add, v, &format!("{path}.{k}"), errs);
            }
        }
        _ => {}
    }
    for (k, prop) in &s.properties {
        if let Some(v) = map.get(k) {
            validate_node(prop, v, &child(path, k), errs);
        }
    }
    for k in &s.required {
        if !map.contains_key(k) {
            errs.push(FieldError::required(field_of(&format!("{path}.{k}")), ""));
        }
    }
}

/// allOf / anyOf / oneOf / not. Their failures are composite errors, which apiextensions reports
/// with a nil field path.
fn validate_junctors(s: &Node, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let composite = |detail: String| FieldError {
        kind: ErrorType::Invalid,
        field: "<nil>".to_string(),
        value: Some(Value::String(String::new())),
        detail,
    };
    if !s.all_of.is_empty() {
        let mut nested = Vec::new();
        for alt in &s.all_of {
            validate_node(alt, v, path, &mut nested);
        }
        if !nested.is_empty() {
            errs.push(composite(format!(
                "{path:?} must validate all the schemas (allOf)"
            )));
            errs.extend(nested);
        }
    }
    if !s.any_of.is_empty() {
        let results: Vec<Vec<FieldError>> = s
            .any_of
            .iter()
            .map(|alt| alt_errors(alt, v, path))
            .collect();
        if !results.iter().any(Vec::is_empty) {
            errs.push(composite(format!(
                "{path:?} must validate at least one schema (anyOf)"
            )));
            if let Some(best) = results.into_iter().min_by_key(Vec::len) {
                errs.extend(best);
            }
        }
    }
    if !s.one_of.is_empty() {
        let results: Vec<Vec<FieldError>> = s
            .one_of
            .iter()
            .map(|alt| alt_errors(alt, v, path))
            .collect();
        let passing = results.iter().filter(|r| r.is_empty()).count();
        if passing != 1 {
            errs.push(composite(format!(
                "{path:?} must validate one and only one schema (oneOf)"
            )));
            if passing == 0
                && let Some(best) = results.into_iter().min_by_key(Vec::len)
            {
                errs.extend(best);
            }
        }
    }
    if let Some(not) = &s.not
        && alt_errors(not, v, path).is_empty()
    {
        errs.push(composite(format!(
            "{path:?} must not validate the schema (not)"
        )));
    }
}

fn alt_errors(alt: &Node, v: &Value, path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    validate_node(alt, v, path, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema(v: Value) -> StructuralSchema {
        StructuralSchema::compile(&v).unwrap()
    }

    fn crontab() -> StructuralSchema {
        schema(json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "minLength": 2, "maxLength": 10},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                        "ratio": {"type": "number", "nullable": true},
                        "mode": {"type": "string", "enum": ["fast", "slow"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "maxItems": 2, "minItems": 1, "items": {"type": "string"}},
                        "enabled": {"type": "boolean"},
                        "env": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                }
            }
        }))
    }

    #[test]
    fn valid_object_has_no_errors() {
        let obj = json!({"apiVersion": "x/v1", "kind": "C", "metadata": {"name": "a"}, "spec": {
            "image": "nginx", "replicas": 3, "ratio": null, "mode": "fast", "port": "http",
            "tags": ["a"], "enabled": true, "env": {"A": "b"}
        }});
        assert_eq!(crontab().validate(&obj), vec![]);
        let obj = json!({"spec": {"image": "nginx", "port": 8080, "replicas": 2.0}});
        assert_eq!(crontab().validate(&obj), vec![]);
    }

    #[test]
    fn type_errors_use_kube_openapi_wording() {
        let errs = crontab().validate(&json!({"spec": {"image": "nginx", "replicas": "string"}}));
        assert_eq!(
            errs,
            vec![FieldError {
                kind: ErrorType::TypeInvalid,
                field: "spec.replicas".into(),
                value: Some(json!("string")),
                detail: "spec.replicas in body must be of type integer: \"string\"".into(),
            }]
        );
        let errs = crontab().validate(
            &json!({"spec": {"image": "nginx", "replicas": 1.5, "enabled": null, "port": true}}),
        );
        let details: Vec<_> = errs.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(
            details,
            vec![
                "spec.enabled in body must be of type boolean: \"null\"",
                "spec.port in body must be of type integer,string: \"boolean\"",
                "spec.replicas in body must be of type integer: \"number\"",
            ]
        );
    }

    #[test]
    fn required_enum_and_bounds() {
        let errs = crontab().validate(&json!({"spec": {
            "replicas": 0, "mode": "medium", "tags": ["a", "b", "c"], "env": {"A": 1}
        }}));
        let rendered: Vec<_> = errs
            .iter()
            .map(|e| (e.kind, e.field.as_str(), e.detail.as_str()))
            .collect();
        assert_eq!(
            rendered,
            vec![
                (
                    ErrorType::TypeInvalid,
                    "spec.env.A",
                    "spec.env.A in body must be of type string: \"integer\""
                ),
                (
                    ErrorType::NotSupported,
                    "spec.mode",
                    "supported values: \"fast\", \"slow\""
                ),
                (
                    ErrorType::Invalid,
                    "spec.replicas",
                    "spec.replicas in body should be greater than or equal to 1"
                ),
                (ErrorType::TooMany, "spec.tags", "must have at most 2 items"),
                (ErrorType::Required, "spec.image", ""),
            ]
        );
        let errs = crontab().validate(&json!({"spec": {"image": "a"}}));
        assert_eq!(
            errs[0].detail,
            "spec.image in body should be at least 2 chars long"
        );
        let errs = crontab()
            .validate(&json!({"spec": {"image": "abcdefghijkl", "replicas": 11, "tags": []}}));
        let details: Vec<_> = errs.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(
            details,
            vec![
                "may not be more than 10 bytes",
                "spec.replicas in body should be less than or equal to 10",
                "spec.tags in body should have at least 1 items",
            ]
        );
    }

    #[test]
    fn required_at_root_and_items_paths() {
        let s = schema(json!({
            "type": "object", "required": ["spec"],
            "properties": {"spec": {"type": "object", "properties": {
                "list": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}
            }}}
        }));
        let errs = s.validate(&json!({"kind": "X"}));
        assert_eq!(errs, vec![FieldError::required("spec", "")]);
        let errs = s.validate(&json!({"spec": {"list": [{"name": "a"}, {}]}}));
        assert_eq!(errs, vec![FieldError::required("spec.list[1].name", "")]);
    }

    #[test]
    fn any_of_reports_composite_error() {
        let s = schema(
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "v": {"type": "string", "anyOf": [{"enum": ["a"]}, {"enum": ["b"]}]}
            }}}}),
        );
        assert!(s.validate(&json!({"spec": {"v": "b"}})).is_empty());
        let errs = s.validate(&json!({"spec": {"v": "c"}}));
        assert_eq!(errs[0].field, "<nil>");
        assert_eq!(
            errs[0].detail,
            "\"spec.v\" must validate at least one schema (anyOf)"
        );
        assert_eq!(errs[1].kind, ErrorType::NotSupported);
    }
}
