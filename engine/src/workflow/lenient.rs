//! Objects decoded one at a time: [`Lenient<K>`] always decodes when the object's `metadata`
//! does, holding either the typed object or why it is not one.
//!
//! Why: the CRDs let a tenant store what the Rust types cannot read (Argo's own CRDs accept
//! anything; Flotilla's schema leaves Argo's loose fields loose), and kube decodes a list or a
//! watch event as one document. One malformed object would fail every list, so no cache would
//! ever be complete and no workflow anywhere would progress. Watching `Lenient<K>` instead, the
//! malformed object fails alone and can be reported on by name.
//!
//! Invariant: a [`DecodeError`] names the field (a serde path) and what was expected there, and
//! never quotes the value it found — task results carry a workflow's outputs, and the error ends
//! up in events and logs. Only the *kind* of value found (a string, an integer…) is named.

use std::borrow::Cow;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::Resource;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// Longest field path quoted in a [`DecodeError`] (map keys in a path are the object's own).
const MAX_PATH: usize = 200;
/// Longest description of what was expected (an enum's variants, say).
const MAX_EXPECTED: usize = 300;

/// An API object of kind `K` as read: typed, or its metadata and why it could not be typed.
#[derive(Debug, Clone)]
pub enum Lenient<K> {
    Valid(K),
    /// Boxed: rare, and as large as the metadata.
    Invalid(Box<Invalid>),
}

/// An object that did not decode: who it is, and what was wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub metadata: ObjectMeta,
    pub error: DecodeError,
}

/// Where an object does not fit its Rust type, and how — without its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct DecodeError {
    /// The field, as a serde path (`spec.templates[0].parallelism`); `.` for the object itself.
    pub path: String,
    /// What was expected there and what kind of value was found.
    pub problem: String,
}

impl<K> Lenient<K> {
    /// The typed object, if it decoded.
    pub fn valid(&self) -> Option<&K> {
        match self {
            Lenient::Valid(k) => Some(k),
            Lenient::Invalid(_) => None,
        }
    }

    pub fn into_result(self) -> Result<K, Box<Invalid>> {
        match self {
            Lenient::Valid(k) => Ok(k),
            Lenient::Invalid(invalid) => Err(invalid),
        }
    }
}

impl<K: DeserializeOwned> Lenient<K> {
    /// Decodes one object from its JSON tree. Fails only when `metadata` itself does not decode
    /// (the API server validates metadata, so that is not an object's content at fault).
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        // Only the metadata is kept aside: the typed decode consumes the tree, moving its
        // strings rather than copying them.
        let metadata = value.get("metadata").cloned();
        match serde_path_to_error::deserialize::<_, K>(value) {
            Ok(k) => Ok(Lenient::Valid(k)),
            Err(e) => {
                let metadata = match metadata {
                    Some(m) => ObjectMeta::deserialize(m)?,
                    None => return Err(serde_json::Error::custom("the object has no metadata")),
                };
                Ok(Lenient::Invalid(Box::new(Invalid {
                    metadata,
                    error: DecodeError::from_path_error(&e),
                })))
            }
        }
    }
}

impl<K: DeserializeOwned> Lenient<K> {
    /// Decodes one object from its JSON text. An object nested deeper than serde_json's limit
    /// (128) is invalid, not an error: only its metadata is read, which skipping the rest allows.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str::<Value>(json) {
            Ok(value) => Lenient::from_value(value),
            Err(e) => {
                #[derive(Deserialize)]
                struct MetadataOnly {
                    metadata: ObjectMeta,
                }
                let MetadataOnly { metadata } = serde_json::from_str(json)?;
                Ok(Lenient::Invalid(Box::new(Invalid {
                    metadata,
                    error: DecodeError {
                        path: String::new(),
                        problem: if e.to_string().starts_with("recursion limit exceeded") {
                            "nested more than 128 levels deep".to_string()
                        } else {
                            problem(&e.to_string())
                        },
                    },
                })))
            }
        }
    }
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Lenient<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The item's text first, which serde_json skips over without a depth limit: decoding a
        // tree here would count this object's depth against the whole list's, and one object
        // nested too deep would fail the list (and kube-client would log its body). A watch
        // event's object is read in place too, as API servers write `type` before `object`.
        let raw = Box::<RawValue>::deserialize(d)?;
        Lenient::from_json(raw.get()).map_err(D::Error::custom)
    }
}

impl<K: Resource<DynamicType = ()>> Resource for Lenient<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Lenient::Valid(k) => k.meta(),
            Lenient::Invalid(i) => &i.metadata,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Lenient::Valid(k) => k.meta_mut(),
            Lenient::Invalid(i) => &mut i.metadata,
        }
    }
}

