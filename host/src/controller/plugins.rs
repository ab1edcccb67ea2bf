//! The `flotilla-plugins` ConfigMap applied live: each extension point whose component or
//! settings changed is loaded — from a file, a `binaryData` key or a pinned https URL — and
//! swapped in; one that does not load leaves the last good plugin in force and says why (log,
//! `PluginLoadFailed` event on the ConfigMap, `flotilla_plugin_loads_total{outcome="failed"}`).
//! Also: what placement policies are told about the clusters, refreshed in the background.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use tracing::{info, warn};

use super::Context;
use super::pod_view::WorkflowPod;
use crate::plugins::settings::{CONFIG_MAP, PointSettings, Settings, Source};
use crate::plugins::{self, ExtensionPoint, PluginError, PluginHost};
use flotilla_engine::ports::ClusterState;

/// How often the cluster states placement policies see are recomputed.
const CLUSTER_STATE_EVERY: Duration = Duration::from_secs(2);

/// Applies the ConfigMap as it is now (`None`: deleted — every point back to built-in).
pub(super) async fn apply(ctx: &Context, cm: Option<&ConfigMap>) {
    let Some(cm) = cm else {
        for point in ctx.plugins.points() {
            info!(point = %point, "ConfigMap {CONFIG_MAP} deleted: the built-in behaviour applies");
            ctx.plugins.remove(&point);
        }
        return;
    };
    let settings = Settings::from_data(&cm.data.clone().unwrap_or_default());
    for problem in &settings.problems {
        warn!(problem = %problem, "invalid plugin configuration; the last good plugin stays");
        crate::metrics::plugin_load("(configuration)", false);
        super::events::warn_on(ctx, cm, "InvalidPluginConfig", problem).await;
    }
    // A point whose key is gone goes back to built-in; one whose key is present but invalid
    // keeps its plugin.
    let present: Vec<ExtensionPoint> = (cm.data.iter().flatten())
        .filter_map(|(key, _)| ExtensionPoint::parse(key))
        .collect();
    for point in ctx.plugins.points() {
        if !present.contains(&point) {
            info!(point = %point, "plugin removed from {CONFIG_MAP}: the built-in behaviour applies");
            ctx.plugins.remove(&point);
        }
    }
    let binary: BTreeMap<String, Vec<u8>> = cm
        .binary_data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (point, point_settings) in &settings.points {
        match load(ctx, point, point_settings, &binary).await {
            Ok(None) => {}
            Ok(Some(digest)) => {
                let note = format!(
                    "{point}: component sha256:{digest} in force (failurePolicy {:?})",
                    point_settings.failure_policy
                );
                super::events::note_on(ctx, cm, false, "PluginLoaded", &note).await;
            }
            Err(e) => {
                let message = format!("{point}: {e}; the last good plugin stays in force");
                warn!(point = %point, error = %e, "plugin not loaded; the last good one stays");
                crate::metrics::plugin_load(&point.to_string(), false);
                super::events::warn_on(ctx, cm, "PluginLoadFailed", &message).await;
            }
        }
    }
}

/// Why a point's component could not be put in force.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("component.file {path}: {message}")]
    File { path: String, message: String },
    #[error("component.configMapKey {0}: no such binaryData key in ConfigMap {CONFIG_MAP}")]
    MissingKey(String),
    #[error(transparent)]
    Fetch(#[from] plugins::FetchError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("the plugin host is not available: {0}")]
    NoHost(PluginError),
}

/// Puts `point`'s component in force; its digest, or `None` when it already was.
async fn load(
    ctx: &Context,
    point: &ExtensionPoint,
    settings: &PointSettings,
    binary: &BTreeMap<String, Vec<u8>>,
) -> Result<Option<String>, LoadError> {
    let bytes = match &settings.source {
        Source::File(path) => tokio::fs::read(path).await.map_err(|e| LoadError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?,
        Source::ConfigMapKey(key) => binary
            .get(key)
            .cloned()
            .ok_or_else(|| LoadError::MissingKey(key.clone()))?,
        Source::Url(url) => {
            // Fetched again only when the pinned digest changed.
            if let Some(pinned) = &settings.sha256
                && ctx.plugins.is_current(point, settings, pinned)
            {
                return Ok(None);
            }
            plugins::fetch(url, ctx.trust_roots()).await?
        }
    };
    let digest = plugins::digest(&bytes);
    if ctx.plugins.is_current(point, settings, &digest) {
        return Ok(None);
    }
    let host = PluginHost::shared().map_err(LoadError::NoHost)?;
    let active = ctx.plugins.clone();
    let (point_owned, settings_owned) = (point.clone(), settings.clone());
    // Compiling takes a while: off the async threads.
    tokio::task::spawn_blocking(move || {
        active.install(&host, &point_owned, &settings_owned, &bytes)
    })
    .await
    .map_err(|e| {
        LoadError::Plugin(PluginError::Load {
            plugin: point.to_string(),
            what: "the component".into(),
            message: e.to_string(),
        })
    })??;
    if *point == ExtensionPoint::Placement {
        // Counted only while a placement policy is in force: current from its first call.
        *ctx.clusters.write() = Arc::new(cluster_states(ctx));
    }
    info!(point = %point, digest = %digest, failure_policy = ?settings.failure_policy, "plugin loaded and in force");
    crate::metrics::plugin_load(&point.to_string(), true);
    Ok(Some(digest))
}

/// Recomputes, every couple of seconds, what placement policies are told about the clusters:
/// each configured cluster's labels, whether its connection is healthy, and this controller's
/// pending and running pods there.
pub(super) async fn refresh_cluster_states(ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(CLUSTER_STATE_EVERY);
    loop {
        tick.tick().await;
        // Only placement policies are told; without one, nothing to count.
        if ctx.fixed_policies.is_none() && !ctx.plugins.has_placement() {
            continue;
        }
        let states = cluster_states(&ctx);
        *ctx.clusters.write() = Arc::new(states);
    }
}

fn cluster_states(ctx: &Context) -> Vec<ClusterState> {
    let registry = ctx.remotes.registry();
    let own = ctx.engine.cluster.clone().unwrap_or_default();
    let labels = |cluster: &str| -> Vec<(String, String)> {
        registry
            .labels(cluster)
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let mut own_state = ClusterState {
        name: String::new(),
        labels: labels(&own),
        healthy: true,
        ..Default::default()
    };
    count(ctx.pods.state().iter().map(|p| &**p), &mut own_state);
    let mut states = vec![own_state];
    let mut names: Vec<&str> = registry.clusters().filter(|c| *c != own).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let mut state = ClusterState {
            name: name.to_string(),
            labels: labels(name),
            healthy: true,
            ..Default::default()
        };
        for remote in ctx.remotes.open_in(name) {
            state.healthy &= remote.problem().is_none();
            count(remote.pods.state().iter().map(|p| &**p), &mut state);
        }
        states.push(state);
    }
    states
}

fn count<'a>(pods: impl Iterator<Item = &'a WorkflowPod>, state: &mut ClusterState) {
    for pod in pods {
        match pod.status.phase.as_deref() {
            Some("Running") => state.running_pods += 1,
            Some("Pending") | None => state.pending_pods += 1,
            _ => {}
        }
    }
}
