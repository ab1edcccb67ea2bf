//! wasmtime underneath the plugin API: one [`Engine`] (epoch interruption on, an epoch every
//! millisecond), one [`InstancePre`] per component, and a warm instance per plugin reused across
//! calls until one fails.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::{ClusterState, Place, TemplateInfo};

mod naming {
    wasmtime::component::bindgen!({ path: "../wit", world: "naming-policy" });
}

mod placement {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "placement-policy",
        with: {
            "flotilla:plugins/types": super::naming::flotilla::plugins::types,
            "flotilla:plugins/log": super::naming::flotilla::plugins::log,
        },
    });
}

use naming::flotilla::plugins::{log, types};

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
    #[error("plugin {plugin} does not provide world {world} of flotilla:plugins@0.1.0: {message}")]
    WrongWorld {
        plugin: String,
        world: &'static str,
        message: String,
    },
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

/// The worlds a component may provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    NamingPolicy,
    PlacementPolicy,
}

impl World {
    /// The world named `name` (`naming-policy`, `placement-policy`).
    pub fn parse(name: &str) -> Option<World> {
        match name {
            "naming-policy" => Some(World::NamingPolicy),
            "placement-policy" => Some(World::PlacementPolicy),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            World::NamingPolicy => "naming-policy",
            World::PlacementPolicy => "placement-policy",
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

/// The per-store state: WASI with nothing granted, the memory limiter, the plugin's name.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    plugin: String,
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
    engine: Engine,
    naming: Arc<Linker<State>>,
    placement: Arc<Linker<State>>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").finish_non_exhaustive()
    }
}

impl PluginHost {
    /// The process's plugin host (one engine, one epoch ticker).
    pub fn shared() -> Result<PluginHost, PluginError> {
        static HOST: OnceLock<Result<PluginHost, PluginError>> = OnceLock::new();
        HOST.get_or_init(|| PluginHost::with_concurrency_support(false))
            .clone()
    }

    /// A separate host, with wasmtime's component-model concurrency support on or off (the
    /// shared host has it off; this exists to measure the difference).
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
            engine,
        })
    }

    fn compile(&self, plugin: &str, bytes: &[u8]) -> Result<Component, PluginError> {
        Component::new(&self.engine, bytes).map_err(|e| PluginError::Load {
            plugin: plugin.to_string(),
            what: "the component".into(),
            message: format!("{e:#}"),
        })
    }

    fn store(&self, plugin: &str, limits: Limits) -> Store<State> {
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = State {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory)
                .instances(4)
                .build(),
            plugin: plugin.to_string(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store
    }

    /// Loads a naming policy.
    pub fn naming(
        &self,
        plugin: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<NamingPlugin, PluginError> {
        let component = self.compile(plugin, bytes)?;
        let pre = self
            .naming
            .instantiate_pre(&component)
            .and_then(naming::NamingPolicyPre::new)
            .map_err(|e| wrong_world(plugin, World::NamingPolicy, e))?;
        Ok(NamingPlugin {
            pre,
            warm: Warm::new(self, plugin, limits),
        })
    }

    /// Loads a placement policy.
    pub fn placement(
        &self,
        plugin: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<PlacementPlugin, PluginError> {
        let component = self.compile(plugin, bytes)?;
        let pre = self
            .placement
            .instantiate_pre(&component)
            .and_then(placement::PlacementPolicyPre::new)
            .map_err(|e| wrong_world(plugin, World::PlacementPolicy, e))?;
        Ok(PlacementPlugin {
            pre,
            warm: Warm::new(self, plugin, limits),
        })
    }
}

fn wrong_world(plugin: &str, world: World, e: wasmtime::Error) -> PluginError {
    PluginError::WrongWorld {
        plugin: plugin.to_string(),
        world: world.name(),
        message: format!("{e:#}"),
    }
}

/// Which of the supported worlds a component provides (`flotilla plugin validate`).
pub fn validate(plugin: &str, bytes: &[u8]) -> Result<Vec<World>, PluginError> {
    let host = PluginHost::shared()?;
    let component = host.compile(plugin, bytes)?;
    let mut worlds = Vec::new();
    if host
        .naming
        .instantiate_pre(&component)
        .and_then(naming::NamingPolicyPre::new)
        .is_ok()
    {
        worlds.push(World::NamingPolicy);
    }
    if host
        .placement
        .instantiate_pre(&component)
        .and_then(placement::PlacementPolicyPre::new)
        .is_ok()
    {
        worlds.push(World::PlacementPolicy);
    }
    Ok(worlds)
}

/// A call's failure from wasmtime: out of time, or a trap.
fn failure(plugin: &str, limits: Limits, e: wasmtime::Error) -> PluginError {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => PluginError::Timeout {
            plugin: plugin.to_string(),
            budget: limits.deadline,
        },
        _ => PluginError::Trap {
            plugin: plugin.to_string(),
            message: format!("{e:#}"),
        },
    }
}

fn deadline_ticks(limits: Limits) -> u64 {
    (limits.deadline.as_millis() / EPOCH.as_millis()).max(1) as u64
}

fn to_wit(t: &TemplateInfo) -> types::TemplateInfo {
    types::TemplateInfo {
        workflow: t.workflow.clone(),
        workflow_namespace: t.workflow_namespace.clone(),
        node_name: t.node_name.clone(),
        template_name: t.template_name.clone(),
        requested: types::Place {
            cluster: t.cluster.clone(),
            namespace: t.namespace.clone(),
        },
        annotations: t.annotations.clone(),
    }
}

/// A plugin's instance, kept warm between calls and replaced after one fails.
struct Warm<B> {
    host: PluginHost,
    name: String,
    limits: Limits,
    slot: Mutex<Option<(Store<State>, B)>>,
}

impl<B> Warm<B> {
    fn new(host: &PluginHost, name: &str, limits: Limits) -> Self {
        Warm {
            host: host.clone(),
            name: name.to_string(),
            limits,
            slot: Mutex::new(None),
        }
    }

    /// Runs `call` on the warm instance (instantiating one with `instantiate` if there is
    /// none) under the deadline; a trap or timeout discards the instance.
    fn call<R>(
        &self,
        instantiate: impl FnOnce(&mut Store<State>) -> wasmtime::Result<B>,
        call: impl FnOnce(&B, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let mut slot = self.slot.lock();
        if slot.is_none() {
            let mut store = self.host.store(&self.name, self.limits);
            store.set_epoch_deadline(deadline_ticks(self.limits));
            let instance =
                instantiate(&mut store).map_err(|e| failure(&self.name, self.limits, e))?;
            *slot = Some((store, instance));
        }
        let Some((store, instance)) = slot.as_mut() else {
            unreachable!("instantiated above")
        };
        store.set_epoch_deadline(deadline_ticks(self.limits));
        call(instance, store).map_err(|e| {
            // A trapped or interrupted instance is never called again.
            *slot = None;
            failure(&self.name, self.limits, e)
        })
    }

    fn refused(&self, e: types::PluginError) -> PluginError {
        PluginError::Refused {
            plugin: self.name.clone(),
            message: e.message,
        }
    }
}

/// A loaded naming policy.
pub struct NamingPlugin {
    pre: naming::NamingPolicyPre<State>,
    warm: Warm<naming::NamingPolicy>,
}

impl std::fmt::Debug for NamingPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamingPlugin")
            .field("name", &self.warm.name)
            .finish()
    }
}

