//! Placement and naming policies (`crate::ports`): asked once per new pod node, their answers
//! recorded on the node before its pod is asked for, authorization applied to them, and a policy
//! without an answer makes the node wait rather than fail.

use std::sync::Arc;

use parking_lot::Mutex;

use super::*;
use crate::ports::{ClusterState, NamingPolicy, Place, PlacementPolicy, Policies, TemplateInfo};

/// Places every node in the cluster and namespace it holds now (or has no answer).
#[derive(Debug)]
struct Fixed(Mutex<Result<Option<Place>, String>>);

impl PlacementPolicy for Fixed {
    fn place(&self, _: &TemplateInfo, _: &[ClusterState]) -> Result<Option<Place>, String> {
        self.0.lock().clone()
    }
}

/// Names pods `<prefix>-<node name's length>`, at the cluster it was told.
#[derive(Debug)]
struct Prefixed(&'static str);

impl NamingPolicy for Prefixed {
    fn pod_name(&self, t: &TemplateInfo, place: &Place) -> Result<Option<String>, String> {
        Ok(Some(format!(
            "{}-{}-{}",
            self.0,
            if place.cluster.is_empty() {
                "here"
            } else {
                &place.cluster
            },
            t.node_name.len()
        )))
    }
}

#[derive(Debug)]
struct Allow(&'static str, &'static str);

impl Access for Allow {
    fn allows(&self, subject: &str, object: &str) -> bool {
        subject == object || (subject == self.0 && object == self.1)
    }
}

const FAN: &str = r#"
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: a, template: say}
    - name: say
      container: {image: argoproj/argosay:v2}
"#;

fn with_policies(placement: Result<Option<Place>, String>) -> (Harness, Arc<Fixed>) {
    let mut h = Harness::new(FAN);
    h.config.cluster = Some("cluster-0".into());
    h.observed.access = Some(Arc::new(Allow("cluster-0:argo", "cluster-1:default")));
    let fixed = Arc::new(Fixed(Mutex::new(placement)));
    h.observed.policies = Policies {
        placement: Some(fixed.clone()),
        naming: Some(Arc::new(Prefixed("one"))),
        clusters: Arc::new(Vec::new()),
    };
    (h, fixed)
}

fn place(cluster: &str, namespace: &str) -> Result<Option<Place>, String> {
    Ok(Some(Place {
        cluster: cluster.into(),
        namespace: namespace.into(),
    }))
}

#[test]
fn a_placement_policy_sends_the_pod_and_its_answer_is_kept_when_the_policy_changes() {
    let (mut h, fixed) = with_policies(place("cluster-1", "default"));
    // The first pass records the answer; the pod is asked for once the status holding it is
    // read back.
    assert!(h.step().is_empty(), "no pod before its place is recorded");
    assert_eq!(h.node("a").pod_name.as_deref(), Some("one-cluster-1-4"));
    assert_eq!(h.requeue_after, Some(Duration::from_secs(1)));
    let pods = h.step();
    let [pod] = pods.as_slice() else {
        panic!("one pod: {pods:#?}")
    };
    assert_eq!(pod["metadata"]["name"], "one-cluster-1-4");
    assert_eq!(pod["metadata"]["namespace"], "default");
    assert_eq!(
        h.created_in["one-cluster-1-4"].as_deref(),
        Some("cluster-1")
    );
    let node = h.node("a");
    assert_eq!(node.cluster.as_deref(), Some("cluster-1"));
    assert_eq!(node.pod_name.as_deref(), Some("one-cluster-1-4"));

    // Both policies swapped: the node stays where it is, under its name.
    *fixed.0.lock() = place("", "");
    h.observed.policies.naming = Some(Arc::new(Prefixed("two")));
    // Not yet observed, the pod is asked for again — under the same name, in the same place
    // (an AlreadyExists for the applier), never a second one elsewhere.
    let again = h.step();
    assert_eq!(again, pods);
    assert_eq!(
        h.created_in["one-cluster-1-4"].as_deref(),
        Some("cluster-1")
    );
    assert_eq!(h.node("a").cluster.as_deref(), Some("cluster-1"));
    h.observe(pod, PodPhase::Succeeded, Some(0), Outputs::default());
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Succeeded));
}

