//! wasmtime underneath the plugin API: one [`Engine`] (epoch interruption on, an epoch every
//! millisecond), one [`InstancePre`](wasmtime::component::InstancePre) per component, and a
//! warm instance per plugin reused across calls until one fails. A call's deadline binds both
//! the guest's own code (epochs) and its waits in WASI (`super::waits`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::output::TracedOutput;

pub(super) mod naming {
    wasmtime::component::bindgen!({ path: "../wit", world: "naming-policy" });
}

pub(super) mod placement {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "placement-policy",
        with: {
            "flotilla:plugins/types": super::naming::flotilla::plugins::types,
            "flotilla:plugins/log": super::naming::flotilla::plugins::log,
        },
    });
}

pub(super) mod credentials {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "credential-provider",
        with: {
            "flotilla:plugins/types": super::naming::flotilla::plugins::types,
            "flotilla:plugins/log": super::naming::flotilla::plugins::log,
        },
    });
}

pub(super) use naming::flotilla::plugins::{log, types};

/// The WIT package version this host provides.
pub const WIT_VERSION: &str = "0.1.0";

/// How often the engine's epoch advances: deadlines are counted in these.
const EPOCH: Duration = Duration::from_millis(1);

/// Why a plugin gave no usable answer. Safe to show: it never holds the plugin's inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {plugin}: loading {what}: {message}")]
    Load {
        plugin: String,
        what: String,
        message: String,
    },
    #[error(
        "plugin {plugin} does not provide world {world} of flotilla:plugins@{WIT_VERSION}: {message}"
    )]
    WrongWorld {
        plugin: String,
        world: &'static str,
        message: String,
    },
    #[error(
        "plugin {plugin} was built against flotilla:plugins@{version}; this controller provides @{WIT_VERSION}: rebuild it against the controller's wit/"
    )]
    Version { plugin: String, version: String },
    #[error("plugin {plugin} ran out of time ({budget:?})")]
    Timeout { plugin: String, budget: Duration },
    #[error("plugin {plugin} trapped: {message}")]
    Trap { plugin: String, message: String },
    #[error("plugin {plugin} refused: {message}")]
    Refused { plugin: String, message: String },
    #[error("plugin {plugin} returned an invalid {what} {value:?}: {problem}")]
    Invalid {
        plugin: String,
        what: &'static str,
        value: String,
        problem: String,
    },
}

impl PluginError {
    /// A short name for the kind of failure (a metric label).
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Load { .. } => "load",
            PluginError::WrongWorld { .. } => "wrong_world",
            PluginError::Version { .. } => "wrong_version",
            PluginError::Timeout { .. } => "timeout",
            PluginError::Trap { .. } => "trap",
            PluginError::Refused { .. } => "refused",
            PluginError::Invalid { .. } => "invalid",
        }
    }
}

/// The worlds a component may provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum World {
    NamingPolicy,
    PlacementPolicy,
    CredentialProvider,
}

impl World {
    pub const ALL: [World; 3] = [
        World::NamingPolicy,
        World::PlacementPolicy,
        World::CredentialProvider,
    ];

    /// The world named `name` (`naming-policy`, `placement-policy`, `credential-provider`).
    pub fn parse(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            World::NamingPolicy => "naming-policy",
            World::PlacementPolicy => "placement-policy",
            World::CredentialProvider => "credential-provider",
        }
    }
}

/// What one call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub deadline: Duration,
    /// Linear memory, in bytes.
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(100),
            memory: 16 << 20,
        }
    }
}

/// What a plugin's sandbox holds beyond nothing at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Host directories the plugin may read (at the same path inside), e.g. a projected
    /// service-account token's. Only credential providers are ever granted any.
    pub read_only_dirs: Vec<PathBuf>,
    /// Randomness and clocks fixed (seeded, at the epoch): a naming policy has no source of
    /// answers that change between calls but its own state.
    pub deterministic: bool,
}

/// The per-store state: WASI with nothing granted, the resource limiter, the plugin's name, the
/// current call's deadline.
pub(super) struct State {
    wasi: WasiCtx,
    pub(super) table: ResourceTable,
    limits: StoreLimits,
    plugin: String,
    /// When the current call (or instantiation) runs out of time: WASI waits end there.
    pub(super) deadline: Instant,
    /// The monotonic clock is stopped ([`Grants::deterministic`]): timers follow it.
    pub(super) clock_stopped: bool,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for State {}

impl log::Host for State {
    fn enabled(&mut self, level: log::Level) -> bool {
        match level {
            log::Level::Error => tracing::enabled!(tracing::Level::ERROR),
            log::Level::Warn => tracing::enabled!(tracing::Level::WARN),
            log::Level::Info => tracing::enabled!(tracing::Level::INFO),
            log::Level::Debug => tracing::enabled!(tracing::Level::DEBUG),
            log::Level::Trace => tracing::enabled!(tracing::Level::TRACE),
        }
    }

