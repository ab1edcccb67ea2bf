//! The engine against Argo-shaped workflows, with no server: a small harness plays the part of
//! the cluster (pods appear when created and finish as each test says).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::workflow::NodeType;
use crate::workflow::{AnyString, NodePhase, Outputs, Parameter, Workflow, WorkflowPhase};

/// How the harness's "cluster" finishes a pod: phase, exit code, outputs.
type Behaviour<'b> = dyn Fn(&Value) -> (PodPhase, Option<i32>, Outputs) + 'b;

struct Harness {
    wf: Workflow,
    observed: Observed,
    config: EngineConfig,
    now: jiff::Timestamp,
    created: Vec<Value>,
    /// The cluster each created pod was asked for in, by pod name (`None`: the controller's).
    created_in: BTreeMap<String, Option<String>>,
    /// The last reconcile's pod actions other than creations, its workflow deletion, its events
    /// and its requeue.
    others: Vec<PodAction>,
    workflow_deleted: Option<WorkflowDeletion>,
    events: Vec<Event>,
    requeue_after: Option<Duration>,
}

fn workflow(yaml: &str) -> Workflow {
    let mut wf: Workflow =
        serde_yaml::from_str(&format!("metadata: {{}}\n{yaml}")).expect("test workflow parses");
    wf.metadata.name = Some("wf".into());
    wf.metadata.namespace = Some("argo".into());
    wf.metadata.uid = Some("uid-1".into());
    wf
}

/// A spec whose entrypoint is the template `main`: `main` is the rest of that template, and any
/// templates after it, as indented in the list (six spaces for `main`'s own fields).
fn main_spec(main: &str) -> String {
    main_spec_with("", main)
}

/// [`main_spec`] with further spec `fields` (each line indented two spaces).
fn main_spec_with(fields: &str, main: &str) -> String {
    format!(
        "spec:\n  entrypoint: main\n{fields}  templates:\n    - name: main\n{}",
        main.trim_start_matches('\n')
    )
}

impl Harness {
    fn new(yaml: &str) -> Self {
        Harness {
            wf: workflow(yaml),
            observed: Observed::default(),
            config: EngineConfig::default(),
            now: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
            created: Vec::new(),
            created_in: BTreeMap::new(),
            others: Vec::new(),
            workflow_deleted: None,
            events: Vec::new(),
            requeue_after: None,
        }
    }

    /// One reconcile; returns the pods it asked to create.
    fn step(&mut self) -> Vec<Value> {
        let decision = reconcile(&self.wf, &self.observed, &self.config, self.now);
        self.wf.status = Some(decision.status);
        self.requeue_after = decision.requeue_after;
        let (creates, others): (Vec<PodAction>, Vec<PodAction>) = decision
            .pods
            .into_iter()
            .partition(|a| matches!(a, PodAction::Create { .. }));
        self.others = others;
        self.workflow_deleted = decision.delete_workflow;
        self.events = decision.events;
        let pods: Vec<Value> = creates
            .into_iter()
            .filter_map(|a| match a {
                PodAction::Create { pod, cluster, .. } => {
                    self.created_in.insert(pod.name().to_string(), cluster);
                    Some(pod.to_value())
                }
                _ => None,
            })
            .collect();
        self.created.extend(pods.iter().cloned());
        pods
    }

