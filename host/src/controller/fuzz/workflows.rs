//! Workflows, pods and task results, from their JSON through what a reconcile does before it
//! talks to an API server: the lenient decode and its triage, the remote scopes to watch,
//! the observation of pods and task results, the engine's decision, and the status patch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kube::runtime::reflector::store::{Store, Writer};
use kube::runtime::watcher::Event;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::workflow_json::{
    self, WORKFLOW, any_node_id, new_workflow, node_phase, task_outputs, text, workflow,
};
use super::{config, name, policies, runtime};
use crate::authz::{self, Authorizer};
use crate::controller::lenient::{self, Reported, triage};
use crate::controller::observe::observe;
use crate::controller::ownership::{PROOF_KEY_BYTES, ProofKey};
use crate::controller::pod_view::WorkflowPod;
use flotilla_engine::naming;
use flotilla_engine::ports::{
    ClusterState, NamingPolicy, Place, PlacementPolicy, Policies, TemplateInfo,
};
use flotilla_engine::workflow::report_digest;
use flotilla_engine::workflow::{Lenient, Outputs, Workflow, WorkflowTaskResult, labels};
mod edits;
mod setting;
mod world;

use edits::{apply_edit, edit};
use setting::{Setting, setting};
use world::{World, pod_seed, populate, put};

use flotilla_engine::{
    self as engine, Access, CreatorProof, Decision, EngineConfig, Observed, PodAction, PodIdentity,
};

/// 2027-01-15T08:00:00Z: the generated timestamps cluster around it.
const EPOCH: i64 = 1_800_000_000;

/// The controller's key for creator proofs in every case.
fn proof_key() -> ProofKey {
    ProofKey::new(&[42; PROOF_KEY_BYTES])
}

/// The setting made real: the authorizer, the engine's configuration, the policies.
struct Controller {
    access: Arc<Authorizer>,
    engine: EngineConfig,
    policies: Policies,
    setting: Setting,
}

impl Controller {
    fn new(setting: Setting) -> Controller {
        let rt = runtime();
        let access = rt
            .block_on(Authorizer::new(None, setting.policy.as_deref()))
            .unwrap_or_else(|_| rt.block_on(Authorizer::default_policy()));
        let engine = EngineConfig {
            cluster: setting.own_cluster.map(String::from),
            max_pod_creates_per_reconcile: setting.max_creates,
            creator_proof: Some(Arc::new(proof_key())),
            ..EngineConfig::default()
        };
        let clusters = ["", "cluster-1", "cluster-\u{20ac}"]
            .iter()
            .map(|n| ClusterState {
                name: n.to_string(),
                healthy: true,
                ..ClusterState::default()
            })
            .collect();
        let policies = Policies {
            placement: setting
                .plugins
                .clone()
                .map(|p| Arc::new(p) as Arc<dyn PlacementPolicy>),
            naming: setting
                .plugins
                .clone()
                .map(|p| Arc::new(p) as Arc<dyn NamingPolicy>),
            clusters: Arc::new(clusters),
        };
        Controller {
            access: Arc::new(access),
            engine,
            policies,
            setting,
        }
    }

    fn now(&self, step: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(EPOCH + self.setting.now + step * 7).expect("in range")
    }

