//! Shared set-up for the simulator's integration tests: a cluster, clients, raw requests, and
//! waiting on conditions with a deadline.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use flotilla_sim::{ClusterConfig, SimCluster};
use http::Request;
use kube::Client;
use serde_json::Value;

pub async fn cluster() -> Result<SimCluster> {
    Ok(SimCluster::start(ClusterConfig::new("test")).await?)
}

pub async fn cluster_with(f: impl FnOnce(&mut ClusterConfig)) -> Result<SimCluster> {
    let mut config = ClusterConfig::new("test");
    f(&mut config);
    Ok(SimCluster::start(config).await?)
}

/// A raw response: status code and body (JSON when it parses).
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub body: String,
    pub headers: http::HeaderMap,
}

impl Raw {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends a request as-is (no client-side validation) and returns what the server answered.
pub async fn raw(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> Result<Raw> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.into())?;
    let resp = client.send(req.map(kube::client::Body::from)).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await?
        .to_bytes();
    Ok(Raw {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    })
}

pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(5);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(100));
    }
}

/// The Status code of a kube API error, or a failure naming what happened instead.
pub fn code_of<T: std::fmt::Debug>(result: kube::Result<T>) -> u16 {
    match result {
        Err(kube::Error::Api(status)) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub fn message_of<T: std::fmt::Debug>(result: kube::Result<T>) -> String {
    match result {
        Err(kube::Error::Api(status)) => status.message,
        other => panic!("expected an API error, got {other:?}"),
    }
}
