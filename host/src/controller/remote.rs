//! Connections to other clusters. Each `rest-config` key in use gets one client and one pair of
//! label-filtered watches (pods, task results) over the namespace it covers — all namespaces
//! for a cluster-wide key — opened when a workflow first needs it, shared by every workflow,
//! and closed when its key disappears or changes. A change seen by a remote watch wakes the
//! workflow it belongs to.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{self, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::credentials;
use super::lenient;
use super::pacing::{Listing, Paced, Urgency, Wake};
use super::pod_view::WorkflowPod;
use super::workflow_of;
use crate::clusters::Registry;
use flotilla_engine::workflow::{Lenient, WorkflowTaskResult};

/// The least time between two reconnects of one key for refused credentials.
const RECONNECT_EVERY: Duration = Duration::from_secs(10);

/// How long a reconcile waits for a new connection's first list before reporting the cluster
/// as not answering (and carrying on with the rest).
const READY_WAIT: Duration = Duration::from_secs(3);

/// One `rest-config` key's connection.
pub(crate) struct Remote {
    pub(crate) cluster: String,
    pub(crate) client: Client,
    pub(crate) pods: Store<WorkflowPod>,
    pub(crate) results: Store<WorkflowTaskResult>,
    /// Whether both have listed, for every reconcile that waits on it.
    ready: super::readiness::CachesReady,
    /// The entry's value, to notice a changed key.
    fingerprint: u64,
    /// The last watch failure, cleared by the next event: the cluster's reachability.
    problem: Arc<Mutex<Option<(String, std::time::Instant)>>>,
    watches: tokio::task::AbortHandle,
    /// Refreshes provided credentials before they expire.
    refresher: Option<tokio::task::AbortHandle>,
    /// Set when refreshed credentials need a new client: the next `get` reconnects.
    stale: Arc<AtomicBool>,
    /// When the connection was opened: a 401 to a request sent before a newer connection was
    /// opened does not close that one.
    opened: std::time::Instant,
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.watches.abort();
        if let Some(refresher) = &self.refresher {
            refresher.abort();
        }
    }
}

impl Remote {
    /// Why the cluster cannot be seen now, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        self.problem.lock().as_ref().map(|(p, _)| p.clone())
    }

    /// How long the cluster has been failing, if it is.
    pub(crate) fn failing_for(&self) -> Option<Duration> {
        self.problem
            .lock()
            .as_ref()
            .map(|(_, since)| since.elapsed())
    }

    /// Waits until both watches have listed once (their caches are complete).
    pub(crate) async fn ready(&self) -> bool {
        self.ready.within(READY_WAIT).await
    }
}

/// How often a cluster marked failing is asked whether it answers again (and how long it has
/// to answer).
const PROBE_EVERY: Duration = Duration::from_secs(5);

