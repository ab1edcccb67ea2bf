//! Where a resource template's manifest may act, decided once by the controller and enforced
//! again by the executor.
//!
//! The manifest is written by the workflow, the pod spec by the controller. The engine reads the
//! manifest's target — the pod's cluster, and `metadata.namespace` (default: the pod's own) or,
//! for a cluster-scoped kind, the whole cluster — and authorizes it under the Casbin policy
//! before the pod exists. It hands the authorized [`ResourceTarget`] to the pod in environment
//! variable [`ENV`]; `flotilla-executor resource` resolves the target again (with discovery, so
//! it knows the scope of kinds the engine cannot) and refuses any other before it makes a
//! request on the object.
//!
//! Cluster-scoped kinds need the policy object `<cluster>:*` ([`crate::ports::cluster_wide`]):
//! a `cluster-1:team-a` line never grants them. The engine cannot ask discovery, so it knows the
//! built-in cluster-scoped kinds ([`is_cluster_scoped`]) and treats every other kind as
//! namespaced; the executor, which can ask, refuses a kind that turns out to be cluster-scoped
//! unless the engine found the cluster-wide grant too.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The environment variable holding the authorized target (JSON) on a resource template's pod.
pub const ENV: &str = "FLOTILLA_RESOURCE_TARGET";

/// Kinds Kubernetes serves cluster-scoped, by API group (`""` is the core group). Matched
/// without regard to ASCII case, so a misspelt kind errs on the side of the stricter check.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("argoproj.io", "ClusterWorkflowTemplate"),
    ("authentication.k8s.io", "TokenReview"),
    ("authentication.k8s.io", "SelfSubjectReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "ResourceSlice"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
];

/// Whether `kind` of `api_version` is a built-in cluster-scoped kind. `false` for everything
/// else, custom resources included: those are treated as namespaced until discovery says more.
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    CLUSTER_SCOPED
        .iter()
        .any(|(g, k)| *g == group && k.eq_ignore_ascii_case(kind))
}

/// Why a manifest cannot be used; the node fails with `resource manifest: …`. Never quotes the
/// manifest's content (a Secret's data, say): only where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resource manifest: {0}")]
pub struct ManifestError(pub String);

/// The single object of a manifest (YAML or JSON), with `apiVersion`, `kind` and a name.
pub fn parse_manifest(text: &str) -> Result<Value, ManifestError> {
    let bad = |m: String| ManifestError(m);
    crate::bounded_yaml::within_budget(text).map_err(|e| bad(e.to_string()))?;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        // Where, not what: the parser's message may quote the manifest.
        let value = Value::deserialize(doc).map_err(|e| {
            bad(match e.location() {
                Some(l) => format!("not valid YAML (line {}, column {})", l.line(), l.column()),
                None => "not valid YAML".into(),
            })
        })?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    let manifest = match docs.len() {
        1 => docs.remove(0),
        0 => return Err(bad("it is empty".into())),
        n => return Err(bad(format!("it holds {n} objects: put one per template"))),
    };
    if !manifest.is_object() {
        return Err(bad("it is not an object".into()));
    }
    for field in ["apiVersion", "kind"] {
        if manifest[field].as_str().is_none_or(str::is_empty) {
            return Err(bad(format!("{field} is required")));
        }
    }
    let named = manifest["metadata"]["name"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    if !named && manifest["metadata"]["generateName"].as_str().is_none() {
        return Err(bad("metadata.name (or generateName) is required".into()));
    }
    Ok(manifest)
}

/// The namespace a manifest names: `None` when it names none (absent, null or empty — the
/// request's namespace applies, as for kubectl), an error when it is not a string.
pub fn manifest_namespace(manifest: &Value) -> Result<Option<&str>, ManifestError> {
    match &manifest["metadata"]["namespace"] {
        Value::Null => Ok(None),
        Value::String(ns) if ns.is_empty() => Ok(None),
        Value::String(ns) => Ok(Some(ns)),
        _ => Err(ManifestError("metadata.namespace must be a string".into())),
    }
}

/// How a manifest's object is named in messages: `ConfigMap "x"` (or its `generateName`).
pub fn describe(manifest: &Value) -> String {
    let kind = manifest["kind"].as_str().unwrap_or_default();
    match manifest["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
    {
        Some(name) => format!("{kind} {name:?}"),
        None => format!(
            "{kind} with generateName {:?}",
            manifest["metadata"]["generateName"]
                .as_str()
                .unwrap_or_default()
        ),
    }
}

/// What the controller authorized a resource template's manifest to act on, in the pod's
/// cluster. Set by the controller on the pod; the executor acts on nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTarget {
    /// The pod's cluster (`""`: the controller's own, unnamed), for messages.
    pub cluster: String,
    /// The one namespace a namespaced object may be in.
    pub namespace: String,
    /// Whether the policy grants cluster-scoped objects here (`<cluster>:*`).
    pub cluster_scoped: bool,
}

/// Why the executor refuses a manifest's target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "refused: the pod has no valid {ENV} ({0}); only a pod created by the Flotilla controller for a resource template may run its manifest"
    )]
    Missing(String),
    #[error(
        "refused: {what} is in namespace {namespace:?}, but this node is authorized for namespace {authorized:?} of cluster {cluster:?} only"
    )]
    OtherNamespace {
        what: String,
        namespace: String,
        authorized: String,
        cluster: String,
    },
    #[error(
        "refused: {what} is cluster-scoped, but this node is not authorized for cluster-scoped resources in cluster {cluster:?} (that needs policy object \"{cluster}:*\")"
    )]
    ClusterScoped { what: String, cluster: String },
}

