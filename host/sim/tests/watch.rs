//! Watch semantics: resuming from a resourceVersion, 410 Gone past the window, bookmarks,
//! timeouts, selector transitions, and kube-runtime's watcher surviving cut streams.

mod support;

use std::time::Duration;

use anyhow::Result;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    }
}

async fn next_event(
    stream: &mut (impl futures::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin),
) -> Result<WatchEvent<ConfigMap>> {
    Ok(tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("watch ended"))??)
}

fn describe(e: &WatchEvent<ConfigMap>) -> String {
    match e {
        WatchEvent::Added(o) => format!("ADDED {}", o.metadata.name.clone().unwrap_or_default()),
        WatchEvent::Modified(o) => {
            format!("MODIFIED {}", o.metadata.name.clone().unwrap_or_default())
        }
        WatchEvent::Deleted(o) => {
            format!("DELETED {}", o.metadata.name.clone().unwrap_or_default())
        }
        WatchEvent::Bookmark(_) => "BOOKMARK".into(),
        WatchEvent::Error(e) => format!("ERROR {}", e.code),
    }
}

#[tokio::test]
async fn resumes_from_a_resource_version() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let a = cms.create(&PostParams::default(), &cm("a", &[])).await?;
    let rv = a.metadata.resource_version.clone().unwrap();
    cms.create(&PostParams::default(), &cm("b", &[])).await?;
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"x": "1"}})),
    )
    .await?;
    let mut stream = cms.watch(&WatchParams::default(), &rv).await?.boxed();
    assert_eq!(describe(&next_event(&mut stream).await?), "ADDED b");
    assert_eq!(describe(&next_event(&mut stream).await?), "MODIFIED a");
    cms.delete("b", &Default::default()).await?;
    assert_eq!(describe(&next_event(&mut stream).await?), "DELETED b");
    Ok(())
}

#[tokio::test]
async fn too_old_resource_version_is_gone() -> Result<()> {
    let cluster = support::cluster_with(|c| c.watch_window = 4).await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let first = cms
        .create(&PostParams::default(), &cm("first", &[]))
        .await?;
    for i in 0..10 {
        cms.create(&PostParams::default(), &cm(&format!("n{i}"), &[]))
            .await?;
    }
    let rv = first.metadata.resource_version.unwrap();
    let mut stream = cms.watch(&WatchParams::default(), &rv).await?.boxed();
    match next_event(&mut stream).await? {
        WatchEvent::Error(e) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert!(
                e.message.starts_with("too old resource version"),
                "{}",
                e.message
            );
        }
        other => panic!("expected 410 Gone, got {}", describe(&other)),
    }
    Ok(())
}

#[tokio::test]
async fn label_selector_transitions_and_bookmarks() -> Result<()> {
    let cluster =
        support::cluster_with(|c| c.bookmark_interval = Duration::from_millis(50)).await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let list = cms.list(&Default::default()).await?;
    let rv = list.metadata.resource_version.unwrap();
    let params = WatchParams::default().labels("team=blue");
    let mut stream = cms.watch(&params, &rv).await?.boxed();
    cms.create(&PostParams::default(), &cm("x", &[("team", "red")]))
        .await?;
    cms.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "blue"}}})),
    )
    .await?;
    cms.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "green"}}})),
    )
    .await?;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let e = next_event(&mut stream).await?;
        if !matches!(e, WatchEvent::Bookmark(_)) {
            seen.push(describe(&e));
        }
    }
    assert_eq!(seen, ["ADDED x", "DELETED x"]);
    loop {
        if let WatchEvent::Bookmark(b) = next_event(&mut stream).await? {
            assert!(b.metadata.resource_version.parse::<u64>()? > rv.parse::<u64>()?);
            break;
        }
    }
    Ok(())
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let rv = cms
        .list(&Default::default())
        .await?
        .metadata
        .resource_version
        .unwrap();
    let stream = cms.watch(&WatchParams::default().timeout(1), &rv).await?;
    let events: Vec<_> =
        tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>()).await?;
    let changes: Vec<String> = events
        .iter()
        .flatten()
        .filter(|e| !matches!(e, WatchEvent::Bookmark(_)))
        .map(describe)
        .collect();
    assert!(changes.is_empty(), "nothing changed, yet: {changes:?}");
    Ok(())
}

#[tokio::test]
async fn runtime_watcher_survives_cut_streams() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let mut objects = watcher(cms.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    cms.create(&PostParams::default(), &cm("before", &[]))
        .await?;
    let first = tokio::time::timeout(Duration::from_secs(10), objects.try_next())
        .await??
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("before"));
    cluster.faults().cut_watches();
    cms.create(&PostParams::default(), &cm("after", &[]))
        .await?;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), objects.try_next())
            .await??
            .unwrap();
        if next.metadata.name.as_deref() == Some("after") {
            break;
        }
    }
    Ok(())
}
