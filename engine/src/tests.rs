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

/// Argo's expressions evaluated natively by `flotilla-expr`, the code the controller runs in its
/// WebAssembly sandbox: for tests, on expressions the tests wrote.
#[derive(Debug)]
pub(crate) struct NativeExpressions;

impl ports::Expressions for NativeExpressions {
    fn check(
        &self,
        expression: &str,
        _fuel: u64,
    ) -> Result<ports::Spent<()>, ports::ExpressionFailure> {
        native(flotilla_expr::check(expression))
    }

    fn evaluate(
        &self,
        expression: &str,
        variables: Vec<(String, String)>,
        _fuel: u64,
    ) -> Result<ports::Spent<Option<String>>, ports::ExpressionFailure> {
        native(flotilla_expr::evaluate(expression, &variables))
    }
}

/// A native answer: no fuel counted.
fn native<T>(
    answer: Result<T, flotilla_expr::Error>,
) -> Result<ports::Spent<T>, ports::ExpressionFailure> {
    answer
        .map(|value| ports::Spent { value, fuel: 0 })
        .map_err(|e| ports::ExpressionFailure {
            message: e.to_string(),
            fuel: 0,
            exhausted: false,
        })
}

/// What the controller observes before any pod exists: nothing, and an expression evaluator.
pub(crate) fn observed() -> Observed {
    Observed {
        expressions: Some(std::sync::Arc::new(NativeExpressions)),
        ..Observed::default()
    }
}

impl Harness {
    fn new(yaml: &str) -> Self {
        Harness {
            wf: workflow(yaml),
            observed: observed(),
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

/// Some node errored at the recursion limit (and the controller's stack held).
fn assert_recursion_stopped(h: &Harness) {
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

/// Node `display` failed because namespace `argo` may not create in `cluster`/`namespace`.
fn assert_forbidden(h: &Harness, display: &str, cluster: &str, namespace: &str) {
    let node = h.node(display);
    assert_eq!(node.phase, NodePhase::Failed);
    assert_eq!(
        node.message.as_deref(),
        Some(
            format!(
                r#"namespace "argo" is forbidden from creating resources in cluster "{cluster}" namespace "{namespace}""#
            )
            .as_str()
        )
    );
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

const SLEEP: &str = "
    - name: sleep
      container: {image: argoproj/argosay:v2, args: [sleep, 30s]}
    - name: ok
      container: {image: argoproj/argosay:v2}
    - name: fail
      container: {image: argoproj/argosay:v2, args: [exit, \"1\"]}
";

fn with_templates(spec: &str) -> String {
    format!("{spec}{SLEEP}")
}

fn name_of(pod: &Value) -> String {
    pod["metadata"]["name"].as_str().unwrap().to_string()
}

const HELLO: &str = r#"
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: argoproj/argosay:v2, args: [echo, hello]}
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

/// Steps, DAGs, fan-outs, parameters and Argo's events on small workflows.
mod basics;
/// Templates in other clusters and namespaces.
mod clusters;
/// Containers run through the executor: identity, entrypoints, sidecars, the images setting.
mod executor;
/// The workflow's exit handler.
mod exit_handler;
/// Argo's `{{=…}}` expressions in arguments, `when`, `withParam` and pods.
mod expressions;
/// Exit hooks of steps and tasks.
mod hooks;
/// Shutdown, deadlines, pod GC and TTLs.
mod lifecycle;
/// Templates nested in DAGs and steps.
mod nesting;
mod parallelism;
/// Placement and naming policies.
mod policy;
/// Templates from WorkflowTemplates and ClusterWorkflowTemplates.
mod references;
/// Resource templates.
mod resource;
/// Retries.
mod retry;
/// Suspend templates and suspended workflows.
mod suspend;
/// What a tenant can make the engine decide through the workflow's spec and status.
mod trust;
mod variables;
