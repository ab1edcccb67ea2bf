//! How the API server reaches a node's kubelet for `pods/log`, as kube-apiserver does when started
//! without `--kubelet-certificate-authority`: HTTPS to an address the Node registered and the port
//! in its `daemonEndpoints.kubeletEndpoint`, not verifying the kubelet's self-signed certificate
//! and showing its own client certificate (`--kubelet-client-certificate`), which a kubelet
//! started with `--client-ca-file` requires.
//!
//! The address is the first of the Node's addresses by type InternalIP, ExternalIP, Hostname
//! (kubeadm's `--kubelet-preferred-address-types`). A kubelet's non-2xx answer becomes the error
//! kube-apiserver's `GenericHttpResponseChecker` makes of it; one it cannot reach is a 500.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Empty, Limited, StreamBody};
use hyper::body::Frame;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::Api;
use crate::codec::Body;
use crate::status::{ApiError, Result};

/// kube-apiserver's kubelet dial timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Go's `net/http` TLS handshake timeout.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a kubelet's error answer is read (the checker's `maxReadLength`).
const MAX_ERROR_BYTES: usize = 50_000;
const PREFERRED_ADDRESS_TYPES: [&str; 3] = ["InternalIP", "ExternalIP", "Hostname"];

/// Where a node's kubelet API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Location {
    host: String,
    port: u16,
}

/// The kubelet of `node`, from the Node object as it is stored.
pub(super) fn locate(api: &Api, node: &str) -> Result<Location> {
    let stored = api
        .store
        .get("nodes", "", node)
        .ok_or_else(|| ApiError::not_found("", "nodes", node))?;
    let status = &stored.value["status"];
    let addresses = status["addresses"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let host = PREFERRED_ADDRESS_TYPES
        .iter()
        .find_map(|t| {
            addresses
                .iter()
                .find(|a| a["type"] == *t)
                .and_then(|a| a["address"].as_str())
                .filter(|a| !a.is_empty())
        })
        .ok_or_else(|| {
            ApiError::unknown(format!(
                "no preferred addresses found; known addresses: {addresses:?}"
            ))
        })?;
    let port = status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(10250);
    Ok(Location {
        host: host.to_owned(),
        port,
    })
}

/// GETs `path_and_query` from the kubelet and returns its body as the API server's answer, or the
/// API error its answer stands for. `name` is the pod's, for error messages.
pub(super) async fn proxy(
    at: &Location,
    path_and_query: &str,
    name: &str,
    identity: Option<&Identity>,
) -> Result<Response<Body>> {
    let url = format!("https://{}:{}{path_and_query}", url_host(&at.host), at.port);
    let response = get(at, path_and_query, identity)
        .await
        .map_err(|e| ApiError::unknown(format!("Get {url:?}: {e}")))?;
    let (parts, body) = response.into_parts();
    if !(200..=206).contains(&parts.status.as_u16()) {
        let text = Limited::new(body, MAX_ERROR_BYTES)
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        return Err(match parts.status {
            StatusCode::INTERNAL_SERVER_ERROR => ApiError::internal(text),
            StatusCode::BAD_REQUEST => ApiError::bad_request(text),
            StatusCode::NOT_FOUND => ApiError::proxied_not_found("pods/log", name, &text),
            code => ApiError::unknown(format!(
                "the server responded with the status code {} but did not return more information ( pods/log {name})",
                code.as_u16()
            ))
            .with_code(code.as_u16()),
        });
    }
    // The kubelet's stream ends the answer where it ends; a broken stream ends it early.
    let data = body
        .into_data_stream()
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(|r| std::future::ready(r.ok().map(|b| Ok(Frame::data(b)))));
    let mut out = Response::new(StreamBody::new(data).boxed_unsync());
    if let Some(t) = parts.headers.get(http::header::CONTENT_TYPE) {
        out.headers_mut()
            .insert(http::header::CONTENT_TYPE, t.clone());
    }
    Ok(out)
}

fn url_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The client certificate the API server shows kubelets (`--kubelet-client-certificate`).
pub(crate) type Identity = Arc<(CertificateDer<'static>, PrivateKeyDer<'static>)>;

async fn get(
    at: &Location,
    path_and_query: &str,
    identity: Option<&Identity>,
) -> std::result::Result<Response<hyper::body::Incoming>, String> {
    let dial = |why: &str| format!("dial tcp {}:{}: {why}", url_host(&at.host), at.port);
    let connect = tokio::net::TcpStream::connect((at.host.as_str(), at.port));
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| dial("i/o timeout"))?
        .map_err(|e| {
            // Go's words for the common failures, as kube-apiserver reports them.
            match e.kind() {
                std::io::ErrorKind::ConnectionRefused => dial("connect: connection refused"),
                std::io::ErrorKind::TimedOut => dial("i/o timeout"),
                _ => dial(&e.to_string()),
            }
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Unverified(provider)));
    let config = match identity {
        Some(identity) => builder
            .with_client_auth_cert(vec![identity.0.clone()], identity.1.clone_key())
            .map_err(|e| e.to_string())?,
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from(at.host.clone()).map_err(|e| e.to_string())?;
    let handshake = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp);
    let tls = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| "net/http: TLS handshake timeout".to_owned())?
        .map_err(|e| format!("remote error: tls: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
    // Ends when the response's body is read or dropped (the proxied answer is done with).
    tokio::spawn(connection);
    let request = hyper::Request::get(path_and_query)
        .header(
            http::header::HOST,
            format!("{}:{}", url_host(&at.host), at.port),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

/// Accepts the kubelet's certificate unverified, as kube-apiserver does with no kubelet CA
/// configured; the handshake's signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::{RunOptions, server::Listener};
    use crate::logs::LogStore;

    /// A kubelet that requires the cluster CA's client certificates refuses a client without
    /// one, and answers the API server, which shows its own.
    #[tokio::test]
    async fn a_kubelet_with_a_client_ca_answers_only_the_api_server() {
        let tls = crate::tls::generate("test").expect("certificates");
        let options = RunOptions {
            client_ca_pem: Some(tls.ca_pem.clone()),
            ..RunOptions::default()
        };
        let listener = Listener::bind("node", &options).await.expect("bound");
        let at = Location {
            host: "127.0.0.1".into(),
            port: listener.port(),
        };
        let serving = tokio::spawn(listener.serve(LogStore::new()));
        let identity: Identity = Arc::new((
            tls.kubelet_client.0.clone(),
            tls.kubelet_client.1.clone_key(),
        ));

        let answered = get(&at, "/healthz", Some(&identity))
            .await
            .expect("answered");
        assert_eq!(answered.status(), StatusCode::OK);
        let refused = get(&at, "/healthz", None).await;
        assert!(
            refused.is_err(),
            "a client without a certificate was answered {:?}",
            refused.map(|r| r.status())
        );
        serving.abort();
    }
}
