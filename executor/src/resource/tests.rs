//! The resource executor's pure parts: the job parsed from the template, and the target it
//! may act on.

use std::sync::Arc;

use http_body_util::BodyExt as _;
use parking_lot::Mutex;

use super::*;
use crate::{Identity, PodRef};

fn job(resource: Value) -> Result<ResourceJob, ResourceError> {
    ResourceJob::from_template(&json!({"name": "t", "resource": resource}).to_string())
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n";

#[test]
fn a_template_becomes_a_checked_job() {
    let j = job(json!({"action": "create", "manifest": CM, "successCondition": "data.a == b"}))
        .unwrap();
    assert_eq!(j.verb, Verb::Create);
    assert!(j.waits());
    assert!(j.judge(&json!({"data": {"a": "b"}})).unwrap().is_ok());
    assert!(j.judge(&json!({"data": {"a": "c"}})).is_none());
}

#[test]
fn the_failure_condition_is_checked_first() {
    let j = job(json!({"action": "create", "manifest": CM,
        "successCondition": "status.succeeded > 0", "failureCondition": "status.failed > 0"}))
    .unwrap();
    let both = json!({"status": {"succeeded": 1, "failed": 1}});
    assert_eq!(
        j.judge(&both).unwrap().unwrap_err().to_string(),
        "failure condition 'status.failed > 0' evaluated true"
    );
}

#[test]
fn bad_templates_say_what_is_wrong() {
    let err = |r: Value| job(r).unwrap_err().to_string();
    assert_eq!(
        err(json!({"action": "explode", "manifest": CM})),
        r#"resource action "explode" must be one of: get, create, apply, delete, replace, patch"#
    );
    assert_eq!(
        err(json!({"action": "create", "manifest": "kind: ConfigMap\nmetadata: {name: x}"})),
        "resource manifest: apiVersion is required"
    );
    assert_eq!(
        err(json!({"action": "create", "manifest": "apiVersion: v1\nkind: ConfigMap"})),
        "resource manifest: metadata.name (or generateName) is required"
    );
    assert!(
        err(json!({"action": "create", "manifest": format!("{CM}---\n{CM}")}))
            .contains("it holds 2 objects")
    );
    assert!(
        err(json!({"action": "create", "manifest": "a: [b"})).starts_with("resource manifest: ")
    );
    assert!(
        err(json!({"action": "patch", "manifest": CM, "mergeStrategy": "json"}))
            .contains(r#"mergeStrategy "json" is not supported"#)
    );
    assert!(
        err(json!({"action": "create", "manifest": CM, "successCondition": "a >"}))
            .contains("must be an integer")
    );
    assert!(
        err(json!({"action": "create", "manifest": CM, "flags": ["--x"]}))
            .contains("flags are not supported")
    );
}

#[test]
fn outputs_come_from_json_path_or_default() {
    let template = json!({"name": "t", "resource": {"action": "get", "manifest": CM},
    "outputs": {"parameters": [
        {"name": "n", "valueFrom": {"jsonPath": "{.metadata.name}"}},
        {"name": "d", "valueFrom": {"jsonPath": "{.data.zz}", "default": "none"}},
    ]}});
    let j = ResourceJob::from_template(&template.to_string()).unwrap();
    let out = j
        .outputs(&json!({"metadata": {"name": "cm"}, "data": {}}))
        .unwrap();
    let values: Vec<_> = out
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_ref().unwrap().as_str()))
        .collect();
    assert_eq!(values, [("n", "cm"), ("d", "none")]);
}

#[test]
fn owner_references_never_cross_namespaces() {
    let ctx = Context {
        namespace: "other".into(),
        target: target("other", false),
        workflow_name: "wf".into(),
        workflow_namespace: "argo".into(),
        workflow_uid: Some("u".into()),
    };
    let mut m = json!({"metadata": {"name": "x", "namespace": "other"}});
    assert!(
        set_owner(&mut m, &ctx)
            .unwrap_err()
            .to_string()
            .contains("cannot cross namespaces")
    );
    let mut m = json!({"metadata": {"name": "x", "namespace": "argo"}});
    set_owner(&mut m, &ctx).unwrap();
    assert_eq!(m["metadata"]["ownerReferences"][0]["uid"], "u");
    assert_eq!(m["metadata"]["ownerReferences"][0]["controller"], true);
}

fn target(namespace: &str, cluster_scoped: bool) -> ResourceTarget {
    ResourceTarget {
        cluster: "cluster-1".into(),
        namespace: namespace.into(),
        cluster_scoped,
    }
}

fn ctx_for(target: ResourceTarget) -> Context {
    Context {
        namespace: "team-a".into(),
        target,
        workflow_name: "wf".into(),
        workflow_namespace: "team-a".into(),
        workflow_uid: None,
    }
}

