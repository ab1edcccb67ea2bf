//! Reconcile failures in a row, per workflow, for the error back-off (`requeue::after_error`):
//! a workflow whose reconciles keep failing is tried less and less often, and one success
//! starts it over.

use std::collections::HashMap;

use kube::runtime::reflector::Store;
use parking_lot::Mutex;

use flotilla_engine::workflow::Workflow;

/// Failures in a row, by workflow uid (a new workflow of the same name starts clean).
#[derive(Debug, Default)]
pub(super) struct Failures(Mutex<HashMap<String, u32>>);

impl Failures {
    /// Counts a failure of the workflow of uid `uid`; returns how many in a row (1 for the
    /// first). Failing is rare, so it is also where the counts of workflows deleted (no longer
    /// in `workflows`) are dropped: the map holds live workflows only.
    pub(super) fn failed(&self, uid: &str, workflows: &Store<Workflow>) -> u32 {
        let mut by_uid = self.0.lock();
        super::remembered::forget_deleted(&mut by_uid, workflows);
        let count = by_uid.entry(uid.to_string()).or_default();
        *count = count.saturating_add(1);
        *count
    }

    /// A reconcile of the workflow of uid `uid` succeeded: its next failure is a first again.
    pub(super) fn succeeded(&self, uid: &str) {
        let mut by_uid = self.0.lock();
        if !by_uid.is_empty() {
            by_uid.remove(uid);
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
        assert_eq!(failures.failed("uid-a", &store), 2);
        assert!(
            !failures.0.lock().contains_key("uid-b"),
            "a deleted workflow's count is dropped"
        );
    }
}