    fn node_id(pod: &Value) -> String {
        pod["metadata"]["annotations"][crate::workflow::labels::NODE_ID]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Pods created become observed and finish per `behaviour`; repeat until the workflow ends.
    fn run(&mut self, behaviour: &Behaviour<'_>) -> WorkflowPhase {
        for _ in 0..100 {
            let pods = self.step();
            if let Some(phase) = self.phase().filter(|p| p.is_finished()) {
                return phase;
            }
            for pod in pods {
                let (phase, exit_code, outputs) = behaviour(&pod);
                self.observe(&pod, phase, exit_code, outputs);
            }
            self.advance(1);
        }
        panic!("workflow did not finish: {:#?}", self.wf.status)
    }

    /// The cluster reports `pod` (as created) in `phase`, with its labels and, once it ended,
    /// its task result.
    fn observe(&mut self, pod: &Value, phase: PodPhase, exit_code: Option<i32>, outputs: Outputs) {
        let id = Self::node_id(pod);
        self.observed.pods.insert(
            id.clone(),
            ObservedPod {
                name: pod["metadata"]["name"].as_str().unwrap().to_string(),
                uid: Some(format!("uid-of-{id}")),
                phase,
                message: None,
                exit_code,
                pod_ip: Some("10.0.0.1".into()),
                host_node_name: Some("node".into()),
                deleting: false,
            },
        );
        let labels = serde_json::from_value(pod["metadata"]["labels"].clone()).unwrap();
        self.observed.pod_labels.insert(id.clone(), labels);
        if matches!(phase, PodPhase::Succeeded | PodPhase::Failed) {
            self.observed.results.insert(
                id,
                ObservedResult {
                    outputs,
                    complete: true,
                    message: None,
                },
            );
        }
    }

    /// The pod created for the node shown as `display`.
    fn pod_of(&self, display: &str) -> Value {
        let id = self.node(display).id.clone();
        self.created
            .iter()
            .find(|p| Self::node_id(p) == id)
            .unwrap_or_else(|| panic!("no pod for {display}"))
            .clone()
    }

    fn advance(&mut self, seconds: i64) {
        self.now = self
            .now
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap();
    }

    fn message(&self) -> Option<&str> {
        self.wf.status.as_ref()?.message.as_deref()
    }

    /// Names of the pods the last reconcile deleted, sorted.
    fn deleted(&self) -> Vec<String> {
        self.acted_on(|a| matches!(a, PodAction::Delete { .. }))
    }

    /// Names of the pods the last reconcile labelled completed, sorted.
    fn labelled(&self) -> Vec<String> {
        self.acted_on(|a| matches!(a, PodAction::LabelCompleted { .. }))
    }

    /// Names of the pods of the last reconcile's actions (other than creations) that `which`
    /// picks, sorted.
    fn acted_on(&self, which: impl Fn(&PodAction) -> bool) -> Vec<String> {
        let mut names: Vec<String> = self
            .others
            .iter()
            .filter(|a| which(a))
            .filter_map(|a| match a {
                PodAction::Delete { name, .. } | PodAction::LabelCompleted { name, .. } => {
                    Some(name.clone())
                }
                _ => None,
            })
            .collect();
        names.sort();
        names
    }

    fn phase(&self) -> Option<WorkflowPhase> {
        self.wf.status.as_ref().and_then(|s| s.phase)
    }

    fn node(&self, display: &str) -> &crate::workflow::NodeStatus {
        let status = self.wf.status.as_ref().unwrap();
        status
            .nodes
            .values()
            .find(|n| n.display_name == display)
            .unwrap_or_else(|| panic!("no node {display}: {:#?}", status.nodes.keys()))
    }

    fn pod_names(&self) -> Vec<String> {
        self.created
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Distinct pods asked for (a pod asked for again before it is observed is the same pod).
    fn distinct_pods(&self) -> usize {
        self.pod_names()
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }
}

/// The message of a template denied `cluster`'s `namespace` by the policy.
fn forbidden_in(cluster: &str, namespace: &str) -> String {
    format!(
        r#"namespace "argo" is forbidden from creating resources in cluster "{cluster}" namespace "{namespace}""#
    )
}

/// The cluster reports these pods running.
fn running(h: &mut Harness, pods: &[Value]) {
    for pod in pods {
        h.observe(pod, PodPhase::Running, None, Outputs::default());
    }
}

fn succeed(_: &Value) -> (PodPhase, Option<i32>, Outputs) {
    (PodPhase::Succeeded, Some(0), Outputs::default())
}

/// A pod whose arguments start with `exit` fails with exit code 1; any other succeeds.
fn fail_exits(pod: &Value) -> (PodPhase, Option<i32>, Outputs) {
    if user_args(pod).first().map(String::as_str) == Some("exit") {
        (PodPhase::Failed, Some(1), Outputs::default())
    } else {
        succeed(pod)
    }
}

/// The arguments the template gave its container: what the executor runs (after `--`, then the
/// container's `args`), less the image's entrypoint.
fn user_args(pod: &Value) -> Vec<String> {
    let main = &pod["spec"]["containers"][0];
    let command: Vec<String> = serde_json::from_value(main["command"].clone()).unwrap();
    let args: Vec<String> = serde_json::from_value(main["args"].clone()).unwrap_or_default();
    let wrapped = command
        .iter()
        .position(|a| a == "--")
        .map_or(&command[..], |i| &command[i + 1..]);
    wrapped.iter().chain(&args).skip(1).cloned().collect()
}

fn args_of(pod: &Value) -> String {
    serde_json::to_string(&user_args(pod)).unwrap()
}

const HELLO: &str = r#"
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: argoproj/argosay:v2, args: [echo, hello]}
"#;

#[test]
fn hello_world_runs_one_pod_named_after_the_workflow() {
    let mut h = Harness::new(HELLO);
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(
        pod["metadata"]["name"], "wf",
        "a single-node workflow's pod is named after it (v2 names)"
    );
    assert_eq!(pod["metadata"]["namespace"], "argo");
    assert_eq!(
        pod["metadata"]["labels"]["workflows.argoproj.io/workflow"],
        "wf"
    );
    assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert_eq!(pod["spec"]["containers"][0]["name"], "main");
    assert_eq!(pod["spec"]["containers"][0]["image"], "argoproj/argosay:v2");
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    // Reconciling again before the pod is observed asks for the same pod (idempotent by name).
    let again = h.step();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["metadata"]["name"], "wf");
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.progress.as_deref(), Some("1/1"));
    assert!(status.finished_at.is_some());
    assert_eq!(h.node("wf").phase, NodePhase::Succeeded);
}

