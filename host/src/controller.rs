//! The controller: watches workflows, the pods they run and their task results; on every change
//! asks the engine what to do and does it. The only place that talks to API servers for
//! workflows; all decisions are the engine's.

mod apply;
mod config;
mod credentials;
#[cfg(test)]
mod fuzz;
mod lenient;
mod observe;
mod ownership;
mod plugins;
mod pod_view;
mod proof_key;
mod remembered;
mod remote;
mod requeue;
mod scopes;
mod status;
mod sweep;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use self::pod_view::WorkflowPod;
use futures::{FutureExt as _, StreamExt};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

use flotilla_engine::workflow::{Lenient, Workflow, WorkflowTaskResult, labels};
use flotilla_engine::{self as engine, EngineConfig};

/// Workflows reconciled at once (Argo's default is 32 workflow workers).
const WORKERS: u16 = 16;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Watch workflows in this namespace only (default: all namespaces).
    pub namespace: Option<String>,
    /// Where the controller's own configuration lives: the `rest-config` Secret and the
    /// `workflow-controller-authz` ConfigMap.
    pub controller_namespace: String,
    /// How often pods whose workflow is gone are looked for in other clusters and namespaces.
    pub orphan_sweep: Duration,
    pub engine: EngineConfig,
    /// Placement and naming policies fixed in place of those the `flotilla-plugins`
    /// ConfigMap configures (for embedding the controller, and for benchmarks that compare
    /// WebAssembly policies with native ones).
    pub fixed_policies: Option<flotilla_engine::ports::Fixed>,
    /// What credential entries may use of the controller's machine (files under allowed
    /// directories, credential plugins): by default nothing, as the Secrets they come from are
    /// not trusted with the controller's own files or with running commands in it.
    pub local_access: crate::clusters::LocalAccess,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            namespace: None,
            controller_namespace: "argo".into(),
            orphan_sweep: Duration::from_secs(300),
            engine: EngineConfig::default(),
            fixed_policies: None,
            local_access: crate::clusters::LocalAccess::none(),
        }
    }
}

/// Why the controller stopped or a reconcile failed; the reconcile is retried.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("workflow {namespace}/{name}: {source}")]
    Api {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error(
        "the Workflow CRD (workflows.argoproj.io) is not installed in the controller's cluster: {0}"
    )]
    MissingCrd(kube::Error),
    #[error(
        "the installed Workflow CRD (workflows.argoproj.io) would drop what Flotilla adds to a workflow ({}): its schema names every field Argo knows and prunes the rest, as Argo's full CRDs do; install Flotilla's CRDs (`flotilla crd | kubectl apply -f -`) or Argo's minimal ones",
        .0.join(", ")
    )]
    PruningCrd(Vec<String>),
    #[error(
        "other clusters are configured (Secret {namespace}/rest-config: {clusters}) but this controller has no cluster name: set ARGO_CLUSTER or --cluster"
    )]
    NoClusterName { namespace: String, clusters: String },
    #[error(
        "the key of the controller's creator proofs (Secret {namespace}/{secret}): {reason}",
        secret = proof_key::SECRET
    )]
    ProofKey { namespace: String, reason: String },
    #[error("reading the controller's configuration in namespace {namespace}: {source}")]
    Config {
        namespace: String,
        source: kube::Error,
    },
    /// A reconcile panicked; contained, so one workflow cannot stop the controller.
    #[error("reconciling workflow {namespace}/{name} panicked: {message}")]
    Panicked {
        namespace: String,
        name: String,
        message: String,
    },
}

/// What a panic said, for a log line or a message.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_string(),
    }
}