    fn write(&mut self, level: log::Level, message: String) {
        let plugin = self.plugin.as_str();
        match level {
            log::Level::Error => tracing::error!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
        }
    }
}

/// The engine and linkers every plugin shares.
#[derive(Clone)]
pub struct PluginHost {
    pub(super) engine: Engine,
    pub(super) naming: Arc<Linker<State>>,
    pub(super) placement: Arc<Linker<State>>,
    pub(super) credentials: Arc<Linker<State>>,
    /// Where compiled components are kept (`None`: nowhere, compile every time).
    pub(super) cache: Option<super::cache::DiskCache>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").finish_non_exhaustive()
    }
}

impl PluginHost {
    /// The process's plugin host (one engine, one epoch ticker). It caches compiled components
    /// on disk only in the directory `$FLOTILLA_PLUGIN_CACHE` names, and only if that directory
    /// is safe to use (see `cache`; otherwise a warning says why); without one, every load
    /// compiles.
    pub fn shared() -> Result<PluginHost, PluginError> {
        static HOST: OnceLock<Result<PluginHost, PluginError>> = OnceLock::new();
        HOST.get_or_init(|| {
            let mut host = PluginHost::with_concurrency_support(false)?;
            host.cache = configured_cache();
            Ok(host)
        })
        .clone()
    }

    /// A separate host caching compiled components in `dir` — which must be safe to use, as
    /// `$FLOTILLA_PLUGIN_CACHE` must for the shared host.
    pub fn with_disk_cache(dir: &Path) -> Result<PluginHost, PluginError> {
        let cache = super::cache::DiskCache::open(dir).map_err(|e| PluginError::Load {
            plugin: "(host)".into(),
            what: "the compiled-component cache".into(),
            message: e.to_string(),
        })?;
        let mut host = PluginHost::with_concurrency_support(false)?;
        host.cache = Some(cache);
        Ok(host)
    }

    /// A separate host without a disk cache, with wasmtime's component-model concurrency
    /// support on or off (the shared host has it off; this exists to measure the difference).
    pub fn with_concurrency_support(enabled: bool) -> Result<PluginHost, PluginError> {
        let fail = |message: String| PluginError::Load {
            plugin: "(host)".into(),
            what: "the wasmtime engine".into(),
            message,
        };
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Every call is synchronous, so the shared host turns the component model's
        // concurrency machinery off (`cargo bench --bench plugins` measures both).
        config.concurrency_support(enabled);
        let engine = Engine::new(&config).map_err(|e| fail(e.to_string()))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("flotilla-wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH);
                }
            })
            .map_err(|e| fail(e.to_string()))?;
        let linker = |add: fn(&mut Linker<State>) -> wasmtime::Result<()>| {
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| fail(e.to_string()))?;
            super::waits::add_to_linker(&mut linker).map_err(|e| fail(format!("{e:#}")))?;
            add(&mut linker).map_err(|e| fail(e.to_string()))?;
            Ok::<_, PluginError>(Arc::new(linker))
        };
        Ok(PluginHost {
            naming: linker(|l| {
                naming::NamingPolicy::add_to_linker::<State, HasSelf<State>>(l, |s| s)
            })?,
            placement: linker(|l| {
                placement::PlacementPolicy::add_to_linker::<State, HasSelf<State>>(l, |s| s)
            })?,
            credentials: linker(|l| {
                credentials::CredentialProvider::add_to_linker::<State, HasSelf<State>>(l, |s| s)
            })?,
            engine,
            cache: None,
        })
    }

    /// The component, compiled — or read back from the disk cache when this engine compiled
    /// the same bytes before.
    pub(super) fn compile(&self, plugin: &str, bytes: &[u8]) -> Result<Component, PluginError> {
        if let Some(cache) = &self.cache
            && let Some(component) = cache.load(&self.engine, bytes)
        {
            return Ok(component);
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| PluginError::Load {
            plugin: plugin.to_string(),
            what: "the component".into(),
            message: format!("{e:#}"),
        })?;
        if let Some(cache) = &self.cache {
            cache.store(&self.engine, bytes, &component);
        }
        Ok(component)
    }

    pub(super) fn store(
        &self,
        plugin: &str,
        limits: Limits,
        grants: &Grants,
    ) -> Result<Store<State>, wasmtime::Error> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stdout(TracedOutput::new(plugin, "stdout"))
            .stderr(TracedOutput::new(plugin, "stderr"));
        if grants.deterministic {
            super::output::fix_randomness_and_clocks(&mut wasi);
        }
        for dir in &grants.read_only_dirs {
            let guest = dir.to_string_lossy();
            wasi.preopened_dir(dir, &guest, FsPerms::ReadOnly)?;
        }
        let state = State {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: super::bounds::store_limits(limits.memory),
            plugin: plugin.to_string(),
            deadline: Instant::now() + limits.deadline,
            clock_stopped: grants.deterministic,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        Ok(store)
    }

    /// Whether `component` provides `world`, as an instance-ready handle or the reason not.
    pub(super) fn check_world<P>(
        &self,
        plugin: &str,
        component: &Component,
        world: World,
        pre: impl FnOnce(&Linker<State>, &Component) -> wasmtime::Result<P>,
    ) -> Result<P, PluginError> {
        let linker = match world {
            World::NamingPolicy => &self.naming,
            World::PlacementPolicy => &self.placement,
            World::CredentialProvider => &self.credentials,
        };
        let wrong = |message: String| PluginError::WrongWorld {
            plugin: plugin.to_string(),
            world: world.name(),
            message,
        };
        // Another version is refused even when its imports happen to link: its contract is
        // not this host's.
        if let Some(version) = other_version(&self.engine, component) {
            return Err(PluginError::Version {
                plugin: plugin.to_string(),
                version,
            });
        }
        pre(linker, component).map_err(|e| wrong(format!("{e:#}")))
    }
}

