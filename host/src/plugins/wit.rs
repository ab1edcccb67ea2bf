//! The released versions of `flotilla:plugins` (`wit/flotilla-plugins@<version>/`), one module
//! each (`v0_1_0`, `v0_2_0`) with its private bindings and its conversions to and from the
//! host's own types. Nothing outside this module sees a generated type: a loaded plugin is a
//! [`NamingCall`], [`PlacementCall`] or [`CredentialsCall`], whatever version it was built
//! against. A component's version is read from its exports — an interface of 0.2.0 and later
//! names it (`flotilla:plugins/placement@0.2.0`); 0.1.0's worlds export their function bare —
//! never guessed from its imports.
//!
//! Adding a version: a new `wit/flotilla-plugins@<next>/`, a module here that invokes
//! [`version!`] with what changed written out in it, and an entry in [`WitVersion`].

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::runtime::{PluginError, State, World};
use super::warm::WarmSpec;
use super::{ClusterState, Place, TemplateInfo};
use crate::clusters::{ClusterCredentials, CredentialRequest};

mod v0_1_0;
mod v0_2_0;

/// The functions 0.1.0's worlds export bare, one per world: how a 0.1.0 component is known.
const V0_1_0_EXPORTS: [&str; 3] = ["place", "pod-name", "provide"];

/// A version of the `flotilla:plugins` package this host provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WitVersion {
    V0_1_0,
    V0_2_0,
}

impl WitVersion {
    pub const ALL: [WitVersion; 2] = [WitVersion::V0_1_0, WitVersion::V0_2_0];

    /// `0.1.0`, `0.2.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1_0 => "0.1.0",
            WitVersion::V0_2_0 => "0.2.0",
        }
    }

    fn parse(version: &str) -> Option<WitVersion> {
        WitVersion::ALL.into_iter().find(|v| v.as_str() == version)
    }

    /// The versions this host provides, for messages: `@0.1.0 and @0.2.0`.
    pub(super) fn provided() -> String {
        let all: Vec<String> = WitVersion::ALL
            .iter()
            .map(|v| format!("@{}", v.as_str()))
            .collect();
        all.join(" and ")
    }

    /// The version `component` was built against, read from its exports: from 0.2.0 its
    /// interfaces name it (`flotilla:plugins/placement@0.2.0`); 0.1.0's worlds export their
    /// function bare (`place`, `pod-name`, `provide`). `Ok(None)` when it exports neither;
    /// `Err` (naming them) when it exports another version, or several.
    pub(super) fn exported_by(
        engine: &Engine,
        component: &Component,
    ) -> Result<Option<WitVersion>, String> {
        let mut versions: Vec<String> = component
            .component_type()
            .exports(engine)
            .filter_map(|(name, _)| match name.strip_prefix("flotilla:plugins/") {
                Some(rest) => Some(rest.split_once('@').map_or("", |(_, v)| v).to_string()),
                None => V0_1_0_EXPORTS
                    .contains(&name)
                    .then(|| WitVersion::V0_1_0.as_str().to_string()),
            })
            .collect();
        versions.sort_unstable();
        versions.dedup();
        match versions.as_slice() {
            [] => Ok(None),
            [one] => WitVersion::parse(one).map(Some).ok_or_else(|| one.clone()),
            several => Err(several.join(" and ")),
        }
    }

    /// Adds `world`'s host functions of this version (its imports: `log`) to `linker`.
    pub(super) fn add_to_linker(
        self,
        world: World,
        linker: &mut Linker<State>,
    ) -> wasmtime::Result<()> {
        match self {
            WitVersion::V0_1_0 => v0_1_0::add_to_linker(world, linker),
            WitVersion::V0_2_0 => v0_2_0::add_to_linker(world, linker),
        }
    }

    /// `component`, checked to provide `world` of this version, ready to instantiate warm.
    pub(super) fn load(
        self,
        world: World,
        linker: &Linker<State>,
        component: &Component,
        warm: WarmSpec,
    ) -> wasmtime::Result<Loaded> {
        match self {
            WitVersion::V0_1_0 => v0_1_0::load(world, linker, component, warm),
            WitVersion::V0_2_0 => v0_2_0::load(world, linker, component, warm),
        }
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A loaded component, as the world it was loaded for.
pub(super) enum Loaded {
    Naming(Box<dyn NamingCall>),
    Placement(Box<dyn PlacementCall>),
    Credentials(Box<dyn CredentialsCall>),
}

/// A plugin's own refusal: its message.
pub(super) type Refusal = String;

/// A placement policy's answer: the place and, from 0.2.0, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementDecision {
    pub place: Place,
    /// Shown to people (logged with the node; `flotilla plugin test`); `None` before 0.2.0.
    pub reason: Option<String>,
}

/// A naming policy of any version, on its warm instance. `Err`: the call failed (trap,
/// timeout; the instance is gone); `Ok(Err)`: the plugin refused.
pub(super) trait NamingCall: Send + Sync {
    fn pod_name(
        &self,
        template: &TemplateInfo,
        place: &Place,
        config: &str,
    ) -> Result<Result<String, Refusal>, PluginError>;

