//! From an established CustomResourceDefinition to the resource types it serves.

use std::sync::Arc;

use serde_json::Value;

use crate::resources::ResourceType;
use crate::schema::StructuralSchema;
use crate::table::Columns;

pub(crate) fn group_and_plural(crd: &Value) -> Option<(String, String)> {
    let group = crd["spec"]["group"].as_str()?;
    let plural = crd["spec"]["names"]["plural"].as_str()?;
    Some((group.to_string(), plural.to_string()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// One resource type per served version. The CRD has passed validation, so the fields exist;
/// anything missing yields no types rather than a panic.
pub(crate) fn resource_types(crd: &Value) -> Vec<ResourceType> {
    let Some((group, plural)) = group_and_plural(crd) else {
        return Vec::new();
    };
    let names = &crd["spec"]["names"];
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    let singular = names["singular"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map_or_else(|| kind.to_lowercase(), str::to_string);
    let list_kind = names["listKind"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("{kind}List"), str::to_string);
    let versions = crd["spec"]["versions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let storage_version = versions
        .iter()
        .find(|v| v["storage"].as_bool() == Some(true))
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default()
        .to_string();
    let storage: Arc<str> = Arc::from(format!("{plural}.{group}"));
    versions
        .iter()
        .filter(|v| v["served"].as_bool() == Some(true))
        .filter_map(|v| {
            let version = v["name"].as_str()?.to_string();
            let schema = v["schema"]["openAPIV3Schema"].clone();
            Some(ResourceType {
                group: group.clone(),
                version,
                storage_version: storage_version.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                kind: kind.clone(),
                list_kind: list_kind.clone(),
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                namespaced: crd["spec"]["scope"].as_str() != Some("Cluster"),
                status_subresource: v["subresources"].get("status").is_some(),
                builtin: None,
                storage: storage.clone(),
                schema: StructuralSchema::compile(&schema).ok().map(Arc::new),
                columns: Arc::new(Columns::from_crd_version(v)),
            })
        })
        .collect()
}
