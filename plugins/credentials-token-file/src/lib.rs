//! A bearer token read from a file on every call — a projected service account token that the
//! kubelet rotates, say. The entry (any `kind`; JSON):
//! `{"server": "https://…", "tokenFile": "/abs/path", "caData": "<base64 PEM>", "insecure": false,
//! "serverName": "…"}` (`caData`, `insecure` and `serverName` optional). The plugin's config
//! (JSON, may be empty): `{"refreshSeconds": 60}` (default 60, at least 1).
//!
//! The file is read with the filesystem the host grants this plugin: read-only, the directories
//! its configuration names. Without that grant the read fails, and the error says so. The token is
//! the file's text with surrounding whitespace trimmed. The credentials expire `refreshSeconds`
//! after `now`, so the host asks again — and the file is read again — that often. Errors name the
//! field and the path, never the token.

use flotilla_plugin_sdk::v0_1_0::credentials::log::{self, Level};
use flotilla_plugin_sdk::v0_1_0::credentials::{self, *};

use base64::Engine as _;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    server: Option<String>,
    ca_data: Option<String>,
    token_file: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    server_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default = "sixty")]
    refresh_seconds: u64,
}

fn sixty() -> u64 {
    60
}

struct TokenFile;

impl Guest for TokenFile {
    fn provide(
        cluster: String,
        _kind: String,
        entry: Vec<u8>,
        config: String,
        now: u64,
    ) -> Result<Credentials, PluginError> {
        let credentials =
            credentials(&entry, &config, now).map_err(|message| PluginError { message })?;
        if log::enabled(Level::Debug) {
            log::write(
                Level::Debug,
                &format!(
                    "cluster {cluster:?}: token read, good until {}",
                    credentials.expires_at
                ),
            );
        }
        Ok(credentials)
    }
}

credentials::export!(TokenFile);

/// What a JSON parse error says without quoting the input: its kind and where.
fn json_error(what: &str, e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Eof => "JSON that ends too soon",
        serde_json::error::Category::Data => "a field of the wrong type",
        serde_json::error::Category::Io => "unreadable",
    };
    format!(
        "{what} is not valid: {kind} at line {}, column {}",
        e.line(),
        e.column()
    )
}

fn credentials(entry: &[u8], config: &str, now: u64) -> Result<Credentials, String> {
    let config: Config = if config.trim().is_empty() {
        Config {
            refresh_seconds: 60,
        }
    } else {
        // The config is the operator's, not a secret: serde's message is shown as it is.
        serde_json::from_str(config)
            .map_err(|e| format!(r#"config: {e} (expected {{"refreshSeconds": 60}})"#))?
    };
    if config.refresh_seconds == 0 {
        return Err("config: refreshSeconds must be at least 1".into());
    }
    let entry: Entry = serde_json::from_slice(entry).map_err(|e| json_error("the entry", &e))?;
    let server = entry.server.as_deref().map(str::trim).unwrap_or_default();
    if server.is_empty() {
        return Err("the entry has no server".into());
    }
    if !(server.starts_with("https://") || server.starts_with("http://")) {
        return Err(format!(
            "the entry's server {server:?} is not an http(s) URL"
        ));
    }
    let ca_pem = match entry.ca_data.as_deref() {
        None | Some("") => String::new(),
        Some(data) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|_| "the entry's caData is not base64".to_string())?;
            match String::from_utf8(bytes) {
                Ok(text) if text.contains("-----BEGIN ") => text,
                _ => return Err("the entry's caData is not PEM (no -----BEGIN line)".into()),
            }
        }
    };
    let path = entry.token_file.as_deref().unwrap_or_default();
    if path.is_empty() {
        return Err("the entry has no tokenFile".into());
    }
    if !path.starts_with('/') {
        return Err(format!("tokenFile {path}: not an absolute path"));
    }
    let bytes = std::fs::read(path).map_err(|_| {
        format!("tokenFile {path}: not readable (has the directory been granted to this plugin?)")
    })?;
    let token = String::from_utf8(bytes).map_err(|_| format!("tokenFile {path}: not text"))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(format!("tokenFile {path}: empty"));
    }
    Ok(Credentials {
        server: server.trim_end_matches('/').to_string(),
        ca_pem,
        insecure: entry.insecure,
        server_name: entry.server_name,
        auth: Auth::BearerToken(token.to_string()),
        expires_at: now.saturating_add(config.refresh_seconds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";

    /// A file of its own under the system's temporary directory, with `text` in it.
    fn token_file(name: &str, text: &str) -> String {
        let dir =
            std::env::temp_dir().join(format!("credentials-token-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn entry(path: &str) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(CA);
        format!(
            r#"{{"server": "https://10.0.0.1:6443/", "caData": "{ca}", "tokenFile": "{path}", "serverName": "kubernetes.default"}}"#
        )
    }

    #[test]
    fn reads_and_trims_the_token_and_dates_the_next_read() {
        let path = token_file("ok", "  s3cr3t-token\n");
        let c = credentials(entry(&path).as_bytes(), "", 1_000).unwrap();
        assert_eq!(c.server, "https://10.0.0.1:6443");
        assert_eq!(c.ca_pem, CA);
        assert_eq!(c.server_name, "kubernetes.default");
        assert!(!c.insecure);
        assert_eq!(c.auth, Auth::BearerToken("s3cr3t-token".into()));
        assert_eq!(c.expires_at, 1_060);
        let c = credentials(entry(&path).as_bytes(), r#"{"refreshSeconds": 5}"#, 1_000).unwrap();
        assert_eq!(c.expires_at, 1_005);
        // A rotated token is read on the next call.
        std::fs::write(&path, "rotated").unwrap();
        let c = credentials(entry(&path).as_bytes(), "", 2_000).unwrap();
        assert_eq!(c.auth, Auth::BearerToken("rotated".into()));
    }

    #[test]
    fn errors_name_the_field_and_path_never_the_token() {
        let e = |entry: &str, config: &str| {
            let e = credentials(entry.as_bytes(), config, 0).unwrap_err();
            assert!(!e.contains("s3cr3t"), "{e}");
            e
        };
        assert_eq!(
            e(&entry("/nonexistent/flotilla/token"), ""),
            "tokenFile /nonexistent/flotilla/token: not readable (has the directory been granted to this plugin?)"
        );
        let blank = token_file("blank", " \n");
        assert_eq!(e(&entry(&blank), ""), format!("tokenFile {blank}: empty"));
        assert_eq!(
            e(&entry("token"), ""),
            "tokenFile token: not an absolute path"
        );
        assert_eq!(
            e(r#"{"server": "https://h"}"#, ""),
            "the entry has no tokenFile"
        );
        assert_eq!(e(r#"{"tokenFile": "/t"}"#, ""), "the entry has no server");
        assert_eq!(
            e(r#"{"server": "h:1", "tokenFile": "/t"}"#, ""),
            r#"the entry's server "h:1" is not an http(s) URL"#
        );
        assert_eq!(
            e(
                r#"{"server": "https://h", "caData": "s3cr3t!", "tokenFile": "/t"}"#,
                ""
            ),
            "the entry's caData is not base64"
        );
        assert_eq!(
            e(r#"{"server": "https://h", "tokenFile": 5}"#, ""),
            "the entry is not valid: a field of the wrong type at line 1, column 38"
        );
        let ok = entry(&token_file("ok2", "s3cr3t"));
        assert_eq!(
            e(&ok, r#"{"refreshSeconds": 0}"#),
            "config: refreshSeconds must be at least 1"
        );
        assert!(e(&ok, r#"{"refresh": 5}"#).starts_with("config: unknown field `refresh`"),);
    }
}
