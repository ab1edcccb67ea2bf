//! Waiting for a pair of caches' first lists from many reconciles at once.
//!
//! `Store::wait_until_ready` cannot be awaited by several tasks: kube-runtime's `DelayedInit`
//! polls a oneshot receiver, which remembers only the last task that polled it, so when the list
//! arrives only that task is woken and the others sleep until their timeout. At a controller's
//! start every workflow is reconciled at once before the pods have listed, and all but one of
//! them waited the whole 30 s (seen as a workflow submitted at start that got no pod for 30 s).
//! [`CachesReady`] polls the stores' readiness from one shared future, which wakes every waiter.

use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use kube::runtime::reflector::Store;

use super::pod_view::WorkflowPod;
use flotilla_engine::workflow::WorkflowTaskResult;

/// Whether a cluster's pod and task-result caches have listed; clones share one wait.
#[derive(Clone)]
pub(crate) struct CachesReady(Shared<BoxFuture<'static, bool>>);

impl std::fmt::Debug for CachesReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CachesReady")
            .field(&self.0.peek().copied())
            .finish()
    }
}

impl CachesReady {
    /// Readiness of `pods` and `results` (false if a writer was dropped before listing).
    pub(crate) fn of(pods: &Store<WorkflowPod>, results: &Store<WorkflowTaskResult>) -> Self {
        Self::all(vec![ready(pods.clone()), ready(results.clone())])
    }

    /// Readiness of these caches and of `store` too.
    pub(crate) fn and<K>(self, store: &Store<K>) -> Self
    where
        K: kube::runtime::reflector::Lookup + Clone + Send + Sync + 'static,
        <K as kube::runtime::reflector::Lookup>::DynamicType:
            Eq + std::hash::Hash + Clone + Send + Sync,
    {
        Self::all(vec![self.0.boxed(), ready(store.clone())])
    }

    fn all(waits: Vec<BoxFuture<'static, bool>>) -> Self {
        let all = async move {
            for wait in waits {
                if !wait.await {
                    return false;
                }
            }
            true
        };
        CachesReady(all.boxed().shared())
    }

    /// Whether the caches have listed, waiting at most `wait` for it.
    pub(crate) async fn within(&self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.0.clone())
            .await
            .unwrap_or(false)
    }
}

fn ready<K>(store: Store<K>) -> BoxFuture<'static, bool>
where
    K: kube::runtime::reflector::Lookup + Clone + Send + Sync + 'static,
    <K as kube::runtime::reflector::Lookup>::DynamicType:
        Eq + std::hash::Hash + Clone + Send + Sync,
{
    async move { store.wait_until_ready().await.is_ok() }.boxed()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    /// Eight reconciles wait at once; the lists arrive; every one of them goes on at once, not at
    /// its timeout. (With each awaiting `Store::wait_until_ready` itself, all but the last slept
    /// until the timeout — checked.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_waiter_is_woken_when_the_caches_list() {
        let (first, mut first_writer) = reflector::store::<ConfigMap>();
        let (second, mut second_writer) = reflector::store::<ConfigMap>();
        let ready = CachesReady::all(vec![super::ready(first), super::ready(second)]);
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let ready = ready.clone();
                tokio::spawn(async move { ready.within(Duration::from_secs(3600)).await })
            })
            .collect();
        // Let every waiter poll before the lists arrive.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for writer in [&mut first_writer, &mut second_writer] {
            writer.apply_watcher_event(&Event::Init);
            writer.apply_watcher_event(&Event::InitDone);
        }
        let woken =
            tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(waiters))
                .await
                .expect("every waiter was woken, none left to its hour-long timeout");
        assert!(woken.into_iter().all(|w| w.expect("the waiter ran")));
    }

    #[tokio::test]
    async fn caches_that_never_list_are_not_ready() {
        let (store, _writer) = reflector::store::<ConfigMap>();
        let ready = CachesReady::all(vec![super::ready(store)]);
        assert!(!ready.within(Duration::from_millis(100)).await);
    }
}
