//! Fault injection: unreachable clusters, injected errors, latency.

mod support;

use std::time::{Duration, Instant};

use anyhow::Result;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

#[tokio::test]
async fn unreachable_then_recovered() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    cms.list(&Default::default()).await?;
    cluster.faults().set_unreachable(true);
    let err = cms
        .list(&Default::default())
        .await
        .expect_err("an unreachable cluster answers nothing");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "a transport error, not an API status: {err:?}"
    );
    cluster.faults().set_unreachable(false);
    support::wait_for(
        "the cluster to answer again",
        Duration::from_secs(10),
        || async { Ok(cms.list(&Default::default()).await.ok().map(|_| ())) },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn injected_errors_and_latency() -> Result<()> {
    let cluster = support::cluster().await?;
    // kube's client retries 429/503 by itself; this test looks at what the server answers.
    let mut config = cluster.config_for(cluster.admin_token());
    config.default_retry = false;
    let cms: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(config)?, "default");
    cluster.faults().set_error_rate(1.0, 503);
    assert_eq!(support::code_of(cms.list(&Default::default()).await), 503);
    cluster.faults().set_error_rate(1.0, 429);
    assert_eq!(support::code_of(cms.list(&Default::default()).await), 429);
    assert!(cluster.faults().injected_errors() >= 2);
    cluster.faults().clear();
    cluster.faults().set_latency(Duration::from_millis(200));
    let start = Instant::now();
    cms.list(&Default::default()).await?;
    // Not a timing assertion on the simulator's speed: the injected delay is a floor.
    assert!(start.elapsed() >= Duration::from_millis(200));
    Ok(())
}
