//! Whether an installed `workflows.argoproj.io` (or WorkflowTemplate) CRD keeps the fields
//! Flotilla adds to Argo's.
//!
//! Flotilla's CRDs and Argo's minimal ones preserve unknown fields, but Argo also publishes
//! "full" CRDs whose structural schema types every field it knows — and the API server prunes
//! every field a structural schema does not name. Under those, a template's `cluster:` is
//! dropped as the workflow is stored and the pod runs in the controller's own cluster, and the
//! placement recorded in `status.nodes` is lost after every write. The controller checks the
//! schema at start-up and refuses to run on one that prunes them.

use serde_json::Value;

/// The placement fields of a template.
const PLACEMENT: &[&str] = &["cluster", "clusterName", "namespace"];

/// The fields Flotilla reads that Argo's Workflow schema does not define, by where they are.
const FIELDS: &[(&[Step], &[&str])] = &[
    (
        &[
            Step::Property("spec"),
            Step::Property("templates"),
            Step::Items,
        ],
        PLACEMENT,
    ),
    (
        &[
            Step::Property("status"),
            Step::Property("nodes"),
            Step::AdditionalProperties,
        ],
        &["cluster", "namespace", "podName", "podUID"],
    ),
    (
        &[
            Step::Property("status"),
            Step::Property("storedTemplates"),
            Step::AdditionalProperties,
        ],
        PLACEMENT,
    ),
    (
        &[
            Step::Property("status"),
            Step::Property("storedWorkflowTemplateSpec"),
            Step::Property("templates"),
            Step::Items,
        ],
        PLACEMENT,
    ),
];

/// The same for Argo's CronWorkflow schema.
const CRON_FIELDS: &[(&[Step], &[&str])] = &[(
    &[
        Step::Property("spec"),
        Step::Property("workflowSpec"),
        Step::Property("templates"),
        Step::Items,
    ],
    PLACEMENT,
)];

/// The same for Argo's WorkflowTemplate and ClusterWorkflowTemplate schemas.
const TEMPLATE_FIELDS: &[(&[Step], &[&str])] = &[(
    &[
        Step::Property("spec"),
        Step::Property("templates"),
        Step::Items,
    ],
    PLACEMENT,
)];

/// One step from a schema node to a child's.
#[derive(Debug, Clone, Copy)]
enum Step {
    Property(&'static str),
    Items,
    AdditionalProperties,
}

impl Step {
    fn shown(self) -> &'static str {
        match self {
            Step::Property(_) => ".",
            Step::Items => "[]",
            Step::AdditionalProperties => ".*",
        }
    }
}

/// The Flotilla fields that `crd` (a `CustomResourceDefinition`, as JSON: the Workflow CRD, or
/// a WorkflowTemplate or ClusterWorkflowTemplate one) would prune from the version it stores,
/// as paths (`spec.templates[].cluster`); empty when all are kept.
pub fn pruned_fields(crd: &Value) -> Vec<String> {
    let spec = &crd["spec"];
    let fields = match spec["names"]["kind"].as_str() {
        Some("WorkflowTemplate" | "ClusterWorkflowTemplate") => TEMPLATE_FIELDS,
        Some("CronWorkflow") => CRON_FIELDS,
        _ => FIELDS,
    };
    // apiextensions.k8s.io/v1beta1's default, and v1's deprecated opt-out: nothing is pruned.
    if spec["preserveUnknownFields"] == true {
        return Vec::new();
    }
    let versions = spec["versions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let stored = versions
        .iter()
        .find(|v| v["storage"] == true)
        .or(versions.first());
    let Some(schema) = stored
        .map(|v| &v["schema"]["openAPIV3Schema"])
        .filter(|s| s.is_object())
    else {
        // No schema: nothing is pruned (a v1 CRD cannot be served without one, but be lenient).
        return Vec::new();
    };
    let mut pruned = Vec::new();
    for (path, fields) in fields {
        let at = path_name(path);
        let kept: &dyn Fn(&str) -> bool = match walk(schema, path) {
            Kept::All => &|_| true,
            Kept::Within(node) => &move |field| keeps(node, field),
            Kept::None => &|_| false,
        };
        pruned.extend(
            fields
                .iter()
                .filter(|field| !kept(field))
                .map(|field| format!("{at}.{field}")),
        );
    }
    pruned
}

/// What a schema keeps below a path.
enum Kept<'a> {
    /// Everything: an ancestor preserves unknown fields and nothing below it is specified.
    All,
    /// What this schema node names or preserves.
    Within(&'a Value),
    /// Nothing: the path itself is pruned.
    None,
}

fn walk<'a>(mut node: &'a Value, path: &[Step]) -> Kept<'a> {
    for step in path {
        let child = match step {
            Step::Property(name) => node["properties"].get(*name),
            Step::Items => node.get("items").filter(|i| i.is_object()),
            Step::AdditionalProperties => {
                node.get("additionalProperties").filter(|a| a.is_object())
            }
        };
        match child {
            Some(child) => node = child,
            None if preserves(node) => return Kept::All,
            // `additionalProperties: true` keeps any value, unschema'd.
            None if matches!(step, Step::AdditionalProperties)
                && node["additionalProperties"] == true =>
            {
                return Kept::All;
            }
            None => return Kept::None,
        }
    }
    Kept::Within(node)
}