    /// What `reconcile_inner` does between reading the caches and applying the decision:
    /// the remote scopes, the observation, the engine. Asserts what holds of every decision.
    fn decide(
        &self,
        wf: &Workflow,
        world: &World,
        now: jiff::Timestamp,
    ) -> Result<(Decision, Observed), TestCaseError> {
        let namespace = wf.metadata.namespace.clone().unwrap_or_default();
        let own = self.engine.cluster.as_deref();
        let scopes = super::super::scopes::remote_scopes(wf, &namespace, own, self.access.as_ref());
        let mut scopes: Vec<_> = scopes.into_iter().collect();
        scopes.sort();
        for (cluster, ns) in &scopes {
            prop_assert!(
                naming::dns_label_error(cluster).is_none() && naming::dns_label_error(ns).is_none()
            );
        }
        let mut unreachable = BTreeMap::new();
        let mut remotes = BTreeMap::new();
        for (i, scope) in scopes.into_iter().enumerate() {
            if self.setting.reachable.get(i).copied().unwrap_or(true) {
                let caches = caches(world, Some(&scope.0), Some(&scope.1));
                remotes.insert(scope, caches);
            } else {
                unreachable.insert(scope, "it has not answered yet".to_string());
            }
        }
        let local = caches(world, None, None);
        let key = proof_key();
        let mut observed = observe(
            wf,
            own,
            &key,
            &Default::default(),
            |cluster, ns| match cluster {
                None => super::super::scopes::may_observe(
                    own,
                    &namespace,
                    None,
                    ns,
                    self.access.as_ref(),
                )
                .then_some((&local.0, &local.1)),
                Some(c) => remotes
                    .get(&(c.to_string(), ns.to_string()))
                    .map(|(p, r)| (p, r)),
            },
        );
        observed.access = Some(self.access.clone() as Arc<dyn Access>);
        observed.policies = self.policies.clone();
        observed.blind = unreachable
            .iter()
            .map(|((c, n), m)| format!("cluster {c:?} namespace {n:?}: {m}"))
            .collect();
        observed.unreachable = unreachable;

        // On a stack the size a controller's runtime threads have.
        let reconcile = || {
            std::thread::scope(|s| {
                std::thread::Builder::new()
                    .stack_size(crate::controller::RECONCILE_STACK_BYTES)
                    .spawn_scoped(s, || engine::reconcile(wf, &observed, &self.engine, now))
                    .expect("a thread for the reconcile")
                    .join()
                    .expect("the reconcile does not panic")
            })
        };
        let decision = reconcile();
        let again = reconcile();
        prop_assert_eq!(&decision, &again, "the same observations decided twice");
        self.check_actions(wf, &observed, &decision)?;
        // The status patch, as `reconcile_inner` builds it.
        let old = wf
            .status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok());
        let new = serde_json::to_value(&decision.status).expect("a status serializes");
        let _ = flotilla_engine::merge_patch::diff(old.as_ref(), &new);
        Ok((decision, observed))
    }

    /// Nothing is created, deleted or labelled outside the policy, under an invalid name, or
    /// on a pod the controller has not seen (unless it checks the pod's labels first).
    fn check_actions(
        &self,
        wf: &Workflow,
        observed: &Observed,
        decision: &Decision,
    ) -> Result<(), TestCaseError> {
        let wf_ns = wf.metadata.namespace.clone().unwrap_or_default();
        let own = self.engine.cluster.clone().unwrap_or_default();
        let uids: BTreeSet<&str> = observed
            .pods
            .values()
            .filter_map(|p| p.uid.as_deref())
            .collect();
        for action in &decision.pods {
            let (cluster, namespace, uid) = match action {
                PodAction::Create {
                    cluster, namespace, ..
                } => (cluster, namespace, None),
                PodAction::Delete {
                    cluster,
                    namespace,
                    pod_uid,
                    ..
                }
                | PodAction::LabelCompleted {
                    cluster,
                    namespace,
                    pod_uid,
                    ..
                } => (cluster, namespace, pod_uid.as_deref()),
            };
            if let Some(uid) = uid {
                prop_assert!(
                    uids.contains(uid),
                    "{action:?} names a pod uid never observed"
                );
            }
            if cluster.is_none() && *namespace == wf_ns {
                continue;
            }
            if let Some(c) = cluster {
                prop_assert!(
                    naming::dns_label_error(c).is_none(),
                    "{action:?}: cluster name"
                );
            }
            prop_assert!(
                naming::dns_label_error(namespace).is_none(),
                "{action:?}: namespace"
            );
            let target = cluster.as_deref().unwrap_or(&own);
            prop_assert!(
                self.access.allows(
                    &authz::scope(&own, &wf_ns),
                    &authz::scope(target, namespace)
                ),
                "{action:?} is outside the policy"
            );
        }
        Ok(())
    }
}

/// The watch caches of one place: `cluster` `None` is the controller's own (every namespace).
fn caches(
    world: &World,
    cluster: Option<&str>,
    namespace: Option<&str>,
) -> (Store<WorkflowPod>, Store<WorkflowTaskResult>) {
    let here = |(c, ns, _): &(Option<String>, String, String)| {
        c.as_deref() == cluster && namespace.is_none_or(|n| n == ns)
    };
    let mut pods = Writer::<WorkflowPod>::default();
    for (_, pod) in world.pods.iter().filter(|(k, _)| here(k)) {
        if let Ok(pod) = serde_json::from_value::<WorkflowPod>(pod.clone()) {
            pods.apply_watcher_event(&Event::Apply(pod));
        }
    }
    let mut results = Writer::<WorkflowTaskResult>::default();
    let mut reported = Reported::default();
    for (_, result) in world.results.iter().filter(|(k, _)| here(k)) {
        // As the lenient watch sees it: a malformed result is left out (and reported).
        if let Ok(lenient) = Lenient::<WorkflowTaskResult>::from_value(result.clone()) {
            let (event, _) = triage(Event::Apply(lenient), &mut reported);
            if let Some(event) = event {
                results.apply_watcher_event(&event);
            }
        }
    }
    (pods.as_reader(), results.as_reader())
}

