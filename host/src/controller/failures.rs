//! Things that go wrong in a row, per workflow: reconcile failures, for the error back-off
//! (`requeue::after_error`), and passes that put pod creations off (`requeue::after`). A
//! workflow whose reconciles keep failing is tried less and less often, and one success starts
//! it over.

use std::collections::HashMap;

use kube::runtime::reflector::Store;
use parking_lot::Mutex;

use flotilla_engine::workflow::Workflow;

/// Below this many counts, those of deleted workflows are not looked for.
const PRUNE_FROM: usize = 1024;

/// Failures in a row, by workflow uid (a new workflow of the same name starts clean).
#[derive(Debug)]
pub(super) struct Failures(Mutex<Counts>);

#[derive(Debug)]
struct Counts {
    by_uid: HashMap<String, u32>,
    /// The size at which the counts of deleted workflows are next dropped: twice what was left
    /// the last time, so that dropping them costs a constant amount per failure even when every
    /// reconcile fails (an API server outage).
    prune_at: usize,
}

impl Default for Failures {
    fn default() -> Self {
        Failures(Mutex::new(Counts {
            by_uid: HashMap::new(),
            prune_at: PRUNE_FROM,
        }))
    }
}

impl Failures {
    /// Counts a failure of the workflow of uid `uid`; returns how many in a row (1 for the
    /// first). The counts of workflows deleted meanwhile (no longer in `workflows`) are dropped
    /// when the map has doubled since: it holds at most twice the live workflows that fail.
    pub(super) fn failed(&self, uid: &str, workflows: &Store<Workflow>) -> u32 {
        let mut counts = self.0.lock();
        if counts.by_uid.len() >= counts.prune_at {
            super::remembered::forget_deleted(&mut counts.by_uid, workflows);
            counts.prune_at = (counts.by_uid.len() * 2).max(PRUNE_FROM);
        }
        let count = counts.by_uid.entry(uid.to_string()).or_default();
        *count = count.saturating_add(1);
        *count
    }

    /// A reconcile of the workflow of uid `uid` succeeded: its next failure is a first again.
    pub(super) fn succeeded(&self, uid: &str) {
        let mut counts = self.0.lock();
        if !counts.by_uid.is_empty() {
            counts.by_uid.remove(uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::remembered::tests::workflow;
    use kube::runtime::{reflector, watcher};

    #[test]
    fn failures_count_up_until_a_success_and_deleted_workflows_are_dropped() {
        let (store, mut writer) = reflector::store::<Workflow>();
        for wf in [workflow("a", "uid-a"), workflow("b", "uid-b")] {
            writer.apply_watcher_event(&watcher::Event::Apply(wf));
        }
        let failures = Failures::default();
        assert_eq!(failures.failed("uid-a", &store), 1);
        assert_eq!(failures.failed("uid-a", &store), 2);
        assert_eq!(failures.failed("uid-b", &store), 1);
        failures.succeeded("uid-a");
        assert_eq!(failures.failed("uid-a", &store), 1, "a success starts over");

        writer.apply_watcher_event(&watcher::Event::Delete(workflow("b", "uid-b")));
        failures.0.lock().prune_at = 2;
        assert_eq!(failures.failed("uid-a", &store), 2);
        let counts = failures.0.lock();
        assert!(
            !counts.by_uid.contains_key("uid-b"),
            "a deleted workflow's count is dropped once the map has grown"
        );
        assert_eq!(counts.prune_at, PRUNE_FROM);
    }
}
