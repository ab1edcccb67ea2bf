//! Clusters that asked to be left alone. A `Retry-After` on a create (a 429 or 503 with
//! `retryAfterSeconds`) holds every pod creation in that cluster until it has passed — from every
//! workflow, not only the one whose request was refused — so a busy API server is not met by each
//! workflow's own retry in turn. The creations put off are asked for again when it has passed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The longest a cluster is left alone on its own say-so: an API server asking for an hour does
/// not stop a cluster's workflows for an hour.
const MAX_QUIET: Duration = Duration::from_secs(60);

/// Until when each cluster asked to be left alone. Holds only clusters that asked within the
/// last minute: a lookup after the time has passed forgets it.
#[derive(Debug, Default)]
pub(crate) struct Busy {
    until: Mutex<HashMap<String, Instant>>,
}

impl Busy {
    /// `cluster` asked at `now` to be left alone for `asked` (at most a minute). A later time
    /// already asked for stands.
    pub(crate) fn asked(&self, cluster: &str, now: Instant, asked: Duration) {
        let until = now + asked.min(MAX_QUIET);
        let mut clusters = self.until.lock();
        let entry = clusters.entry(cluster.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// How long `cluster` is still to be left alone at `now`, if it is.
    pub(crate) fn left(&self, cluster: &str, now: Instant) -> Option<Duration> {
        let mut clusters = self.until.lock();
        let until = *clusters.get(cluster)?;
        if until <= now {
            clusters.remove(cluster);
            return None;
        }
        Some(until - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_is_left_alone_until_the_time_it_asked_for_has_passed() {
        let busy = Busy::default();
        let t0 = Instant::now();
        assert_eq!(busy.left("east", t0), None);
        busy.asked("east", t0, Duration::from_secs(2));
        assert_eq!(
            busy.left("east", t0 + Duration::from_millis(500)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(busy.left("west", t0), None, "only the cluster that asked");
        assert_eq!(busy.left("east", t0 + Duration::from_secs(2)), None);
        assert!(busy.until.lock().is_empty(), "a time passed is forgotten");
    }

    #[test]
    fn the_later_time_stands_and_no_ask_lasts_past_a_minute() {
        let busy = Busy::default();
        let t0 = Instant::now();
        busy.asked("east", t0, Duration::from_secs(10));
        busy.asked("east", t0, Duration::from_secs(1));
        assert_eq!(busy.left("east", t0), Some(Duration::from_secs(10)));
        busy.asked("east", t0, Duration::from_secs(3600));
        assert_eq!(busy.left("east", t0), Some(MAX_QUIET));
    }
}