/// The version of `flotilla:plugins` a component imports, when it is not this host's.
fn other_version(engine: &Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .filter_map(|(name, _)| name.strip_prefix("flotilla:plugins/"))
        .filter_map(|rest| rest.split_once('@').map(|(_, v)| v.to_string()))
        .find(|version| version != WIT_VERSION)
}

/// Which of the supported worlds a component provides (`flotilla plugin validate`).
pub fn validate(plugin: &str, bytes: &[u8]) -> Result<Vec<World>, PluginError> {
    let host = PluginHost::shared()?;
    let component = host.compile(plugin, bytes)?;
    if let Some(version) = other_version(&host.engine, &component) {
        return Err(PluginError::Version {
            plugin: plugin.to_string(),
            version,
        });
    }
    let provides = |world| match world {
        World::NamingPolicy => host
            .check_world(plugin, &component, world, |l, c| {
                naming::NamingPolicyPre::new(l.instantiate_pre(c)?)
            })
            .is_ok(),
        World::PlacementPolicy => host
            .check_world(plugin, &component, world, |l, c| {
                placement::PlacementPolicyPre::new(l.instantiate_pre(c)?)
            })
            .is_ok(),
        World::CredentialProvider => host
            .check_world(plugin, &component, world, |l, c| {
                credentials::CredentialProviderPre::new(l.instantiate_pre(c)?)
            })
            .is_ok(),
    };
    Ok(World::ALL.into_iter().filter(|w| provides(*w)).collect())
}

/// The shared host's disk cache: `$FLOTILLA_PLUGIN_CACHE`, if set and safe to use.
fn configured_cache() -> Option<super::cache::DiskCache> {
    let dir = std::env::var_os("FLOTILLA_PLUGIN_CACHE").filter(|dir| !dir.is_empty())?;
    match super::cache::DiskCache::open(Path::new(&dir)) {
        Ok(cache) => Some(cache),
        Err(e) => {
            tracing::warn!(dir = %e.dir.display(), problem = %e.problem, "not caching compiled plugins: {e}");
            None
        }
    }
}

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

/// A plugin's instance, kept warm between calls and replaced after one fails.
pub(super) struct Warm<B> {
    host: PluginHost,
    pub(super) name: String,
    limits: Limits,
    grants: Grants,
    slot: Mutex<Option<(Store<State>, B)>>,
}

impl<B> Warm<B> {
    pub(super) fn new(host: &PluginHost, name: &str, limits: Limits, grants: Grants) -> Self {
        Warm {
            host: host.clone(),
            name: name.to_string(),
            limits,
            grants,
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
            crate::metrics::plugin_failure(&self.name, e.kind());
        }
        result
    }

    fn call_in<R>(
        &self,
        slot: &mut Option<(Store<State>, B)>,
        instantiate: impl FnOnce(&mut Store<State>) -> wasmtime::Result<B>,
        call: impl FnOnce(&B, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        if slot.is_none() {
            let fail = |e| failure(&self.name, self.limits, e);
            let mut store = self
                .host
                .store(&self.name, self.limits, &self.grants)
                .map_err(fail)?;
            arm(&mut store, self.limits);
            let instance = instantiate(&mut store)
                .map_err(|e| instantiation_failure(&self.name, self.limits, e))?;
            *slot = Some((store, instance));
        }
        let Some((store, instance)) = slot.as_mut() else {
            unreachable!("instantiated above")
        };
        arm(store, self.limits);
        call(instance, store).map_err(|e| {
            // A trapped or interrupted instance is never called again.
            *slot = None;
            failure(&self.name, self.limits, e)
        })
    }

    /// Drops the warm instance: the next call starts from a fresh one.
    pub(super) fn discard(&self) {
        *self.slot.lock() = None;
    }

    /// The plugin's own refusal, counted.
    pub(super) fn refused(&self, e: types::PluginError) -> PluginError {
        self.counted(PluginError::Refused {
            plugin: self.name.clone(),
            message: e.message,
        })
    }

    /// An answer the host cannot use, counted.
    pub(super) fn invalid(
        &self,
        what: &'static str,
        value: String,
        problem: String,
    ) -> PluginError {
        self.counted(PluginError::Invalid {
            plugin: self.name.clone(),
            what,
            value,
            problem,
        })
    }

    fn counted(&self, error: PluginError) -> PluginError {
        crate::metrics::plugin_failure(&self.name, error.kind());
        error
    }
}
