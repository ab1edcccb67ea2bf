//! The rest config of the multi-cluster design: Go's `rest.Config` as JSON (`Host`,
//! `BearerToken`, `TLSClientConfig`…), one per `rest-config` Secret key. Turned into a kube-rs
//! configuration through an in-memory kubeconfig, so kube-rs itself handles the CA, client
//! certificates, tokens and TLS options exactly as it does for any kubeconfig.
//!
//! Secret values are never printed: `Debug` redacts them and errors name fields, not values.
//! Fields that name local files or commands are parsed here but only used once
//! `super::local_access` allowed them; the registry refuses the entry otherwise.

use base64::Engine as _;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use serde::Deserialize;

/// Go's `rest.Config`, as the design's JSON spells it. Unknown fields are ignored, as Go's
/// decoder does.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestConfig {
    pub host: String,
    #[serde(rename = "APIPath")]
    pub api_path: String,
    pub username: String,
    password: String,
    bearer_token: String,
    pub bearer_token_file: String,
    #[serde(rename = "TLSClientConfig")]
    pub tls: TlsClientConfig,
    /// Nanoseconds, as Go's `time.Duration`.
    pub timeout: i64,
    /// A client-go credential plugin (the same JSON as a kubeconfig's `exec`); used only where
    /// the operator allows commands (`super::local_access`).
    pub exec_provider: Option<kube::config::ExecConfig>,
    /// A client-go auth provider (`{name, config}`), allowed likewise.
    pub auth_provider: Option<kube::config::AuthProviderConfig>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TlsClientConfig {
    pub insecure: bool,
    pub server_name: String,
    pub cert_file: String,
    pub key_file: String,
    #[serde(rename = "CAFile")]
    pub ca_file: String,
    /// Base64 in the JSON (Go's `[]byte`).
    pub cert_data: Option<String>,
    key_data: Option<String>,
    #[serde(rename = "CAData")]
    pub ca_data: Option<String>,
}

impl std::fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("RestConfig")
            .field("host", &self.host)
            .field("username", &self.username)
            .field("password", &set(&self.password))
            .field("bearer_token", &set(&self.bearer_token))
            .field("insecure", &self.tls.insecure)
            .field("server_name", &self.tls.server_name)
            .field("has_ca_data", &self.tls.ca_data.is_some())
            .field("has_client_cert", &self.tls.cert_data.is_some())
            .field("has_exec_provider", &self.exec_provider.is_some())
            .field("has_auth_provider", &self.auth_provider.is_some())
            .finish()
    }
}

impl std::fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("insecure", &self.insecure)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Why an entry cannot be used. Names what is wrong, never a secret value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestConfigError {
    #[error("is not rest config JSON: {0}")]
    Json(String),
    #[error("has no Host")]
    NoHost,
    #[error("Host {0:?} is not an http(s) URL")]
    BadHost(String),
    #[error("TLSClientConfig.{0} is not base64")]
    NotBase64(&'static str),
    #[error("cannot be used: {0}")]
    Unusable(String),
}

impl RestConfig {
    /// Parses and checks one entry's JSON.
    pub fn parse(json: &[u8]) -> Result<RestConfig, RestConfigError> {
        let config: RestConfig = serde_json::from_slice(json).map_err(|e| {
            // Only where and what kind of problem: serde's own message may quote the value
            // (a token where a record was expected, say).
            let kind = match e.classify() {
                serde_json::error::Category::Syntax => "malformed JSON",
                serde_json::error::Category::Eof => "JSON that ends too soon",
                serde_json::error::Category::Data => "a field of the wrong type",
                serde_json::error::Category::Io => "unreadable",
            };
            RestConfigError::Json(format!(
                "{kind} at line {}, column {}",
                e.line(),
                e.column()
            ))
        })?;
        if config.host.trim().is_empty() {
            return Err(RestConfigError::NoHost);
        }
        let host = config.host.trim();
        if !(host.starts_with("https://") || host.starts_with("http://")) {
            return Err(RestConfigError::BadHost(host.to_string()));
        }
        for (field, value) in [
            ("CAData", &config.tls.ca_data),
            ("CertData", &config.tls.cert_data),
            ("KeyData", &config.tls.key_data),
        ] {
            if let Some(v) = value
                && base64::engine::general_purpose::STANDARD.decode(v).is_err()
            {
                return Err(RestConfigError::NotBase64(field));
            }
        }
        Ok(config)
    }