    /// Drops the warm instance: the next call instantiates afresh.
    fn discard(&self);
}

/// A placement policy of any version, as [`NamingCall`].
pub(super) trait PlacementCall: Send + Sync {
    fn place(
        &self,
        template: &TemplateInfo,
        clusters: &[ClusterState],
        config: &str,
    ) -> Result<Result<PlacementDecision, Refusal>, PluginError>;
}

/// A credential provider of any version, as [`NamingCall`]. The credentials are as the plugin
/// gave them: the caller checks them.
pub(super) trait CredentialsCall: Send + Sync {
    fn provide(
        &self,
        request: &CredentialRequest<'_>,
        config: &str,
    ) -> Result<Result<ClusterCredentials, Refusal>, PluginError>;
}

/// A version's module: its bindings (private), the `log` and `types` host functions, the
/// conversions of the records every version so far shares, and the three worlds' calls. A
/// version module invokes it with its WIT directory and writes out beside it what differs so
/// far: a placement answer into a [`PlacementDecision`], and from 0.2.0 the accessors of the
/// exported interfaces each world's function is called through (`exports: …`; 0.1.0's worlds
/// export their function bare, called on the world itself). A version that changes another
/// record stops taking that record from here.
macro_rules! version {
    (
        $path:literal,
        $placement_answer:ty => $decision:path
        $(, exports: $naming:ident, $placement:ident, $credentials:ident)?
    ) => {
        use wasmtime::component::{Component, HasSelf, Linker};

        use super::{
            CredentialsCall, Loaded, NamingCall, PlacementCall, PlacementDecision, Refusal,
        };
        use crate::clusters::{Auth, ClusterCredentials, CredentialRequest};
        use crate::plugins::runtime::{PluginError, State, World};
        use crate::plugins::warm::{WarmSpec, Warmed};
        use crate::plugins::{ClusterState, Place, TemplateInfo};

        mod naming {
            wasmtime::component::bindgen!({ path: $path, world: "naming-policy" });
        }

        mod placement {
            wasmtime::component::bindgen!({
                path: $path,
                world: "placement-policy",
                with: {
                    "flotilla:plugins/types": super::naming::flotilla::plugins::types,
                    "flotilla:plugins/log": super::naming::flotilla::plugins::log,
                },
            });
        }

        mod credentials {
            wasmtime::component::bindgen!({
                path: $path,
                world: "credential-provider",
                with: {
                    "flotilla:plugins/types": super::naming::flotilla::plugins::types,
                    "flotilla:plugins/log": super::naming::flotilla::plugins::log,
                },
            });
        }

        use naming::flotilla::plugins::{log, types};

        impl types::Host for State {}

        impl log::Host for State {
            fn enabled(&mut self, level: log::Level) -> bool {
                crate::plugins::output::log_enabled(tracing_level(level))
            }

            fn write(&mut self, level: log::Level, message: String) {
                crate::plugins::output::log_line(self.plugin(), tracing_level(level), &message)
            }
        }

        fn tracing_level(level: log::Level) -> tracing::Level {
            match level {
                log::Level::Error => tracing::Level::ERROR,
                log::Level::Warn => tracing::Level::WARN,
                log::Level::Info => tracing::Level::INFO,
                log::Level::Debug => tracing::Level::DEBUG,
                log::Level::Trace => tracing::Level::TRACE,
            }
        }

        impl From<&TemplateInfo> for types::TemplateInfo {
            fn from(t: &TemplateInfo) -> Self {
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
        }

        impl From<&Place> for types::Place {
            fn from(p: &Place) -> Self {
                types::Place {
                    cluster: p.cluster.clone(),
                    namespace: p.namespace.clone(),
                }
            }
        }

        impl From<types::Place> for Place {
            fn from(p: types::Place) -> Self {
                Place {
                    cluster: p.cluster,
                    namespace: p.namespace,
                }
            }
        }

        impl From<&ClusterState> for types::ClusterState {
            fn from(c: &ClusterState) -> Self {
                types::ClusterState {
                    name: c.name.clone(),
                    labels: c.labels.clone(),
                    healthy: c.healthy,
                    pending_pods: c.pending_pods,
                    running_pods: c.running_pods,
                }
            }
        }

        impl From<types::Credentials> for ClusterCredentials {
            fn from(c: types::Credentials) -> Self {
                let auth = match c.auth {
                    types::Auth::None => Auth::None,
                    types::Auth::BearerToken(token) => Auth::BearerToken(token.into()),
                    types::Auth::ClientCertificate((cert_pem, key)) => Auth::ClientCertificate {
                        cert_pem,
                        key_pem: key.into(),
                    },
                    types::Auth::Basic((username, password)) => Auth::Basic {
                        username,
                        password: password.into(),
                    },
                };
                ClusterCredentials {
                    server: c.server,
                    ca_pem: c.ca_pem,
                    insecure: c.insecure,
                    server_name: c.server_name,
                    auth,
                    expires_at: (c.expires_at != 0).then_some(c.expires_at),
                }
            }
        }

        pub(super) fn add_to_linker(
            world: World,
            linker: &mut Linker<State>,
        ) -> wasmtime::Result<()> {
            type Own = HasSelf<State>;
            match world {
                World::NamingPolicy => {
                    naming::NamingPolicy::add_to_linker::<State, Own>(linker, |s| s)
                }
                World::PlacementPolicy => {
                    placement::PlacementPolicy::add_to_linker::<State, Own>(linker, |s| s)
                }
                World::CredentialProvider => {
                    credentials::CredentialProvider::add_to_linker::<State, Own>(linker, |s| s)
                }
            }
        }

        pub(super) fn load(
            world: World,
            linker: &Linker<State>,
            component: &Component,
            warm: WarmSpec,
        ) -> wasmtime::Result<Loaded> {
            let pre = linker.instantiate_pre(component)?;
            Ok(match world {
                World::NamingPolicy => {
                    let pre = naming::NamingPolicyPre::new(pre)?;
                    Loaded::Naming(Box::new(Warmed::new(pre, warm)))
                }
                World::PlacementPolicy => {
                    let pre = placement::PlacementPolicyPre::new(pre)?;
                    Loaded::Placement(Box::new(Warmed::new(pre, warm)))
                }
                World::CredentialProvider => {
                    let pre = credentials::CredentialProviderPre::new(pre)?;
                    Loaded::Credentials(Box::new(Warmed::new(pre, warm)))
                }
            })
        }

        impl NamingCall for Warmed<naming::NamingPolicyPre<State>, naming::NamingPolicy> {
            fn pod_name(
                &self,
                template: &TemplateInfo,
                place: &Place,
                config: &str,
            ) -> Result<Result<String, Refusal>, PluginError> {
                let (template, place) = (template.into(), place.into());
                let answer = self.warm.call(
                    |store| self.pre.instantiate(store),
                    |instance, store| {
                        instance $(.$naming())?
                            .call_pod_name(store, &template, &place, config)
                    },
                )?;
                Ok(answer.map_err(|e| e.message))
            }

            fn discard(&self) {
                self.warm.discard();
            }
        }

        impl PlacementCall
            for Warmed<placement::PlacementPolicyPre<State>, placement::PlacementPolicy>
        {
            fn place(
                &self,
                template: &TemplateInfo,
                clusters: &[ClusterState],
                config: &str,
            ) -> Result<Result<PlacementDecision, Refusal>, PluginError> {
                let template = template.into();
                let clusters: Vec<types::ClusterState> = clusters.iter().map(Into::into).collect();
                let answer = self.warm.call(
                    |store| self.pre.instantiate(store),
                    |instance, store| {
                        instance $(.$placement())?
                            .call_place(store, &template, &clusters, config)
                    },
                )?;
                let decision = |answer: $placement_answer| $decision(answer);
                Ok(answer.map(decision).map_err(|e| e.message))
            }
        }

        impl CredentialsCall
            for Warmed<credentials::CredentialProviderPre<State>, credentials::CredentialProvider>
        {
            fn provide(
                &self,
                r: &CredentialRequest<'_>,
                config: &str,
            ) -> Result<Result<ClusterCredentials, Refusal>, PluginError> {
                let answer = self.warm.call(
                    |store| self.pre.instantiate(store),
                    |instance, store| {
                        instance $(.$credentials())?
                            .call_provide(store, r.cluster, r.kind, r.entry, config, r.now)
                    },
                )?;
                Ok(answer.map(Into::into).map_err(|e| e.message))
            }
        }
    };
}
use version;

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// Every released package, as its guests were built against it: a released WIT package
    /// never changes.
    #[test]
    fn released_wit_packages_never_change() {
        let released = [
            (
                WitVersion::V0_1_0,
                &include_bytes!("../../../wit/flotilla-plugins@0.1.0/plugins.wit")[..],
                "76368f9453002ffd6350aa87860d75abec5a472d66683fb476e145096570f3f1",
            ),
            (
                WitVersion::V0_2_0,
                &include_bytes!("../../../wit/flotilla-plugins@0.2.0/plugins.wit")[..],
                "6071b89f2b3492e7dd93659c6e3d7798cbdb804ed79eca421f47d1b3a8a89014",
            ),
        ];
        assert_eq!(released.map(|(v, ..)| v), WitVersion::ALL);
        for (version, bytes, pinned) in released {
            assert_eq!(
                format!("{:x}", Sha256::digest(bytes)),
                pinned,
                "wit/flotilla-plugins@{version}/plugins.wit changed: a released WIT package never \
                 changes — add a new version beside it instead (docs/plugins.md)"
            );
        }
    }

    #[test]
    fn versions_read_and_print_as_the_package_names_them() {
        for version in WitVersion::ALL {
            assert_eq!(WitVersion::parse(version.as_str()), Some(version));
        }
        assert_eq!(WitVersion::parse("0.3.0"), None);
        assert_eq!(WitVersion::provided(), "@0.1.0 and @0.2.0");
    }
}
