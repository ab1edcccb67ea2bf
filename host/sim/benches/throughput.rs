//! The simulator must never be the bottleneck when Flotilla is measured: pod creates per second
//! and watch events delivered per second, on loopback, through kube-rs (the client the controller
//! uses), over HTTPS as in `flotilla dev` and over plain HTTP.
//!
//! Run: `cargo bench -p flotilla-sim --bench throughput`. Figures go to docs/performance.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use flotilla_sim::{ClusterConfig, SimCluster};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};

/// Requests in flight at once: what a controller with a worker pool keeps going.
const CONCURRENCY: usize = 32;
const BATCH: u64 = 2_000;
const WATCHERS: usize = 8;

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"workflows.argoproj.io/workflow": "bench"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "argoproj/argosay:v2", "args": ["echo", "hi"]}]},
    }))
    .expect("a valid pod")
}

async fn start(tls: bool) -> SimCluster {
    let mut config = ClusterConfig::new("bench");
    config.tls = tls;
    // Only the API server is measured: no kubelet running the pods.
    config.kubelet = false;
    SimCluster::start(config)
        .await
        .expect("the simulator starts")
}

/// Runs `op(i)` for i in 0..n with `CONCURRENCY` calls in flight.
async fn run_concurrently<F, Fut>(n: u64, op: F)
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, op) = (next.clone(), op.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    op(i).await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
}

/// Creates `n` pods with `CONCURRENCY` requests in flight; returns how long it took.
async fn create_pods(client: &kube::Client, prefix: &str, n: u64) -> Duration {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let prefix = prefix.to_string();
    let started = Instant::now();
    run_concurrently(n, move |i| {
        let (pods, name) = (pods.clone(), format!("{prefix}-{i}"));
        async move {
            pods.create(&PostParams::default(), &pod(&name))
                .await
                .expect("create succeeds");
        }
    })
    .await;
    started.elapsed()
}

/// Times `iters` rounds of `round(client, r)`, with round numbers unique across calls.
fn bench_rounds<F, Fut>(
    b: &mut criterion::Bencher<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    client: &kube::Client,
    counter: &AtomicU64,
    round: F,
) where
    F: Fn(kube::Client, u64) -> Fut + Copy,
    Fut: std::future::Future<Output = Duration>,
{
    b.to_async(rt).iter_custom(|iters| {
        let client = client.clone();
        let first = counter.fetch_add(iters, Ordering::Relaxed);
        async move {
            let mut total = Duration::ZERO;
            for r in first..first + iters {
                total += round(client.clone(), r).await;
            }
            total
        }
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The group every simulator bench reports in: ten samples over 20 s, `elements` a round.
fn simulator_group(c: &mut Criterion, elements: u64) -> BenchmarkGroup<'_, WallTime> {
    let mut group = c.benchmark_group("simulator");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(elements));
    group
}

fn pod_creates(c: &mut Criterion) {
    let rt = runtime();
    let _runtime = rt.enter();
    let mut group = simulator_group(c, BATCH);
    for tls in [true, false] {
        let cluster = rt.block_on(start(tls));
        let client = cluster.client().expect("client");
        let round = AtomicU64::new(0);
        let name = if tls {
            "pod_creates_https"
        } else {
            "pod_creates_http"
        };
        group.bench_function(name, |b| {
            bench_rounds(b, &rt, &client, &round, |client, r| async move {
                create_pods(&client, &format!("p{r}"), BATCH).await
            })
        });
        drop(cluster);
    }
    group.finish();
}

/// `WATCHERS` watches on configmaps receive every create; the time is from the first create until
/// every watcher has seen every event.
fn watch_events(c: &mut Criterion) {
    let rt = runtime();
    let _runtime = rt.enter();
    let mut group = simulator_group(c, BATCH * WATCHERS as u64);
    let cluster = rt.block_on(start(true));
    let client = cluster.client().expect("client");
    let round = AtomicU64::new(0);
    group.bench_function("watch_events_delivered", |b| {
        bench_rounds(b, &rt, &client, &round, |client, r| async move {
            watch_round(&client, r).await
        })
    });
    group.finish();
}

async fn watch_round(client: &kube::Client, round: u64) -> Duration {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let rv = cms
        .list(&Default::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let label = format!("round={round}");
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let stream = cms
            .watch(&WatchParams::default().labels(&label), &rv)
            .await
            .expect("watch");
        watchers.push(tokio::spawn(async move {
            let mut stream = stream.boxed();
            let mut seen = 0;
            while seen < BATCH {
                match stream.next().await {
                    Some(Ok(WatchEvent::Added(_))) => seen += 1,
                    Some(Ok(_)) => {}
                    other => panic!("watch ended early: {other:?}"),
                }
            }
        }));
    }
    let started = Instant::now();
    run_concurrently(BATCH, move |i| {
        let cms = cms.clone();
        async move {
            let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("w{round}-{i}"), "labels": {"round": round.to_string()}},
                "data": {"k": "v"},
            }))
            .expect("configmap");
            cms.create(&PostParams::default(), &cm).await.expect("create");
        }
    })
    .await;
    for w in watchers {
        w.await.expect("watcher");
    }
    started.elapsed()
}

criterion_group!(benches, pod_creates, watch_events);
criterion_main!(benches);
