//! Templates with `cluster:`/`clusterName:` and `namespace:`: placement, authorization and the
//! pods asked for there.

use std::sync::Arc;

use super::*;
use crate::workflow::labels;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A policy that allows exactly these `subject → object` pairs (and a workflow its own place).
#[derive(Debug)]
pub(super) struct Allow(pub(super) Vec<(&'static str, &'static str)>);

impl Access for Allow {
    fn allows(&self, subject: &str, object: &str) -> bool {
        subject == object || self.0.iter().any(|(s, o)| *s == subject && *o == object)
    }
}

const SEED: &str = r#"
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: here, template: here}
          - {name: there, template: there}
    - name: here
      container: {image: argoproj/argosay:v2}
    - name: there
      cluster: cluster-1
      namespace: default
      container: {image: argoproj/argosay:v2}
"#;

/// The seed's DAG, allowed into cluster-1, with both pods running.
fn seed_running() -> Harness {
    let mut h = in_cluster_0(SEED);
    h.observed.access = Some(Arc::new(Allow(vec![(
        "cluster-0:argo",
        "cluster-1:default",
    )])));
    let pods = h.step();
    running(&mut h, &pods);
    h.step();
    h
}

fn in_cluster_0(yaml: &str) -> Harness {
    let mut h = Harness::new(yaml);
    h.config.cluster = Some("cluster-0".into());
    h
}

#[test]
fn by_default_a_workflow_may_not_create_in_another_cluster() {
    let mut h = in_cluster_0(SEED);
    let pods = h.step();
    assert_eq!(pods.len(), 1, "only the local task's pod");
    assert_forbidden(&h, "there", "cluster-1", "default");
}

#[test]
fn an_allowed_remote_pod_is_asked_for_in_its_cluster_tied_to_its_workflow() {
    let mut h = in_cluster_0(SEED);
    h.observed.access = Some(Arc::new(Allow(vec![(
        "cluster-0:argo",
        "cluster-1:default",
    )])));
    let pods = h.step();
    assert_eq!(pods.len(), 2);
    let there = h.pod_of("there");
    let here = h.pod_of("here");
    let name = |p: &Value| p["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(h.created_in[&name(&there)].as_deref(), Some("cluster-1"));
    assert_eq!(h.created_in[&name(&here)], None);
    assert_eq!(there["metadata"]["namespace"], "default");
    // No owner reference can cross clusters; labels and annotations tie it back instead.
    assert!(there["metadata"].get("ownerReferences").is_none());
    assert!(here["metadata"].get("ownerReferences").is_some());
    let l = &there["metadata"]["labels"];
    assert_eq!(l[labels::WORKFLOW], "wf");
    assert_eq!(l[labels::WORKFLOW_NAMESPACE], "argo");
    assert_eq!(l[labels::WORKFLOW_CLUSTER], "cluster-0");
    assert!(there["metadata"]["annotations"][labels::NODE_ID].is_string());
    let env = there["spec"]["containers"][0]["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "ARGO_WORKFLOW_CLUSTER" && e["value"] == "cluster-0")
    );
    let node = h.node("there");
    assert_eq!(node.cluster.as_deref(), Some("cluster-1"));
    assert_eq!(node.namespace.as_deref(), Some("default"));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
}

#[test]
fn the_older_spelling_and_the_own_cluster_name() {
    let mut h = in_cluster_0(&main_spec(
        r#"
      steps:
        - - {name: other, template: other}
          - {name: own, template: own}
    - name: other
      clusterName: other
      namespace: argo
      container: {image: argoproj/argosay:v2}
    - name: own
      cluster: cluster-0
      container: {image: argoproj/argosay:v2}
"#,
    ));
    h.observed.access = Some(Arc::new(Allow(vec![("cluster-0:argo", "other:argo")])));
    let pods = h.step();
    assert_eq!(pods.len(), 2);
    let clusters: Vec<Option<String>> = h.created_in.values().cloned().collect();
    assert!(clusters.contains(&Some("other".into())));
    assert!(
        clusters.contains(&None),
        "naming the own cluster stays local"
    );
}

#[test]
fn another_namespace_of_the_own_cluster_is_checked_too() {
    let yaml = &main_spec(
        r#"
      namespace: default
      container: {image: argoproj/argosay:v2}
"#,
    );
    let mut denied = in_cluster_0(yaml);
    denied.step();
    assert_eq!(denied.node("wf").phase, NodePhase::Failed);
    let mut allowed = in_cluster_0(yaml);
    allowed.observed.access = Some(Arc::new(Allow(vec![(
        "cluster-0:argo",
        "cluster-0:default",
    )])));
    let pods = allowed.step();
    assert_eq!(pods[0]["metadata"]["namespace"], "default");
    assert_eq!(allowed.created_in.values().next(), Some(&None));
}

#[test]
fn a_remote_template_needs_the_controller_to_know_its_own_cluster() {
    let mut h = Harness::new(SEED);
    h.observed.access = Some(Arc::new(Allow(vec![(
        "cluster-0:argo",
        "cluster-1:default",
    )])));
    h.step();
    let there = h.node("there");
    assert_eq!(there.phase, NodePhase::Error);
    assert!(
        there
            .message
            .as_deref()
            .unwrap()
            .contains("this controller has no cluster name: set ARGO_CLUSTER"),
        "{there:#?}"
    );
}

#[test]
fn a_remote_output_feeds_a_local_task() {
    let mut h = in_cluster_0(&main_spec(
        r#"
      dag:
        tasks:
          - {name: remote, template: remote}
          - name: local
            template: local
            dependencies: [remote]
            arguments: {parameters: [{name: v, value: "{{tasks.remote.outputs.parameters.out}}"}]}
    - name: remote
      cluster: cluster-1
      container: {image: argoproj/argosay:v2, args: [echo, hi, /tmp/out]}
      outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out}}]}
    - name: local
      inputs: {parameters: [{name: v}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.v}}"]}
