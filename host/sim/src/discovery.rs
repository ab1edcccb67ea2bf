//! Discovery (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`), health checks and
//! the OpenAPI documents kubectl consults, all derived from the live catalogue.

use std::sync::Arc;

use http::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::api::{Api, respond};
use crate::codec::{self, Body};
use crate::resources::{Builtin, ResourceType};
use crate::status::{ApiError, Result};

/// The Kubernetes version the simulator reports: the minor version kubectl 1.32 is tested with.
pub(crate) const MAJOR: &str = "1";
pub(crate) const MINOR: &str = "32";

pub(crate) fn serve(
    api: &Arc<Api>,
    method: &Method,
    path: &str,
    _headers: &HeaderMap,
) -> Result<Response<Body>> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on {path}"
        )));
    }
    let catalog = api.catalog();
    let trimmed = path.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => respond(StatusCode::OK, &version()),
        ["healthz"] | ["livez"] | ["readyz"] => Ok(codec::text_response(StatusCode::OK, "ok")),
        ["api"] => respond(
            StatusCode::OK,
            &json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
            }),
        ),
        ["apis"] => {
            let groups: Vec<Value> = catalog
                .groups()
                .filter(|(g, _)| !g.is_empty())
                .map(|(g, v)| group(g, v))
                .collect();
            respond(
                StatusCode::OK,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        ["apis", g] => match catalog.groups().find(|(name, _)| name == g) {
            Some((name, versions)) => {
                let mut doc = group(name, versions);
                doc["kind"] = json!("APIGroup");
                doc["apiVersion"] = json!("v1");
                respond(StatusCode::OK, &doc)
            }
            None => Err(ApiError::no_route()),
        },
        ["api", v] => resource_list(&catalog, "", v),
        ["apis", g, v] => resource_list(&catalog, g, v),
        ["openapi", "v3"] => respond(StatusCode::OK, &crate::openapi::root(&catalog)),
        ["openapi", "v3", rest @ ..] => {
            match crate::openapi::group_version(&catalog, &rest.join("/")) {
                Some(doc) => respond(StatusCode::OK, &doc),
                None => Err(ApiError::no_route()),
            }
        }
        _ => Err(ApiError::no_route()),
    }
}

pub(crate) fn version() -> Value {
    json!({
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": format!("v{MAJOR}.{MINOR}.0-flotilla-sim"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn group(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": vs, "preferredVersion": preferred})
}

fn resource_entry(rt: &ResourceType) -> Vec<Value> {
    let mut out = Vec::new();
    let mut main = json!({
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": rt.verbs(),
    });
    if !rt.short_names.is_empty() {
        main["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        main["categories"] = json!(rt.categories);
    }
    out.push(main);
    for (sub, verbs) in rt.subresources() {
        let mut entry = json!({
            "name": format!("{}/{sub}", rt.plural),
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": verbs,
        });
        match (rt.builtin, sub) {
            (Some(Builtin::Pod), "binding") => entry["kind"] = json!("Binding"),
            (Some(Builtin::ServiceAccount), "token") => {
                entry["kind"] = json!("TokenRequest");
                entry["group"] = json!("authentication.k8s.io");
                entry["version"] = json!("v1");
            }
            _ => {}
        }
        out.push(entry);
    }
    out
}

fn resource_list(
    catalog: &crate::resources::Catalog,
    group: &str,
    version: &str,
) -> Result<Response<Body>> {
    if !catalog.has_group_version(group, version) {
        return Err(ApiError::no_route());
    }
    let resources: Vec<Value> = catalog
        .resources_in(group, version)
        .flat_map(|rt| resource_entry(rt))
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    respond(
        StatusCode::OK,
        &json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }),
    )
}
