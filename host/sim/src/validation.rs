//! Object-name and metadata validation with the Kubernetes API server's own error wording.
//!
//! The shapes mirror apimachinery's `field.Error` (`k8s.io/apimachinery/pkg/util/validation/field`):
//! a path, a type, the offending value and a detail, rendered exactly as Kubernetes renders them,
//! so a client that matches on messages sees what a real cluster would send.
//!
//! - this file: [`FieldError`] and its rendering, plus the aggregate message and `details.causes`
//!   of a 422 `Invalid` Status (`apimachinery/pkg/api/errors.NewInvalid`);
//! - [`names`]: the string-format validators (DNS-1123 labels and subdomains, qualified names,
//!   label values, path segments), returning Kubernetes' detail strings;
//! - [`meta`]: `ObjectMeta` validation on create and update.
//!
//! Everything here is pure: no I/O, no clock, no randomness.

mod meta;
mod names;

use std::fmt;

use serde_json::{Map, Value, json};

pub(crate) use meta::{NameRule, validate_object_meta, validate_object_meta_update};
pub(crate) use names::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
};

/// What kind of problem a [`FieldError`] reports (apimachinery `field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorType {
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    TypeInvalid,
}

impl ErrorType {
    /// The human text Kubernetes prints for this type (`field.ErrorType.String()`).
    pub(crate) fn text(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
        }
    }

    /// The machine-readable cause type (`metav1.CauseType`), used as `details.causes[].reason`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// Whether Kubernetes prints the bad value for this type (`ErrorBody`'s first case lists the
    /// types that never show it).
    fn shows_value(self) -> bool {
        !matches!(self, Self::Required | Self::Forbidden | Self::TooLong)
    }
}

/// One validation failure at a field path, e.g. `metadata.name: Invalid value: "Foo": ...`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldError {
    pub(crate) kind: ErrorType,
    /// Dotted field path as Kubernetes prints it: `metadata.name`, `spec.containers[0].image`.
    pub(crate) field: String,
    /// The offending value, when the error type shows one. `None` prints no value at all
    /// (apimachinery's `omitValue`).
    pub(crate) value: Option<Value>,
    pub(crate) detail: String,
}

