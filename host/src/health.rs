//! `/healthz` and `/readyz`, served beside `/metrics` (the Deployment's liveness and readiness
//! probes). Live: the process answers. Ready: the controller's caches — workflows, pods, task
//! results, parameter ConfigMaps — have had their first lists, so what it decides from is
//! complete.
//!
//! Readiness is read off the watch streams themselves (their first `InitDone`), not by awaiting
//! `Store::wait_until_ready`: that future keeps a single waker, so a second task awaiting it
//! would take the wake-up from the controller's own runner.

use std::sync::atomic::{AtomicU8, Ordering};

use kube::runtime::watcher;

/// The caches the controller decides from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cache {
    Workflows = 1,
    Pods = 2,
    TaskResults = 4,
    /// ConfigMaps labelled as parameters (`valueFrom.configMapKeyRef`).
    ParameterMaps = 8,
    /// WorkflowTemplates (`templateRef`, `workflowTemplateRef`).
    WorkflowTemplates = 16,
    /// ClusterWorkflowTemplates (not watched by a controller of one namespace).
    ClusterWorkflowTemplates = 32,
}

const ALL: u8 = Cache::Workflows as u8
    | Cache::Pods as u8
    | Cache::TaskResults as u8
    | Cache::ParameterMaps as u8
    | Cache::WorkflowTemplates as u8
    | Cache::ClusterWorkflowTemplates as u8;

/// The caches that have listed, one bit each (one controller per process).
static LISTED: AtomicU8 = AtomicU8::new(0);

/// Whether this replica leads: 0 without an election, 1 standby, 2 leading.
static LEADING: AtomicU8 = AtomicU8::new(0);

/// Notes the outcome of leader election (shown by `/readyz`, which does not depend on it:
/// a standby must be ready for a rollout to go on).
pub(crate) fn set_leading(leading: bool) {
    LEADING.store(if leading { 2 } else { 1 }, Ordering::Relaxed);
}

/// Notes an event of `cache`'s watch: the end of a list means it is complete.
pub(crate) fn on_event<K, E>(cache: Cache, event: &Result<watcher::Event<K>, E>) {
    if let Ok(watcher::Event::InitDone) = event {
        LISTED.fetch_or(cache as u8, Ordering::Relaxed);
    }
}

/// A cache this controller does not keep counts as listed.
pub(crate) fn not_watched(cache: Cache) {
    LISTED.fetch_or(cache as u8, Ordering::Relaxed);
}

/// Whether every cache has listed.
pub(crate) fn listed() -> bool {
    LISTED.load(Ordering::Relaxed) == ALL
}

/// The controller stopped: not ready any more.
pub(crate) fn stopped() {
    LISTED.store(0, Ordering::Relaxed);
}

/// The status and body of a probe at `path` (`None`: not a probe's path).
pub(crate) fn probe(path: &str) -> Option<(u16, &'static str)> {
    answer(path, listed(), LEADING.load(Ordering::Relaxed))
}

fn answer(path: &str, ready: bool, leading: u8) -> Option<(u16, &'static str)> {
    match (path, leading) {
        ("/healthz", _) => Some((200, "ok\n")),
        ("/readyz", _) if !ready => Some((503, "the controller's caches have not listed yet\n")),
        ("/readyz", 1) => Some((200, "ok: standby (caches warm, another replica leads)\n")),
        ("/readyz", 2) => Some((200, "ok: leading\n")),
        ("/readyz", _) => Some((200, "ok\n")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::answer;

    #[test]
    fn ready_only_once_the_caches_have_listed_alive_throughout() {
        assert_eq!(answer("/healthz", false, 0), Some((200, "ok\n")));
        assert_eq!(answer("/readyz", false, 2).map(|a| a.0), Some(503));
        assert_eq!(answer("/readyz", true, 0), Some((200, "ok\n")));
        assert_eq!(answer("/metrics", true, 0), None);
    }

    #[test]
    fn a_standby_is_ready_and_says_it_is_not_leading() {
        assert_eq!(
            answer("/readyz", true, 1),
            Some((200, "ok: standby (caches warm, another replica leads)\n"))
        );
        assert_eq!(answer("/readyz", true, 2), Some((200, "ok: leading\n")));
    }
}
