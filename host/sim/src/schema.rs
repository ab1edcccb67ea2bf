//! CustomResourceDefinitions as the apiextensions-apiserver handles them: validation of an
//! `apiextensions.k8s.io/v1` CRD, the defaults and status the server writes for it, and (in
//! `schema/structural.rs`, `schema/validate.rs`) the structural schema that prunes, defaults
//! and validates its custom resources.
//!
//! Validation follows `pkg/apis/apiextensions/validation/validation.go` on the internal
//! version, so per-version schemas, subresources and printer columns that are identical across
//! all versions are reported under `spec.validation`, `spec.subresources` and
//! `spec.additionalPrinterColumns`, exactly as a real server reports them.
//!
//! Everything here is pure: CRDs and objects are `serde_json::Value`s.

mod openapi;
mod structural;
mod validate;

use serde_json::{Map, Value, json};

pub(crate) use structural::StructuralSchema;

use crate::validation::{ErrorType, FieldError};

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const PRINTER_COLUMN_TYPES: [&str; 5] = ["boolean", "date", "integer", "number", "string"];
const PRINTER_COLUMN_FORMATS: [&str; 8] = [
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];
const API_APPROVAL_ANNOTATION: &str = "api-approved.kubernetes.io";

/// `IsDNS1123Subdomain`: the messages apimachinery returns, empty when valid.
fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b.first().is_some_and(u8::is_ascii_alphanumeric)
            && b.last().is_some_and(u8::is_ascii_alphanumeric)
    };
    if !s.split('.').all(label_ok) {
        errs.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    errs
}

/// `IsDNS1035Label`: the messages apimachinery returns, empty when valid.
fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        errs.push(DNS1035_LABEL_MSG.to_string());
    }
    errs
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |cur, k| cur.get(k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn versions(crd: &Value) -> &[Value] {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The name of the version marked `storage: true`, if exactly one is.
pub(crate) fn storage_version(crd: &Value) -> Option<&str> {
    let mut storage = versions(crd)
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true));
    match (storage.next(), storage.next()) {
        (Some(v), None) => v.get("name").and_then(Value::as_str),
        _ => None,
    }
}

/// Server-side defaults of a v1 CRD (`SetDefaults_CustomResourceDefinitionSpec`):
/// `spec.names.singular` = lowercase kind, `spec.names.listKind` = kind + "List",
/// `spec.conversion` = `{strategy: None}`.
pub(crate) fn fill_crd_defaults(crd: &mut Value) {
    let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let empty = |names: &Map<String, Value>, k: &str| {
            names
                .get(k)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        };
        if empty(names, "singular") {
            names.insert("singular".into(), Value::String(kind.to_lowercase()));
        }
        if empty(names, "listKind") && !kind.is_empty() {
            names.insert("listKind".into(), Value::String(format!("{kind}List")));
        }
    }
    if spec.get("conversion").is_none_or(Value::is_null) {
        spec.insert("conversion".into(), json!({"strategy": "None"}));
    }
}

/// The status a server writes once it accepts a new CRD: accepted names equal to the spec's,
/// `NamesAccepted` and `Established` both `True`, and the storage version recorded.
pub(crate) fn crd_status(crd: &Value, now: &str) -> Value {
    let accepted = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let stored: Vec<Value> = storage_version(crd)
        .map(|v| Value::String(v.to_string()))
        .into_iter()
        .collect();
    json!({
        "acceptedNames": accepted,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            }
        ],
        "storedVersions": stored,
    })
}

/// Whether a per-version field is identical in every version (absent counts as identical),
/// in which case the server's internal form carries it once at the top level.
fn identical_across_versions(vs: &[Value], key: &str) -> bool {
    let norm = |v: &Value| {
        v.get(key)
            .filter(|x| !x.is_null() && x.as_array().is_none_or(|a| !a.is_empty()))
            .cloned()
    };
    let first = vs.first().map(norm);
    vs.iter().all(|v| Some(norm(v)) == first)
}

