//! The WorkflowTemplates and ClusterWorkflowTemplates `templateRef` and `workflowTemplateRef`
//! name, cached from the controller's cluster as Argo's informers cache them. Each is decoded on
//! its own (`Lenient`): one that does not decode fails only the workflows that call it, with the
//! field named and no value quoted.

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tracing::warn;

use flotilla_engine::ports;
use flotilla_engine::workflow::{ClusterWorkflowTemplate, Lenient, WorkflowTemplate};

/// The two caches, as the engine reads them.
#[derive(Clone)]
pub(crate) struct WorkflowTemplates {
    namespaced: Store<Lenient<WorkflowTemplate>>,
    /// `None` when the controller watches one namespace: it may not read cluster-scoped
    /// objects, and ClusterWorkflowTemplates are not found (as under Argo's namespaced install).
    cluster: Option<Store<Lenient<ClusterWorkflowTemplate>>>,
}

impl std::fmt::Debug for WorkflowTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowTemplates")
            .field("namespaced", &self.namespaced.state().len())
            .field("cluster", &self.cluster.as_ref().map(|c| c.state().len()))
            .finish()
    }
}

impl WorkflowTemplates {
    /// The caches, and the task that keeps them: WorkflowTemplates of `namespace` (every
    /// namespace with `None`), and with `None` the ClusterWorkflowTemplates as well.
    pub(crate) fn watch(
        client: &Client,
        namespace: Option<&str>,
    ) -> (Self, impl Stream<Item = ()> + Send + 'static) {
        let namespaced_api: Api<Lenient<WorkflowTemplate>> = super::scoped(client, namespace);
        let (namespaced, writer) = reflector::store();
        let namespaced_events = reflector(writer, namespaced_api)
            .inspect(|e| crate::health::on_event(crate::health::Cache::WorkflowTemplates, e))
            .map(|e| report("WorkflowTemplates", e));
        let (cluster, cluster_events) = match namespace {
            Some(_) => {
                // Not watched: nothing to wait for.
                crate::health::not_watched(crate::health::Cache::ClusterWorkflowTemplates);
                (None, futures::stream::empty().boxed())
            }
            None => {
                let api: Api<Lenient<ClusterWorkflowTemplate>> = Api::all(client.clone());
                let (store, writer) = reflector::store();
                let events = reflector(writer, api)
                    .inspect(|e| {
                        crate::health::on_event(crate::health::Cache::ClusterWorkflowTemplates, e)
                    })
                    .map(|e| report("ClusterWorkflowTemplates", e));
                (Some(store), events.boxed())
            }
        };
        let events = futures::stream::select(namespaced_events.boxed(), cluster_events);
        (
            WorkflowTemplates {
                namespaced,
                cluster,
            },
            events,
        )
    }

    /// `caches` and these caches listed.
    pub(crate) fn ready(
        &self,
        caches: super::readiness::CachesReady,
    ) -> super::readiness::CachesReady {
        let caches = caches.and(&self.namespaced);
        match &self.cluster {
            Some(cluster) => caches.and(cluster),
            None => caches,
        }
    }
}

fn reflector<K>(
    writer: reflector::store::Writer<K>,
    api: Api<K>,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).modify(super::without_managed_fields),
    )
    .default_backoff()
}

fn report<K>(what: &str, event: Result<watcher::Event<K>, watcher::Error>) {
    if let Err(e) = event {
        warn!(error = %e, "watching {what} failed; retrying");
    }
}

impl ports::WorkflowTemplates for WorkflowTemplates {
    fn get(&self, namespace: Option<&str>, name: &str) -> Option<ports::FoundTemplate> {
        match namespace {
            Some(ns) => self
                .namespaced
                .get(&ObjectRef::new(name).within(ns))
                .map(ports::FoundTemplate::Namespaced),
            None => self
                .cluster
                .as_ref()?
                .get(&ObjectRef::new(name))
                .map(ports::FoundTemplate::Cluster),
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::watcher::Event;

    use super::*;
    use ports::WorkflowTemplates as _;

    fn templates(namespaced: Vec<&str>, cluster: Option<Vec<&str>>) -> WorkflowTemplates {
        let (store, mut writer) = reflector::store::<Lenient<WorkflowTemplate>>();
        writer.apply_watcher_event(&Event::Init);
        for json in namespaced {
            writer.apply_watcher_event(&Event::InitApply(Lenient::from_json(json).unwrap()));
        }
        writer.apply_watcher_event(&Event::InitDone);
        let cluster = cluster.map(|objects| {
            let (store, mut writer) = reflector::store::<Lenient<ClusterWorkflowTemplate>>();
            writer.apply_watcher_event(&Event::Init);
            for json in objects {
                writer.apply_watcher_event(&Event::InitApply(Lenient::from_json(json).unwrap()));
            }
            writer.apply_watcher_event(&Event::InitDone);
            store
        });
        WorkflowTemplates {
            namespaced: store,
            cluster,
        }
    }

    const LIB: &str = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
        "metadata": {"name": "lib", "namespace": "team-a"},
        "spec": {"templates": [{"name": "hello", "container": {"image": "x"}}]}}"#;

    #[test]
    fn a_workflow_template_is_found_in_its_own_namespace_only() {
        let t = templates(vec![LIB], Some(vec![]));
        let found = t.get(Some("team-a"), "lib").unwrap();
        assert_eq!(found.spec().unwrap().templates[0].name, "hello");
        assert!(t.get(Some("team-b"), "lib").is_none());
        assert!(
            t.get(None, "lib").is_none(),
            "not a ClusterWorkflowTemplate"
        );
    }

    #[test]
    fn one_that_does_not_decode_says_where_without_quoting_it() {
        let bad = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
            "metadata": {"name": "bad", "namespace": "team-a"},
            "spec": {"templates": [{"name": "t", "parallelism": "secret-value"}]}}"#;
        let t = templates(vec![bad], None);
        let err = t.get(Some("team-a"), "bad").unwrap().spec().unwrap_err();
        assert!(err.contains("templates[0].parallelism"), "{err}");
        assert!(!err.contains("secret-value"), "{err}");
    }

    #[test]
    fn cluster_workflow_templates_are_found_by_name_unless_watching_one_namespace() {
        let shared = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterWorkflowTemplate",
            "metadata": {"name": "shared"},
            "spec": {"templates": [{"name": "t", "container": {"image": "x"}}]}}"#;
        let t = templates(vec![], Some(vec![shared]));
        assert!(t.get(None, "shared").unwrap().spec().is_ok());
        let t = templates(vec![], None);
        assert!(t.get(None, "shared").is_none());
    }
}
