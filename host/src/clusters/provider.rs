//! Where credentials for a registry entry come from when they are not read natively: a
//! [`CredentialProvider`], asked with the entry and answering [`ClusterCredentials`]. The
//! controller asks through the trait alone, so it cannot tell a WebAssembly provider
//! (`crate::plugins`) from a native one — and its credential paths are tested with
//! [`FixedCredentials`], without a built component.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use secrecy::SecretString;

/// How a provider's credentials authenticate. `Debug` never shows a secret.
#[derive(Clone)]
pub enum Auth {
    None,
    BearerToken(SecretString),
    ClientCertificate {
        cert_pem: String,
        key_pem: SecretString,
    },
    Basic {
        username: String,
        password: SecretString,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::BearerToken(_) => "BearerToken(<redacted>)",
            Auth::ClientCertificate { .. } => "ClientCertificate(<redacted>)",
            Auth::Basic { .. } => "Basic(<redacted>)",
        })
    }
}

/// Credentials for one cluster, as a provider returned them.
#[derive(Debug, Clone)]
pub struct ClusterCredentials {
    /// `https://host:port`.
    pub server: String,
    /// PEM; empty: the system's roots.
    pub ca_pem: String,
    pub insecure: bool,
    pub server_name: String,
    pub auth: Auth,
    /// Seconds since the Unix epoch; `None`: they do not expire.
    pub expires_at: Option<u64>,
}

impl ClusterCredentials {
    /// Why `server` cannot be used, if it cannot: it must be an `https://` URL with a host,
    /// whichever provider gave it (checked where credentials are taken, not per provider).
    pub fn server_problem(&self) -> Option<String> {
        match self.server.parse::<http::Uri>() {
            Ok(uri) if uri.scheme_str() == Some("https") && uri.host().is_some() => None,
            Ok(_) => Some("not an https:// URL with a host".into()),
            Err(e) => Some(e.to_string()),
        }
    }
}

/// What a provider is asked: one registry entry, at one time.
#[derive(Debug, Clone, Copy)]
pub struct CredentialRequest<'a> {
    /// The cluster the entry is for.
    pub cluster: &'a str,
    /// The entry's format (`rest-config`, `kubeconfig`, `eks`, …).
    pub kind: &'a str,
    /// The entry as stored (a Secret value): it may hold secrets, so it is never shown.
    pub entry: &'a [u8],
    /// Seconds since the Unix epoch.
    pub now: u64,
}

/// Why a provider gave no credentials. Its message is shown (logs, status), so a provider
/// never puts a secret in it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ProviderError(Box<dyn std::error::Error + Send + Sync>);

impl ProviderError {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> ProviderError {
        ProviderError(Box::new(error))
    }

    /// A refusal given as text.
    pub fn message(message: impl Into<String>) -> ProviderError {
        ProviderError(message.into().into())
    }

    /// The provider's own error, when it is an `E` (a plugin's `PluginError`, say).
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref()
    }
}

/// Turns a registry entry into credentials. Called off the async threads: it may block.
pub trait CredentialProvider: Send + Sync + std::fmt::Debug {
    fn provide(&self, request: &CredentialRequest<'_>)
    -> Result<ClusterCredentials, ProviderError>;
}

/// The providers in force, by entry kind.
pub trait CredentialProviders: Send + Sync {
    /// The provider for entries of `kind`; `None`: such entries are read natively.
    fn for_kind(&self, kind: &str) -> Option<Arc<dyn CredentialProvider>>;
}

impl<T: CredentialProviders + ?Sized> CredentialProviders for Arc<T> {
    fn for_kind(&self, kind: &str) -> Option<Arc<dyn CredentialProvider>> {
        (**self).for_kind(kind)
    }
}

impl CredentialProviders for BTreeMap<String, Arc<dyn CredentialProvider>> {
    fn for_kind(&self, kind: &str) -> Option<Arc<dyn CredentialProvider>> {
        self.get(kind).cloned()
    }
}

/// A native stand-in: whatever credentials (or refusal) it was last given, for every entry.
/// For tests of what the controller does with a provider's answers, and for running without
/// WebAssembly where one fixed identity is all a cluster needs.
#[derive(Debug)]
pub struct FixedCredentials(RwLock<Result<ClusterCredentials, String>>);

impl FixedCredentials {
    pub fn new(credentials: ClusterCredentials) -> FixedCredentials {
        FixedCredentials(RwLock::new(Ok(credentials)))
    }

    /// The answer from now on: credentials, or a refusal with this message.
    pub fn set(&self, answer: Result<ClusterCredentials, String>) {
        *self.0.write() = answer;
    }
}

impl CredentialProvider for FixedCredentials {
    fn provide(&self, _: &CredentialRequest<'_>) -> Result<ClusterCredentials, ProviderError> {
        self.0.read().clone().map_err(ProviderError::message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(server: &str, token: &str) -> ClusterCredentials {
        ClusterCredentials {
            server: server.into(),
            ca_pem: String::new(),
            insecure: false,
            server_name: String::new(),
            auth: Auth::BearerToken(token.to_string().into()),
            expires_at: None,
        }
    }

    #[test]
    fn the_fixed_provider_answers_what_it_was_last_given_and_hides_secrets() {
        let fixed = FixedCredentials::new(token("https://a", "s3cret"));
        let request = CredentialRequest {
            cluster: "c1",
            kind: "fixed",
            entry: b"{}",
            now: 0,
        };
        let answer = fixed.provide(&request).expect("credentials");
        assert_eq!(answer.server, "https://a");
        assert!(!format!("{answer:?}").contains("s3cret"), "{answer:?}");
        fixed.set(Err("no token for cluster c1".into()));
        let providers: BTreeMap<String, Arc<dyn CredentialProvider>> = [(
            "fixed".to_string(),
            Arc::new(fixed) as Arc<dyn CredentialProvider>,
        )]
        .into();
        let refusal = providers
            .for_kind("fixed")
            .expect("a provider")
            .provide(&request)
            .expect_err("a refusal");
        assert_eq!(refusal.to_string(), "no token for cluster c1");
        assert!(providers.for_kind("eks").is_none());
    }

    #[test]
    fn a_server_must_be_an_https_url_with_a_host() {
        let with = |server: &str| token(server, "t");
        assert_eq!(with("https://10.0.0.1:6443").server_problem(), None);
        assert!(with("http://10.0.0.1").server_problem().is_some());
        assert!(with("https://").server_problem().is_some());
        assert!(with("not a url at all").server_problem().is_some());
    }
}