impl ResourceTarget {
    /// As the pod's environment variable holds it.
    pub fn to_env(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From the pod's environment variable; a pod without one (or with nonsense) gets nothing.
    pub fn from_env(value: Option<&str>) -> Result<ResourceTarget, TargetError> {
        let value = value.ok_or_else(|| TargetError::Missing("it is not set".into()))?;
        serde_json::from_str(value).map_err(|e| TargetError::Missing(e.to_string()))
    }

    /// Whether `what` may be acted on: in `namespace` (resolved, defaults applied) if it is
    /// namespaced, cluster-wide (`None`) only if that was authorized.
    pub fn permits(&self, what: &str, namespace: Option<&str>) -> Result<(), TargetError> {
        match namespace {
            Some(ns) if ns == self.namespace => Ok(()),
            Some(ns) => Err(TargetError::OtherNamespace {
                what: what.to_string(),
                namespace: ns.to_string(),
                authorized: self.namespace.clone(),
                cluster: self.cluster.clone(),
            }),
            None if self.cluster_scoped => Ok(()),
            None => Err(TargetError::ClusterScoped {
                what: what.to_string(),
                cluster: self.cluster.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_cluster_scoped_kinds_are_known_by_group() {
        assert!(is_cluster_scoped(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole"
        ));
        assert!(is_cluster_scoped("v1", "Namespace"));
        assert!(is_cluster_scoped("v1", "namespace"), "case does not matter");
        assert!(is_cluster_scoped(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition"
        ));
        assert!(!is_cluster_scoped("v1", "ConfigMap"));
        assert!(!is_cluster_scoped("rbac.authorization.k8s.io/v1", "Role"));
        // A custom kind of the same name in another group is not the built-in one.
        assert!(!is_cluster_scoped("example.com/v1", "Namespace"));
    }

    #[test]
    fn a_manifest_names_its_namespace_or_none() {
        let ns = |m: Value| manifest_namespace(&m).map(|n| n.map(str::to_string));
        assert_eq!(ns(json!({"metadata": {"name": "x"}})), Ok(None));
        assert_eq!(ns(json!({"metadata": {"namespace": ""}})), Ok(None));
        assert_eq!(
            ns(json!({"metadata": {"namespace": "a"}})),
            Ok(Some("a".into()))
        );
        assert_eq!(
            ns(json!({"metadata": {"namespace": 5}}))
                .unwrap_err()
                .to_string(),
            "resource manifest: metadata.namespace must be a string"
        );
    }

    #[test]
    fn a_target_permits_its_namespace_and_cluster_scope_only_when_granted() {
        let target = ResourceTarget {
            cluster: "cluster-1".into(),
            namespace: "team-a".into(),
            cluster_scoped: false,
        };
        assert_eq!(target.permits("ConfigMap \"x\"", Some("team-a")), Ok(()));
        assert_eq!(
            target
                .permits("ConfigMap \"x\"", Some("victim"))
                .unwrap_err()
                .to_string(),
            r#"refused: ConfigMap "x" is in namespace "victim", but this node is authorized for namespace "team-a" of cluster "cluster-1" only"#
        );
        assert_eq!(
            target
                .permits("ClusterRole \"r\"", None)
                .unwrap_err()
                .to_string(),
            r#"refused: ClusterRole "r" is cluster-scoped, but this node is not authorized for cluster-scoped resources in cluster "cluster-1" (that needs policy object "cluster-1:*")"#
        );
        let wide = ResourceTarget {
            cluster_scoped: true,
            ..target
        };
        assert_eq!(wide.permits("ClusterRole \"r\"", None), Ok(()));
        // A cluster-wide grant does not widen the namespace the manifest was authorized for.
        assert!(wide.permits("ConfigMap \"x\"", Some("victim")).is_err());
    }

    #[test]
    fn the_target_travels_as_json_and_its_absence_is_refused() {
        let target = ResourceTarget {
            cluster: "".into(),
            namespace: "argo".into(),
            cluster_scoped: true,
        };
        assert_eq!(ResourceTarget::from_env(Some(&target.to_env())), Ok(target));
        assert!(
            ResourceTarget::from_env(None)
                .unwrap_err()
                .to_string()
                .starts_with(
                    "refused: the pod has no valid FLOTILLA_RESOURCE_TARGET (it is not set)"
                )
        );
        assert!(ResourceTarget::from_env(Some("{}")).is_err());
    }
}
