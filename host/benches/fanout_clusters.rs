//! Multi-cluster fan-out: 2,000 pods of one workflow spread over three clusters (cluster-0, the
//! controller's, and cluster-1 and cluster-2, enrolled as the quick start does), timed from
//! submission until watches on the three clusters have seen every pod — against a plain kube-rs
//! client sending the same manifests, pre-encoded, to the same three simulators with the same
//! 32 requests in flight in total, in the same run. Target: ≥ 80% of the plain client's rate.
//!
//! Run: `cargo bench -p flotilla --bench fanout_clusters`. Figures go to docs/performance.md.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{await_pods, current_rv, median, namespace, raw_body};
use flotilla_engine::{Access, EngineConfig, Observed, PodAction};
use flotilla_sim::{ClusterConfig, SimCluster};
use futures::StreamExt;
use kube::api::PostParams;

/// Pods per cluster: 2,000 in all.
const SHARES: [u64; 3] = [667, 667, 666];
const CONCURRENCY: usize = 32;
const ROUNDS: usize = 7;

fn workflow_yaml(name: &str) -> String {
    let steps: String = (0..3)
        .map(|i| {
            format!(
                "      - {{name: fan-{i}, template: say-{i}, withSequence: {{count: \"{}\"}}}}\n",
                SHARES[i]
            )
        })
        .collect();
    let templates: String = (0..3)
        .map(|i| {
            let place = if i == 0 {
                String::new()
            } else {
                format!("    cluster: cluster-{i}\n")
            };
            format!("  - name: say-{i}\n{place}    container: {{image: argoproj/argosay:v2}}\n")
        })
        .collect();
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{name: {name}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - \n{steps}{templates}"
    )
}

#[derive(Debug)]
struct AllowAll;

impl Access for AllowAll {
    fn allows(&self, _: &str, _: &str) -> bool {
        true
    }
}

/// The manifests the controller creates, by cluster index.
fn manifests() -> [Vec<serde_json::Value>; 3] {
    let mut wf: flotilla_engine::workflow::Workflow =
        serde_yaml::from_str(&workflow_yaml("spread-raw")).expect("workflow");
    wf.metadata.namespace = Some("argo".into());
    wf.metadata.uid = Some("00000000-0000-4000-8000-000000000000".into());
    let config = EngineConfig {
        cluster: Some("cluster-0".into()),
        ..EngineConfig::default()
    };
    let observed = Observed {
        access: Some(Arc::new(AllowAll)),
        ..Default::default()
    };
    let decision = flotilla_engine::reconcile(&wf, &observed, &config, jiff::Timestamp::now());
    let mut by_cluster: [Vec<serde_json::Value>; 3] = Default::default();
    for action in decision.pods {
        if let PodAction::Create { cluster, pod, .. } = action {
            let i = match cluster.as_deref() {
                None => 0,
                Some("cluster-1") => 1,
                Some(_) => 2,
            };
            by_cluster[i].push(pod.to_value());
        }
    }
    by_cluster
}

/// Pods per second for a plain client: the same bodies, 32 in flight over the three clusters.
async fn raw_rate(
    clients: &[kube::Client],
    round: usize,
    manifests: &[Vec<serde_json::Value>; 3],
) -> f64 {
    let ns = format!("raw-{round}");
    let mut requests = Vec::new();
    let mut watches = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        namespace(client, &ns).await;
        let url = format!("/api/v1/namespaces/{ns}/pods");
        for m in &manifests[i] {
            requests.push((client.clone(), url.clone(), raw_body(m, &ns)));
        }
        let rv = current_rv(client, &ns).await;
        watches.push((client.clone(), rv, manifests[i].len() as u64));
    }
    let watch = futures::future::join_all(
        watches
            .iter()
            .map(|(c, rv, n)| await_pods(c, &ns, "bench.flotilla.dev/workflow", rv, *n)),
    );
    let started = Instant::now();
    let create = futures::stream::iter(requests).for_each_concurrent(
        CONCURRENCY,
        |(client, url, body)| async move {
            let request = kube::core::Request::new(&url)
                .create(&PostParams::default(), body)
                .expect("request");
            client.request_text(request).await.expect("create");
        },
    );
    futures::join!(create, watch);
    SHARES.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64()
}

/// Pods per second for the controller: submission until every cluster has seen its share.
async fn controller_rate(clients: &[kube::Client], round: usize) -> f64 {
    let name = format!("spread-{round}");
    let selector = format!("workflows.argoproj.io/workflow={name}");
    let mut rvs = Vec::new();
    for client in clients {
        rvs.push(current_rv(client, "argo").await);
    }
    let watch = futures::future::join_all(
        clients
            .iter()
            .zip(&rvs)
            .zip(SHARES)
            .map(|((c, rv), n)| await_pods(c, "argo", &selector, rv, n)),
    );
    let started = Instant::now();
    let submit = async {
        flotilla::sandbox::submit(&clients[0], &workflow_yaml(&name), "benchmark")
            .await
            .expect("submit");
    };
    futures::join!(submit, watch);
    SHARES.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rt = common::runtime();
    rt.block_on(async {
        let mut clusters = Vec::new();
        for i in 0..3 {
            let mut config = ClusterConfig::new(format!("cluster-{i}"));
            config.kubelet = false;
            clusters.push(SimCluster::start(config).await.expect("simulator"));
        }
        let clients: Vec<kube::Client> = clusters.iter().map(|c| c.client().expect("client")).collect();
        flotilla::sandbox::install(&clients[0]).await.expect("install");
        for (i, remote) in clusters.iter().enumerate().skip(1) {
            namespace(&clients[i], "argo").await;
            let cluster = flotilla::clusters::enroll::RemoteCluster {
                name: remote.name().to_string(),
                server: remote.url().to_string(),
                ca_data: remote.ca_pem().map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
            };
            flotilla::clusters::enroll::enroll(&clients[0], "argo", &clients[i], &cluster, "argo", Duration::from_secs(3600))
                .await
                .expect("enroll");
        }
        let policy = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: workflow-controller-authz, namespace: argo}\ndata:\n  policy.csv: |\n    p, cluster-0:argo, cluster-1:argo\n    p, cluster-0:argo, cluster-2:argo\n";
        flotilla::manifests::apply_yaml(&clients[0], "policy", policy, "argo").await.expect("policy");
        let _controller = flotilla::sandbox::spawn_controller(clients[0].clone(), "cluster-0");
        let manifests = manifests();
        for (i, share) in SHARES.iter().enumerate() {
            assert_eq!(manifests[i].len() as u64, *share, "cluster-{i}'s share");
        }
        let (mut raw, mut ctrl) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            raw.push(raw_rate(&clients, round, &manifests).await);
            ctrl.push(controller_rate(&clients, round).await);
        }
        let (raw, ctrl) = (median(raw), median(ctrl));
        println!("fanout_clusters/raw_client_pods_per_s  {raw:>10.0}  (2,000 manifests over 3 clusters, {CONCURRENCY} in flight, median of {ROUNDS})");
        println!("fanout_clusters/controller_pods_per_s  {ctrl:>10.0}  (submission until every cluster's watch has seen its pods)");
        println!("fanout_clusters/controller_over_raw    {:>10.1}%  (target >= 80%)", 100.0 * ctrl / raw);
    });
}
