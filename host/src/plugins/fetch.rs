//! Fetching a component named by an `https://` URL in the `flotilla-plugins` ConfigMap. The
//! caller checks the bytes against the SHA-256 the ConfigMap pins before using them.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use rustls::RootCertStore;
use rustls::pki_types::ServerName;

/// Largest component fetched.
const MAX_COMPONENT: usize = 32 << 20;
/// How long a fetch may take, from connecting to the last byte.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a component could not be fetched; names the URL.
#[derive(Debug, thiserror::Error)]
#[error("fetching {url}: {message}")]
pub struct FetchError {
    pub url: String,
    pub message: String,
}

/// The system's trusted roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured).
pub fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 || ignored > 0 || !found.errors.is_empty() {
        tracing::debug!(
            added,
            ignored,
            errors = found.errors.len(),
            "system trust roots"
        );
    }
    roots
}

/// GETs `url` over TLS verified against `roots`; the body, if the answer is 200.
pub async fn fetch(url: &str, roots: Arc<RootCertStore>) -> Result<Vec<u8>, FetchError> {
    let fail = |message: String| FetchError {
        url: url.to_string(),
        message,
    };
    match tokio::time::timeout(TIMEOUT, get(url, roots)).await {
        Ok(result) => result.map_err(fail),
        Err(_) => Err(fail(format!("no answer within {TIMEOUT:?}"))),
    }
}

async fn get(url: &str, roots: Arc<RootCertStore>) -> Result<Vec<u8>, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err("not an https:// URL".into());
    }
    let host = uri.host().ok_or("no host")?.to_string();
    let port = uri.port_u16().unwrap_or(443);
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|e| format!("server name {host:?}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::get(path)
        .header(
            http::header::HOST,
            uri.authority().map_or(host.as_str(), |a| a.as_str()),
        )
        .header(http::header::USER_AGENT, "flotilla-controller")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("the server answered {}", response.status()));
    }
    let body = Limited::new(response.into_body(), MAX_COMPONENT)
        .collect()
        .await
        .map_err(|e| format!("reading the body (at most {MAX_COMPONENT} bytes): {e}"))?;
    Ok(body.to_bytes().to_vec())
}
