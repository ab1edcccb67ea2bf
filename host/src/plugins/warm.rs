//! One plugin's calls: a warm instance per plugin, reused until a call fails, and each call
//! armed with its deadline — for the guest's own code (epochs) and its waits in WASI alike —
//! and run outside any async context. What a failure becomes: a typed, counted
//! [`PluginError`].

use std::time::Instant;

use parking_lot::Mutex;
use wasmtime::Store;

use super::runtime::{EPOCH, Grants, Limits, PluginError, PluginHost, State};

/// A call's failure from wasmtime: out of time (in its own code or waiting in WASI), or a trap.
fn failure(plugin: &str, limits: Limits, e: wasmtime::Error) -> PluginError {
    let timeout = || PluginError::Timeout {
        plugin: plugin.to_string(),
        budget: limits.deadline,
    };
    if e.downcast_ref::<super::waits::DeadlineReached>().is_some() {
        return timeout();
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => timeout(),
        _ => PluginError::Trap {
            plugin: plugin.to_string(),
            message: format!("{e:#}"),
        },
    }
}

/// An instantiation's failure: out of time or a trap (in a start function) as for a call;
/// anything else — an instance, table or memory over the sandbox's bounds — means this
/// component cannot be run here at all.
fn instantiation_failure(plugin: &str, limits: Limits, e: wasmtime::Error) -> PluginError {
    if e.downcast_ref::<wasmtime::Trap>().is_some()
        || e.downcast_ref::<super::waits::DeadlineReached>().is_some()
    {
        return failure(plugin, limits, e);
    }
    PluginError::Load {
        plugin: plugin.to_string(),
        what: "an instance (within the sandbox's limits)".into(),
        message: format!("{e:#}"),
    }
}

fn deadline_ticks(limits: Limits) -> u64 {
    (limits.deadline.as_millis() / EPOCH.as_millis()).max(1) as u64
}

/// Starts the clock on a call (or an instantiation): its guest code stops at the epoch
/// deadline, its WASI waits at the same time.
fn arm(store: &mut Store<State>, limits: Limits) {
    store.data_mut().deadline = Instant::now() + limits.deadline;
    store.set_epoch_deadline(deadline_ticks(limits));
}

thread_local! {
    /// Set while this thread runs outside any async context (see [`outside_async`]).
    static OUTSIDE_ASYNC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` where a plugin may block: wasmtime-wasi's synchronous bindings run a guest's
/// blocking operations (a file read, flushing stderr as it panics) on a Tokio runtime of their
/// own, which panics on a thread that is inside an async context. On a multi-threaded runtime
/// the thread leaves it (`block_in_place`); on a single-threaded one, `f` runs on a thread of
/// its own. The controller wraps a whole reconcile in this once, so its plugin calls pay
/// nothing more.
pub fn outside_async<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if OUTSIDE_ASYNC.get() {
        return f();
    }
    /// Clears the mark however `f` ends, a panic included.
    struct Mark;
    impl Drop for Mark {
        fn drop(&mut self) {
            OUTSIDE_ASYNC.set(false);
        }
    }
    let marked = || {
        OUTSIDE_ASYNC.set(true);
        let _mark = Mark;
        f()
    };
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => marked(),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(marked),
        Ok(_) => std::thread::scope(|s| match s.spawn(marked).join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

/// What a warm instance is made from: the host, the plugin's name, its limits and grants.
#[derive(Clone)]
pub(super) struct WarmSpec {
    host: PluginHost,
    name: String,
    limits: Limits,
    grants: Grants,
}

impl WarmSpec {
    pub(super) fn new(host: &PluginHost, name: &str, limits: Limits, grants: Grants) -> Self {
        WarmSpec {
            host: host.clone(),
            name: name.to_string(),
            limits,
            grants,
        }
    }
}

/// A loaded component of one version and world: its instance-ready handle, and the warm
/// instance made from it.
pub(super) struct Warmed<P, B> {
    pub(super) pre: P,
    pub(super) warm: Warm<B>,
}

impl<P, B> Warmed<P, B> {
    pub(super) fn new(pre: P, spec: WarmSpec) -> Self {
        Warmed {
            pre,
            warm: Warm::new(spec),
        }
    }
}

/// A plugin's instance, kept warm between calls and replaced after one fails.
pub(super) struct Warm<B> {
    spec: WarmSpec,
    slot: Mutex<Option<(Store<State>, B)>>,
}

impl<B> Warm<B> {
    pub(super) fn new(spec: WarmSpec) -> Self {
        Warm {
            spec,
            slot: Mutex::new(None),
        }
    }

    /// Runs `call` on the warm instance (instantiating one with `instantiate` if there is
    /// none) under the deadline; a trap or timeout discards the instance.
    pub(super) fn call<R: Send>(
        &self,
        instantiate: impl FnOnce(&mut Store<State>) -> wasmtime::Result<B> + Send,
        call: impl FnOnce(&B, &mut Store<State>) -> wasmtime::Result<R> + Send,
    ) -> Result<R, PluginError>
    where
        B: Send,
    {
        let mut guard = self.slot.lock();
        let slot: &mut Option<(Store<State>, B)> = &mut guard;
        let result = outside_async(|| self.call_in(slot, instantiate, call));
        if let Err(e) = &result {
            crate::metrics::plugin_failure(&self.spec.name, e.kind());
        }
        result
    }

    fn call_in<R>(
        &self,
        slot: &mut Option<(Store<State>, B)>,
        instantiate: impl FnOnce(&mut Store<State>) -> wasmtime::Result<B>,
        call: impl FnOnce(&B, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let WarmSpec {
            host,
            name,
            limits,
            grants,
        } = &self.spec;
        if slot.is_none() {
            let mut store = host
                .store(name, *limits, grants)
                .map_err(|e| failure(name, *limits, e))?;
            arm(&mut store, *limits);
            let instance =
                instantiate(&mut store).map_err(|e| instantiation_failure(name, *limits, e))?;
            *slot = Some((store, instance));
        }
        let Some((store, instance)) = slot.as_mut() else {
            unreachable!("instantiated above")
        };
        arm(store, *limits);
        call(instance, store).map_err(|e| {
            // A trapped or interrupted instance is never called again.
            *slot = None;
            failure(name, *limits, e)
        })
    }

    /// Drops the warm instance: the next call starts from a fresh one.
    pub(super) fn discard(&self) {
        *self.slot.lock() = None;
    }
}

/// A plugin's own refusal, counted.
pub(super) fn refused(plugin: &str, message: String) -> PluginError {
    counted(PluginError::Refused {
        plugin: plugin.to_string(),
        message,
    })
}

/// An answer the host cannot use, counted.
pub(super) fn invalid(
    plugin: &str,
    what: &'static str,
    value: String,
    problem: String,
) -> PluginError {
    counted(PluginError::Invalid {
        plugin: plugin.to_string(),
        what,
        value,
        problem,
    })
}

fn counted(error: PluginError) -> PluginError {
    let plugin = match &error {
        PluginError::Refused { plugin, .. } | PluginError::Invalid { plugin, .. } => plugin,
        _ => "",
    };
    crate::metrics::plugin_failure(plugin, error.kind());
    error
}