/// Validates a v1 CRD (after `fill_crd_defaults`) as `ValidateCustomResourceDefinition` does on
/// create. Returns every error, in Kubernetes' order where it has one.
pub(crate) fn validate_crd(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let group = s(crd, &["spec", "group"]);
    let plural = s(crd, &["spec", "names", "plural"]);
    let name = s(crd, &["metadata", "name"]);
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        let mut msgs = dns1123_subdomain_errors(name);
        if name != format!("{plural}.{group}") {
            msgs.push(r#"must be spec.names.plural+"."+spec.group"#.to_string());
        }
        errs.extend(
            msgs.into_iter()
                .map(|m| FieldError::invalid("metadata.name", Value::String(name.into()), m)),
        );
    }
    errs.extend(validate_spec(crd));
    errs.extend(validate_names(
        crd.pointer("/status/acceptedNames"),
        "status.acceptedNames",
    ));
    errs.extend(validate_api_approval(crd, group));
    if crd.pointer("/spec/preserveUnknownFields") == Some(&Value::Bool(true)) {
        errs.push(FieldError::invalid(
            "spec.preserveUnknownFields",
            Value::Bool(true),
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
    errs
}

fn validate_spec(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let group = s(crd, &["spec", "group"]);
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        let dns = dns1123_subdomain_errors(group);
        if !dns.is_empty() {
            errs.push(FieldError::invalid(
                "spec.group",
                Value::String(group.into()),
                dns.join(","),
            ));
        } else if !group.contains('.') {
            errs.push(FieldError::invalid(
                "spec.group",
                Value::String(group.into()),
                "should be a domain with at least one dot",
            ));
        }
    }
    match s(crd, &["spec", "scope"]) {
        "" => errs.push(FieldError::required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError {
            kind: ErrorType::NotSupported,
            field: "spec.scope".into(),
            value: Some(Value::String(other.into())),
            detail: r#"supported values: "Cluster", "Namespaced""#.into(),
        }),
    }

    let vs = versions(crd);
    let hoist_schema = identical_across_versions(vs, "schema");
    let hoist_subresources = identical_across_versions(vs, "subresources");
    let hoist_columns = identical_across_versions(vs, "additionalPrinterColumns");
    let has_schema = |v: &Value| {
        v.pointer("/schema/openAPIV3Schema")
            .is_some_and(|x| !x.is_null())
    };
    let top_schema = vs.first().filter(|v| hoist_schema && has_schema(v));
    if top_schema.is_none() {
        for (i, v) in vs.iter().enumerate() {
            if !has_schema(v) {
                errs.push(FieldError::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "",
                ));
            }
        }
    }
    let status_enabled = |v: &Value| {
        v.pointer("/subresources/status")
            .is_some_and(|x| !x.is_null())
    };
    let any_status = vs.iter().any(status_enabled);
    let mut seen = Vec::new();
    let mut unique = true;
    for (i, v) in vs.iter().enumerate() {
        let vname = v.get("name").and_then(Value::as_str).unwrap_or("");
        if seen.contains(&vname) {
            unique = false;
        } else {
            seen.push(vname);
        }
        let vp = format!("spec.versions[{i}]");
        let dns = dns1035_label_errors(vname);
        if !dns.is_empty() {
            errs.push(FieldError::invalid(
                format!("{vp}.name"),
                Value::String(vname.into()),
                dns.join(","),
            ));
        }
        if let Some(warning) = v.get("deprecationWarning").and_then(Value::as_str)
            && v.get("deprecated").and_then(Value::as_bool) != Some(true)
        {
            errs.push(FieldError::invalid(
                format!("{vp}.deprecationWarning"),
                Value::String(warning.into()),
                "can only be set for deprecated versions",
            ));
        }
        if !hoist_schema
            && let Some(schema) = v
                .pointer("/schema/openAPIV3Schema")
                .filter(|x| !x.is_null())
        {
            let status = if hoist_subresources {
                any_status
            } else {
                status_enabled(v)
            };
            errs.extend(openapi::validate_schema(
                schema,
                &format!("{vp}.schema"),
                status,
            ));
        }
        if !hoist_subresources {
            errs.extend(validate_subresources(
                v.get("subresources"),
                &format!("{vp}.subresources"),
            ));
        }
        if !hoist_columns {
            errs.extend(validate_columns(
                v,
                &format!("{vp}.additionalPrinterColumns"),
            ));
        }
    }
    if !unique {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::Array(vs.to_vec()),
            "must contain unique version names",
        ));
    }
    let storage_count = vs
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage_count != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::Array(vs.to_vec()),
            "must have exactly one version marked as storage version",
        ));
    }
    for key in ["plural", "singular", "kind", "listKind"] {
        if s(crd, &["spec", "names", key]).is_empty() {
            errs.push(FieldError::required(format!("spec.names.{key}"), ""));
        }
    }
    errs.extend(validate_names(crd.pointer("/spec/names"), "spec.names"));
    if let Some(schema) = top_schema.and_then(|v| v.pointer("/schema/openAPIV3Schema")) {
        errs.extend(openapi::validate_schema(
            schema,
            "spec.validation",
            any_status,
        ));
    }
    if hoist_subresources && let Some(first) = vs.first() {
        errs.extend(validate_subresources(
            first.get("subresources"),
            "spec.subresources",
        ));
    }
    if hoist_columns && let Some(first) = vs.first() {
        errs.extend(validate_columns(first, "spec.additionalPrinterColumns"));
    }
    errs.extend(validate_conversion(crd.pointer("/spec/conversion")));
    errs
}

