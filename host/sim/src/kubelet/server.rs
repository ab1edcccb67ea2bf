//! The kubelet's own HTTPS API, the part an API server reaches for `pods/log`:
//! `GET /containerLogs/{namespace}/{pod}/{container}` with `PodLogOptions` as the query, and
//! `GET /healthz`.
//!
//! It listens on the node's IP and registers the port in the Node's
//! `status.daemonEndpoints.kubeletEndpoint`, which is where an API server looks. Like a kubelet
//! started without `--tls-cert-file`, it serves a self-signed certificate (kube-apiserver without
//! `--kubelet-certificate-authority` does not verify it). Given a client CA (`--client-ca-file`)
//! it admits only clients with a certificate that CA signed — the simulated clusters give their
//! kubelets their own CA, whose `kube-apiserver-kubelet-client` certificate their API server
//! shows; without one it admits anyone, as a kubelet with its default flags
//! (`--anonymous-auth=true`, `--authorization-mode=AlwaysAllow`) does.
//!
//! Answers follow `getContainerLogs` in `pkg/kubelet/server/server.go`: a pod with no container
//! started here is 404 `pod "x" does not exist`, a query that does not decode 400, options
//! `ValidatePodLogOptions` refuses 422, and a log that cannot be read 400 with the kubelet's
//! message, which the API server passes on as its own BadRequest.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Method, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::KubeletError;
use crate::codec::{self, Body};
use crate::logs::query::{self, QueryError};
use crate::logs::{ContainerRef, LogStore};

/// How long a client has to finish its TLS handshake (Go's `net/http` TLS handshake timeout).
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long to wait after a failed accept before the next.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// A bound, not yet serving, kubelet API.
pub(crate) struct Listener {
    tcp: TcpListener,
    tls: Arc<rustls::ServerConfig>,
}

impl Listener {
    /// Binds the node's IP and port (port 0 picks a free one) and makes the self-signed serving
    /// certificate for the node's name and IP; admits only clients the client CA signed, if
    /// there is one.
    pub(crate) async fn bind(
        node: &str,
        options: &super::RunOptions,
    ) -> Result<Self, KubeletError> {
        let ip: IpAddr = options
            .node_ip
            .parse()
            .map_err(|_| KubeletError::NodeIp(options.node_ip.clone()))?;
        let tls = serving_config(node, ip, options.client_ca_pem.as_deref())
            .map_err(KubeletError::Certificate)?;
        let address = SocketAddr::new(ip, options.port);
        let tcp = TcpListener::bind(address)
            .await
            .map_err(|source| KubeletError::Listen { address, source })?;
        Ok(Self { tcp, tls })
    }

    /// The port to register in the Node's status.
    pub(crate) fn port(&self) -> u16 {
        self.tcp.local_addr().map_or(0, |a| a.port())
    }

    /// Serves until the future is dropped, which ends every open connection too.
    pub(crate) async fn serve(self, logs: LogStore) {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.tls);
        let mut connections = JoinSet::new();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors, say: wait rather than spin.
                        tracing::debug!(error = %e, "kubelet API: accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next() => continue,
            };
            let (acceptor, logs) = (acceptor.clone(), logs.clone());
            connections.spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "kubelet API: TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "kubelet API: TLS handshake timed out");
                        return;
                    }
                };
                let service = service_fn(move |req| {
                    let logs = logs.clone();
                    async move { Ok::<_, Infallible>(handle(&logs, req.method(), req.uri())) }
                });
                let served = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
                if let Err(e) = served {
                    tracing::trace!(%peer, error = %e, "kubelet API: connection ended with an error");
                }
            });
        }
    }
}

fn serving_config(
    node: &str,
    ip: IpAddr,
    client_ca_pem: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let names = vec![node.to_owned(), ip.to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| format!("the client CA is not PEM: {e}"))?;
                roots.add(cert).map_err(|e| format!("the client CA: {e}"))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| format!("the client CA: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn text(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    codec::text_response(code, body)
}

fn handle(logs: &LogStore, method: &Method, uri: &Uri) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
    }
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz"] => text(StatusCode::OK, "ok"),
        ["containerLogs", namespace, pod, container]
            if ![namespace, pod, container].iter().any(|s| s.is_empty()) =>
        {
            container_logs(logs, namespace, pod, container, uri.query())
        }
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

