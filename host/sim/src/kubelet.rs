//! A simulated kubelet: makes pods behave on a cluster that has no real nodes.
//!
//! It is an ordinary API client, so it runs embedded in the simulator and standalone against a
//! real control plane (`flotilla sim kubelet`). Using only real API operations it
//! - registers a `Node` (and keeps its `nodes/status` and its `kube-node-lease` Lease fresh, so a
//!   real node-lifecycle controller keeps it Ready);
//! - schedules: binds unscheduled pods meant for the default scheduler through `pods/binding`;
//! - runs the pods bound to its node: `lifecycle::PodRun` decides what Kubernetes would
//!   show, emulated programs (module `argosay`) produce output into the shared [`LogStore`], and
//!   `pods/status` is updated at every step;
//! - completes graceful deletion: stops the pod, then deletes it with `gracePeriodSeconds=0`.
//!
//! Pods are watched (`kube::runtime::watcher`), never polled; each pod has one task. All waiting
//! uses `tokio::time`, so tests may pause time. After a container exits, a [`ContainerHooks`]
//! sees the pod's files (the workflow executor's way to collect outputs).

mod argosay;
mod env;
mod fs;
mod lifecycle;
mod node;
mod pod_worker;
pub(crate) mod server;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

pub use argosay::MAIN_EXITED;
pub use fs::PodFs;

use crate::logs::{LogStore, LogStream};

/// Why the kubelet stopped.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// The Node object could not be created or read back.
    #[error("registering node \"{node}\": {source}")]
    RegisterNode {
        node: String,
        #[source]
        source: kube::Error,
    },
    /// `node_ip` is not an IP address.
    #[error("the node IP {0:?} is not an IP address")]
    NodeIp(String),
    /// The kubelet API could not listen.
    #[error("the kubelet API cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The kubelet API's serving certificate could not be made, or its client CA not read.
    #[error("the kubelet API's TLS: {0}")]
    Certificate(String),
}

/// Timing of the simulation. The defaults are quick so tests finish fast; a kubelet standing in
/// for a real node may use [`RunOptions::realistic`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// How long containers show `ContainerCreating` before the sandbox is ready.
    pub container_creating: Duration,
    /// First crash-loop back-off delay (the kubelet's is 10 s); doubles per restart.
    pub restart_backoff: Duration,
    /// Cap of the crash-loop back-off (the kubelet's is 5 min).
    pub restart_backoff_max: Duration,
    /// Factor applied to sleeps inside emulated programs (`sleep 10` sleeps `10 s × scale`).
    pub sleep_scale: f64,
    /// How often the node Lease is renewed and the node status heartbeat is written.
    pub heartbeat: Duration,
    /// IP of the node (`status.hostIP`, the node's InternalIP); the kubelet API listens on it.
    pub node_ip: String,
    /// Port of the kubelet API (the kubelet's `--port`, 10250); 0 picks a free one. Either way
    /// the Node's status says which.
    pub port: u16,
    /// PEM of the CA whose client certificates the kubelet API admits (the kubelet's
    /// `--client-ca-file`); without one it admits anyone, as a kubelet with
    /// `--anonymous-auth=true --authorization-mode=AlwaysAllow` does.
    pub client_ca_pem: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            container_creating: Duration::from_millis(10),
            restart_backoff: Duration::from_millis(10),
            restart_backoff_max: Duration::from_millis(300),
            sleep_scale: 1.0,
            heartbeat: Duration::from_secs(10),
            node_ip: "127.0.0.1".to_owned(),
            port: 0,
            client_ca_pem: None,
        }
    }
}

impl RunOptions {
    /// The kubelet's own timings: 10 s doubling to 5 min back-off, a second of ContainerCreating.
    pub fn realistic() -> Self {
        Self {
            container_creating: Duration::from_secs(1),
            restart_backoff: Duration::from_secs(10),
            restart_backoff_max: Duration::from_secs(300),
            ..Self::default()
        }
    }
}

/// What a [`ContainerHooks`] is told when a container instance has exited.
#[derive(Debug)]
pub struct ContainerExit<'a> {
    pub pod: &'a Pod,
    pub container: &'a str,
    pub exit_code: i32,
    /// The pod's files as they were when the container exited.
    pub fs: &'a PodFs,
    pub logs: &'a LogStore,
    /// The termination message the container left (its `terminationMessagePath` file).
    pub termination_message: Option<&'a str>,
}

