//! What each namespace's workflows may spend on `{{=…}}` expressions over time: a token bucket
//! per namespace, in instructions of the sandbox's fuel. A pass may spend at most what its
//! namespace has left ([`flotilla_engine::Observed::expression_fuel`]); one that runs into it is
//! dropped and tried again later, so a tenant who makes its workflows reconcile over and over
//! (editing a label, say) spends its own allowance, not the evaluation threads every tenant
//! shares.

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

/// What a namespace may spend at once: two full passes.
pub(crate) const BURST: u64 = 20_000_000_000;
/// What it gets back each second: about a tenth of one evaluation thread.
pub(crate) const PER_SECOND: u64 = 1_000_000_000;
/// Namespaces remembered before the full ones (those that spent nothing lately) are forgotten.
const REMEMBERED: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Allowances {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    left: u64,
    at: Instant,
}

impl Bucket {
    fn grown(self, now: Instant) -> Bucket {
        let seconds = now.saturating_duration_since(self.at).as_secs_f64();
        let grown = (seconds * PER_SECOND as f64).min(BURST as f64) as u64;
        Bucket {
            left: self.left.saturating_add(grown).min(BURST),
            at: now,
        }
    }
}

impl Allowances {
    /// What `namespace` has left now.
    pub(crate) fn left(&self, namespace: &str) -> u64 {
        self.left_at(namespace, Instant::now())
    }

    /// Takes `fuel` from `namespace`'s allowance.
    pub(crate) fn spend(&self, namespace: &str, fuel: u64) {
        self.spend_at(namespace, fuel, Instant::now());
    }

    fn left_at(&self, namespace: &str, now: Instant) -> u64 {
        let buckets = self.buckets.lock();
        buckets.get(namespace).map_or(BURST, |b| b.grown(now).left)
    }

    fn spend_at(&self, namespace: &str, fuel: u64, now: Instant) {
        if fuel == 0 {
            return;
        }
        let mut buckets = self.buckets.lock();
        if buckets.len() >= REMEMBERED && !buckets.contains_key(namespace) {
            buckets.retain(|_, b| b.grown(now).left < BURST);
        }
        let bucket = buckets.get(namespace).map_or(
            Bucket {
                left: BURST,
                at: now,
            },
            |b| b.grown(now),
        );
        buckets.insert(
            namespace.to_string(),
            Bucket {
                left: bucket.left.saturating_sub(fuel),
                at: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_namespace_spends_its_own_allowance_and_gets_it_back_over_time() {
        let allowances = Allowances::default();
        let start = Instant::now();
        assert_eq!(allowances.left_at("a", start), BURST);
        allowances.spend_at("a", BURST, start);
        assert_eq!(allowances.left_at("a", start), 0);
        // Another namespace is untouched.
        assert_eq!(allowances.left_at("b", start), BURST);
        let later = start + Duration::from_secs(3);
        assert_eq!(allowances.left_at("a", later), 3 * PER_SECOND);
        // Never more than the burst, however long it waited.
        let much_later = start + Duration::from_secs(3600);
        assert_eq!(allowances.left_at("a", much_later), BURST);
    }

    #[test]
    fn many_namespaces_are_remembered_within_a_bound() {
        let allowances = Allowances::default();
        let now = Instant::now();
        for i in 0..REMEMBERED * 2 {
            allowances.spend_at(&format!("ns-{i}"), 1, now);
        }
        let later = now + Duration::from_secs(1);
        allowances.spend_at("late", 1, later);
        assert!(allowances.buckets.lock().len() <= REMEMBERED + 1);
    }
}