/// A workflow as the lenient watch hands it over (`None`: malformed, reported and left out).
fn decode(value: Value) -> Result<Option<Workflow>, TestCaseError> {
    let Ok(lenient) = Lenient::<Workflow>::from_value(value) else {
        // Metadata the API server would not have stored.
        return Ok(None);
    };
    let (event, invalid) = triage(Event::Apply(lenient), &mut Reported::default());
    if let Some(invalid) = &invalid {
        prop_assert!(
            !invalid.error.path.is_empty() && !invalid.error.problem.is_empty(),
            "{invalid:?}"
        );
        let _ = lenient::message("Workflow", invalid);
    }
    Ok(match event {
        Some(Event::Apply(wf)) => Some(wf),
        _ => None,
    })
}

/// The workflow as the controller wrote it, read back: its own status always decodes.
fn written(wf: &Workflow, decision: &Decision) -> Result<Workflow, TestCaseError> {
    let mut value = serde_json::to_value(wf).expect("a workflow serializes");
    value["status"] = serde_json::to_value(&decision.status).expect("a status serializes");
    match Lenient::<Workflow>::from_value(value) {
        Ok(Lenient::Valid(wf)) => Ok(wf),
        Ok(Lenient::Invalid(invalid)) => Err(TestCaseError::fail(format!(
            "the controller cannot read the status it wrote: {invalid}"
        ))),
        Err(e) => Err(TestCaseError::fail(format!(
            "the controller cannot read the metadata it kept: {e}"
        ))),
    }
}

proptest! {
    #![proptest_config(config(4096))]

    /// Any workflow, spec and status as a tenant wrote them, with the pods and task results a
    /// tenant can make: decoded, observed and decided without a panic, the same way twice,
    /// inside the policy; and the status the controller writes is one it can read back.
    #[test]
    fn any_workflow_is_decoded_observed_and_decided(
        value in workflow(),
        setting in setting(),
        seeds in prop::collection::vec(pod_seed(), 1..4),
    ) {
        let controller = Controller::new(setting);
        let Some(wf) = decode(value)? else {
            return Ok(());
        };
        let mut world = World::default();
        populate(&mut world, &wf, controller.engine.cluster.as_deref(), &seeds);
        let (decision, _) = controller.decide(&wf, &world, controller.now(0))?;
        written(&wf, &decision)?;
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// A workflow run for a few reconciles: the pods the engine asks for appear and end as the
    /// fuzzer says, and between reconciles the tenant edits the status (self-loops, cycles,
    /// dangling edges, other clusters and namespaces, phases, removed nodes, wrong types).
    #[test]
    fn a_workflow_runs_while_its_status_is_edited(
        value in new_workflow(),
        setting in setting(),
        steps in prop::collection::vec((prop::collection::vec(pod_seed(), 1..3), prop::option::weighted(0.5, edit())), 1..6),
    ) {
        let controller = Controller::new(setting);
        let Some(mut wf) = decode(value)? else {
            return Ok(());
        };
        let mut world = World::default();
        for (step, (seeds, edit)) in steps.iter().enumerate() {
            let now = controller.now(step as i64);
            let (decision, _) = controller.decide(&wf, &world, now)?;
            let mut seeds = seeds.iter().cycle();
            for action in &decision.pods {
                match action {
                    PodAction::Create { cluster, namespace, pod, node_id } => {
                        let mut pod = pod.to_value();
                        pod["metadata"]["namespace"] = json!(namespace);
                        pod["metadata"]["uid"] = json!(format!("pod-uid-{node_id}-{step}"));
                        if let Some(seed) = seeds.next() {
                            put(&mut world, cluster.clone(), pod, seed);
                        }
                    }
                    PodAction::Delete { cluster, namespace, name, .. } => {
                        world.pods.remove(&(cluster.clone(), namespace.clone(), name.clone()));
                    }
                    _ => {}
                }
            }
            let mut next = serde_json::to_value(written(&wf, &decision)?).expect("a workflow serializes");
            if let Some(edit) = edit {
                apply_edit(&mut next, edit);
            }
            match decode(next)? {
                Some(edited) => wf = edited,
                // A malformed edit: the controller ignores the workflow until it is fixed.
                None => break,
            }
        }
    }
}

/// The generators themselves: a sample of workflows decodes often enough to reach the engine.
#[test]
fn most_generated_workflows_reach_the_engine() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = workflow_json::workflow();
    let decoded = (0..200)
        .filter(|_| {
            let value = strategy
                .new_tree(&mut runner)
                .expect("a workflow")
                .current();
            matches!(
                Lenient::<Workflow>::from_value(value),
                Ok(Lenient::Valid(_))
            )
        })
        .count();
    assert!(
        decoded > 60,
        "only {decoded} of 200 generated workflows decode"
    );
}
