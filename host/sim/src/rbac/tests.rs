//! RBAC decisions: binding resolution, resource names, subresources, wildcards, groups, users.

use serde_json::{Value, json};

use super::forbidden::forbidden_message;
use super::rule::resource_matches;
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

/// Each `(verb, request, want)`: `want` is whether `user` may make that request.
fn check(s: &RbacSnapshot, user: &UserInfo, cases: &[(&str, ResourceRequest<'_>, bool)]) {
    for &(verb, r, want) in cases {
        assert_eq!(
            allowed(s, user, verb, r),
            want,
            "{} {verb} {r:?}",
            user.name
        );
    }
}

/// The subjects of a binding to the single user `name`.
fn user(name: &str) -> Value {
    json!([{ "kind": "User", "name": name }])
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
    let argo = |resource, sub, name| res("default", "argoproj.io", resource, sub, name);
    let core = |resource, name| res("default", "", resource, "", name);
    let result = wtr("default", "wf-123");
    check(
        &s,
        &sa,
        &[
            ("create", wtr("default", ""), true),
            ("patch", result, true),
            // Every other verb is forbidden.
            ("get", result, false),
            ("list", result, false),
            ("watch", result, false),
            ("update", result, false),
            ("delete", result, false),
            ("deletecollection", result, false),
            ("create", wtr("other", ""), false), // other namespace
            ("create", wtr("", ""), false),      // cluster scope
            ("create", argo("workflows", "", ""), false),
            ("create", core("workflowtaskresults", ""), false), // core group
            ("patch", argo("workflowtaskresults", "status", "x"), false),
            ("get", core("pods", "p"), false),
        ],
    );
    // Another service account of the same namespace gets nothing.
    let other = UserInfo::service_account("default", "builder");
    assert!(!allowed(&s, &other, "create", wtr("default", "")));
}

#[test]
fn service_account_subject_defaults_to_the_binding_namespace() {
    let pods = |verb| json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": [verb] }]);
    let runner_subject = json!([{ "kind": "ServiceAccount", "name": "runner" }]);
    let s = snapshot(&[
        role("ns1", "reader", pods("get")),
        role_binding("ns1", "reader", "Role", "reader", runner_subject.clone()),
        cluster_role("lister", pods("list")),
        // A ClusterRoleBinding's service account subject without a namespace matches nobody.
        cluster_role_binding("lister", "lister", runner_subject),
    ]);
    let runner = UserInfo::service_account("ns1", "runner");
    check(
        &s,
        &runner,
        &[
            ("get", res("ns1", "", "pods", "", "p"), true),
            ("list", res("ns1", "", "pods", "", ""), false),
        ],
    );
    let elsewhere = UserInfo::service_account("ns2", "runner");
    let pod = res("ns1", "", "pods", "", "p");
    assert!(!allowed(&s, &elsewhere, "get", pod));
}

#[test]
fn cluster_role_through_role_binding_is_limited_to_that_namespace() {
    let s = snapshot(&[
        cluster_role(
            "pod-reader",
            json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] }]),
        ),
        role_binding("team-a", "read", "ClusterRole", "pod-reader", user("bob")),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    let pods = |ns, name| res(ns, "", "pods", "", name);
    check(
        &s,
        &bob,
        &[
            ("list", pods("team-a", ""), true),
            ("get", pods("team-a", "p"), true),
            ("list", pods("team-b", ""), false),
            ("list", pods("", ""), false), // all namespaces is cluster scope
        ],
    );
    // The same role through a ClusterRoleBinding reaches every namespace and the cluster scope.
    let s = snapshot(&[
        cluster_role(
            "pod-reader",
            json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["list"] }]),
        ),
        cluster_role_binding("read", "pod-reader", user("bob")),
    ]);
    check(
        &s,
        &bob,
        &[
            ("list", pods("team-b", ""), true),
            ("list", pods("", ""), true),
        ],
    );
}

