//! `workflows`: many one-pod workflows end to end — submitted with a fixed number in flight, each
//! timed from its submission until a watch sees it finished — against the plain client creating
//! what each needs at least (its Workflow and its pod) with the same concurrency.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;
use flotilla_engine::workflow::Workflow;
use futures::TryStreamExt as _;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use serde::Serialize;
use tokio::time::Instant;

use super::objects::Lean;
use super::session::Session;
use super::stats::{millis, percentile};
use super::watch::{Expect, first_seen, resource_version};
use super::{raw, workload};

#[derive(Debug, Clone, Serialize)]
pub struct Workflows {
    pub workflows: u32,
    pub concurrency: usize,
    /// Workflows per second the plain client's creates allow: a Workflow and its pod each,
    /// created and seen by a watch.
    pub plain_client_workflows_per_s: f64,
    /// First submission until the last workflow is seen finished.
    pub flotilla_workflows_per_s: f64,
    pub ratio: f64,
    pub submit_to_finished_p50_ms: f64,
    pub submit_to_finished_p99_ms: f64,
    /// Workflows that finished other than Succeeded.
    pub not_succeeded: u32,
}

pub async fn run(s: &Session, n: u32) -> Result<Workflows> {
    let plain = plain_client(s, n).await?;
    s.clear().await?;
    let (rate, latencies) = controller(s, n).await?;
    let listed: Vec<Lean<Workflow>> = s
        .api::<Lean<Workflow>>()
        .list(&ListParams::default().labels(&s.selector()))
        .await?
        .items;
    let not_succeeded = listed
        .iter()
        .filter(|w| w.phase() != Some("Succeeded"))
        .count();
    s.clear().await?;
    let ms = |p| percentile(&latencies, p).map(millis).unwrap_or_default();
    Ok(Workflows {
        workflows: n,
        concurrency: s.concurrency,
        plain_client_workflows_per_s: plain,
        flotilla_workflows_per_s: rate,
        ratio: rate / plain,
        submit_to_finished_p50_ms: ms(50.0),
        submit_to_finished_p99_ms: ms(99.0),
        not_succeeded: u32::try_from(not_succeeded).unwrap_or(u32::MAX),
    })
}

/// Workflows per second the plain client's creates of a Workflow and a pod each allow.
async fn plain_client(s: &Session, n: u32) -> Result<f64> {
    let group = "workflows-raw";
    let (wf_url, pod_url) = (
        raw::workflows_url(&s.namespace),
        raw::pods_url(&s.namespace),
    );
    let mut requests = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        let wf = s.labelled(workload::one_pod(&format!("raw-{i}"))?);
        for manifest in workload::manifests(&wf, &s.namespace, &s.engine) {
            requests.push((pod_url.clone(), workload::raw_pod(&manifest, group)?));
        }
        requests.push((wf_url.clone(), workload::raw_workflow(&wf, group)?));
    }
    let selector = format!("{}={group}", workload::RAW);
    let (pods, workflows) = (s.api::<Lean<Pod>>(), s.api::<Lean<Workflow>>());
    let (pods_rv, workflows_rv) = (
        resource_version(&pods, &selector).await?,
        resource_version(&workflows, &selector).await?,
    );
    let n_all = n as usize;
    let started = Instant::now();
    let ((), pods_seen, workflows_seen) = tokio::try_join!(
        raw::create_all(&s.client, requests, s.concurrency),
        first_seen(
            &pods,
            pods_rv,
            Expect::each("the plain client's pods", &selector, n_all, s.timeout)
        ),
        first_seen(
            &workflows,
            workflows_rv,
            Expect::each("the plain client's workflows", &selector, n_all, s.timeout)
        ),
    )?;
    let last = pods_seen
        .into_values()
        .chain(workflows_seen.into_values())
        .max()
        .unwrap_or(started);
    Ok(f64::from(n) / last.duration_since(started).as_secs_f64().max(1e-9))
}

/// Flotilla's workflows per second, and each workflow's time from submission to finished.
async fn controller(s: &Session, n: u32) -> Result<(f64, Vec<Duration>)> {
    let selector = s.selector();
    let api = s.api::<Lean<Workflow>>();
    let rv = resource_version(&api, &selector).await?;
    let finished = |w: &Lean<Workflow>| {
        matches!(w.phase(), Some("Succeeded" | "Failed" | "Error")).then(|| w.name().to_owned())
    };
    let expect = Expect {
        what: "the workflows finished",
        selector: &selector,
        n: n as usize,
        timeout: s.timeout,
        key: &finished,
    };
    let started = Instant::now();
    let submitted = parking_lot::Mutex::new(HashMap::with_capacity(n as usize));
    let submit =
        futures::stream::iter((0..n).map(Ok)).try_for_each_concurrent(s.concurrency, |i| {
            let submitted = &submitted;
            async move {
                let wf = s.labelled(workload::one_pod(&format!("wf-{i}"))?);
                let name = wf.metadata.name.clone().unwrap_or_default();
                submitted.lock().insert(name, Instant::now());
                s.submit(&wf).await
            }
        });
    let ((), seen) = tokio::try_join!(submit, first_seen(&api, rv, expect))?;
    let submitted = submitted.into_inner();
    let latencies = seen
        .iter()
        .filter_map(|(name, at)| Some(at.duration_since(*submitted.get(name)?)))
        .collect();
    let last = seen.values().max().copied().unwrap_or(started);
    Ok((
        f64::from(n) / last.duration_since(started).as_secs_f64().max(1e-9),
        latencies,
    ))
}
