//! `ObjectMeta` validation on create and update, after apimachinery's
//! `pkg/api/validation/objectmeta.go` (`ValidateObjectMetaAccessor`,
//! `ValidateObjectMetaAccessorUpdate`) and `pkg/apis/meta/v1/validation` (labels, managed fields).
//!
//! Inputs are the JSON `metadata` objects; a missing or non-object `metadata` behaves as empty.

use serde_json::{Map, Value};

use super::names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_path_segment_name, is_valid_path_segment_prefix,
};
use super::{FieldError, go_printable, go_quote};

/// Total size limit of all annotation keys and values (`TotalAnnotationSizeLimitB`).
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// `FieldManagerMaxLength`.
const FIELD_MANAGER_MAX_LENGTH: usize = 128;
/// `MaxSubresourceNameLength`.
const MAX_SUBRESOURCE_NAME_LENGTH: usize = 256;

/// How a resource's `metadata.name` is validated (apimachinery's `ValidateNameFunc`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// DNS-1123 subdomain (`NameIsDNSSubdomain`): most resources, and all custom resources.
    Subdomain,
    /// DNS-1123 label (`NameIsDNSLabel`): namespaces.
    Label,
    /// DNS-1035 label (`NameIsDNS1035Label`): services.
    Dns1035Label,
    /// URL path segment (`path.ValidatePathSegmentName`): RBAC roles and bindings.
    Path,
}

impl NameRule {
    /// The rule the Kubernetes registry applies to `group`/`resource` (plural).
    pub(crate) fn for_resource(group: &str, resource: &str) -> Self {
        match (group, resource) {
            ("", "namespaces") => Self::Label,
            ("", "services") => Self::Dns1035Label,
            (
                "rbac.authorization.k8s.io",
                "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings",
            ) => Self::Path,
            _ => Self::Subdomain,
        }
    }

    /// Problems with `name`; `prefix` is true for a `generateName`, whose trailing `-` is masked
    /// because a random suffix will follow it.
    pub(crate) fn check(self, name: &str, prefix: bool) -> Vec<String> {
        match self {
            Self::Subdomain => is_dns1123_subdomain(&masked(name, prefix)),
            Self::Label => is_dns1123_label(&masked(name, prefix)),
            Self::Dns1035Label => is_dns1035_label(&masked(name, prefix)),
            Self::Path if prefix => is_valid_path_segment_prefix(name),
            Self::Path => is_valid_path_segment_name(name),
        }
    }
}

/// `maskTrailingDash`: replaces a trailing `-` (and, as Kubernetes does, the character before
/// it) with `a`, so a `generateName` like `job-` validates as a name would.
fn masked(name: &str, prefix: bool) -> String {
    if prefix && name.len() > 1 && name.ends_with('-') {
        let mut chars = name.chars();
        chars.next_back();
        chars.next_back();
        let mut out: String = chars.collect();
        out.push('a');
        out
    } else {
        name.to_owned()
    }
}