impl DecodeError {
    /// From serde's error, keeping the path and the expectation, dropping any quoted value.
    fn from_path_error(e: &serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
        DecodeError {
            path: truncate(&e.path().to_string(), MAX_PATH),
            problem: problem(&e.inner().to_string()),
        }
    }
}

/// serde's messages, reworded so that no value is quoted. serde formats them as
/// `invalid type: {unexpected}, expected {expected}` (likewise `invalid value`), where
/// `{unexpected}` quotes the value; `unknown variant `{value}`, expected …`; and
/// `missing field`, `duplicate field`, `invalid length`, which name only fields and counts.
/// Anything else (a custom error, which may quote the value) becomes a generic problem.
fn problem(message: &str) -> String {
    let expected = |rest: &str| {
        rest.split_once(", expected ")
            .map(|(_, e)| truncate(&plain_expected(e), MAX_EXPECTED))
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(expected) = expected(rest)
        {
            return format!("expected {expected}, found {}", found(rest));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some(expected) = expected(rest)
    {
        return format!("expected {expected}, found another string");
    }
    // `compressedNodes …`: the words of `super::compressed::CompressedError`, which quote no value.
    for safe in [
        "missing field `",
        "duplicate field `",
        "invalid length ",
        "compressedNodes ",
    ] {
        if message.starts_with(safe) {
            return truncate(message, MAX_EXPECTED);
        }
    }
    "not a valid value for this field".to_string()
}

/// The kind of value serde's `Unexpected` describes (its `Display` starts with the kind).
fn found(unexpected: &str) -> &'static str {
    const KINDS: [(&str, &str); 9] = [
        ("boolean", "a boolean"),
        ("integer", "an integer"),
        ("floating point", "a number"),
        ("string", "a string"),
        ("null", "null"),
        ("unit value", "null"),
        ("map", "an object"),
        ("sequence", "a list"),
        ("char", "a string"),
    ];
    KINDS
        .iter()
        .find(|(prefix, _)| unexpected.starts_with(prefix))
        .map_or("a value of another kind", |(_, kind)| kind)
}

/// serde's expectations in the words of a YAML author (`i64` is "an integer").
fn plain_expected(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" | "isize"
        | "usize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a map" => "an object".into(),
        "a sequence" => "a list".into(),
        e if e.starts_with("struct ") => "an object".into(),
        e => e.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Workflow, WorkflowTaskResult};
    use serde_json::json;

    fn task_result(outputs: Value) -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "WorkflowTaskResult",
            "metadata": {"name": "wf-1", "namespace": "team-a", "resourceVersion": "7"},
            "outputs": outputs,
        })
    }

    #[test]
    fn a_good_object_is_typed() {
        let r: Lenient<WorkflowTaskResult> =
            serde_json::from_value(task_result(json!({"result": "hello"}))).unwrap();
        let r = r.into_result().unwrap();
        assert_eq!(r.outputs.unwrap().result.as_deref(), Some("hello"));
    }

    #[test]
    fn a_bad_object_names_the_field_and_never_the_value() {
        let r: Lenient<WorkflowTaskResult> =
            serde_json::from_value(task_result(json!({"result": 8675309}))).unwrap();
        assert_eq!(r.meta().name.as_deref(), Some("wf-1"));
        let invalid = r.into_result().unwrap_err();
        assert_eq!(invalid.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(invalid.error.path, "outputs.result");
        assert_eq!(
            invalid.error.to_string(),
            "outputs.result: expected a string, found an integer"
        );
    }

    #[test]
    fn nested_paths_and_strings_are_not_quoted() {
        let wf = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "w", "namespace": "team-a"},
            "spec": {"templates": [{"name": "a"}, {"name": "b", "parallelism": "s3cret"}]},
        });
        let invalid = Lenient::<Workflow>::from_value(wf)
            .unwrap()
            .into_result()
            .unwrap_err();
        let text = invalid.error.to_string();
        assert_eq!(
            text,
            "spec.templates[1].parallelism: expected an integer, found a string"
        );
        assert!(!text.contains("s3cret"));
    }

    #[test]
    fn unknown_variants_list_what_is_allowed_without_the_value() {
        let wf = json!({
            "metadata": {"name": "w"},
            "spec": {},
            "status": {"phase": "Hacked-s3cret"},
        });
        let invalid = Lenient::<Workflow>::from_value(wf)
            .unwrap()
            .into_result()
            .unwrap_err();
        assert_eq!(invalid.error.path, "status.phase");
        assert!(
            invalid
                .error
                .problem
                .starts_with("expected one of `Pending`"),
            "{}",
            invalid.error
        );
        assert!(!invalid.error.problem.contains("s3cret"));
    }

    #[test]
    fn missing_fields_are_named() {
        let wf = json!({"metadata": {"name": "w"}, "spec": {"templates": [{"container": {}}]}});
        let invalid = Lenient::<Workflow>::from_value(wf)
            .unwrap()
            .into_result()
            .unwrap_err();
        assert_eq!(
            invalid.error.to_string(),
            "spec.templates[0]: missing field `name`"
        );
    }

    #[test]
    fn metadata_alone_is_enough_and_bad_metadata_is_not() {
        let only_meta = json!({"metadata": {"name": "w", "namespace": "n"}, "spec": 3});
        let lenient = Lenient::<Workflow>::from_value(only_meta).unwrap();
        assert!(lenient.valid().is_none());
        assert_eq!(lenient.meta().namespace.as_deref(), Some("n"));
        assert!(Lenient::<Workflow>::from_value(json!({"spec": 3})).is_err());
        assert!(Lenient::<Workflow>::from_value(json!({"metadata": 3, "spec": 3})).is_err());
    }

    #[test]
    fn a_list_with_one_bad_item_decodes() {
        let list = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTaskResultList",
            "metadata": {"resourceVersion": "9"},
            "items": [task_result(json!({"result": 5})), task_result(json!({"result": "ok"}))],
        });
        let list: kube_core::ObjectList<Lenient<WorkflowTaskResult>> =
            serde_json::from_str(&list.to_string()).unwrap();
        assert!(list.items[0].valid().is_none());
        assert!(list.items[1].valid().is_some());
        // `type` first, as API servers write an event (Go's `metav1.WatchEvent` field order).
        let event = format!(
            r#"{{"type":"MODIFIED","object":{}}}"#,
            task_result(json!({"result": 5}))
        );
        let event: kube_core::WatchEvent<Lenient<WorkflowTaskResult>> =
            serde_json::from_str(&event).unwrap();
        assert!(matches!(
            event,
            kube_core::WatchEvent::Modified(Lenient::Invalid(_))
        ));
    }

    /// An object nested deeper than serde_json's limit fails alone, in a list and in a watch
    /// event alike (it used to fail the whole list: the depth counted from the list's root).
    #[test]
    fn an_object_nested_too_deep_is_invalid_alone() {
        // A tenant's task result with 200 nested arrays, as JSON text (a `Value` that deep
        // could not even be built with serde_json's own recursion limit).
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let item = |name: &str, artifacts: &str| {
            format!(
                r#"{{"apiVersion":"argoproj.io/v1alpha1","kind":"WorkflowTaskResult","metadata":{{"name":"{name}","namespace":"team-a"}},"outputs":{{"artifacts":[{{"name":"x","s3":{artifacts}}}]}}}}"#
            )
        };
        let list = format!(
            r#"{{"apiVersion":"argoproj.io/v1alpha1","kind":"WorkflowTaskResultList","metadata":{{}},"items":[{},{}]}}"#,
            item("deep", &deep),
            item("fine", "{}"),
        );
        let list: kube_core::ObjectList<Lenient<WorkflowTaskResult>> =
            serde_json::from_str(&list).expect("one deep object does not fail the list");
        let invalid = list.items[0].valid();
        assert!(invalid.is_none());
        assert_eq!(list.items[0].meta().name.as_deref(), Some("deep"));
        let Lenient::Invalid(invalid) = &list.items[0] else {
            unreachable!()
        };
        assert_eq!(invalid.error.problem, "nested more than 128 levels deep");
        assert!(list.items[1].valid().is_some());
        let event = format!(r#"{{"type":"ADDED","object":{}}}"#, item("deep", &deep));
        let event: kube_core::WatchEvent<Lenient<WorkflowTaskResult>> =
            serde_json::from_str(&event).expect("one deep object does not fail the watch");
        assert!(matches!(
            event,
            kube_core::WatchEvent::Added(Lenient::Invalid(_))
        ));
    }

    #[test]
    fn custom_errors_are_not_repeated() {
        assert_eq!(
            problem("premature end of input: s3cret"),
            "not a valid value for this field"
        );
        assert_eq!(
            problem("invalid type: string \"s3cret\", expected a boolean"),
            "expected a boolean, found a string"
        );
        assert_eq!(truncate("ab€cd", 3), "ab…");
    }
}
