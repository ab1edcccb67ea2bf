//! In-memory object storage with etcd-like revisions and a per-resource watch window.
//!
//! One [`Store`] per simulated cluster. Every write takes the single lock, bumps the cluster-wide
//! revision (the objects' `metadata.resourceVersion`), appends a [`WatchEvent`] to the written
//! resource's bounded window and broadcasts it. A watch can therefore start from any revision still
//! inside the window; older ones get `410 Gone`, exactly like the API server's watch cache.
//!
//! The store knows nothing of HTTP, validation or authorization: handlers decide what the new
//! object is (inside the closures passed to [`Store::update`] and [`Store::delete`], which run under
//! the lock so read-modify-write is atomic) and the store records it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::status::{ApiError, Result};

/// A stored object at one revision. Shared (never mutated) between readers, the watch window and
/// every watcher; its JSON encoding is computed once, on first use.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) value: Value,
    pub(crate) rv: u64,
    json: OnceLock<Bytes>,
}

impl Stored {
    fn new(mut value: Value, rv: u64) -> Self {
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        Self {
            value,
            rv,
            json: OnceLock::new(),
        }
    }

    /// The object's JSON encoding, computed once.
    pub(crate) fn json(&self) -> &Bytes {
        self.json
            .get_or_init(|| Bytes::from(serde_json::to_vec(&self.value).unwrap_or_default()))
    }

    pub(crate) fn labels(&self) -> Option<&serde_json::Map<String, Value>> {
        self.value.get("metadata")?.get("labels")?.as_object()
    }

    pub(crate) fn meta_str(&self, field: &str) -> Option<&str> {
        self.value.get("metadata")?.get(field)?.as_str()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The watch event `type` Kubernetes sends for this change.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to one object. `prev` is the object before a modification, so a watcher with a
/// selector can turn "no longer matches" into DELETED and "now matches" into ADDED, as the API
/// server's watch cache does.
#[derive(Debug)]
pub(crate) struct WatchEvent {
    pub(crate) rv: u64,
    pub(crate) storage: Arc<str>,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) kind: EventType,
    pub(crate) object: Arc<Stored>,
    pub(crate) prev: Option<Arc<Stored>>,
}

type ObjectKey = (String, String);

#[derive(Debug, Default)]
struct Collection {
    objects: BTreeMap<ObjectKey, Arc<Stored>>,
    window: VecDeque<Arc<WatchEvent>>,
    /// Highest revision dropped from `window`: a watch must start at or after it.
    evicted_rv: u64,
}

#[derive(Debug)]
struct State {
    rv: u64,
    collections: HashMap<Arc<str>, Collection>,
    /// Events that left a window during this write: dropped once the lock is released, so that
    /// freeing the objects they may be the last to hold does not hold up every other request.
    evicted: Vec<Arc<WatchEvent>>,
}

/// The store's lock, held for one write; what the write evicted is dropped after it is released.
struct Locked<'a>(Option<parking_lot::MutexGuard<'a, State>>);

impl std::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.0.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.0.as_mut().expect("held until dropped")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let evicted = self.0.as_mut().map(|s| std::mem::take(&mut s.evicted));
        self.0 = None;
        drop(evicted);
    }
}

impl State {
    fn object(&self, storage: &str, key: &ObjectKey) -> Option<Arc<Stored>> {
        self.collections.get(storage)?.objects.get(key).cloned()
    }
}

/// What a delete decides once it sees the current object.
#[derive(Debug)]
pub(crate) enum DeleteAction {
    /// Remove the object now.
    Remove,
    /// Keep it, written as this value (deletionTimestamp set, waiting for finalizers or a kubelet).
    Update(Value),
}

/// How many times [`Store::update`] proposes a write outside the lock before it proposes one
/// under it.
const OPTIMISTIC_ATTEMPTS: usize = 16;

/// Tuning for one cluster's store.
#[derive(Debug, Clone)]
pub(crate) struct StoreConfig {
    /// Events kept per resource for watches that resume from a revision.
    pub(crate) watch_window: usize,
    /// Events buffered per watcher before a slow watcher is cut off (it resumes with a new watch).
    pub(crate) broadcast_capacity: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            watch_window: 10_000,
            broadcast_capacity: 65_536,
        }
    }
}

/// Where a new watch starts.
#[derive(Debug)]
pub(crate) struct WatchStart {
    /// Events to send first: synthetic ADDED for every object (no resourceVersion given) or the
    /// window's events after the requested revision.
    pub(crate) backlog: Vec<Arc<WatchEvent>>,
    /// Live events; only those with `rv > live_after` are new to this watcher.
    pub(crate) live: broadcast::Receiver<Arc<WatchEvent>>,
    pub(crate) live_after: u64,
}

