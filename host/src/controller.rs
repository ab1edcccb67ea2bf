//! The controller: watches workflows, the pods they run and their task results; on every change
//! asks the engine what to do and does it. The only place that talks to API servers for
//! workflows; all decisions are the engine's.

mod allowances;
mod apply;
mod busy;
mod config;
mod credentials;
mod cron;
mod embedded;
mod events;
mod failures;
mod finalizer;
#[cfg(test)]
mod fuzz;
mod gather;
mod images;
mod lenient;
mod node_events;
mod observe;
mod ownership;
mod pacing;
mod parameter_maps;
mod plugins;
mod pod_view;
mod proof_key;
mod readiness;
mod reconcile;
mod remembered;
mod remote;
mod requeue;
mod scopes;
mod status;
mod sweep;
mod workflow_templates;

/// The controller's ConfigMap holding Argo's `images` setting.
pub use self::images::CONFIG_MAP as IMAGES_CONFIG_MAP;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use self::pod_view::WorkflowPod;
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use flotilla_engine::EngineConfig;

pub use self::embedded::{ControllerHandle, spawn};
use flotilla_engine::workflow::{Lenient, Workflow, WorkflowTaskResult, labels};

/// Workflows reconciled at once (Argo's default is 32 workflow workers).
const WORKERS: u16 = 16;

/// The default of `ControllerConfig::progress_delay`.
pub const DEFAULT_PROGRESS_DELAY: Duration = Duration::from_secs(1);

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
    /// How long a pod's changes before it runs (scheduled, given an IP, containers created) may
    /// wait before its workflow is reconciled, so that changes close together make one status
    /// write; a pod's start and end wake its workflow at once (`pacing`). Zero reconciles on
    /// every change.
    pub progress_delay: Duration,
    pub engine: EngineConfig,
    /// Placement and naming policies fixed in place of those the `flotilla-plugins`
    /// ConfigMap configures (for embedding the controller, and for benchmarks that compare
    /// WebAssembly policies with native ones).
    pub fixed_policies: Option<flotilla_engine::ports::Fixed>,
    /// What credential entries may use of the controller's machine (files under allowed
    /// directories, credential plugins): by default nothing, as the Secrets they come from are
    /// not trusted with the controller's own files or with running commands in it.
    pub local_access: crate::clusters::LocalAccess,
    /// Whether this replica may act now ([`crate::leader`]); by default it always may.
    pub leadership: crate::leader::Leadership,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            namespace: None,
            controller_namespace: "argo".into(),
            orphan_sweep: Duration::from_secs(300),
            progress_delay: DEFAULT_PROGRESS_DELAY,
            engine: EngineConfig::default(),
            fixed_policies: None,
            local_access: crate::clusters::LocalAccess::none(),
            leadership: crate::leader::Leadership::always(),
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
        "the {crd} CRD is not installed in the controller's cluster (install Flotilla's CRDs: `flotilla crd | kubectl apply -f -`): {source}"
    )]
    MissingTemplateCrd {
        crd: &'static str,
        source: kube::Error,
    },
    #[error("cannot list the {crd} objects: {source}")]
    TemplateList {
        crd: &'static str,
        source: kube::Error,
    },
    #[error(
        "the installed CRD {crd} would drop what Flotilla adds ({}): its schema names every field Argo knows and prunes the rest, as Argo's full CRDs do; install Flotilla's CRDs (`flotilla crd | kubectl apply -f -`) or Argo's minimal ones",
        .fields.join(", ")
    )]
    PruningCrd { crd: String, fields: Vec<String> },
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

impl ControllerError {
    /// How long the API server asked the client to wait (a 429's or 503's `retryAfterSeconds`).
    fn retry_after(&self) -> Option<Duration> {
        let ControllerError::Api {
            source: kube::Error::Api(status),
            ..
        } = self
        else {
            return None;
        };
        let seconds = status.details.as_ref()?.retry_after_seconds;
        (seconds > 0).then(|| Duration::from_secs(seconds.into()))
    }
}

pub(crate) struct Context {
    client: Client,
    /// The controller's own cache of workflows.
    workflows: Store<Workflow>,
    pods: Store<WorkflowPod>,
    results: Store<WorkflowTaskResult>,
    /// The ConfigMaps parameters are read from.
    parameter_maps: Arc<parameter_maps::ParameterMaps>,
    /// What each namespace may still spend on expressions.
    allowances: allowances::Allowances,
    /// Argo's node events: whether they are sent, and what each workflow may still send.
    node_events: node_events::NodeEvents,
    /// The WorkflowTemplates and ClusterWorkflowTemplates workflows call.
    workflow_templates: Arc<workflow_templates::WorkflowTemplates>,
    /// Argo's `images` setting from `workflow-controller-configmap`.
    images: parking_lot::RwLock<Arc<images::Images>>,
    engine: EngineConfig,
    /// Whether `pods` and `results` have listed, for every reconcile that waits on it.
    caches_ready: readiness::CachesReady,
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
    /// Reconcile failures in a row, for the error back-off.
    failures: failures::Failures,
    /// Passes in a row that put pod creations off, for their back-off.
    deferrals: failures::Failures,
    /// Clusters that asked (`Retry-After`) to be sent no creations for a while.
    busy: busy::Busy,
    /// Whether this replica may write; a standby keeps its caches and does nothing else.
    leadership: crate::leader::Leadership,
}

