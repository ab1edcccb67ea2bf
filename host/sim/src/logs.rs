//! Container logs as the kubelet keeps them, shared by the simulated kubelet (writer) and the
//! API server's `pods/log` handler (reader).
//!
//! A real kubelet writes each container's output to a CRI log file (one line per entry, with the
//! time it was written and the stream) and serves `GET .../pods/{name}/log` by reading it back with
//! the `PodLogOptions` the client sent. [`LogStore`] keeps the same data in memory: per
//! (namespace, pod, container) a *current* instance and, once the container has restarted, the
//! *previous* one (what `--previous` shows). Each instance is bounded like a rotated log file: past
//! [`MAX_BYTES_PER_CONTAINER`] the oldest lines are dropped.
//!
//! Reading applies the options in the kubelet's order (`pkg/kubelet/kuberuntime/logs`): `tailLines`
//! picks the last N lines, `sinceTime`/`sinceSeconds` then skips older lines, `timestamps` prefixes
//! each line with its RFC3339Nano time, and `limitBytes` cuts the output. [`LogStore::follow`]
//! yields what is there and then each new line until the container terminates (or the pod's logs
//! are removed); it waits on a `tokio::sync::watch` channel, never polls.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use jiff::{SignedDuration, Timestamp};
use parking_lot::Mutex;
use tokio::sync::watch;

pub(crate) mod query;

/// A container log instance keeps at most this many bytes of text; older lines are dropped first.
pub const MAX_BYTES_PER_CONTAINER: usize = 1024 * 1024;

/// Which of the container's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// The `PodLogOptions` the kubelet honours, already parsed and validated by the API server.
/// `container` is not here: the caller has resolved which container to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Read the previous (last terminated) instance of a restarted container.
    pub previous: bool,
    /// Only lines written at or after `now - since_seconds`.
    pub since_seconds: Option<i64>,
    /// Only lines written at or after this time (the API server rejects both since options at once).
    pub since_time: Option<Timestamp>,
    /// Prefix every line with its RFC3339Nano timestamp and a space.
    pub timestamps: bool,
    /// Only the last N lines (0 means none).
    pub tail_lines: Option<i64>,
    /// Stop after this many bytes of output (prefixes included).
    pub limit_bytes: Option<i64>,
}

/// Which container's log: `namespace/pod`'s container `container`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerRef<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
}

/// Why a log could not be read; messages are the kubelet's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The kubelet has no log for this container at all (it never started on this node).
    #[error("container \"{container}\" in pod \"{pod}\" is not available")]
    ContainerNotFound { pod: String, container: String },
    /// `previous=true` but the container has not restarted.
    #[error("previous terminated container \"{container}\" in pod \"{pod}\" not found")]
    PreviousNotFound { pod: String, container: String },
}

/// One entry of a log: a full line (`text` without its newline) or a trailing partial line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogLine {
    at: Timestamp,
    stream: LogStream,
    text: String,
    /// False for output that did not end in a newline (CRI's `P` tag); rendered without one.
    complete: bool,
}

impl LogLine {
    fn len(&self) -> usize {
        self.text.len() + 1
    }
}

/// One run of a container: its lines, bounded, and a channel that ticks on every change.
#[derive(Debug)]
struct Instance {
    lines: VecDeque<LogLine>,
    /// Sequence number of `lines[0]`; grows as old lines are dropped, so followers keep their place.
    first_seq: u64,
    bytes: usize,
    terminated: bool,
    changed: watch::Sender<u64>,
}

impl Instance {
    fn new() -> Self {
        Self {
            lines: VecDeque::new(),
            first_seq: 0,
            bytes: 0,
            terminated: false,
            changed: watch::Sender::new(0),
        }
    }

    fn end_seq(&self) -> u64 {
        self.first_seq + self.lines.len() as u64
    }

    fn push(&mut self, line: LogLine) {
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.bytes > MAX_BYTES_PER_CONTAINER {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len();
            self.first_seq += 1;
        }
        self.changed.send_replace(self.end_seq());
    }

    fn terminate(&mut self) {
        self.terminated = true;
        self.changed.send_replace(self.end_seq());
    }
}

#[derive(Debug, Default)]
struct ContainerLogs {
    current: Option<Arc<Mutex<Instance>>>,
    previous: Option<Arc<Mutex<Instance>>>,
}

type PodKey = (String, String);

