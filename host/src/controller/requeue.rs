//! When a workflow is looked at again, besides when something it watches changes, and after a
//! reconcile failed.

use std::time::Duration;

use flotilla_engine as engine;

/// How soon a workflow with nodes in an unreachable cluster is looked at again: half as long as
/// the cluster has been failing, within these bounds — a back-off without per-workflow state.
const UNREACHABLE_RETRY_MIN: Duration = Duration::from_secs(1);
const UNREACHABLE_RETRY_MAX: Duration = Duration::from_secs(60);
/// How soon a pod creation put off (a full quota, a cluster not answering) is tried again.
const DEFERRED_CREATE_RETRY: Duration = Duration::from_secs(5);

/// The first retry of a workflow whose reconcile failed; each failure in a row doubles it, up to
/// the last (as Argo's work queue backs off).
const ERROR_RETRY_FIRST: Duration = Duration::from_secs(2);
const ERROR_RETRY_MAX: Duration = Duration::from_secs(300);

/// How soon a workflow whose reconcile failed `failures` times in a row (1 for the first) is
/// tried again — never sooner than the API server asked (`retry_after`, a 429's or 503's
/// `retryAfterSeconds`), and never later than [`ERROR_RETRY_MAX`].
pub(super) fn after_error(failures: u32, retry_after: Option<Duration>) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    let backoff = ERROR_RETRY_FIRST
        .saturating_mul(1 << doublings)
        .min(ERROR_RETRY_MAX);
    retry_after.map_or(backoff, |asked| backoff.max(asked.min(ERROR_RETRY_MAX)))
}

/// The earliest of: what the engine asked for (`decided`: a deadline, a back-off); a look at a
/// cluster that cannot be seen (`blind_for`: how long it has been failing, when a node there
/// is unfinished); and another go at creations put off (`deferred`).
pub(super) fn after(
    decided: Option<Duration>,
    blind_for: Option<Duration>,
    deferred: bool,
) -> Option<Duration> {
    let blind =
        blind_for.map(|failing| (failing / 2).clamp(UNREACHABLE_RETRY_MIN, UNREACHABLE_RETRY_MAX));
    let deferred = deferred.then_some(DEFERRED_CREATE_RETRY);
    engine::earliest(engine::earliest(decided, blind), deferred)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn nothing_to_wait_for_waits_for_a_change() {
        assert_eq!(after(None, None, false), None);
        assert_eq!(after(Some(S(30)), None, false), Some(S(30)));
    }

    #[test]
    fn a_blind_cluster_is_looked_at_again_backing_off_within_bounds() {
        assert_eq!(after(None, Some(Duration::ZERO), false), Some(S(1)));
        assert_eq!(after(None, Some(S(40)), false), Some(S(20)));
        assert_eq!(after(None, Some(S(3600)), false), Some(S(60)));
        assert_eq!(after(Some(S(5)), Some(S(40)), false), Some(S(5)));
    }

    #[test]
    fn failures_back_off_from_two_seconds_to_five_minutes() {
        let backoff: Vec<u64> = (1..=10).map(|n| after_error(n, None).as_secs()).collect();
        assert_eq!(backoff, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(after_error(u32::MAX, None), S(300));
        assert_eq!(
            after_error(0, None),
            S(2),
            "a count of zero is a first failure"
        );
    }

    #[test]
    fn the_api_servers_retry_after_is_honoured_within_the_bound() {
        assert_eq!(after_error(1, Some(S(10))), S(10));
        assert_eq!(
            after_error(5, Some(S(10))),
            S(32),
            "the back-off already waits longer"
        );
        assert_eq!(after_error(1, Some(S(86_400))), S(300));
    }

    #[test]
    fn creations_put_off_are_tried_again_soon() {
        assert_eq!(after(None, None, true), Some(S(5)));
        assert_eq!(after(Some(S(2)), None, true), Some(S(2)));
        assert_eq!(after(None, Some(S(3600)), true), Some(S(5)));
    }
}
