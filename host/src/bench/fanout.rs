//! `fanout`: one workflow of N pods, from submission until a watch has seen the last pod, against
//! the plain client sending the same N manifests with the same concurrency — round by round,
//! alternating, in the same run.

use std::collections::HashMap;

use anyhow::Result;
use flotilla_engine::workflow::{Workflow, labels};
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;
use tokio::time::Instant;

use super::objects::Lean;
use super::session::Session;
use super::stats::median;
use super::watch::{Expect, first_seen, resource_version};
use super::{raw, workload};

#[derive(Debug, Clone, Serialize)]
pub struct Fanout {
    pub pods: u32,
    pub concurrency: usize,
    pub plain_client_pods_per_s: Vec<f64>,
    pub flotilla_pods_per_s: Vec<f64>,
    /// Medians of the rounds.
    pub plain_client_median: f64,
    pub flotilla_median: f64,
    /// The median of each round's Flotilla rate over the plain client's (target ≥ 0.9).
    pub ratio: f64,
}

/// One round: the plain client's rate and Flotilla's, each from a cleared namespace. Who goes
/// first alternates with the round, so that a cluster slowing down (or warming up) over a run
/// weighs on both sides alike.
pub async fn round(s: &Session, pods: u32, round: u32) -> Result<(f64, f64)> {
    let mut plain = None;
    if round.is_multiple_of(2) {
        plain = Some(plain_client(s, pods, round).await?);
        s.clear().await?;
    }
    let flotilla = controller(s, pods, round).await?;
    s.clear().await?;
    let plain = match plain {
        Some(p) => p,
        None => {
            let p = plain_client(s, pods, round).await?;
            s.clear().await?;
            p
        }
    };
    Ok((plain, flotilla))
}

/// The figures of `rounds` (each the plain client's rate and Flotilla's).
pub fn summary(pods: u32, concurrency: usize, rounds: &[(f64, f64)]) -> Fanout {
    let plain: Vec<f64> = rounds.iter().map(|r| r.0).collect();
    let flotilla: Vec<f64> = rounds.iter().map(|r| r.1).collect();
    let ratios: Vec<f64> = rounds.iter().map(|(p, f)| f / p).collect();
    Fanout {
        pods,
        concurrency,
        ratio: median(&ratios).unwrap_or_default(),
        plain_client_median: median(&plain).unwrap_or_default(),
        flotilla_median: median(&flotilla).unwrap_or_default(),
        plain_client_pods_per_s: plain,
        flotilla_pods_per_s: flotilla,
    }
}

/// Pods per second of the plain client sending the fan-out's manifests.
async fn plain_client(s: &Session, pods: u32, round: u32) -> Result<f64> {
    let group = format!("fan-raw-{round}");
    let wf = s.labelled(workload::fan_out(&group, pods)?);
    let url = raw::pods_url(&s.namespace);
    let requests = workload::manifests(&wf, &s.namespace, &s.engine)
        .iter()
        .map(|m| Ok((url.clone(), workload::raw_pod(m, &group)?)))
        .collect::<Result<Vec<_>>>()?;
    anyhow::ensure!(
        requests.len() == pods as usize,
        "the engine made {} pod manifests for a fan-out of {pods}",
        requests.len()
    );
    let what = format!("the plain client's pods ({group})");
    let selector = format!("{}={group}", workload::RAW);
    let seen = pods_from_now(s, &what, &selector, requests.len()).await?;
    let started = Instant::now();
    // A failed create ends the round at once, not after the watch's timeout.
    let ((), seen) = tokio::try_join!(raw::create_all(&s.client, requests, s.concurrency), seen)?;
    Ok(rate(pods, started, &seen))
}

/// Pods per second of the controller fanning out a workflow.
async fn controller(s: &Session, pods: u32, round: u32) -> Result<f64> {
    let name = format!("fan-{round}");
    let wf: Workflow = s.labelled(workload::fan_out(&name, pods)?);
    let what = format!("the pods of workflow {name}");
    let selector = format!("{}={name}", labels::WORKFLOW);
    let seen = pods_from_now(s, &what, &selector, pods as usize).await?;
    let started = Instant::now();
    let ((), seen) = tokio::try_join!(s.submit(&wf), seen)?;
    Ok(rate(pods, started, &seen))
}

/// Starts counting the pods under `selector` from now: the future resolves once `n` have been
/// seen, with when each was.
async fn pods_from_now<'a>(
    s: &'a Session,
    what: &'a str,
    selector: &'a str,
    n: usize,
) -> Result<impl Future<Output = Result<HashMap<String, Instant>>> + 'a> {
    let api = s.api::<Lean<Pod>>();
    let rv = resource_version(&api, selector).await?;
    Ok(async move { first_seen(&api, rv, Expect::each(what, selector, n, s.timeout)).await })
}

/// `n` over the time from `started` until the last of `seen`.
fn rate(n: u32, started: Instant, seen: &HashMap<String, Instant>) -> f64 {
    let last = seen.values().max().copied().unwrap_or(started);
    f64::from(n) / last.duration_since(started).as_secs_f64().max(1e-9)
}
