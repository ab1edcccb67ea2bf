//! The project's manifests, embedded in the binary, and a small client-side `apply` (create, or
//! merge-patch what exists) used by the sandbox to install them the way a user would.

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use serde::Deserialize;

/// Manifests for the controller's own cluster, in apply order.
pub const PRIMARY: &[(&str, &str)] = &[
    (
        "manifests/base/crds.yaml",
        include_str!("../../manifests/base/crds.yaml"),
    ),
    (
        "manifests/base/namespace.yaml",
        include_str!("../../manifests/base/namespace.yaml"),
    ),
    (
        "manifests/base/controller-rbac.yaml",
        include_str!("../../manifests/base/controller-rbac.yaml"),
    ),
];

/// Manifests for a remote cluster (the quick start's `manifests/quick-start/cluster-1`, its
/// kustomization's resources in order), applied in the namespace pods run in.
pub const REMOTE: &[(&str, &str)] = &[
    (
        "manifests/base/crds.yaml",
        include_str!("../../manifests/base/crds.yaml"),
    ),
    (
        "manifests/quick-start/cluster-1/controller-rbac.yaml",
        include_str!("../../manifests/quick-start/cluster-1/controller-rbac.yaml"),
    ),
    (
        "manifests/quick-start/cluster-1/executor-rbac.yaml",
        include_str!("../../manifests/quick-start/cluster-1/executor-rbac.yaml"),
    ),
];

/// The quick start's authorization policy for cluster-0 (the design's example policy).
pub const QUICK_START_AUTHZ: (&str, &str) = (
    "manifests/quick-start/cluster-0/workflow-controller-authz.yaml",
    include_str!("../../manifests/quick-start/cluster-0/workflow-controller-authz.yaml"),
);

/// Why a manifest could not be applied; names the file and the object.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{file}: document {index} is not valid YAML for a Kubernetes object: {source}")]
    Parse {
        file: String,
        index: usize,
        source: serde_yaml::Error,
    },
    #[error("{file}: document {index} has no apiVersion/kind")]
    NoType { file: String, index: usize },
    #[error("{file}: {kind} {name:?}: {source}")]
    Api {
        file: String,
        kind: String,
        name: String,
        source: kube::Error,
    },
}

/// Applies every object of a multi-document YAML file.
pub async fn apply_yaml(
    client: &kube::Client,
    file: &str,
    yaml: &str,
    default_ns: &str,
) -> Result<(), ApplyError> {
    for (index, doc) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_yaml::Value::deserialize(doc).map_err(|source| ApplyError::Parse {
            file: file.to_string(),
            index,
            source,
        })?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject =
            serde_yaml::from_value(value).map_err(|source| ApplyError::Parse {
                file: file.to_string(),
                index,
                source,
            })?;
        apply_object(client, file, index, obj, default_ns).await?;
    }
    Ok(())
}

