//! The CRDs Flotilla installs, generated from the Rust types and committed under
//! `manifests/base/crds/` (a test fails when the two drift).
//!
//! Their schemas are structural ([`schema`]): what the Rust types read is typed, so the API
//! server rejects a malformed object at the door; everything else is preserved as Argo's
//! minimal CRDs preserve it, so full Argo YAML applies unchanged and a cluster can hold Argo's
//! CRDs or Flotilla's interchangeably.

mod compat;
mod schema;

pub use compat::pruned_fields;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion, CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::{CustomResourceExt, Resource};

use super::{
    ClusterWorkflowTemplate, CronWorkflow, Workflow, WorkflowTaskResult, WorkflowTemplate,
};

fn validation(value: serde_json::Value) -> Option<CustomResourceValidation> {
    // The literal below is a valid JSONSchemaProps; failing to parse it would be a bug caught by
    // the drift test, so fall back to no schema rather than panic.
    serde_json::from_value::<JSONSchemaProps>(value)
        .ok()
        .map(|props| CustomResourceValidation {
            open_api_v3_schema: Some(props),
        })
}

/// `workflows.argoproj.io`: from the `Workflow` type's derive (names, columns), with the
/// structural schema of what Flotilla reads.
pub fn workflow() -> CustomResourceDefinition {
    let mut crd = Workflow::crd();
    for version in &mut crd.spec.versions {
        version.schema = validation(schema::workflow());
        // Argo's Workflow has no status subresource: its controller writes the whole object.
        version.subresources = None;
    }
    crd
}

/// `workflowtemplates.argoproj.io`: Argo's names, no printer columns (as Argo's), a workflow's
/// spec.
pub fn workflow_template() -> CustomResourceDefinition {
    crd_of::<WorkflowTemplate>("Namespaced", Some(&["wftmpl"]), schema::workflow_template())
}

/// `clusterworkflowtemplates.argoproj.io`: cluster-scoped, as Argo's.
pub fn cluster_workflow_template() -> CustomResourceDefinition {
    crd_of::<ClusterWorkflowTemplate>(
        "Cluster",
        Some(&["clusterwftmpl", "cwft"]),
        schema::workflow_template(),
    )
}

/// `cronworkflows.argoproj.io`: Argo's names, no printer columns (as Argo's).
pub fn cron_workflow() -> CustomResourceDefinition {
    crd_of::<CronWorkflow>(
        "Namespaced",
        Some(&["cwf", "cronwf"]),
        schema::cron_workflow(),
    )
}

/// The CRD of `K`, one version, with Argo's naming.
fn crd_of<K: Resource<DynamicType = ()>>(
    scope: &str,
    short_names: Option<&[&str]>,
    schema: serde_json::Value,
) -> CustomResourceDefinition {
    let kind = K::kind(&()).into_owned();
    let names = CustomResourceDefinitionNames {
        list_kind: Some(format!("{kind}List")),
        plural: K::plural(&()).into_owned(),
        singular: Some(kind.to_lowercase()),
        short_names: short_names.map(|names| names.iter().map(|s| s.to_string()).collect()),
        kind,
        ..Default::default()
    };
    let group = K::group(&()).into_owned();
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{}.{group}", names.plural)),
            ..Default::default()
        },
        spec: CustomResourceDefinitionSpec {
            group,
            names,
            scope: scope.into(),
            versions: vec![CustomResourceDefinitionVersion {
                name: K::version(&()).into_owned(),
                served: true,
                storage: true,
                schema: validation(schema),
                ..Default::default()
            }],
            ..Default::default()
        },
        status: None,
    }
}

/// Every CRD Flotilla installs.
pub fn all() -> [CustomResourceDefinition; 5] {
    [
        workflow(),
        workflow_task_result(),
        workflow_template(),
        cluster_workflow_template(),
        cron_workflow(),
    ]
}

/// `workflowtaskresults.argoproj.io`, with Argo's fields at the top level.
pub fn workflow_task_result() -> CustomResourceDefinition {
    crd_of::<WorkflowTaskResult>("Namespaced", None, schema::workflow_task_result())
}

