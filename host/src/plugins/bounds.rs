//! What one plugin instance may hold besides linear memory (capped by [`super::Limits`]):
//! tables, table elements, core instances and memories, counted per store (a plugin's store
//! holds its one instance). Without these a component could declare a table of millions of
//! elements, or hundreds of memories, each within the memory cap, and the host would allocate
//! them all.
//!
//! The bounds leave room above what the guests built by `plugins/` use: each (a `wasm32-wasip2`
//! component built with `wit-bindgen`) is 3 core instances, 2 tables, 1 memory, and at most 152
//! table elements (`credentials_eks`); a component adapted from WASI preview 1 adds an instance
//! and a memory. `every_repository_plugin_fits_the_sandbox` in `host/tests/plugins.rs` checks
//! that the repository's plugins still fit.

use wasmtime::{StoreLimits, StoreLimitsBuilder};

/// Core instances per store.
pub(crate) const MAX_INSTANCES: usize = 8;
/// Tables per store.
pub(crate) const MAX_TABLES: usize = 8;
/// Elements in any one table (so at most `MAX_TABLES × MAX_TABLE_ELEMENTS` in all).
pub(crate) const MAX_TABLE_ELEMENTS: usize = 10_000;
/// Linear memories per store (so at most `MAX_MEMORIES ×` the memory cap in all).
pub(crate) const MAX_MEMORIES: usize = 2;

/// The limiter for a plugin's store, its linear memory capped at `memory` bytes.
pub(super) fn store_limits(memory: usize) -> StoreLimits {
    StoreLimitsBuilder::new()
        .memory_size(memory)
        .instances(MAX_INSTANCES)
        .tables(MAX_TABLES)
        .table_elements(MAX_TABLE_ELEMENTS)
        .memories(MAX_MEMORIES)
        .build()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use wasmtime::component::Component;

    use super::*;
    use crate::plugins::runtime::{Grants, Limits, PluginError, PluginHost, World};
    use crate::plugins::warm::{Warm, WarmSpec};
    use crate::plugins::wit::WitVersion;

    /// Instantiates `wat` (a component importing nothing) as a plugin would be.
    fn instantiate(wat: &str) -> Result<(), PluginError> {
        let host = PluginHost::new(false).expect("host");
        let component = Component::new(&host.engine, wat).expect("the component compiles");
        let limits = Limits {
            deadline: Duration::from_secs(10),
            ..Limits::default()
        };
        let warm = Warm::new(WarmSpec::new(&host, "greedy", limits, Grants::default()));
        let linker = host.linker(WitVersion::V0_1_0, World::PlacementPolicy);
        warm.call(|store| linker.instantiate(store, &component), |_, _| Ok(()))
    }

    /// A module with `body`, instantiated `times` times.
    fn instances_of(body: &str, times: usize) -> String {
        let instances = "(core instance (instantiate $m))".repeat(times);
        format!("(component (core module $m {body}) {instances})")
    }

    fn refused(result: Result<(), PluginError>, reason: &str) {
        match result {
            Err(PluginError::Load {
                plugin, message, ..
            }) => {
                assert_eq!(plugin, "greedy");
                assert!(message.contains(reason), "{message:?} says {reason:?}");
            }
            other => panic!("refused because {reason}, not {other:?}"),
        }
    }

    #[test]
    fn components_within_the_bounds_instantiate() {
        let at_the_bounds = [
            instances_of("", MAX_INSTANCES),
            instances_of(&"(memory 1)".repeat(MAX_MEMORIES), 1),
            instances_of(&"(table 0 funcref)".repeat(MAX_TABLES), 1),
            instances_of(&format!("(table {MAX_TABLE_ELEMENTS} funcref)"), 1),
        ];
        for wat in at_the_bounds {
            assert_eq!(instantiate(&wat), Ok(()), "{wat}");
        }
    }

    #[test]
    fn too_many_instances_are_refused() {
        let wat = instances_of("", MAX_INSTANCES + 1);
        refused(instantiate(&wat), "instance count too high");
    }

    #[test]
    fn too_many_memories_are_refused() {
        // Each within the memory cap; together, not.
        let wat = instances_of("(memory 1)", MAX_MEMORIES + 1);
        refused(instantiate(&wat), "memory count too high");
        let wat = instances_of(&"(memory 1)".repeat(MAX_MEMORIES + 1), 1);
        refused(instantiate(&wat), "memory count too high");
    }

    #[test]
    fn too_many_tables_are_refused() {
        let wat = instances_of(&"(table 0 funcref)".repeat(MAX_TABLES + 1), 1);
        refused(instantiate(&wat), "table count too high");
    }

    #[test]
    fn a_huge_table_is_refused() {
        let wat = instances_of(&format!("(table {} funcref)", MAX_TABLE_ELEMENTS + 1), 1);
        refused(instantiate(&wat), "exceeds table limits");
    }
}
