//! The parts of kube-controller-manager and apiextensions-apiserver a cluster needs to behave like
//! one: CRD establishment and cleanup, namespace lifecycle (default ServiceAccount, termination),
//! the garbage collector (ownerReferences, orphan and foreground deletion) and the legacy
//! service-account token controller.
//!
//! They react to the store's events asynchronously, as their real counterparts react to informers;
//! clients see the same eventual behaviour (a CRD's resources appear once it is Established, a
//! namespace's default ServiceAccount shortly after the namespace).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::admission::FieldValidation;
use crate::api::delete::delete_object;
use crate::api::write::{Incoming, create_object, write_object};
use crate::api::{Api, DeleteOptions, meta};
use crate::resources::Builtin;
use crate::store::{EventType, WatchEvent};

mod tokens;

const CRD_CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// An object's address in the store.
type Addr = (Arc<str>, String, String);

/// Runs every controller until the task is aborted.
pub(crate) async fn run(api: Arc<Api>) {
    let mut events = api.store.subscribe();
    let mut gc = GarbageCollector::default();
    resync(&api, &mut gc);
    let mut sweep = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(event) => handle(&api, &mut gc, &event),
                Err(RecvError::Lagged(_)) => resync(&api, &mut gc),
                Err(RecvError::Closed) => return,
            },
            _ = sweep.tick() => {
                finish_namespaces(&api);
                gc.retry_pending(&api);
            }
        }
    }
}

/// Rebuilds all controller state from the store (start-up, or after missing events).
fn resync(api: &Api, gc: &mut GarbageCollector) {
    *gc = GarbageCollector::default();
    for rt in api.catalog().storage_types() {
        let (items, _) = api.store.list(&rt.storage, None, |_| true);
        for item in items {
            let event = WatchEvent {
                rv: item.rv,
                storage: rt.storage.clone(),
                namespace: item.meta_str("namespace").unwrap_or_default().to_string(),
                name: item.meta_str("name").unwrap_or_default().to_string(),
                kind: EventType::Added,
                object: item.clone(),
                prev: None,
            };
            handle(api, gc, &event);
        }
    }
}

fn handle(api: &Api, gc: &mut GarbageCollector, event: &WatchEvent) {
    gc.observe(api, event);
    match &*event.storage {
        "customresourcedefinitions.apiextensions.k8s.io" => crd_changed(api, event),
        "namespaces" => namespace_changed(api, event),
        "secrets" => tokens::secret_changed(api, event),
        _ => {}
    }
}