#[test]
fn steps_run_group_by_group() {
    let mut h = Harness::new(&main_spec(
        r#"
      steps:
        - - {name: first, template: say, arguments: {parameters: [{name: msg, value: one}]}}
        - - {name: second-a, template: say, arguments: {parameters: [{name: msg, value: two}]}}
          - {name: second-b, template: say, arguments: {parameters: [{name: msg, value: three}]}}
    - name: say
      inputs: {parameters: [{name: msg}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.msg}}"]}
"#,
    ));
    let first = h.step();
    assert_eq!(first.len(), 1, "only the first group starts");
    assert_eq!(args_of(&first[0]), r#"["echo","one"]"#);
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(h.distinct_pods(), 3, "{:?}", h.pod_names());
    assert_eq!(h.node("[1]").children.len(), 2);
    assert_eq!(
        h.node("second-b").inputs.as_ref().unwrap().parameters[0].value,
        Some(AnyString::from("three"))
    );
}

const DIAMOND: &str = r#"
spec:
  entrypoint: diamond
  templates:
    - name: diamond
      dag:
        tasks:
          - {name: A, template: echo, arguments: {parameters: [{name: message, value: A}]}}
          - {name: B, depends: A, template: echo, arguments: {parameters: [{name: message, value: "{{tasks.A.outputs.parameters.out}}-B"}]}}
          - {name: C, depends: A, template: echo, arguments: {parameters: [{name: message, value: C}]}}
          - {name: D, depends: B && C, template: echo, arguments: {parameters: [{name: message, value: D}]}}
    - name: echo
      inputs: {parameters: [{name: message}]}
      outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out}}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.message}}", /tmp/out]}
"#;

