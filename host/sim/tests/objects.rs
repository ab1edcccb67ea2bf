//! Object semantics through kube-rs: create, get, update with optimistic concurrency, patches,
//! status subresources, finalizers, namespaces and the garbage collector.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{code_of, message_of, wait_for};

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
        ..ConfigMap::default()
    }
}

async fn namespace(client: &kube::Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

#[tokio::test]
async fn create_get_update_and_conflict() -> Result<()> {
    let cluster = support::cluster().await?;
    let client = cluster.client()?;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = cms.create(&PostParams::default(), &cm("a")).await?;
    let rv1 = created.metadata.resource_version.clone().unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    assert_eq!(
        code_of(cms.create(&PostParams::default(), &cm("a")).await),
        409
    );

    let mut changed = created.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let updated = cms.replace("a", &PostParams::default(), &changed).await?;
    assert_ne!(
        updated.metadata.resource_version.as_deref(),
        Some(rv1.as_str())
    );
    // `changed` still carries the old resourceVersion: stale.
    let stale = message_of(cms.replace("a", &PostParams::default(), &changed).await);
    assert_eq!(
        stale,
        r#"Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again"#
    );
    // A no-op update keeps the resourceVersion.
    let same = cms.replace("a", &PostParams::default(), &updated).await?;
    assert_eq!(
        same.metadata.resource_version,
        updated.metadata.resource_version
    );
    // Without a resourceVersion the update of a built-in kind is unconditional.
    let mut unconditional = same.clone();
    unconditional.metadata.resource_version = None;
    unconditional.data = Some([("k".to_string(), "u".to_string())].into());
    let forced = cms
        .replace("a", &PostParams::default(), &unconditional)
        .await?;
    assert_eq!(forced.data, unconditional.data);
    assert_ne!(
        forced.metadata.resource_version,
        same.metadata.resource_version
    );
    assert_eq!(code_of(cms.get("missing").await), 404);
    Ok(())
}

#[tokio::test]
async fn generate_name_and_dry_run() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let mut generated = cm("");
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("job-".into());
    let a = cms.create(&PostParams::default(), &generated).await?;
    let b = cms.create(&PostParams::default(), &generated).await?;
    let (a, b) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(a.starts_with("job-") && a.len() == 9 && a != b, "{a} {b}");
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    cms.create(&dry, &cm("dry")).await?;
    assert_eq!(code_of(cms.get("dry").await), 404);
    // A dry-run delete checks preconditions and deletes nothing.
    cms.create(&PostParams::default(), &cm("kept")).await?;
    let dry_delete = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    cms.delete("kept", &dry_delete).await?;
    assert!(cms.get_opt("kept").await?.is_some());
    let stale = DeleteParams {
        dry_run: true,
        preconditions: Some(kube::api::Preconditions {
            uid: Some("nope".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    assert_eq!(code_of(cms.delete("kept", &stale).await), 409);
    let mut changed = cms.get("kept").await?;
    changed.data = Some([("k".to_string(), "dry".to_string())].into());
    cms.replace("kept", &dry, &changed).await?;
    assert_eq!(
        cms.get("kept")
            .await?
            .data
            .unwrap_or_default()
            .get("k")
            .map(String::as_str),
        Some("v")
    );
    Ok(())
}

#[tokio::test]
async fn patches_of_every_kind() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    cms.create(&PostParams::default(), &cm("p")).await?;
    let pp = PatchParams::default();
    cms.patch(
        "p",
        &pp,
        &Patch::Merge(json!({"data": {"m": "1", "k": null}})),
    )
    .await?;
    let strategic = cms
        .patch(
            "p",
            &pp,
            &Patch::Strategic(json!({"metadata": {"labels": {"s": "1"}}})),
        )
        .await?;
    assert_eq!(
        strategic.data.unwrap(),
        [("m".to_string(), "1".to_string())].into()
    );
    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/data/j", "value": "2"}]))?;
    let patched = cms.patch("p", &pp, &Patch::<()>::Json(ops)).await?;
    assert_eq!(
        patched.data.unwrap().get("j").map(String::as_str),
        Some("2")
    );
    // A resourceVersion inside a patch is a precondition.
    let stale = cms
        .patch(
            "p",
            &pp,
            &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "data": {"x": "y"}})),
        )
        .await;
    assert_eq!(code_of(stale), 409);
    Ok(())
}

