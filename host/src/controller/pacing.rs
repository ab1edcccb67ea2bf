//! When a change of a pod or task result reaches its workflow. A pod that starts running, ends
//! or is being deleted, and a complete task result, wake the workflow at once: the next step
//! waits on them, and a node must show that its pod ran before anyone can delete that pod (a
//! pending node whose pod is gone gets a new one, as in Argo; a running one errs). What comes
//! before — the pod scheduled, given an IP, its containers created or pulled — waits up to
//! `ControllerConfig::progress_delay`, so that such changes arriving close together become one
//! reconcile and one status write, as Argo's workflow queue holds pod changes for its requeue
//! time (`DEFAULT_REQUEUE_TIME`).
//!
//! Nothing is lost by waiting: a reconcile reads the pods' latest state from the cache, never
//! the event that woke it. The wake-ups of a (re)list are given out at its end, once the cache
//! holds what was listed (`Listing`).

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use tokio_util::time::{DelayQueue, delay_queue};

use super::pod_view::WorkflowPod;
use flotilla_engine::workflow::{Workflow, WorkflowTaskResult, labels};

/// How soon a change should wake its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Urgency {
    /// The workflow can move on: wake it now.
    Now,
    /// Only what the status shows would change: wake it within the progress delay.
    Soon,
}

/// A workflow to wake, and how soon.
pub(crate) type Wake = (ObjectRef<Workflow>, Urgency);

/// What a watched object says about how soon its workflow should look at it.
pub(crate) trait Paced {
    fn urgency(&self) -> Urgency;
}

impl Paced for WorkflowPod {
    /// Now once the pod runs, has ended or is being deleted; before that it can wait.
    fn urgency(&self) -> Urgency {
        let started = matches!(
            self.status.phase.as_deref(),
            Some("Running" | "Succeeded" | "Failed" | "Unknown")
        );
        if started || self.metadata.deletion_timestamp.is_some() {
            Urgency::Now
        } else {
            Urgency::Soon
        }
    }
}

impl Paced for WorkflowTaskResult {
    /// Now once complete: the node of a pod that ended before its report was seen waits on it.
    fn urgency(&self) -> Urgency {
        let complete = self
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::REPORT_OUTPUTS_COMPLETED))
            .is_some_and(|v| v == "true");
        if complete {
            Urgency::Now
        } else {
            Urgency::Soon
        }
    }
}

/// Turns one watch's events into wake-ups. Those of a (re)list are held until its end: the
/// reflector swaps what was listed into its cache only then, and a reconcile woken before would
/// read the cache as it was before the list. The workflows of what the cache held when the list
/// began are woken at its end too: an object deleted while the watch was away is in no list and
/// gets no `Delete`, it only drops out of the cache at the swap. Held per workflow (the most
/// urgent kept), so a list holds as many wake-ups as it and the cache name workflows.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    listed: Option<HashMap<ObjectRef<Workflow>, Urgency>>,
}

impl Listing {
    /// The wake-ups `event` gives, the workflow of an object found by `workflow_of`; a deleted
    /// object's at once (it is gone from the cache, and no later event will say more of it).
    /// `cached` is the watch's cache, read when a list begins.
    pub(crate) fn wakes<K>(
        &mut self,
        event: &watcher::Event<K>,
        workflow_of: impl Fn(&K) -> Option<ObjectRef<Workflow>>,
        cached: &Store<K>,
    ) -> Vec<Wake>
    where
        K: Paced + Resource + Clone + 'static,
        K::DynamicType: Eq + std::hash::Hash + Clone,
    {
        let wake = |o: &K, urgency| workflow_of(o).map(|w| (w, urgency));
        match event {
            watcher::Event::Init => {
                // A list begun again after one cut short keeps what that one held.
                let listed = self.listed.get_or_insert_with(HashMap::new);
                for workflow in cached.state().iter().filter_map(|o| workflow_of(o)) {
                    listed.insert(workflow, Urgency::Now);
                }
                Vec::new()
            }
            watcher::Event::InitApply(o) => {
                let Some((workflow, urgency)) = wake(o, o.urgency()) else {
                    return Vec::new();
                };
                match &mut self.listed {
                    Some(listed) => {
                        let held = listed.entry(workflow).or_insert(urgency);
                        if urgency == Urgency::Now {
                            *held = Urgency::Now;
                        }
                        Vec::new()
                    }
                    // A list's objects without its start: nothing to wait for.
                    None => vec![(workflow, urgency)],
                }
            }
            watcher::Event::InitDone => self.listed.take().into_iter().flatten().collect(),
            watcher::Event::Apply(o) => wake(o, o.urgency()).into_iter().collect(),
            watcher::Event::Delete(o) => wake(o, Urgency::Now).into_iter().collect(),
        }
    }
}