    /// The same connection as a one-context kubeconfig.
    pub fn to_kubeconfig(&self, name: &str) -> Kubeconfig {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let mut server = self.host.trim().trim_end_matches('/').to_string();
        if !self.api_path.is_empty() && self.api_path != "/" {
            server.push_str(&self.api_path);
        }
        let cluster = Cluster {
            server: Some(server),
            insecure_skip_tls_verify: self.tls.insecure.then_some(true),
            certificate_authority: opt(&self.tls.ca_file),
            certificate_authority_data: self.tls.ca_data.clone(),
            tls_server_name: opt(&self.tls.server_name),
            ..Default::default()
        };
        let user = AuthInfo {
            username: opt(&self.username),
            password: opt(&self.password).map(Into::into),
            token: opt(&self.bearer_token).map(Into::into),
            token_file: opt(&self.bearer_token_file),
            client_certificate: opt(&self.tls.cert_file),
            client_certificate_data: self.tls.cert_data.clone(),
            client_key: opt(&self.tls.key_file),
            client_key_data: self.tls.key_data.clone().map(Into::into),
            exec: self.exec_provider.clone(),
            auth_provider: self.auth_provider.clone(),
            ..Default::default()
        };
        single(name, cluster, user)
    }

    /// A kube-rs configuration for this entry (`namespace` as the default namespace).
    pub async fn to_config(&self, name: &str) -> Result<kube::Config, RestConfigError> {
        let mut config = kube::Config::from_custom_kubeconfig(
            self.to_kubeconfig(name),
            &KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| RestConfigError::Unusable(e.to_string()))?;
        if self.timeout > 0 {
            let timeout = std::time::Duration::from_nanos(self.timeout.unsigned_abs());
            config.read_timeout = Some(timeout);
            config.connect_timeout = Some(timeout);
        }
        Ok(config)
    }
}

/// A kubeconfig of one cluster, one user and the context joining them, all called `name`.
pub(crate) fn single(name: &str, cluster: Cluster, user: AuthInfo) -> Kubeconfig {
    Kubeconfig {
        clusters: vec![NamedCluster {
            name: name.to_string(),
            cluster: Some(cluster),
            other: Default::default(),
        }],
        auth_infos: vec![NamedAuthInfo {
            name: name.to_string(),
            auth_info: Some(user),
            other: Default::default(),
        }],
        contexts: vec![NamedContext {
            name: name.to_string(),
            context: Some(Context {
                cluster: name.to_string(),
                user: Some(name.to_string()),
                ..Default::default()
            }),
            other: Default::default(),
        }],
        current_context: Some(name.to_string()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_designs_example_parses_and_redacts() {
        let json = br#"{
          "Host": "https://0.0.0.0:57667", "APIPath": "", "Username": "", "Password": "",
          "BearerToken": "s3cr3t-token",
          "TLSClientConfig": {"Insecure": false, "ServerName": "", "CertFile": "", "KeyFile": "",
            "CAFile": "", "CertData": null, "KeyData": null, "CAData": "Y2E=", "NextProtos": null},
          "UserAgent": "", "DisableCompression": false, "QPS": 0, "Burst": 0, "Timeout": 0
        }"#;
        let config = RestConfig::parse(json).unwrap();
        assert_eq!(config.host, "https://0.0.0.0:57667");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        let kc = config.to_kubeconfig("other");
        let cluster = kc.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://0.0.0.0:57667"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Y2E="));
        assert!(kc.auth_infos[0].auth_info.as_ref().unwrap().token.is_some());
    }

    #[test]
    fn bad_entries_say_what_is_wrong_without_secrets() {
        let err = |j: &str| RestConfig::parse(j.as_bytes()).unwrap_err().to_string();
        assert_eq!(err(r#"{"BearerToken": "s3cr3t"}"#), "has no Host");
        assert_eq!(
            err(r#"{"Host": "0.0.0.0:1", "BearerToken": "s3cr3t"}"#),
            r#"Host "0.0.0.0:1" is not an http(s) URL"#
        );
        assert_eq!(
            err(r#"{"Host": "https://h", "TLSClientConfig": {"KeyData": "s3cr3t!"}}"#),
            "TLSClientConfig.KeyData is not base64"
        );
        assert_eq!(
            err(r#"{"Host": "https://h", "BearerToken": 7}"#),
            "is not rest config JSON: a field of the wrong type at line 1, column 38"
        );
        // A value where a record belongs is not quoted back.
        let misplaced = err(r#"{"Host": "https://h", "TLSClientConfig": "s3cr3t"}"#);
        assert!(!misplaced.contains("s3cr3t"), "{misplaced}");
    }

    #[tokio::test]
    async fn a_token_entry_becomes_a_kube_config() {
        let config = RestConfig::parse(br#"{"Host": "https://10.0.0.1:6443/", "BearerToken": "t", "TLSClientConfig": {"Insecure": true}, "Timeout": 5000000000}"#).unwrap();
        let kube = config.to_config("c").await.unwrap();
        assert_eq!(kube.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert!(kube.accept_invalid_certs);
        assert_eq!(kube.read_timeout, Some(std::time::Duration::from_secs(5)));
    }
}