#[tokio::test]
async fn pod_status_changes_only_through_the_subresource() -> Result<()> {
    let cluster = support::cluster_with(|c| c.kubelet = false).await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client()?, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "main", "image": "argoproj/argosay:v2"}]},
        "status": {"phase": "Running"},
    }))?;
    let created = pods.create(&PostParams::default(), &pod).await?;
    assert_eq!(
        created.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    assert_eq!(
        created
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.as_deref()),
        Some("default")
    );
    let main = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}})),
        )
        .await?;
    assert_eq!(
        main.status.and_then(|s| s.phase).as_deref(),
        Some("Pending")
    );
    let status = pods
        .patch_status(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}})),
        )
        .await?;
    assert_eq!(
        status.status.and_then(|s| s.phase).as_deref(),
        Some("Running")
    );
    Ok(())
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let mut held = cm("held");
    held.metadata.finalizers = Some(vec!["flotilla.dev/test".into()]);
    cms.create(&PostParams::default(), &held).await?;
    cms.delete("held", &DeleteParams::default()).await?;
    let marked = cms.get("held").await?;
    assert!(marked.metadata.deletion_timestamp.is_some());
    let err = message_of(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["flotilla.dev/test", "other"]}})),
        )
        .await,
    );
    assert!(
        err.contains("no new finalizers can be added if the object is being deleted"),
        "{err}"
    );
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    assert_eq!(code_of(cms.get("held").await), 404);
    Ok(())
}

#[tokio::test]
async fn namespaces_terminate_after_their_contents() -> Result<()> {
    let cluster = support::cluster().await?;
    let client = cluster.client()?;
    namespace(&client, "doomed").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let mut held = cm("held");
    held.metadata.finalizers = Some(vec!["flotilla.dev/test".into()]);
    cms.create(&PostParams::default(), &held).await?;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.delete("doomed", &DeleteParams::default()).await?;
    let phase = nss.get("doomed").await?.status.and_then(|s| s.phase);
    assert_eq!(phase.as_deref(), Some("Terminating"));
    let err = message_of(cms.create(&PostParams::default(), &cm("late")).await);
    assert!(err.contains("because it is being terminated"), "{err}");
    wait_for(
        "the held configmap to be marked deleted",
        Duration::from_secs(10),
        || async {
            Ok(cms
                .get("held")
                .await?
                .metadata
                .deletion_timestamp
                .map(|_| ()))
        },
    )
    .await?;
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    wait_for(
        "the namespace to be gone",
        Duration::from_secs(10),
        || async { Ok(nss.get_opt("doomed").await?.is_none().then_some(())) },
    )
    .await?;
    // Objects in a namespace that does not exist cannot be created.
    assert_eq!(
        message_of(cms.create(&PostParams::default(), &cm("x")).await),
        r#"namespaces "doomed" not found"#
    );
    Ok(())
}

#[tokio::test]
async fn garbage_collector_follows_owner_references() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let owner = cms.create(&PostParams::default(), &cm("owner")).await?;
    let uid = owner.metadata.uid.clone().unwrap();
    let reference = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]);
    for name in ["dep-1", "dep-2"] {
        let dep: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": name, "ownerReferences": reference}}),
        )?;
        cms.create(&PostParams::default(), &dep).await?;
    }
    // Orphan: the owner goes, dependents stay without the reference.
    let orphan_owner = cms
        .create(&PostParams::default(), &cm("orphan-owner"))
        .await?;
    let orphan_ref = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "orphan-owner", "uid": orphan_owner.metadata.uid}]);
    let kept: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "kept", "ownerReferences": orphan_ref}}),
    )?;
    cms.create(&PostParams::default(), &kept).await?;

    cms.delete("owner", &DeleteParams::background()).await?;
    cms.delete("orphan-owner", &DeleteParams::orphan()).await?;
    wait_for(
        "dependents to be collected",
        Duration::from_secs(10),
        || async {
            let names: Vec<String> = cms
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter_map(|c| c.metadata.name)
                .collect();
            Ok((!names
                .iter()
                .any(|n| n.starts_with("dep-") || n == "orphan-owner"))
            .then_some(()))
        },
    )
    .await?;
    // An owner in another namespace counts as absent: the dependent is collected.
    let client = cms.clone().into_client();
    namespace(&client, "elsewhere").await?;
    let far_owner = cms.create(&PostParams::default(), &cm("far-owner")).await?;
    let far_ref = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "far-owner", "uid": far_owner.metadata.uid}]);
    let far: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "far", "ownerReferences": far_ref}}))?;
    let elsewhere: Api<ConfigMap> = Api::namespaced(client, "elsewhere");
    elsewhere.create(&PostParams::default(), &far).await?;
    wait_for(
        "the cross-namespace dependent to be collected",
        Duration::from_secs(10),
        || async { Ok(elsewhere.get_opt("far").await?.is_none().then_some(())) },
    )
    .await?;
    assert!(
        cms.get_opt("far-owner").await?.is_some(),
        "the owner itself stays"
    );
    let kept = cms.get("kept").await?;
    assert!(
        kept.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn lists_paginate_over_a_consistent_snapshot() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    for i in 0..7 {
        let mut c = cm(&format!("c{i}"));
        c.metadata.labels = Some(
            [(
                "parity".to_string(),
                (if i % 2 == 0 { "even" } else { "odd" }).to_string(),
            )]
            .into(),
        );
        cms.create(&PostParams::default(), &c).await?;
    }
    let first = cms.list(&ListParams::default().limit(3)).await?;
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.metadata.remaining_item_count, Some(4));
    cms.create(&PostParams::default(), &cm("c9-late")).await?;
    let token = first.metadata.continue_.clone().unwrap();
    let second = cms
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await?;
    let names: Vec<String> = second
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(
        names,
        ["c3", "c4", "c5", "c6"],
        "the late object is not in the snapshot"
    );
    assert_eq!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );

    let odd = cms
        .list(&ListParams::default().labels("parity=odd"))
        .await?;
    assert_eq!(odd.items.len(), 3);
    let named = cms
        .list(&ListParams::default().fields("metadata.name=c4"))
        .await?;
    assert_eq!(named.items.len(), 1);
    let bad = message_of(cms.list(&ListParams::default().fields("data.k=v")).await);
    assert!(
        bad.contains("not a known field selector") || bad.contains("field label not supported"),
        "{bad}"
    );
    assert_eq!(
        code_of(cms.list(&ListParams::default().labels("a in (b")).await),
        400
    );
    assert_eq!(
        code_of(
            cms.list(&ListParams::default().continue_token("bm9wZQ"))
                .await
        ),
        400
    );
    Ok(())
}