pub(crate) struct Context {
    client: Client,
    /// The controller's own cache of workflows.
    workflows: Store<Workflow>,
    pods: Store<WorkflowPod>,
    results: Store<WorkflowTaskResult>,
    engine: EngineConfig,
    /// The key pods are proven this controller's with (the engine stamps with it too).
    proof_key: ownership::ProofKey,
    recorder: Recorder,
    /// Other clusters: the registry and the connections in use.
    remotes: remote::Remotes,
    /// The authorization policy in force.
    access: parking_lot::RwLock<Arc<crate::authz::Authorizer>>,
    /// The WebAssembly plugins in force (`flotilla-plugins`).
    plugins: Arc<crate::plugins::Active>,
    /// What placement policies are told about the clusters, refreshed in the background.
    clusters: parking_lot::RwLock<Arc<Vec<flotilla_engine::ports::ClusterState>>>,
    fixed_policies: Option<flotilla_engine::ports::Fixed>,
    /// What credential entries may use of this machine (`ControllerConfig::local_access`).
    local_access: crate::clusters::LocalAccess,
    /// Trust roots for plugin URLs, read once when first needed.
    roots: std::sync::OnceLock<Arc<rustls::RootCertStore>>,
    /// Pod creations refused for good, so the engine can fail their nodes on the next pass.
    refusals: remembered::Remembered,
    /// The uids of pods made whose status write was lost (a conflict): recorded next pass.
    made: remembered::Remembered,
}

impl Context {
    /// The system's trust roots, for components fetched over https.
    fn trust_roots(&self) -> Arc<rustls::RootCertStore> {
        self.roots
            .get_or_init(|| Arc::new(crate::plugins::system_roots()))
            .clone()
    }
}

/// Who records the controller's events.
fn reporter() -> Reporter {
    Reporter {
        controller: "flotilla-controller".into(),
        instance: None,
    }
}

/// A label selector for objects of this controller instance (Argo's instance-ID convention:
/// without an ID, only objects without the label).
fn instance_selector(instance_id: Option<&str>) -> String {
    match instance_id {
        Some(id) => format!("{}={id}", labels::CONTROLLER_INSTANCE_ID),
        None => format!("!{}", labels::CONTROLLER_INSTANCE_ID),
    }
}

fn workflow_of(
    labels_map: &BTreeMap<String, String>,
    namespace: Option<String>,
) -> Option<ObjectRef<Workflow>> {
    let name = labels_map.get(labels::WORKFLOW)?;
    let ns = labels_map
        .get(labels::WORKFLOW_NAMESPACE)
        .cloned()
        .or(namespace)?;
    Some(ObjectRef::new(name).within(&ns))
}

