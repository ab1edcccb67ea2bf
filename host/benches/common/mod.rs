//! Helpers shared by the fan-out benchmarks: lean watches that count pods, and medians.

// Each benchmark uses part of these.
#![allow(dead_code)]

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};

/// The benchmark's own watches decode only metadata, to take as little CPU as possible from what
/// they measure.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Named {
    metadata: kube::api::ObjectMeta,
}

impl kube::Resource for Named {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;
    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &kube::api::ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut kube::api::ObjectMeta {
        &mut self.metadata
    }
}

pub async fn namespace(client: &kube::Client, name: &str) {
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("ns");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
}

/// Waits until `n` pods matching `selector` have been seen ADDED since `rv`.
pub async fn await_pods(client: &kube::Client, ns: &str, selector: &str, rv: &str, n: u64) {
    let pods: Api<Named> = Api::namespaced(client.clone(), ns);
    let mut stream = pods
        .watch(&WatchParams::default().labels(selector), rv)
        .await
        .expect("watch")
        .boxed();
    let mut seen = 0;
    while seen < n {
        match tokio::time::timeout(Duration::from_secs(120), stream.next()).await {
            Ok(Some(Ok(WatchEvent::Added(_)))) => seen += 1,
            Ok(Some(Ok(_))) => {}
            other => panic!("watching pods ended after {seen}: {other:?}"),
        }
    }
}

pub async fn current_rv(client: &kube::Client, ns: &str) -> String {
    let pods: Api<Named> = Api::namespaced(client.clone(), ns);
    pods.list(&Default::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv")
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A controller manifest as the plain client sends it, pre-encoded: same size and shape, in
/// `ns`, but not labelled for the controller (so it leaves the pod alone) and owned by nothing.
pub fn raw_body(manifest: &serde_json::Value, ns: &str) -> Vec<u8> {
    let mut m = manifest.clone();
    m["metadata"]["namespace"] = ns.into();
    if let Some(labels) = m["metadata"]["labels"].as_object_mut() {
        let wf = labels
            .remove("workflows.argoproj.io/workflow")
            .unwrap_or_default();
        labels.insert("bench.flotilla.dev/workflow".into(), wf);
    }
    if let Some(meta) = m["metadata"].as_object_mut() {
        meta.remove("ownerReferences");
    }
    serde_json::to_vec(&m).expect("pod")
}

/// Pods per second for a workflow the controller fans out into `pods` pods in namespace `argo`:
/// from submission until a watch has seen the last one.
pub async fn submitted_rate(client: &kube::Client, name: &str, yaml: &str, pods: u64) -> f64 {
    let rv = current_rv(client, "argo").await;
    let selector = format!("workflows.argoproj.io/workflow={name}");
    let watch = await_pods(client, "argo", &selector, &rv, pods);
    let started = std::time::Instant::now();
    let submit = async {
        flotilla::sandbox::submit(client, yaml, "benchmark")
            .await
            .expect("submit");
    };
    futures::join!(submit, watch);
    pods as f64 / started.elapsed().as_secs_f64()
}

/// The runtime a benchmark drives its clusters and controllers on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// One simulated cluster with Flotilla's CRDs installed and no kubelet: only pod creation is
/// measured, the pods never run.
pub async fn creation_only_cluster() -> (flotilla_sim::SimCluster, kube::Client) {
    let mut config = flotilla_sim::ClusterConfig::new("cluster-0");
    config.kubelet = false;
    let cluster = flotilla_sim::SimCluster::start(config)
        .await
        .expect("simulator");
    let client = cluster.client().expect("client");
    flotilla::sandbox::install(&client).await.expect("install");
    (cluster, client)
}
