//! Clients from a credential provider's answer ([`ClusterCredentials`]). A bearer
//! token is not baked into the client: every request takes it from a shared slot, so a
//! refreshed token reaches every later request — a watch's next list or watch included —
//! without a new client and without dropping the watches. Anything else that changes (server,
//! CA, client certificate) needs a new client; [`Shape`] tells the two apart.

use std::sync::Arc;

use base64::Engine as _;
use http::HeaderValue;
use kube::config::{AuthInfo, Cluster, KubeConfigOptions, Kubeconfig};
use parking_lot::RwLock;
use secrecy::ExposeSecret;

use super::provider::{Auth, ClusterCredentials};

/// Where a client reads its bearer token from; [`TokenSlot::set`] changes it for every later
/// request.
#[derive(Clone, Default)]
pub struct TokenSlot(Arc<RwLock<Option<HeaderValue>>>);

impl std::fmt::Debug for TokenSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSlot(<redacted>)")
    }
}

impl TokenSlot {
    /// Puts `auth`'s bearer token (if it is one) in the slot.
    pub fn set(&self, auth: &Auth) -> Result<(), String> {
        let value = match auth {
            Auth::BearerToken(token) => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| "the bearer token holds characters not allowed in a header")?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        *self.0.write() = value;
        Ok(())
    }

    fn get(&self) -> Option<HeaderValue> {
        self.0.read().clone()
    }
}

/// Everything about credentials but a bearer token's value: when it changes, a new client is
/// needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    server: String,
    ca_pem: String,
    insecure: bool,
    server_name: String,
    /// The auth kind, and for a client certificate or basic auth a hash of its secrets.
    auth: (u8, u64),
}

impl Shape {
    pub fn of(c: &ClusterCredentials) -> Shape {
        use std::hash::{Hash, Hasher};
        let hash = |parts: &[&str]| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            parts.hash(&mut h);
            h.finish()
        };
        let auth = match &c.auth {
            Auth::None => (0, 0),
            Auth::BearerToken(_) => (1, 0),
            Auth::ClientCertificate { cert_pem, key_pem } => {
                (2, hash(&[cert_pem, key_pem.expose_secret()]))
            }
            Auth::Basic { username, password } => (3, hash(&[username, password.expose_secret()])),
        };
        Shape {
            server: c.server.clone(),
            ca_pem: c.ca_pem.clone(),
            insecure: c.insecure,
            server_name: c.server_name.clone(),
            auth,
        }
    }
}

/// A client for `cluster` from provided credentials, and the slot its bearer token is read
/// from.
pub async fn client(
    cluster: &str,
    c: &ClusterCredentials,
) -> Result<(kube::Client, TokenSlot), String> {
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig(cluster, c), &KubeConfigOptions::default())
            .await
            .map_err(|e| format!("the provided credentials are unusable: {e}"))?;
    // The controller's own back-off answers a busy cluster (see `controller::credentials`).
    config.default_retry = false;
    let slot = TokenSlot::default();
    slot.set(&c.auth)?;
    let reader = slot.clone();
    let layer = tower::util::MapRequestLayer::new(move |mut request: http::Request<_>| {
        if let Some(value) = reader.get() {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        request
    });
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| format!("the provided credentials are unusable: {e}"))?;
    Ok((builder.with_layer(&layer).build(), slot))
}

/// An in-memory kubeconfig for the credentials, the bearer token left out (the slot sends it).
fn kubeconfig(name: &str, c: &ClusterCredentials) -> Kubeconfig {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut auth = AuthInfo::default();
    match &c.auth {
        Auth::None | Auth::BearerToken(_) => {}
        Auth::ClientCertificate { cert_pem, key_pem } => {
            auth.client_certificate_data = Some(b64(cert_pem));
            auth.client_key_data = Some(b64(key_pem.expose_secret()).into());
        }
        Auth::Basic { username, password } => {
            auth.username = Some(username.clone());
            auth.password = Some(password.expose_secret().to_string().into());
        }
    }
    let cluster = Cluster {
        server: Some(c.server.clone()),
        certificate_authority_data: (!c.ca_pem.is_empty()).then(|| b64(&c.ca_pem)),
        insecure_skip_tls_verify: c.insecure.then_some(true),
        tls_server_name: (!c.server_name.is_empty()).then(|| c.server_name.clone()),
        ..Cluster::default()
    };
    super::rest_config::single(name, cluster, auth)
}
