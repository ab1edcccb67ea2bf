//! The engine benchmarks' workflows, shared by `engine` (timed by criterion) and
//! `engine_instructions` (counted by valgrind).

use flotilla_engine::workflow::Workflow;
use flotilla_engine::{self as engine, EngineConfig, Observed, ObservedPod, PodAction, PodPhase};

pub const NODES: usize = 5_000;

/// A 5,000-node `withSequence` fan-out whose pods each take an input parameter, so every pod's
/// manifest is built and encoded in full.
pub fn fan_out() -> Workflow {
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

/// The fan-out benchmark's workflow (`flotilla bench fanout`): 2,000 pods of a template with nothing to
/// substitute, so one manifest personalised per pod.
pub fn plain_fan_out() -> Workflow {
    serde_yaml::from_str(
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
    .expect("fan-out workflow")
}

/// [`fan_out`] in mid-flight: its status after two passes, and every pod observed running.
pub fn mid_flight() -> (Workflow, Observed) {
    let mut wf = fan_out();
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