fn preserves(node: &Value) -> bool {
    node["x-kubernetes-preserve-unknown-fields"] == true
}

fn keeps(node: &Value, field: &str) -> bool {
    preserves(node) || node["properties"].get(field).is_some()
}

fn path_name(path: &[Step]) -> String {
    let mut name = String::new();
    for step in path {
        match step {
            Step::Property(p) => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(p);
            }
            other => name.push_str(other.shown()),
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn crd(schema: Value) -> Value {
        json!({"spec": {"versions": [{"name": "v1alpha1", "storage": true,
            "schema": {"openAPIV3Schema": schema}}]}})
    }

    #[test]
    fn flotillas_own_crd_keeps_every_field() {
        let ours = serde_json::to_value(super::super::workflow()).expect("a CRD is JSON");
        assert_eq!(pruned_fields(&ours), Vec::<String>::new());
    }

    #[test]
    fn argos_minimal_crd_keeps_every_field() {
        // Argo's minimal shape: spec and status are free objects.
        let free = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        let minimal = crd(json!({"type": "object", "required": ["metadata", "spec"],
            "properties": {"spec": free, "status": free}}));
        assert_eq!(pruned_fields(&minimal), Vec::<String>::new());
    }

    #[test]
    fn a_fully_typed_schema_prunes_flotillas_fields_and_names_them() {
        // The shape of a schema that types every field Argo knows, and nothing more.
        let full = crd(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "templates": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "container": {"type": "object"}}}}}},
            "status": {"type": "object", "properties": {
                "nodes": {"type": "object", "additionalProperties": {"type": "object",
                    "properties": {"id": {"type": "string"}, "phase": {"type": "string"}}}}}}}}));
        assert_eq!(
            pruned_fields(&full),
            [
                "spec.templates[].cluster",
                "spec.templates[].clusterName",
                "spec.templates[].namespace",
                "status.nodes.*.cluster",
                "status.nodes.*.namespace",
                "status.nodes.*.podName",
                "status.nodes.*.podUID",
                "status.storedTemplates.*.cluster",
                "status.storedTemplates.*.clusterName",
                "status.storedTemplates.*.namespace",
                "status.storedWorkflowTemplateSpec.templates[].cluster",
                "status.storedWorkflowTemplateSpec.templates[].clusterName",
                "status.storedWorkflowTemplateSpec.templates[].namespace",
            ]
        );
    }

    #[test]
    fn workflow_template_crds_are_checked_for_their_templates() {
        let ours = serde_json::to_value(super::super::workflow_template()).unwrap();
        assert_eq!(pruned_fields(&ours), Vec::<String>::new());
        let ours = serde_json::to_value(super::super::cron_workflow()).unwrap();
        assert_eq!(pruned_fields(&ours), Vec::<String>::new());
        let mut cron = crd(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"workflowSpec": {"type": "object"}}}}}));
        cron["spec"]["names"] = json!({"kind": "CronWorkflow"});
        assert_eq!(
            pruned_fields(&cron),
            [
                "spec.workflowSpec.templates[].cluster",
                "spec.workflowSpec.templates[].clusterName",
                "spec.workflowSpec.templates[].namespace",
            ]
        );
        let mut full = crd(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "templates": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}}}}}}}}));
        full["spec"]["names"] = json!({"kind": "ClusterWorkflowTemplate"});
        assert_eq!(
            pruned_fields(&full),
            [
                "spec.templates[].cluster",
                "spec.templates[].clusterName",
                "spec.templates[].namespace",
            ]
        );
    }

    #[test]
    fn a_schema_naming_some_fields_prunes_only_the_others() {
        let partial = crd(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "templates": {"type": "array", "items": {"type": "object", "properties": {
                    "cluster": {"type": "string"}, "namespace": {"type": "string"}}}}}},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}));
        assert_eq!(pruned_fields(&partial), ["spec.templates[].clusterName"]);
    }

    #[test]
    fn a_schema_without_the_path_at_all_prunes_it_whole() {
        let no_status = crd(json!({"type": "object", "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}));
        assert_eq!(
            pruned_fields(&no_status),
            [
                "status.nodes.*.cluster",
                "status.nodes.*.namespace",
                "status.nodes.*.podName",
                "status.nodes.*.podUID",
                "status.storedTemplates.*.cluster",
                "status.storedTemplates.*.clusterName",
                "status.storedTemplates.*.namespace",
                "status.storedWorkflowTemplateSpec.templates[].cluster",
                "status.storedWorkflowTemplateSpec.templates[].clusterName",
                "status.storedWorkflowTemplateSpec.templates[].namespace",
            ]
        );
    }

    #[test]
    fn preserve_unknown_fields_on_the_crd_prunes_nothing() {
        let mut old = crd(json!({"type": "object"}));
        old["spec"]["preserveUnknownFields"] = json!(true);
        assert_eq!(pruned_fields(&old), Vec::<String>::new());
    }
}