fn container_logs(
    logs: &LogStore,
    namespace: &str,
    pod: &str,
    container: &str,
    query: Option<&str>,
) -> Response<Body> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let param = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (options, follow) = match query::parse(param) {
        Ok(parsed) => parsed,
        Err(QueryError::Decode(_)) => {
            return text(
                StatusCode::BAD_REQUEST,
                r#"{"message": "Unable to decode query."}"#,
            );
        }
        Err(QueryError::Invalid(_)) => {
            return text(
                StatusCode::UNPROCESSABLE_ENTITY,
                r#"{"message": "Invalid request."}"#,
            );
        }
    };
    if !logs.has_pod(namespace, pod) {
        return text(
            StatusCode::NOT_FOUND,
            format!("pod \"{pod}\" does not exist"),
        );
    }
    let now = jiff::Timestamp::now();
    let of = ContainerRef {
        namespace,
        pod,
        container,
    };
    let body = if follow {
        logs.follow(of, &options, now)
            .map(|lines| StreamBody::new(lines.map(|b| Ok(Frame::data(b)))).boxed_unsync())
    } else {
        logs.read(of, &options, now).map(codec::full)
    };
    match body {
        Ok(body) => {
            let mut resp = Response::new(body);
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            resp
        }
        Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::logs::LogStream;

    async fn get(logs: &LogStore, uri: &str) -> (StatusCode, String) {
        let resp = handle(logs, &Method::GET, &uri.parse().unwrap());
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn store_with_one_line() -> LogStore {
        let logs = LogStore::new();
        logs.start_container("ns", "p", "main");
        let at = jiff::Timestamp::now();
        logs.append("ns", "p", "main", LogStream::Stdout, at, "one\ntwo\n");
        logs
    }

    #[tokio::test]
    async fn container_logs_are_read_with_the_query_options() {
        let logs = store_with_one_line();
        assert_eq!(
            get(&logs, "/containerLogs/ns/p/main").await,
            (StatusCode::OK, "one\ntwo\n".into())
        );
        assert_eq!(
            get(&logs, "/containerLogs/ns/p/main?tailLines=1").await,
            (StatusCode::OK, "two\n".into())
        );
        assert_eq!(get(&logs, "/healthz").await, (StatusCode::OK, "ok".into()));
    }

    #[tokio::test]
    async fn refusals_are_the_kubelets() {
        let logs = store_with_one_line();
        let cases = [
            (
                "/containerLogs/ns/other/main",
                StatusCode::NOT_FOUND,
                r#"pod "other" does not exist"#,
            ),
            (
                "/containerLogs/ns/p/sidecar",
                StatusCode::BAD_REQUEST,
                r#"container "sidecar" in pod "p" is not available"#,
            ),
            (
                "/containerLogs/ns/p/main?previous=true",
                StatusCode::BAD_REQUEST,
                r#"previous terminated container "main" in pod "p" not found"#,
            ),
            (
                "/containerLogs/ns/p/main?tailLines=many",
                StatusCode::BAD_REQUEST,
                r#"{"message": "Unable to decode query."}"#,
            ),
            (
                "/containerLogs/ns/p/main?tailLines=-1",
                StatusCode::UNPROCESSABLE_ENTITY,
                r#"{"message": "Invalid request."}"#,
            ),
            (
                "/containerLogs/ns/p",
                StatusCode::NOT_FOUND,
                "404 page not found\n",
            ),
            (
                "/containerLogs/ns//main",
                StatusCode::NOT_FOUND,
                "404 page not found\n",
            ),
        ];
        for (uri, code, body) in cases {
            assert_eq!(get(&logs, uri).await, (code, body.to_owned()), "{uri}");
        }
        let resp = handle(&logs, &Method::POST, &"/healthz".parse().unwrap());
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
