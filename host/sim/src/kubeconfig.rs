//! Writing a kubeconfig for simulated clusters: one cluster, user and context per cluster, each
//! named after it, as `kubectl config` and kube-rs read them.

use std::path::Path;

use base64::Engine as _;
use serde_json::json;

use crate::authn::Token;

/// One cluster's entries.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub server: String,
    pub ca_pem: Option<String>,
    pub token: Token,
}

/// The kubeconfig document for these clusters, with `current` as the current context.
pub fn render(entries: &[Entry], current: &str) -> String {
    let clusters: Vec<_> = entries
        .iter()
        .map(|e| {
            let mut cluster = json!({"server": e.server});
            if let Some(ca) = &e.ca_pem {
                cluster["certificate-authority-data"] =
                    json!(base64::engine::general_purpose::STANDARD.encode(ca));
            }
            json!({"name": e.name, "cluster": cluster})
        })
        .collect();
    let users: Vec<_> = entries
        .iter()
        .map(|e| json!({"name": e.name, "user": {"token": e.token.expose()}}))
        .collect();
    let contexts: Vec<_> = entries
        .iter()
        .map(|e| json!({"name": e.name, "context": {"cluster": e.name, "user": e.name, "namespace": "default"}}))
        .collect();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": current,
        "preferences": {},
    });
    serde_yaml::to_string(&doc).unwrap_or_default()
}

/// Writes the kubeconfig with owner-only permissions (it holds tokens).
pub fn write(path: &Path, entries: &[Entry], current: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(entries, current))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