#[test]
fn role_binding_to_role_of_another_namespace_does_not_resolve() {
    let s = snapshot(&[
        role(
            "a",
            "r",
            json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }]),
        ),
        role_binding("b", "r", "Role", "r", user("bob")),
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
        cluster_role_binding("gone-1", "missing", user("bob")),
        cluster_role_binding(
            "gone-2",
            "missing",
            json!([{ "kind": "Group", "name": "devs" }]),
        ),
        role_binding("ns", "gone-3", "Role", "absent", user("bob")),
        role_binding("ns", "weird", "Thing", "x", user("bob")),
        cluster_role_binding("not-bob", "also-missing", user("alice")),
    ]);
    let bob = UserInfo::authenticated("bob", vec!["devs".into()]);
    let denial = |user: &UserInfo, verb, r| match s.authorize(&Attributes::resource(user, verb, r))
    {
        Decision::Deny { reason } => reason,
        other => panic!("{verb} {r:?}: {other:?}"),
    };
    assert_eq!(
        denial(&bob, "get", res("ns", "", "pods", "", "p")),
        concat!(
            r#"RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, "#,
            r#"role.rbac.authorization.k8s.io "absent" not found, unsupported role reference kind: "Thing"]"#
        )
    );
    // At the cluster scope the RoleBindings are not consulted.
    assert_eq!(
        denial(&bob, "list", res("", "", "nodes", "", "")),
        r#"RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found"#
    );
    // A user no broken binding applies to gets no reason.
    let carol = UserInfo::authenticated("carol", vec![]);
    assert_eq!(denial(&carol, "get", res("ns", "", "pods", "", "p")), "");
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
        role_binding("ns", "cm", "Role", "cm", user("bob")),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    let cm = |name| res("ns", "", "configmaps", "", name);
    check(
        &s,
        &bob,
        &[
            ("get", cm("cfg"), true),
            ("update", cm("cfg"), true),
            ("delete", cm("cfg"), true),
            ("get", cm("other"), false),
            ("create", cm(""), false), // create carries no name
            ("list", cm(""), false),   // unfiltered list carries no name
            ("watch", cm(""), false),
            ("list", cm("cfg"), true), // list with fieldSelector metadata.name=cfg
            ("watch", cm("cfg"), true),
        ],
    );
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
        role_binding("ns", "r", "Role", "r", user("bob")),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    let argo = |resource, sub| res("ns", "argoproj.io", resource, sub, "w");
    check(
        &s,
        &bob,
        &[
            ("get", res("ns", "", "pods", "log", "p"), true),
            ("get", res("ns", "", "pods", "exec", "p"), false), // pods does not cover pods/exec
            ("get", res("ns", "", "pod", "log", "p"), false),
            ("update", argo("workflows", "status"), true),
            ("update", argo("workflowtasksets", "status"), true),
            ("update", argo("workflows", ""), false), // */status is not the object
            ("update", argo("workflows", "scale"), false),
            ("update", argo("workflows", "xstatus"), false),
        ],
    );
}

#[test]
fn subresource_matching_is_exact() {
    for (rule, resource, sub, want) in [
        ("pods/log", "pods", "log", true),
        ("pods/log", "pods", "lo", false),
        ("pods/logs", "pods", "log", false),
        ("podsx/log", "pods", "log", false),
        ("pods/*", "pods", "log", false), // RBAC has no resource/* wildcard
        ("pods", "pods", "log", false),
        ("*/log", "pods", "log", true),
        ("*/log", "pods", "", false),
        ("*", "pods", "log", true),
    ] {
        assert_eq!(
            resource_matches(rule, resource, sub),
            want,
            "{rule} for {resource}/{sub}"
        );
    }
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
        cluster_role_binding("argo-all", "argo-all", user("bob")),
        cluster_role_binding("any-get", "any-get", user("bob")),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    let argo = |resource, sub, name| res("x", "argoproj.io", resource, sub, name);
    check(
        &s,
        &bob,
        &[
            ("deletecollection", argo("workflows", "", ""), true),
            ("escalate", argo("cronworkflows", "", "c"), true),
            ("patch", argo("workflows", "status", "w"), true), // * covers subresources
            ("get", res("x", "", "pods", "", "p"), false),
            ("get", res("x", "anything.io", "configmaps", "", "c"), true),
            ("list", res("x", "", "configmaps", "", ""), false),
        ],
    );
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
    let workflows = |ns| res(ns, "argoproj.io", "workflows", "", "");
    let dev = UserInfo::authenticated("dana", vec!["devs".into()]);
    let ci = UserInfo::service_account("ci", "builder");
    let outsider = UserInfo::authenticated("eve", vec!["dev".into()]);
    for (user, ns, want) in [
        (&dev, "", true),
        (&ci, "ci", true),
        (&ci, "prod", false),
        (&outsider, "", false),
    ] {
        assert_eq!(
            allowed(&s, user, "list", workflows(ns)),
            want,
            "{} lists workflows in {ns:?}",
            user.name
        );
    }
}

#[test]
fn system_masters_may_do_anything_even_without_bindings() {
    let empty = RbacSnapshot::from_objects([], [], [], []);
    let admin = UserInfo::authenticated("admin", vec![SYSTEM_MASTERS.into()]);
    let node = res("", "", "nodes", "", "n");
    assert!(allowed(&empty, &admin, "delete", node));
    assert!(
        empty.authorize(&Attributes::non_resource(&admin, "get", "/metrics")) == Decision::Allow
    );
    let nobody = UserInfo::authenticated("nobody", vec![]);
    assert!(empty.authorize(&Attributes::non_resource(&nobody, "get", "/api")) != Decision::Allow);
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
mod non_resource;
