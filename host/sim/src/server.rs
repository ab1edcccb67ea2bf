//! The listener: TCP on loopback, optional TLS, HTTP/1.1 and HTTP/2 via hyper, and the
//! "unreachable" fault (connections refused by being dropped, open ones cut).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::Api;

pub(crate) async fn serve(
    listener: TcpListener,
    api: Arc<Api>,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(cluster = %api.cluster, error = %e, "accept failed");
                continue;
            }
        };
        if api.faults.is_unreachable() {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let acceptor = acceptor.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => connection(TokioIo::new(tls), api, peer, shutdown).await,
                    Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                },
                None => connection(TokioIo::new(stream), api, peer, shutdown).await,
            }
        });
    }
}

async fn connection<I>(io: I, api: Arc<Api>, peer: SocketAddr, mut shutdown: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut cuts = api.faults.watch_cuts();
    let svc_api = api.clone();
    let service = service_fn(move |req| {
        let api = svc_api.clone();
        async move { Ok::<_, std::convert::Infallible>(api.handle(req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(io, service);
    tokio::select! {
        r = conn => {
            if let Err(e) = r {
                tracing::trace!(peer = %peer, error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.changed() => {}
        _ = cut_off(&api, &mut cuts) => {}
    }
}

/// Resolves once an "unreachable" fault is on, which cuts open connections too. `cuts` changes
/// whenever faults cut connections; if its sender is gone, this never resolves.
async fn cut_off(api: &Api, cuts: &mut watch::Receiver<u64>) {
    loop {
        if cuts.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        if api.faults.is_unreachable() {
            return;
        }
    }
}
