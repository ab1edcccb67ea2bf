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

/// Most submissions waiting for an answer at once.
const MAX_IN_FLIGHT: usize = 1024;

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Submissions per second asked for, and achieved.
    pub rate: f64,
    /// From the first submission to the last (none for a single one).
    pub achieved_rate: Option<f64>,
    pub workflows: u32,
    pub submit_to_first_pod_p50_ms: f64,
    pub submit_to_first_pod_p99_ms: f64,
    pub submit_to_first_pod_max_ms: f64,
}

pub async fn run(s: &Session, rate: f64, duration: Duration) -> Result<Latency> {
    let n = ((rate * duration.as_secs_f64()).ceil() as u32).max(1);
    let api = s.api::<Lean<Pod>>();
    // Every pod of this namespace that a workflow of the measured controller made.
    let selector = format!("{},{}", s.selector(), labels::WORKFLOW);
    let rv = resource_version(&api, &selector).await?;
    let workflow_of = |p: &Lean<Pod>| p.label(labels::WORKFLOW).map(str::to_owned);
    let expect = Expect {
        what: "the first pod of each workflow",
        selector: &selector,
        n: n as usize,
        // The wait starts with the submissions.
        timeout: s.timeout + duration,
        key: &workflow_of,
    };
    let submitted = Arc::new(parking_lot::Mutex::new(HashMap::with_capacity(n as usize)));
    let submit = async {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            tick.tick().await;
            // Open loop: submissions go out on schedule whatever the server's pace, but no more
            // than MAX_IN_FLIGHT wait at once.
            while tasks.len() >= MAX_IN_FLIGHT {
                if let Some(done) = tasks.join_next().await {
                    done??;
                }
            }
            let wf = s.labelled(workload::one_pod(&format!("lat-{i}"))?);
            let client = s.api::<flotilla_engine::workflow::Workflow>();
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
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        Ok::<_, anyhow::Error>(())
    };
    let ((), seen) = tokio::try_join!(submit, first_seen(&api, rv, expect))?;
    let (latencies, achieved_rate) = {
        let submitted = submitted.lock();
        let latencies: Vec<Duration> = seen
            .iter()
            .filter_map(|(name, at)| Some(at.saturating_duration_since(*submitted.get(name)?)))
            .collect();
        // n submissions span n - 1 intervals, from the first to the last sent.
        let (first, last) = (submitted.values().min(), submitted.values().max());
        let span = first
            .zip(last)
            .map(|(f, l)| l.duration_since(*f).as_secs_f64());
        let achieved = span
            .filter(|s| n > 1 && *s > 0.0)
            .map(|s| f64::from(n - 1) / s);
        (latencies, achieved)
    };
    let ms = |p| percentile(&latencies, p).map(millis).unwrap_or_default();
    s.clear().await?;
    Ok(Latency {
        rate,
        achieved_rate,
        workflows: n,
        submit_to_first_pod_p50_ms: ms(50.0),
        submit_to_first_pod_p99_ms: ms(99.0),
        submit_to_first_pod_max_ms: ms(100.0),
    })
}
