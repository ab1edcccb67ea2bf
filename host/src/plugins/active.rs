//! The plugins in force, per extension point, swapped live: a new component is loaded (and,
//! for naming, checked for determinism) before it replaces the old one, so one that fails
//! leaves the last good plugin active. Each also implements the engine's policy trait with its
//! point's failure policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use super::settings::{FailurePolicy, PointSettings};
use super::{
    CredentialPlugin, ExtensionPoint, Grants, NamingPlugin, PlacementPlugin, PluginError,
    PluginHost,
};
use crate::clusters::{
    ClusterCredentials, CredentialProvider, CredentialProviders, CredentialRequest, ProviderError,
};
use flotilla_engine::ports::{
    ClusterState, NamingPolicy, Place, PlacementPolicy, Policies, TemplateInfo,
};

/// A loaded plugin with the settings and component digest it was loaded from.
#[derive(Debug)]
struct Installed<P> {
    plugin: P,
    settings: PointSettings,
    /// SHA-256 of the component, lower-case hex.
    digest: String,
    point: ExtensionPoint,
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
        let decision = self
            .plugin
            .decide(template, clusters, &self.settings.config);
        if let Ok(decision) = &decision
            && let Some(reason) = &decision.reason
        {
            // Debug, not info: one line per pod placed, and the engine has yet to authorize the
            // place (a denied one fails its node, saying so).
            tracing::debug!(
                point = %self.point,
                workflow = %template.workflow,
                namespace = %template.workflow_namespace,
                node = %template.node_name,
                cluster = %decision.place.cluster,
                place_namespace = %decision.place.namespace,
                reason = %reason,
                "the placement plugin chose a place"
            );
        }
        self.answer(decision.map(|d| d.place))
    }
}

impl NamingPolicy for Installed<NamingPlugin> {
    fn pod_name(&self, template: &TemplateInfo, place: &Place) -> Result<Option<String>, String> {
        self.answer(self.plugin.pod_name(template, place, &self.settings.config))
    }
}

/// The WebAssembly path of [`CredentialProvider`]: the component, with its point's config.
impl CredentialProvider for Installed<CredentialPlugin> {
    fn provide(&self, r: &CredentialRequest<'_>) -> Result<ClusterCredentials, ProviderError> {
        let config = &self.settings.config;
        let answer = self
            .plugin
            .provide(r.cluster, r.kind, r.entry, config, r.now);
        answer.map_err(ProviderError::new)
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

    /// Whether `point` already runs this component with these settings.
    pub fn is_current(
        &self,
        point: &ExtensionPoint,
        settings: &PointSettings,
        digest: &str,
    ) -> bool {
        let same = |s: &PointSettings, d: &str| s == settings && d == digest;
        match point {
            ExtensionPoint::Placement => self
                .placement
                .read()
                .as_ref()
                .is_some_and(|p| same(&p.settings, &p.digest)),
            ExtensionPoint::Naming => self
                .naming
                .read()
                .as_ref()
                .is_some_and(|p| same(&p.settings, &p.digest)),
            ExtensionPoint::Credentials { kind } => self
                .credentials
                .read()
                .get(kind)
                .is_some_and(|p| same(&p.settings, &p.digest)),
        }
    }

    /// The extension points with a plugin in force.
    pub fn points(&self) -> Vec<ExtensionPoint> {
        let mut points = Vec::new();
        if self.placement.read().is_some() {
            points.push(ExtensionPoint::Placement);
        }
        if self.naming.read().is_some() {
            points.push(ExtensionPoint::Naming);
        }
        for kind in self.credentials.read().keys() {
            points.push(ExtensionPoint::credentials(kind));
        }
        points
    }

    /// Loads `bytes` for `point` and puts it in force — or, if it does not load, does not
    /// provide the point's world, does not match its pinned digest or (for naming) is not
    /// deterministic, says why and leaves the plugin in force as it was.
    pub fn install(
        &self,
        host: &PluginHost,
        point: &ExtensionPoint,
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
            point: point.clone(),
        };
        match point {
            ExtensionPoint::Placement => {
                let plugin = host.placement(&name, bytes, settings.limits)?;
                *self.placement.write() = Some(Arc::new(installed.with(plugin)));
            }
            ExtensionPoint::Naming => {
                let plugin = host.naming(&name, bytes, settings.limits)?;
                plugin.check_deterministic(&settings.config)?;
                *self.naming.write() = Some(Arc::new(installed.with(plugin)));
            }
            ExtensionPoint::Credentials { kind } => {
                let grants = Grants {
                    read_only_dirs: settings.read_only_dirs.clone(),
                    deterministic: false,
                };
                let plugin = host.credentials(&name, bytes, settings.limits, grants)?;
                self.credentials
                    .write()
                    .insert(kind.clone(), Arc::new(installed.with(plugin)));
            }
        }
        Ok(())
    }

    /// Takes `point`'s plugin out of force: the built-in behaviour applies again.
    pub fn remove(&self, point: &ExtensionPoint) {
        match point {
            ExtensionPoint::Placement => *self.placement.write() = None,
            ExtensionPoint::Naming => *self.naming.write() = None,
            ExtensionPoint::Credentials { kind } => {
                self.credentials.write().remove(kind);
            }
        }
    }
}

/// The credential providers in force, by kind, for the controller.
impl CredentialProviders for Active {
    fn for_kind(&self, kind: &str) -> Option<Arc<dyn CredentialProvider>> {
        let provider = self.credentials.read().get(kind).cloned()?;
        Some(provider)
    }
}
