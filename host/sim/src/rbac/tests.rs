use serde_json::{Value, json};

use super::forbidden::forbidden_message;
use super::rule::{resource_matches, url_matches};
use super::*;

const SA: &str = "system:serviceaccount:default:default";

fn role(ns: &str, name: &str, rules: Value) -> Value {
    json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": { "namespace": ns, "name": name }, "rules": rules })
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": { "name": name }, "rules": rules })
}

fn role_binding(ns: &str, name: &str, kind: &str, role: &str, subjects: Value) -> Value {
    json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": { "namespace": ns, "name": name },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role },
            "subjects": subjects })
}

fn cluster_role_binding(name: &str, role: &str, subjects: Value) -> Value {
    json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": { "name": name },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
            "subjects": subjects })
}

/// Everything given plus the bootstrap policy, routed by kind as the server would.
fn snapshot(objects: &[Value]) -> RbacSnapshot {
    let boot = bootstrap_objects();
    let all: Vec<&Value> = objects.iter().chain(boot.iter()).collect();
    let of =
        |kind: &str| -> Vec<&Value> { all.iter().copied().filter(|o| o["kind"] == kind).collect() };
    RbacSnapshot::from_objects(
        of("Role"),
        of("ClusterRole"),
        of("RoleBinding"),
        of("ClusterRoleBinding"),
    )
}

fn res<'a>(
    ns: &'a str,
    group: &'a str,
    resource: &'a str,
    sub: &'a str,
    name: &'a str,
) -> ResourceRequest<'a> {
    ResourceRequest {
        namespace: ns,
        api_group: group,
        resource,
        subresource: sub,
        name,
    }
}

fn allowed(s: &RbacSnapshot, user: &UserInfo, verb: &str, r: ResourceRequest<'_>) -> bool {
    s.authorize(&Attributes::resource(user, verb, r)) == Decision::Allow
}

/// The seed's executor role: `kubectl create role executor --verb=create,patch
/// --resource=workflowtaskresults.argoproj.io` bound to the default service account.
fn executor_cluster() -> RbacSnapshot {
    snapshot(&[
        role(
            "default",
            "executor",
            json!([{ "apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"],
                                             "verbs": ["create", "patch"] }]),
        ),
        role_binding(
            "default",
            "executor",
            "Role",
            "executor",
            json!([{ "kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": SA }]),
        ),
    ])
}

#[test]
fn executor_role_grants_exactly_create_and_patch_in_its_namespace() {
    let s = executor_cluster();
    let sa = UserInfo::service_account("default", "default");
    assert_eq!(sa.name, SA);
    let wtr = |ns, name| res(ns, "argoproj.io", "workflowtaskresults", "", name);
    assert!(allowed(&s, &sa, "create", wtr("default", "")));
    assert!(allowed(&s, &sa, "patch", wtr("default", "wf-123")));
    for verb in [
        "get",
        "list",
        "watch",
        "update",
        "delete",
        "deletecollection",
    ] {
        assert!(
            !allowed(&s, &sa, verb, wtr("default", "wf-123")),
            "{verb} must be forbidden"
        );
    }
    assert!(
        !allowed(&s, &sa, "create", wtr("other", "")),
        "other namespace"
    );
    assert!(!allowed(&s, &sa, "create", wtr("", "")), "cluster scope");
    assert!(!allowed(
        &s,
        &sa,
        "create",
        res("default", "argoproj.io", "workflows", "", "")
    ));
    assert!(
        !allowed(
            &s,
            &sa,
            "create",
            res("default", "", "workflowtaskresults", "", "")
        ),
        "core group"
    );
    assert!(!allowed(
        &s,
        &sa,
        "patch",
        res(
            "default",
            "argoproj.io",
            "workflowtaskresults",
            "status",
            "x"
        )
    ));
    assert!(!allowed(
        &s,
        &sa,
        "get",
        res("default", "", "pods", "", "p")
    ));
    // Another service account of the same namespace gets nothing.
    let other = UserInfo::service_account("default", "builder");
    assert!(!allowed(&s, &other, "create", wtr("default", "")));
}