/// The wake-ups of `input`, those marked `Soon` held up to `delay` (from the first of them;
/// later ones for the same workflow join it) and released at once by a `Now` for it.
pub(crate) fn paced<S>(input: S, delay: Duration) -> Pacer<S>
where
    S: Stream<Item = Wake> + Unpin,
{
    Pacer {
        input: Some(input),
        held: DelayQueue::new(),
        keys: HashMap::new(),
        delay,
    }
}

/// Most `Soon` wake-ups taken from the input in one poll before the held ones are looked at
/// (and before the task yields), so that a busy watch cannot keep the pacer from releasing.
const INTAKE_PER_POLL: usize = 256;

pub(crate) struct Pacer<S> {
    /// `None` once it has ended.
    input: Option<S>,
    held: DelayQueue<ObjectRef<Workflow>>,
    keys: HashMap<ObjectRef<Workflow>, delay_queue::Key>,
    delay: Duration,
}

impl<S> Pacer<S> {
    fn release(&mut self, workflow: &ObjectRef<Workflow>) {
        if let Some(key) = self.keys.remove(workflow) {
            self.held.remove(&key);
        }
    }

    fn hold(&mut self, workflow: ObjectRef<Workflow>) {
        if !self.keys.contains_key(&workflow) {
            let key = self.held.insert(workflow.clone(), self.delay);
            self.keys.insert(workflow, key);
        }
    }
}