"#,
    ));
    h.observed.access = Some(Arc::new(Allow(vec![("cluster-0:argo", "cluster-1:argo")])));
    let phase = h.run(&|pod: &Value| {
        let mut out = Outputs::default();
        if user_args(pod).last().map(String::as_str) == Some("/tmp/out") {
            out.parameters.push(Parameter {
                name: "out".into(),
                value: Some(AnyString("from cluster-1".into())),
                ..Default::default()
            });
        }
        (PodPhase::Succeeded, Some(0), out)
    });
    assert_eq!(phase, WorkflowPhase::Succeeded);
    assert_eq!(user_args(&h.pod_of("local")), ["echo", "from cluster-1"]);
}

#[test]
fn the_finalizer_goes_on_before_the_first_pod_elsewhere() {
    let mut h = in_cluster_0(SEED);
    h.observed.access = Some(Arc::new(Allow(vec![(
        "cluster-0:argo",
        "cluster-1:default",
    )])));
    let decision = reconcile(&h.wf, &h.observed, &h.config, h.now);
    assert_eq!(decision.finalizer, Some(FinalizerChange::Add));
    // Already there, or only local pods: nothing to add.
    h.wf.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    let again = reconcile(&h.wf, &h.observed, &h.config, h.now);
    assert_eq!(again.finalizer, None);
    let local = Harness::new(HELLO);
    let decision = reconcile(&local.wf, &local.observed, &local.config, local.now);
    assert_eq!(decision.finalizer, None);
}

#[test]
fn a_deleted_workflow_deletes_its_pods_elsewhere_then_releases_the_finalizer() {
    let mut h = seed_running();
    h.wf.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    h.wf.metadata.deletion_timestamp = Some(Time(h.now));
    let decision = reconcile(&h.wf, &h.observed, &h.config, h.now);
    let deletes: Vec<(Option<String>, String)> = decision
        .pods
        .iter()
        .filter_map(|a| match a {
            PodAction::Delete {
                cluster, namespace, ..
            } => Some((cluster.clone(), namespace.clone())),
            _ => None,
        })
        .collect();
    // The local pod is Kubernetes' to delete (it has an owner reference).
    assert_eq!(
        deletes,
        [(Some("cluster-1".to_string()), "default".to_string())]
    );
    assert_eq!(decision.finalizer, None);
    assert!(decision.requeue_after.is_some());

    // A cluster that cannot be seen holds the finalizer, and says so.
    let there = h.node("there").id.clone();
    h.observed.pods.remove(&there);
    h.observed.blind = vec!["cluster \"cluster-1\" namespace \"default\": unreachable".into()];
    let decision = reconcile(&h.wf, &h.observed, &h.config, h.now);
    assert_eq!(decision.finalizer, None);
    assert!(
        decision
            .events
            .iter()
            .any(|e| e.reason == "CleanupPending" && e.message.contains("unreachable"))
    );

    h.observed.blind.clear();
    let decision = reconcile(&h.wf, &h.observed, &h.config, h.now);
    assert_eq!(decision.finalizer, Some(FinalizerChange::Remove));
    assert!(decision.pods.is_empty() && decision.events.is_empty());
}

