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
use flotilla_engine::{
    self as engine, Access, CreatorProof, Decision, EngineConfig, Observed, PodAction, PodIdentity,
};

/// What the clusters hold: pods and task results, by (cluster, namespace, name).
#[derive(Debug, Default)]
struct World {
    pods: BTreeMap<(Option<String>, String, String), Value>,
    results: BTreeMap<(Option<String>, String, String), Value>,
}

/// One pod's life, as the fuzzer plays it.
#[derive(Debug, Clone)]
struct PodSeed {
    phase: &'static str,
    exit_code: Option<i32>,
    /// Stamped for this workflow (else: someone else's pod of the same name).
    owned: bool,
    deleting: bool,
    message: Option<String>,
    result: Option<ResultSeed>,
}

#[derive(Debug, Clone)]
struct ResultSeed {
    outputs: Value,
    complete: bool,
    /// Owned by the pod (else: made by someone else, claiming the node).
    by_pod: bool,
    /// The pod's termination message carries this result's digest (else: the result was
    /// changed after the executor vouched for what it reported).
    vouched: bool,
}

fn pod_seed() -> BoxedStrategy<PodSeed> {
    let result = (
        task_outputs(),
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(outputs, complete, by_pod, vouched)| ResultSeed {
            outputs,
            complete,
            by_pod,
            vouched,
        });
    (
        select(
            &[
                "Pending",
                "Running",
                "Succeeded",
                "Failed",
                "Unknown",
                "",
                "Bogus",
            ][..],
        ),
        prop::option::of(select(&[0, 1, 2, 137, -1, i32::MIN, i32::MAX][..])),
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.2, text()),
        prop::option::weighted(0.7, result),
    )
        .prop_map(
            |(phase, exit_code, owned, deleting, message, result)| PodSeed {
                phase,
                exit_code,
                owned,
                deleting,
                message,
                result,
            },
        )
        .boxed()
}

/// A placement or naming policy (a plugin, to the engine) that answers what the fuzzer chose:
/// any cluster, namespace or pod name, no opinion, or an error.
#[derive(Debug, Clone)]
struct Scripted {
    places: Vec<Result<Option<(String, String)>, String>>,
    names: Vec<Result<Option<String>, String>>,
}

impl Scripted {
    /// The answer for a node: fixed by its name, as plugins must be deterministic.
    fn pick<'a, T>(answers: &'a [T], node: &str) -> Option<&'a T> {
        let n = answers.len();
        let hash = node.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        (n > 0).then(|| &answers[hash % n])
    }
}

impl PlacementPolicy for Scripted {
    fn place(&self, t: &TemplateInfo, _: &[ClusterState]) -> Result<Option<Place>, String> {
        match Self::pick(&self.places, &t.node_name) {
            None | Some(Ok(None)) => Ok(None),
            Some(Ok(Some((cluster, namespace)))) => Ok(Some(Place {
                cluster: cluster.clone(),
                namespace: namespace.clone(),
            })),
            Some(Err(e)) => Err(e.clone()),
        }
    }
}

impl NamingPolicy for Scripted {
    fn pod_name(&self, t: &TemplateInfo, _: &Place) -> Result<Option<String>, String> {
        Self::pick(&self.names, &t.node_name)
            .cloned()
            .unwrap_or(Ok(None))
    }
}

fn scripted() -> BoxedStrategy<Option<Scripted>> {
    let place = prop_oneof![
        2 => Just(Ok(None)),
        4 => (name(), name()).prop_map(|p| Ok(Some(p))),
        1 => text().prop_map(Err),
    ];
    let pod_name = prop_oneof![
        2 => Just(Ok(None)),
        4 => prop_oneof![name(), Just("victims-pod".to_string()), (200usize..300).prop_map(|n| "p".repeat(n))].prop_map(|n| Ok(Some(n))),
        1 => text().prop_map(Err),
    ];
    prop::option::weighted(
        0.3,
        (
            prop::collection::vec(place, 0..4),
            prop::collection::vec(pod_name, 0..3),
        )
            .prop_map(|(places, names)| Scripted { places, names }),
    )
    .boxed()
}

/// The controller's policy: one with wildcard lines (keyMatch panics on multi-byte characters
/// there), or whatever the ConfigMap may hold.
fn policy_text() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        3 => select(&[
            "p, cluster-0:team-a, cluster-1:*",
            "p, :team-a, cluster-1:*\np, :team-a, :*",
            "p, *, *",
            "p, cluster-0:*, cluster-*\np, cluster-0:team-a, cluster-0:team-b",
        ][..]).prop_map(|p| Some(p.to_string())),
        1 => Just(None),
        2 => policies::policy(),
    ]
    .boxed()
}