impl<S> Stream for Pacer<S>
where
    S: Stream<Item = Wake> + Unpin,
{
    type Item = ObjectRef<Workflow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // What is due goes first: a stream of urgent wake-ups must not keep it waiting.
        if let Poll::Ready(Some(workflow)) = this.poll_due(cx) {
            return Poll::Ready(Some(workflow));
        }
        let mut taken = 0;
        while let Some(input) = this.input.as_mut() {
            if taken == INTAKE_PER_POLL {
                // More may be ready: come back after the others have had their turn.
                cx.waker().wake_by_ref();
                break;
            }
            match Pin::new(input).poll_next(cx) {
                Poll::Ready(Some((workflow, Urgency::Now))) => {
                    this.release(&workflow);
                    return Poll::Ready(Some(workflow));
                }
                Poll::Ready(Some((workflow, Urgency::Soon))) if this.delay.is_zero() => {
                    return Poll::Ready(Some(workflow));
                }
                Poll::Ready(Some((workflow, Urgency::Soon))) => {
                    this.hold(workflow);
                    taken += 1;
                }
                Poll::Ready(None) => this.input = None,
                Poll::Pending => break,
            }
        }
        match this.poll_due(cx) {
            Poll::Ready(Some(workflow)) => Poll::Ready(Some(workflow)),
            // Nothing held: the stream ends only once its input has.
            Poll::Ready(None) if this.input.is_none() => Poll::Ready(None),
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

impl<S> Pacer<S> {
    /// A held wake-up whose delay has passed (`Ready(None)`: none held).
    fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<Option<ObjectRef<Workflow>>> {
        self.held.poll_expired(cx).map(|expired| {
            let workflow = expired?.into_inner();
            self.keys.remove(&workflow);
            Some(workflow)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;
    use serde_json::json;

    fn wf(name: &str) -> ObjectRef<Workflow> {
        ObjectRef::new(name).within("argo")
    }

    fn pod(phase: &str, deleting: bool) -> WorkflowPod {
        let mut metadata = json!({"name": "p", "namespace": "argo"});
        if deleting {
            metadata["deletionTimestamp"] = json!("2026-12-07T00:00:00Z");
        }
        serde_json::from_value(json!({"metadata": metadata, "status": {"phase": phase}})).unwrap()
    }

    #[test]
    fn a_pods_start_end_or_deletion_is_now_and_what_comes_before_can_wait() {
        for phase in ["Running", "Succeeded", "Failed", "Unknown"] {
            assert_eq!(pod(phase, false).urgency(), Urgency::Now, "{phase}");
        }
        assert_eq!(pod("Pending", true).urgency(), Urgency::Now);
        assert_eq!(pod("Pending", false).urgency(), Urgency::Soon);
    }

    #[test]
    fn a_complete_report_is_now() {
        let result = |complete: &str| -> WorkflowTaskResult {
            serde_json::from_value(json!({"metadata": {"name": "r", "namespace": "argo",
                "labels": {(labels::REPORT_OUTPUTS_COMPLETED): complete}}}))
            .unwrap()
        };
        assert_eq!(result("true").urgency(), Urgency::Now);
        assert_eq!(result("false").urgency(), Urgency::Soon);
    }

    #[test]
    fn a_lists_wake_ups_wait_for_its_end_with_those_of_what_the_cache_held() {
        let named = |pod: &WorkflowPod| pod.metadata.name.as_deref().map(wf);
        let with_phase = |name: &str, phase: &str| {
            let mut pod = pod(phase, false);
            pod.metadata.name = Some(name.into());
            pod
        };
        let pending = |name: &str| with_phase(name, "Pending");
        let ended = |name: &str| with_phase(name, "Succeeded");
        // The cache as a watch that went away left it: "gone" was deleted meanwhile, and the
        // list will not name it.
        let (cache, mut writer) = kube::runtime::reflector::store::<WorkflowPod>();
        writer.apply_watcher_event(&watcher::Event::Apply(pending("gone")));
        writer.apply_watcher_event(&watcher::Event::Apply(pending("a")));
        let mut listing = Listing::default();
        let mut wakes = |event: watcher::Event<WorkflowPod>| {
            writer.apply_watcher_event(&event);
            let mut wakes = listing.wakes(&event, named, &cache);
            wakes.sort_by(|x, y| x.0.name.cmp(&y.0.name));
            wakes
        };
        assert!(wakes(watcher::Event::Init).is_empty());
        for event in [
            watcher::Event::InitApply(pending("a")),
            watcher::Event::InitApply(ended("a")),
            watcher::Event::InitApply(pending("a")),
            watcher::Event::InitApply(pending("b")),
        ] {
            assert!(wakes(event.clone()).is_empty(), "held: {event:?}");
        }
        assert_eq!(
            wakes(watcher::Event::InitDone),
            vec![
                (wf("a"), Urgency::Now),
                (wf("b"), Urgency::Soon),
                (wf("gone"), Urgency::Now),
            ],
            "one per workflow, the most urgent; the cache's too"
        );
        assert_eq!(
            wakes(watcher::Event::Apply(pending("a"))),
            vec![(wf("a"), Urgency::Soon)]
        );
        assert_eq!(
            wakes(watcher::Event::Delete(pending("a"))),
            vec![(wf("a"), Urgency::Now)],
            "a deleted pod is gone from the cache: no later event will say more"
        );
        // A list cut short and begun again: the first one's wake-ups are not lost.
        assert!(wakes(watcher::Event::Init).is_empty());
        assert!(wakes(watcher::Event::InitApply(ended("c"))).is_empty());
        assert!(wakes(watcher::Event::Init).is_empty());
        assert!(wakes(watcher::Event::InitApply(pending("d"))).is_empty());
        assert_eq!(
            wakes(watcher::Event::InitDone),
            vec![
                (wf("b"), Urgency::Now),
                (wf("c"), Urgency::Now),
                (wf("d"), Urgency::Soon),
            ]
        );
    }

    /// Wake-ups fed through a channel, the pacer's output collected as it comes.
    fn pacer(
        delay: Duration,
    ) -> (
        tokio::sync::mpsc::UnboundedSender<Wake>,
        Pacer<impl Stream<Item = Wake> + Unpin>,
    ) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let input = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        (tx, paced(input, delay))
    }

    #[tokio::test(start_paused = true)]
    async fn progress_is_held_from_its_first_wake_up_and_later_ones_join_it() {
        let start = tokio::time::Instant::now();
        let (tx, mut out) = pacer(Duration::from_secs(1));
        tx.send((wf("a"), Urgency::Soon)).unwrap();
        assert!(futures::poll!(out.next()).is_pending(), "held");
        tokio::time::sleep(Duration::from_millis(600)).await;
        tx.send((wf("a"), Urgency::Soon)).unwrap();
        tx.send((wf("b"), Urgency::Soon)).unwrap();
        assert_eq!(out.next().await, Some(wf("a")));
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(out.next().await, Some(wf("b")));
        assert_eq!(start.elapsed(), Duration::from_millis(1600));
        let more = tokio::time::timeout(Duration::from_secs(10), out.next()).await;
        assert!(more.is_err(), "each workflow woken once: {more:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_end_wakes_at_once_and_takes_the_held_progress_with_it() {
        let start = tokio::time::Instant::now();
        let (tx, mut out) = pacer(Duration::from_secs(1));
        tx.send((wf("a"), Urgency::Soon)).unwrap();
        tx.send((wf("b"), Urgency::Soon)).unwrap();
        tx.send((wf("a"), Urgency::Now)).unwrap();
        assert_eq!(out.next().await, Some(wf("a")));
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(out.next().await, Some(wf("b")));
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        let more = tokio::time::timeout(Duration::from_secs(10), out.next()).await;
        assert!(
            more.is_err(),
            "a's held wake-up went with the one at once: {more:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_delay_nothing_is_held() {
        let start = tokio::time::Instant::now();
        let (tx, mut out) = pacer(Duration::ZERO);
        tx.send((wf("a"), Urgency::Soon)).unwrap();
        tx.send((wf("a"), Urgency::Soon)).unwrap();
        assert_eq!(out.next().await, Some(wf("a")));
        assert_eq!(out.next().await, Some(wf("a")));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_ends_after_its_input_once_what_it_held_is_released() {
        let (tx, mut out) = pacer(Duration::from_secs(1));
        tx.send((wf("a"), Urgency::Soon)).unwrap();
        drop(tx);
        assert_eq!(out.next().await, Some(wf("a")));
        assert_eq!(out.next().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn what_is_due_goes_before_a_stream_of_urgent_wake_ups() {
        let (tx, mut out) = pacer(Duration::from_secs(1));
        tx.send((wf("held"), Urgency::Soon)).unwrap();
        assert!(futures::poll!(out.next()).is_pending(), "held");
        tokio::time::sleep(Duration::from_secs(1)).await;
        for i in 0..3 {
            tx.send((wf(&format!("urgent-{i}")), Urgency::Now)).unwrap();
        }
        assert_eq!(out.next().await, Some(wf("held")));
        assert_eq!(out.next().await, Some(wf("urgent-0")));
    }

    #[test]
    fn a_watch_that_never_pauses_does_not_keep_the_held_from_being_released() {
        // An input always ready: without a bound on what one poll takes in, the pacer would
        // never return (run on a thread of its own, so that the test fails instead of hanging).
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let first = runtime.block_on(async {
                let input = futures::stream::iter([(wf("first"), Urgency::Soon)])
                    .chain(futures::stream::repeat((wf("busy"), Urgency::Soon)));
                paced(input, Duration::from_millis(10)).next().await
            });
            let _ = done.send(first);
        });
        let first = finished.recv_timeout(Duration::from_secs(30));
        assert!(matches!(first, Ok(Some(_))), "{first:?}");
    }
}
