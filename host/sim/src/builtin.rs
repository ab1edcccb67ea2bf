//! Built-in kinds decoded through their real Kubernetes types (k8s-openapi), as the API server
//! decodes into its Go structs: a type error is rejected, and fields the type does not have are
//! dropped — reported as unknown fields for `fieldValidation` Warn/Strict.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::resources::Builtin;

/// The object as the real type would store it, and the paths of fields the type does not know.
#[derive(Debug)]
pub(crate) struct Normalized {
    pub(crate) value: Value,
    pub(crate) unknown: Vec<String>,
}

fn roundtrip<T: DeserializeOwned + Serialize>(
    obj: &Value,
    kind: &str,
    version: &str,
) -> Result<Normalized, String> {
    // Decoded again with the path tracked only when it fails, for the message.
    let typed: T = match T::deserialize(obj) {
        Ok(typed) => typed,
        Err(_) => return Err(decode_error::<T>(obj, kind, version)),
    };
    let value =
        serde_json::to_value(&typed).map_err(|e| format!("{kind} could not be encoded: {e}"))?;
    let mut unknown = Vec::new();
    diff_unknown(obj, &value, &mut Vec::new(), &mut unknown);
    Ok(Normalized { value, unknown })
}

/// The API server's message for an object its type cannot decode, naming the field.
fn decode_error<T: DeserializeOwned>(obj: &Value, kind: &str, version: &str) -> String {
    let Err(e) = serde_path_to_error::deserialize::<_, T>(obj) else {
        return format!("{kind} in version \"{version}\" cannot be handled as a {kind}");
    };
    let path = e.path().to_string();
    let inner = e.into_inner();
    if path == "." || path.is_empty() {
        format!("{kind} in version \"{version}\" cannot be handled as a {kind}: {inner}")
    } else {
        format!("{kind} in version \"{version}\" cannot be handled as a {kind}: {path}: {inner}")
    }
}

/// One step of the path to a field: a key or an index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn path_text(path: &[Step<'_>]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(k) if text.is_empty() => text.push_str(k),
            Step::Key(k) => {
                text.push('.');
                text.push_str(k);
            }
            Step::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// Paths present (and non-null) in `input` but absent from `output`; the path text is built only
/// for the fields reported.
fn diff_unknown<'a>(
    input: &'a Value,
    output: &Value,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<String>,
) {
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                path.push(Step::Key(k));
                match b.get(k) {
                    None if !v.is_null() => out.push(path_text(path)),
                    Some(w) => diff_unknown(v, w, path, out),
                    None => {}
                }
                path.pop();
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b.iter()).enumerate() {
                path.push(Step::Index(i));
                diff_unknown(v, w, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Decodes `obj` through the Rust type of `builtin`.
pub(crate) fn normalize(builtin: Builtin, obj: &Value) -> Result<Normalized, String> {
    use k8s_openapi::api::{coordination, core, events, rbac};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    match builtin {
        Builtin::Pod => roundtrip::<core::v1::Pod>(obj, "Pod", "v1"),
        Builtin::Binding => roundtrip::<core::v1::Binding>(obj, "Binding", "v1"),
        Builtin::ConfigMap => roundtrip::<core::v1::ConfigMap>(obj, "ConfigMap", "v1"),
        Builtin::Secret => roundtrip::<core::v1::Secret>(obj, "Secret", "v1"),
        Builtin::Namespace => roundtrip::<core::v1::Namespace>(obj, "Namespace", "v1"),
        Builtin::ServiceAccount => {
            roundtrip::<core::v1::ServiceAccount>(obj, "ServiceAccount", "v1")
        }
        Builtin::CoreEvent => roundtrip::<core::v1::Event>(obj, "Event", "v1"),
        Builtin::Event => roundtrip::<events::v1::Event>(obj, "Event", "events.k8s.io/v1"),
        Builtin::Node => roundtrip::<core::v1::Node>(obj, "Node", "v1"),
        Builtin::PersistentVolumeClaim => {
            roundtrip::<core::v1::PersistentVolumeClaim>(obj, "PersistentVolumeClaim", "v1")
        }
        Builtin::Service => roundtrip::<core::v1::Service>(obj, "Service", "v1"),
        Builtin::Lease => {
            roundtrip::<coordination::v1::Lease>(obj, "Lease", "coordination.k8s.io/v1")
        }
        Builtin::CustomResourceDefinition => roundtrip::<apiext::CustomResourceDefinition>(
            obj,
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
        ),
        Builtin::Role => roundtrip::<rbac::v1::Role>(obj, "Role", "rbac.authorization.k8s.io/v1"),
        Builtin::ClusterRole => {
            roundtrip::<rbac::v1::ClusterRole>(obj, "ClusterRole", "rbac.authorization.k8s.io/v1")
        }
        Builtin::RoleBinding => {
            roundtrip::<rbac::v1::RoleBinding>(obj, "RoleBinding", "rbac.authorization.k8s.io/v1")
        }
        Builtin::ClusterRoleBinding => roundtrip::<rbac::v1::ClusterRoleBinding>(
            obj,
            "ClusterRoleBinding",
            "rbac.authorization.k8s.io/v1",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_dropped_and_reported() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "bogus": 1},
            "spec": {"containers": [{"name": "main", "image": "x", "colour": "blue"}], "nothing": null},
        });
        let n = normalize(Builtin::Pod, &pod).unwrap();
        assert_eq!(
            n.unknown,
            vec!["metadata.bogus", "spec.containers[0].colour"]
        );
        assert!(n.value["spec"]["containers"][0].get("colour").is_none());
        assert_eq!(n.value["spec"]["containers"][0]["image"], "x");
    }

    #[test]
    fn type_errors_name_the_field() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "nope"}});
        let err = normalize(Builtin::Pod, &pod).unwrap_err();
        assert!(
            err.starts_with("Pod in version \"v1\" cannot be handled as a Pod: spec.containers:"),
            "{err}"
        );
    }

    #[test]
    fn secret_data_must_be_base64() {
        let bad = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "%%%"}});
        assert!(normalize(Builtin::Secret, &bad).is_err());
        let good = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "aGk="}});
        assert_eq!(
            normalize(Builtin::Secret, &good).unwrap().value["data"]["k"],
            "aGk="
        );
    }
}
