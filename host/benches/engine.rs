//! Engine decision time: one reconcile of a 5,000-node workflow in mid-flight (every pod
//! running), the case a large fan-out hits on every pod event. Target: ≤ 10 ms.
//!
//! Run: `cargo bench -p flotilla --bench engine`. Figures go to docs/performance.md.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use flotilla_engine::{self as engine, EngineConfig, Observed};

mod cases;

fn decision_time(c: &mut Criterion) {
    let (wf, observed) = cases::mid_flight();
    let config = EngineConfig::default();
    let now = jiff::Timestamp::now();
    let mut group = c.benchmark_group("engine");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("reconcile_5000_running_nodes", |b| {
        b.iter(|| engine::reconcile(&wf, &observed, &config, now))
    });
    // The first pass of the same fan-out: every node and pod manifest is created.
    let fresh = cases::fan_out();
    let nothing = Observed::default();
    group.bench_function("reconcile_5000_first_pass", |b| {
        b.iter(|| engine::reconcile(&fresh, &nothing, &config, now))
    });
    let plain = cases::plain_fan_out();
    group.bench_function("reconcile_2000_plain_fan_out_first_pass", |b| {
        b.iter(|| engine::reconcile(&plain, &nothing, &config, now))
    });
    group.finish();
}

criterion_group!(benches, decision_time);
criterion_main!(benches);
