//! `flotilla plugin test COMPONENT --world W --input FILE.json`: one call of a plugin outside
//! the controller, for plugin authors. The input is JSON in the shape of the world's arguments
//! (camelCase fields); the answer is printed as JSON.
//!
//! - `naming-policy`: `{"template": {…}, "place": {…}, "config": "…"}` → `{"podName": "…"}`
//! - `placement-policy`: `{"template": {…}, "clusters": [{…}], "config": "…"}` →
//!   `{"cluster": "…", "namespace": "…"}`, and `"reason": "…"` when the plugin gives one
//!   (`flotilla:plugins@0.2.0`)
//! - `credential-provider`: `{"cluster": "…", "kind": "…", "entry": "…", "config": …,
//!   "now": SECONDS, "readOnlyDirs": […]}` → the credentials, secrets redacted

use serde::Deserialize;
use serde_json::{Value, json};

use secrecy::ExposeSecret;

use super::{ClusterState, Grants, Limits, Place, PluginError, PluginHost, TemplateInfo, World};
use crate::clusters::Auth;

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
    place: Place,
    /// The credential provider's arguments: `entry` is the Secret value, as text.
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    entry: String,
    now: Option<u64>,
    /// Directories the provider may read.
    #[serde(default)]
    read_only_dirs: Vec<std::path::PathBuf>,
    /// The plugin's configuration: a string, or any JSON (passed on as its text).
    #[serde(default, deserialize_with = "config_text")]
    config: String,
}

impl Call {
    fn grants(&self) -> Grants {
        Grants {
            read_only_dirs: self.read_only_dirs.clone(),
            deterministic: false,
        }
    }
}

fn config_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
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
            let name = plugin.pod_name(&call.template, &call.place, &call.config)?;
            Ok(json!({"podName": name}))
        }
        World::PlacementPolicy => {
            let plugin = host.placement(plugin, bytes, Limits::default())?;
            let decision = plugin.decide(&call.template, &call.clusters, &call.config)?;
            let mut answer = serde_json::to_value(decision.place).unwrap_or_default();
            if let Some(reason) = decision.reason {
                answer["reason"] = reason.into();
            }
            Ok(answer)
        }
        World::CredentialProvider => {
            let plugin = host.credentials(plugin, bytes, Limits::default(), call.grants())?;
            let now = call
                .now
                .unwrap_or_else(|| jiff::Timestamp::now().as_second().max(0) as u64);
            let c = plugin.provide(
                &call.cluster,
                &call.kind,
                call.entry.as_bytes(),
                &call.config,
                now,
            )?;
            // Secrets stay out of the output too: what kind they are and how long, not what.
            let auth = match &c.auth {
                Auth::None => "none".to_string(),
                Auth::BearerToken(t) => {
                    format!(
                        "bearer token (redacted, {} characters)",
                        t.expose_secret().len()
                    )
                }
                Auth::ClientCertificate { .. } => "client certificate (key redacted)".into(),
                Auth::Basic { username, .. } => {
                    format!("basic, user {username:?} (password redacted)")
                }
            };
            Ok(json!({
                "server": c.server,
                "caPem": format!("{} bytes", c.ca_pem.len()),
                "insecure": c.insecure,
                "serverName": c.server_name,
                "auth": auth,
                "expiresAt": c.expires_at,
            }))
        }
    }
}