/// Refuses a Workflow CRD whose schema prunes the fields Flotilla adds (a template's
/// `cluster`, a node's recorded place): under it a template meant for another cluster would
/// run in this one. A controller that may not read the CRD says so and goes on.
async fn check_crd_keeps_fields(client: &Client) -> Result<(), ControllerError> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = match crds.get("workflows.argoproj.io").await {
        Ok(crd) => crd,
        Err(e) => {
            warn!(error = %e, "cannot read the Workflow CRD to check that it keeps Flotilla's fields");
            return Ok(());
        }
    };
    let pruned = serde_json::to_value(&crd)
        .map(|crd| flotilla_engine::workflow::crd::pruned_fields(&crd))
        .unwrap_or_default();
    if pruned.is_empty() {
        Ok(())
    } else {
        Err(ControllerError::PruningCrd(pruned))
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(
    client: Client,
    config: ControllerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), ControllerError> {
    // Workflows and task results are decoded one by one (`lenient`): a malformed one is
    // reported and skipped, never failing a whole list or watch.
    let workflows: Api<Lenient<Workflow>> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let invalid = lenient::InvalidReporter::new(client.clone(), None);
    workflows
        .list(&kube::api::ListParams::default().limit(1))
        .await
        .map_err(ControllerError::MissingCrd)?;
    check_crd_keeps_fields(&client).await?;
    let selector = instance_selector(config.engine.instance_id.as_deref());
    let pod_selector = format!("{},{selector}", labels::WORKFLOW);

    let pods_api: Api<WorkflowPod> = Api::all(client.clone());
    let (pods, pod_writer) = reflector::store();
    let pod_stream = reflector(
        pod_writer,
        watcher(pods_api, watcher::Config::default().labels(&pod_selector)),
    )
    .default_backoff()
    .touched_objects();
    let results_api: Api<Lenient<WorkflowTaskResult>> = Api::all(client.clone());
    let (results, result_writer) = reflector::store();
    let result_stream = reflector(
        result_writer,
        lenient::typed(
            watcher(
                results_api,
                watcher::Config::default().labels(labels::WORKFLOW),
            )
            .default_backoff(),
            invalid.clone(),
        ),
    )
    .touched_objects();

    let recorder = Recorder::new(client.clone(), reporter());
    let registry =
        config::load_registry(&client, &config.controller_namespace, &config.local_access).await?;
    if config.engine.cluster.is_none() && !registry.is_empty() {
        let mut clusters: Vec<&str> = registry.clusters().collect();
        if clusters.is_empty() {
            clusters.push("(no usable key)");
        }
        return Err(ControllerError::NoClusterName {
            namespace: config.controller_namespace.clone(),
            clusters: clusters.join(", "),
        });
    }
    let access = config::load_policy(&client, &config.controller_namespace).await?;
    let proof_key = proof_key::load_or_create(&client, &config.controller_namespace).await?;
    let mut engine = config.engine;
    engine.creator_proof = Some(Arc::new(proof_key.clone()));
    let (wake, mut woken) = tokio::sync::mpsc::unbounded_channel();
    let plugins: Arc<crate::plugins::Active> = Arc::default();
    let remotes = remote::Remotes::new(pod_selector.clone(), wake, plugins.clone());
    remotes.set_registry(registry);
    let (workflow_store, workflow_writer) = reflector::store();
    let workflow_stream = reflector(
        workflow_writer,
        lenient::typed(
            watcher(workflows, watcher::Config::default().labels(&selector)).default_backoff(),
            invalid,
        ),
    )
    .applied_objects();
    let controller = Controller::for_stream(workflow_stream, workflow_store);
    let ctx = Arc::new(Context {
        client,
        workflows: controller.store(),
        pods,
        results,
        engine,
        proof_key,
        recorder,
        remotes,
        access: parking_lot::RwLock::new(Arc::new(access)),
        plugins,
        clusters: parking_lot::RwLock::default(),
        roots: std::sync::OnceLock::new(),
        fixed_policies: config.fixed_policies,
        local_access: config.local_access,
        refusals: Default::default(),
        made: Default::default(),
    });
    let cluster_states = tokio::spawn(plugins::refresh_cluster_states(ctx.clone()));
    let config_watch = tokio::spawn(config::watch(
        ctx.clone(),
        config.controller_namespace.clone(),
    ));
    let sweeper = tokio::spawn(sweep::run(
        ctx.clone(),
        pod_selector.clone(),
        config.orphan_sweep,
    ));
    // Remote watches wake workflows through this channel.
    let remote_events = futures::stream::poll_fn(move |cx| woken.poll_recv(cx));
    info!(selector = %selector, "workflow controller starting");
    controller
        // Bounded work in flight: each reconcile may keep many creates going, and unbounded
        // reconciles (one per busy workflow) would grow the connection pool without limit.
        .with_config(kube::runtime::controller::Config::default().concurrency(WORKERS))
        .watches_stream(pod_stream, |pod: WorkflowPod| {
            workflow_of(pod.labels(), pod.namespace())
        })
        .watches_stream(result_stream, |r: WorkflowTaskResult| {
            workflow_of(r.labels(), r.namespace())
        })
        .reconcile_on(remote_events)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "reconcile failed");
            }
        })
        .await;
    config_watch.abort();
    sweeper.abort();
    cluster_states.abort();
    Ok(())
}

/// Adds or removes [`engine::FINALIZER`], conditional on the version decided from; returns the
/// new resource version.
async fn set_finalizer(
    ctx: &Context,
    wf: &Workflow,
    present: bool,
) -> Result<Option<String>, kube::Error> {
    let mut finalizers: Vec<String> = wf
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != engine::FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(engine::FINALIZER.to_string());
    }
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": wf.metadata.resource_version, "finalizers": finalizers},
    });
    let api: Api<Workflow> =
        Api::namespaced(ctx.client.clone(), &wf.namespace().unwrap_or_default());
    let patched = api
        .patch(
            &wf.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(patched.metadata.resource_version)
}

