//! The plain client: encoded bodies sent as create requests with a fixed number in flight, as the
//! controller sends its pods — the ceiling the controller is compared with.

use anyhow::{Context as _, Result};
use futures::TryStreamExt as _;
use kube::api::PostParams;

/// Creates every `(url, body)` with `concurrency` requests in flight; the first failure ends it.
pub async fn create_all(
    client: &kube::Client,
    requests: Vec<(String, Vec<u8>)>,
    concurrency: usize,
) -> Result<()> {
    futures::stream::iter(requests.into_iter().map(Ok))
        .try_for_each_concurrent(concurrency, |(url, body)| async move {
            let request = kube::core::Request::new(&url)
                .create(&PostParams::default(), body)
                .context("building a create request")?;
            client
                .request_text(request)
                .await
                .with_context(|| format!("the plain client's create at {url}"))?;
            Ok(())
        })
        .await
}

/// Where pods of `namespace` are created.
pub fn pods_url(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

/// Where workflows of `namespace` are created.
pub fn workflows_url(namespace: &str) -> String {
    format!("/apis/argoproj.io/v1alpha1/namespaces/{namespace}/workflows")
}
