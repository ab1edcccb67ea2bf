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
/// seen.
pub async fn first_seen<K>(
    api: &Api<K>,
    rv: String,
    expect: Expect<'_, K>,
) -> Result<HashMap<String, Instant>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let deadline = Instant::now() + expect.timeout;
    let mut seen = HashMap::with_capacity(expect.n);
    let mut rv = rv;
    let params = WatchParams::default().labels(expect.selector).timeout(290);
    while seen.len() < expect.n {
        let mut stream = api
            .watch(&params, &rv)
            .await
            .with_context(|| format!("watching {}", expect.what))?
            .boxed();
        loop {
            let event = match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(event)) => event.with_context(|| format!("watching {}", expect.what))?,
                // The server ended the watch: resume where it left off.
                Ok(None) => break,
                Err(_) => bail!(
                    "{}: saw {} of {} within {} s",
                    expect.what,
                    seen.len(),
                    expect.n,
                    expect.timeout.as_secs()
                ),
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