fn error_policy(_wf: Arc<Workflow>, error: &ControllerError, _ctx: Arc<Context>) -> Requeue {
    warn!(error = %error, "will retry");
    Requeue::requeue(Duration::from_secs(2))
}

async fn reconcile(wf: Arc<Workflow>, ctx: Arc<Context>) -> Result<Requeue, ControllerError> {
    let name = wf.name_any();
    let namespace = wf.namespace().unwrap_or_default();
    let span = info_span!("reconcile", workflow = %name, namespace = %namespace);
    // Whatever one workflow makes the controller do, a panic stays with that workflow: it is
    // logged and retried with back-off, and the controller keeps serving every other one.
    let inner = reconcile_inner(wf, ctx, name.clone(), namespace.clone()).instrument(span);
    match std::panic::AssertUnwindSafe(inner).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(ControllerError::Panicked {
            namespace,
            name,
            message: panic_message(panic.as_ref()),
        }),
    }
}

/// The engine's decision for `wf`, off the async threads (plugins may block; so may a large
/// workflow's decision). A panic in it is a bug met by this workflow's input: the workflow
/// errors saying so, and nothing else.
fn decide(wf: &Workflow, observed: &engine::Observed, config: &EngineConfig) -> engine::Decision {
    let now = jiff::Timestamp::now();
    let decide = std::panic::AssertUnwindSafe(|| {
        crate::plugins::outside_async(|| engine::reconcile(wf, observed, config, now))
    });
    match std::panic::catch_unwind(decide) {
        Ok(decision) => decision,
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!(panic = %message, "deciding the workflow panicked");
            engine::internal_error(wf, &message, now)
        }
    }
}