/// A placement policy need not answer the same twice (least-loaded, failover). Its answer is
/// acted on only once recorded, so a status write that is lost — a crash, a 409, a second
/// controller — costs a second question, never a second pod.
#[test]
fn a_lost_status_write_never_makes_a_second_pod_elsewhere() {
    let (mut h, fixed) = with_policies(place("cluster-1", "default"));
    let unwritten = h.wf.status.clone();
    assert!(h.step().is_empty());
    assert_eq!(h.node("a").cluster.as_deref(), Some("cluster-1"));

    // The write of that pass is lost; the next pass starts from the old status, and the policy
    // now answers otherwise.
    h.wf.status = unwritten;
    *fixed.0.lock() = place("", "");
    assert!(
        h.step().is_empty(),
        "a new answer is recorded, not acted on"
    );
    assert_eq!(h.node("a").pod_name.as_deref(), Some("one-here-4"));

    // Written this time: the pod goes where the record says, whatever the policy says now.
    *fixed.0.lock() = place("cluster-1", "default");
    let pods = h.step();
    let [pod] = pods.as_slice() else {
        panic!("one pod: {pods:#?}")
    };
    assert_eq!(pod["metadata"]["name"], "one-here-4");
    assert_eq!(pod["metadata"]["namespace"], "argo");
    assert_eq!(
        h.created_in["one-here-4"], None,
        "the workflow's own cluster"
    );
    // Asked for again until observed: the same pod, never one in cluster-1.
    assert_eq!(h.step(), pods);
    assert_eq!(h.distinct_pods(), 1);
}

/// A pod created before a policy came into force, recorded (`podUID`) but not yet seen when the
/// policy arrives: the node keeps the place it was created in; the policy is not asked.
#[test]
fn a_pod_made_before_the_policy_keeps_its_place_while_the_cache_lags() {
    let mut h = Harness::new(FAN);
    h.config.cluster = Some("cluster-0".into());
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    let id = Harness::node_id(&pods[0]);
    h.wf.status
        .as_mut()
        .unwrap()
        .nodes
        .get_mut(&id)
        .unwrap()
        .pod_uid = Some("uid-a".into());
    let fixed = Arc::new(Fixed(Mutex::new(place("cluster-1", "default"))));
    h.observed.access = Some(Arc::new(Allow("cluster-0:argo", "cluster-1:default")));
    h.observed.policies.placement = Some(fixed);
    let again = h.step();
    assert_eq!(again, pods, "the same pod, in the same place");
    assert_eq!(h.node("a").cluster, None);
}

#[test]
fn authorization_applies_to_a_policy_answer() {
    let (mut h, _) = with_policies(place("cluster-2", "default"));
    assert!(h.step().is_empty());
    assert_forbidden(&h, "a", "cluster-2", "default");
}

#[test]
fn a_policy_without_an_answer_makes_the_node_wait_until_it_has_one() {
    let (mut h, fixed) = with_policies(Err("plugin p ran out of time (100ms)".into()));
    assert!(h.step().is_empty());
    let node = h.node("a");
    assert_eq!(node.phase, NodePhase::Pending);
    assert_eq!(
        node.message.as_deref(),
        Some("waiting for the placement policy: plugin p ran out of time (100ms)")
    );
    assert!(node.pod_name.is_none(), "not decided");
    assert_eq!(h.requeue_after, Some(Duration::from_secs(5)));

    *fixed.0.lock() = place("", "");
    assert!(h.step().is_empty(), "the answer is recorded first");
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["metadata"]["namespace"], "argo");
    assert_eq!(h.node("a").message, None, "the wait is over");
    assert_eq!(h.node("a").pod_name.as_deref(), Some("one-here-4"));
}

#[test]
fn no_opinion_means_the_templates_place_and_argos_name() {
    let mut h = Harness::new(FAN);
    h.observed.policies.placement = Some(Arc::new(Fixed(Mutex::new(Ok(None)))));
    assert!(h.step().is_empty(), "the answer is recorded first");
    let pods = h.step();
    let argo = crate::naming::pod_name("wf", "wf.a", "say", crate::naming::PodNameFormat::V2);
    assert_eq!(pods[0]["metadata"]["name"], argo.as_str());
    assert_eq!(pods[0]["metadata"]["namespace"], "argo");
    // Recorded all the same: the node's place is decided.
    assert_eq!(h.node("a").pod_name.as_deref(), Some(argo.as_str()));
}

#[test]
fn without_policies_the_status_is_argos() {
    let mut h = Harness::new(FAN);
    h.step();
    assert!(h.node("a").pod_name.is_none());
}
