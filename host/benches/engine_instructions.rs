//! The `engine` benchmark's cases, run a given number of times and nothing else, for counting
//! instructions under valgrind: on a shared VM whose timings spread by ±10%, a count tells
//! whether a change of a few percent is real. One pass costs the difference of two runs:
//!
//! ```text
//! cargo bench -p flotilla --bench engine_instructions --no-run
//! valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null BIN first_pass 0
//! valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null BIN first_pass 5
//! ```
//!
//! and (I refs of the second − I refs of the first) / 5. Cases: `running_nodes`, `first_pass`,
//! `plain_fan_out_first_pass`. Figures go to docs/performance.md.

use std::hint::black_box;
use std::process::ExitCode;

use flotilla_engine::{self as engine, EngineConfig, Observed};

mod cases;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench target with `--bench`; with no case named there is
    // nothing to count.
    let (case, passes) = match args.as_slice() {
        [case, passes] => match passes.parse::<usize>() {
            Ok(n) => (case.as_str(), n),
            Err(_) => return usage(),
        },
        _ if args.iter().any(|a| a == "--bench") => return ExitCode::SUCCESS,
        _ => return usage(),
    };
    let config = EngineConfig::default();
    let now = jiff::Timestamp::now();
    let (wf, observed) = match case {
        "running_nodes" => cases::mid_flight(),
        "first_pass" => (cases::fan_out(), Observed::default()),
        "plain_fan_out_first_pass" => (cases::plain_fan_out(), Observed::default()),
        _ => return usage(),
    };
    for _ in 0..passes {
        black_box(engine::reconcile(black_box(&wf), &observed, &config, now));
    }
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: engine_instructions running_nodes|first_pass|plain_fan_out_first_pass PASSES"
    );
    ExitCode::from(2)
}