#[derive(Debug)]
pub(crate) struct Store {
    state: Mutex<State>,
    events: broadcast::Sender<Arc<WatchEvent>>,
    config: StoreConfig,
}

impl Store {
    pub(crate) fn new(config: StoreConfig) -> Self {
        let (events, _) = broadcast::channel(config.broadcast_capacity.max(16));
        Self {
            state: Mutex::new(State {
                rv: 1,
                collections: HashMap::new(),
                evicted: Vec::new(),
            }),
            events,
            config,
        }
    }

    fn lock_for_write(&self) -> Locked<'_> {
        Locked(Some(self.state.lock()))
    }

    /// The cluster's current revision (what a list reports as its resourceVersion).
    pub(crate) fn revision(&self) -> u64 {
        self.state.lock().rv
    }

    /// Every event, for the simulator's own controllers (namespace lifecycle, garbage collection).
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.events.subscribe()
    }

    pub(crate) fn get(&self, storage: &str, namespace: &str, name: &str) -> Option<Arc<Stored>> {
        self.state
            .lock()
            .object(storage, &(namespace.to_string(), name.to_string()))
    }

    /// Objects of a resource, optionally in one namespace, in key order; with the revision the
    /// list is consistent with.
    pub(crate) fn list(
        &self,
        storage: &str,
        namespace: Option<&str>,
        mut keep: impl FnMut(&Stored) -> bool,
    ) -> (Vec<Arc<Stored>>, u64) {
        let state = self.state.lock();
        let items = match state.collections.get(storage) {
            None => Vec::new(),
            Some(c) => match namespace {
                Some(ns) => c
                    .objects
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, o)| o)
                    .filter(|o| keep(o))
                    .cloned()
                    .collect(),
                None => c.objects.values().filter(|o| keep(o)).cloned().collect(),
            },
        };
        (items, state.rv)
    }

    /// Whether a namespace holds any object of any resource (namespace finalization waits for this).
    pub(crate) fn namespace_is_empty(&self, namespace: &str) -> bool {
        let state = self.state.lock();
        state.collections.values().all(|c| {
            c.objects
                .range((namespace.to_string(), String::new())..)
                .next()
                .is_none_or(|((n, _), _)| n != namespace)
        })
    }

    pub(crate) fn create(
        &self,
        storage: &Arc<str>,
        namespace: &str,
        name: &str,
        value: Value,
    ) -> Result<Arc<Stored>, Exists> {
        let mut state = self.lock_for_write();
        let key = (namespace.to_string(), name.to_string());
        let collection = state.collections.entry(storage.clone()).or_default();
        if collection.objects.contains_key(&key) {
            return Err(Exists);
        }
        let rv = {
            state.rv += 1;
            state.rv
        };
        let stored = Arc::new(Stored::new(value, rv));
        self.record(
            &mut state,
            storage,
            key,
            EventType::Added,
            stored.clone(),
            None,
        );
        Ok(stored)
    }

    /// Read-modify-write of one object. `change` sees the current object and returns the new value,
    /// or an error that aborts the write. A value equal to the current one (ignoring
    /// resourceVersion) is a no-op: no new revision, no event — as in Kubernetes.
    ///
    /// `change` runs outside the lock, as the API server's `GuaranteedUpdate` runs its update
    /// function outside etcd's transaction: if the object changed meanwhile, `change` runs again
    /// on the new one. After [`OPTIMISTIC_ATTEMPTS`] such races it runs under the lock, so a
    /// write always ends — `change` must therefore never call the store itself, and may run
    /// more than once.
    pub(crate) fn update(
        &self,
        storage: &Arc<str>,
        namespace: &str,
        name: &str,
        mut change: impl FnMut(&Arc<Stored>) -> Result<Value>,
    ) -> Result<Option<Arc<Stored>>> {
        let key = (namespace.to_string(), name.to_string());
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(current) = self.state.lock().object(storage, &key) else {
                return Ok(None);
            };
            let new = change(&current)?;
            let mut state = self.lock_for_write();
            match state.object(storage, &key) {
                None => return Ok(None),
                Some(now) if Arc::ptr_eq(&now, &current) => {
                    return Ok(Some(self.write(&mut state, storage, key, current, new)));
                }
                Some(_) => {}
            }
        }
        let mut state = self.lock_for_write();
        let Some(current) = state.object(storage, &key) else {
            return Ok(None);
        };
        let new = change(&current)?;
        Ok(Some(self.write(&mut state, storage, key, current, new)))
    }

    /// Delete one object: `decide` sees the current object and chooses between removing it now and
    /// writing it back marked for deletion.
    pub(crate) fn delete(
        &self,
        storage: &Arc<str>,
        namespace: &str,
        name: &str,
        decide: impl FnOnce(&Arc<Stored>) -> Result<DeleteAction>,
    ) -> Result<Option<(Arc<Stored>, bool)>> {
        let mut state = self.lock_for_write();
        let key = (namespace.to_string(), name.to_string());
        let Some(current) = state.object(storage, &key) else {
            return Ok(None);
        };
        match decide(&current)? {
            DeleteAction::Remove => {
                let rv = {
                    state.rv += 1;
                    state.rv
                };
                let gone = Arc::new(Stored::new(current.value.clone(), rv));
                self.record(
                    &mut state,
                    storage,
                    key,
                    EventType::Deleted,
                    gone.clone(),
                    Some(current),
                );
                Ok(Some((gone, true)))
            }
            DeleteAction::Update(value) => {
                let written = self.write(&mut state, storage, key, current, value);
                let removed = !Self::exists(&state, storage, namespace, name);
                Ok(Some((written, removed)))
            }
        }
    }

    fn exists(state: &State, storage: &str, namespace: &str, name: &str) -> bool {
        state.collections.get(storage).is_some_and(|c| {
            c.objects
                .contains_key(&(namespace.to_string(), name.to_string()))
        })
    }

    /// Records a new value for an existing object. An object being deleted whose last finalizer is
    /// gone is removed instead (the API server's "finalize on update").
    fn write(
        &self,
        state: &mut State,
        storage: &Arc<str>,
        key: ObjectKey,
        current: Arc<Stored>,
        mut new: Value,
    ) -> Arc<Stored> {
        if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert(
                "resourceVersion".into(),
                current.value["metadata"]["resourceVersion"].clone(),
            );
        }
        if new == current.value {
            return current;
        }
        state.rv += 1;
        let stored = Arc::new(Stored::new(new, state.rv));
        let finalized = stored.value["metadata"]
            .get("deletionTimestamp")
            .is_some_and(|t| !t.is_null())
            && stored.value["metadata"]["finalizers"]
                .as_array()
                .is_none_or(|f| f.is_empty())
            && deletion_completes_on_finalize(&stored.value);
        let kind = if finalized {
            EventType::Deleted
        } else {
            EventType::Modified
        };
        self.record(state, storage, key, kind, stored.clone(), Some(current));
        stored
    }

    fn record(
        &self,
        state: &mut State,
        storage: &Arc<str>,
        key: ObjectKey,
        kind: EventType,
        object: Arc<Stored>,
        prev: Option<Arc<Stored>>,
    ) {
        let window = self.config.watch_window.max(1);
        let State {
            collections,
            evicted,
            ..
        } = state;
        let collection = collections.entry(storage.clone()).or_default();
        let event = Arc::new(WatchEvent {
            rv: object.rv,
            storage: storage.clone(),
            namespace: key.0.clone(),
            name: key.1.clone(),
            kind,
            object: object.clone(),
            prev,
        });
        match kind {
            EventType::Deleted => {
                collection.objects.remove(&key);
            }
            _ => {
                collection.objects.insert(key, object);
            }
        }
        collection.window.push_back(event.clone());
        while collection.window.len() > window {
            if let Some(old) = collection.window.pop_front() {
                collection.evicted_rv = old.rv;
                evicted.push(old);
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    /// Starts a watch on a resource. `from` is the client's resourceVersion: `None` (or 0) means
    /// "current state, then changes"; a revision older than the watch window is `410 Gone`.
    pub(crate) fn watch(
        &self,
        storage: &str,
        namespace: Option<&str>,
        from: Option<u64>,
    ) -> Result<WatchStart> {
        let state = self.state.lock();
        let live = self.events.subscribe();
        let live_after = state.rv;
        let collection = state.collections.get(storage);
        let in_ns = |ns: &str| namespace.is_none_or(|want| want == ns);
        let backlog = match from {
            None | Some(0) => collection
                .map(|c| {
                    c.objects
                        .iter()
                        .filter(|((ns, _), _)| in_ns(ns))
                        .map(|((ns, name), o)| {
                            Arc::new(WatchEvent {
                                rv: o.rv,
                                storage: Arc::from(storage),
                                namespace: ns.clone(),
                                name: name.clone(),
                                kind: EventType::Added,
                                object: o.clone(),
                                prev: None,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
            Some(rv) => {
                let evicted = collection.map_or(0, |c| c.evicted_rv);
                if rv < evicted {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {rv} ({evicted})"
                    )));
                }
                collection
                    .map(|c| {
                        c.window
                            .iter()
                            .filter(|e| e.rv > rv && in_ns(&e.namespace))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            }
        };
        Ok(WatchStart {
            backlog,
            live,
            live_after,
        })
    }

    /// Drops every object of a resource (its CRD was deleted), with DELETED events.
    pub(crate) fn drop_collection(&self, storage: &Arc<str>) {
        let mut state = self.lock_for_write();
        let keys: Vec<ObjectKey> = state
            .collections
            .get(storage.as_ref())
            .map(|c| c.objects.keys().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            let Some(current) = state
                .collections
                .get(storage.as_ref())
                .and_then(|c| c.objects.get(&key))
                .cloned()
            else {
                continue;
            };
            state.rv += 1;
            let gone = Arc::new(Stored::new(current.value.clone(), state.rv));
            self.record(
                &mut state,
                storage,
                key,
                EventType::Deleted,
                gone,
                Some(current),
            );
        }
    }
}

/// Objects whose deletion must be completed by someone other than finalizer removal are not
/// removed by an update: a pod bound to a node stays until its kubelet deletes it with grace 0.
fn deletion_completes_on_finalize(value: &Value) -> bool {
    let grace = value["metadata"]["deletionGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(0);
    // A namespace also waits for its `spec.finalizers` (the namespace controller empties it).
    let spec_finalizers = value["spec"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    grace == 0 && !spec_finalizers
}

/// The object already exists (create).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exists;

#[cfg(test)]
mod tests {
    use super::*;

    /// Read-modify-writes racing on one object each land once: a write proposed against an object
    /// that changed meanwhile is proposed again, never committed over the newer one.
    #[test]
    fn racing_updates_of_one_object_lose_none() {
        let store = Store::new(StoreConfig::default());
        let storage: Arc<str> = Arc::from("configmaps");
        let object =
            serde_json::json!({"metadata": {"name": "n", "namespace": "ns"}, "data": {"n": 0}});
        store.create(&storage, "ns", "n", object).expect("created");
        let (threads, each) = (4, 300);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..each {
                        store
                            .update(&storage, "ns", "n", |current| {
                                let mut next = current.value.clone();
                                let n = next["data"]["n"].as_u64().unwrap_or_default();
                                // Widens the window between reading and committing.
                                std::thread::yield_now();
                                next["data"]["n"] = (n + 1).into();
                                Ok(next)
                            })
                            .expect("updated")
                            .expect("exists");
                    }
                });
            }
        });
        let last = store.get(&storage, "ns", "n").expect("still there");
        assert_eq!(last.value["data"]["n"], threads * each);
    }

    /// A write that keeps losing its race is proposed under the lock after
    /// `OPTIMISTIC_ATTEMPTS`, and lands.
    #[test]
    fn an_update_that_keeps_losing_its_race_lands_under_the_lock() {
        let store = Store::new(StoreConfig::default());
        let storage: Arc<str> = Arc::from("configmaps");
        let object = serde_json::json!({"metadata": {"name": "n", "namespace": "ns"}, "data": {}});
        store.create(&storage, "ns", "n", object).expect("created");
        let mut calls = 0;
        let written = store
            .update(&storage, "ns", "n", |current| {
                calls += 1;
                if calls <= OPTIMISTIC_ATTEMPTS {
                    // Someone else writes first, every time (outside the lock: allowed here).
                    store
                        .update(&storage, "ns", "n", |c| {
                            let mut other = c.value.clone();
                            other["data"][format!("other-{calls}")] = "x".into();
                            Ok(other)
                        })
                        .expect("the other write");
                }
                let mut next = current.value.clone();
                next["data"]["mine"] = "y".into();
                Ok(next)
            })
            .expect("no error")
            .expect("written");
        assert_eq!(calls, OPTIMISTIC_ATTEMPTS + 1);
        assert_eq!(written.value["data"]["mine"], "y");
        assert_eq!(
            written.value["data"][format!("other-{OPTIMISTIC_ATTEMPTS}")],
            "x"
        );
    }

    /// A write whose object is deleted before it commits finds nothing, as a write after the
    /// delete would.
    #[test]
    fn an_update_racing_a_delete_finds_nothing() {
        let store = Store::new(StoreConfig::default());
        let storage: Arc<str> = Arc::from("configmaps");
        let object = serde_json::json!({"metadata": {"name": "n", "namespace": "ns"}});
        store.create(&storage, "ns", "n", object).expect("created");
        let written = store
            .update(&storage, "ns", "n", |current| {
                store
                    .delete(&storage, "ns", "n", |_| Ok(DeleteAction::Remove))
                    .expect("deleted");
                Ok(current.value.clone())
            })
            .expect("no error");
        assert!(written.is_none());
        assert!(store.get(&storage, "ns", "n").is_none());
    }
}