/// Validates an object's `metadata` on create, as `ValidateObjectMetaAccessor` does: the
/// `generateName` (as a prefix) and `name` against `name_rule`, the namespace (required and a
/// DNS-1123 label when `namespaced`, forbidden otherwise), generation, labels, annotations,
/// owner references, finalizers and managed fields. Name generation must already have happened,
/// so an empty name is reported as `Required value: name or generateName is required`.
pub(crate) fn validate_object_meta(
    meta: &Value,
    name_rule: NameRule,
    namespaced: bool,
) -> Vec<FieldError> {
    let empty = Map::new();
    let meta = meta.as_object().unwrap_or(&empty);
    let mut errs = Vec::new();

    let generate_name = str_field(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in name_rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                Value::from(generate_name),
                msg,
            ));
        }
    }
    let name = str_field(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in name_rule.check(name, false) {
            errs.push(FieldError::invalid("metadata.name", Value::from(name), msg));
        }
    }

    let namespace = str_field(meta, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            for msg in is_dns1123_label(namespace) {
                errs.push(FieldError::invalid(
                    "metadata.namespace",
                    Value::from(namespace),
                    msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }

    if let Some(generation) = meta.get("generation").and_then(Value::as_i64)
        && generation < 0
    {
        errs.push(FieldError::invalid(
            "metadata.generation",
            Value::from(generation),
            "must be greater than or equal to 0",
        ));
    }
    validate_labels(meta.get("labels"), &mut errs);
    validate_annotations(meta.get("annotations"), &mut errs);
    validate_owner_references(meta.get("ownerReferences"), &mut errs);
    validate_finalizers(meta.get("finalizers"), &mut errs);
    validate_managed_fields(meta.get("managedFields"), &mut errs);
    errs
}

/// Validates `metadata` on update, as `ValidateObjectMetaAccessorUpdate` does: no new finalizers
/// once deletion started, a resourceVersion is present, generation does not go back, name,
/// namespace, uid, creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds are
/// unchanged, and labels, annotations, owner references and managed fields are well formed.
///
/// Kubernetes' `rest.BeforeUpdate` first copies generation, uid (when absent), creationTimestamp,
/// deletionTimestamp and deletionGracePeriodSeconds from the stored object, and fills the
/// resourceVersion of an unconditional update; callers do that before calling this.
pub(crate) fn validate_object_meta_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let empty = Map::new();
    let new = new.as_object().unwrap_or(&empty);
    let old = old.as_object().unwrap_or(&empty);
    let mut errs = Vec::new();

    if old.get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
        let old_finalizers = string_list(old.get("finalizers"));
        let mut extra: Vec<&str> = string_list(new.get("finalizers"))
            .into_iter()
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            let listed: Vec<String> = extra.iter().map(|f| go_quote(f)).collect();
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    listed.join(", ")
                ),
            ));
        }
    }
    if str_field(new, "resourceVersion").is_empty() {
        errs.push(FieldError::invalid(
            "metadata.resourceVersion",
            Value::from(""),
            "must be specified for an update",
        ));
    }
    let generation =
        |m: &Map<String, Value>| m.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if generation(new) < generation(old) {
        errs.push(FieldError::invalid(
            "metadata.generation",
            Value::from(generation(new)),
            "must not be decremented",
        ));
    }
    for key in ["name", "namespace", "uid"] {
        let (new_value, old_value) = (str_field(new, key), str_field(old, key));
        if new_value != old_value {
            errs.push(FieldError::invalid(
                format!("metadata.{key}"),
                Value::from(new_value),
                "field is immutable",
            ));
        }
    }
    for key in [
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let new_value = new.get(key).cloned().unwrap_or(Value::Null);
        if new_value != old.get(key).cloned().unwrap_or(Value::Null) {
            errs.push(FieldError::invalid(
                format!("metadata.{key}"),
                new_value,
                "field is immutable",
            ));
        }
    }
    validate_labels(new.get("labels"), &mut errs);
    validate_annotations(new.get("annotations"), &mut errs);
    validate_owner_references(new.get("ownerReferences"), &mut errs);
    validate_managed_fields(new.get("managedFields"), &mut errs);
    errs
}

/// A string field of `metadata`; absent or non-string reads as empty, as the unstructured
/// accessors (`GetName`, ...) do.
fn str_field<'a>(meta: &'a Map<String, Value>, key: &str) -> &'a str {
    meta.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The strings of a JSON array (non-strings skipped); empty when absent.
fn string_list(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The entries of a string map such as `labels`; a non-object or a non-string value is a type
/// error (Kubernetes rejects those while decoding, before validation runs).
fn string_map<'a>(
    value: Option<&'a Value>,
    field: &str,
    errs: &mut Vec<FieldError>,
) -> Vec<(&'a str, &'a str)> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.as_str(), s.as_str())),
                other => {
                    errs.push(FieldError::type_invalid(
                        field,
                        other.clone(),
                        "must be of type string",
                    ));
                    None
                }
            })
            .collect(),
        Some(other) => {
            errs.push(FieldError::type_invalid(
                field,
                other.clone(),
                "must be of type object",
            ));
            Vec::new()
        }
    }
}

/// `ValidateLabels`: keys are qualified names, values label values; both reported at
/// `metadata.labels` (Kubernetes does not key the path).
fn validate_labels(labels: Option<&Value>, errs: &mut Vec<FieldError>) {
    for (key, value) in string_map(labels, "metadata.labels", errs) {
        for msg in is_qualified_name(key) {
            errs.push(FieldError::invalid(
                "metadata.labels",
                Value::from(key),
                msg,
            ));
        }
        for msg in is_valid_label_value(value) {
            errs.push(FieldError::invalid(
                "metadata.labels",
                Value::from(value),
                msg,
            ));
        }
    }
}