/// `ValidateCustomResourceDefinitionNames`.
fn validate_names(names: Option<&Value>, p: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(names) = names else { return errs };
    let get = |k: &str| names.get(k).and_then(Value::as_str).unwrap_or("");
    for key in ["plural", "singular"] {
        let v = get(key);
        let dns = dns1035_label_errors(v);
        if !v.is_empty() && !dns.is_empty() {
            errs.push(FieldError::invalid(
                format!("{p}.{key}"),
                Value::String(v.into()),
                dns.join(","),
            ));
        }
    }
    for key in ["kind", "listKind"] {
        let v = get(key);
        let dns = dns1035_label_errors(&v.to_lowercase());
        if !v.is_empty() && !dns.is_empty() {
            errs.push(FieldError::invalid(
                format!("{p}.{key}"),
                Value::String(v.into()),
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    dns.join(",")
                ),
            ));
        }
    }
    for key in ["shortNames", "categories"] {
        for (i, v) in names
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let v = v.as_str().unwrap_or("");
            let dns = dns1035_label_errors(v);
            if !dns.is_empty() {
                errs.push(FieldError::invalid(
                    format!("{p}.{key}[{i}]"),
                    Value::String(v.into()),
                    dns.join(","),
                ));
            }
        }
    }
    if !get("kind").is_empty() && get("kind") == get("listKind") {
        errs.push(FieldError::invalid(
            format!("{p}.listKind"),
            Value::String(get("listKind").into()),
            "kind and listKind may not be the same",
        ));
    }
    errs
}

fn simple_json_path_errors(path: &str, p: &str) -> Vec<FieldError> {
    if path.is_empty() {
        vec![FieldError::invalid(
            p,
            Value::String(path.into()),
            "must not be empty",
        )]
    } else if !path.starts_with('.') {
        vec![FieldError::invalid(
            p,
            Value::String(path.into()),
            "must be a simple json path starting with .",
        )]
    } else {
        Vec::new()
    }
}

/// `ValidateCustomResourceColumnDefinition` for each of a version's printer columns.
fn validate_columns(version: &Value, p: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let columns = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array);
    for (i, col) in columns.into_iter().flatten().enumerate() {
        let cp = format!("{p}[{i}]");
        let get = |k: &str| col.get(k).and_then(Value::as_str).unwrap_or("");
        if get("name").is_empty() {
            errs.push(FieldError::required(format!("{cp}.name"), ""));
        }
        let types = format!("must be one of {}", PRINTER_COLUMN_TYPES.join(","));
        match get("type") {
            "" => errs.push(FieldError::required(format!("{cp}.type"), types)),
            t if !PRINTER_COLUMN_TYPES.contains(&t) => {
                errs.push(FieldError::invalid(
                    format!("{cp}.type"),
                    Value::String(t.into()),
                    types,
                ));
            }
            _ => {}
        }
        let format = get("format");
        if !format.is_empty() && !PRINTER_COLUMN_FORMATS.contains(&format) {
            errs.push(FieldError::invalid(
                format!("{cp}.format"),
                Value::String(format.into()),
                format!("must be one of {}", PRINTER_COLUMN_FORMATS.join(",")),
            ));
        }
        let path = get("jsonPath");
        if path.is_empty() {
            errs.push(FieldError::required(format!("{cp}.JSONPath"), ""));
        } else {
            errs.extend(simple_json_path_errors(path, &format!("{cp}.JSONPath")));
        }
    }
    errs
}

