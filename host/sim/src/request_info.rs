//! What a request asks for, parsed from its method, path and query the way kube-apiserver's
//! `RequestInfoFactory` does: the input to authorization and routing.

use std::collections::HashMap;

/// A parsed API request. `resource` is empty for non-resource paths (`/version`, `/apis`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestInfo {
    pub(crate) is_resource: bool,
    pub(crate) path: String,
    pub(crate) verb: &'static str,
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) namespace: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) name: String,
    /// The whole path had more segments than any Kubernetes route: served as 404.
    pub(crate) too_deep: bool,
}

/// Parses the query string into a map (last value wins, as Go's `url.Values.Get` returns the first;
/// Kubernetes clients never repeat these parameters).
pub(crate) fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    let mut params = HashMap::new();
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            params
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
    }
    params
}

fn is_true(v: Option<&String>) -> bool {
    matches!(v.map(String::as_str), Some("1" | "true" | "True" | "TRUE"))
}

impl RequestInfo {
    pub(crate) fn parse(
        method: &http::Method,
        path: &str,
        query: &HashMap<String, String>,
    ) -> RequestInfo {
        let mut info = RequestInfo {
            path: path.to_string(),
            ..Default::default()
        };
        let non_resource_verb = match *method {
            http::Method::GET | http::Method::HEAD => "get",
            http::Method::POST => "post",
            http::Method::PUT => "put",
            http::Method::PATCH => "patch",
            http::Method::DELETE => "delete",
            _ => "",
        };
        info.verb = non_resource_verb;
        let trimmed = path.trim_matches('/');
        let segments: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let (group, version, rest): (&str, &str, &[&str]) = match segments.as_slice() {
            ["api", version, rest @ ..] => ("", version, rest),
            ["apis", group, version, rest @ ..] => (group, version, rest),
            _ => return info,
        };
        if rest.is_empty() {
            return info; // discovery document for a group version
        }
        info.is_resource = true;
        info.group = group.to_string();
        info.version = version.to_string();

        let mut parts = rest.to_vec();
        let mut legacy_watch = false;
        if parts.first() == Some(&"watch") {
            legacy_watch = true;
            parts.remove(0);
        }
        if parts.first() == Some(&"namespaces") && parts.len() > 1 {
            info.namespace = parts[1].to_string();
            // `/namespaces/{ns}/{resource}...`, but `/namespaces/{ns}/status|finalize` stay on namespaces.
            if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
                parts.drain(..2);
            }
        }
        match parts.as_slice() {
            [resource] => info.resource = resource.to_string(),
            [resource, name] => {
                info.resource = resource.to_string();
                info.name = name.to_string();
            }
            [resource, name, sub] => {
                info.resource = resource.to_string();
                info.name = name.to_string();
                info.subresource = sub.to_string();
            }
            _ => info.too_deep = true,
        }

        let watch = legacy_watch || is_true(query.get("watch"));
        info.verb = match *method {
            http::Method::GET | http::Method::HEAD if watch => "watch",
            http::Method::GET | http::Method::HEAD if info.name.is_empty() => "list",
            http::Method::GET | http::Method::HEAD => "get",
            http::Method::POST => "create",
            http::Method::PUT => "update",
            http::Method::PATCH => "patch",
            http::Method::DELETE if info.name.is_empty() => "deletecollection",
            http::Method::DELETE => "delete",
            _ => "",
        };
        // A watch or list pinned to one name by field selector is authorized as that name.
        if matches!(info.verb, "list" | "watch")
            && info.name.is_empty()
            && let Some(name) = query.get("fieldSelector").and_then(|s| single_name(s))
        {
            info.name = name;
        }
        info
    }
}

/// `metadata.name=x` (alone) → `x`, as the API server's request-info factory extracts it.
fn single_name(selector: &str) -> Option<String> {
    let (field, value) = selector.split_once('=')?;
    let value = value.strip_prefix('=').unwrap_or(value);
    (field == "metadata.name" && !value.contains(',')).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn parse(method: Method, path: &str, q: &str) -> RequestInfo {
        RequestInfo::parse(&method, path, &parse_query(Some(q)))
    }

    #[test]
    fn namespaced_collection_and_object() {
        let i = parse(Method::GET, "/api/v1/namespaces/argo/pods", "");
        assert_eq!(
            (
                i.verb,
                i.namespace.as_str(),
                i.resource.as_str(),
                i.name.as_str()
            ),
            ("list", "argo", "pods", "")
        );
        let i = parse(Method::DELETE, "/api/v1/namespaces/argo/pods/p1", "");
        assert_eq!((i.verb, i.name.as_str()), ("delete", "p1"));
        let i = parse(
            Method::GET,
            "/api/v1/namespaces/argo/pods/p1/log",
            "follow=true",
        );
        assert_eq!((i.verb, i.subresource.as_str()), ("get", "log"));
    }

    #[test]
    fn groups_watch_and_collections() {
        let i = parse(
            Method::GET,
            "/apis/argoproj.io/v1alpha1/namespaces/a/workflows",
            "watch=1",
        );
        assert_eq!(
            (i.verb, i.group.as_str(), i.version.as_str()),
            ("watch", "argoproj.io", "v1alpha1")
        );
        let i = parse(Method::GET, "/api/v1/watch/namespaces/a/pods/x", "");
        assert_eq!((i.verb, i.name.as_str()), ("watch", "x"));
        let i = parse(Method::DELETE, "/api/v1/namespaces/a/configmaps", "");
        assert_eq!(i.verb, "deletecollection");
        let i = parse(
            Method::GET,
            "/api/v1/pods",
            "fieldSelector=metadata.name%3Dx",
        );
        assert_eq!(
            (i.verb, i.namespace.as_str(), i.name.as_str()),
            ("list", "", "x")
        );
    }

    #[test]
    fn namespaces_themselves() {
        let i = parse(Method::GET, "/api/v1/namespaces/foo", "");
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.namespace.as_str()),
            ("namespaces", "foo", "foo")
        );
        let i = parse(Method::PUT, "/api/v1/namespaces/foo/status", "");
        assert_eq!(
            (i.verb, i.resource.as_str(), i.subresource.as_str()),
            ("update", "namespaces", "status")
        );
        let i = parse(Method::POST, "/api/v1/namespaces", "");
        assert_eq!(
            (i.verb, i.resource.as_str(), i.namespace.as_str()),
            ("create", "namespaces", "")
        );
    }

    #[test]
    fn non_resource_paths() {
        for p in [
            "/version",
            "/api",
            "/apis",
            "/apis/argoproj.io",
            "/api/v1",
            "/apis/apps/v1",
            "/openapi/v2",
        ] {
            let i = parse(Method::GET, p, "");
            assert!(!i.is_resource, "{p}");
            assert_eq!(i.verb, "get");
        }
        assert!(parse(Method::GET, "/api/v1/namespaces/a/pods/b/c/d", "").too_deep);
    }
}