impl Context {
    /// The system's trust roots, for components fetched over https.
    fn trust_roots(&self) -> Arc<rustls::RootCertStore> {
        self.roots
            .get_or_init(|| Arc::new(crate::plugins::system_roots()))
            .clone()
    }
}

/// Drops an object's `managedFields` before it reaches a cache: the controller never reads
/// them, and a workflow's lists every field of every node — kept, they multiplied the
/// controller's memory (`docs/performance.md`), as controller-runtime's
/// `TransformStripManagedFields` avoids in Go controllers.
fn without_managed_fields<K: kube::Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// Who records the controller's events: the controller, and the replica (its lease identity).
fn reporter(instance: Option<&str>) -> Reporter {
    Reporter {
        controller: "flotilla-controller".into(),
        instance: instance.map(str::to_owned),
    }
}

/// The API of a namespaced kind in `namespace`, or in every namespace with `None`.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
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
async fn check_crd_keeps_fields(
    client: &Client,
    namespace: Option<&str>,
) -> Result<(), ControllerError> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = vec![
        "workflows.argoproj.io",
        "workflowtemplates.argoproj.io",
        "cronworkflows.argoproj.io",
    ];
    if namespace.is_none() {
        names.push("clusterworkflowtemplates.argoproj.io");
    }
    for name in names {
        let crd = match crds.get(name).await {
            Ok(crd) => crd,
            Err(e) => {
                warn!(error = %e, crd = name, "cannot read the CRD to check that it keeps Flotilla's fields");
                continue;
            }
        };
        let pruned = serde_json::to_value(&crd)
            .map(|crd| flotilla_engine::workflow::crd::pruned_fields(&crd))
            .unwrap_or_default();
        if !pruned.is_empty() {
            return Err(ControllerError::PruningCrd {
                crd: name.to_string(),
                fields: pruned,
            });
        }
    }
    Ok(())
}

/// The WorkflowTemplate CRDs must be installed: their caches are waited for by every
/// reconcile, so a missing one would hold every workflow instead of failing at start.
async fn check_template_crds(
    client: &Client,
    namespace: Option<&str>,
) -> Result<(), ControllerError> {
    use flotilla_engine::workflow::{ClusterWorkflowTemplate, WorkflowTemplate};
    let one = kube::api::ListParams::default().limit(1);
    let templates: Api<WorkflowTemplate> = scoped(client, namespace);
    // Only a 404 means the CRD is missing; anything else (a refusal, a network error) is said as
    // it is.
    let missing = |crd| {
        move |source: kube::Error| match &source {
            kube::Error::Api(e) if e.code == 404 => {
                ControllerError::MissingTemplateCrd { crd, source }
            }
            _ => ControllerError::TemplateList { crd, source },
        }
    };
    templates
        .list_metadata(&one)
        .await
        .map_err(missing("WorkflowTemplate (workflowtemplates.argoproj.io)"))?;

    if namespace.is_none() {
        Api::<ClusterWorkflowTemplate>::all(client.clone())
            .list_metadata(&one)
            .await
            .map_err(missing(
                "ClusterWorkflowTemplate (clusterworkflowtemplates.argoproj.io)",
            ))?;
    }
    Ok(())
}

/// Each runtime thread's stack: a reconcile runs on one (`block_in_place`), and a workflow
/// nested to the engine's recursion limit (150 template calls, each several frames deep) needs
/// more than the 2 MiB a thread gets by default. Reserved, not committed: untouched pages cost
/// nothing.
pub const RECONCILE_STACK_BYTES: usize = 16 << 20;

