//! What a tenant who may write a workflow (spec and status: Argo's CRD has no status
//! subresource) can make the engine decide: never an action outside the policy, never a panic.

use std::sync::Arc;

use super::*;
use crate::workflow::NodeStatus;

/// A policy that allows only a workflow's own place, and panics when asked about a name that is
/// not ASCII — as casbin-rs's `keyMatch` does — so a test fails if one reaches it.
#[derive(Debug)]
struct OwnPlaceOnly;

impl Access for OwnPlaceOnly {
    fn allows(&self, subject: &str, object: &str) -> bool {
        assert!(
            subject.is_ascii() && object.is_ascii(),
            "the policy was asked about {subject:?} → {object:?}"
        );
        subject == object
    }
}

const ONE_POD: &str = r#"
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: argoproj/argosay:v2}
"#;

/// A steps template of one step.
const ONE_STEP: &str = r#"
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: a, template: leaf}
    - name: leaf
      container: {image: argoproj/argosay:v2}
"#;

fn in_cluster_0(yaml: &str) -> Harness {
    let mut h = Harness::new(yaml);
    h.config.cluster = Some("cluster-0".into());
    h.observed.access = Some(Arc::new(OwnPlaceOnly));
    h
}

/// The status a tenant writes: the root node records another team's pod as its own.
fn forge_victims_pod(h: &mut Harness, cluster: Option<&str>) {
    let status = h.wf.status.get_or_insert_with(Default::default);
    status.phase = Some(WorkflowPhase::Running);
    let node: NodeStatus = serde_json::from_value(serde_json::json!({
        "id": "wf", "name": "wf", "displayName": "wf", "type": "Pod", "phase": "Running",
        "templateName": "main", "podName": "victims-pod", "namespace": "team-b",
        "cluster": cluster,
    }))
    .unwrap();
    status.nodes.insert("wf".into(), node);
}

#[test]
fn a_forged_status_cannot_delete_another_teams_pod_on_terminate() {
    for cluster in [None, Some("cluster-1")] {
        let mut h = in_cluster_0(ONE_POD);
        forge_victims_pod(&mut h, cluster);
        h.wf.spec.shutdown = Some("Terminate".into());
        assert!(h.step().is_empty());
        assert!(h.deleted().is_empty(), "{:?}", h.others);
        let node = h.node("wf");
        assert_eq!(node.phase, NodePhase::Failed);
        let message = node.message.as_deref().unwrap_or_default();
        assert!(
            message.contains("is forbidden from creating resources in cluster")
                && message.contains("namespace \"team-b\""),
            "{message}"
        );
    }
}

#[test]
fn a_forged_status_cannot_delete_another_teams_pod_on_timeout_or_deadline() {
    let mut h = in_cluster_0(&main_spec_with(
        "  activeDeadlineSeconds: 1\n",
        r#"
      timeout: 1s
      container: {image: argoproj/argosay:v2}
"#,
    ));
    forge_victims_pod(&mut h, None);
    h.wf.status.as_mut().unwrap().started_at = Some(time(h.now));
    h.advance(5);
    h.step();
    assert!(h.deleted().is_empty(), "{:?}", h.others);
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
}

#[test]
fn a_forged_pod_name_is_refused_by_name() {
    let mut h = in_cluster_0(ONE_POD);
    forge_victims_pod(&mut h, None);
    let node = h.wf.status.as_mut().unwrap().nodes.get_mut("wf").unwrap();
    node.namespace = None;
    node.pod_name = Some("../../../api".into());
    h.wf.spec.shutdown = Some("Terminate".into());
    h.step();
    assert!(h.deleted().is_empty());
    let message = h.node("wf").message.clone().unwrap_or_default();
    assert!(
        message.starts_with("status.nodes[\"wf\"].podName \"../../../api\" is not a pod name"),
        "{message}"
    );
}

#[test]
fn a_node_graph_with_a_cycle_errors_its_workflow_only() {
    let mut h = in_cluster_0(ONE_STEP);
    h.step();
    let status = h.wf.status.as_mut().unwrap();
    let root = status.nodes.get_mut("wf").unwrap();
    root.outbound_nodes = vec!["wf".into()];
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Error));
    assert_eq!(
        h.message(),
        Some(
            "status.nodes[\"wf\"] leads back to itself through \"wf\"; a node graph has no cycles"
        )
    );
}

