//! The three kinds of loaded plugin and their one call each, whatever version of
//! `flotilla:plugins` they were built against (`super::wit` holds the bindings): the callers see
//! [`TemplateInfo`], [`Place`], [`ClusterState`], [`PlacementDecision`] and
//! [`ClusterCredentials`], and the host's checks on the answers are made here, once for every
//! version.

use super::runtime::{Grants, Limits, PluginError, PluginHost, World};
use super::warm::{invalid, refused};
use super::wit::{CredentialsCall, Loaded, NamingCall, PlacementCall, PlacementDecision};
use super::{ClusterState, Place, TemplateInfo};
use crate::clusters::{ClusterCredentials, CredentialRequest};

impl PluginHost {
    /// Loads a naming policy: its store's randomness and clocks are fixed.
    pub fn naming(
        &self,
        plugin: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<NamingPlugin, PluginError> {
        let grants = Grants {
            deterministic: true,
            ..Grants::default()
        };
        match self.load(plugin, bytes, World::NamingPolicy, limits, grants)? {
            Loaded::Naming(call) => Ok(NamingPlugin {
                name: plugin.to_string(),
                call,
            }),
            _ => unreachable!("loaded as a naming policy"),
        }
    }

    /// Loads a placement policy.
    pub fn placement(
        &self,
        plugin: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<PlacementPlugin, PluginError> {
        let world = World::PlacementPolicy;
        match self.load(plugin, bytes, world, limits, Grants::default())? {
            Loaded::Placement(call) => Ok(PlacementPlugin {
                name: plugin.to_string(),
                call,
            }),
            _ => unreachable!("loaded as a placement policy"),
        }
    }

    /// Loads a credential provider, with what it is granted (directories it may read).
    pub fn credentials(
        &self,
        plugin: &str,
        bytes: &[u8],
        limits: Limits,
        grants: Grants,
    ) -> Result<CredentialPlugin, PluginError> {
        match self.load(plugin, bytes, World::CredentialProvider, limits, grants)? {
            Loaded::Credentials(call) => Ok(CredentialPlugin {
                name: plugin.to_string(),
                call,
            }),
            _ => unreachable!("loaded as a credential provider"),
        }
    }
}

macro_rules! named_debug {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("name", &self.name)
                    .finish()
            }
        }
    };
}

/// A loaded naming policy, of whichever version of `flotilla:plugins`.
pub struct NamingPlugin {
    name: String,
    call: Box<dyn NamingCall>,
}
named_debug!(NamingPlugin);

impl NamingPlugin {
    /// The pod name for a node placed at `place`, checked: a DNS-1123 subdomain of at most
    /// 253 characters.
    pub fn pod_name(
        &self,
        template: &TemplateInfo,
        place: &Place,
        config: &str,
    ) -> Result<String, PluginError> {
        let answer = self.call.pod_name(template, place, config)?;
        let name = answer.map_err(|message| refused(&self.name, message))?;
        if let Some(problem) = flotilla_engine::naming::dns_subdomain_error(&name) {
            return Err(invalid(&self.name, "pod name", name, problem));
        }
        Ok(name)
    }

    /// Drops the warm instance: the next call instantiates afresh (the benchmarks measure
    /// instantiation with it).
    #[cfg(feature = "bench-hooks")]
    pub fn discard_instance(&self) {
        self.call.discard();
    }

    /// Checks the policy is deterministic with `config`: one node named twice by the warm
    /// instance and once by a fresh one must get one name. A plugin that counts, or keeps any
    /// other state between calls, fails this (randomness and clocks are already fixed).
    pub fn check_deterministic(&self, config: &str) -> Result<(), PluginError> {
        let template = TemplateInfo {
            workflow: "flotilla-probe".into(),
            workflow_namespace: "default".into(),
            node_name: "flotilla-probe[0].step(1:probe)".into(),
            template_name: "probe".into(),
            ..TemplateInfo::default()
        };
        let place = Place {
            cluster: String::new(),
            namespace: "default".into(),
        };
        let name = || match self.pod_name(&template, &place, config) {
            Ok(name) => Ok(name),
            // A refusal of the probe's node is an answer too; it must be the same each time.
            Err(PluginError::Refused { message, .. }) => Ok(format!("refused: {message}")),
            Err(e) => Err(e),
        };
        let first = name()?;
        let second = name()?;
        self.call.discard();
        let fresh = name()?;
        if first == second && second == fresh {
            return Ok(());
        }
        Err(invalid(
            &self.name,
            "pod name",
            second.clone(),
            format!(
                "not deterministic: the same node was named {first:?}, then {second:?}, then (by a fresh instance) {fresh:?}; pod names must depend only on the node, or a restarted controller would create pods twice"
            ),
        ))
    }
}

/// A loaded placement policy, of whichever version of `flotilla:plugins`.
pub struct PlacementPlugin {
    name: String,
    call: Box<dyn PlacementCall>,
}
named_debug!(PlacementPlugin);

impl PlacementPlugin {
    /// Where the node's pod goes. The caller still checks authorization on the answer.
    pub fn place(
        &self,
        template: &TemplateInfo,
        clusters: &[ClusterState],
        config: &str,
    ) -> Result<Place, PluginError> {
        self.decide(template, clusters, config).map(|d| d.place)
    }

    /// Where the node's pod goes, and why if the plugin says (from `flotilla:plugins@0.2.0`).
    pub fn decide(
        &self,
        template: &TemplateInfo,
        clusters: &[ClusterState],
        config: &str,
    ) -> Result<PlacementDecision, PluginError> {
        let answer = self.call.place(template, clusters, config)?;
        answer.map_err(|message| refused(&self.name, message))
    }
}

/// A loaded credential provider, of whichever version of `flotilla:plugins`.
pub struct CredentialPlugin {
    name: String,
    call: Box<dyn CredentialsCall>,
}
named_debug!(CredentialPlugin);

impl CredentialPlugin {
    /// Credentials for `cluster` from its registry entry (`kind`, the Secret value `entry`),
    /// at `now` (seconds since the Unix epoch).
    pub fn provide(
        &self,
        cluster: &str,
        kind: &str,
        entry: &[u8],
        config: &str,
        now: u64,
    ) -> Result<ClusterCredentials, PluginError> {
        let request = CredentialRequest {
            cluster,
            kind,
            entry,
            now,
        };
        let answer = self.call.provide(&request, config)?;
        let c = answer.map_err(|message| refused(&self.name, message))?;
        if let Some(problem) = c.server_problem() {
            return Err(invalid(&self.name, "server", c.server.clone(), problem));
        }
        Ok(c)
    }
}
