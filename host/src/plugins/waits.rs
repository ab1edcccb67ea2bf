//! WASI's blocking waits, bounded by the call's deadline.
//!
//! Epoch interruption stops a guest only while it runs its own code. A guest blocked in a host
//! call — `wasi:io/poll#poll`, or `pollable.block`, on a `monotonic-clock` subscription (what
//! `sleep` becomes) — would wait as long as it asked, past its deadline and holding its plugin's
//! lock. So the host's own `poll` and `block` replace wasmtime-wasi's: the same wait, given up at
//! the call's deadline, which fails the call as timed out ([`DeadlineReached`]).
//!
//! Under a stopped clock (naming policies, [`super::Grants::deterministic`]), `subscribe-duration`
//! and `subscribe-instant` follow that clock: a wait for time to pass never ends, since none
//! does, so it runs into the deadline like any other; a wait for no time at all is ready at
//! once. A naming policy cannot measure time by how long a timer takes either.

use std::future::Future;
use std::time::Instant;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::io::poll;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use super::runtime::State;

/// The WASI 0.2 interfaces `wasmtime_wasi::p2::add_to_linker_sync` defines, at the version it
/// defines them: redefining a function needs the same name. Guests importing any 0.2.x match
/// them. The sandbox tests (`waits::tests`) fail if these stop replacing wasmtime-wasi's.
const WASI_POLL: &str = "wasi:io/poll@0.2.12";
const WASI_MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// A guest's wait reached its call's deadline: the call fails as timed out.
#[derive(Debug, thiserror::Error)]
#[error("the call's deadline passed while the plugin waited in a WASI call")]
pub(super) struct DeadlineReached;

/// Replaces wasmtime-wasi's blocking waits and clock subscriptions in `linker` (which has them
/// already) with the bounded ones above.
pub(super) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut io = linker.instance(WASI_POLL)?;
    io.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, State>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let state = store.data_mut();
            let wait = <ResourceTable as poll::Host>::poll(&mut state.table, pollables);
            Ok((within(state.deadline, wait)??,))
        },
    )?;
    io.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, State>, (pollable,): (Resource<DynPollable>,)| {
            let state = store.data_mut();
            let wait = <ResourceTable as poll::HostPollable>::block(&mut state.table, pollable);
            within(state.deadline, wait)??;
            Ok(())
        },
    )?;
    let mut clock = linker.instance(WASI_MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, State>, (duration,): (u64,)| {
            let state = store.data_mut();
            if state.clock_stopped && duration > 0 {
                return Ok((never(&mut state.table)?,));
            }
            let clocks = &mut state.clocks();
            Ok((monotonic_clock::Host::subscribe_duration(clocks, duration)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, State>, (when,): (u64,)| {
            let state = store.data_mut();
            // The stopped monotonic clock reads 0 (`output::Stopped`): a later instant never comes.
            if state.clock_stopped && when > 0 {
                return Ok((never(&mut state.table)?,));
            }
            let clocks = &mut state.clocks();
            Ok((monotonic_clock::Host::subscribe_instant(clocks, when)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Runs `wait` to completion or until `deadline`, whichever comes first — on wasmtime-wasi's
/// Tokio runtime, as its own synchronous bindings do.
fn within<F: Future>(deadline: Instant, wait: F) -> wasmtime::Result<F::Output> {
    let left = deadline.saturating_duration_since(Instant::now());
    // The timer is made inside the runtime: it needs one's clock.
    wasmtime_wasi::runtime::in_tokio(async move { tokio::time::timeout(left, wait).await })
        .map_err(|_elapsed| DeadlineReached.into())
}

/// A subscription that is never ready.
struct Never;

#[async_trait::async_trait]
impl Pollable for Never {
    async fn ready(&mut self) {
        std::future::pending::<()>().await
    }
}

fn never(table: &mut ResourceTable) -> wasmtime::Result<Resource<DynPollable>> {
    let never = table.push(Never)?;
    subscribe(table, never)
}

#[cfg(test)]
mod tests;
