//! Field selectors (apimachinery `pkg/fields/selector.go`), the fields each resource can be
//! selected by (the `AddFieldLabelConversionFunc` tables of `pkg/apis/*/v1/conversion.go`, the
//! scheme's `DefaultMetaV1FieldSelectorConversion` and the CRD handler's converter), and how
//! each field's value is read from an object (the registries' `ToSelectableFields`).

use std::borrow::Cow;

use serde_json::Value;

use super::SelectorError;
use crate::validation::go_quote;

/// One `field=value` or `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: String,
    value: String,
    negated: bool,
}

/// A parsed `fieldSelector`: the AND of its terms, in Kubernetes' order (the raw terms sorted).
/// Empty selects all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector {
    terms: Vec<Term>,
}

impl FieldSelector {
    /// Parses a `fieldSelector` query value (`fields.ParseSelector`). Field names are taken
    /// verbatim (no trimming, as in Kubernetes); values are unescaped (`\\`, `\,`, `\=`).
    pub(crate) fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::with_capacity(parts.len());
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((field, operator, raw_value)) = split_term(part) else {
                return Err(SelectorError::Field(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(raw_value).map_err(SelectorError::Field)?;
            terms.push(Term {
                field: field.to_owned(),
                value,
                negated: operator == "!=",
            });
        }
        Ok(Self { terms })
    }

    /// Rejects fields `group`/`resource` cannot be selected by, with the API server's message
    /// for that resource (`field label not supported: x`, or for built-in kinds without a
    /// field table `"x" is not a known field selector: only "metadata.name", "metadata.namespace"`).
    /// `namespaced` matters only for custom resources: cluster-scoped ones have no
    /// `metadata.namespace` field.
    pub(crate) fn check_supported(
        &self,
        group: &str,
        resource: &str,
        namespaced: bool,
    ) -> Result<(), SelectorError> {
        let table = FieldTable::for_resource(group, resource, namespaced);
        match self
            .terms
            .iter()
            .find(|t| !table.fields.contains(&t.field.as_str()))
        {
            None => Ok(()),
            Some(term) => Err(SelectorError::UnsupportedField {
                field: term.field.clone(),
                message: table.unsupported.message(&term.field),
            }),
        }
    }

    /// Whether an object matches, given each field's value; a missing field reads as the empty
    /// string, as Kubernetes' field sets do. Allocation-free when `lookup` is.
    pub(crate) fn matches<F, S>(&self, mut lookup: F) -> bool
    where
        F: FnMut(&str) -> Option<S>,
        S: AsRef<str>,
    {
        self.terms.iter().all(|term| {
            let actual = lookup(&term.field);
            let actual = actual.as_ref().map_or("", AsRef::as_ref);
            (actual == term.value) != term.negated
        })
    }

    /// Whether `object` (of `group`/`resource`) matches, reading fields with [`selectable_field`].
    pub(crate) fn matches_object(&self, object: &Value, group: &str, resource: &str) -> bool {
        self.matches(|field| selectable_field(group, resource, object, field))
    }
}

/// `splitTerms`: splits on commas not escaped by a backslash (escapes are kept for
/// `unescape_value`).
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::with_capacity(1);
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(selector.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    terms.push(selector.get(start..).unwrap_or_default());
    terms
}

/// `splitTerm`: splits at the first operator occurrence, trying `!=`, `==`, `=` at each position.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = term.get(i..).unwrap_or_default();
        for operator in ["!=", "==", "="] {
            if let Some(value) = rest.strip_prefix(operator) {
                return Some((term.get(..i).unwrap_or_default(), operator, value));
            }
        }
    }
    None
}

/// `UnescapeValue`: `\\`, `\,` and `\=` stand for themselves; any other escape, a trailing
/// backslash, or a bare `,`/`=` is an error. (Kubernetes prints the bare character as its code
/// point number.)
fn unescape_value(raw: &str) -> Result<String, String> {
    if !raw.contains(['\\', ',', '=']) {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut in_slash = false;
    for c in raw.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_owned());
    }
    Ok(out)
}

/// How the API server words an unsupported field for a resource.
#[derive(Debug, Clone, Copy)]
enum Unsupported {
    /// `field label not supported: %s` (core kinds with a table, custom resources).
    Plain,
    /// `%q is not a known field selector: only %q, %q` (`DefaultMetaV1FieldSelectorConversion`).
    Default,
    /// `field label %q not supported for batchv1.Job`.
    Job,
}

impl Unsupported {
    fn message(self, field: &str) -> String {
        let quoted = go_quote(field);
        match self {
            Self::Plain => format!("field label not supported: {field}"),
            Self::Default => {
                format!(
                    "{quoted} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                )
            }
            Self::Job => format!("field label {quoted} not supported for batchv1.Job"),
        }
    }
}

/// The selectable fields of one resource.
struct FieldTable {
    fields: &'static [&'static str],
    unsupported: Unsupported,
}

const NAME: &str = "metadata.name";
const NAMESPACE: &str = "metadata.namespace";

