//! Components named by an https URL in `flotilla-plugins`: fetched over TLS verified against the
//! given roots, refused when the server is not trusted or does not answer 200. A small HTTPS
//! server on loopback with its own CA stands in for a plugin registry.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `body` (status `status`) to every request at `https://localhost:PORT/…`; the CA's
/// root store and the port.
async fn serve(status: &'static str, body: Vec<u8>) -> (RootCertStore, u16) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("certificate");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_cert.der().to_vec()))
        .expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (roots, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_is_fetched_over_verified_tls() {
    let component = b"\0asm not really, but bytes all the same".to_vec();
    let (roots, port) = serve("200 OK", component.clone()).await;
    let url = format!("https://localhost:{port}/plugins/p.wasm");
    let fetched = flotilla::plugins::fetch(&url, Arc::new(roots))
        .await
        .expect("fetched");
    assert_eq!(fetched, component);
    assert_eq!(
        flotilla::plugins::digest(&fetched),
        flotilla::plugins::digest(&component)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_server_or_an_error_status_is_refused_with_the_url() {
    let (_, port) = serve("200 OK", b"bytes".to_vec()).await;
    let url = format!("https://localhost:{port}/p.wasm");
    let err = flotilla::plugins::fetch(&url, Arc::new(RootCertStore::empty()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("fetching {url}: TLS: ")), "{err}");
    let (roots, port) = serve("404 Not Found", b"no such plugin".to_vec()).await;
    let url = format!("https://localhost:{port}/p.wasm");
    let err = flotilla::plugins::fetch(&url, Arc::new(roots))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("fetching {url}: the server answered 404 Not Found")
    );
}