/// Everything about a reconcile that is not the workflow.
#[derive(Debug, Clone)]
struct Setting {
    policy: Option<String>,
    plugins: Option<Scripted>,
    own_cluster: Option<&'static str>,
    /// Whether each remote (cluster, namespace), in order, answers (else it is unreachable).
    reachable: Vec<bool>,
    max_creates: usize,
    /// Seconds past the workflow's timestamps.
    now: i64,
}

fn setting() -> BoxedStrategy<Setting> {
    (
        policy_text(),
        scripted(),
        select(&[None, Some("cluster-0")][..]),
        prop::collection::vec(prop::bool::weighted(0.8), 0..4),
        select(&[1usize, 3, 50][..]),
        select(&[0i64, 1, 61, 3600, 86_400 * 400][..]),
    )
        .prop_map(
            |(policy, plugins, own_cluster, reachable, max_creates, now)| Setting {
                policy,
                plugins,
                own_cluster,
                reachable,
                max_creates,
                now,
            },
        )
        .boxed()
}

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

        let decision = engine::reconcile(wf, &observed, &self.engine, now);
        let again = engine::reconcile(wf, &observed, &self.engine, now);
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

/// The pods and task results of a workflow's pod nodes, played by `seeds` in order.
fn populate(world: &mut World, wf: &Workflow, own: Option<&str>, seeds: &[PodSeed]) {
    let Some(status) = &wf.status else {
        return;
    };
    let ns = wf.metadata.namespace.clone().unwrap_or_default();
    let format = naming::PodNameFormat::of(wf);
    let pod_nodes = status
        .nodes
        .values()
        .filter(|n| n.type_ == flotilla_engine::workflow::NodeType::Pod);
    for (node, seed) in pod_nodes.zip(seeds.iter().cycle()) {
        let name = naming::node_pod_name(WORKFLOW, node, format);
        let namespace = node.namespace.clone().unwrap_or_else(|| ns.clone());
        let mut stamped = json!({
            labels::WORKFLOW: WORKFLOW,
            labels::WORKFLOW_NAMESPACE: ns,
            labels::WORKFLOW_UID: wf.metadata.uid.clone().unwrap_or_default(),
        });
        if let Some(own) = own {
            stamped[labels::WORKFLOW_CLUSTER] = own.into();
        }
        let mut annotations = json!({labels::NODE_ID: node.id});
        if seed.owned {
            annotations[labels::CREATOR_PROOF] = proof_key()
                .prove(&PodIdentity {
                    workflow_uid: wf.metadata.uid.as_deref().unwrap_or_default(),
                    node_id: &node.id,
                    namespace: &namespace,
                    name: &name,
                })
                .into();
        }
        let pod = json!({
            "metadata": {
                "name": name, "namespace": namespace, "uid": format!("pod-uid-{}", node.id),
                "labels": if seed.owned { stamped } else { json!({labels::WORKFLOW: WORKFLOW}) },
                "annotations": annotations,
            },
            "spec": {"nodeName": "node-1"},
            "status": {"phase": seed.phase},
        });
        put(world, node.cluster.clone(), pod, seed);
    }
}

