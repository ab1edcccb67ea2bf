//! What authorization adds per pod: the Casbin check a create in another cluster or namespace
//! makes, with the design's model and a policy of 200 lines. Decisions are cached per policy
//! (a reload builds a new `Authorizer`), so the steady cost is a cache hit. Target: ≤ 2 µs.
//!
//! Run: `cargo bench -p flotilla --bench authz`. Figures go to docs/performance.md.

use criterion::{Criterion, criterion_group, criterion_main};
use flotilla::authz::Authorizer;

fn policy() -> String {
    (0..200)
        .map(|i| format!("p, cluster-0:team-{i}, cluster-{}:*\n", i % 7))
        .collect()
}

fn checks(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let authorizer = rt
        .block_on(Authorizer::new(None, Some(&policy())))
        .expect("policy");
    let mut group = c.benchmark_group("authz");
    group.bench_function("cached_decision", |b| {
        b.iter(|| authorizer.allows("cluster-0:team-42", "cluster-0:default"))
    });
    // The first check of each (subject, object) pair evaluates the model.
    let mut n = 0u64;
    group.bench_function("uncached_decision", |b| {
        b.iter(|| {
            n += 1;
            let fresh = format!("cluster-0:ns-{n}");
            authorizer.allows(&fresh, "cluster-1:default")
        })
    });
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