#[test]
fn a_cluster_name_that_is_not_a_dns_label_is_refused_before_the_policy_sees_it() {
    let yaml = &main_spec(
        r#"
      cluster: "cluster-€"
      namespace: team-a
      container: {image: argoproj/argosay:v2}
"#,
    );
    // At submission, the spec is invalid.
    let mut h = in_cluster_0(yaml);
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    let message = h.message().unwrap_or_default();
    assert!(
        message.starts_with("invalid spec: templates.main.cluster \"cluster-€\" is invalid"),
        "{message}"
    );
    // Edited in later (the spec stays writable), the node fails.
    let mut h = in_cluster_0(ONE_POD);
    h.step();
    h.wf.spec.templates[0].cluster = Some("cluster-€".into());
    assert!(h.step().is_empty());
    let node = h.node("wf");
    assert_eq!(node.phase, NodePhase::Error);
    let message = node.message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("template \"main\": cluster \"cluster-€\" is not a valid cluster name"),
        "{message}"
    );
}

/// A workflow whose pod runs in team-b, allowed when it was made, the grant revoked since.
fn running_in_team_b_revoked() -> Harness {
    let mut h = in_cluster_0(&main_spec(
        r#"
      namespace: team-b
      container: {image: argoproj/argosay:v2}
"#,
    ));
    #[derive(Debug)]
    struct Allow;
    impl Access for Allow {
        fn allows(&self, _: &str, _: &str) -> bool {
            true
        }
    }
    h.observed.access = Some(Arc::new(Allow));
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    running(&mut h, &pods);
    h.step();
    h.observed.access = Some(Arc::new(OwnPlaceOnly));
    h
}

#[test]
fn a_recorded_place_the_policy_no_longer_allows_is_not_acted_on() {
    // Terminated: the node stops there and nothing is deleted.
    let mut h = running_in_team_b_revoked();
    h.wf.spec.shutdown = Some("Terminate".into());
    h.step();
    assert!(h.deleted().is_empty());
    assert_eq!(h.node("wf").phase, NodePhase::Failed);
    // Left running: the pod observed there (the hot path) fails its node the same way.
    let mut h = running_in_team_b_revoked();
    h.step();
    let node = h.node("wf");
    assert_eq!(node.phase, NodePhase::Failed);
    let message = node.message.as_deref().unwrap_or_default();
    assert!(message.contains("forbidden"), "{message}");
}

/// A DAG whose tasks form one long chain of dependencies, as long as a DAG may be: deciding it
/// walks the chain without recursion, so it cannot overflow the reconciling thread's stack (a
/// stack overflow aborts the process; no panic guard contains it; 2,000 tasks overflowed the
/// recursive walk in a debug build), and validating it keeps each task's ancestry as a bit set
/// (a set of names per task was quadratic in time and memory).
#[test]
fn a_long_chain_of_dag_dependencies_does_not_overflow_the_stack() {
    let mut h = in_cluster_0(&chain(10_000));
    let pods = h.step();
    assert_eq!(
        h.pod_names().len(),
        1,
        "only the chain's first task runs: {pods:?}"
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Running), "{:?}", h.message());
}

/// A workflow whose DAG is a chain of `tasks` tasks, each passing the first one's result on.
fn chain(tasks: usize) -> String {
    let mut list = vec![serde_json::json!({"name": "t0", "template": "leaf"})];
    list.extend((1..tasks).map(|i| {
        serde_json::json!({"name": format!("t{i}"), "template": "leaf", "depends": format!("t{}", i - 1),
            "arguments": {"parameters": [{"name": "p", "value": "{{tasks.t0.outputs.result}}"}]}})
    }));
    let spec = serde_json::json!({"entrypoint": "chain", "templates": [
        {"name": "chain", "dag": {"tasks": list}},
        {"name": "leaf", "inputs": {"parameters": [{"name": "p", "default": ""}]},
            "container": {"image": "argoproj/argosay:v2"}},
    ]});
    format!("spec: {spec}")
}

#[test]
fn a_dag_of_more_tasks_than_supported_is_refused_naming_the_template() {
    let mut h = in_cluster_0(&chain(10_001));
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert_eq!(
        h.message(),
        Some(
            "invalid spec: templates.chain.dag.tasks holds 10001 tasks; at most 10000 are supported (fan a task out with withItems, withParam or withSequence instead)"
        )
    );
}