/// A watch failure as a node message: the API server's own words where there are some.
fn brief(e: &watcher::Error) -> String {
    let api = |k: &kube::Error| match k {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    };
    match e {
        watcher::Error::InitialListFailed(k) => format!("listing failed: {}", api(k)),
        watcher::Error::WatchStartFailed(k) | watcher::Error::WatchFailed(k) => {
            format!("watching failed: {}", api(k))
        }
        watcher::Error::WatchError(s) => format!("watching failed: {} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

/// The registry in force and the connections opened from it.
pub(crate) struct Remotes {
    registry: RwLock<Arc<Registry>>,
    /// When the registry last changed which places it names.
    changed: Mutex<std::time::Instant>,
    /// By `rest-config` key.
    open: Mutex<HashMap<String, Arc<Remote>>>,
    /// Serialises opening, so two reconciles never open the same key twice.
    opening: tokio::sync::Mutex<()>,
    wake: mpsc::UnboundedSender<Wake>,
    /// Label selector of this controller's pods.
    pod_selector: String,
    /// Credential providers, by entry kind.
    plugins: Arc<crate::plugins::Active>,
    /// Whether this replica may record events about what it reads there.
    leadership: crate::leader::Leadership,
}

impl Remotes {
    pub(crate) fn new(
        pod_selector: String,
        wake: mpsc::UnboundedSender<Wake>,
        plugins: Arc<crate::plugins::Active>,
        leadership: crate::leader::Leadership,
    ) -> Remotes {
        Remotes {
            leadership,
            plugins,
            registry: RwLock::new(Arc::new(Registry::default())),
            changed: Mutex::new(std::time::Instant::now()),
            open: Mutex::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
            wake,
            pod_selector,
        }
    }

    pub(crate) fn registry(&self) -> Arc<Registry> {
        self.registry.read().clone()
    }

    /// How long the registry has named the places it names now.
    pub(crate) fn settled_for(&self) -> Duration {
        self.changed.lock().elapsed()
    }

    /// Puts a new registry in force; connections whose key is gone or changed are closed
    /// (the next reconcile that needs them reopens them with the new credentials).
    pub(crate) fn set_registry(&self, registry: Registry) {
        let registry = Arc::new(registry);
        let before = std::mem::replace(&mut *self.registry.write(), registry.clone());
        if !before.names_the_same_places_as(&registry) {
            *self.changed.lock() = std::time::Instant::now();
        }
        self.open.lock().retain(|key, remote| {
            let keep = registry
                .entry(key)
                .is_some_and(|e| e.fingerprint == remote.fingerprint);
            if !keep {
                info!(key = %key, "closing the connection of a changed or removed rest-config key");
            }
            keep
        });
    }

    /// The connection for `namespace` in `cluster`, opened if need be; the error says why
    /// there is none (naming the Secret key at fault).
    pub(crate) async fn get(&self, cluster: &str, namespace: &str) -> Result<Arc<Remote>, String> {
        let registry = self.registry();
        let entry = registry
            .lookup(cluster, namespace)
            .map_err(|e| e.to_string())?;
        if let Some(remote) = self.usable(&entry.key) {
            return Ok(remote);
        }
        let _one_at_a_time = self.opening.lock().await;
        if let Some(remote) = self.usable(&entry.key) {
            return Ok(remote);
        }
        let connection = self
            .connect(entry)
            .await
            .map_err(|e| format!("cluster {cluster:?}: {e}"))?;
        let mut remote = self.watch(
            connection.client,
            entry.namespace.as_deref(),
            entry.fingerprint,
            cluster,
        );
        if let Some(provided) = connection.provided {
            let task = tokio::spawn(credentials::refresh(
                self.plugins.clone(),
                entry.clone(),
                provided,
                remote.stale.clone(),
            ));
            remote.refresher = Some(task.abort_handle());
        }
        let remote = Arc::new(remote);
        info!(cluster = %cluster, key = %entry.key, "connected to a remote cluster");
        self.open.lock().insert(entry.key.clone(), remote.clone());
        Ok(remote)
    }

    /// Drops the connection for `namespace` in `cluster` — its credentials were refused to a
    /// request sent at `refused_since` — and opens it again, credentials asked for anew. A
    /// connection opened since is kept: many creates refused at once reconnect once.
    pub(crate) async fn reconnect(
        &self,
        cluster: &str,
        namespace: &str,
        refused_since: std::time::Instant,
    ) -> Result<Arc<Remote>, String> {
        let registry = self.registry();
        let entry = registry
            .lookup(cluster, namespace)
            .map_err(|e| e.to_string())?;
        {
            let _one_at_a_time = self.opening.lock().await;
            let mut open = self.open.lock();
            // At most one reconnect per key every RECONNECT_EVERY, however many creates a
            // cluster answering 401 to everything refuses.
            if open.get(&entry.key).is_some_and(|old| {
                old.opened <= refused_since && old.opened.elapsed() >= RECONNECT_EVERY
            }) && let Some(old) = open.remove(&entry.key)
            {
                old.stale.store(true, Ordering::Relaxed);
                info!(cluster = %cluster, key = %entry.key, "credentials refused; reconnecting");
            }
        }
        self.get(cluster, namespace).await
    }

    /// The open connections to `cluster`.
    pub(crate) fn open_in(&self, cluster: &str) -> Vec<Arc<Remote>> {
        self.open
            .lock()
            .values()
            .filter(|r| r.cluster == cluster)
            .cloned()
            .collect()
    }

    /// The open connection of `key`, unless its credentials changed beyond a token (then it
    /// is closed, to be reopened).
    fn usable(&self, key: &str) -> Option<Arc<Remote>> {
        let mut open = self.open.lock();
        let remote = open.get(key)?.clone();
        if remote.stale.load(Ordering::Relaxed) {
            info!(key = %key, "reconnecting with refreshed credentials");
            open.remove(key);
            return None;
        }
        Some(remote)
    }

    /// A client for one entry without opening watches: the open connection's if there is one.
    pub(crate) async fn client(&self, entry: &crate::clusters::Entry) -> Result<Client, String> {
        if let Some(remote) = self.usable(&entry.key) {
            return Ok(remote.client.clone());
        }
        Ok(self.connect(entry).await?.client)
    }

    /// A client for an entry: from the credential provider for its kind when
    /// `flotilla-plugins` configures one, else read natively (rest config, kubeconfig).
    async fn connect(
        &self,
        entry: &crate::clusters::Entry,
    ) -> Result<credentials::Connection, String> {
        credentials::connect(&self.plugins, entry).await
    }

    /// Starts the pod and task-result watches of one connection.
    fn watch(
        &self,
        client: Client,
        namespace: Option<&str>,
        fingerprint: u64,
        cluster: &str,
    ) -> Remote {
        // Task results are decoded one by one: a malformed one is reported (in its own cluster)
        // and skipped, never failing the watch.
        let (pods_api, results_api): (Api<WorkflowPod>, Api<Lenient<WorkflowTaskResult>>) =
            match namespace {
                Some(ns) => (
                    Api::namespaced(client.clone(), ns),
                    Api::namespaced(client.clone(), ns),
                ),
                None => (Api::all(client.clone()), Api::all(client.clone())),
            };
        let probe_api = pods_api.clone();
        let probe_selector = self.pod_selector.clone();
        let (pods, pod_writer) = reflector::store();
        let (results, result_writer) = reflector::store();
        let pod_events = reflector(
            pod_writer,
            watcher(
                pods_api,
                watcher::Config::default().labels(&self.pod_selector),
            )
            .modify(super::without_managed_fields),
        )
        .default_backoff()
        .map({
            let (mut listing, cached) = (Listing::default(), pods.clone());
            move |r| r.map(|e| concerned(&mut listing, e, &cached))
        });
        let invalid = lenient::InvalidReporter::new(
            client.clone(),
            Some(cluster.to_string()),
            self.leadership.clone(),
        );
        let result_events = lenient::task_results(results_api, result_writer, invalid).map({
            let (mut listing, cached) = (Listing::default(), results.clone());
            move |r| r.map(|e| concerned(&mut listing, e, &cached))
        });
        let wake = self.wake.clone();
        let cluster = cluster.to_string();
        let watching = cluster.clone();
        let problem = Arc::new(Mutex::new(None));
        let health = problem.clone();
        let seen_pods = pods.clone();
        // The workflows with pods here learn of a change of the cluster's health at once: their
        // nodes say it is unreachable, or stop saying so, though no pod changed.
        let wake_all = {
            let wake = self.wake.clone();
            move || {
                let workflows: std::collections::HashSet<_> = seen_pods
                    .state()
                    .iter()
                    .filter_map(|p| workflow_of(p.labels(), None))
                    .collect();
                for workflow in workflows {
                    let _ = wake.send((workflow, Urgency::Now));
                }
            }
        };
        let task = tokio::spawn(async move {
            let mut events = std::pin::pin!(futures::stream::select(pod_events, result_events));
            let mut probes = tokio::time::interval(PROBE_EVERY);
            probes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let event = tokio::select! {
                    event = events.next() => match event {
                        Some(event) => event,
                        None => return,
                    },
                    _ = probes.tick() => {
                        // A watch resumed after a blip says nothing until something changes:
                        // while the cluster is marked failing, a one-item list asks it.
                        if health.lock().is_some() {
                            let list = ListParams::default().labels(&probe_selector).limit(1);
                            let answer =
                                tokio::time::timeout(PROBE_EVERY, probe_api.list_metadata(&list));
                            if matches!(answer.await, Ok(Ok(_)))
                                && health.lock().take().is_some()
                            {
                                info!(cluster = %watching, "remote cluster reachable again (it answered a list)");
                                wake_all();
                            }
                        }
                        continue;
                    }
                };
                match event {
                    Ok(Seen { answered, wakes }) => {
                        if answered && health.lock().take().is_some() {
                            info!(cluster = %watching, "remote cluster reachable again");
                            wake_all();
                        }
                        for woken in wakes {
                            if wake.send(woken).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        warn!(cluster = %watching, error = %e, "remote watch failed; retrying");
                        let first = {
                            let mut health = health.lock();
                            let first = health.is_none();
                            let since = health
                                .as_ref()
                                .map_or_else(std::time::Instant::now, |(_, s)| *s);
                            *health = Some((brief(&e), since));
                            first
                        };
                        if first {
                            wake_all();
                        }
                    }
                }
            }
        });
        Remote {
            cluster: cluster.clone(),
            client,
            ready: super::readiness::CachesReady::of(&pods, &results),
            pods,
            results,
            fingerprint,
            problem,
            watches: task.abort_handle(),
            refresher: None,
            stale: Arc::default(),
            opened: std::time::Instant::now(),
        }
    }
}

/// What one remote watch event tells.
struct Seen {
    /// The API server answered: a list or a watch event came back. A re-list that finds
    /// nothing (a quiet namespace) still clears a failure, with its end (`InitDone`); its start
    /// (`Init`) is announced before the list is even asked for, so it proves nothing.
    answered: bool,
    /// The workflows the event wakes, and how soon.
    wakes: Vec<Wake>,
}

fn concerned<K>(listing: &mut Listing, event: watcher::Event<K>, cached: &Store<K>) -> Seen
where
    K: Paced + ResourceExt + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let answered = !matches!(event, watcher::Event::Init);
    let wakes = listing.wakes(&event, |o| workflow_of(o.labels(), None), cached);
    Seen { answered, wakes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_engine::workflow::labels;
    use kube::api::ObjectMeta;

    fn pod_of(workflow: &str) -> WorkflowPod {
        WorkflowPod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                labels: Some(
                    [
                        (labels::WORKFLOW, workflow),
                        (labels::WORKFLOW_NAMESPACE, "argo"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A watch that recovers in a quiet namespace sees `Init` then `InitDone` and no object:
    /// the end of that list clears the cluster's failure. `Init` alone does not — the watcher
    /// announces it before asking for the list, which may fail again.
    #[test]
    fn a_relist_clears_a_failure_at_its_end_not_its_start() {
        let wf = kube::runtime::reflector::ObjectRef::new("wf").within("argo");
        let (mut listing, cached) = (Listing::default(), reflector::store().0);
        let init = concerned::<WorkflowPod>(&mut listing, watcher::Event::Init, &cached);
        assert!(!init.answered && init.wakes.is_empty());
        // What the list finds wakes its workflows at its end, once the cache holds it.
        let listed = concerned(
            &mut listing,
            watcher::Event::InitApply(pod_of("wf")),
            &cached,
        );
        assert!(listed.answered && listed.wakes.is_empty());
        let done = concerned(&mut listing, watcher::Event::InitDone, &cached);
        assert!(done.answered);
        let woken = |wakes: Vec<Wake>| wakes.into_iter().map(|(w, _)| w).collect::<Vec<_>>();
        assert_eq!(woken(done.wakes), std::slice::from_ref(&wf));
        for event in [
            watcher::Event::Apply(pod_of("wf")),
            watcher::Event::Delete(pod_of("wf")),
        ] {
            let seen = concerned(&mut listing, event, &cached);
            assert!(seen.answered);
            assert_eq!(woken(seen.wakes), std::slice::from_ref(&wf));
        }
    }
}