/// Runs until `shutdown` resolves.
pub async fn run(
    client: Client,
    config: ControllerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), ControllerError> {
    // The expression sandbox compiles (about a second) off the async threads, before a
    // workflow needs it; a failure is a broken build, reported here and by each expression.
    tokio::task::spawn_blocking(|| {
        if let Err(e) = crate::expressions::warm() {
            tracing::error!(error = %e, "workflows with expressions will fail");
        }
    });
    // Workflows and task results are decoded one by one (`lenient`): a malformed one is
    // reported and skipped, never failing a whole list or watch.
    let workflows: Api<Lenient<Workflow>> = scoped(&client, config.namespace.as_deref());
    let leadership = config.leadership.clone();
    let invalid = lenient::InvalidReporter::new(client.clone(), None, leadership.clone());
    workflows
        .list(&kube::api::ListParams::default().limit(1))
        .await
        .map_err(ControllerError::MissingCrd)?;
    check_crd_keeps_fields(&client, config.namespace.as_deref()).await?;
    let selector = instance_selector(config.engine.instance_id.as_deref());
    let pod_selector = format!("{},{selector}", labels::WORKFLOW);

    let pods_api: Api<WorkflowPod> = Api::all(client.clone());
    let (pods, pod_writer) = reflector::store();
    let pod_stream = reflector(
        pod_writer,
        watcher(pods_api, watcher::Config::default().labels(&pod_selector))
            .modify(without_managed_fields),
    )
    .default_backoff()
    .inspect(|e| crate::health::on_event(crate::health::Cache::Pods, e))
    .scan(pacing::Listing::default(), local_wakes(pods.clone()))
    .flat_map(futures::stream::iter);
    let results_api: Api<Lenient<WorkflowTaskResult>> = Api::all(client.clone());
    let (results, result_writer) = reflector::store();
    let result_stream = lenient::task_results(results_api, result_writer, invalid.clone())
        .inspect(|e| crate::health::on_event(crate::health::Cache::TaskResults, e))
        .scan(pacing::Listing::default(), local_wakes(results.clone()))
        .flat_map(futures::stream::iter);

    // Parameter ConfigMaps: cached, not watched for reconciles (Argo reads them when a
    // workflow is reconciled, and a change reaches the workflows that read it after).
    let maps_api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        scoped(&client, config.namespace.as_deref());
    let (parameter_maps, maps_writer) = reflector::store();
    let maps_stream = reflector(
        maps_writer,
        watcher(
            maps_api,
            watcher::Config::default().labels(&parameter_maps::selector()),
        )
        .modify(without_managed_fields),
    )
    .default_backoff()
    .inspect(|e| crate::health::on_event(crate::health::Cache::ParameterMaps, e))
    .for_each(|e| {
        // Every reconcile waits for this cache's first list: a refusal (the ClusterRole
        // without its configmaps rule) must be seen, here and in /readyz.
        if let Err(e) = e {
            warn!(error = %e, "watching parameter ConfigMaps failed; retrying");
        }
        futures::future::ready(())
    });

    check_template_crds(&client, config.namespace.as_deref()).await?;
    let (workflow_templates, templates_stream) =
        workflow_templates::WorkflowTemplates::watch(&client, config.namespace.as_deref());

    let recorder = Recorder::new(client.clone(), reporter(leadership.identity()));
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
    let remotes = remote::Remotes::new(
        pod_selector.clone(),
        wake,
        plugins.clone(),
        leadership.clone(),
    );
    remotes.set_registry(registry);
    let (workflow_store, workflow_writer) = reflector::store();
    let workflow_stream = reflector(
        workflow_writer,
        lenient::typed(
            watcher(workflows, watcher::Config::default().labels(&selector)).default_backoff(),
            invalid,
        ),
    )
    .inspect(|e| crate::health::on_event(crate::health::Cache::Workflows, e))
    .applied_objects();
    let controller = Controller::for_stream(workflow_stream, workflow_store);
    let acquired = leadership.acquired(crate::health::listed);
    let ctx = Arc::new(Context {
        client,
        workflows: controller.store(),
        caches_ready: workflow_templates
            .ready(readiness::CachesReady::of(&pods, &results).and(&parameter_maps)),
        parameter_maps: Arc::new(parameter_maps::ParameterMaps(parameter_maps)),
        allowances: Default::default(),
        node_events: Default::default(),
        workflow_templates: Arc::new(workflow_templates),
        images: parking_lot::RwLock::default(),
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
        failures: Default::default(),
        deferrals: Default::default(),
        busy: Default::default(),
        leadership,
    });
    config::load_plugins(&ctx, &config.controller_namespace).await?;
    config::load_images(&ctx, &config.controller_namespace).await?;
    // Aborted when this function returns or its future is dropped (an embedded controller's
    // task aborted), so that nothing of the controller outlives it.
    let _cluster_states = spawn_scoped(plugins::refresh_cluster_states(ctx.clone()));
    let _config_watch = spawn_scoped(config::watch(
        ctx.clone(),
        config.controller_namespace.clone(),
    ));
    let _parameter_maps = spawn_scoped(maps_stream);
    let _workflow_templates = spawn_scoped(templates_stream.for_each(|()| async {}));
    // CronWorkflows submit workflows of their own: run beside this controller, leading with it
    // — unless they cannot be read (no CRD, an older role), which stops only them.
    let cron_api: Api<flotilla_engine::workflow::CronWorkflow> =
        scoped(&ctx.client, config.namespace.as_deref());
    let crons_readable = match cron_api
        .list_metadata(&kube::api::ListParams::default().limit(1))
        .await
    {
        Ok(_) => true,
        Err(e) => {
            warn!(error = %e, "cannot list CronWorkflows: they will not run (install Flotilla's CRDs and role)");
            false
        }
    };
    let _crons = crons_readable.then(|| {
        spawn_scoped(cron::run(
            ctx.client.clone(),
            config.namespace.clone(),
            selector.clone(),
            ctx.engine.instance_id.clone(),
            ctx.leadership.clone(),
            lenient::InvalidReporter::new(ctx.client.clone(), None, ctx.leadership.clone()),
        ))
    });
    let _sweeper = spawn_scoped(sweep::run(
        ctx.clone(),
        pod_selector.clone(),
        config.orphan_sweep,
    ));
    // Remote watches wake workflows through this channel; a pod's changes before it runs, here
    // or there, wake its workflow within `progress_delay`, its start and end at once (`pacing`).
    let remote_events = futures::stream::poll_fn(move |cx| woken.poll_recv(cx));
    let wakes = pacing::paced(
        futures::stream::select(
            futures::stream::select(pod_stream, result_stream),
            remote_events,
        )
        .boxed(),
        config.progress_delay,
    );
    info!(selector = %selector, "workflow controller starting");
    controller
        // Bounded work in flight: each reconcile may keep many creates going, and unbounded
        // reconciles (one per busy workflow) would grow the connection pool without limit.
        .with_config(kube::runtime::controller::Config::default().concurrency(WORKERS))
        .reconcile_on(wakes)
        .reconcile_all_on(acquired)
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                // A pod or task result of a workflow just deleted: nothing to do.
                Err(kube::runtime::controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(%object, "the workflow is gone");
                }
                Err(e) => warn!(error = %e, "reconcile failed"),
                Ok(_) => {}
            }
        })
        .await;
    crate::health::stopped();
    Ok(())
}