#[test]
fn the_authorized_namespace_is_the_only_one_acted_in() {
    let ctx = ctx_for(target("team-a", false));
    // No namespace: the pod's, written into the manifest.
    let mut m = json!({"kind": "ConfigMap", "metadata": {"name": "x"}});
    let ns = resolve_target(&mut m, &Scope::Namespaced, &ctx).unwrap();
    assert_eq!(ns.as_deref(), Some("team-a"));
    assert_eq!(m["metadata"]["namespace"], "team-a");
    let mut m = json!({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "team-a"}});
    assert!(resolve_target(&mut m, &Scope::Namespaced, &ctx).is_ok());
    // Another namespace is refused, and the manifest is left as it was.
    let mut m = json!({"kind": "ConfigMap", "metadata": {"name": "loot", "namespace": "victim"}});
    let err = resolve_target(&mut m, &Scope::Namespaced, &ctx).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"refused: ConfigMap "loot" is in namespace "victim", but this node is authorized for namespace "team-a" of cluster "cluster-1" only"#
    );
    assert_eq!(m["metadata"]["namespace"], "victim");
    let mut m = json!({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": 7}});
    assert!(
        resolve_target(&mut m, &Scope::Namespaced, &ctx)
            .unwrap_err()
            .to_string()
            .contains("metadata.namespace must be a string")
    );
}

#[test]
fn a_cluster_scoped_kind_needs_the_cluster_wide_grant() {
    // A kind the controller could not know: discovery says it is cluster-scoped.
    let mut m = json!({"kind": "Widget", "metadata": {"name": "w", "namespace": "team-a"}});
    let err = resolve_target(&mut m, &Scope::Cluster, &ctx_for(target("team-a", false)))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        r#"refused: Widget "w" is cluster-scoped, but this node is not authorized for cluster-scoped resources in cluster "cluster-1" (that needs policy object "cluster-1:*")"#
    );
    let granted = resolve_target(&mut m, &Scope::Cluster, &ctx_for(target("team-a", true)));
    assert_eq!(granted.unwrap(), None);
}

/// Each request a fake API server received: `METHOD /path`, and its body.
type Requests = Arc<Mutex<Vec<(String, String)>>>;

/// A fake API server that records every request and knows ConfigMaps (core `v1`) and task
/// results; everything else is a 404.
fn recording_client() -> (kube::Client, Requests) {
    let seen: Requests = Arc::default();
    let log = seen.clone();
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let log = log.clone();
        async move {
            let line = format!("{} {}", req.method(), req.uri().path());
            let body = req.into_body().collect().await?.to_bytes();
            log.lock()
                .push((line.clone(), String::from_utf8_lossy(&body).to_string()));
            let (status, reply) = if line == "GET /api/v1" {
                let list = json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
                    "resources": [{"name": "configmaps", "singularName": "configmap", "namespaced": true,
                        "kind": "ConfigMap", "verbs": ["create", "get", "delete"]}]});
                (200, list.to_string().into_bytes())
            } else if line.starts_with("POST ") && line.ends_with("/workflowtaskresults") {
                (201, body.to_vec())
            } else {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404, "message": "not found"});
                (404, status.to_string().into_bytes())
            };
            let response = http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(kube::client::Body::from(reply))
                .expect("a response");
            Ok::<_, tower::BoxError>(response)
        }
    });
    (kube::Client::new(service, "default"), seen)
}

fn identity(manifest: &str, target: Option<String>) -> Identity {
    let template = json!({"name": "steal", "resource": {"action": "create", "manifest": manifest}});
    Identity {
        pod: PodRef {
            name: "wf-steal-1".into(),
            namespace: "team-a".into(),
            uid: Some("pod-uid".into()),
            node_id: "wf-1".into(),
            labels: Default::default(),
        },
        template: template.to_string(),
        workflow_uid: Some("wf-uid".into()),
        resource_target: target,
    }
}

#[tokio::test]
async fn a_refused_target_is_reported_before_any_request_on_the_object() {
    let (client, seen) = recording_client();
    let loot = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loot, namespace: victim}\n";
    let authorized = Some(target("team-a", false).to_env());
    let exit = execute(&client, &identity(loot, authorized), &mut |_| {}).await;
    assert_eq!(exit.code, 1);
    let message = exit.message.unwrap();
    assert!(
        message.starts_with(r#"refused: ConfigMap "loot" is in namespace "victim""#),
        "{message}"
    );
    let seen = seen.lock().clone();
    let requests: Vec<&str> = seen.iter().map(|(line, _)| line.as_str()).collect();
    assert_eq!(
        requests,
        [
            "GET /api/v1",
            "POST /apis/argoproj.io/v1alpha1/namespaces/team-a/workflowtaskresults"
        ],
        "discovery, then the report: nothing on the object"
    );
    let reported: Value = serde_json::from_str(&seen[1].1).unwrap();
    assert_eq!(
        reported["message"], message,
        "the refusal is on the task result"
    );
}

#[tokio::test]
async fn a_pod_without_an_authorized_target_acts_on_nothing() {
    let (client, seen) = recording_client();
    let exit = execute(&client, &identity(CM, None), &mut |_| {}).await;
    assert_eq!(exit.code, 1);
    assert!(
        exit.message.as_deref().is_some_and(
            |m| m.starts_with("refused: the pod has no valid FLOTILLA_RESOURCE_TARGET")
        ),
        "{exit:?}"
    );
    let requests: Vec<String> = seen.lock().iter().map(|(line, _)| line.clone()).collect();
    assert_eq!(
        requests,
        ["POST /apis/argoproj.io/v1alpha1/namespaces/team-a/workflowtaskresults"]
    );
}
