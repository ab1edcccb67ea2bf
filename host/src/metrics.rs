//! The controller's Prometheus metrics, served as text at `/metrics` (port 9090, as Argo's
//! controller does), beside the probes `/healthz` and `/readyz` (`crate::health`). For now: what
//! the WebAssembly plugins do wrong and how loading them went.
//!
//! - `flotilla_plugin_failures_total{plugin, kind}`: calls that gave no usable answer — `kind`
//!   is `timeout`, `trap`, `refused`, `invalid`, `load` or `wrong_world`.
//! - `flotilla_plugin_loads_total{extension_point, outcome}`: configuration changes applied
//!   (`outcome="loaded"`) or refused, the last good plugin staying active (`outcome="failed"`).
//! - `flotilla_invalid_objects_total{kind}`: objects read from an API server that did not decode
//!   (`kind` is `Workflow` or `WorkflowTaskResult`), counted once per version of each object;
//!   they are skipped and reported on the object itself.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::LazyLock;

use http_body_util::Full;
use hyper::body::Bytes;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    plugin: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoadLabels {
    extension_point: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

struct Metrics {
    registry: Mutex<Registry>,
    plugin_failures: Family<FailureLabels, Counter>,
    plugin_loads: Family<LoadLabels, Counter>,
    invalid_objects: Family<KindLabels, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("flotilla");
    let plugin_failures = Family::<FailureLabels, Counter>::default();
    registry.register(
        "plugin_failures",
        "Plugin calls that gave no usable answer",
        plugin_failures.clone(),
    );
    let plugin_loads = Family::<LoadLabels, Counter>::default();
    registry.register(
        "plugin_loads",
        "Plugin configuration changes, applied or refused",
        plugin_loads.clone(),
    );
    let invalid_objects = Family::<KindLabels, Counter>::default();
    registry.register(
        "invalid_objects",
        "Objects that did not decode, skipped and reported on the object (once per version)",
        invalid_objects.clone(),
    );
    Metrics {
        registry: Mutex::new(registry),
        plugin_failures,
        plugin_loads,
        invalid_objects,
    }
});

/// Counts a plugin call that failed.
pub fn plugin_failure(plugin: &str, kind: &'static str) {
    METRICS
        .plugin_failures
        .get_or_create(&FailureLabels {
            plugin: plugin.to_string(),
            kind,
        })
        .inc();
}

/// Counts a plugin (re)load of an extension point.
pub fn plugin_load(extension_point: &str, loaded: bool) {
    METRICS
        .plugin_loads
        .get_or_create(&LoadLabels {
            extension_point: extension_point.to_string(),
            outcome: if loaded { "loaded" } else { "failed" },
        })
        .inc();
}

/// Counts an object of `kind` that did not decode (once per version of the object).
pub fn invalid_object(kind: &'static str) {
    METRICS
        .invalid_objects
        .get_or_create(&KindLabels { kind })
        .inc();
}

/// Every metric, in the Prometheus text format.
pub fn encode() -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &METRICS.registry.lock());
    text
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until the task is dropped.
pub async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving metrics at /metrics, probes at /healthz and /readyz");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|request| async move {
                let path = request.uri().path();
                let response = if path == "/metrics" {
                    hyper::Response::builder()
                        .header("content-type", "text/plain; version=0.0.4")
                        .body(Full::new(Bytes::from(encode())))
                } else if let Some((status, body)) = crate::health::probe(path) {
                    hyper::Response::builder()
                        .status(status)
                        .body(Full::new(Bytes::from_static(body.as_bytes())))
                } else {
                    hyper::Response::builder()
                        .status(404)
                        .body(Full::new(Bytes::from_static(b"not found\n")))
                };
                Ok::<_, Infallible>(response.unwrap_or_default())
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_are_counted_by_plugin_and_kind() {
        super::plugin_failure("metrics-test", "timeout");
        super::plugin_failure("metrics-test", "timeout");
        super::plugin_load("metrics-test-point", false);
        super::invalid_object("MetricsTestKind");
        let text = super::encode();
        assert!(
            text.contains(
                r#"flotilla_plugin_failures_total{plugin="metrics-test",kind="timeout"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"flotilla_plugin_loads_total{extension_point="metrics-test-point",outcome="failed"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"flotilla_invalid_objects_total{kind="MetricsTestKind"} 1"#),
            "{text}"
        );
    }
}