/// The node's container logs. Cheap to clone; clones share the same store.
#[derive(Debug, Clone, Default)]
pub struct LogStore {
    pods: Arc<Mutex<HashMap<PodKey, HashMap<String, ContainerLogs>>>>,
}

impl LogStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A container (re)started: its current log becomes the previous one and a new, empty log
    /// begins. The old instance is marked terminated so its followers finish.
    pub fn start_container(&self, namespace: &str, pod: &str, container: &str) {
        let mut pods = self.pods.lock();
        let logs = pods
            .entry((namespace.to_owned(), pod.to_owned()))
            .or_default();
        let entry = logs.entry(container.to_owned()).or_default();
        if let Some(old) = entry.current.take() {
            old.lock().terminate();
            entry.previous = Some(old);
        }
        entry.current = Some(Arc::new(Mutex::new(Instance::new())));
    }

    /// Appends output written at `at`. Text is split into lines; a final piece without a newline is
    /// kept as a partial line, as the container runtime does.
    pub fn append(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        stream: LogStream,
        at: Timestamp,
        text: &str,
    ) {
        let Some(instance) = self.current(namespace, pod, container) else {
            // Output of a container that was never started (or whose pod is gone) has nowhere to go.
            return;
        };
        let mut instance = instance.lock();
        let mut rest = text;
        while !rest.is_empty() {
            let (piece, complete, next) = match rest.find('\n') {
                Some(i) => (&rest[..i], true, &rest[i + 1..]),
                None => (rest, false, ""),
            };
            instance.push(LogLine {
                at,
                stream,
                text: piece.to_owned(),
                complete,
            });
            rest = next;
        }
    }

    /// The container's current instance stopped: followers drain and end.
    pub fn terminate_container(&self, namespace: &str, pod: &str, container: &str) {
        if let Some(instance) = self.current(namespace, pod, container) {
            instance.lock().terminate();
        }
    }

    /// Forgets every log of a deleted pod; followers end.
    pub fn remove_pod(&self, namespace: &str, pod: &str) {
        let removed = self
            .pods
            .lock()
            .remove(&(namespace.to_owned(), pod.to_owned()));
        for logs in removed.into_iter().flat_map(|c| c.into_values()) {
            for instance in [logs.current, logs.previous].into_iter().flatten() {
                instance.lock().terminate();
            }
        }
    }

    /// The text one stream of the current instance holds, lines joined with newlines; the workflow
    /// executor uses stdout as a template's `outputs.result`.
    pub fn stream_text(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        stream: LogStream,
    ) -> String {
        let Some(instance) = self.current(namespace, pod, container) else {
            return String::new();
        };
        let instance = instance.lock();
        let mut out = String::new();
        for line in instance.lines.iter().filter(|l| l.stream == stream) {
            out.push_str(&line.text);
            if line.complete {
                out.push('\n');
            }
        }
        out
    }

    /// Reads a log once with the given options, as `kubectl logs` without `-f` does.
    pub fn read(
        &self,
        of: ContainerRef<'_>,
        options: &LogOptions,
        now: Timestamp,
    ) -> Result<Bytes, LogError> {
        let instance = self.instance(of, options.previous)?;
        let instance = instance.lock();
        let start = tail_start(&instance, options.tail_lines);
        let since = since(options, now);
        let mut out = Vec::new();
        for line in instance.lines.iter().skip(start) {
            if since.is_some_and(|s| line.at < s) {
                continue;
            }
            render(&mut out, line, options.timestamps);
        }
        if let Some(limit) = options.limit_bytes {
            out.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
        }
        Ok(Bytes::from(out))
    }

    /// Follows a log (`kubectl logs -f`): the selected existing lines, then every new line until the
    /// container terminates, the pod's logs are removed, or `limitBytes` is reached.
    pub fn follow(
        &self,
        of: ContainerRef<'_>,
        options: &LogOptions,
        now: Timestamp,
    ) -> Result<impl Stream<Item = Bytes> + Send + 'static, LogError> {
        let instance = self.instance(of, options.previous)?;
        let (cursor, changed) = {
            let guard = instance.lock();
            let start = tail_start(&guard, options.tail_lines);
            (guard.first_seq + start as u64, guard.changed.subscribe())
        };
        let state = Follow {
            instance,
            changed,
            cursor,
            since: since(options, now),
            timestamps: options.timestamps,
            remaining: options
                .limit_bytes
                .map(|l| usize::try_from(l.max(0)).unwrap_or(usize::MAX)),
        };
        Ok(futures::stream::unfold(state, Follow::next))
    }

    /// Whether any container of the pod has started here (what the kubelet knows of the pod).
    pub fn has_pod(&self, namespace: &str, pod: &str) -> bool {
        self.pods
            .lock()
            .contains_key(&(namespace.to_owned(), pod.to_owned()))
    }

    fn current(&self, namespace: &str, pod: &str, container: &str) -> Option<Arc<Mutex<Instance>>> {
        let pods = self.pods.lock();
        pods.get(&(namespace.to_owned(), pod.to_owned()))?
            .get(container)?
            .current
            .clone()
    }

    fn instance(
        &self,
        ContainerRef {
            namespace,
            pod,
            container,
        }: ContainerRef<'_>,
        previous: bool,
    ) -> Result<Arc<Mutex<Instance>>, LogError> {
        let pods = self.pods.lock();
        let logs = pods
            .get(&(namespace.to_owned(), pod.to_owned()))
            .and_then(|p| p.get(container));
        if previous {
            logs.and_then(|l| l.previous.clone())
                .ok_or_else(|| LogError::PreviousNotFound {
                    pod: pod.to_owned(),
                    container: container.to_owned(),
                })
        } else {
            logs.and_then(|l| l.current.clone())
                .ok_or_else(|| LogError::ContainerNotFound {
                    pod: pod.to_owned(),
                    container: container.to_owned(),
                })
        }
    }
}

