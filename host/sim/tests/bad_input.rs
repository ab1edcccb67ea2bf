//! Bad requests get Kubernetes Status errors with clear messages; nothing crashes the server.

mod support;

use anyhow::Result;
use support::raw;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn malformed_bodies_unknown_paths_and_invalid_names() -> Result<()> {
    let cluster = support::cluster().await?;
    let c = cluster.client()?;
    let r = raw(&c, "POST", CMS, "application/json", "{not json").await?;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["kind"], "Status");
    let r = raw(&c, "POST", CMS, "application/json", "[1,2]").await?;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = raw(
        &c,
        "POST",
        CMS,
        "application/yaml",
        "metadata:\n  name: from-yaml\n",
    )
    .await?;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = raw(
        &c,
        "GET",
        "/api/v1/namespaces/default/gizmos",
        "application/json",
        "",
    )
    .await?;
    assert_eq!(
        (r.status, r.json()["reason"].as_str()),
        (404, Some("NotFound"))
    );
    let r = raw(
        &c,
        "GET",
        "/apis/apps/v9/deployments",
        "application/json",
        "",
    )
    .await?;
    assert_eq!(r.status, 404);
    let r = raw(
        &c,
        "POST",
        CMS,
        "application/json",
        r#"{"metadata":{"name":"Bad_Name"}}"#,
    )
    .await?;
    assert_eq!(r.status, 422, "{}", r.body);
    let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.starts_with(r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#), "{msg}");
    let r = raw(&c, "POST", CMS, "application/json", r#"{"metadata":{}}"#).await?;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("name or generateName is required"),
        "{}",
        r.body
    );
    let r = raw(
        &c,
        "POST",
        CMS,
        "application/json",
        r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"x"}}"#,
    )
    .await?;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = raw(
        &c,
        "POST",
        CMS,
        "application/json",
        r#"{"metadata":{"name":"typed"},"data":{"k":1}}"#,
    )
    .await?;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("data.k"),
        "the message names the field: {}",
        r.body
    );
    Ok(())
}

#[tokio::test]
async fn oversized_bodies_are_rejected() -> Result<()> {
    let cluster = support::cluster().await?;
    let c = cluster.client()?;
    let big = format!(
        r#"{{"metadata":{{"name":"big"}},"data":{{"k":"{}"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    let r = raw(&c, "POST", CMS, "application/json", big).await?;
    assert_eq!(r.status, 413, "{}", &r.body[..r.body.len().min(200)]);
    Ok(())
}

#[tokio::test]
async fn garbage_never_crashes_the_server() -> Result<()> {
    let cluster = support::cluster().await?;
    let c = cluster.client()?;
    let paths = [
        CMS,
        "/api/v1/namespaces/default/pods",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "/api/v1/namespaces",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    ];
    let bodies: [&[u8]; 8] = [
        b"",
        b"null",
        b"{\"metadata\":null}",
        b"{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":5}}}",
        b"{\"metadata\":{\"name\":\"x\"},\"spec\":{\"containers\":[{}]}}",
        b"{\"metadata\":{\"name\":\"x\"},\"spec\":{\"versions\":7}}",
        b"\xff\xfe\x00garbage",
        b"{\"metadata\":{\"name\":\"x\",\"finalizers\":[1,2]}}",
    ];
    for path in paths {
        for (i, body) in bodies.iter().enumerate() {
            for (method, ct) in [
                ("POST", "application/json"),
                ("PATCH", "application/merge-patch+json"),
                ("PATCH", "application/strategic-merge-patch+json"),
                ("PATCH", "application/json-patch+json"),
                ("PUT", "application/json"),
            ] {
                let target = if method == "POST" {
                    path.to_string()
                } else {
                    format!("{path}/x")
                };
                let r = raw(&c, method, &target, ct, body.to_vec()).await?;
                assert!(
                    (200..500).contains(&r.status),
                    "{method} {target} body #{i}: {} {}",
                    r.status,
                    r.body
                );
            }
        }
    }
    // Still serving.
    assert_eq!(
        raw(&c, "GET", "/version", "application/json", "")
            .await?
            .status,
        200
    );
    Ok(())
}

/// An object past etcd's 1.5 MiB is refused as the API server passes etcd's refusal on (a 500,
/// kubernetes/kubernetes#112152), though its body is within the 3 MiB a request may carry.
#[tokio::test]
async fn an_object_too_large_for_etcd_is_refused() -> Result<()> {
    let cluster = support::cluster().await?;
    let c = cluster.client()?;
    let lease = |holder: usize| {
        serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": format!("big-{holder}")},
            "spec": {"holderIdentity": "x".repeat(holder)}
        })
        .to_string()
    };
    let leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    let r = raw(&c, "POST", leases, "application/json", lease(1_600_000)).await?;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (500, Some("etcdserver: request is too large")),
        "{}",
        r.body.chars().take(200).collect::<String>()
    );
    let r = raw(&c, "POST", leases, "application/json", lease(1_400_000)).await?;
    assert_eq!(r.status, 201);
    Ok(())
}
