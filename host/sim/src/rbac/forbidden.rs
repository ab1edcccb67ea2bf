//! The 403 a denied request gets: kube-apiserver's `responsewriters.Forbidden` text wrapped by
//! apimachinery's `NewForbidden`, and the `Status` object carrying it.

use serde_json::{Map, Value, json};

use super::{Attributes, Request};
use crate::validation::go_quote;

/// The text of a 403 as `responsewriters.Forbidden` builds it: `forbiddenMessage` (with `&<>`
/// escaped), then `: <reason>` when the authorizer gave one (`reason` is empty otherwise),
/// wrapped by `NewForbidden`, e.g.
/// `pods "foo" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace "default"`.
pub(crate) fn forbidden_message(attrs: &Attributes<'_>, reason: &str) -> String {
    let user = go_quote(&attrs.user.name);
    let verb = attrs.verb;
    let detail = match attrs.request {
        Request::NonResource { path } => {
            format!("User {user} cannot {verb} path {}", go_quote(path))
        }
        Request::Resource(r) => {
            let resource = if r.subresource.is_empty() {
                go_quote(r.resource)
            } else {
                go_quote(&format!("{}/{}", r.resource, r.subresource))
            };
            let group = go_quote(r.api_group);
            if r.namespace.is_empty() {
                format!(
                    "User {user} cannot {verb} resource {resource} in API group {group} at the cluster scope"
                )
            } else {
                let ns = go_quote(r.namespace);
                format!(
                    "User {user} cannot {verb} resource {resource} in API group {group} in the namespace {ns}"
                )
            }
        }
    };
    let detail = detail
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let err = if reason.is_empty() {
        detail
    } else {
        format!("{detail}: {reason}")
    };
    match attrs.request {
        Request::Resource(r) if !(r.api_group.is_empty() && r.resource.is_empty()) => {
            let qualified = if r.api_group.is_empty() {
                r.resource.to_owned()
            } else {
                format!("{}.{}", r.resource, r.api_group)
            };
            if r.name.is_empty() {
                format!("{qualified} is forbidden: {err}")
            } else {
                format!("{qualified} {} is forbidden: {err}", go_quote(r.name))
            }
        }
        _ => format!("forbidden: {err}"),
    }
}

/// The complete `Status` body of the 403, `details` as `NewForbidden` fills them (the
/// resource as `kind`, without its subresource; `{}` for non-resource requests).
pub(crate) fn forbidden_status(attrs: &Attributes<'_>, reason: &str) -> Value {
    let mut details = Map::new();
    if let Request::Resource(r) = attrs.request {
        for (key, value) in [
            ("name", r.name),
            ("group", r.api_group),
            ("kind", r.resource),
        ] {
            if !value.is_empty() {
                details.insert(key.to_owned(), Value::String(value.to_owned()));
            }
        }
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": forbidden_message(attrs, reason),
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    })
}
