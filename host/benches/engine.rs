//! Engine decision time: one reconcile of a 5,000-node workflow in mid-flight (every pod
//! running), the case a large fan-out hits on every pod event. Target: ≤ 10 ms.
//!
//! Run: `cargo bench -p flotilla --bench engine`. Figures go to docs/performance.md.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use flotilla_engine::workflow::Workflow;
use flotilla_engine::{self as engine, EngineConfig, Observed, ObservedPod, PodAction, PodPhase};

const NODES: usize = 5_000;

fn workflow() -> Workflow {
    let yaml = format!(
        r#"
metadata: {{name: big, namespace: argo, uid: u}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: fan
        template: say
        arguments: {{parameters: [{{name: msg, value: "{{{{item}}}}"}}]}}
        withSequence: {{count: "{NODES}"}}
  - name: say
    inputs: {{parameters: [{{name: msg}}]}}
    container: {{image: argoproj/argosay:v2, args: [echo, "{{{{inputs.parameters.msg}}}}"]}}
"#
    );
    serde_yaml::from_str(&yaml).expect("benchmark workflow")
}

fn mid_flight() -> (Workflow, Observed) {
    let mut wf = workflow();
    let config = EngineConfig::default();
    let now = jiff::Timestamp::now();
    let first = engine::reconcile(&wf, &Observed::default(), &config, now);
    let mut observed = Observed::default();
    for action in &first.pods {
        if let PodAction::Create { node_id, pod, .. } = action {
            let name = pod.name().to_string();
            observed.pods.insert(
                node_id.clone(),
                ObservedPod {
                    uid: Some(format!("uid-{name}")),
                    name,
                    phase: PodPhase::Running,
                    message: None,
                    exit_code: None,
                    pod_ip: None,
                    host_node_name: None,
                    deleting: false,
                },
            );
        }
    }
    assert_eq!(
        observed.pods.len(),
        NODES,
        "the fan-out asked for every pod"
    );
    wf.status = Some(first.status);
    let steady = engine::reconcile(&wf, &observed, &config, now);
    wf.status = Some(steady.status);
    (wf, observed)
}

fn decision_time(c: &mut Criterion) {
    let (wf, observed) = mid_flight();
    let config = EngineConfig::default();
    let now = jiff::Timestamp::now();
    let mut group = c.benchmark_group("engine");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("reconcile_5000_running_nodes", |b| {
        b.iter(|| engine::reconcile(&wf, &observed, &config, now))
    });
    // The first pass of the same fan-out: every node and pod manifest is created.
    let fresh = workflow();
    let nothing = Observed::default();
    group.bench_function("reconcile_5000_first_pass", |b| {
        b.iter(|| engine::reconcile(&fresh, &nothing, &config, now))
    });
    // The first pass of the fan-out benchmark's workflow (`--bench fanout`): 2,000 pods of a
    // template with nothing to substitute, so one manifest personalised per pod.
    let plain: Workflow = serde_yaml::from_str(
        r#"
metadata: {name: fan, namespace: argo, uid: u}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: fan, template: say, withSequence: {count: "2000"}}
  - name: say
    container: {image: argoproj/argosay:v2}
"#,
    )
    .expect("fan-out workflow");
    group.bench_function("reconcile_2000_plain_fan_out_first_pass", |b| {
        b.iter(|| engine::reconcile(&plain, &nothing, &config, now))
    });
    group.finish();
}

criterion_group!(benches, decision_time);
criterion_main!(benches);
