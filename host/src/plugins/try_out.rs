//! `flotilla plugin test COMPONENT --world W --input FILE.json`: one call of a plugin outside
//! the controller, for plugin authors. The input is JSON in the shape of the world's arguments
//! (camelCase fields); the answer is printed as JSON.
//!
//! - `naming-policy`: `{"template": {…}, "config": "…"}` → `{"podName": "…"}`
//! - `placement-policy`: `{"template": {…}, "clusters": [{…}], "config": "…"}` →
//!   `{"cluster": "…", "namespace": "…"}`

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ClusterState, Limits, PluginError, PluginHost, TemplateInfo, World};

/// Why a trial call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    #[error("the input is not valid for world {world}: {message}")]
    Input {
        world: &'static str,
        message: String,
    },
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Call {
    #[serde(default)]
    template: TemplateInfo,
    #[serde(default)]
    clusters: Vec<ClusterState>,
    #[serde(default)]
    config: String,
}

/// Calls `world`'s function of the component with `input`; returns the answer as JSON.
pub fn try_out(plugin: &str, bytes: &[u8], world: World, input: &str) -> Result<Value, TryError> {
    let call: Call = serde_json::from_str(input).map_err(|e| TryError::Input {
        world: world.name(),
        message: e.to_string(),
    })?;
    let host = PluginHost::shared()?;
    match world {
        World::NamingPolicy => {
            let plugin = host.naming(plugin, bytes, Limits::default())?;
            let name = plugin.pod_name(&call.template, &call.config)?;
            Ok(json!({"podName": name}))
        }
        World::PlacementPolicy => {
            let plugin = host.placement(plugin, bytes, Limits::default())?;
            let place = plugin.place(&call.template, &call.clusters, &call.config)?;
            Ok(serde_json::to_value(place).unwrap_or_default())
        }
    }
}
