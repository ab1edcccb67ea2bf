//! Watching for what a scenario waits on: the first moment each object is seen in a given state,
//! resumed from the last resourceVersion when an API server ends a watch (as they do every few
//! minutes), and bounded by a deadline.

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use futures::StreamExt as _;
use kube::Resource;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// The list's resourceVersion of `api` under `selector`: watching from it misses nothing
/// created after this call.
pub async fn resource_version<K>(api: &Api<K>, selector: &str) -> Result<String>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let list = api
        .list(&ListParams::default().labels(selector).limit(1))
        .await
        .with_context(|| format!("listing {} ({selector})", K::plural(&())))?;
    list.metadata
        .resource_version
        .context("the list carries no resourceVersion")
}

/// What a watch waits for: `n` distinct keys, each recorded when first seen.
pub struct Expect<'a, K> {
    /// For messages: what is awaited ("pods of workflow fan-0").
    pub what: &'a str,
    pub selector: &'a str,
    pub n: usize,
    pub timeout: Duration,
    /// The key an object counts under once it is in the awaited state (its name, its workflow);
    /// `None` while it is not.
    pub key: &'a (dyn Fn(&K) -> Option<String> + Sync),
}

/// Watches `api` from `rv` until `expect.n` keys have been seen, returning when each was first
/// seen. A watch the server ends is resumed where it left off; one whose resourceVersion has
/// expired (410) is replaced by a list and a watch from it — objects found only by that list
/// count from when the list saw them, which can only make the figures worse, never better.
pub async fn first_seen<K>(
    api: &Api<K>,
    rv: String,
    expect: Expect<'_, K>,
) -> Result<HashMap<String, Instant>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let deadline = Instant::now() + expect.timeout;
    let timed_out = |seen: usize| {
        anyhow::anyhow!(
            "{}: saw {} of {} within {} s",
            expect.what,
            seen,
            expect.n,
            expect.timeout.as_secs()
        )
    };
    let mut seen = HashMap::with_capacity(expect.n);
    let mut rv = rv;
    let params = WatchParams::default().labels(expect.selector).timeout(290);
    while seen.len() < expect.n {
        let opened = match tokio::time::timeout_at(deadline, api.watch(&params, &rv)).await {
            Err(_) => return Err(timed_out(seen.len())),
            Ok(opened) => opened,
        };
        let mut stream = match opened {
            Ok(stream) => stream.boxed(),
            Err(kube::Error::Api(e)) if e.code == 410 => {
                rv = relist(api, &expect, &mut seen).await?;
                continue;
            }
            Err(e) if transient(&e) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("watching {}", expect.what)),
        };
        loop {
            let event = match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => return Err(timed_out(seen.len())),
                // The server ended the watch, or the connection broke: resume where it left off.
                Ok(None | Some(Err(_))) => break,
                Ok(Some(Ok(event))) => event,
            };
            let object = match event {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => o,
                WatchEvent::Deleted(o) => {
                    rv = o.meta().resource_version.clone().unwrap_or(rv);
                    continue;
                }
                WatchEvent::Bookmark(b) => {
                    rv = b.metadata.resource_version;
                    continue;
                }
                WatchEvent::Error(e) if e.code == 410 => {
                    rv = relist(api, &expect, &mut seen).await?;
                    break;
                }
                WatchEvent::Error(e) => {
                    bail!("watching {}: {} ({})", expect.what, e.message, e.code)
                }
            };
            if let Some(v) = &object.meta().resource_version {
                rv.clone_from(v);
            }
            if let Some(key) = (expect.key)(&object) {
                seen.entry(key).or_insert_with(Instant::now);
                if seen.len() >= expect.n {
                    break;
                }
            }
        }
    }
    Ok(seen)
}

/// Counts what a list finds in the awaited state (from now, for the keys not seen yet);
/// returns the list's resourceVersion.
async fn relist<K>(
    api: &Api<K>,
    expect: &Expect<'_, K>,
    seen: &mut HashMap<String, Instant>,
) -> Result<String>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let list = api
        .list(&ListParams::default().labels(expect.selector))
        .await
        .with_context(|| format!("listing {} again after the watch expired", expect.what))?;
    let now = Instant::now();
    for object in &list.items {
        if let Some(key) = (expect.key)(object) {
            seen.entry(key).or_insert(now);
        }
    }
    list.metadata
        .resource_version
        .context("the list carries no resourceVersion")
}

/// Errors worth opening the watch again for: the connection, not the request.
fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

impl<'a, T: 'static> Expect<'a, super::objects::Lean<T>> {
    /// Waiting for `n` objects under `selector`, each counted when first seen.
    pub fn each(what: &'a str, selector: &'a str, n: usize, timeout: Duration) -> Self {
        Expect {
            what,
            selector,
            n,
            timeout,
            key: &super::objects::Lean::<T>::named,
        }
    }
}
