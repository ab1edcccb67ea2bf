//! Property tests over everything the controller reads from the API — workflows (spec and
//! status), pods and task results, the `rest-config` and profile Secrets, the authorization
//! ConfigMap — driven through the same code the controller runs, from the JSON as it arrives.
//! Each property generates hostile but plausible values (names with multi-byte characters,
//! node graphs with cycles and dangling edges, numbers at their limits, fields of the wrong
//! type) and asserts that nothing panics, plus a cheap invariant where one holds (decisions are
//! deterministic and stay inside the policy, errors name a field).
//!
//! A bounded run is part of `cargo test`: each property runs its own default number of cases,
//! chosen so that the whole module takes well under a minute in a debug build on two cores.
//! `PROPTEST_CASES=N` runs N cases of every property instead (a longer hunt:
//! `PROPTEST_CASES=5000 cargo test -p flotilla --lib controller::fuzz`). A failure prints the
//! shrunk input; nothing is written into the source tree — a bug found becomes a unit test next
//! to the code it fixes.
//!
//! Here rather than in `host/tests/`: the observation path (`observe`, the lenient watch
//! triage, `remote_scopes`) is private to the controller, and these tests reach it as it is.

mod policies;
mod secrets;
mod workflow_json;
mod workflows;

use proptest::prelude::*;
use proptest::sample::select;

/// The configuration of a property that runs `cases` cases unless `PROPTEST_CASES` says
/// otherwise. No failure file is written: the shrunk input is printed.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.failure_persistence = None;
    // Shrinking a workflow can take long; what it has found by then is printed.
    config.max_shrink_time = 60_000;
    config
}

/// Names as a tenant may write them where a cluster, namespace, template or pod name goes:
/// valid ones (so that lookups succeed), and the rest.
const NAMES: &[&str] = &[
    "main",
    "a",
    "b",
    "cluster-0",
    "cluster-1",
    "team-a",
    "team-b",
    "kube-system",
    "cluster-\u{20ac}",
    "\u{e9}",
    "\u{1f980}",
    "",
    " ",
    "*",
    "cluster-1:*",
    "a:b",
    "..",
    "UPPER",
    "ns.with.dots",
    "a/b",
    "-lead",
    "trail-",
    "\u{0}",
    "{{inputs.parameters.p}}",
    "{{workflow.name}}",
    "{{workflow.namespace}}",
];

/// A hostile name: mostly from [`NAMES`], sometimes any text, sometimes too long.
fn name() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(NAMES).prop_map(String::from),
        2 => "[a-z0-9][a-z0-9-]{0,14}",
        1 => "\\PC{0,12}",
        1 => (60usize..300).prop_map(|n| "n".repeat(n)),
    ]
    .boxed()
}

/// One runtime for the async constructors (the authorizer, kube configurations); the code
/// under test is synchronous.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds")
}
