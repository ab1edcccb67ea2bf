//! The controller's view of a pod: only the fields it reads. The watch cache holds every pod of
//! every running workflow, and decoding full `Pod` objects (most of their bytes are the spec) on
//! every event is the controller's largest cost in a wide fan-out.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WorkflowPod {
    pub(crate) metadata: ObjectMeta,
    #[serde(default)]
    pub(crate) spec: PodSpecView,
    #[serde(default)]
    pub(crate) status: PodStatusView,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSpecView {
    pub(crate) node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodStatusView {
    pub(crate) phase: Option<String>,
    pub(crate) message: Option<String>,
    #[serde(rename = "podIP")]
    pub(crate) pod_ip: Option<String>,
    #[serde(default)]
    pub(crate) container_statuses: Vec<ContainerStatusView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ContainerStatusView {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) state: ContainerStateView,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ContainerStateView {
    pub(crate) terminated: Option<TerminatedView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TerminatedView {
    pub(crate) exit_code: i32,
    pub(crate) message: Option<String>,
}

impl kube::Resource for WorkflowPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
