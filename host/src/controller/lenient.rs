//! Watches of leniently decoded objects ([`Lenient`]) turned into watches of typed ones, for the
//! caches and the engine: one malformed object is skipped and reported, never the whole list.
//!
//! A malformed object does not exist for anything the engine decides: skipped while listing, and
//! a version that turns malformed is a delete for the cache (the last good version must not
//! linger). It is left as it is in the API — a typed write would drop what could not be read.
//! Each malformed version is reported once: a Warning event on the object, a log line by
//! namespace and name, and `flotilla_invalid_objects_total{kind}`. None of them quotes the
//! object's content (see [`flotilla_engine::workflow::DecodeError`]).

use std::collections::HashMap;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder};
use kube::runtime::watcher::{self, Event};
use tracing::{debug, warn};

use flotilla_engine::workflow::{
    CronWorkflow, Invalid, Lenient, Workflow, WorkflowSpec, WorkflowTaskResult,
};

/// A typed object that can stand in, by its metadata alone, for a malformed version in a cache
/// delete.
pub(crate) trait FromMetadata: Resource<DynamicType = ()> + Sized {
    fn from_metadata(metadata: ObjectMeta) -> Self;
}

impl FromMetadata for Workflow {
    fn from_metadata(metadata: ObjectMeta) -> Self {
        let mut wf = Workflow::new("", WorkflowSpec::default());
        wf.metadata = metadata;
        wf
    }
}

impl FromMetadata for CronWorkflow {
    fn from_metadata(metadata: ObjectMeta) -> Self {
        CronWorkflow {
            metadata,
            ..Default::default()
        }
    }
}

impl FromMetadata for WorkflowTaskResult {
    fn from_metadata(metadata: ObjectMeta) -> Self {
        WorkflowTaskResult::new(metadata)
    }
}

/// The malformed versions reported, by uid. Rebuilt on every re-list, so it holds at most the
/// malformed objects that exist (a delete missed while the watch was down is forgotten then).
#[derive(Debug, Default)]
pub(crate) struct Reported {
    versions: HashMap<String, Option<String>>,
    relisting: Option<HashMap<String, Option<String>>>,
}

fn key(metadata: &ObjectMeta) -> String {
    metadata.uid.clone().unwrap_or_else(|| {
        format!(
            "{}/{}",
            metadata.namespace.as_deref().unwrap_or_default(),
            metadata.name.as_deref().unwrap_or_default()
        )
    })
}

impl Reported {
    /// Whether this malformed version is new (then it is remembered).
    fn first_time(&mut self, metadata: &ObjectMeta) -> bool {
        let key = key(metadata);
        let version = metadata.resource_version.clone();
        let new = self.versions.get(&key) != Some(&version);
        let into = self.relisting.as_mut().unwrap_or(&mut self.versions);
        into.insert(key, version);
        new
    }

    fn forget(&mut self, metadata: &ObjectMeta) {
        self.versions.remove(&key(metadata));
    }
}

/// What one event of a lenient watch is for the typed watch (if anything), and the malformed
/// version to report (if it is one not reported yet).
pub(crate) fn triage<K: FromMetadata>(
    event: Event<Lenient<K>>,
    reported: &mut Reported,
) -> (Option<Event<K>>, Option<Invalid>) {
    let report = |invalid: Invalid, reported: &mut Reported| {
        reported.first_time(&invalid.metadata).then_some(invalid)
    };
    match event {
        Event::Apply(Lenient::Valid(k)) => {
            reported.forget(k.meta());
            (Some(Event::Apply(k)), None)
        }
        Event::Apply(Lenient::Invalid(invalid)) => {
            let stand_in = K::from_metadata(invalid.metadata.clone());
            (Some(Event::Delete(stand_in)), report(*invalid, reported))
        }
        Event::Delete(lenient) => {
            reported.forget(lenient.meta());
            let k = match lenient {
                Lenient::Valid(k) => k,
                Lenient::Invalid(invalid) => K::from_metadata(invalid.metadata),
            };
            (Some(Event::Delete(k)), None)
        }
        Event::Init => {
            reported.relisting = Some(HashMap::new());
            (Some(Event::Init), None)
        }
        Event::InitApply(Lenient::Valid(k)) => (Some(Event::InitApply(k)), None),
        Event::InitApply(Lenient::Invalid(invalid)) => (None, report(*invalid, reported)),
        Event::InitDone => {
            if let Some(relisted) = reported.relisting.take() {
                reported.versions = relisted;
            }
            (Some(Event::InitDone), None)
        }
    }
}