/// `ValidateAnnotations`: keys are qualified names once lower-cased, and keys plus values total
/// at most 256 KiB.
fn validate_annotations(annotations: Option<&Value>, errs: &mut Vec<FieldError>) {
    let entries = string_map(annotations, "metadata.annotations", errs);
    let mut total = 0usize;
    for (key, value) in entries {
        for msg in is_qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(
                "metadata.annotations",
                Value::from(key),
                msg,
            ));
        }
        total = total.saturating_add(key.len()).saturating_add(value.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(
            "metadata.annotations",
            TOTAL_ANNOTATION_SIZE_LIMIT,
        ));
    }
}

/// `ValidateOwnerReferences`: each reference names a version, kind, name and uid, core/v1 Events
/// may not own anything, and at most one reference is the controller. Paths are not indexed,
/// as in Kubernetes.
fn validate_owner_references(refs: Option<&Value>, errs: &mut Vec<FieldError>) {
    const PATH: &str = "metadata.ownerReferences";
    let Some(list) = refs.and_then(Value::as_array) else {
        return;
    };
    let mut first_controller: Option<String> = None;
    for reference in list {
        let empty = Map::new();
        let fields = reference.as_object().unwrap_or(&empty);
        let api_version = str_field(fields, "apiVersion");
        let kind = str_field(fields, "kind");
        let (group, version) = parse_group_version(api_version);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                format!("{PATH}.apiVersion"),
                Value::from(api_version),
                "version must not be empty",
            ));
        }
        for (key, value) in [
            ("kind", kind),
            ("name", str_field(fields, "name")),
            ("uid", str_field(fields, "uid")),
        ] {
            if value.is_empty() {
                errs.push(FieldError::invalid(
                    format!("{PATH}.{key}"),
                    Value::from(value),
                    "must not be empty",
                ));
            }
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                PATH,
                reference.clone(),
                format!("{group}/{version}, Kind={kind} is disallowed from being an owner"),
            ));
        }
        if fields.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{kind}/{}", str_field(fields, "name"));
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    PATH,
                    Value::Array(list.clone()),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
}

/// `schema.ParseGroupVersion`, with a parse failure yielding an empty group and version (as
/// `FromAPIVersionAndKind` does).
fn parse_group_version(api_version: &str) -> (&str, &str) {
    if api_version.is_empty() || api_version == "/" {
        return ("", "");
    }
    match api_version.matches('/').count() {
        0 => ("", api_version),
        1 => api_version.split_once('/').unwrap_or(("", "")),
        _ => ("", ""),
    }
}

