//! `latency`: one-pod workflows submitted at a steady rate, each timed from its submission until
//! a watch sees the first pod the controller created for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use flotilla_engine::workflow::labels;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;
use tokio::time::Instant;

use super::objects::Lean;
use super::session::Session;
use super::stats::{millis, percentile};
use super::watch::{Expect, first_seen, resource_version};
use super::workload;

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Submissions per second asked for, and achieved.
    pub rate: f64,
    pub achieved_rate: f64,
    pub workflows: u32,
    pub submit_to_first_pod_p50_ms: f64,
    pub submit_to_first_pod_p99_ms: f64,
    pub submit_to_first_pod_max_ms: f64,
}

pub async fn run(s: &Session, rate: f64, duration: Duration) -> Result<Latency> {
    let n = ((rate * duration.as_secs_f64()).ceil() as u32).max(1);
    let api = s.workflows::<Lean<Pod>>();
    // Every pod of this namespace that a workflow of the measured controller made.
    let selector = format!("{},{}", s.selector(), labels::WORKFLOW);
    let rv = resource_version(&api, &selector).await?;
    let workflow_of = |p: &Lean<Pod>| p.label(labels::WORKFLOW).map(str::to_owned);
    let expect = Expect {
        what: "the first pod of each workflow",
        selector: &selector,
        n: n as usize,
        timeout: s.timeout,
        key: &workflow_of,
    };
    let submitted = Arc::new(parking_lot::Mutex::new(HashMap::with_capacity(n as usize)));
    let submit = async {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        let mut tasks = tokio::task::JoinSet::new();
        let first = Instant::now();
        for i in 0..n {
            tick.tick().await;
            let wf = s.labelled(workload::one_pod(&format!("lat-{i}"))?);
            let client = s.workflows::<flotilla_engine::workflow::Workflow>();
            let submitted = submitted.clone();
            tasks.spawn(async move {
                let name = wf.metadata.name.clone().unwrap_or_default();
                submitted.lock().insert(name.clone(), Instant::now());
                client
                    .create(&Default::default(), &wf)
                    .await
                    .with_context(|| format!("submitting workflow {name}"))
                    .map(drop)
            });
        }
        let span = first.elapsed();
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        Ok::<_, anyhow::Error>(span)
    };
    let (span, seen) = tokio::join!(submit, first_seen(&api, rv, expect));
    let (span, seen) = (span?, seen?);
    let latencies: Vec<Duration> = {
        let submitted = submitted.lock();
        seen.iter()
            .filter_map(|(name, at)| Some(at.saturating_duration_since(*submitted.get(name)?)))
            .collect()
    };
    let ms = |p| percentile(&latencies, p).map(millis).unwrap_or_default();
    s.clear().await?;
    Ok(Latency {
        rate,
        // n submissions span n - 1 intervals.
        achieved_rate: f64::from(n.saturating_sub(1)) / span.as_secs_f64().max(1e-9),
        workflows: n,
        submit_to_first_pod_p50_ms: ms(50.0),
        submit_to_first_pod_p99_ms: ms(99.0),
        submit_to_first_pod_max_ms: ms(100.0),
    })
}