#[tokio::test]
async fn events_through_both_apis() -> Result<()> {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event;

    let cluster = support::cluster().await?;
    let client = cluster.client()?;
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let core: Api<CoreEvent> = Api::namespaced(client, "default");
    // What kube-rs's Recorder posts.
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "wf-1.1"},
        "eventTime": "2025-01-02T03:04:05.123456Z",
        "reportingController": "flotilla-controller",
        "reportingInstance": "flotilla-controller-0",
        "action": "Reconcile", "reason": "WorkflowRunning", "type": "Normal",
        "note": "workflow started",
        "regarding": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf-1",
                      "namespace": "default", "uid": "u-1"},
    }))?;
    events.create(&PostParams::default(), &event).await?;

    // The Recorder repeats an event by patching in a series.
    let pp = PatchParams::default();
    let series = json!({"series": {"count": 2, "lastObservedTime": "2025-01-02T03:09:00.000000Z"}});
    events.patch("wf-1.1", &pp, &Patch::Merge(series)).await?;
    let bad_series =
        json!({"series": {"count": 1, "lastObservedTime": "2025-01-02T03:09:00.000000Z"}});
    let err = message_of(events.patch("wf-1.1", &pp, &Patch::Merge(bad_series)).await);
    assert!(err.contains("series.count: Invalid value"), "{err}");
    // Through events.k8s.io/v1 the rest is immutable, reported with core field paths as
    // Kubernetes does; the core API only applies the legacy checks.
    let err = message_of(
        events
            .patch("wf-1.1", &pp, &Patch::Merge(json!({"note": "changed"})))
            .await,
    );
    assert!(
        err.contains(r#"message: Invalid value: "changed": field is immutable"#),
        "{err}"
    );
    let changed = core
        .patch("wf-1.1", &pp, &Patch::Merge(json!({"message": "changed"})))
        .await?;
    assert_eq!(changed.message.as_deref(), Some("changed"));

    // Field selectors use each API's own field names.
    let count = |list: kube::core::ObjectList<Event>| list.items.len();
    let by = |fields: &str| ListParams::default().fields(fields);
    assert_eq!(count(events.list(&by("regarding.name=wf-1")).await?), 1);
    assert_eq!(
        count(
            events
                .list(&by("reportingController=flotilla-controller"))
                .await?
        ),
        1
    );
    assert_eq!(count(events.list(&by("regarding.name=other")).await?), 0);
    assert_eq!(
        core.list(&by("involvedObject.name=wf-1"))
            .await?
            .items
            .len(),
        1
    );
    assert_eq!(
        message_of(events.list(&by("involvedObject.name=wf-1")).await),
        "field label not supported: involvedObject.name"
    );
    Ok(())
}

/// A Secret's `type` defaults to `Opaque` whether it was written with `data` or `stringData`,
/// so adding a key later through `stringData` (as `kubectl patch` does) is not a change of
/// type; changing it for real is refused.
#[tokio::test]
async fn a_secret_made_from_data_is_opaque_and_takes_string_data_later() -> Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    let cluster = support::cluster().await?;
    let secrets: Api<Secret> = Api::namespaced(cluster.client()?, "default");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "s"}, "data": {"a": "YQ=="},
    }))?;
    let created = secrets.create(&PostParams::default(), &secret).await?;
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    let patched = secrets
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Strategic(json!({"stringData": {"b": "b"}})),
        )
        .await?;
    assert_eq!(patched.type_.as_deref(), Some("Opaque"));
    let keys: Vec<&String> = patched.data.iter().flatten().map(|(k, _)| k).collect();
    assert_eq!(keys, ["a", "b"]);
    let retyped = secrets
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"type": "kubernetes.io/basic-auth"})),
        )
        .await;
    assert_eq!(code_of(retyped), 422);
    Ok(())
}