/// `ValidateFinalizers`: each is a qualified name, and `orphan` excludes `foregroundDeletion`.
fn validate_finalizers(finalizers: Option<&Value>, errs: &mut Vec<FieldError>) {
    let list = string_list(finalizers);
    for finalizer in &list {
        for msg in is_qualified_name(finalizer) {
            errs.push(FieldError::invalid(
                "metadata.finalizers",
                Value::from(*finalizer),
                msg,
            ));
        }
    }
    if list.contains(&"orphan") && list.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            "metadata.finalizers",
            Value::from(list.clone()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

/// `ValidateManagedFields`: operation is `Apply` or `Update`, fieldsType is `FieldsV1`, the
/// manager is short and printable, the subresource name is short.
fn validate_managed_fields(entries: Option<&Value>, errs: &mut Vec<FieldError>) {
    let Some(list) = entries.and_then(Value::as_array) else {
        return;
    };
    for (i, entry) in list.iter().enumerate() {
        let path = format!("metadata.managedFields[{i}]");
        let empty = Map::new();
        let fields = entry.as_object().unwrap_or(&empty);
        let operation = str_field(fields, "operation");
        if operation != "Apply" && operation != "Update" {
            errs.push(FieldError::invalid(
                format!("{path}.operation"),
                Value::from(operation),
                "must be `Apply` or `Update`",
            ));
        }
        let fields_type = str_field(fields, "fieldsType");
        if !fields_type.is_empty() && fields_type != "FieldsV1" {
            errs.push(FieldError::invalid(
                format!("{path}.fieldsType"),
                Value::from(fields_type),
                "must be `FieldsV1`",
            ));
        }
        let manager = str_field(fields, "manager");
        if manager.len() > FIELD_MANAGER_MAX_LENGTH {
            errs.push(FieldError::too_long(
                format!("{path}.manager"),
                FIELD_MANAGER_MAX_LENGTH,
            ));
        }
        for (position, c) in manager.char_indices() {
            if !go_printable(c) {
                errs.push(FieldError::invalid(
                    format!("{path}.manager"),
                    Value::from(manager),
                    format!(
                        "invalid character U+{:04X} (at position {position})",
                        c as u32
                    ),
                ));
            }
        }
        if str_field(fields, "subresource").len() > MAX_SUBRESOURCE_NAME_LENGTH {
            errs.push(FieldError::too_long(
                format!("{path}.subresource"),
                MAX_SUBRESOURCE_NAME_LENGTH,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    const SUBDOMAIN_MSG: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    // Expected wording from apimachinery/pkg/api/validation/objectmeta.go and generic.go.
    #[test]
    fn create_cases() {
        let cases: Vec<(Value, NameRule, bool, Vec<String>)> = vec![
            (json!({"name": "ok", "namespace": "default"}), NameRule::Subdomain, true, vec![]),
            (
                json!({"name": "Foo_Bar", "namespace": "default"}),
                NameRule::Subdomain,
                true,
                vec![format!(r#"metadata.name: Invalid value: "Foo_Bar": {SUBDOMAIN_MSG}"#)],
            ),
            (
                json!({"namespace": "default"}),
                NameRule::Subdomain,
                true,
                vec!["metadata.name: Required value: name or generateName is required".into()],
            ),
            (json!(null), NameRule::Subdomain, true, vec![
                "metadata.name: Required value: name or generateName is required".into(),
                "metadata.namespace: Required value".into(),
            ]),
            (
                json!({"name": "n", "namespace": "default"}),
                NameRule::Label,
                false,
                vec!["metadata.namespace: Forbidden: not allowed on this type".into()],
            ),
            (json!({"name": "a.b"}), NameRule::Label, false, vec![
                r#"metadata.name: Invalid value: "a.b": must not contain dots"#.into(),
            ]),
            (json!({"name": "n", "namespace": "Bad"}), NameRule::Subdomain, true, vec![
                r#"metadata.namespace: Invalid value: "Bad": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#.into(),
            ]),
            // A generateName is validated as a prefix: the trailing dash is fine.
            (json!({"generateName": "job-", "name": "job-x7k2p", "namespace": "d"}), NameRule::Subdomain, true, vec![]),
            (json!({"generateName": "Job-", "name": "job-x7k2p", "namespace": "d"}), NameRule::Subdomain, true, vec![
                format!(r#"metadata.generateName: Invalid value: "Job-": {SUBDOMAIN_MSG}"#),
            ]),
            (json!({"name": "a/b"}), NameRule::Path, false, vec![
                r#"metadata.name: Invalid value: "a/b": may not contain '/'"#.into(),
            ]),
            (json!({"name": "x", "generation": -1}), NameRule::Subdomain, false, vec![
                "metadata.generation: Invalid value: -1: must be greater than or equal to 0".into(),
            ]),
            (json!({"name": "x", "finalizers": ["orphan", "foregroundDeletion"]}), NameRule::Subdomain, false, vec![
                r#"metadata.finalizers: Invalid value: ["orphan","foregroundDeletion"]: finalizer orphan and foregroundDeletion cannot be both set"#.into(),
            ]),
            (json!({"name": "x", "finalizers": ["a/b/c"]}), NameRule::Subdomain, false, vec![
                r#"metadata.finalizers: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"#.into(),
            ]),
        ];
        for (meta, rule, namespaced, want) in cases {
            assert_eq!(
                messages(&validate_object_meta(&meta, rule, namespaced)),
                want,
                "{meta}"
            );
        }
    }

    #[test]
    fn labels_and_annotations() {
        let meta = json!({
            "name": "x",
            "labels": {"app.kubernetes.io/name": "ok", "-bad": "", "good": "-bad"},
            "annotations": {"Example.COM/Key": "fine", "a b": "x"},
        });
        let got = messages(&validate_object_meta(&meta, NameRule::Subdomain, false));
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(
            got[0].starts_with(
                r#"metadata.labels: Invalid value: "-bad": name part must consist of"#
            )
        );
        assert!(got[1].starts_with(
            r#"metadata.labels: Invalid value: "-bad": a valid label must be an empty string"#
        ));
        assert!(got[2].starts_with(
            r#"metadata.annotations: Invalid value: "a b": name part must consist of"#
        ));

        let big = "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let meta = json!({"name": "x", "annotations": {"k": big}});
        assert_eq!(
            messages(&validate_object_meta(&meta, NameRule::Subdomain, false)),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
        let exact = "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1);
        let meta = json!({"name": "x", "annotations": {"k": exact}});
        assert!(validate_object_meta(&meta, NameRule::Subdomain, false).is_empty());

        let meta = json!({"name": "x", "labels": {"a": 1}});
        assert_eq!(
            messages(&validate_object_meta(&meta, NameRule::Subdomain, false)),
            vec!["metadata.labels: Invalid value: 1: must be of type string"]
        );
    }

    #[test]
    fn owner_references_and_managed_fields() {
        let meta = json!({
            "name": "x",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"},
                {"apiVersion": "apps/", "kind": "", "name": "", "uid": "", "controller": true},
                {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "w", "uid": "2", "controller": true},
            ],
            "managedFields": [{"manager": "k\u{7}", "operation": "Patch", "fieldsType": "FieldsV2"}],
        });
        let got = messages(&validate_object_meta(&meta, NameRule::Subdomain, false));
        assert_eq!(got, vec![
            r#"metadata.ownerReferences: Invalid value: {"apiVersion":"v1","kind":"Event","name":"e","uid":"1"}: /v1, Kind=Event is disallowed from being an owner"#.to_owned(),
            r#"metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty"#.to_owned(),
            r#"metadata.ownerReferences.kind: Invalid value: "": must not be empty"#.to_owned(),
            r#"metadata.ownerReferences.name: Invalid value: "": must not be empty"#.to_owned(),
            r#"metadata.ownerReferences.uid: Invalid value: "": must not be empty"#.to_owned(),
            format!(
                "metadata.ownerReferences: Invalid value: {}: Only one reference can have Controller set to true. Found \"true\" in references for / and Workflow/w",
                meta["ownerReferences"]
            ),
            r#"metadata.managedFields[0].operation: Invalid value: "Patch": must be `Apply` or `Update`"#.to_owned(),
            r#"metadata.managedFields[0].fieldsType: Invalid value: "FieldsV2": must be `FieldsV1`"#.to_owned(),
            r#"metadata.managedFields[0].manager: Invalid value: "k\a": invalid character U+0007 (at position 1)"#.to_owned(),
        ]);
    }

    #[test]
    fn update_cases() {
        let old = json!({
            "name": "x", "namespace": "d", "uid": "u1", "resourceVersion": "5", "generation": 3,
            "creationTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a"],
            "deletionTimestamp": "2024-01-02T00:00:00Z",
        });
        let mut same = old.clone();
        assert!(validate_object_meta_update(&same, &old).is_empty());

        same["name"] = json!("y");
        same["uid"] = json!("u2");
        same["generation"] = json!(2);
        same["resourceVersion"] = json!("");
        same["finalizers"] = json!(["a", "c", "b", "c"]);
        same["deletionTimestamp"] = json!(null);
        assert_eq!(
            messages(&validate_object_meta_update(&same, &old)),
            vec![
                r#"metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"b", "c"}"#,
                r#"metadata.resourceVersion: Invalid value: "": must be specified for an update"#,
                "metadata.generation: Invalid value: 2: must not be decremented",
                r#"metadata.name: Invalid value: "y": field is immutable"#,
                r#"metadata.uid: Invalid value: "u2": field is immutable"#,
                "metadata.deletionTimestamp: Invalid value: null: field is immutable",
            ]
        );
    }

    #[test]
    fn name_rules_per_resource() {
        assert_eq!(NameRule::for_resource("", "namespaces"), NameRule::Label);
        assert_eq!(
            NameRule::for_resource("", "services"),
            NameRule::Dns1035Label
        );
        assert_eq!(
            NameRule::for_resource("rbac.authorization.k8s.io", "roles"),
            NameRule::Path
        );
        assert_eq!(NameRule::for_resource("", "pods"), NameRule::Subdomain);
        assert_eq!(
            NameRule::for_resource("argoproj.io", "workflows"),
            NameRule::Subdomain
        );
        assert_eq!(masked("job-", true), "joa");
        assert_eq!(masked("-", true), "-");
        assert_eq!(masked("job-", false), "job-");
    }
}