#[test]
fn service_account_subject_defaults_to_the_binding_namespace() {
    let s = snapshot(&[
        role(
            "ns1",
            "reader",
            json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }]),
        ),
        role_binding(
            "ns1",
            "reader",
            "Role",
            "reader",
            json!([{ "kind": "ServiceAccount", "name": "runner" }]),
        ),
        cluster_role(
            "lister",
            json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["list"] }]),
        ),
        // A ClusterRoleBinding's service account subject without a namespace matches nobody.
        cluster_role_binding(
            "lister",
            "lister",
            json!([{ "kind": "ServiceAccount", "name": "runner" }]),
        ),
    ]);
    let runner = UserInfo::service_account("ns1", "runner");
    assert!(allowed(&s, &runner, "get", res("ns1", "", "pods", "", "p")));
    assert!(!allowed(
        &s,
        &runner,
        "list",
        res("ns1", "", "pods", "", "")
    ));
    let elsewhere = UserInfo::service_account("ns2", "runner");
    assert!(!allowed(
        &s,
        &elsewhere,
        "get",
        res("ns1", "", "pods", "", "p")
    ));
}

#[test]
fn cluster_role_through_role_binding_is_limited_to_that_namespace() {
    let s = snapshot(&[
        cluster_role(
            "pod-reader",
            json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] }]),
        ),
        role_binding(
            "team-a",
            "read",
            "ClusterRole",
            "pod-reader",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    assert!(allowed(&s, &bob, "list", res("team-a", "", "pods", "", "")));
    assert!(allowed(&s, &bob, "get", res("team-a", "", "pods", "", "p")));
    assert!(!allowed(
        &s,
        &bob,
        "list",
        res("team-b", "", "pods", "", "")
    ));
    assert!(
        !allowed(&s, &bob, "list", res("", "", "pods", "", "")),
        "all namespaces is cluster scope"
    );
    // The same role through a ClusterRoleBinding reaches every namespace and the cluster scope.
    let s = snapshot(&[
        cluster_role(
            "pod-reader",
            json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["list"] }]),
        ),
        cluster_role_binding(
            "read",
            "pod-reader",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
    ]);
    assert!(allowed(&s, &bob, "list", res("team-b", "", "pods", "", "")));
    assert!(allowed(&s, &bob, "list", res("", "", "pods", "", "")));
}

#[test]
fn role_binding_to_role_of_another_namespace_does_not_resolve() {
    let s = snapshot(&[
        role(
            "a",
            "r",
            json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }]),
        ),
        role_binding(
            "b",
            "r",
            "Role",
            "r",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    let attrs = Attributes::resource(&bob, "get", res("b", "", "pods", "", "p"));
    assert_eq!(
        s.authorize(&attrs),
        Decision::Deny {
            reason: r#"RBAC: role.rbac.authorization.k8s.io "r" not found"#.to_owned()
        }
    );
    assert_eq!(
        forbidden_message(
            &attrs,
            r#"RBAC: role.rbac.authorization.k8s.io "r" not found"#
        ),
        r#"pods "p" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace "b": RBAC: role.rbac.authorization.k8s.io "r" not found"#
    );
}

