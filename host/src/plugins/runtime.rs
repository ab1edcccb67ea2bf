//! wasmtime underneath the plugin API: one [`Engine`] (epoch interruption on, an epoch every
//! millisecond), a linker per version of `flotilla:plugins` and world, the sandbox each store
//! is made with, and loading: a component is compiled, its version read from its exports, and
//! checked to provide the world asked for (`super::warm` runs its calls).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::output::TracedOutput;
use super::warm::WarmSpec;
use super::wit::{Loaded, WitVersion};

/// How often the engine's epoch advances: deadlines are counted in these.
pub(super) const EPOCH: Duration = Duration::from_millis(1);

/// Why a plugin gave no usable answer. Safe to show: it never holds the plugin's inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {plugin}: loading {what}: {message}")]
    Load {
        plugin: String,
        what: String,
        message: String,
    },
    #[error("plugin {plugin} does not provide world {world} of flotilla:plugins: {message}")]
    WrongWorld {
        plugin: String,
        world: &'static str,
        message: String,
    },
    #[error(
        "plugin {plugin} was built against flotilla:plugins@{version}; this controller provides {}: rebuild it against one of those",
        WitVersion::provided()
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

impl State {
    /// The plugin's name, as its log lines carry it.
    pub(super) fn plugin(&self) -> &str {
        &self.plugin
    }
}

/// The engine and linkers every plugin shares.
#[derive(Clone)]
pub struct PluginHost {
    pub(super) engine: Engine,
    /// One per version and world: WASI with nothing granted, bounded waits, that world's
    /// imports.
    linkers: Arc<BTreeMap<(WitVersion, World), Linker<State>>>,
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
            let mut host = PluginHost::new(false)?;
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
        let mut host = PluginHost::new(false)?;
        host.cache = Some(cache);
        Ok(host)
    }

    /// A separate host without a disk cache, with wasmtime's component-model concurrency
    /// support on (the shared host has it off; this exists to measure the difference).
    #[cfg(feature = "bench-hooks")]
    pub fn with_concurrency_support() -> Result<PluginHost, PluginError> {
        PluginHost::new(true)
    }

    /// A host without a disk cache, with wasmtime's component-model concurrency support on or
    /// off.
    pub(super) fn new(enabled: bool) -> Result<PluginHost, PluginError> {
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
        let mut linkers = BTreeMap::new();
        for version in WitVersion::ALL {
            for world in World::ALL {
                let mut linker = Linker::new(&engine);
                wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
                    .map_err(|e| fail(e.to_string()))?;
                super::waits::add_to_linker(&mut linker).map_err(|e| fail(format!("{e:#}")))?;
                version
                    .add_to_linker(world, &mut linker)
                    .map_err(|e| fail(e.to_string()))?;
                linkers.insert((version, world), linker);
            }
        }
        Ok(PluginHost {
            linkers: Arc::new(linkers),
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

    /// `bytes` compiled and checked to provide `world` of a version this host has (the one its
    /// exports name), ready to run warm under `limits` with `grants`.
    pub(super) fn load(
        &self,
        plugin: &str,
        bytes: &[u8],
        world: World,
        limits: Limits,
        grants: Grants,
    ) -> Result<Loaded, PluginError> {
        let component = self.compile(plugin, bytes)?;
        self.load_compiled(
            plugin,
            &component,
            world,
            WarmSpec::new(self, plugin, limits, grants),
        )
    }

    fn load_compiled(
        &self,
        plugin: &str,
        component: &Component,
        world: World,
        warm: WarmSpec,
    ) -> Result<Loaded, PluginError> {
        let wrong = |message: String| PluginError::WrongWorld {
            plugin: plugin.to_string(),
            world: world.name(),
            message,
        };
        let version = self
            .version_of(plugin, component)?
            .ok_or_else(|| wrong("it exports no interface of flotilla:plugins".into()))?;
        let linker = self.linker(version, world);
        version
            .load(world, linker, component, warm)
            .map_err(|e| wrong(format!("{e:#}")))
    }

    /// The linker for components of `world` of `version`.
    pub(super) fn linker(&self, version: WitVersion, world: World) -> &Linker<State> {
        &self.linkers[&(version, world)]
    }

    /// The version of `flotilla:plugins` `component` exports, if it exports any; another
    /// version than this host's is refused even when its imports would link: its contract is
    /// not one this host keeps.
    fn version_of(
        &self,
        plugin: &str,
        component: &Component,
    ) -> Result<Option<WitVersion>, PluginError> {
        WitVersion::exported_by(&self.engine, component).map_err(|version| PluginError::Version {
            plugin: plugin.to_string(),
            version,
        })
    }
}

/// What a component provides: the version of `flotilla:plugins` its exports name, and which of
/// that version's worlds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provides {
    /// `None`: it exports no interface of `flotilla:plugins` (and so provides no world).
    pub version: Option<WitVersion>,
    pub worlds: Vec<World>,
}

/// What a component provides (`flotilla plugin validate`).
pub fn validate(plugin: &str, bytes: &[u8]) -> Result<Provides, PluginError> {
    let host = PluginHost::shared()?;
    let component = host.compile(plugin, bytes)?;
    let version = host.version_of(plugin, &component)?;
    let worlds = World::ALL
        .into_iter()
        .filter(|world| {
            let warm = WarmSpec::new(&host, plugin, Limits::default(), Grants::default());
            host.load_compiled(plugin, &component, *world, warm).is_ok()
        })
        .collect();
    Ok(Provides { version, worlds })
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
