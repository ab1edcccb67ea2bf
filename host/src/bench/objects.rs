//! What the benchmark's own watches decode: an object's metadata and its phase, nothing else, so
//! that measuring takes as little CPU as it can from what is measured.

use std::borrow::Cow;
use std::marker::PhantomData;

use kube::api::ObjectMeta;
use serde::Deserialize;

/// A `K` (a pod, a workflow) with only its metadata and `status.phase` decoded.
#[derive(Debug, Deserialize)]
#[serde(bound = "")]
pub struct Lean<K> {
    pub metadata: ObjectMeta,
    #[serde(default)]
    status: Option<Phase>,
    #[serde(skip)]
    kind: PhantomData<fn() -> K>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct Phase {
    #[serde(default)]
    phase: Option<String>,
}

impl<K> Clone for Lean<K> {
    fn clone(&self) -> Self {
        Lean {
            metadata: self.metadata.clone(),
            status: self.status.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> Lean<K> {
    /// `status.phase`, when there is one.
    pub fn phase(&self) -> Option<&str> {
        self.status.as_ref()?.phase.as_deref()
    }

    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// Its name, as the key of a watch that counts every object ([`super::watch::Expect`]).
    pub fn named(&self) -> Option<String> {
        Some(self.name().to_owned())
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(key).map(String::as_str)
    }
}

impl<K: kube::Resource<DynamicType = ()>> kube::Resource for Lean<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(_: &()) -> Cow<'_, str> {
        K::kind(&())
    }
    fn group(_: &()) -> Cow<'_, str> {
        K::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        K::version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        K::plural(&())
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_engine::workflow::Workflow;
    use kube::Resource as _;

    #[test]
    fn a_lean_workflow_is_addressed_as_a_workflow_and_keeps_only_metadata_and_phase() {
        let wf: Lean<Workflow> = serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "w", "labels": {"a": "b"}},
            "spec": {"entrypoint": "main", "templates": []},
            "status": {"phase": "Succeeded", "nodes": {"w": {"id": "w"}}},
        }))
        .unwrap();
        assert_eq!(
            (wf.name(), wf.phase(), wf.label("a")),
            ("w", Some("Succeeded"), Some("b"))
        );
        assert_eq!(
            Lean::<Workflow>::url_path(&(), Some("argo")),
            "/apis/argoproj.io/v1alpha1/namespaces/argo/workflows"
        );
    }
}