/// `ValidateCustomResourceDefinitionSubresources` (v1: `status: {}` and `scale`).
fn validate_subresources(sub: Option<&Value>, p: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(sub) = sub.filter(|v| !v.is_null()) else {
        return errs;
    };
    if let Some(status) = sub.get("status").filter(|v| !v.is_null() && !v.is_object()) {
        errs.push(FieldError::invalid(
            format!("{p}.status"),
            status.clone(),
            "must be an object",
        ));
    }
    let Some(scale) = sub.get("scale").filter(|v| !v.is_null()) else {
        return errs;
    };
    for (key, prefix, under) in [
        (
            "specReplicasPath",
            ".spec.",
            "should be a json path under .spec",
        ),
        (
            "statusReplicasPath",
            ".status.",
            "should be a json path under .status",
        ),
    ] {
        let fp = format!("{p}.scale.{key}");
        let path = scale.get(key).and_then(Value::as_str).unwrap_or("");
        if path.is_empty() {
            errs.push(FieldError::required(fp, ""));
        } else {
            let bad = simple_json_path_errors(path, &fp);
            if !bad.is_empty() {
                errs.extend(bad);
            } else if !path.starts_with(prefix) {
                errs.push(FieldError::invalid(fp, Value::String(path.into()), under));
            }
        }
    }
    if let Some(path) = scale
        .get("labelSelectorPath")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        let fp = format!("{p}.scale.labelSelectorPath");
        let bad = simple_json_path_errors(path, &fp);
        if !bad.is_empty() {
            errs.extend(bad);
        } else if !path.starts_with(".spec.") && !path.starts_with(".status.") {
            errs.push(FieldError::invalid(
                fp,
                Value::String(path.into()),
                "should be a json path under either .spec or .status",
            ));
        }
    }
    errs
}

/// `validateCustomResourceConversion` on the v1 shape (`conversion.webhook.{clientConfig,
/// conversionReviewVersions}`), reported at the internal paths.
fn validate_conversion(conversion: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(conversion) = conversion.filter(|v| !v.is_null()) else {
        return errs;
    };
    let strategy = conversion
        .get("strategy")
        .and_then(Value::as_str)
        .unwrap_or("");
    let client_config = conversion
        .pointer("/webhook/clientConfig")
        .filter(|v| !v.is_null());
    let review_versions: Vec<&str> = conversion
        .pointer("/webhook/conversionReviewVersions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match strategy {
        "" => errs.push(FieldError::required("spec.conversion.strategy", "")),
        "None" => {
            if client_config.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.conversion.webhookClientConfig",
                    "should not be set when strategy is not set to Webhook",
                ));
            }
            if !review_versions.is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.conversion.conversionReviewVersions",
                    "should not be set when strategy is not set to Webhook",
                ));
            }
        }
        "Webhook" => {
            match client_config {
                None => errs.push(FieldError::required(
                    "spec.conversion.webhookClientConfig",
                    "required when strategy is set to Webhook",
                )),
                Some(cc) => {
                    let has_url = cc.get("url").is_some_and(|v| !v.is_null());
                    let has_service = cc.get("service").is_some_and(|v| !v.is_null());
                    if has_url == has_service {
                        errs.push(FieldError::required(
                            "spec.conversion.webhookClientConfig",
                            "exactly one of url or service is required",
                        ));
                    }
                }
            }
            if review_versions.is_empty() {
                errs.push(FieldError::required(
                    "spec.conversion.conversionReviewVersions",
                    "",
                ));
            } else if !review_versions
                .iter()
                .any(|v| *v == "v1" || *v == "v1beta1")
            {
                errs.push(FieldError::invalid(
                    "spec.conversion.conversionReviewVersions",
                    Value::from(review_versions.clone()),
                    "must include at least one of v1, v1beta1",
                ));
            }
        }
        other => errs.push(FieldError {
            kind: ErrorType::NotSupported,
            field: "spec.conversion.strategy".into(),
            value: Some(Value::String(other.into())),
            detail: r#"supported values: "None", "Webhook""#.into(),
        }),
    }
    errs
}

/// `validateAPIApproval`: groups under `k8s.io` / `kubernetes.io` need the approval annotation.
fn validate_api_approval(crd: &Value, group: &str) -> Vec<FieldError> {
    let protected = ["k8s.io", "kubernetes.io"]
        .iter()
        .any(|d| group == *d || group.ends_with(&format!(".{d}")));
    if !protected {
        return Vec::new();
    }
    let reason = format!(
        "protected groups must have approval annotation {API_APPROVAL_ANNOTATION:?}, see https://github.com/kubernetes/enhancements/pull/1111"
    );
    let field = format!("metadata.annotations[{API_APPROVAL_ANNOTATION}]");
    match crd
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(API_APPROVAL_ANNOTATION))
        .and_then(Value::as_str)
    {
        None => vec![FieldError::required(field, reason)],
        Some(v)
            if v.starts_with("unapproved")
                || v.starts_with("https://")
                || v.starts_with("http://") =>
        {
            Vec::new()
        }
        Some(v) => vec![FieldError::invalid(field, Value::String(v.into()), reason)],
    }
}

#[cfg(test)]
mod tests;