fn crd_changed(api: &Api, event: &WatchEvent) {
    let crd = &event.object.value;
    let rt = api.builtin_type(Builtin::CustomResourceDefinition);
    let name = event.name.clone();
    if event.kind == EventType::Deleted {
        api.set_catalog(api.catalog().without_crd(crd));
        return;
    }
    if meta::has_deletion_timestamp(crd) {
        // Stop serving, delete every instance, then release the CRD.
        let catalog = api.catalog();
        if let Some(storage) =
            crate::crd::group_and_plural(crd).map(|(g, p)| Arc::<str>::from(format!("{p}.{g}")))
        {
            api.set_catalog(catalog.without_crd(crd));
            api.store.drop_collection(&storage);
        }
        release(api, &rt, "", &name, CRD_CLEANUP_FINALIZER);
        return;
    }
    // Serve (or re-serve) its versions, then report it Established.
    api.set_catalog(api.catalog().with_crd(crd));
    let established = crd["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    });
    let has_finalizer = meta::finalizers(crd)
        .iter()
        .any(|f| f == CRD_CLEANUP_FINALIZER);
    if established && has_finalizer && crd["status"]["acceptedNames"] == crd["spec"]["names"] {
        return;
    }
    let now = meta::now_rfc3339();
    let _ = controller_edit(api, &rt, "", &name, "status", |crd| {
        crd["status"] = crate::schema::crd_status(crd, &now);
    });
    if !has_finalizer {
        let _ = controller_edit(api, &rt, "", &name, "", |crd| {
            let mut fins = meta::finalizers(crd);
            if !fins.iter().any(|f| f == CRD_CLEANUP_FINALIZER) {
                fins.push(CRD_CLEANUP_FINALIZER.into());
            }
            crd["metadata"]["finalizers"] = json!(fins);
        });
    }
}

fn namespace_changed(api: &Api, event: &WatchEvent) {
    if event.kind == EventType::Deleted {
        return;
    }
    let ns = &event.name;
    if meta::has_deletion_timestamp(&event.object.value) {
        empty_namespace(api, ns);
        finish_namespaces(api);
        return;
    }
    if event.kind == EventType::Added && api.store.get("serviceaccounts", ns, "default").is_none() {
        let rt = api.builtin_type(Builtin::ServiceAccount);
        let mut sa =
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
        if let Err(e) = create_object(
            api,
            &rt,
            ns,
            &mut sa,
            FieldValidation::Ignore,
            false,
            Some("kube-controller-manager"),
        ) {
            tracing::debug!(namespace = %ns, error = %e, "default service account not created");
        }
    }
}

/// Deletes every object in a terminating namespace (each honouring its own finalizers).
fn empty_namespace(api: &Api, ns: &str) {
    let opts = DeleteOptions::default();
    for rt in api.catalog().storage_types() {
        if !rt.namespaced {
            continue;
        }
        let (items, _) = api.store.list(&rt.storage, Some(ns), |o| {
            !meta::has_deletion_timestamp(&o.value)
        });
        for item in items {
            let name = item.meta_str("name").unwrap_or_default().to_string();
            let _ = delete_object(api, &rt, ns, &name, &opts);
        }
    }
}

/// Finalizes terminating namespaces that have become empty.
fn finish_namespaces(api: &Api) {
    let (terminating, _) = api.store.list("namespaces", None, |o| {
        meta::has_deletion_timestamp(&o.value)
    });
    if terminating.is_empty() {
        return;
    }
    let rt = api.builtin_type(Builtin::Namespace);
    for ns in terminating {
        let name = ns.meta_str("name").unwrap_or_default().to_string();
        if !api.store.namespace_is_empty(&name) {
            empty_namespace(api, &name);
            continue;
        }
        let _ = controller_edit(api, &rt, "", &name, "finalize", |ns| {
            ns["spec"]["finalizers"] = json!([]);
        });
    }
}

/// The garbage collector's view: who owns whom, by owner uid.
#[derive(Debug, Default)]
struct GarbageCollector {
    /// owner uid → dependents.
    dependents: HashMap<String, HashSet<Addr>>,
    /// uids of objects that exist.
    live: HashMap<String, Addr>,
    /// Owners whose dependents still need work (a delete that failed, a finalizer to release).
    pending: HashSet<String>,
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str().map(str::to_string))
        .collect()
}

impl GarbageCollector {
    fn observe(&mut self, api: &Api, event: &WatchEvent) {
        let addr: Addr = (
            event.storage.clone(),
            event.namespace.clone(),
            event.name.clone(),
        );
        let uid = event.object.meta_str("uid").unwrap_or_default().to_string();
        if let Some(prev) = &event.prev {
            for owner in owner_uids(&prev.value) {
                if let Some(set) = self.dependents.get_mut(&owner) {
                    set.remove(&addr);
                }
            }
        }
        match event.kind {
            EventType::Deleted => {
                self.live.remove(&uid);
                self.pending.insert(uid);
                self.retry_pending(api);
            }
            _ => {
                for owner in owner_uids(&event.object.value) {
                    self.dependents
                        .entry(owner.clone())
                        .or_default()
                        .insert(addr.clone());
                    if !self.owns(&owner, &event.namespace) {
                        // A dangling reference: `process` deletes the dependent, as the real GC does.
                        self.pending.insert(owner);
                    }
                }
                self.live.insert(uid.clone(), addr);
                let fins = meta::finalizers(&event.object.value);
                if meta::has_deletion_timestamp(&event.object.value)
                    && fins
                        .iter()
                        .any(|f| f == "orphan" || f == "foregroundDeletion")
                {
                    self.pending.insert(uid);
                    self.retry_pending(api);
                }
            }
        }
    }

    fn retry_pending(&mut self, api: &Api) {
        let pending: Vec<String> = self.pending.drain().collect();
        for owner in pending {
            if !self.process(api, &owner) {
                self.pending.insert(owner);
            }
        }
    }

    /// Whether `owner` exists and may own objects in `namespace`: an owner in another namespace
    /// counts as absent, as for the real garbage collector (owner references never cross
    /// namespaces; a cluster-scoped owner may own namespaced objects).
    fn owns(&self, owner: &str, namespace: &str) -> bool {
        self.live
            .get(owner)
            .is_some_and(|(_, owner_ns, _)| owner_ns.is_empty() || owner_ns == namespace)
    }

