//! The OpenAPI v3 discovery kubectl reads before it writes: the root index and, per group
//! version, the paths with their PATCH operations. kubectl looks for the `fieldValidation`
//! parameter there to decide that the server validates fields itself (server-side field
//! validation, which the simulator implements) instead of downloading schemas.
//!
//! The documents carry paths and operations only, no component schemas: kubectl then computes
//! `apply` patches from its compiled-in types, as it does for any server without schemas.

use std::hash::{Hash, Hasher};

use serde_json::{Map, Value, json};

use crate::resources::{Catalog, ResourceType};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hash_of(catalog: &Catalog, group: &str, version: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for rt in catalog.resources_in(group, version) {
        (&rt.plural, &rt.kind, rt.namespaced, rt.status_subresource).hash(&mut h);
    }
    format!("{:016X}", h.finish())
}

/// `GET /openapi/v3`: one entry per served group version.
pub(crate) fn root(catalog: &Catalog) -> Value {
    let mut paths = Map::new();
    for (group, versions) in catalog.groups() {
        for version in versions {
            let path = gv_path(group, version);
            let url = format!(
                "/openapi/v3/{path}?hash={}",
                hash_of(catalog, group, version)
            );
            paths.insert(path, json!({"serverRelativeURL": url}));
        }
    }
    json!({"paths": paths})
}

fn operation(rt: &ResourceType, action: &str, params: &[&str]) -> Value {
    let parameters: Vec<Value> =
        params.iter().map(|p| json!({"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": true}})).collect();
    json!({
        "operationId": format!("{action}{}", rt.kind),
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    })
}

/// `GET /openapi/v3/{api/v1 | apis/group/version}`, or `None` for a group version not served.
pub(crate) fn group_version(catalog: &Catalog, path: &str) -> Option<Value> {
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return None,
    };
    if !catalog.has_group_version(group, version) {
        return None;
    }
    let prefix = format!("/{}", gv_path(group, version));
    let write_params = ["dryRun", "fieldManager", "fieldValidation"];
    let mut paths = Map::new();
    for rt in catalog.resources_in(group, version) {
        if rt.verbs().len() == 1 {
            continue; // create-only virtual resources (bindings)
        }
        let scope = if rt.namespaced {
            format!("{prefix}/namespaces/{{namespace}}")
        } else {
            prefix.clone()
        };
        let item = format!("{scope}/{}/{{name}}", rt.plural);
        paths.insert(
            item.clone(),
            json!({
                "get": operation(rt, "get", &[]),
                "put": operation(rt, "put", &write_params),
                "patch": operation(rt, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
                "delete": operation(rt, "delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
            }),
        );
        paths.insert(
            format!("{scope}/{}", rt.plural),
            json!({"get": operation(rt, "list", &["labelSelector", "fieldSelector", "limit", "continue", "watch"]), "post": operation(rt, "post", &write_params)}),
        );
        if rt.status_subresource {
            paths.insert(format!("{item}/status"), json!({"patch": operation(rt, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"])}));
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v{}.{}.0", crate::discovery::MAJOR, crate::discovery::MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_advertise_field_validation() {
        let catalog = Catalog::builtin();
        let root = root(&catalog);
        assert!(
            root["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/api/v1?hash=")
        );
        let doc = group_version(&catalog, "api/v1").unwrap();
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Pod");
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        let ns = &doc["paths"]["/api/v1/namespaces/{name}"]["patch"];
        assert_eq!(ns["x-kubernetes-group-version-kind"]["kind"], "Namespace");
        assert!(
            doc["paths"]
                .get("/api/v1/namespaces/{namespace}/bindings/{name}")
                .is_none()
        );
        assert!(group_version(&catalog, "apis/nope.example.com/v1").is_none());
    }
}
