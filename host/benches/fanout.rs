//! Is the controller the bottleneck? A 2,000-pod `withSequence` fan-out on the simulator, timed
//! from submission until every pod exists, against a plain kube-rs client creating 2,000 pods
//! with the same concurrency on the same simulator, in the same run. Target: the controller
//! reaches ≥ 80% of the plain client's rate.
//!
//! Run: `cargo bench -p flotilla --bench fanout`. Figures go to docs/performance.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flotilla_sim::{ClusterConfig, SimCluster};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};

const PODS: u64 = 2_000;
/// The controller's own create concurrency (controller/apply.rs).
const CONCURRENCY: usize = 32;
const ROUNDS: usize = 3;

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "argoproj/argosay:v2"}]},
    }))
    .expect("pod")
}

async fn namespace(client: &kube::Client, name: &str) {
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("ns");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
}

/// Pods per second for a plain client with `CONCURRENCY` requests in flight.
async fn raw_rate(client: &kube::Client, ns: &str) -> f64 {
    namespace(client, ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (pods, next) = (pods.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= PODS {
                        return;
                    }
                    pods.create(&PostParams::default(), &pod(&format!("raw-{i}")))
                        .await
                        .expect("create");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    PODS as f64 / started.elapsed().as_secs_f64()
}

/// Pods per second for the controller: submission until the last pod of the fan-out exists.
async fn controller_rate(client: &kube::Client, round: usize) -> f64 {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "argo");
    let rv = pods
        .list(&Default::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let name = format!("fan-{round}");
    let mut stream = pods
        .watch(
            &WatchParams::default().labels(&format!("workflows.argoproj.io/workflow={name}")),
            &rv,
        )
        .await
        .expect("watch")
        .boxed();
    let yaml = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{name: {name}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - - {{name: fan, template: say, withSequence: {{count: \"{PODS}\"}}}}\n  - name: say\n    container: {{image: argoproj/argosay:v2}}\n"
    );
    let started = Instant::now();
    flotilla::sandbox::submit(client, &yaml, "benchmark")
        .await
        .expect("submit");
    let mut seen = 0;
    while seen < PODS {
        match tokio::time::timeout(Duration::from_secs(120), stream.next()).await {
            Ok(Some(Ok(WatchEvent::Added(_)))) => seen += 1,
            Ok(Some(Ok(_))) => {}
            other => panic!("watching the fan-out's pods ended after {seen}: {other:?}"),
        }
    }
    PODS as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut config = ClusterConfig::new("cluster-0");
        // Only creation is measured: no kubelet running the pods.
        config.kubelet = false;
        let cluster = SimCluster::start(config).await.expect("simulator");
        let client = cluster.client().expect("client");
        flotilla::sandbox::install(&client).await.expect("install");
        let _controller = flotilla::sandbox::spawn_controller(client.clone(), "cluster-0");
        let (mut raw, mut ctrl) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            raw.push(raw_rate(&client, &format!("raw-{round}")).await);
            ctrl.push(controller_rate(&client, round).await);
        }
        let (raw, ctrl) = (median(raw), median(ctrl));
        println!("fanout/raw_client_pods_per_s        {raw:>10.0}  ({PODS} pods, {CONCURRENCY} in flight, median of {ROUNDS})");
        println!("fanout/controller_pods_per_s        {ctrl:>10.0}  (submission to last pod created)");
        println!("fanout/controller_over_raw          {:>10.1}%  (target >= 80%)", 100.0 * ctrl / raw);
    });
}