#[test]
fn resolution_errors_are_aggregated_only_for_bindings_that_apply() {
    let s = snapshot(&[
        cluster_role_binding(
            "gone-1",
            "missing",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
        cluster_role_binding(
            "gone-2",
            "missing",
            json!([{ "kind": "Group", "name": "devs" }]),
        ),
        role_binding(
            "ns",
            "gone-3",
            "Role",
            "absent",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
        role_binding(
            "ns",
            "weird",
            "Thing",
            "x",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
        cluster_role_binding(
            "not-bob",
            "also-missing",
            json!([{ "kind": "User", "name": "alice" }]),
        ),
    ]);
    let bob = UserInfo::authenticated("bob", vec!["devs".into()]);
    let decision = s.authorize(&Attributes::resource(
        &bob,
        "get",
        res("ns", "", "pods", "", "p"),
    ));
    assert_eq!(
        decision,
        Decision::Deny {
            reason: concat!(
                r#"RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, "#,
                r#"role.rbac.authorization.k8s.io "absent" not found, unsupported role reference kind: "Thing"]"#
            )
            .to_owned()
        }
    );
    // At the cluster scope the RoleBindings are not consulted.
    let decision = s.authorize(&Attributes::resource(
        &bob,
        "list",
        res("", "", "nodes", "", ""),
    ));
    assert_eq!(
        decision,
        Decision::Deny {
            reason: r#"RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found"#.to_owned()
        }
    );
    // A user no broken binding applies to gets no reason.
    let carol = UserInfo::authenticated("carol", vec![]);
    let decision = s.authorize(&Attributes::resource(
        &carol,
        "get",
        res("ns", "", "pods", "", "p"),
    ));
    assert_eq!(
        decision,
        Decision::Deny {
            reason: String::new()
        }
    );
}

#[test]
fn resource_names_never_match_create_or_unnamed_list() {
    let s = snapshot(&[
        role(
            "ns",
            "cm",
            json!([{ "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cfg"],
                                  "verbs": ["get", "list", "watch", "create", "update", "delete"] }]),
        ),
        role_binding(
            "ns",
            "cm",
            "Role",
            "cm",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    let cm = |name| res("ns", "", "configmaps", "", name);
    assert!(allowed(&s, &bob, "get", cm("cfg")));
    assert!(allowed(&s, &bob, "update", cm("cfg")));
    assert!(allowed(&s, &bob, "delete", cm("cfg")));
    assert!(!allowed(&s, &bob, "get", cm("other")));
    assert!(
        !allowed(&s, &bob, "create", cm("")),
        "create carries no name"
    );
    assert!(
        !allowed(&s, &bob, "list", cm("")),
        "unfiltered list carries no name"
    );
    assert!(!allowed(&s, &bob, "watch", cm("")));
    assert!(
        allowed(&s, &bob, "list", cm("cfg")),
        "list with fieldSelector metadata.name=cfg"
    );
    assert!(allowed(&s, &bob, "watch", cm("cfg")));
}

#[test]
fn subresources_need_their_own_rule() {
    let s = snapshot(&[
        role(
            "ns",
            "r",
            json!([
                { "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] },
                { "apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"] },
                { "apiGroups": ["argoproj.io"], "resources": ["*/status"], "verbs": ["update"] },
            ]),
        ),
        role_binding(
            "ns",
            "r",
            "Role",
            "r",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    assert!(allowed(&s, &bob, "get", res("ns", "", "pods", "log", "p")));
    assert!(
        !allowed(&s, &bob, "get", res("ns", "", "pods", "exec", "p")),
        "pods does not cover pods/exec"
    );
    assert!(!allowed(&s, &bob, "get", res("ns", "", "pod", "log", "p")));
    assert!(allowed(
        &s,
        &bob,
        "update",
        res("ns", "argoproj.io", "workflows", "status", "w")
    ));
    assert!(allowed(
        &s,
        &bob,
        "update",
        res("ns", "argoproj.io", "workflowtasksets", "status", "w")
    ));
    assert!(
        !allowed(
            &s,
            &bob,
            "update",
            res("ns", "argoproj.io", "workflows", "", "w")
        ),
        "*/status is not the object"
    );
    assert!(!allowed(
        &s,
        &bob,
        "update",
        res("ns", "argoproj.io", "workflows", "scale", "w")
    ));
    assert!(!allowed(
        &s,
        &bob,
        "update",
        res("ns", "argoproj.io", "workflows", "xstatus", "w")
    ));
}

#[test]
fn subresource_matching_is_exact() {
    assert!(resource_matches("pods/log", "pods", "log"));
    assert!(!resource_matches("pods/log", "pods", "lo"));
    assert!(!resource_matches("pods/logs", "pods", "log"));
    assert!(!resource_matches("podsx/log", "pods", "log"));
    assert!(
        !resource_matches("pods/*", "pods", "log"),
        "RBAC has no resource/* wildcard"
    );
    assert!(!resource_matches("pods", "pods", "log"));
    assert!(resource_matches("*/log", "pods", "log"));
    assert!(!resource_matches("*/log", "pods", ""));
    assert!(resource_matches("*", "pods", "log"));
}

#[test]
fn wildcards_in_verbs_groups_and_resources() {
    let s = snapshot(&[
        cluster_role(
            "argo-all",
            json!([{ "apiGroups": ["argoproj.io"], "resources": ["*"], "verbs": ["*"] }]),
        ),
        cluster_role(
            "any-get",
            json!([{ "apiGroups": ["*"], "resources": ["configmaps"], "verbs": ["get"] }]),
        ),
        cluster_role_binding(
            "argo-all",
            "argo-all",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
        cluster_role_binding(
            "any-get",
            "any-get",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    assert!(allowed(
        &s,
        &bob,
        "deletecollection",
        res("x", "argoproj.io", "workflows", "", "")
    ));
    assert!(allowed(
        &s,
        &bob,
        "escalate",
        res("x", "argoproj.io", "cronworkflows", "", "c")
    ));
    assert!(
        allowed(
            &s,
            &bob,
            "patch",
            res("x", "argoproj.io", "workflows", "status", "w")
        ),
        "* covers subresources"
    );
    assert!(!allowed(&s, &bob, "get", res("x", "", "pods", "", "p")));
    assert!(allowed(
        &s,
        &bob,
        "get",
        res("x", "anything.io", "configmaps", "", "c")
    ));
    assert!(!allowed(
        &s,
        &bob,
        "list",
        res("x", "", "configmaps", "", "")
    ));
}

#[test]
fn groups_are_subjects() {
    let s = snapshot(&[
        cluster_role(
            "wf-viewer",
            json!([{ "apiGroups": ["argoproj.io"], "resources": ["workflows"], "verbs": ["get", "list"] }]),
        ),
        role_binding(
            "ci",
            "viewers",
            "ClusterRole",
            "wf-viewer",
            json!([{ "kind": "Group", "name": "system:serviceaccounts:ci" }]),
        ),
        cluster_role_binding(
            "devs",
            "wf-viewer",
            json!([{ "kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs" }]),
        ),
    ]);
    let dev = UserInfo::authenticated("dana", vec!["devs".into()]);
    assert!(allowed(
        &s,
        &dev,
        "list",
        res("", "argoproj.io", "workflows", "", "")
    ));
    let ci = UserInfo::service_account("ci", "builder");
    assert!(allowed(
        &s,
        &ci,
        "list",
        res("ci", "argoproj.io", "workflows", "", "")
    ));
    assert!(!allowed(
        &s,
        &ci,
        "list",
        res("prod", "argoproj.io", "workflows", "", "")
    ));
    let outsider = UserInfo::authenticated("eve", vec!["dev".into()]);
    assert!(!allowed(
        &s,
        &outsider,
        "list",
        res("", "argoproj.io", "workflows", "", "")
    ));
}

#[test]
fn system_masters_may_do_anything_even_without_bindings() {
    let empty = RbacSnapshot::from_objects([], [], [], []);
    let admin = UserInfo::authenticated("admin", vec![SYSTEM_MASTERS.into()]);
    assert!(allowed(
        &empty,
        &admin,
        "delete",
        res("", "", "nodes", "", "n")
    ));
    assert!(
        empty.authorize(&Attributes::non_resource(&admin, "get", "/metrics")) == Decision::Allow
    );
    let nobody = UserInfo::authenticated("nobody", vec![]);
    assert!(empty.authorize(&Attributes::non_resource(&nobody, "get", "/api")) != Decision::Allow);
}

#[test]
fn non_resource_urls_and_bootstrap_discovery() {
    let s = RbacSnapshot::bootstrap();
    let bob = UserInfo::authenticated("bob", vec![]);
    let anon = UserInfo::anonymous();
    let get = |user: &UserInfo, path: &str| {
        s.authorize(&Attributes::non_resource(user, "get", path)) == Decision::Allow
    };
    for path in [
        "/api",
        "/api/v1",
        "/apis",
        "/apis/argoproj.io/v1alpha1",
        "/openapi/v2",
        "/openapi/v3/apis/apps/v1",
        "/version",
        "/version/",
        "/healthz",
        "/livez",
        "/readyz",
    ] {
        assert!(get(&bob, path), "authenticated get {path}");
    }
    assert!(!get(&bob, "/metrics"));
    assert!(!get(&bob, "/healthz/etcd"), "no prefix rule for /healthz");
    assert!(!get(&bob, "/apix"), "/apis/* does not cover /apix");
    assert!(s.authorize(&Attributes::non_resource(&bob, "post", "/api")) != Decision::Allow);
    for path in ["/healthz", "/livez", "/readyz", "/version", "/version/"] {
        assert!(get(&anon, path), "anonymous get {path}");
    }
    for path in ["/api", "/apis", "/openapi/v2"] {
        assert!(!get(&anon, path), "anonymous get {path}");
    }
    // system:basic-user: self reviews for every authenticated user, but nothing else.
    assert!(allowed(
        &s,
        &bob,
        "create",
        res(
            "",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "",
            ""
        )
    ));
    assert!(allowed(
        &s,
        &bob,
        "create",
        res(
            "",
            "authorization.k8s.io",
            "selfsubjectrulesreviews",
            "",
            ""
        )
    ));
    assert!(allowed(
        &s,
        &bob,
        "create",
        res("", "authentication.k8s.io", "selfsubjectreviews", "", "")
    ));
    assert!(!allowed(
        &s,
        &anon,
        "create",
        res(
            "",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "",
            ""
        )
    ));
    assert!(!allowed(
        &s,
        &bob,
        "create",
        res("", "authorization.k8s.io", "subjectaccessreviews", "", "")
    ));
    assert!(!allowed(
        &s,
        &bob,
        "list",
        res("default", "", "pods", "", "")
    ));
}

#[test]
fn non_resource_url_prefixes() {
    assert!(url_matches("*", "/anything"));
    assert!(url_matches("/apis/*", "/apis/apps"));
    assert!(url_matches("/apis/*", "/apis/"));
    assert!(!url_matches("/apis/*", "/apis"));
    assert!(url_matches("/hea*", "/healthz"));
    assert!(url_matches("/logs**", "/logs/x"));
    assert!(!url_matches("/healthz", "/healthz/ping"));
}

#[test]
fn non_resource_rules_in_role_bindings_never_apply() {
    let s = snapshot(&[
        cluster_role(
            "metrics",
            json!([{ "nonResourceURLs": ["/metrics"], "verbs": ["get"] }]),
        ),
        role_binding(
            "ns",
            "metrics",
            "ClusterRole",
            "metrics",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    assert!(s.authorize(&Attributes::non_resource(&bob, "get", "/metrics")) != Decision::Allow);
    let s = snapshot(&[
        cluster_role(
            "metrics",
            json!([{ "nonResourceURLs": ["/metrics"], "verbs": ["get"] }]),
        ),
        cluster_role_binding(
            "metrics",
            "metrics",
            json!([{ "kind": "User", "name": "bob" }]),
        ),
    ]);
    assert!(s.authorize(&Attributes::non_resource(&bob, "get", "/metrics")) == Decision::Allow);
}

#[test]
fn users_carry_the_authenticated_group() {
    assert_eq!(
        UserInfo::authenticated("bob", vec!["devs".into()]).groups,
        ["devs", ALL_AUTHENTICATED]
    );
    assert_eq!(
        UserInfo::authenticated("bob", vec![ALL_AUTHENTICATED.into()]).groups,
        [ALL_AUTHENTICATED]
    );
    assert_eq!(
        UserInfo::service_account("argo", "runner").groups,
        [
            "system:serviceaccounts",
            "system:serviceaccounts:argo",
            ALL_AUTHENTICATED
        ]
    );
    assert_eq!(UserInfo::anonymous().groups, [ALL_UNAUTHENTICATED]);
}

mod messages;
