//! Non-resource URLs: bootstrap discovery and health access, prefix rules, where rules apply.

use super::super::rule::url_matches;
use super::*;

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
    let authz = |resource| res("", "authorization.k8s.io", resource, "", "");
    let access_review = authz("selfsubjectaccessreviews");
    let self_review = res("", "authentication.k8s.io", "selfsubjectreviews", "", "");
    check(
        &s,
        &bob,
        &[
            ("create", access_review, true),
            ("create", authz("selfsubjectrulesreviews"), true),
            ("create", self_review, true),
            ("create", authz("subjectaccessreviews"), false),
            ("list", res("default", "", "pods", "", ""), false),
        ],
    );
    assert!(!allowed(&s, &anon, "create", access_review));
}

#[test]
fn non_resource_url_prefixes() {
    for (rule, path, want) in [
        ("*", "/anything", true),
        ("/apis/*", "/apis/apps", true),
        ("/apis/*", "/apis/", true),
        ("/apis/*", "/apis", false),
        ("/hea*", "/healthz", true),
        ("/logs**", "/logs/x", true),
        ("/healthz", "/healthz/ping", false),
    ] {
        assert_eq!(url_matches(rule, path), want, "{rule} for {path}");
    }
}

#[test]
fn non_resource_rules_in_role_bindings_never_apply() {
    let metrics = || {
        cluster_role(
            "metrics",
            json!([{ "nonResourceURLs": ["/metrics"], "verbs": ["get"] }]),
        )
    };
    let bob = UserInfo::authenticated("bob", vec![]);
    let may_get_metrics = |s: RbacSnapshot| {
        s.authorize(&Attributes::non_resource(&bob, "get", "/metrics")) == Decision::Allow
    };
    let s = snapshot(&[
        metrics(),
        role_binding("ns", "metrics", "ClusterRole", "metrics", user("bob")),
    ]);
    assert!(!may_get_metrics(s));
    let s = snapshot(&[
        metrics(),
        cluster_role_binding("metrics", "metrics", user("bob")),
    ]);
    assert!(may_get_metrics(s));
}