impl NamingPlugin {
    /// The pod name for a node, checked: a DNS-1123 subdomain of at most 253 characters.
    pub fn pod_name(&self, template: &TemplateInfo, config: &str) -> Result<String, PluginError> {
        let template = to_wit(template);
        let answer = self.warm.call(
            |store| self.pre.instantiate(store),
            |instance, store| instance.call_pod_name(store, &template, config),
        )?;
        let name = answer.map_err(|e| self.warm.refused(e))?;
        if let Some(problem) = crate::naming::dns_subdomain_error(&name) {
            return Err(PluginError::Invalid {
                plugin: self.warm.name.clone(),
                what: "pod name",
                value: name,
                problem,
            });
        }
        Ok(name)
    }
}

/// A loaded placement policy.
pub struct PlacementPlugin {
    pre: placement::PlacementPolicyPre<State>,
    warm: Warm<placement::PlacementPolicy>,
}

impl std::fmt::Debug for PlacementPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacementPlugin")
            .field("name", &self.warm.name)
            .finish()
    }
}

impl PlacementPlugin {
    /// Where the node's pod goes. The caller still checks authorization on the answer.
    pub fn place(
        &self,
        template: &TemplateInfo,
        clusters: &[ClusterState],
        config: &str,
    ) -> Result<Place, PluginError> {
        let template = to_wit(template);
        let clusters: Vec<types::ClusterState> = clusters
            .iter()
            .map(|c| types::ClusterState {
                name: c.name.clone(),
                labels: c.labels.clone(),
                healthy: c.healthy,
                pending_pods: c.pending_pods,
                running_pods: c.running_pods,
            })
            .collect();
        let answer = self.warm.call(
            |store| self.pre.instantiate(store),
            |instance, store| instance.call_place(store, &template, &clusters, config),
        )?;
        let place = answer.map_err(|e| self.warm.refused(e))?;
        Ok(Place {
            cluster: place.cluster,
            namespace: place.namespace,
        })
    }
}
