//! Watch: a stream of `{"type": ..., "object": ...}` lines, from a resourceVersion or from the
//! current state, with bookmarks, timeouts, selector transitions and `410 Gone` as the watch cache
//! sends it (an ERROR event, not an HTTP error, so clients relist).

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::read::{Selectors, scope_namespace, view};
use super::{Api, Call, meta};
use crate::codec::Body;
use crate::resources::ResourceType;
use crate::status::{ApiError, Result};
use crate::store::{EventType, WatchEvent};

/// The API server's default watch timeout is a random 30–60 minutes; clients reconnect.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Watcher {
    api: Arc<Api>,
    rt: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    selectors: Selectors,
    bookmarks: bool,
}

pub(super) fn watch(api: &Arc<Api>, rt: &Arc<ResourceType>, call: &Call) -> Result<Response<Body>> {
    let selectors = Selectors::from_call(rt, call)?;
    let from = match call.param("resourceVersion").filter(|v| !v.is_empty()) {
        Some(rv) => Some(meta::parse_rv(rv)?),
        None => None,
    };
    if call.param("sendInitialEvents") == Some("true") {
        return Err(ApiError::unprocessable(
            "sendInitialEvents: Forbidden: sendInitialEvents is not supported by this server (WatchList is disabled)",
        ));
    }
    let timeout =
        match call.param("timeoutSeconds").filter(|v| !v.is_empty()) {
            Some(t) => Duration::from_secs(t.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("timeoutSeconds: Invalid value: {t:?}"))
            })?),
            None => DEFAULT_TIMEOUT,
        };
    let namespace =
        (rt.namespaced && !call.info.namespace.is_empty()).then(|| call.info.namespace.clone());
    // `/watch/namespaces/x/pods/name` watches one object.
    let name = (!call.info.name.is_empty()).then(|| call.info.name.clone());
    let watcher = Watcher {
        api: api.clone(),
        rt: rt.clone(),
        namespace,
        name,
        selectors,
        bookmarks: call.param("allowWatchBookmarks") == Some("true"),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    match api
        .store
        .watch(&rt.storage, watcher.namespace.as_deref(), from)
    {
        Ok(start) => {
            let cut = api.faults.watch_cuts();
            tokio::spawn(watcher.run(start, tx, timeout, cut));
        }
        Err(gone) => {
            let line = event_line(
                "ERROR",
                &serde_json::to_vec(&gone.to_status()).unwrap_or_default(),
            );
            let _ = tx.try_send(line);
        }
    }
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|b| Ok(Frame::data(b)));
    let mut resp = Response::new(StreamBody::new(stream).boxed_unsync());
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

fn event_line(kind: &str, object: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(object.len() + 32);
    b.put_slice(b"{\"type\":\"");
    b.put_slice(kind.as_bytes());
    b.put_slice(b"\",\"object\":");
    b.put_slice(object);
    b.put_slice(b"}\n");
    b.freeze()
}

impl Watcher {
    fn in_scope(&self, event: &WatchEvent) -> bool {
        *event.storage == *self.rt.storage
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == event.namespace)
            && self.name.as_deref().is_none_or(|n| n == event.name)
            && (self.rt.namespaced || scope_namespace(&self.rt, &event.namespace).is_empty())
    }

    /// The line this watcher sends for an event, if any, applying selector transitions.
    fn line_for(&self, event: &WatchEvent) -> Option<Bytes> {
        if !self.in_scope(event) {
            return None;
        }
        let now = self.selectors.matches(&event.object);
        let before = event
            .prev
            .as_ref()
            .is_some_and(|p| self.selectors.matches(p));
        let (kind, use_prev) = match event.kind {
            EventType::Added | EventType::Deleted => (now.then_some(event.kind)?, false),
            EventType::Modified => match (before, now) {
                (true, true) => (EventType::Modified, false),
                (false, true) => (EventType::Added, false),
                (true, false) => (EventType::Deleted, true),
                (false, false) => return None,
            },
        };
        let kind = kind.as_str();
        let plain = super::read::served_as_stored(&self.rt);
        if use_prev {
            let prev = event.prev.as_ref()?;
            let mut v = view(&self.rt, prev);
            v["metadata"]["resourceVersion"] = Value::String(event.rv.to_string());
            return Some(event_line(
                kind,
                &serde_json::to_vec(&v).unwrap_or_default(),
            ));
        }
        if plain {
            Some(event_line(kind, event.object.json()))
        } else {
            Some(event_line(
                kind,
                &serde_json::to_vec(&view(&self.rt, &event.object)).unwrap_or_default(),
            ))
        }
    }

    fn bookmark(&self, rv: u64) -> Bytes {
        let obj = json!({
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version(),
            "metadata": {"resourceVersion": rv.to_string()},
        });
        event_line("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
    }

    async fn run(
        self,
        start: crate::store::WatchStart,
        tx: mpsc::Sender<Bytes>,
        timeout: Duration,
        mut cut: tokio::sync::watch::Receiver<u64>,
    ) {
        let crate::store::WatchStart {
            backlog,
            mut live,
            live_after,
        } = start;
        let mut seen = live_after;
        // The backlog goes out in large frames.
        let mut buf = BytesMut::new();
        for event in &backlog {
            if let Some(line) = self.line_for(event) {
                buf.put_slice(&line);
                if buf.len() > 64 * 1024 && tx.send(buf.split().freeze()).await.is_err() {
                    return;
                }
            }
        }
        if !buf.is_empty() && tx.send(buf.split().freeze()).await.is_err() {
            return;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut bookmarks = tokio::time::interval(self.api.bookmark_interval);
        bookmarks.tick().await;
        cut.borrow_and_update();
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = cut.changed() => return,
                _ = bookmarks.tick(), if self.bookmarks => {
                    if tx.send(self.bookmark(seen)).await.is_err() {
                        return;
                    }
                }
                received = live.recv() => {
                    let event = match received {
                        Ok(e) => e,
                        // A watcher that fell behind the broadcast buffer is closed; the client
                        // resumes from its last resourceVersion (or relists after 410).
                        Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                    };
                    if event.rv <= seen {
                        continue;
                    }
                    seen = event.rv;
                    if let Some(line) = self.line_for(&event) {
                        buf.put_slice(&line);
                    }
                    // Drain whatever else is ready into the same frame.
                    while buf.len() < 256 * 1024 {
                        match live.try_recv() {
                            Ok(e) if e.rv > seen => {
                                seen = e.rv;
                                if let Some(line) = self.line_for(&e) {
                                    buf.put_slice(&line);
                                }
                            }
                            Ok(_) => {}
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(_) => return,
                        }
                    }
                    if !buf.is_empty() && tx.send(buf.split().freeze()).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