fn echo_outputs(pod: &Value) -> (PodPhase, Option<i32>, Outputs) {
    let args = user_args(pod);
    let value = args.get(1).cloned().unwrap_or_default();
    let outputs = Outputs {
        parameters: vec![Parameter {
            name: "out".into(),
            value: Some(value.into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    (PodPhase::Succeeded, Some(0), outputs)
}

#[test]
fn dag_diamond_with_outputs_passed_between_tasks() {
    let mut h = Harness::new(DIAMOND);
    assert_eq!(h.step().len(), 1, "only A has no dependencies");
    assert_eq!(h.run(&echo_outputs), WorkflowPhase::Succeeded);
    assert_eq!(h.distinct_pods(), 4, "{:?}", h.pod_names());
    let b = h
        .created
        .iter()
        .find(|p| p["metadata"]["annotations"]["workflows.argoproj.io/node-name"] == "wf.B")
        .unwrap();
    assert_eq!(
        args_of(b),
        r#"["echo","A-B","/tmp/out"]"#,
        "B received A's output parameter"
    );
    // D hangs under both B and C; A under the DAG node.
    let d_id = h.node("D").id.clone();
    assert!(h.node("B").children.contains(&d_id) && h.node("C").children.contains(&d_id));
    assert!(h.node("wf").children.contains(&h.node("A").id));
    assert_eq!(
        h.wf.status.as_ref().unwrap().progress.as_deref(),
        Some("4/4")
    );
}

#[test]
fn a_failed_task_fails_the_dag_and_omits_its_dependents() {
    let mut h = Harness::new(DIAMOND);
    let phase = h.run(&|pod: &Value| {
        if pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"] == "wf.B" {
            (PodPhase::Failed, Some(3), Outputs::default())
        } else {
            echo_outputs(pod)
        }
    });
    assert_eq!(phase, WorkflowPhase::Failed);
    assert_eq!(h.node("B").message.as_deref(), Some("Error (exit code 3)"));
    assert_eq!(h.node("D").phase, NodePhase::Omitted);
    let message = h.message().unwrap_or_default().to_string();
    assert!(message.contains("exit code 3"), "{message}");
}

#[test]
fn depends_on_failure_and_when_conditions() {
    let mut h = Harness::new(&main_spec(
        r#"
      dag:
        tasks:
          - {name: flaky, template: fail}
          - {name: cleanup, depends: flaky.Failed, template: ok}
          - {name: never, depends: flaky.Succeeded, template: ok}
          - {name: maybe, template: ok, when: "{{workflow.name}} == other"}
    - name: fail
      container: {image: argoproj/argosay:v2, args: [exit, "1"]}
    - name: ok
      container: {image: argoproj/argosay:v2}
"#,
    ));
    let phase = h.run(&|pod: &Value| {
        if args_of(pod).contains("exit") {
            (PodPhase::Failed, Some(1), Outputs::default())
        } else {
            succeed(pod)
        }
    });
    assert_eq!(h.node("cleanup").phase, NodePhase::Succeeded);
    assert_eq!(h.node("never").phase, NodePhase::Omitted);
    assert_eq!(h.node("maybe").phase, NodePhase::Skipped);
    assert_eq!(
        h.node("maybe").message.as_deref(),
        Some("when 'wf == other' evaluated false")
    );
    // The failure of `flaky` reaches the leaves `never` (omitted) → the DAG fails, as in Argo.
    assert_eq!(phase, WorkflowPhase::Failed);
}

#[test]
fn with_items_fans_out_with_argo_node_names() {
    let mut h = Harness::new(&main_spec(
        r#"
      steps:
        - - name: print
            template: say
            arguments: {parameters: [{name: os, value: "{{item.image}}:{{item.tag}}"}]}
            withItems:
              - {image: debian, tag: "9.1"}
              - {image: alpine, tag: "3.6"}
    - name: say
      inputs: {parameters: [{name: os}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.os}}"]}
"#,
    ));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    let names: Vec<String> = h
        .created
        .iter()
        .map(|p| {
            p["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "wf[0].print(0:image:debian,tag:9.1)",
            "wf[0].print(1:image:alpine,tag:3.6)"
        ]
    );
    assert_eq!(args_of(&h.created[1]), r#"["echo","alpine:3.6"]"#);
}

/// A fan-out wider than the controller allows errors its node, naming the field, and makes no
/// pod; the error ends the workflow as any task's error does.
#[test]
fn a_fan_out_past_the_controllers_limit_errors_naming_the_field() {
    let mut h = Harness::new(&main_spec(
        r#"
      dag:
        tasks:
          - {name: fan, template: say, withParam: '["a", "b", "c"]'}
    - name: say
      container: {image: argoproj/argosay:v2}
"#,
    ));
    h.config.max_fan_out = 2;
    assert_eq!(h.run(&succeed), WorkflowPhase::Error);
    assert!(h.created.is_empty());
    assert_eq!(
        h.node("fan").message.as_deref(),
        Some(
            "withParam expands to 3 items, more than the 2 a fan-out may have (the controller's --max-fan-out)"
        )
    );
}

#[test]
fn a_missing_parameter_is_an_error_naming_it() {
    let mut h = Harness::new(&main_spec(
        r#"
      inputs: {parameters: [{name: who}]}
      container: {image: argoproj/argosay:v2}
"#,
    ));
    h.step();
    // Caught by validation before anything runs, as Argo does: the workflow fails as invalid.
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    let message = h.message().unwrap_or_default().to_string();
    assert!(
        message.starts_with("invalid spec: ") && message.contains("who"),
        "{message}"
    );
    assert!(h.created.is_empty());
}

#[test]
fn workflow_parallelism_limits_running_pods() {
    let mut h = Harness::new(&main_spec_with(
        "  parallelism: 2\n",
        r#"
      steps:
        - - {name: fan, template: ok, withSequence: {count: "5"}}
    - name: ok
      container: {image: argoproj/argosay:v2}
"#,
    ));
    assert_eq!(h.step().len(), 2);
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(
        h.created
            .iter()
            .map(Harness::node_id)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        5
    );
}

/// Templates in other clusters and namespaces.
mod clusters;
/// Shutdown, deadlines, suspension, pod GC and TTLs.
mod lifecycle;
/// Templates nested in DAGs and steps.
mod nesting;
mod parallelism;
/// Placement and naming policies.
mod policy;
/// Resource templates.
mod resource;
/// Retries.
mod retry;
/// What a tenant can make the engine decide through the workflow's spec and status.
mod trust;
mod variables;

#[test]
fn pods_of_one_template_are_each_personalised() {
    let mut h = Harness::new(&main_spec(
        r#"
      steps:
        - - {name: fan, template: ok, withSequence: {count: "3"}}
    - name: ok
      container: {image: argoproj/argosay:v2, env: [{name: USER_VAR, value: "x"}]}
"#,
    ));
    let pods = h.step();
    assert_eq!(pods.len(), 3);
    let mut seen = std::collections::BTreeSet::new();
    for pod in &pods {
        let name = pod["metadata"]["name"].as_str().unwrap();
        let node = pod["metadata"]["annotations"]["workflows.argoproj.io/node-id"]
            .as_str()
            .unwrap();
        let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
        let value = |k: &str| {
            env.iter()
                .find(|e| e["name"] == k)
                .and_then(|e| e["value"].as_str())
                .unwrap()
        };
        assert_eq!(value("ARGO_POD_NAME"), name);
        assert_eq!(value("ARGO_NODE_ID"), node);
        assert_eq!(value("USER_VAR"), "x");
        assert!(
            pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
                .as_str()
                .unwrap()
                .contains("fan(")
        );
        assert!(
            seen.insert((name.to_string(), node.to_string())),
            "each pod is its own: {name}"
        );
    }
}

#[test]
fn runaway_recursion_fails_the_node_instead_of_the_controller() {
    let mut h = Harness::new(
        r#"
spec:
  entrypoint: loop
  templates:
    - name: loop
      steps:
        - - {name: again, template: loop}
"#,
    );
    h.step();
    let status = h.wf.status.as_ref().unwrap();
    assert!(
        status.nodes.values().any(|n| n
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("Maximum recursion depth exceeded"))),
        "{:?}",
        status.message
    );
}

#[test]
fn main_runs_through_the_executor_with_its_identity() {
    let mut h = Harness::new(HELLO);
    let pods = h.step();
    let pod = &pods[0];
    let main = &pod["spec"]["containers"][0];
    let command: Vec<&str> = main["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // As Argo's emissary: the executor goes in front of the image's entrypoint; the args stay.
    assert_eq!(
        command,
        ["/var/run/argo/flotilla-executor", "run", "--", "/argosay"]
    );
    assert_eq!(main["args"], serde_json::json!(["echo", "hello"]));
    let init = &pod["spec"]["initContainers"][0];
    assert_eq!(init["command"][1], "install");
    assert_eq!(init["volumeMounts"][0]["mountPath"], "/var/run/argo");
    assert!(
        pod["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "var-run-argo" && v["emptyDir"].is_object())
    );
    let env = main["env"].as_array().unwrap();
    let field = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
    };
    assert_eq!(
        field("ARGO_POD_NAMESPACE"),
        Some(serde_json::json!("metadata.namespace"))
    );
    assert_eq!(
        field("ARGO_POD_UID"),
        Some(serde_json::json!("metadata.uid"))
    );
    assert!(env.iter().any(|e| e["name"] == "ARGO_TEMPLATE"));
}

#[test]
fn an_image_without_a_known_entrypoint_needs_a_command() {
    let mut h = Harness::new(&main_spec(
        r#"
      container: {image: example.com/tool:1.0, args: [run]}
"#,
    ));
    h.step();
    let message = h.node("wf").message.clone().unwrap_or_default();
    assert!(
        message.contains("container.command is required for image \"example.com/tool:1.0\""),
        "{message}"
    );
    assert!(h.created.is_empty());
}

/// Argo's `sidecar` example: each sidecar runs through the executor too, which stops it once
/// main has ended (Argo kills sidecars when main exits), from the volume main's executor shares.
#[test]
fn sidecars_run_through_the_executor_that_stops_them_when_main_ends() {
    let mut h = Harness::new(&main_spec(
        r#"
      container: {image: alpine:3.20, command: [sh, -c], args: ["echo main"]}
      sidecars:
      - {name: influxdb, image: influxdb:1.2, command: [influxd], args: [run]}
      - {name: say, image: argoproj/argosay:v2, args: [sleep, "3600"]}
"#,
    ));
    let pods = h.step();
    let containers = pods[0]["spec"]["containers"].as_array().unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "influxdb", "say"]);
    let executor = "/var/run/argo/flotilla-executor";
    assert_eq!(
        containers[1]["command"],
        serde_json::json!([executor, "sidecar", "--", "influxd"])
    );
    assert_eq!(containers[1]["args"], serde_json::json!(["run"]));
    assert_eq!(
        containers[2]["command"],
        serde_json::json!([executor, "sidecar", "--", "/argosay"])
    );
    for sidecar in &containers[1..] {
        assert_eq!(
            sidecar["volumeMounts"],
            serde_json::json!([{"name": "var-run-argo", "mountPath": "/var/run/argo"}]),
            "{sidecar}"
        );
    }
}

#[test]
fn a_sidecar_image_without_a_known_entrypoint_needs_a_command_naming_the_sidecar() {
    let mut h = Harness::new(&main_spec(
        r#"
      container: {image: argoproj/argosay:v2}
      sidecars: [{name: db, image: example.com/db:1}]
"#,
    ));
    h.step();
    let message = h.node("wf").message.clone().unwrap_or_default();
    assert!(
        message.contains("sidecars[0].command is required for image \"example.com/db:1\""),
        "{message}"
    );
    assert!(h.created.is_empty());
}

/// Argo's workflow events: `WorkflowRunning` ("Workflow Running") when a valid workflow starts,
/// `WorkflowSucceeded` ("Workflow completed") when it succeeds.
#[test]
fn a_workflow_says_it_runs_and_completes_in_argos_words() {
    let mut h = Harness::new(HELLO);
    h.step();
    let said = |h: &Harness| -> Vec<(bool, String, String)> {
        h.events
            .iter()
            .map(|e| (e.warning, e.reason.clone(), e.message.clone()))
            .collect()
    };
    assert_eq!(
        said(&h),
        [(false, "WorkflowRunning".into(), "Workflow Running".into())]
    );
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(
        said(&h),
        [(
            false,
            "WorkflowSucceeded".into(),
            "Workflow completed".into()
        )]
    );
}

/// Argo's `images` setting from the controller's ConfigMap: an image it names needs no
/// `command`, and its entry wins over the engine configuration's.
#[test]
fn the_controller_configmaps_images_give_entrypoints() {
    let mut h = Harness::new(&main_spec(
        "      container: {image: example.com/tool:1.0}\n",
    ));
    let entry = |entrypoint: &str, cmd: &str| crate::ImageEntrypoint {
        entrypoint: vec![entrypoint.to_string()],
        cmd: vec![cmd.to_string()],
    };
    h.config
        .images
        .insert("example.com/tool:1.0".into(), entry("/old", "old"));
    h.observed.images = std::sync::Arc::new(BTreeMap::from([(
        "example.com/tool:1.0".to_string(),
        entry("/tool", "run"),
    )]));
    let pods = h.step();
    let main = &pods[0]["spec"]["containers"][0];
    assert_eq!(main["command"].as_array().unwrap().last().unwrap(), "/tool");
    assert_eq!(user_args(&pods[0]), ["run"]);
}
