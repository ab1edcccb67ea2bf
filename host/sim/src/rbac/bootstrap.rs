//! The RBAC objects a fresh cluster has (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy`),
//! limited to the roles every client relies on: `cluster-admin` for `system:masters`,
//! discovery and health for authenticated users, public info for everyone, and self-reviews.

use serde_json::{Value, json};

/// ClusterRoles first, then their ClusterRoleBindings, as the API serves them (the server adds
/// uid, resourceVersion and creationTimestamp when it stores them).
pub(crate) fn bootstrap_objects() -> Vec<Value> {
    let urls = |urls: &[&str]| json!([{ "nonResourceURLs": urls, "verbs": ["get"] }]);
    vec![
        cluster_role(
            "cluster-admin",
            json!([
                { "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] },
                { "nonResourceURLs": ["*"], "verbs": ["*"] },
            ]),
        ),
        cluster_role(
            "system:basic-user",
            json!([
                {
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    "verbs": ["create"],
                },
                { "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"] },
            ]),
        ),
        cluster_role(
            "system:discovery",
            urls(&[
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/healthz",
                "/livez",
                "/openapi",
                "/openapi/*",
                "/readyz",
                "/version",
                "/version/",
            ]),
        ),
        cluster_role(
            "system:public-info-viewer",
            urls(&["/healthz", "/livez", "/readyz", "/version", "/version/"]),
        ),
        cluster_role_binding("cluster-admin", &["system:masters"]),
        cluster_role_binding("system:basic-user", &["system:authenticated"]),
        cluster_role_binding("system:discovery", &["system:authenticated"]),
        cluster_role_binding(
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
}

fn bootstrap_metadata(name: &str) -> Value {
    json!({
        "name": name,
        "labels": { "kubernetes.io/bootstrapping": "rbac-defaults" },
        "annotations": { "rbac.authorization.kubernetes.io/autoupdate": "true" },
    })
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": bootstrap_metadata(name),
        "rules": rules,
    })
}

/// A binding of the ClusterRole of the same name to groups, as `NewClusterBinding(..).Groups(..)`.
fn cluster_role_binding(name: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g }))
        .collect();
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": bootstrap_metadata(name),
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name },
        "subjects": subjects,
    })
}