/// Reports malformed objects of one cluster: events go to that cluster's API server.
#[derive(Clone)]
pub(crate) struct InvalidReporter {
    recorder: Recorder,
    /// The cluster, for log lines (`None`: the controller's own).
    cluster: Option<String>,
    /// Only the leader records events; a standby logs.
    leadership: crate::leader::Leadership,
}

impl std::fmt::Debug for InvalidReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidReporter")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

/// The event reason for a malformed object of `kind`, in Argo's vocabulary
/// (`WorkflowMalformed`, `WorkflowTaskResultMalformed`).
pub(crate) fn reason(kind: &str) -> String {
    format!("{kind}Malformed")
}

/// The event's message: what the object is, that it is ignored, and where it is wrong.
pub(crate) fn message(kind: &str, invalid: &Invalid) -> String {
    format!(
        "{kind} cannot be read and is ignored until it is fixed: {}",
        invalid.error
    )
}

impl InvalidReporter {
    pub(crate) fn new(
        client: kube::Client,
        cluster: Option<String>,
        leadership: crate::leader::Leadership,
    ) -> InvalidReporter {
        InvalidReporter {
            recorder: Recorder::new(client, super::reporter(leadership.identity())),
            cluster,
            leadership,
        }
    }

    fn report<K: Resource<DynamicType = ()>>(&self, invalid: Invalid) {
        let kind = K::kind(&()).into_owned();
        let metric_kind = match kind.as_str() {
            "Workflow" => "Workflow",
            "CronWorkflow" => "CronWorkflow",
            _ => "WorkflowTaskResult",
        };
        crate::metrics::invalid_object(metric_kind);
        let meta = &invalid.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        warn!(
            kind = %kind,
            namespace = %namespace,
            name = %name,
            cluster = self.cluster.as_deref().unwrap_or("(own)"),
            field = %invalid.error.path,
            problem = %invalid.error.problem,
            "malformed object ignored"
        );
        let reference = ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(kind.clone()),
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            ..Default::default()
        };
        let event = KubeEvent {
            type_: EventType::Warning,
            reason: reason(&kind),
            note: Some(message(&kind, &invalid)),
            action: "Decode".into(),
            secondary: None,
        };
        if !self.leadership.is_leading() {
            return;
        }
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&event, &reference).await {
                debug!(namespace = %namespace, name = %name, error = %e, "recording a malformed-object event failed");
            }
        });
    }
}

/// The task results labelled as a workflow's that `api` reaches, watched into `writer`'s store
/// with back-off; a malformed one is reported through `invalid` and left out, never fatal.
pub(super) fn task_results(
    api: kube::Api<Lenient<WorkflowTaskResult>>,
    writer: kube::runtime::reflector::store::Writer<WorkflowTaskResult>,
    invalid: InvalidReporter,
) -> impl Stream<Item = Result<Event<WorkflowTaskResult>, watcher::Error>> + Send + 'static {
    use kube::runtime::WatchStreamExt as _;
    let config = watcher::Config::default().labels(flotilla_engine::workflow::labels::WORKFLOW);
    let events = typed(watcher::watcher(api, config).default_backoff(), invalid);
    kube::runtime::reflector(writer, events)
}

