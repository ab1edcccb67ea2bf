//! Is the controller the bottleneck? A 2,000-pod `withSequence` fan-out on the simulator, timed
//! from submission until a watch has seen every pod, against a plain kube-rs client sending the
//! very same pod manifests (encoded in advance, so only the requests are timed) with the same
//! concurrency to the same simulator, timed the same way, in the same run. Target: the controller reaches ≥ 80% of the plain client's rate.
//!
//! Run: `cargo bench -p flotilla --bench fanout`. Figures go to docs/performance.md.

mod common;

use std::time::Instant;

use common::{await_pods, current_rv, median, namespace, raw_body, submitted_rate};
use futures::StreamExt;
use kube::api::PostParams;

const PODS: u64 = 2_000;
/// The controller's own create concurrency (controller/apply.rs).
const CONCURRENCY: usize = 32;
const ROUNDS: usize = 7;

fn workflow_yaml(name: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{name: {name}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - - {{name: fan, template: say, withSequence: {{count: \"{PODS}\"}}}}\n  - name: say\n    container: {{image: argoproj/argosay:v2}}\n"
    )
}

/// The pod manifests the controller creates for the fan-out (the engine is pure, so the plain
/// client can send exactly the same bodies).
fn fan_out_manifests() -> Vec<serde_json::Value> {
    let mut wf: flotilla_engine::workflow::Workflow =
        serde_yaml::from_str(&workflow_yaml("fan-raw")).expect("workflow");
    wf.metadata.namespace = Some("argo".into());
    wf.metadata.uid = Some("00000000-0000-4000-8000-000000000000".into());
    let decision = flotilla_engine::reconcile(
        &wf,
        &Default::default(),
        &Default::default(),
        jiff::Timestamp::now(),
    );
    decision
        .pods
        .into_iter()
        .filter_map(|a| match a {
            flotilla_engine::PodAction::Create { pod, .. } => Some(pod.to_value()),
            _ => None,
        })
        .collect()
}

/// Pods per second for a plain client sending the controller's manifests.
async fn raw_rate(client: &kube::Client, ns: &str, manifests: &[serde_json::Value]) -> f64 {
    namespace(client, ns).await;
    // Encoded up front and sent as raw requests, as the controller sends its manifests: the
    // comparison is of everything else, not of JSON encoding.
    let bodies: Vec<Vec<u8>> = manifests.iter().map(|m| raw_body(m, ns)).collect();
    let url = format!("/api/v1/namespaces/{ns}/pods");
    let rv = current_rv(client, ns).await;
    let watch = await_pods(client, ns, "bench.flotilla.dev/workflow", &rv, PODS);
    let started = Instant::now();
    let create = futures::stream::iter(bodies).for_each_concurrent(CONCURRENCY, |body| {
        let request = kube::core::Request::new(&url)
            .create(&PostParams::default(), body)
            .expect("request");
        async move {
            client.request_text(request).await.expect("create");
        }
    });
    futures::join!(create, watch);
    PODS as f64 / started.elapsed().as_secs_f64()
}

/// Pods per second for the controller: submission until the last pod of the fan-out is seen.
async fn controller_rate(client: &kube::Client, round: usize) -> f64 {
    let name = format!("fan-{round}");
    submitted_rate(client, &name, &workflow_yaml(&name), PODS).await
}

fn main() {
    let rt = common::runtime();
    rt.block_on(async {
        let (_cluster, client) = common::creation_only_cluster().await;
        let _controller = flotilla::sandbox::spawn_controller(client.clone(), "cluster-0");
        let manifests = fan_out_manifests();
        assert_eq!(manifests.len() as u64, PODS);
        let (mut raw, mut ctrl) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            raw.push(raw_rate(&client, &format!("raw-{round}"), &manifests).await);
            ctrl.push(controller_rate(&client, round).await);
        }
        let (raw, ctrl) = (median(raw), median(ctrl));
        println!("fanout/raw_client_pods_per_s        {raw:>10.0}  (the controller's {PODS} manifests, {CONCURRENCY} in flight, median of {ROUNDS})");
        println!("fanout/controller_pods_per_s        {ctrl:>10.0}  (submission until a watch has seen the last pod)");
        println!("fanout/controller_over_raw          {:>10.1}%  (target >= 80%)", 100.0 * ctrl / raw);
    });
}
