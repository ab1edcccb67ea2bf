//! When a workflow is looked at again, besides when something it watches changes, and after a
//! reconcile failed.

use std::time::Duration;

use flotilla_engine as engine;

/// How soon a workflow with nodes in an unreachable cluster is looked at again: half as long as
/// the cluster has been failing, within these bounds — a back-off without per-workflow state.
const UNREACHABLE_RETRY_MIN: Duration = Duration::from_secs(1);
const UNREACHABLE_RETRY_MAX: Duration = Duration::from_secs(60);
/// How soon a pod creation put off (a full quota, a cluster not answering or busy) is tried
/// again; each pass in a row that puts creations off doubles it, up to the last.
const DEFERRED_CREATE_RETRY: Duration = Duration::from_secs(5);
const DEFERRED_CREATE_RETRY_MAX: Duration = Duration::from_secs(60);

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
/// is unfinished); and another go at creations put off (`deferred`, the passes in a row that
/// put some off and the longest an API server asked to be left alone).
pub(super) fn after(
    decided: Option<Duration>,
    blind_for: Option<Duration>,
    deferred: Option<(u32, Option<Duration>)>,
) -> Option<Duration> {
    let blind =
        blind_for.map(|failing| (failing / 2).clamp(UNREACHABLE_RETRY_MIN, UNREACHABLE_RETRY_MAX));
    let deferred = deferred.map(|(passes, asked)| {
        let doublings = passes.saturating_sub(1).min(8);
        let backoff = DEFERRED_CREATE_RETRY
            .saturating_mul(1 << doublings)
            .min(DEFERRED_CREATE_RETRY_MAX);
        asked.map_or(backoff, |asked| backoff.max(asked.min(ERROR_RETRY_MAX)))
    });
    engine::earliest(engine::earliest(decided, blind), deferred)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn nothing_to_wait_for_waits_for_a_change() {
        assert_eq!(after(None, None, None), None);
        assert_eq!(after(Some(S(30)), None, None), Some(S(30)));
    }

    #[test]
    fn a_blind_cluster_is_looked_at_again_backing_off_within_bounds() {
        assert_eq!(after(None, Some(Duration::ZERO), None), Some(S(1)));
        assert_eq!(after(None, Some(S(40)), None), Some(S(20)));
        assert_eq!(after(None, Some(S(3600)), None), Some(S(60)));
        assert_eq!(after(Some(S(5)), Some(S(40)), None), Some(S(5)));
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
    fn creations_put_off_are_tried_again_backing_off_and_never_sooner_than_asked() {
        assert_eq!(after(None, None, Some((1, None))), Some(S(5)));
        assert_eq!(after(Some(S(2)), None, Some((1, None))), Some(S(2)));
        assert_eq!(after(None, Some(S(3600)), Some((1, None))), Some(S(5)));
        // Pass after pass put off: 5, 10, 20, 40, then 60 s.
        assert_eq!(after(None, None, Some((2, None))), Some(S(10)));
        assert_eq!(after(None, None, Some((4, None))), Some(S(40)));
        assert_eq!(after(None, None, Some((9, None))), Some(S(60)));
        // A busy server's Retry-After is honoured, within the error back-off's bound.
        assert_eq!(after(None, None, Some((1, Some(S(30))))), Some(S(30)));
        assert_eq!(after(None, None, Some((1, Some(S(86_400))))), Some(S(300)));
    }
}
