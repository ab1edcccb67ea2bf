use serde_json::json;

use super::*;
use crate::validation::ErrorType;

fn fields(errs: &[FieldError]) -> Vec<(ErrorType, &str, &str)> {
    errs.iter()
        .map(|e| (e.kind, e.field.as_str(), e.detail.as_str()))
        .collect()
}

#[test]
fn structural_schema_requires_types() {
    let schema = json!({
        "type": "object",
        "properties": {
            "spec": {"properties": {"a": {"type": "string"}}},
            "list": {"type": "array"},
            "free": {"x-kubernetes-preserve-unknown-fields": true},
            "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}
        }
    });
    let errs = validate_schema(&schema, "spec.validation", false);
    assert_eq!(
        fields(&errs),
        vec![
            (
                ErrorType::Required,
                "spec.validation.openAPIV3Schema.properties[list].items",
                "must be specified"
            ),
            (
                ErrorType::Required,
                "spec.validation.openAPIV3Schema.properties[spec].type",
                "must not be empty for specified object fields"
            ),
        ]
    );
}

#[test]
fn root_and_metadata_rules() {
    let schema = json!({
        "type": "string",
        "nullable": true,
        "additionalProperties": {"type": "string"},
        "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}, "default": {}}}
    });
    let errs = validate_schema(&schema, "spec.versions[0].schema", true);
    let got = fields(&errs);
    let p = "spec.versions[0].schema.openAPIV3Schema";
    assert!(got.contains(&(
        ErrorType::Forbidden,
        &format!("{p}.nullable"),
        "nullable cannot be true at the root"
    )));
    assert!(got.contains(&(
        ErrorType::Forbidden,
        &format!("{p}.additionalProperties"),
        "must not be used at the root"
    )));
    assert!(got.contains(&(
        ErrorType::Invalid,
        &format!("{p}.type"),
        "must be object at the root"
    )));
    assert!(got.contains(&(
        ErrorType::Forbidden,
        &format!("{p}.properties[metadata]"),
        "must not specify anything other than name and generateName, but metadata is implicitly specified"
    )));
    assert!(got.contains(&(
        ErrorType::Forbidden,
        &format!("{p}.properties[metadata].default"),
        "must not be set in top-level metadata"
    )));
    assert!(got.contains(&(
        ErrorType::Forbidden,
        &format!("{p}.additionalProperties"),
        "additionalProperties and properties are mutual exclusive"
    )));
    assert_eq!(
        errs[0].field,
        format!("{p}.type"),
        "status subresource restricts the root type first"
    );
}

#[test]
fn forbidden_keywords() {
    let schema = json!({"type": "object", "properties": {
        "a": {"type": "string", "$ref": "#/x"},
        "b": {"type": "null"},
        "c": {"type": "array", "uniqueItems": true, "items": {"type": "string"}},
        "d": {"type": "object", "x-kubernetes-preserve-unknown-fields": false},
        "e": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"k": {"type": "string"}}}, "x-kubernetes-list-map-keys": ["k"]}
    }});
    let errs = validate_schema(&schema, "spec.validation", false);
    let details: Vec<_> = errs.iter().map(|e| e.detail.as_str()).collect();
    for expected in [
        "$ref is not supported",
        "type cannot be set to null, use nullable as an alternative",
        "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        "must be true or undefined",
        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
    ] {
        assert!(
            details.contains(&expected),
            "missing {expected:?} in {details:?}"
        );
    }
}

#[test]
fn junctors_must_only_hold_value_validations() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}, {"enum": ["x"]}]}}});
    let errs = validate_schema(&schema, "spec.validation", false);
    assert_eq!(
        fields(&errs),
        vec![(
            ErrorType::Forbidden,
            "spec.validation.openAPIV3Schema.properties[a].anyOf[0].type",
            "must be empty to be structural"
        )]
    );
}
