//! What a reconcile learnt of a workflow's nodes that its status may not hold yet, remembered
//! for the next pass: pod creations refused for good (the engine fails their nodes,
//! `Observed::create_errors`), and the uids of pods made until the cached status shows them
//! recorded: a status write lost to a conflict, or a saved one whose watch event has not
//! arrived, leaves the next pass a status without them, and it must not take another pod in
//! their place for the node's (the next pass records them).

use std::collections::{BTreeMap, HashMap, HashSet};

use kube::ResourceExt as _;
use kube::runtime::reflector::{ObjectRef, Store};
use parking_lot::Mutex;

use flotilla_engine::workflow::Workflow;

/// A note per node, per workflow (by uid: a new workflow of the same name starts clean).
#[derive(Debug, Default)]
pub(super) struct Remembered(Mutex<HashMap<String, Notes>>);

/// One workflow's notes, and where the cache holds that workflow.
#[derive(Debug)]
struct Notes {
    workflow: ObjectRef<Workflow>,
    by_node: BTreeMap<String, String>,
}

impl Remembered {
    /// What is remembered for the workflow of uid `uid`, by node ID.
    pub(super) fn of(&self, uid: &str) -> BTreeMap<String, String> {
        let by_uid = self.0.lock();
        by_uid
            .get(uid)
            .map(|n| n.by_node.clone())
            .unwrap_or_default()
    }

    /// Remembers `notes` (node ID → note) for `wf`. It is also where the notes of workflows
    /// deleted (no longer in `workflows`, or replaced there by another of the same name) are
    /// dropped: a look-up per workflow remembered, not a pass over every workflow cached, as
    /// every reconcile that makes pods calls it.
    pub(super) fn remember(
        &self,
        wf: &Workflow,
        notes: BTreeMap<String, String>,
        workflows: &Store<Workflow>,
    ) {
        let mut by_uid = self.0.lock();
        by_uid.retain(|uid, n| {
            workflows
                .get(&n.workflow)
                .is_some_and(|w| w.metadata.uid.as_deref() == Some(uid))
        });
        let workflow = ObjectRef::new(&wf.name_any()).within(&wf.namespace().unwrap_or_default());
        by_uid
            .entry(wf.metadata.uid.clone().unwrap_or_default())
            .or_insert_with(|| Notes {
                workflow,
                by_node: BTreeMap::new(),
            })
            .by_node
            .extend(notes);
    }

    /// Drops the notes that `held(node, note)` says the cached status holds now.
    pub(super) fn settle(&self, uid: &str, held: impl Fn(&str, &str) -> bool) {
        let mut by_uid = self.0.lock();
        if let Some(notes) = by_uid.get_mut(uid) {
            notes.by_node.retain(|node, note| !held(node, note));
            if notes.by_node.is_empty() {
                by_uid.remove(uid);
            }
        }
    }

    /// Drops what is remembered for the workflow of uid `uid`.
    pub(super) fn forget(&self, uid: &str) {
        self.0.lock().remove(uid);
    }
}

/// Keeps only the entries of workflows still in the cache (keyed by uid).
pub(super) fn forget_deleted<V>(by_uid: &mut HashMap<String, V>, workflows: &Store<Workflow>) {
    let live: HashSet<String> = workflows.state().iter().filter_map(|w| w.uid()).collect();
    by_uid.retain(|uid, _| live.contains(uid));
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use kube::runtime::{reflector, watcher};

    /// A workflow `argo/name` of uid `uid`, as a cache holds it.
    pub(in crate::controller) fn workflow(name: &str, uid: &str) -> Workflow {
        let mut wf = Workflow::new(name, Default::default());
        wf.metadata.namespace = Some("argo".into());
        wf.metadata.uid = Some(uid.into());
        wf
    }

    #[test]
    fn notes_of_deleted_workflows_are_forgotten() {
        let (store, mut writer) = reflector::store::<Workflow>();
        for wf in [workflow("kept", "uid-kept"), workflow("gone", "uid-gone")] {
            writer.apply_watcher_event(&watcher::Event::Apply(wf));
        }
        let refusals = Remembered::default();
        let refused = |node: &str| BTreeMap::from([(node.to_string(), "no".to_string())]);
        refusals.remember(&workflow("gone", "uid-gone"), refused("a"), &store);
        writer.apply_watcher_event(&watcher::Event::Delete(workflow("gone", "uid-gone")));
        refusals.remember(&workflow("kept", "uid-kept"), refused("b"), &store);
        assert_eq!(refusals.of("uid-kept"), refused("b"));
        assert_eq!(refusals.of("uid-gone"), BTreeMap::new());
        refusals.forget("uid-kept");
        assert_eq!(refusals.of("uid-kept"), BTreeMap::new());
    }

    #[test]
    fn notes_the_status_holds_now_are_settled_the_others_kept() {
        let (store, mut writer) = reflector::store::<Workflow>();
        writer.apply_watcher_event(&watcher::Event::Apply(workflow("wf", "uid")));
        let made = Remembered::default();
        let uids = BTreeMap::from([
            ("a".to_string(), "pod-a".to_string()),
            ("b".to_string(), "pod-b".to_string()),
        ]);
        made.remember(&workflow("wf", "uid"), uids, &store);
        made.settle("uid", |node, uid| node == "a" && uid == "pod-a");
        assert_eq!(
            made.of("uid"),
            BTreeMap::from([("b".to_string(), "pod-b".to_string())])
        );
        made.settle("uid", |_, _| true);
        assert_eq!(made.of("uid"), BTreeMap::new());
    }
}