/// The escape hatch: a cluster that is never coming back holds the finalizer until an
/// administrator annotates the workflow; then it goes, with an event naming what was left.
#[test]
fn the_release_annotation_lets_a_finalizer_held_by_an_unreachable_cluster_go() {
    let mut h = seed_running();
    h.wf.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    h.wf.metadata.deletion_timestamp = Some(Time(h.now));
    let there = h.node("there").id.clone();
    h.observed.pods.remove(&there);
    h.observed.blind = vec!["cluster \"cluster-1\" namespace \"default\": unreachable".into()];
    let held = reconcile(&h.wf, &h.observed, &h.config, h.now);
    assert_eq!(held.finalizer, None);
    assert!(
        held.events
            .iter()
            .any(|e| e.reason == "CleanupPending" && e.message.contains(crate::RELEASE_ANNOTATION))
    );

    for value in ["false", "yes", ""] {
        h.wf.metadata.annotations =
            Some([(crate::RELEASE_ANNOTATION.to_string(), value.to_string())].into());
        let decision = reconcile(&h.wf, &h.observed, &h.config, h.now);
        assert_eq!(
            decision.finalizer, None,
            "only \"true\" releases it, not {value:?}"
        );
    }
    h.wf.metadata.annotations =
        Some([(crate::RELEASE_ANNOTATION.to_string(), "true".to_string())].into());
    let released = reconcile(&h.wf, &h.observed, &h.config, h.now);
    assert_eq!(released.finalizer, Some(FinalizerChange::Remove));
    let [event] = released.events.as_slice() else {
        panic!("one event: {:?}", released.events)
    };
    assert_eq!(event.reason, "FinalizerReleased");
    assert!(event.warning);
    assert!(event.message.contains("cluster-1"), "{}", event.message);
}

/// A place whose credentials were removed from the configuration can never be cleaned up: it
/// does not hold the finalizer, and the event says what was left there.
#[test]
fn a_place_gone_from_the_configuration_does_not_hold_the_finalizer() {
    let mut h = seed_running();
    h.wf.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    h.wf.metadata.deletion_timestamp = Some(Time(h.now));
    let there = h.node("there").id.clone();
    h.observed.pods.remove(&there);
    h.observed.forgotten = vec![
        "cluster \"cluster-1\" namespace \"default\": cluster \"cluster-1\" is not configured"
            .into(),
    ];
    let decision = reconcile(&h.wf, &h.observed, &h.config, h.now);
    assert_eq!(decision.finalizer, Some(FinalizerChange::Remove));
    assert!(
        decision
            .events
            .iter()
            .any(|e| e.reason == "CleanupAbandoned" && e.message.contains("not configured")),
        "{:?}",
        decision.events
    );
}

#[test]
fn an_unreachable_cluster_holds_its_nodes_and_says_so_while_others_carry_on() {
    let mut h = seed_running();
    // cluster-1 goes away: its pod cannot be seen, which must not read as "deleted".
    let there = h.node("there").id.clone();
    h.observed.pods.remove(&there);
    h.observed.unreachable.insert(
        ("cluster-1".into(), "default".into()),
        "connection refused".into(),
    );
    let here = h.pod_of("here");
    h.observe(&here, PodPhase::Succeeded, Some(0), Outputs::default());
    h.step();
    let node = h.node("there");
    assert_eq!(node.phase, NodePhase::Running);
    assert_eq!(
        node.message.as_deref(),
        Some(r#"cluster "cluster-1" is unreachable; waiting for it: connection refused"#)
    );
    assert_eq!(
        h.node("here").phase,
        NodePhase::Succeeded,
        "cluster-0 carries on"
    );
    assert_eq!(h.phase(), Some(WorkflowPhase::Running));
    // Back: the pod is seen again, the message goes, nothing is created twice.
    h.observed.unreachable.clear();
    let pod = h.pod_of("there");
    h.observe(&pod, PodPhase::Succeeded, Some(0), Outputs::default());
    let created = h.step();
    assert!(created.is_empty());
    assert_eq!(h.node("there").message, None);
    assert_eq!(h.phase(), Some(WorkflowPhase::Succeeded));
    assert_eq!(h.distinct_pods(), 2);
}
