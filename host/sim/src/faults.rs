//! Fault injection: make a cluster unreachable, fail a share of requests with 5xx/429, add
//! latency, cut every open watch. Tests drive it through [`crate::FaultHandle`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;
use tokio::sync::watch;

use crate::status::ApiError;

#[derive(Debug, Default, Clone)]
struct Settings {
    unreachable_until: Option<Instant>,
    /// (probability 0..=1, status code) of failing a request, each drawn in turn.
    errors: Vec<(f64, u16)>,
    latency: Duration,
    /// (HTTP method, how many more, status code): the next requests of that method that fail.
    fail_next: Option<(String, u32, u16)>,
}

#[derive(Debug)]
pub(crate) struct Faults {
    settings: Mutex<Settings>,
    /// Bumped to cut every open watch and connection.
    cuts: watch::Sender<u64>,
    injected: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            settings: Mutex::new(Settings::default()),
            cuts: watch::channel(0).0,
            injected: AtomicU64::new(0),
        }
    }
}

impl Faults {
    pub(crate) fn set_unreachable_for(&self, d: Duration) {
        self.settings.lock().unreachable_until = Some(Instant::now() + d);
        self.cut_watches();
    }

    pub(crate) fn set_unreachable(&self, on: bool) {
        // "Forever" is a long time; `set_unreachable(false)` ends it.
        self.settings.lock().unreachable_until =
            on.then(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
        if on {
            self.cut_watches();
        }
    }

    pub(crate) fn is_unreachable(&self) -> bool {
        self.settings
            .lock()
            .unreachable_until
            .is_some_and(|t| Instant::now() < t)
    }

    pub(crate) fn set_error_rate(&self, probability: f64, code: u16) {
        self.settings.lock().errors.clear();
        self.add_error_rate(probability, code);
    }

    pub(crate) fn add_error_rate(&self, probability: f64, code: u16) {
        if probability > 0.0 {
            let rate = (probability.clamp(0.0, 1.0), code);
            self.settings.lock().errors.push(rate);
        }
    }

    pub(crate) fn fail_next(&self, method: &str, count: u32, code: u16) {
        self.settings.lock().fail_next = (count > 0).then(|| (method.to_owned(), count, code));
    }

    pub(crate) fn set_latency(&self, d: Duration) {
        self.settings.lock().latency = d;
    }

    pub(crate) fn cut_watches(&self) {
        self.cuts.send_modify(|g| *g += 1);
    }

    pub(crate) fn watch_cuts(&self) -> watch::Receiver<u64> {
        self.cuts.subscribe()
    }

    pub(crate) fn injected_errors(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        *self.settings.lock() = Settings::default();
    }

    /// Applied before each request of `method`: latency, then maybe an injected error.
    pub(crate) async fn before_request(&self, method: &str) -> Option<ApiError> {
        let (latency, error, next) = {
            let mut s = self.settings.lock();
            let next = match &mut s.fail_next {
                Some((m, count, code)) if m.as_str() == method => {
                    *count -= 1;
                    let code = *code;
                    if *count == 0 {
                        s.fail_next = None;
                    }
                    Some(code)
                }
                _ => None,
            };
            (s.latency, s.errors.clone(), next)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(code) = next {
            self.injected.fetch_add(1, Ordering::Relaxed);
            return Some(ApiError::injected(code));
        }
        for (p, code) in error {
            if rand::rng().random::<f64>() < p {
                self.injected.fetch_add(1, Ordering::Relaxed);
                return Some(ApiError::injected(code));
            }
        }
        None
    }
}