/// State of one follower; see [`LogStore::follow`].
struct Follow {
    instance: Arc<Mutex<Instance>>,
    changed: watch::Receiver<u64>,
    cursor: u64,
    since: Option<Timestamp>,
    timestamps: bool,
    remaining: Option<usize>,
}

impl Follow {
    async fn next(mut self) -> Option<(Bytes, Self)> {
        loop {
            if self.remaining == Some(0) {
                return None;
            }
            let (chunk, terminated) = {
                let instance = self.instance.lock();
                // Lines dropped by the size bound while we waited are lost, as with a rotated file.
                self.cursor = self.cursor.max(instance.first_seq);
                let skip = usize::try_from(self.cursor - instance.first_seq).unwrap_or(usize::MAX);
                let mut out = Vec::new();
                for line in instance.lines.iter().skip(skip) {
                    self.cursor += 1;
                    if self.since.is_some_and(|s| line.at < s) {
                        continue;
                    }
                    render(&mut out, line, self.timestamps);
                }
                // Mark what we have seen before releasing the lock so no change is missed.
                self.changed.borrow_and_update();
                (out, instance.terminated)
            };
            if !chunk.is_empty() {
                let mut chunk = chunk;
                if let Some(remaining) = self.remaining.as_mut() {
                    chunk.truncate(*remaining);
                    *remaining -= chunk.len();
                }
                return Some((Bytes::from(chunk), self));
            }
            if terminated || self.changed.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// Index of the first line `tailLines` keeps.
fn tail_start(instance: &Instance, tail_lines: Option<i64>) -> usize {
    let len = instance.lines.len();
    match tail_lines {
        Some(n) => len.saturating_sub(usize::try_from(n.max(0)).unwrap_or(usize::MAX)),
        None => 0,
    }
}

fn since(options: &LogOptions, now: Timestamp) -> Option<Timestamp> {
    if let Some(t) = options.since_time {
        return Some(t);
    }
    options.since_seconds.map(|s| {
        now.checked_sub(SignedDuration::from_secs(s))
            .unwrap_or(Timestamp::MIN)
    })
}

fn render(out: &mut Vec<u8>, line: &LogLine, timestamps: bool) {
    if timestamps {
        out.extend_from_slice(rfc3339_nano(line.at).as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(line.text.as_bytes());
    if line.complete {
        out.push(b'\n');
    }
}

/// Go's `time.RFC3339Nano` in UTC, as the kubelet prefixes log lines: the fraction has its
/// trailing zeros removed and is left out entirely when zero.
pub fn rfc3339_nano(at: Timestamp) -> String {
    let whole = jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S", at).unwrap_or_default();
    let nanos = at.subsec_nanosecond().unsigned_abs();
    if nanos == 0 {
        return format!("{whole}Z");
    }
    let fraction = format!("{nanos:09}");
    format!("{whole}.{}Z", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests;