/// One event of a watch, as its reflector passes it on.
type Watched<K> = Result<watcher::Event<K>, watcher::Error>;

/// The wake-ups of one event, as `StreamExt::scan` takes them.
type Woken = futures::future::Ready<Option<Vec<pacing::Wake>>>;

/// The workflows a watch event of this cluster's pods or task results wakes, and how soon
/// (`cached`: the watch's cache). A failed watch wakes nothing: it is retried with back-off,
/// and `/readyz` reports it.
fn local_wakes<K>(cached: Store<K>) -> impl FnMut(&mut pacing::Listing, Watched<K>) -> Woken
where
    K: pacing::Paced + ResourceExt + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    move |listing, event| {
        let wakes = match event {
            Ok(event) => listing.wakes(&event, |o| workflow_of(o.labels(), o.namespace()), &cached),
            Err(e) => {
                warn!(error = %e, "watching pods or task results failed; retrying");
                Vec::new()
            }
        };
        futures::future::ready(Some(wakes))
    }
}

/// Spawns `task`, aborted when the handle is dropped.
fn spawn_scoped<F>(task: F) -> tokio_util::task::AbortOnDropHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio_util::task::AbortOnDropHandle::new(tokio::spawn(task))
}

/// A failed reconcile is retried with back-off (`requeue::after_error`), honouring the API
/// server's `Retry-After`.
fn error_policy(wf: Arc<Workflow>, error: &ControllerError, ctx: Arc<Context>) -> Requeue {
    let uid = wf.metadata.uid.as_deref().unwrap_or_default();
    let failures = ctx.failures.failed(uid, &ctx.workflows);
    let after = requeue::after_error(failures, error.retry_after());
    warn!(error = %error, failures, retry_in = ?after, "will retry");
    Requeue::requeue(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: serde_json::Value) -> ControllerError {
        ControllerError::Api {
            namespace: "argo".into(),
            name: "wf".into(),
            source: kube::Error::Api(Box::new(serde_json::from_value(status).expect("a Status"))),
        }
    }

    #[test]
    fn the_retry_after_of_a_throttled_request_is_read_from_its_status() {
        let throttled = api_error(serde_json::json!({
            "status": "Failure", "code": 429, "reason": "TooManyRequests",
            "message": "too many requests, please try again later",
            "details": {"retryAfterSeconds": 7},
        }));
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(7)));
        let conflict = api_error(serde_json::json!({
            "status": "Failure", "code": 409, "reason": "Conflict", "message": "changed",
        }));
        assert_eq!(conflict.retry_after(), None);
    }
}