/// Stores a pod (as created, now in the seed's state) and the task result its executor wrote.
fn put(world: &mut World, cluster: Option<String>, mut pod: Value, seed: &PodSeed) {
    let (Some(name), Some(namespace)) = (
        pod["metadata"]["name"].as_str().map(String::from),
        pod["metadata"]["namespace"].as_str().map(String::from),
    ) else {
        return;
    };
    let node_id = pod["metadata"]["annotations"][labels::NODE_ID]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uid = pod["metadata"]["uid"].clone();
    pod["status"] = json!({"phase": seed.phase, "message": seed.message, "podIP": "10.0.0.1"});
    if let Some(code) = seed.exit_code {
        // What the executor left: the digest of the result it reported, then the message.
        let vouched = seed.result.as_ref().filter(|r| r.vouched).map(|r| {
            let outputs = serde_json::from_value::<Outputs>(r.outputs.clone()).ok();
            report_digest::digest(outputs.as_ref(), None)
        });
        let message = match vouched {
            Some(digest) => Some(report_digest::termination_message(
                &digest,
                seed.message.as_deref(),
            )),
            None => seed.message.clone(),
        };
        pod["status"]["containerStatuses"] = json!([{"name": "main", "state": {"terminated": {"exitCode": code, "message": message}}}]);
    }
    if seed.deleting {
        pod["metadata"]["deletionTimestamp"] = json!("2027-01-15T08:00:00Z");
    }
    if let Some(result) = &seed.result {
        let owner = if result.by_pod {
            uid
        } else {
            json!("someone-elses")
        };
        let value = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTaskResult",
            "metadata": {
                "name": node_id, "namespace": namespace, "uid": format!("result-{node_id}"),
                "labels": {labels::WORKFLOW: WORKFLOW, labels::REPORT_OUTPUTS_COMPLETED: result.complete.to_string()},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": owner}],
            },
            "outputs": result.outputs,
        });
        world
            .results
            .insert((cluster.clone(), namespace.clone(), node_id), value);
    }
    world.pods.insert((cluster, namespace, name), pod);
}

/// A tenant's edit of the status between two reconciles (Argo's CRD lets them write it).
#[derive(Debug, Clone)]
enum Edit {
    /// A node's children (or outbound nodes) name the node itself, another node, or nothing.
    Edge {
        node: prop::sample::Index,
        to: Option<prop::sample::Index>,
        dangling: String,
        outbound: bool,
    },
    /// A node moves to another cluster, namespace or pod name.
    Place {
        node: prop::sample::Index,
        cluster: Option<String>,
        namespace: Option<String>,
        pod_name: Option<String>,
    },
    Phase {
        node: prop::sample::Index,
        phase: &'static str,
    },
    Remove {
        node: prop::sample::Index,
    },
    Shutdown(&'static str),
    Garbage {
        node: prop::sample::Index,
        field: &'static str,
    },
}

fn edit() -> BoxedStrategy<Edit> {
    let index = any::<prop::sample::Index>;
    prop_oneof![
        3 => (index(), prop::option::of(index()), any_node_id(), any::<bool>())
            .prop_map(|(node, to, dangling, outbound)| Edit::Edge { node, to, dangling, outbound }),
        3 => (index(), prop::option::of(name()), prop::option::of(name()), prop::option::of(name()))
            .prop_map(|(node, cluster, namespace, pod_name)| Edit::Place { node, cluster, namespace, pod_name }),
        2 => (index(), node_phase()).prop_map(|(node, phase)| Edit::Phase { node, phase }),
        1 => index().prop_map(|node| Edit::Remove { node }),
        1 => select(&["Stop", "Terminate", "x"][..]).prop_map(Edit::Shutdown),
        1 => (index(), select(&["phase", "children", "type", "startedAt", "outputs"][..]))
            .prop_map(|(node, field)| Edit::Garbage { node, field }),
    ]
    .boxed()
}

fn apply_edit(value: &mut Value, edit: &Edit) {
    if let Edit::Shutdown(how) = edit {
        value["spec"]["shutdown"] = json!(how);
        return;
    }
    let Some(nodes) = value
        .get_mut("status")
        .and_then(|s| s.get_mut("nodes"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let ids: Vec<String> = nodes.keys().cloned().collect();
    if ids.is_empty() {
        return;
    }
    let pick = |i: &prop::sample::Index| ids[i.index(ids.len())].clone();
    match edit {
        Edit::Edge {
            node,
            to,
            dangling,
            outbound,
        } => {
            let id = pick(node);
            let target = to.as_ref().map_or_else(|| dangling.clone(), &pick);
            let field = if *outbound {
                "outboundNodes"
            } else {
                "children"
            };
            let edges = &mut nodes[&id][field];
            match edges.as_array_mut() {
                Some(edges) => edges.push(target.into()),
                None => *edges = json!([target]),
            }
        }
        Edit::Place {
            node,
            cluster,
            namespace,
            pod_name,
        } => {
            let n = &mut nodes[&pick(node)];
            n["cluster"] = json!(cluster);
            n["namespace"] = json!(namespace);
            n["podName"] = json!(pod_name);
        }
        Edit::Phase { node, phase } => nodes[&pick(node)]["phase"] = json!(phase),
        Edit::Remove { node } => {
            nodes.remove(&pick(node));
        }
        Edit::Garbage { node, field } => nodes[&pick(node)][*field] = json!(7),
        Edit::Shutdown(_) => {}
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