/// Validation runs once, on a workflow with no phase yet: a tenant who writes `phase: Running`
/// with the spec skips it. The cap on tasks holds where the DAG is decided too.
#[test]
fn a_dag_of_more_tasks_than_supported_is_refused_without_validation_too() {
    let mut h = in_cluster_0(&chain(10_001));
    h.wf.status = Some(crate::workflow::WorkflowStatus {
        phase: Some(WorkflowPhase::Running),
        ..Default::default()
    });
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Error));
    assert_eq!(
        h.node("wf").message.as_deref(),
        Some(
            "templates.chain.dag.tasks holds 10001 tasks; at most 10000 are supported (fan a task out with withItems, withParam or withSequence instead)"
        )
    );
}

/// A template that calls itself twice per level doubles its nodes with each level: recursion
/// depth alone (150) would let one reconcile make 2^150. The walk stops at the most nodes a
/// status may hold, and the workflow errors saying why, keeping none of them.
#[test]
fn a_template_calling_itself_twice_per_level_stops_at_the_node_limit() {
    let mut h = in_cluster_0(
        r#"
spec:
  entrypoint: fork
  templates:
    - name: fork
      steps:
        - - {name: left, template: fork}
          - {name: right, template: fork}
"#,
    );
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Error));
    let message = h.message().unwrap_or_default().to_string();
    assert!(
        message.starts_with("the workflow would hold more than 100000 nodes"),
        "{message}"
    );
    assert!(
        h.wf.status.as_ref().unwrap().nodes.len() <= 1,
        "nothing of the cut walk is kept"
    );
}

/// A parameter doubled at each level of a recursive template grows exponentially; substitution
/// stops at 2 MiB and the node errors saying so.
#[test]
fn a_parameter_doubled_at_each_level_stops_at_the_substitution_limit() {
    let mut h = in_cluster_0(
        r#"
spec:
  entrypoint: grow
  arguments: {parameters: [{name: seed, value: "0123456789abcdef"}]}
  templates:
    - name: grow
      inputs: {parameters: [{name: x, value: "{{workflow.parameters.seed}}"}]}
      steps:
        - - name: again
            template: grow
            arguments: {parameters: [{name: x, value: "{{inputs.parameters.x}}{{inputs.parameters.x}}"}]}
"#,
    );
    h.step();
    let status = h.wf.status.as_ref().unwrap();
    let too_large = status
        .nodes
        .values()
        .filter_map(|n| n.message.as_deref())
        .any(|m| m.contains("template replacement would produce more than 2097152 bytes"));
    assert!(
        too_large,
        "{:?}",
        status
            .nodes
            .values()
            .map(|n| &n.message)
            .collect::<Vec<_>>()
    );
    let largest = status
        .nodes
        .values()
        .flat_map(|n| n.inputs.iter().flat_map(|i| i.parameters.iter()))
        .filter_map(|p| p.value.as_ref().map(|v| v.0.len()))
        .max()
        .unwrap_or_default();
    assert!(largest <= 2 * 1024 * 1024, "{largest}");
}

