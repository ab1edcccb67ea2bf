//! What one `{{=…}}` expression costs in the sandbox (an evaluation thread's warm instance, fuel
//! and a memory cap), against `flotilla-expr` run natively, and how long the component takes to
//! compile once per process (`warm`). Also printed: the fuel one evaluation spends.
//!
//! Run: `cargo bench -p flotilla --bench expressions`.

use criterion::{Criterion, criterion_group, criterion_main};
use flotilla::expressions;

fn variables() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = (0..50)
        .map(|i| (format!("workflow.parameters.p{i}"), format!("value-{i}")))
        .collect();
    vars.push(("inputs.parameters.n".into(), "41".into()));
    vars.push(("workflow.name".into(), "expressions-x7k2p".into()));
    vars
}

const EXPRESSION: &str = "asInt(inputs.parameters.n) + 1";

fn evaluations(c: &mut Criterion) {
    let started = std::time::Instant::now();
    expressions::warm().expect("the sandbox compiles");
    eprintln!("compiling the component took {:?}", started.elapsed());
    let vars = variables();
    let spent: Vec<u64> = (0..4)
        .map(|_| expressions::evaluate(EXPRESSION, vars.clone(), expressions::FUEL).1)
        .collect();
    eprintln!("fuel spent by the first evaluations (fresh, then warm instances): {spent:?}");
    let mut group = c.benchmark_group("expression");
    group.bench_function("sandboxed_evaluate", |b| {
        b.iter(|| {
            expressions::evaluate(EXPRESSION, vars.clone(), expressions::FUEL)
                .0
                .expect("evaluates")
        })
    });
    group.bench_function("native_evaluate", |b| {
        b.iter(|| flotilla_expr::evaluate(EXPRESSION, &vars).expect("evaluates"))
    });
    group.bench_function("sandboxed_check", |b| {
        b.iter(|| {
            expressions::check("sprig.trim(inputs.parameters.n)", expressions::FUEL)
                .0
                .expect("checks")
        })
    });
    group.finish();
}

criterion_group!(benches, evaluations);
criterion_main!(benches);