impl FieldTable {
    fn for_resource(group: &str, resource: &str, namespaced: bool) -> Self {
        use Unsupported::{Default, Job, Plain};
        let (fields, unsupported): (&'static [&'static str], Unsupported) = match (group, resource)
        {
            ("", "pods") => (
                &[
                    NAME,
                    NAMESPACE,
                    "spec.nodeName",
                    "spec.restartPolicy",
                    "spec.schedulerName",
                    "spec.serviceAccountName",
                    "spec.hostNetwork",
                    "status.phase",
                    "status.podIP",
                    "status.nominatedNodeName",
                    // Accepted for old clients and read as spec.nodeName.
                    "spec.host",
                ],
                Plain,
            ),
            ("", "nodes") => (&[NAME, "spec.unschedulable"], Plain),
            ("", "replicationcontrollers") => (&[NAME, NAMESPACE, "status.replicas"], Plain),
            ("", "events") => (
                &[
                    "involvedObject.kind",
                    "involvedObject.namespace",
                    "involvedObject.name",
                    "involvedObject.uid",
                    "involvedObject.apiVersion",
                    "involvedObject.resourceVersion",
                    "involvedObject.fieldPath",
                    "reason",
                    "reportingComponent",
                    "source",
                    "type",
                    NAMESPACE,
                    NAME,
                ],
                Plain,
            ),
            // pkg/apis/events/v1/conversion.go: the events.k8s.io names of the same fields.
            ("events.k8s.io", "events") => (
                &[
                    "reason",
                    "regarding.kind",
                    "regarding.namespace",
                    "regarding.name",
                    "regarding.uid",
                    "regarding.apiVersion",
                    "regarding.resourceVersion",
                    "regarding.fieldPath",
                    "reportingController",
                    "source",
                    "type",
                    NAMESPACE,
                    NAME,
                ],
                Plain,
            ),
            ("", "namespaces") => (&["status.phase", NAME], Plain),
            ("", "secrets") => (&["type", NAMESPACE, NAME], Plain),
            ("", "services") => (&[NAMESPACE, NAME, "spec.clusterIP", "spec.type"], Plain),
            ("batch", "jobs") => (&[NAME, NAMESPACE, "status.successful"], Job),
            _ if is_builtin_group(group) => (&[NAME, NAMESPACE], Default),
            _ if namespaced => (&[NAME, NAMESPACE], Plain),
            _ => (&[NAME], Plain),
        };
        Self {
            fields,
            unsupported,
        }
    }
}

/// Groups served by kube-apiserver itself rather than by CustomResourceDefinitions.
fn is_builtin_group(group: &str) -> bool {
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// The value of selectable `field` of `object` (a `group`/`resource` object), as the resource's
/// registry computes it: e.g. a pod's `spec.hostNetwork` defaults to `false`, a job's
/// `status.successful` is `status.succeeded`, an event's `source` falls back to
/// `reportingComponent`, events.k8s.io's `regarding.name` is the stored `involvedObject.name`.
/// Other fields are read by their dotted path. Borrowed for string and
/// boolean fields, so matching allocates nothing for them.
fn selectable_field<'a>(
    group: &str,
    resource: &str,
    object: &'a Value,
    field: &str,
) -> Option<Cow<'a, str>> {
    match (group, resource, field) {
        ("", "pods", "spec.host") => field_str(object, "spec.nodeName"),
        ("", "pods", "spec.hostNetwork") | ("", "nodes", "spec.unschedulable") => {
            Some(field_str(object, field).unwrap_or(Cow::Borrowed("false")))
        }
        ("", "pods", "status.podIP") => object
            .pointer("/status/podIPs/0/ip")
            .and_then(Value::as_str)
            .map(Cow::Borrowed)
            .or_else(|| field_str(object, "status.podIP")),
        ("", "replicationcontrollers", "status.replicas") => {
            Some(field_str(object, field).unwrap_or(Cow::Borrowed("0")))
        }
        ("batch", "jobs", "status.successful") => {
            Some(field_str(object, "status.succeeded").unwrap_or(Cow::Borrowed("0")))
        }
        ("", "events", "source") => field_str(object, "source.component")
            .filter(|s| !s.is_empty())
            .or_else(|| field_str(object, "reportingComponent")),
        // Storage keeps events in core form: read the core counterpart of the field.
        ("events.k8s.io", "events", _) => {
            selectable_field("", "events", object, core_event_field(field))
        }
        _ => field_str(object, field),
    }
}

/// The core v1 name of an events.k8s.io/v1 selectable field (`AddFieldLabelConversionsForEvent`).
fn core_event_field(field: &str) -> &str {
    match field {
        "regarding.kind" => "involvedObject.kind",
        "regarding.namespace" => "involvedObject.namespace",
        "regarding.name" => "involvedObject.name",
        "regarding.uid" => "involvedObject.uid",
        "regarding.apiVersion" => "involvedObject.apiVersion",
        "regarding.resourceVersion" => "involvedObject.resourceVersion",
        "regarding.fieldPath" => "involvedObject.fieldPath",
        "reportingController" => "reportingComponent",
        other => other,
    }
}

/// The value at dotted `path` (`status.phase`, `spec.nodeName`, `metadata.name`) rendered as a
/// field selector compares it: strings as-is, numbers and booleans as their JSON text. `None`
/// when absent, null, an object or an array. Borrowed for strings and booleans.
fn field_str<'a>(object: &'a Value, path: &str) -> Option<Cow<'a, str>> {
    let mut current = object;
    for segment in path.split('.') {
        current = current.as_object()?.get(segment)?;
    }
    match current {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests;