/// A container about to start, offered to [`ContainerHooks::run_native`].
#[derive(Debug)]
pub struct NativeStart<'a> {
    pub pod: &'a Pod,
    pub container: &'a str,
    /// Command and arguments, with `$(VAR)` references expanded.
    pub argv: &'a [String],
    /// The container's resolved environment.
    pub env: &'a BTreeMap<String, String>,
    /// Where the program's output goes (the container's log).
    pub output: ContainerOutput,
}

/// The log of one running container.
#[derive(Debug, Clone)]
pub struct ContainerOutput {
    logs: LogStore,
    namespace: String,
    pod: String,
    container: String,
}

impl ContainerOutput {
    pub fn line(&self, stream: LogStream, text: &str) {
        let text = format!("{text}\n");
        self.logs.append(
            &self.namespace,
            &self.pod,
            &self.container,
            stream,
            jiff::Timestamp::now(),
            &text,
        );
    }
}

/// How a natively run program ended.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeExit {
    pub code: i32,
    /// The termination message (what a real program writes to `/dev/termination-log`).
    pub message: Option<String>,
}

/// What the embedder adds to the kubelet's emulation.
pub trait ContainerHooks: Send + Sync + std::fmt::Debug {
    /// Called after a container exits and before the pod status reporting it is written, so
    /// whatever it records (say, a WorkflowTaskResult) exists before anyone sees the container end.
    /// It plays the last moments of the container's own process (a wrapper that reports after
    /// the command it ran): `Some(text)` is what that process left in its termination log, which
    /// the kubelet then reports in place of what was there.
    fn on_container_exit<'a>(&'a self, exit: ContainerExit<'a>) -> BoxFuture<'a, Option<String>>;

    /// Runs a program the kubelet does not emulate as native code (Flotilla's resource
    /// executor); `None` leaves the container to the emulation. The future is dropped if the
    /// pod is deleted first, as a real container is killed.
    fn run_native(&self, _start: NativeStart<'_>) -> Option<BoxFuture<'static, NativeExit>> {
        None
    }
}

/// The default hooks: do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl ContainerHooks for NoHooks {
    fn on_container_exit<'a>(&'a self, _exit: ContainerExit<'a>) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { None })
    }
}

/// The simulated kubelet of one node. Configure with the builder methods, then [`Kubelet::run`].
pub struct Kubelet {
    client: Client,
    node_name: String,
    logs: LogStore,
    options: RunOptions,
    hook: Arc<dyn ContainerHooks>,
    shutdown: Option<watch::Receiver<bool>>,
}

impl std::fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubelet")
            .field("node_name", &self.node_name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What every task of a running kubelet shares.
pub(crate) struct Shared {
    client: Client,
    node_name: String,
    logs: LogStore,
    options: RunOptions,
    hook: Arc<dyn ContainerHooks>,
    next_ip: AtomicU32,
    /// The port the kubelet API listens on.
    api_port: u16,
}

impl Shared {
    /// A fresh pod IP in 10.244.0.0/16 (skipping .0 and .1 of each /24).
    fn allocate_pod_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        format!("10.244.{}.{}", (n / 254) % 256, n % 254 + 2)
    }
}

impl Kubelet {
    /// A kubelet for node `node_name` talking to the API server through `client`.
    pub fn new(client: Client, node_name: impl Into<String>) -> Self {
        Self {
            client,
            node_name: node_name.into(),
            logs: LogStore::new(),
            options: RunOptions::default(),
            hook: Arc::new(NoHooks),
            shutdown: None,
        }
    }

    /// Writes container output into `logs` (share it with the API server's `pods/log` handler).
    pub fn with_logs(mut self, logs: LogStore) -> Self {
        self.logs = logs;
        self
    }

    pub fn with_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    pub fn with_hooks(mut self, hook: Arc<dyn ContainerHooks>) -> Self {
        self.hook = hook;
        self
    }