    /// Handles one owner; `true` when nothing is left to do for it.
    fn process(&mut self, api: &Api, owner: &str) -> bool {
        let (orphaned, dependents): (Vec<Addr>, Vec<Addr>) = self
            .dependents
            .get(owner)
            .map(|s| s.iter().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .partition(|(_, ns, _)| !self.owns(owner, ns));
        // Dependents whose owner is absent (for them): deleted, unless another owner remains, in
        // which case only the dangling reference goes.
        let mut done = true;
        for (storage, ns, name) in &orphaned {
            let Some(rt) = api.storage_type(storage) else {
                continue;
            };
            let Some(dep) = api.store.get(storage, ns, name) else {
                continue;
            };
            let others = owner_uids(&dep.value)
                .into_iter()
                .filter(|u| u != owner)
                .any(|u| self.owns(&u, ns));
            let result = if others {
                remove_owner_ref(api, &rt, ns, name, owner)
            } else {
                delete_object(api, &rt, ns, name, &DeleteOptions::default()).map(|_| ())
            };
            done &= result.is_ok();
        }
        let owner_obj = self
            .live
            .get(owner)
            .and_then(|(s, ns, n)| api.store.get(s, ns, n));
        match owner_obj {
            None => {
                if done {
                    self.dependents.remove(owner);
                }
                done
            }
            Some(obj) => {
                let fins = meta::finalizers(&obj.value);
                let Some(rt) = api.storage_type(&obj_storage(&self.live, owner)) else {
                    return true;
                };
                let (ns, name) = (
                    obj.meta_str("namespace").unwrap_or_default().to_string(),
                    obj.meta_str("name").unwrap_or_default().to_string(),
                );
                if fins.iter().any(|f| f == "orphan") {
                    for (storage, dns, dname) in &dependents {
                        if let Some(drt) = api.storage_type(storage) {
                            let _ = remove_owner_ref(api, &drt, dns, dname, owner);
                        }
                    }
                    release(api, &rt, &ns, &name, "orphan");
                    return true;
                }
                if fins.iter().any(|f| f == "foregroundDeletion") {
                    let remaining: Vec<&Addr> = dependents
                        .iter()
                        .filter(|(s, n, m)| api.store.get(s, n, m).is_some())
                        .collect();
                    if remaining.is_empty() {
                        release(api, &rt, &ns, &name, "foregroundDeletion");
                        return true;
                    }
                    for (storage, dns, dname) in remaining {
                        if let Some(drt) = api.storage_type(storage) {
                            let opts = DeleteOptions {
                                propagation_policy: Some("Foreground".into()),
                                ..Default::default()
                            };
                            let _ = delete_object(api, &drt, dns, dname, &opts);
                        }
                    }
                    return false;
                }
                done
            }
        }
    }
}

fn obj_storage(live: &HashMap<String, Addr>, uid: &str) -> Arc<str> {
    live.get(uid)
        .map(|(s, _, _)| s.clone())
        .unwrap_or_else(|| Arc::from(""))
}

fn remove_owner_ref(
    api: &Api,
    rt: &Arc<crate::resources::ResourceType>,
    ns: &str,
    name: &str,
    owner: &str,
) -> crate::status::Result<()> {
    controller_edit(api, rt, ns, name, "", |object| {
        let meta = &mut object["metadata"];
        if let Some(refs) = meta["ownerReferences"].as_array_mut() {
            refs.retain(|r| r["uid"].as_str() != Some(owner));
        }
    })
}

fn release(
    api: &Api,
    rt: &Arc<crate::resources::ResourceType>,
    ns: &str,
    name: &str,
    finalizer: &str,
) {
    let _ = controller_edit(api, rt, ns, name, "", |object| {
        let meta = &mut object["metadata"];
        let rest: Vec<String> = meta["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|f| *f != finalizer)
            .map(str::to_owned)
            .collect();
        meta["finalizers"] = json!(rest);
    });
}

/// Writes an object (or its `subresource`) back with `edit` applied to a copy of it, as the API
/// server's own controllers do (no admission, no field validation).
pub(crate) fn controller_edit(
    api: &Api,
    rt: &Arc<crate::resources::ResourceType>,
    ns: &str,
    name: &str,
    subresource: &str,
    mut edit: impl FnMut(&mut Value),
) -> crate::status::Result<()> {
    write_object(
        api,
        rt,
        ns,
        name,
        subresource,
        FieldValidation::Ignore,
        false,
        "kube-controller-manager",
        |current| {
            let mut next = current.value.clone();
            edit(&mut next);
            Ok(Incoming::Patched(next))
        },
    )
    .map(|_| ())
}
