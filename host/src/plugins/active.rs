//! The plugins in force, per extension point, swapped live: a new component is loaded (and,
//! for naming, checked for determinism) before it replaces the old one, so one that fails
//! leaves the last good plugin active. Each also implements the engine's policy trait with its
//! point's failure policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use super::settings::{CREDENTIALS_PREFIX, FailurePolicy, NAMING, PLACEMENT, PointSettings};
use super::{
    ClusterCredentials, CredentialPlugin, Grants, NamingPlugin, PlacementPlugin, PluginError,
    PluginHost,
};
use flotilla_engine::ports::{
    ClusterState, NamingPolicy, Place, PlacementPolicy, Policies, TemplateInfo,
};

/// A loaded plugin with the settings and component digest it was loaded from.
#[derive(Debug)]
pub struct Installed<P> {
    pub plugin: P,
    pub settings: PointSettings,
    /// SHA-256 of the component, lower-case hex.
    pub digest: String,
    /// The extension point (`placement`, `naming`, `credentials.<kind>`).
    pub point: String,
}

impl Installed<()> {
    fn with<P>(self, plugin: P) -> Installed<P> {
        Installed {
            plugin,
            settings: self.settings,
            digest: self.digest,
            point: self.point,
        }
    }
}

impl<P> Installed<P> {
    /// The answer under the point's failure policy: `Ignore` turns a failure into "no
    /// opinion" (the built-in answer), `Fail` passes it on.
    fn answer<T>(&self, result: Result<T, PluginError>) -> Result<Option<T>, String> {
        match result {
            Ok(answer) => Ok(Some(answer)),
            Err(e) if self.settings.failure_policy == FailurePolicy::Ignore => {
                tracing::warn!(point = %self.point, error = %e, "plugin failed; the built-in answer applies (failurePolicy: Ignore)");
                Ok(None)
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

impl PlacementPolicy for Installed<PlacementPlugin> {
    fn place(
        &self,
        template: &TemplateInfo,
        clusters: &[ClusterState],
    ) -> Result<Option<Place>, String> {
        self.answer(self.plugin.place(template, clusters, &self.settings.config))
    }
}

impl NamingPolicy for Installed<NamingPlugin> {
    fn pod_name(&self, template: &TemplateInfo, place: &Place) -> Result<Option<String>, String> {
        self.answer(self.plugin.pod_name(template, place, &self.settings.config))
    }
}

impl Installed<CredentialPlugin> {
    /// Credentials for a registry entry of this provider's kind.
    pub fn provide(
        &self,
        cluster: &str,
        kind: &str,
        entry: &[u8],
        now: u64,
    ) -> Result<ClusterCredentials, PluginError> {
        self.plugin
            .provide(cluster, kind, entry, &self.settings.config, now)
    }
}

/// The plugins in force.
#[derive(Debug, Default)]
pub struct Active {
    placement: RwLock<Option<Arc<Installed<PlacementPlugin>>>>,
    naming: RwLock<Option<Arc<Installed<NamingPlugin>>>>,
    /// By kind.
    credentials: RwLock<BTreeMap<String, Arc<Installed<CredentialPlugin>>>>,
}

/// SHA-256, lower-case hex.
pub fn digest(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl Active {
    /// The placement and naming policies in force, for the engine.
    pub fn policies(&self, clusters: Arc<Vec<ClusterState>>) -> Policies {
        Policies {
            placement: self
                .placement
                .read()
                .clone()
                .map(|p| p as Arc<dyn PlacementPolicy>),
            naming: self
                .naming
                .read()
                .clone()
                .map(|n| n as Arc<dyn NamingPolicy>),
            clusters,
        }
    }

    /// Whether a placement policy is in force.
    pub fn has_placement(&self) -> bool {
        self.placement.read().is_some()
    }

    /// The provider for registry entries of `kind`, if one is configured.
    pub fn credential_provider(&self, kind: &str) -> Option<Arc<Installed<CredentialPlugin>>> {
        self.credentials.read().get(kind).cloned()
    }

    /// Whether `point` already runs this component with these settings.
    pub fn is_current(&self, point: &str, settings: &PointSettings, digest: &str) -> bool {
        let same = |s: &PointSettings, d: &str| s == settings && d == digest;
        match point {
            PLACEMENT => self
                .placement
                .read()
                .as_ref()
                .is_some_and(|p| same(&p.settings, &p.digest)),
            NAMING => self
                .naming
                .read()
                .as_ref()
                .is_some_and(|p| same(&p.settings, &p.digest)),
            _ => point
                .strip_prefix(CREDENTIALS_PREFIX)
                .and_then(|kind| self.credentials.read().get(kind).cloned())
                .is_some_and(|p| same(&p.settings, &p.digest)),
        }
    }

    /// The extension points with a plugin in force.
    pub fn points(&self) -> Vec<String> {
        let mut points = Vec::new();
        if self.placement.read().is_some() {
            points.push(PLACEMENT.to_string());
        }
        if self.naming.read().is_some() {
            points.push(NAMING.to_string());
        }
        for kind in self.credentials.read().keys() {
            points.push(format!("{CREDENTIALS_PREFIX}{kind}"));
        }
        points
    }

    /// Loads `bytes` for `point` and puts it in force — or, if it does not load, does not
    /// provide the point's world, does not match its pinned digest or (for naming) is not
    /// deterministic, says why and leaves the plugin in force as it was.
    pub fn install(
        &self,
        host: &PluginHost,
        point: &str,
        settings: &PointSettings,
        bytes: &[u8],
    ) -> Result<(), PluginError> {
        let digest = digest(bytes);
        let name = format!("{point}@{}", &digest[..12]);
        if let Some(pinned) = &settings.sha256
            && *pinned != digest
        {
            return Err(PluginError::Load {
                plugin: name,
                what: "the component".into(),
                message: format!("its SHA-256 is {digest}, but the ConfigMap pins {pinned}"),
            });
        }
        let installed = Installed {
            plugin: (),
            settings: settings.clone(),
            digest: digest.clone(),
            point: point.to_string(),
        };
        match point {
            PLACEMENT => {
                let plugin = host.placement(&name, bytes, settings.limits)?;
                *self.placement.write() = Some(Arc::new(installed.with(plugin)));
            }
            NAMING => {
                let plugin = host.naming(&name, bytes, settings.limits)?;
                plugin.check_deterministic(&settings.config)?;
                *self.naming.write() = Some(Arc::new(installed.with(plugin)));
            }
            _ => {
                let kind = point.strip_prefix(CREDENTIALS_PREFIX).unwrap_or(point);
                let grants = Grants {
                    read_only_dirs: settings.read_only_dirs.clone(),
                    deterministic: false,
                };
                let plugin = host.credentials(&name, bytes, settings.limits, grants)?;
                self.credentials
                    .write()
                    .insert(kind.to_string(), Arc::new(installed.with(plugin)));
            }
        }
        Ok(())
    }

    /// Takes `point`'s plugin out of force: the built-in behaviour applies again.
    pub fn remove(&self, point: &str) {
        match point {
            PLACEMENT => *self.placement.write() = None,
            NAMING => *self.naming.write() = None,
            _ => {
                if let Some(kind) = point.strip_prefix(CREDENTIALS_PREFIX) {
                    self.credentials.write().remove(kind);
                }
            }
        }
    }
}