    /// Stops [`Kubelet::run`] when the value becomes `true` (or the sender is dropped).
    pub fn with_shutdown(mut self, shutdown: watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// The log store the kubelet writes to.
    pub fn logs(&self) -> LogStore {
        self.logs.clone()
    }

    /// Registers the node and runs until shut down (or until the future is dropped, which stops
    /// every pod task too).
    pub async fn run(self) -> Result<(), KubeletError> {
        let api = server::Listener::bind(&self.node_name, &self.options).await?;
        let shared = Arc::new(Shared {
            client: self.client,
            node_name: self.node_name,
            logs: self.logs,
            options: self.options,
            hook: self.hook,
            next_ip: AtomicU32::new(0),
            api_port: api.port(),
        });
        node::register(&shared).await?;
        let shutdown = async move {
            match self.shutdown {
                Some(mut rx) => {
                    let _ = rx.wait_for(|stop| *stop).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = node::heartbeat(&shared) => Ok(()),
            () = api.serve(shared.logs.clone()) => Ok(()),
            result = schedule(&shared) => result,
            result = run_pods(&shared) => result,
            () = shutdown => Ok(()),
        }
    }
}

/// Binds every unscheduled pod meant for the default scheduler to this node, as the scheduler
/// would (`POST pods/{name}/binding`).
async fn schedule(shared: &Shared) -> Result<(), KubeletError> {
    let pods: Api<Pod> = Api::all(shared.client.clone());
    let config = watcher::Config::default().fields("spec.nodeName=");
    let mut events = watcher(pods, config).default_backoff().boxed();
    loop {
        let event = match events.try_next().await {
            Ok(Some(event)) => event,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(node = %shared.node_name, error = %e, "watching unscheduled pods");
                continue;
            }
        };
        if let watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) = event {
            node::bind_if_schedulable(shared, &pod).await;
        }
    }
}

/// One running pod task: its uid and the channel through which it sees the pod change.
struct Worker {
    uid: String,
    updates: watch::Sender<Pod>,
    task: AbortHandle,
}

/// Follows the pods bound to this node and keeps one task per pod.
async fn run_pods(shared: &Arc<Shared>) -> Result<(), KubeletError> {
    let pods: Api<Pod> = Api::all(shared.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", shared.node_name));
    let mut events = watcher(pods, config).default_backoff().boxed();
    // The JoinSet owns every pod task: dropping it (when `run` is dropped) aborts them all.
    let mut tasks = JoinSet::new();
    let mut workers: HashMap<(String, String), Worker> = HashMap::new();
    let mut seen_in_relist: Option<Vec<(String, String)>> = None;
    loop {
        while tasks.try_join_next().is_some() {}
        let event = match events.try_next().await {
            Ok(Some(event)) => event,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(node = %shared.node_name, error = %e, "watching the node's pods");
                continue;
            }
        };
        match event {
            watcher::Event::Init => seen_in_relist = Some(Vec::new()),
            watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) => {
                let key = pod_key(&pod);
                if let Some(seen) = seen_in_relist.as_mut() {
                    seen.push(key.clone());
                }
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                match workers.get(&key) {
                    Some(worker) if worker.uid == uid => {
                        worker.updates.send_replace(pod);
                    }
                    _ => {
                        if let Some(old) = workers.remove(&key) {
                            old.task.abort();
                            shared.logs.remove_pod(&key.0, &key.1);
                        }
                        let (tx, rx) = watch::channel(pod);
                        let task = tasks.spawn(pod_worker::run(Arc::clone(shared), rx));
                        workers.insert(
                            key,
                            Worker {
                                uid,
                                updates: tx,
                                task,
                            },
                        );
                    }
                }
            }
            watcher::Event::InitDone => {
                if let Some(seen) = seen_in_relist.take() {
                    let gone: Vec<_> = workers
                        .keys()
                        .filter(|k| !seen.contains(k))
                        .cloned()
                        .collect();
                    for key in gone {
                        forget(shared, &mut workers, &key);
                    }
                }
            }
            watcher::Event::Delete(pod) => forget(shared, &mut workers, &pod_key(&pod)),
        }
    }
}

/// The pod is gone from the API: stop its task and drop its logs.
fn forget(
    shared: &Shared,
    workers: &mut HashMap<(String, String), Worker>,
    key: &(String, String),
) {
    if let Some(worker) = workers.remove(key) {
        worker.task.abort();
    }
    shared.logs.remove_pod(&key.0, &key.1);
}

fn pod_key(pod: &Pod) -> (String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}
