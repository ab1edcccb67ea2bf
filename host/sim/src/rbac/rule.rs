//! One RBAC policy rule and how it matches a request (`RuleAllows` and
//! `pkg/apis/rbac/v1/evaluation_helpers.go`).

use serde_json::Value;

use super::{Attributes, Request};

/// One `rules[]` entry of a Role or ClusterRole. Non-string list entries are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PolicyRule {
    pub(super) verbs: Vec<String>,
    pub(super) api_groups: Vec<String>,
    pub(super) resources: Vec<String>,
    pub(super) resource_names: Vec<String>,
    pub(super) non_resource_urls: Vec<String>,
}

impl PolicyRule {
    pub(super) fn from_value(rule: &Value) -> Self {
        let list = |key: &str| -> Vec<String> {
            rule.get(key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            verbs: list("verbs"),
            api_groups: list("apiGroups"),
            resources: list("resources"),
            resource_names: list("resourceNames"),
            non_resource_urls: list("nonResourceURLs"),
        }
    }

    /// `RuleAllows`: every dimension of the request must be matched by this one rule.
    pub(super) fn allows(&self, attrs: &Attributes<'_>) -> bool {
        if !self.verbs.iter().any(|v| v == "*" || v == attrs.verb) {
            return false;
        }
        match attrs.request {
            Request::Resource(r) => {
                self.api_groups.iter().any(|g| g == "*" || g == r.api_group)
                    && self.resources.iter().any(|res| resource_matches(res, r.resource, r.subresource))
                    // An empty resourceNames list matches any name; otherwise the request's name
                    // must be listed, so a create or an unfiltered list (no name) never matches.
                    && (self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == r.name))
            }
            Request::NonResource { path } => {
                self.non_resource_urls.iter().any(|u| url_matches(u, path))
            }
        }
    }
}

/// `ResourceMatches` for one rule entry: `*`, the exact `resource` or `resource/subresource`,
/// or `*/subresource`. (`pods/*` is not a wildcard in RBAC.)
pub(super) fn resource_matches(rule: &str, resource: &str, subresource: &str) -> bool {
    if rule == "*" {
        return true;
    }
    if subresource.is_empty() {
        return rule == resource;
    }
    // rule == resource + "/" + subresource, compared without building the string.
    let combined = rule
        .strip_prefix(resource)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| rest == subresource);
    combined
        || rule
            .strip_prefix("*/")
            .is_some_and(|rest| rest == subresource)
}

/// `NonResourceURLMatches` for one rule entry: `*`, exact, or a prefix ending in `*`.
pub(super) fn url_matches(rule: &str, path: &str) -> bool {
    if rule == "*" || rule == path {
        return true;
    }
    rule.ends_with('*') && path.starts_with(rule.trim_end_matches('*'))
}