impl FieldError {
    pub(crate) fn invalid(
        field: impl Into<String>,
        value: Value,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: ErrorType::Invalid,
            field: field.into(),
            value: Some(value),
            detail: detail.into(),
        }
    }

    pub(crate) fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Required,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }

    pub(crate) fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Forbidden,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }

    /// `field.NotSupported`: the detail lists the accepted values, each Go-quoted.
    pub(crate) fn not_supported(
        field: impl Into<String>,
        value: Value,
        valid_values: &[&str],
    ) -> Self {
        let detail = if valid_values.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid_values.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self {
            kind: ErrorType::NotSupported,
            field: field.into(),
            value: Some(value),
            detail,
        }
    }

    /// `field.TooLong`: the value is never shown; the detail names the byte limit.
    pub(crate) fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Self {
            kind: ErrorType::TooLong,
            field: field.into(),
            value: None,
            detail: format!("may not be more than {max_bytes} {unit}"),
        }
    }

    /// `field.TooMany`: shows the actual count (when known) and the limit.
    pub(crate) fn too_many(
        field: impl Into<String>,
        actual: Option<usize>,
        max_items: usize,
    ) -> Self {
        let unit = if max_items == 1 { "item" } else { "items" };
        Self {
            kind: ErrorType::TooMany,
            field: field.into(),
            value: actual.map(Value::from),
            detail: format!("must have at most {max_items} {unit}"),
        }
    }

    /// `field.Duplicate`: the value collides with an earlier one; no detail.
    pub(crate) fn duplicate(field: impl Into<String>, value: Value) -> Self {
        Self {
            kind: ErrorType::Duplicate,
            field: field.into(),
            value: Some(value),
            detail: String::new(),
        }
    }

    /// `field.TypeInvalid`: the value has the wrong JSON type.
    pub(crate) fn type_invalid(
        field: impl Into<String>,
        value: Value,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: ErrorType::TypeInvalid,
            field: field.into(),
            value: Some(value),
            detail: detail.into(),
        }
    }

    /// The `details.causes[].reason` string: `FieldValueInvalid`, `FieldValueRequired`, ...
    pub(crate) fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// The message without the field path (`field.Error.ErrorBody`), as used in
    /// `details.causes[].message`.
    pub(crate) fn body(&self) -> String {
        let mut s = String::from(self.kind.text());
        if self.kind.shows_value()
            && let Some(value) = &self.value
        {
            s.push_str(": ");
            s.push_str(&render_value(value));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// The message of a `field.ErrorList` aggregate (`ErrorList.ToAggregate().Error()`): messages
/// deduplicated in order, bare when one remains, otherwise `[a, b]`. Empty for no errors.
pub(crate) fn aggregate_message(errors: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::with_capacity(errors.len());
    for error in errors {
        let message = error.to_string();
        if !seen.contains(&message) {
            seen.push(message);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen.swap_remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// The `message` of a 422 Invalid Status (`errors.NewInvalid`):
/// `Kind.group "name" is invalid: <aggregate>`; the group part is dropped for the core group.
pub(crate) fn invalid_message(
    kind: &str,
    group: &str,
    name: &str,
    errors: &[FieldError],
) -> String {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let name = go_quote(name);
    if errors.is_empty() {
        format!("{qualified} {name} is invalid")
    } else {
        format!(
            "{qualified} {name} is invalid: {}",
            aggregate_message(errors)
        )
    }
}

/// The `details.causes` entries of a 422 Invalid Status, one per error (not deduplicated, as in
/// Kubernetes): `{"reason": "FieldValueInvalid", "message": <body>, "field": "metadata.name"}`.
/// Empty strings are omitted, as `metav1.StatusCause`'s `omitempty` tags do.
pub(crate) fn status_causes(errors: &[FieldError]) -> Vec<Value> {
    errors
        .iter()
        .map(|error| {
            let mut cause = Map::new();
            cause.insert("reason".into(), Value::from(error.reason()));
            let body = error.body();
            if !body.is_empty() {
                cause.insert("message".into(), Value::from(body));
            }
            if !error.field.is_empty() {
                cause.insert("field".into(), Value::from(error.field.clone()));
            }
            Value::Object(cause)
        })
        .collect()
}

/// The whole 422 `Invalid` Status object Kubernetes returns for these errors.
pub(crate) fn invalid_status(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Value {
    let mut details = Map::new();
    if !name.is_empty() {
        details.insert("name".into(), Value::from(name));
    }
    if !group.is_empty() {
        details.insert("group".into(), Value::from(group));
    }
    if !kind.is_empty() {
        details.insert("kind".into(), Value::from(kind));
    }
    details.insert("causes".into(), Value::Array(status_causes(errors)));
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": invalid_message(kind, group, name, errors),
        "reason": "Invalid",
        "details": Value::Object(details),
        "code": 422,
    })
}

/// Renders a bad value as `field.Error.ErrorBody` does: strings Go-quoted (`%q`), numbers and
/// booleans bare (`%v`), anything else as Go's `json.Marshal` output (HTML-escaped).
fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => go_json(value),
    }
}

/// Go's `json.Marshal` text for a value: compact JSON with `<`, `>`, `&`, U+2028 and U+2029
/// escaped (Go's default HTML-safe encoding). Those characters only occur inside strings.
fn go_json(value: &Value) -> String {
    let compact = value.to_string();
    let mut out = String::with_capacity(compact.len());
    for c in compact.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// Go's `strconv.Quote` (what `%q` prints for a string): double quotes, backslash escapes for
/// `"` and `\`, C escapes for the usual control characters, `\xNN` for other ASCII controls and
/// `\uNNNN` / `\UNNNNNNNN` for other non-printable characters.
///
/// Go's printability test is Unicode-category based; this approximates it with control
/// characters, non-ASCII whitespace and the common format characters (Rust's std has no
/// category tables), which covers everything a Kubernetes name or label could plausibly hold.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `strconv.IsPrint` for non-ASCII-control characters.
pub(crate) fn go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let code = c as u32;
    if c.is_control() || c.is_whitespace() || code >= 0xf_0000 || code & 0xfffe == 0xfffe {
        return false;
    }
    // Common format (Cf) characters, private use (Co) and noncharacters.
    !matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e000}'..='\u{f8ff}'
            | '\u{fdd0}'..='\u{fdef}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // Rendering checked against apimachinery/pkg/util/validation/field/errors.go
    // (Error.Error, ErrorBody, ErrorType.String, NotSupported, TooLong, TooMany).
    #[test]
    fn display_matches_kubernetes_for_every_type() {
        let cases: Vec<(FieldError, &str)> = vec![
            (
                FieldError::invalid("metadata.name", json!("Foo_Bar"), "bad"),
                r#"metadata.name: Invalid value: "Foo_Bar": bad"#,
            ),
            (
                FieldError::required("metadata.name", "name or generateName is required"),
                "metadata.name: Required value: name or generateName is required",
            ),
            (
                FieldError::required("metadata.namespace", ""),
                "metadata.namespace: Required value",
            ),
            (
                FieldError::forbidden("metadata.namespace", "not allowed on this type"),
                "metadata.namespace: Forbidden: not allowed on this type",
            ),
            (
                FieldError::not_supported(
                    "spec.restartPolicy",
                    json!("Sometimes"),
                    &["Always", "Never"],
                ),
                r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never""#,
            ),
            (
                FieldError::not_supported("x", json!("y"), &[]),
                r#"x: Unsupported value: "y""#,
            ),
            (
                FieldError::too_long("metadata.annotations", 262144),
                "metadata.annotations: Too long: may not be more than 262144 bytes",
            ),
            (
                FieldError::too_long("x", 1),
                "x: Too long: may not be more than 1 byte",
            ),
            (
                FieldError::too_many("spec.items", Some(5), 3),
                "spec.items: Too many: 5: must have at most 3 items",
            ),
            (
                FieldError::too_many("spec.items", None, 1),
                "spec.items: Too many: must have at most 1 item",
            ),
            (
                FieldError::duplicate("spec.containers[1].name", json!("main")),
                r#"spec.containers[1].name: Duplicate value: "main""#,
            ),
            (
                FieldError::type_invalid("spec.replicas", json!("three"), "must be an integer"),
                r#"spec.replicas: Invalid value: "three": must be an integer"#,
            ),
            (
                FieldError::invalid(
                    "metadata.generation",
                    json!(-1),
                    "must be greater than or equal to 0",
                ),
                "metadata.generation: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                FieldError::invalid("spec.flag", json!(true), "nope"),
                "spec.flag: Invalid value: true: nope",
            ),
            (
                FieldError::invalid("metadata.finalizers", json!(["a", "b<c"]), "bad"),
                r#"metadata.finalizers: Invalid value: ["a","b\u003cc"]: bad"#,
            ),
            (
                FieldError::invalid("x", json!(null), "bad"),
                "x: Invalid value: null: bad",
            ),
            (
                FieldError {
                    kind: ErrorType::Invalid,
                    field: "x".into(),
                    value: None,
                    detail: "bad".into(),
                },
                "x: Invalid value: bad",
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error.to_string(), want);
        }
    }

    #[test]
    fn reasons_match_cause_types() {
        let cases = [
            (ErrorType::Required, "FieldValueRequired"),
            (ErrorType::Duplicate, "FieldValueDuplicate"),
            (ErrorType::Invalid, "FieldValueInvalid"),
            (ErrorType::NotSupported, "FieldValueNotSupported"),
            (ErrorType::Forbidden, "FieldValueForbidden"),
            (ErrorType::TooLong, "FieldValueTooLong"),
            (ErrorType::TooMany, "FieldValueTooMany"),
            (ErrorType::TypeInvalid, "FieldValueTypeInvalid"),
        ];
        for (kind, want) in cases {
            let error = FieldError {
                kind,
                field: "f".into(),
                value: None,
                detail: String::new(),
            };
            assert_eq!(error.reason(), want);
        }
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        let cases = [
            ("plain", r#""plain""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\tnl\ncr\r", r#""tab\tnl\ncr\r""#),
            ("\u{1}\u{7f}", r#""\x01\x7f""#),
            ("é日本", "\"é日本\""),
            ("\u{a0}\u{200b}", r#""\u00a0\u200b""#),
            ("\u{10ffff}", r#""\U0010ffff""#),
            ("", r#""""#),
            ("système", r#""système""#),
            ("nb\u{a0}sp", r#""nb\u00a0sp""#),
            ("\u{85}", r#""\u0085""#),
            ("\u{7}\u{8}\u{c}\u{b}", r#""\a\b\f\v""#),
            ("tag\u{e0041}", r#""tag\U000e0041""#),
        ];
        for (input, want) in cases {
            assert_eq!(go_quote(input), want, "quoting {input:?}");
        }
    }

    // Aggregate and NewInvalid wording: apimachinery/pkg/util/errors/errors.go (aggregate.Error)
    // and apimachinery/pkg/api/errors/errors.go (NewInvalid).
    #[test]
    fn aggregate_brackets_only_when_several_distinct_messages() {
        let a = FieldError::required("metadata.name", "name or generateName is required");
        let b = FieldError::forbidden("metadata.namespace", "not allowed on this type");
        assert_eq!(aggregate_message(&[]), "");
        assert_eq!(aggregate_message(std::slice::from_ref(&a)), a.to_string());
        assert_eq!(aggregate_message(&[a.clone(), a.clone()]), a.to_string());
        assert_eq!(
            aggregate_message(&[a.clone(), b.clone(), a.clone()]),
            format!("[{a}, {b}]")
        );
    }

    #[test]
    fn invalid_message_qualifies_kind_with_group() {
        let errors = [FieldError::invalid("metadata.name", json!("A"), "bad")];
        assert_eq!(
            invalid_message("Pod", "", "A", &errors),
            r#"Pod "A" is invalid: metadata.name: Invalid value: "A": bad"#
        );
        assert_eq!(
            invalid_message("Workflow", "argoproj.io", "A", &errors),
            r#"Workflow.argoproj.io "A" is invalid: metadata.name: Invalid value: "A": bad"#
        );
        assert_eq!(
            invalid_message("Pod", "", "x", &[]),
            r#"Pod "x" is invalid"#
        );
    }

    #[test]
    fn invalid_status_carries_every_cause() {
        let errors = [
            FieldError::required("metadata.name", "name or generateName is required"),
            FieldError::required("metadata.name", "name or generateName is required"),
            FieldError::invalid("", json!("x"), "whole object"),
        ];
        let status = invalid_status("ConfigMap", "", "", &errors);
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["details"]["kind"], "ConfigMap");
        assert!(status["details"].get("group").is_none());
        assert!(status["details"].get("name").is_none());
        let causes = status["details"]["causes"].as_array().unwrap();
        assert_eq!(causes.len(), 3);
        assert_eq!(
            causes[0],
            json!({
                "reason": "FieldValueRequired",
                "message": "Required value: name or generateName is required",
                "field": "metadata.name",
            })
        );
        assert!(causes[2].get("field").is_none());
        assert_eq!(
            status["message"],
            r#"ConfigMap "" is invalid: [metadata.name: Required value: name or generateName is required, : Invalid value: "x": whole object]"#
        );
    }
}