/// Found by the fuzz target (`controller::fuzz::workflows`): a second node filed under another
/// key but carrying the root's ID, recorded in namespace `team-€`, made the abort (the graph is
/// invalid) delete the root's observed pod "in" that namespace — an unvalidated namespace on
/// the way to a URL, and another node's pod taken for its own.
#[test]
fn a_node_filed_under_another_key_does_not_take_another_nodes_pod() {
    let mut h = in_cluster_0(ONE_POD);
    h.step();
    let pod = h.created[0].clone();
    h.observe(&pod, PodPhase::Running, None, Outputs::default());
    let status = h.wf.status.as_mut().unwrap();
    let mut forged = status.nodes["wf"].clone();
    forged.namespace = Some("team-\u{20ac}".into());
    status.nodes.insert("wf-511703626".into(), forged);
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Error));
    let places: Vec<&str> = h
        .others
        .iter()
        .filter_map(|a| match a {
            PodAction::Delete { namespace, .. } => Some(namespace.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(places, ["argo"], "only the root's pod, in its own place");
}

/// The uid of the first pod observed for a node is recorded on it (`podUID`), and kept: what
/// the controller checks a pod of the node's name against from then on.
#[test]
fn the_first_observed_pods_uid_is_recorded_on_its_node() {
    let mut h = Harness::new(ONE_POD);
    let pods = h.step();
    assert_eq!(h.node("wf").pod_uid, None, "not observed yet");
    running(&mut h, &pods);
    h.step();
    let id = h.node("wf").id.clone();
    assert_eq!(h.node("wf").pod_uid, Some(format!("uid-of-{id}")));
    // A later observation never moves it (the controller refuses another uid before this).
    h.observed.pods.get_mut(&id).unwrap().uid = Some("another".into());
    h.step();
    assert_eq!(h.node("wf").pod_uid, Some(format!("uid-of-{id}")));
}

/// A forged status leads many children of a step group to one node whose outbound nodes are a
/// large set: following each child's outbound nodes on its own multiplied the set by the
/// children (and stored the product as the template's outbound nodes). One walk for all of
/// them takes each node once.
#[test]
fn outbound_nodes_shared_by_many_children_are_taken_once() {
    const CHILDREN: usize = 500;
    const SHARED: usize = 2_000;
    let mut h = in_cluster_0(ONE_STEP);
    h.step();
    let group = h.node("[0]").id.clone();
    let step = h.node("a").id.clone();
    let status = h.wf.status.as_mut().unwrap();
    let template = status.nodes[&step].clone();
    let forged = |id: String, type_: NodeType, outbound: Vec<String>| NodeStatus {
        id: id.clone(),
        name: id.clone(),
        display_name: id,
        type_,
        phase: NodePhase::Succeeded,
        outbound_nodes: outbound,
        ..template.clone()
    };
    let shared: Vec<String> = (0..SHARED).map(|i| format!("shared-{i}")).collect();
    for id in &shared {
        status
            .nodes
            .insert(id.clone(), forged(id.clone(), NodeType::Pod, Vec::new()));
    }
    status.nodes.insert(
        "hub".into(),
        forged("hub".into(), NodeType::Steps, shared.clone()),
    );
    let children: Vec<String> = (0..CHILDREN).map(|i| format!("child-{i}")).collect();
    for id in &children {
        status.nodes.insert(
            id.clone(),
            forged(id.clone(), NodeType::Steps, vec!["hub".into()]),
        );
    }
    status
        .nodes
        .get_mut(&group)
        .unwrap()
        .children
        .extend(children);
    let node = status.nodes.get_mut(&step).unwrap();
    node.phase = NodePhase::Succeeded;
    node.outputs = None;

    h.step();
    let outbound = &h.node("wf").outbound_nodes;
    assert_eq!(
        outbound.len(),
        SHARED + 1,
        "the step, and each shared node once"
    );
    assert_eq!(
        h.phase(),
        Some(WorkflowPhase::Succeeded),
        "{:?}",
        h.message()
    );
}

/// Every node keeps its own copy of its inputs: a 1 MiB default taken by many nodes (here 100
/// suspended ones) would cost the controller that many MiB in one reconcile, whatever the
/// status could store. Recording stops at 64 MiB and the workflow errors saying why.
#[test]
fn input_values_recorded_on_many_nodes_stop_at_the_byte_limit() {
    let big = "x".repeat(1024 * 1024);
    let spec = serde_json::json!({"entrypoint": "main", "templates": [
        {"name": "main", "steps": [[{"name": "wait", "template": "wait",
            "withSequence": {"count": "100"}}]]},
        {"name": "wait", "inputs": {"parameters": [{"name": "big", "default": big}]},
            "suspend": {}},
    ]});
    let mut h = in_cluster_0(&format!("spec: {spec}"));
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Error));
    assert_eq!(
        h.message(),
        Some(
            "the workflow's nodes would record more than 67108864 bytes of input and output values"
        )
    );
}

/// The root tasks of a wide DAG are linked under the DAG node on every reconcile: past a few
/// dozen children the node keeps a set of them (a scan per link cost the square of the width).
/// Each is linked once, however many reconciles link it.
#[test]
fn the_root_tasks_of_a_wide_dag_are_each_linked_once() {
    const TASKS: usize = 300;
    let tasks: Vec<serde_json::Value> = (0..TASKS)
        .map(|i| serde_json::json!({"name": format!("t{i}"), "template": "leaf"}))
        .collect();
    let spec = serde_json::json!({"entrypoint": "wide", "templates": [
        {"name": "wide", "dag": {"tasks": tasks}},
        {"name": "leaf", "container": {"image": "argoproj/argosay:v2"}},
    ]});
    let mut h = in_cluster_0(&format!("spec: {spec}"));
    let pods = h.step();
    assert_eq!(pods.len(), TASKS);
    running(&mut h, &pods);
    for _ in 0..3 {
        h.step();
    }
    let children = &h.node("wf").children;
    let distinct: std::collections::BTreeSet<&String> = children.iter().collect();
    assert_eq!(children.len(), TASKS, "{children:?}");
    assert_eq!(distinct.len(), TASKS);
}