async fn reconcile_inner(
    wf: Arc<Workflow>,
    ctx: Arc<Context>,
    name: String,
    namespace: String,
) -> Result<Requeue, ControllerError> {
    // Decide only from complete caches: before the first list of pods has arrived (say, just
    // after a restart) an absent pod means "not seen yet", not "deleted".
    let ready = async {
        let pods = ctx.pods.wait_until_ready().await;
        let results = ctx.results.wait_until_ready().await;
        pods.is_ok() && results.is_ok()
    };
    if !tokio::time::timeout(Duration::from_secs(30), ready)
        .await
        .unwrap_or(false)
    {
        return Ok(Requeue::requeue(Duration::from_secs(1)));
    }
    let key = wf.metadata.uid.clone().unwrap_or_default();
    let access = ctx.access.read().clone();
    let own_cluster = ctx.engine.cluster.as_deref();
    let sight = scopes::look(&ctx, &wf, &namespace, access.as_ref()).await;
    // Pods made on an earlier pass whose status write was lost to a conflict.
    let made = ctx.made.of(&key);
    let mut observed = observe::observe(
        &wf,
        ctx.engine.cluster.as_deref(),
        &ctx.proof_key,
        &made,
        |cluster, ns| match cluster {
            None => scopes::may_observe(own_cluster, &namespace, None, ns, access.as_ref())
                .then_some((&ctx.pods, &ctx.results)),
            Some(c) => sight
                .remotes
                .get(&(c.to_string(), ns.to_string()))
                .map(|r| (&r.pods, &r.results)),
        },
    );
    observed.access = Some(access);
    observed.policies = match &ctx.fixed_policies {
        Some((placement, naming)) => flotilla_engine::ports::Policies {
            placement: Some(placement.clone()),
            naming: Some(naming.clone()),
            clusters: ctx.clusters.read().clone(),
        },
        None => ctx.plugins.policies(ctx.clusters.read().clone()),
    };
    let blinded = sight.blinds(&wf, &namespace);
    observed.blind = sight.blind;
    observed.unreachable = sight.unreachable;
    observed.create_errors.extend(ctx.refusals.of(&key));
    let started = std::time::Instant::now();
    let mut decision = decide(&wf, &observed, &ctx.engine);
    let decided = started.elapsed();
    let api_err = |source| ControllerError::Api {
        namespace: namespace.clone(),
        name: name.clone(),
        source,
    };

    // The finalizer goes on before any pod the workflow cannot own is created.
    let mut resource_version = wf.metadata.resource_version.clone();
    if decision.actions.contains(&engine::Action::AddFinalizer) {
        match set_finalizer(&ctx, &wf, true).await {
            Ok(rv) => resource_version = rv,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                return Ok(Requeue::requeue(Duration::from_millis(50)));
            }
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Requeue::await_change()),
            Err(e) => return Err(api_err(e)),
        }
    }
    let owner = ownership::Owner {
        name: &name,
        namespace: &namespace,
        uid: &key,
        cluster: ctx.engine.cluster.as_deref(),
        key: &ctx.proof_key,
    };
    // Recorded, and to be: the status written from this pass holds the uids made before too.
    status::record_created(&mut decision.status, &made);
    // Read only when a pod is created or deleted: a steady reconcile of a wide workflow does
    // neither, and need not index its nodes.
    let touches_pods = decision.actions.iter().any(|a| {
        matches!(
            a,
            engine::Action::CreatePod { .. } | engine::Action::DeletePod { .. }
        )
    });
    let mut pinned = match touches_pods {
        true => status::pinned_uids(&wf),
        false => BTreeMap::new(),
    };
    pinned.extend(made.iter().map(|(node, uid)| (node.as_str(), uid.as_str())));
    let applied = apply::apply(&ctx, owner, &pinned, &decision.actions).await;
    status::record_created(&mut decision.status, &applied.created);
    let refused = applied.refused;
    if applied.error.is_none() && decision.actions.contains(&engine::Action::RemoveFinalizer) {
        match set_finalizer(&ctx, &wf, false).await {
            Ok(_) => info!("remote pods deleted; finalizer released"),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                return Ok(Requeue::requeue(Duration::from_millis(50)));
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(api_err(e)),
        }
    }
    let refusals = !refused.is_empty();
    if refusals {
        ctx.refusals.remember(&key, refused, &ctx.workflows);
    }

    let written = status::write(
        &ctx.client,
        &wf,
        &decision.status,
        resource_version.as_deref(),
    )
    .await
    .map_err(api_err)?;
    match written {
        // The uids made so far are in the stored status now.
        status::Written::Saved if !made.is_empty() => ctx.made.forget(&key),
        status::Written::Saved => {}
        // Lost to a newer version: the uids of the pods made wait in memory for the next write
        // (only then: the pod-creation path touches no shared state).
        status::Written::Conflict => {
            if !applied.created.is_empty() {
                ctx.made.remember(&key, applied.created, &ctx.workflows);
            }
            return Ok(Requeue::requeue(Duration::from_millis(50)));
        }
        status::Written::Gone => {
            ctx.made.forget(&key);
            return Ok(Requeue::await_change());
        }
    }
    // Events only once the decision they report is saved: a retried reconcile repeats nothing.
    apply::publish_events(&ctx, &wf, &decision.actions).await;
    // The status (with the pods made) is saved whatever else failed: now retry what did.
    if let Some(e) = applied.error {
        return Err(api_err(e));
    }
    if refusals {
        // The engine turns them into Error nodes on the next pass.
        return Ok(Requeue::requeue(Duration::from_millis(1)));
    }
    if phase_finished(&wf) {
        ctx.refusals.forget(&key);
    }
    tracing::debug!(
        nodes = wf.status.as_ref().map_or(0, |s| s.nodes.len()),
        pods_observed = observed.pods.len(),
        decide_us = decided.as_micros() as u64,
        total_us = started.elapsed().as_micros() as u64,
        "reconciled"
    );
    // While a cluster cannot be seen, look again now and then (its recovery also wakes us).
    let blind_for = blinded.then_some(sight.failing_for);
    Ok(
        match requeue::after(decision.requeue_after, blind_for, applied.deferred) {
            Some(after) => Requeue::requeue(after),
            None => Requeue::await_change(),
        },
    )
}

fn phase_finished(wf: &Workflow) -> bool {
    wf.status
        .as_ref()
        .and_then(|s| s.phase)
        .is_some_and(|p| p.is_finished())
}
