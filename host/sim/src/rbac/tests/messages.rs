//! Forbidden messages and Status objects, bootstrap policy and robustness.

use super::*;

#[test]
fn forbidden_messages_match_kube_apiserver() {
    let sa = UserInfo::service_account("default", "default");
    let bob = UserInfo::authenticated("bob", vec![]);
    let msg = |user: &UserInfo, verb: &str, r| {
        forbidden_message(&Attributes::resource(user, verb, r), "")
    };
    assert_eq!(
        msg(&sa, "get", res("default", "", "pods", "", "foo")),
        r#"pods "foo" is forbidden: User "system:serviceaccount:default:default" cannot get resource "pods" in API group "" in the namespace "default""#
    );
    assert_eq!(
        msg(&bob, "list", res("default", "", "pods", "", "")),
        r#"pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default""#
    );
    assert_eq!(
        msg(&bob, "list", res("", "", "nodes", "", "")),
        r#"nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope"#
    );
    assert_eq!(
        msg(&bob, "get", res("default", "", "pods", "log", "foo")),
        r#"pods "foo" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "default""#
    );
    assert_eq!(
        msg(
            &sa,
            "patch",
            res("default", "argoproj.io", "workflows", "", "x")
        ),
        r#"workflows.argoproj.io "x" is forbidden: User "system:serviceaccount:default:default" cannot patch resource "workflows" in API group "argoproj.io" in the namespace "default""#
    );
    assert_eq!(
        msg(
            &bob,
            "create",
            res(
                "",
                "authorization.k8s.io",
                "selfsubjectrulesreviews",
                "",
                ""
            )
        ),
        r#"selfsubjectrulesreviews.authorization.k8s.io is forbidden: User "bob" cannot create resource "selfsubjectrulesreviews" in API group "authorization.k8s.io" at the cluster scope"#
    );
    assert_eq!(
        msg(
            &bob,
            "update",
            res("argo", "argoproj.io", "workflows", "status", "w")
        ),
        r#"workflows.argoproj.io "w" is forbidden: User "bob" cannot update resource "workflows/status" in API group "argoproj.io" in the namespace "argo""#
    );
    assert_eq!(
        forbidden_message(&Attributes::non_resource(&bob, "get", "/apis"), ""),
        r#"forbidden: User "bob" cannot get path "/apis""#
    );
    let weird = UserInfo::authenticated("<b&b>", vec![]);
    assert_eq!(
        forbidden_message(&Attributes::non_resource(&weird, "get", "/x\"y"), ""),
        r#"forbidden: User "&lt;b&amp;b&gt;" cannot get path "/x\"y""#
    );
}

#[test]
fn forbidden_status_carries_details() {
    let bob = UserInfo::authenticated("bob", vec![]);
    let status = forbidden_status(
        &Attributes::resource(
            &bob,
            "get",
            res("ns", "argoproj.io", "workflows", "status", "w"),
        ),
        "",
    );
    assert_eq!(
        status,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": r#"workflows.argoproj.io "w" is forbidden: User "bob" cannot get resource "workflows/status" in API group "argoproj.io" in the namespace "ns""#,
            "reason": "Forbidden",
            "details": { "name": "w", "group": "argoproj.io", "kind": "workflows" },
            "code": 403,
        })
    );
    let status = forbidden_status(&Attributes::non_resource(&bob, "get", "/metrics"), "");
    assert_eq!(status["details"], json!({}));
    assert_eq!(
        status["message"],
        r#"forbidden: User "bob" cannot get path "/metrics""#
    );
}

#[test]
fn bootstrap_objects_are_well_formed() {
    let objects = bootstrap_objects();
    let names = |kind: &str| -> Vec<&str> {
        objects
            .iter()
            .filter(|o| o["kind"] == kind)
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect()
    };
    let roles = names("ClusterRole");
    assert_eq!(
        roles,
        [
            "cluster-admin",
            "system:basic-user",
            "system:discovery",
            "system:public-info-viewer"
        ]
    );
    assert_eq!(names("ClusterRoleBinding"), roles);
    for o in &objects {
        assert_eq!(o["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert_eq!(
            o["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
    }
    // cluster-admin is bound to system:masters only; public info to the unauthenticated too.
    let binding = |name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == "ClusterRoleBinding" && o["metadata"]["name"] == name)
            .unwrap()
    };
    assert_eq!(
        binding("cluster-admin")["subjects"],
        json!([{ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters" }])
    );
    assert_eq!(
        binding("system:public-info-viewer")["subjects"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn malformed_objects_are_skipped_not_fatal() {
    let s = snapshot(&[
        json!({ "kind": "Role", "metadata": { "name": "no-namespace" }, "rules": "nope" }),
        json!({ "kind": "ClusterRole", "metadata": {}, "rules": [1, 2] }),
        json!({ "kind": "ClusterRole", "metadata": { "name": "odd" }, "rules": [{ "verbs": [1, "get"], "apiGroups": [""], "resources": ["pods", null] }] }),
        json!({ "kind": "RoleBinding", "metadata": { "name": "x" }, "subjects": [{ "kind": "User", "name": "bob" }] }),
        json!({ "kind": "ClusterRoleBinding", "metadata": { "name": "odd" }, "roleRef": { "kind": "ClusterRole", "name": "odd" },
                "subjects": [{ "kind": "User" }, 7, { "kind": "User", "name": "bob" }] }),
        json!({ "kind": "ClusterRoleBinding", "metadata": { "name": "no-subjects" }, "roleRef": 3 }),
    ]);
    let bob = UserInfo::authenticated("bob", vec![]);
    assert!(allowed(&s, &bob, "get", res("ns", "", "pods", "", "p")));
    assert!(!allowed(&s, &bob, "list", res("ns", "", "pods", "", "")));
}

#[test]
fn authorize_with_dozens_of_bindings() {
    let mut objects = Vec::new();
    for i in 0..40 {
        let ns = format!("ns{}", i % 5);
        objects.push(role(&ns, &format!("r{i}"), json!([{ "apiGroups": ["argoproj.io"], "resources": [format!("res{i}")], "verbs": ["get", "list"] }])));
        objects.push(role_binding(&ns, &format!("b{i}"), "Role", &format!("r{i}"),
                                  json!([{ "kind": "ServiceAccount", "name": "default" }, { "kind": "Group", "name": "devs" }])));
        objects.push(cluster_role(
            &format!("c{i}"),
            json!([{ "apiGroups": [""], "resources": [format!("c{i}")], "verbs": ["get"] }]),
        ));
        objects.push(cluster_role_binding(
            &format!("c{i}"),
            &format!("c{i}"),
            json!([{ "kind": "User", "name": format!("u{i}") }]),
        ));
    }
    let s = snapshot(&objects);
    let user = UserInfo::authenticated("someone", vec!["devs".into()]);
    // r38 lives in ns3 and grants get and list only.
    let r38 = |ns| res(ns, "argoproj.io", "res38", "", "x");
    let c7 = res("ns3", "", "c7", "", "x");
    let cases = [
        ("patch", r38("ns3"), false),
        ("get", r38("ns3"), true),
        ("get", r38("ns2"), false),
        // Cluster roles bound to other users do not apply.
        ("get", c7, false),
    ];
    check(&s, &user, &cases);
    let u7 = UserInfo::authenticated("u7", vec![]);
    assert!(allowed(&s, &u7, "get", c7));
}