/// The typed watch of a lenient one: malformed objects reported and left out (see the module).
pub(crate) fn typed<K>(
    events: impl Stream<Item = Result<Event<Lenient<K>>, watcher::Error>> + Send + 'static,
    reporter: InvalidReporter,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: FromMetadata + Resource + Send + 'static,
{
    let mut reported = Reported::default();
    events.filter_map(move |event| {
        let typed = match event {
            Err(e) => Some(Err(e)),
            Ok(event) => {
                let (typed, invalid) = triage(event, &mut reported);
                if let Some(invalid) = invalid {
                    reporter.report::<K>(invalid);
                }
                typed.map(|event| Ok(event.modify(super::without_managed_fields)))
            }
        };
        futures::future::ready(typed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_engine::workflow::DecodeError;
    use kube::ResourceExt;

    fn meta(name: &str, version: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("team-a".into()),
            uid: Some(format!("uid-{name}")),
            resource_version: Some(version.into()),
            ..Default::default()
        }
    }

    fn bad(name: &str, version: &str) -> Lenient<WorkflowTaskResult> {
        Lenient::Invalid(Box::new(Invalid {
            metadata: meta(name, version),
            error: DecodeError {
                path: "outputs.result".into(),
                problem: "expected a string, found an integer".into(),
            },
        }))
    }

    fn good(name: &str, version: &str) -> Lenient<WorkflowTaskResult> {
        Lenient::Valid(WorkflowTaskResult::new(meta(name, version)))
    }

    #[test]
    fn a_malformed_item_is_left_out_of_a_list_and_reported_once() {
        let mut reported = Reported::default();
        let mut typed = Vec::new();
        let mut reports = Vec::new();
        for event in [
            Event::Init,
            Event::InitApply(bad("x", "1")),
            Event::InitApply(good("y", "1")),
            Event::InitDone,
            // A re-list finds the same version: not reported again.
            Event::Init,
            Event::InitApply(bad("x", "1")),
            Event::InitDone,
        ] {
            let (t, r) = triage(event, &mut reported);
            typed.extend(t);
            reports.extend(r);
        }
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].metadata.name.as_deref(), Some("x"));
        let names: Vec<String> = typed
            .iter()
            .filter_map(|e| match e {
                Event::InitApply(k) => Some(k.name_any()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["y"]);
    }

    #[test]
    fn a_version_turning_malformed_leaves_the_cache_and_each_version_is_reported() {
        let mut reported = Reported::default();
        let (t, r) = triage(Event::Apply(bad("x", "2")), &mut reported);
        assert!(matches!(t, Some(Event::Delete(k)) if k.name_any() == "x"));
        assert!(r.is_some());
        assert!(
            triage(Event::Apply(bad("x", "2")), &mut reported)
                .1
                .is_none()
        );
        assert!(
            triage(Event::Apply(bad("x", "3")), &mut reported)
                .1
                .is_some()
        );
        // Fixed, then broken again at a version seen before: reported again.
        let (t, r) = triage(Event::Apply(good("x", "4")), &mut reported);
        assert!(matches!(t, Some(Event::Apply(_))) && r.is_none());
        assert!(
            triage(Event::Apply(bad("x", "3")), &mut reported)
                .1
                .is_some()
        );
        let (t, _) = triage(Event::Delete(bad("x", "5")), &mut reported);
        assert!(matches!(t, Some(Event::Delete(_))));
        assert!(reported.versions.is_empty());
    }

    #[test]
    fn a_relist_forgets_objects_deleted_meanwhile() {
        let mut reported = Reported::default();
        triage(Event::Apply(bad("gone", "1")), &mut reported);
        for event in [
            Event::Init,
            Event::InitApply(bad("x", "1")),
            Event::InitDone,
        ] {
            triage(event, &mut reported);
        }
        assert_eq!(
            reported.versions.keys().collect::<Vec<_>>(),
            [&"uid-x".to_string()]
        );
    }

    #[test]
    fn the_event_names_the_field_in_argos_words() {
        let Lenient::Invalid(invalid) = bad("x", "1") else {
            unreachable!()
        };
        assert_eq!(reason("WorkflowTaskResult"), "WorkflowTaskResultMalformed");
        assert_eq!(
            message("WorkflowTaskResult", &invalid),
            "WorkflowTaskResult cannot be read and is ignored until it is fixed: outputs.result: expected a string, found an integer"
        );
    }
}