/// Every CRD, as one multi-document YAML file.
pub fn render_all() -> String {
    let mut out = String::from("# Generated from the Rust types by `flotilla crd`; do not edit.\n");
    for crd in all() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The committed manifests are what the types generate.
    #[test]
    fn committed_crds_match_the_types() {
        let committed = include_str!("../../../manifests/base/crds.yaml");
        assert!(
            committed == render_all(),
            "manifests/base/crds.yaml is out of date; regenerate it with `cargo run -p flotilla -- crd > manifests/base/crds.yaml`"
        );
    }

    #[test]
    fn workflows_keep_argos_shape() {
        let crd = serde_json::to_value(workflow()).unwrap();
        assert_eq!(crd["metadata"]["name"], "workflows.argoproj.io");
        assert_eq!(crd["spec"]["names"]["shortNames"], json!(["wf"]));
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert!(
            version.get("subresources").is_none(),
            "Argo's Workflow has no status subresource"
        );
        assert_eq!(
            version["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(columns, ["Status", "Age", "Message"]);
    }

    #[test]
    fn workflow_templates_keep_argos_names_and_scopes() {
        let wt = serde_json::to_value(workflow_template()).unwrap();
        assert_eq!(wt["metadata"]["name"], "workflowtemplates.argoproj.io");
        assert_eq!(wt["spec"]["scope"], "Namespaced");
        assert_eq!(wt["spec"]["names"]["shortNames"], json!(["wftmpl"]));
        let cwt = serde_json::to_value(cluster_workflow_template()).unwrap();
        assert_eq!(
            cwt["metadata"]["name"],
            "clusterworkflowtemplates.argoproj.io"
        );
        assert_eq!(cwt["spec"]["scope"], "Cluster");
        assert_eq!(
            cwt["spec"]["names"]["shortNames"],
            json!(["clusterwftmpl", "cwft"])
        );
        for crd in [&wt, &cwt] {
            let version = &crd["spec"]["versions"][0];
            assert!(version.get("additionalPrinterColumns").is_none());
            assert!(version.get("subresources").is_none());
        }
    }

    /// Every object node keeps unknown fields (nothing a user writes is pruned) and the schema
    /// parses as a `JSONSchemaProps` (else `validation` would silently drop it).
    #[test]
    fn schemas_parse_and_prune_nothing() {
        fn walk(node: &serde_json::Value, path: &str, root: bool) {
            if node.get("properties").is_some() && !root {
                assert_eq!(
                    node["x-kubernetes-preserve-unknown-fields"], true,
                    "{path} would prune unknown fields"
                );
            }
            for (key, child) in node["properties"].as_object().into_iter().flatten() {
                walk(child, &format!("{path}.{key}"), false);
            }
            for key in ["items", "additionalProperties"] {
                if let Some(child) = node.get(key).filter(|c| c.is_object()) {
                    walk(child, &format!("{path}[]"), false);
                }
            }
        }
        for crd in all() {
            let version = &crd.spec.versions[0];
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref());
            let schema = serde_json::to_value(schema.expect("the schema parses")).unwrap();
            walk(&schema, &crd.spec.names.kind, true);
        }
    }

    /// Flotilla's own fields are declared (so typed) where they live.
    #[test]
    fn flotillas_fields_are_typed_where_they_live() {
        let wf = schema::workflow();
        let template = &wf["properties"]["spec"]["properties"]["templates"]["items"]["properties"];
        for field in ["cluster", "clusterName", "namespace"] {
            assert_eq!(template[field]["type"], "string", "{field}");
        }
        let node = &wf["properties"]["status"]["properties"]["nodes"]["additionalProperties"]["properties"];
        for field in ["cluster", "namespace", "podName", "podUID"] {
            assert_eq!(node[field]["type"], "string", "{field}");
        }
        let result = schema::workflow_task_result();
        let outputs = &result["properties"]["outputs"]["properties"];
        assert_eq!(outputs["result"]["type"], "string");
        assert_eq!(
            outputs["parameters"]["items"]["properties"]["value"]["type"],
            "string"
        );
    }
}