async fn apply_object(
    client: &kube::Client,
    file: &str,
    index: usize,
    obj: DynamicObject,
    default_ns: &str,
) -> Result<(), ApplyError> {
    let types = obj.types.clone().ok_or_else(|| ApplyError::NoType {
        file: file.to_string(),
        index,
    })?;
    let gvk = GroupVersionKind::try_from(&types).map_err(|_| ApplyError::NoType {
        file: file.to_string(),
        index,
    })?;
    let name = obj.metadata.name.clone().unwrap_or_default();
    let err = |source| ApplyError::Api {
        file: file.to_string(),
        kind: gvk.kind.clone(),
        name: name.clone(),
        source,
    };
    let (resource, caps) = discovery::pinned_kind(client, &gvk).await.map_err(err)?;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            let ns = obj
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| default_ns.to_string());
            Api::namespaced_with(client.clone(), &ns, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    match api.get_opt(&name).await.map_err(err)? {
        None => {
            api.create(&PostParams::default(), &obj)
                .await
                .map_err(err)?;
        }
        Some(_) => {
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&obj))
                .await
                .map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every embedded manifest parses into objects with a type and a name.
    #[test]
    fn embedded_manifests_parse() {
        let mut kinds = Vec::new();
        for (file, yaml) in PRIMARY {
            for doc in serde_yaml::Deserializer::from_str(yaml) {
                let value = serde_yaml::Value::deserialize(doc).unwrap();
                if value.is_null() {
                    continue;
                }
                let obj: DynamicObject =
                    serde_yaml::from_value(value).unwrap_or_else(|e| panic!("{file}: {e}"));
                assert!(obj.metadata.name.is_some(), "{file}");
                kinds.push(obj.types.unwrap().kind);
            }
        }
        assert_eq!(
            kinds
                .iter()
                .filter(|k| *k == "CustomResourceDefinition")
                .count(),
            5,
            "{kinds:?}"
        );
    }

    fn documents(yaml: &str) -> Vec<serde_yaml::Value> {
        serde_yaml::Deserializer::from_str(yaml)
            .map(|d| serde_yaml::Value::deserialize(d).unwrap())
            .filter(|v| !v.is_null())
            .collect()
    }

    /// Secrets through a Role in the controller's namespace, never cluster-wide; ConfigMaps
    /// cluster-wide for reading only (parameters' `configMapKeyRef`, as Argo).
    #[test]
    fn the_controller_reads_secrets_only_in_its_namespace() {
        let docs = documents(PRIMARY[2].1);
        let resources = |kind: &str| -> Vec<String> {
            docs.iter()
                .filter(|d| d["kind"] == kind)
                .flat_map(|d| d["rules"].as_sequence().cloned().unwrap_or_default())
                .flat_map(|r| r["resources"].as_sequence().cloned().unwrap_or_default())
                .filter_map(|r| r.as_str().map(String::from))
                .collect()
        };
        let cluster_wide = resources("ClusterRole");
        assert!(
            !cluster_wide.iter().any(|r| r == "secrets"),
            "{cluster_wide:?}"
        );
        let cluster_role = docs
            .iter()
            .find(|d| d["kind"] == "ClusterRole")
            .expect("a ClusterRole");
        let config_maps: Vec<_> = cluster_role["rules"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|r| {
                r["resources"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .any(|x| x == "configmaps")
            })
            .collect();
        assert_eq!(
            config_maps[0]["resources"].as_sequence().unwrap().len(),
            1,
            "configmaps alone in their rule: {config_maps:?}"
        );
        assert_eq!(config_maps.len(), 1, "{config_maps:?}");
        let verbs: Vec<&str> = config_maps[0]["verbs"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(verbs, ["get", "list", "watch"]);
        let role = docs.iter().find(|d| d["kind"] == "Role").expect("a Role");
        assert_eq!(role["metadata"]["namespace"], "argo");
        assert_eq!(
            resources("Role"),
            ["secrets", "configmaps", "secrets", "leases"]
        );
        // Writes in that namespace: `create` of a Secret (the creator-proof key), and the
        // leader-election Lease.
        let writes: Vec<_> = role["rules"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|r| {
                r["verbs"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .any(|v| !["get", "list", "watch"].contains(&v.as_str().unwrap()))
            })
            .collect();
        assert_eq!(writes.len(), 2, "{writes:?}");
        assert_eq!(writes[0]["resources"][0], "secrets");
        assert_eq!(writes[0]["verbs"].as_sequence().unwrap().len(), 1);
        assert_eq!(writes[0]["verbs"][0], "create");
        assert_eq!(writes[1]["apiGroups"][0], "coordination.k8s.io");
        assert_eq!(writes[1]["resources"][0], "leases");
        for unused in ["leases", "pods/status", "workflows/status"] {
            assert!(!cluster_wide.iter().any(|r| r == unused), "{unused}");
        }
    }

    /// The Deployment runs this release's image and learns its namespace from the downward API.
    #[test]
    fn the_deployment_is_pinned_and_knows_its_namespace() {
        let yaml = include_str!("../../manifests/base/controller-deployment.yaml");
        let docs = documents(yaml);
        let container = &docs[0]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["image"].as_str(),
            Some(flotilla_engine::EXECUTOR_IMAGE),
            "pinned to this release, as the executor image is"
        );
        let env = container["env"].as_sequence().expect("env");
        let namespace = env
            .iter()
            .find(|e| e["name"] == "POD_NAMESPACE")
            .expect("POD_NAMESPACE");
        assert_eq!(
            namespace["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.namespace"
        );
        let pod_name = env
            .iter()
            .find(|e| e["name"] == "POD_NAME")
            .expect("POD_NAME");
        assert_eq!(
            pod_name["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name",
            "the replica's identity in the Lease"
        );
    }

    /// Two replicas (a leader and a warm standby), of which a drain never takes both.
    #[test]
    fn the_controller_runs_as_a_leader_and_a_standby_kept_by_a_disruption_budget() {
        let docs = documents(include_str!(
            "../../manifests/base/controller-deployment.yaml"
        ));
        assert_eq!(docs[0]["spec"]["replicas"], 2);
        let pdb = docs
            .iter()
            .find(|d| d["kind"] == "PodDisruptionBudget")
            .expect("a PodDisruptionBudget");
        assert_eq!(pdb["spec"]["minAvailable"], 1);
        assert_eq!(
            pdb["spec"]["selector"]["matchLabels"],
            docs[0]["spec"]["selector"]["matchLabels"]
        );
    }
}
