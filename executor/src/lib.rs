//! The executor's job (Argo's `argoexec`): once a pod's main container has exited, collect the
//! node's outputs — `result` (standard output), `exitCode`, and output parameters read from files
//! — and report them as a `WorkflowTaskResult` named after the node, in the pod's own cluster
//! and namespace. The simulated kubelet runs this same code when a workflow pod's container ends.

mod condition;
mod path;
pub mod resource;
pub mod sidecar;
mod signals;
mod wrap;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde::Deserialize;
use serde_json::Value;

use flotilla_engine::workflow::report_digest;
pub use flotilla_engine::workflow::report_digest::{TERMINATION_LOG, TERMINATION_LOG_ENV};
use flotilla_engine::workflow::{Outputs, Parameter, WorkflowTaskResult, labels};

pub use wrap::{Identity, WrapError, run_wrapped};

/// Argo caps `outputs.result` so a chatty container cannot bloat the workflow's status.
pub(crate) const MAX_RESULT_BYTES: usize = 256 * 1024;

/// The part of the template the executor needs (the controller puts it on the pod).
#[derive(Debug, Default, Deserialize)]
struct TemplateView {
    #[serde(default)]
    outputs: Option<Outputs>,
}

/// Why outputs could not be collected; the node fails with this message.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExecutorError {
    #[error("the pod has no {0} annotation: it was not created by Flotilla")]
    NotAWorkflowPod(&'static str),
    #[error("the template annotation is not valid JSON: {0}")]
    BadTemplate(String),
    #[error("output parameter {name:?}: reading {path}: no such file or directory")]
    MissingFile { name: String, path: String },
}

/// Outputs from the template's declarations, the container's files and its standard output.
pub fn collect_outputs(
    template_json: &str,
    read_file: impl Fn(&str) -> Option<String>,
    stdout: &str,
    exit_code: i32,
) -> Result<Outputs, ExecutorError> {
    let view: TemplateView = serde_json::from_str(template_json)
        .map_err(|e| ExecutorError::BadTemplate(e.to_string()))?;
    let mut outputs = Outputs {
        exit_code: Some(exit_code.to_string()),
        ..Default::default()
    };
    let mut result = stdout.trim_end_matches('\n').to_string();
    if result.len() > MAX_RESULT_BYTES {
        let mut cut = MAX_RESULT_BYTES;
        while !result.is_char_boundary(cut) {
            cut -= 1;
        }
        result.truncate(cut);
    }
    outputs.result = Some(result);
    for p in view.outputs.iter().flat_map(|o| o.parameters.iter()) {
        let Some(path) = p.value_from.as_ref().and_then(|v| v.path.clone()) else {
            continue;
        };
        let value = match read_file(&path) {
            Some(text) => text.trim_end_matches('\n').to_string(),
            None => match p
                .value_from
                .as_ref()
                .and_then(|v| v.default.clone())
                .or_else(|| p.default.clone())
            {
                Some(default) => default.0,
                None => {
                    return Err(ExecutorError::MissingFile {
                        name: p.name.clone(),
                        path,
                    });
                }
            },
        };
        outputs.parameters.push(Parameter {
            name: p.name.clone(),
            value: Some(value.into()),
            ..Default::default()
        });
    }
    Ok(outputs)
}

/// The pod an executor reports for: its identity and the labels that tie it to its workflow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodRef {
    pub name: String,
    pub namespace: String,
    pub uid: Option<String>,
    pub node_id: String,
    /// The pod's workflow labels (workflow, workflow namespace, instance ID).
    pub labels: BTreeMap<String, String>,
}

impl PodRef {
    /// From the pod object (the simulated kubelet has it).
    pub fn from_pod(pod: &Pod) -> Result<PodRef, ExecutorError> {
        let node_id = pod
            .annotations()
            .get(labels::NODE_ID)
            .ok_or(ExecutorError::NotAWorkflowPod(labels::NODE_ID))?;
        Ok(PodRef {
            name: pod.name_any(),
            namespace: pod.namespace().unwrap_or_default(),
            uid: pod.uid(),
            node_id: node_id.clone(),
            labels: pod.labels().clone(),
        })
    }
}

/// The task result for a pod's node, ready to create.
pub fn task_result(
    pod: &PodRef,
    outputs: Option<Outputs>,
    message: Option<String>,
) -> WorkflowTaskResult {
    let mut result_labels = BTreeMap::new();
    for key in [
        labels::WORKFLOW,
        labels::WORKFLOW_NAMESPACE,
        labels::CONTROLLER_INSTANCE_ID,
    ] {
        if let Some(v) = pod.labels.get(key) {
            result_labels.insert(key.to_string(), v.clone());
        }
    }
    result_labels.insert(labels::REPORT_OUTPUTS_COMPLETED.into(), "true".into());
    let owner = pod.uid.clone().map(|uid| OwnerReference {
        api_version: "v1".into(),
        kind: "Pod".into(),
        name: pod.name.clone(),
        uid,
        ..Default::default()
    });
    let mut result = WorkflowTaskResult::new(ObjectMeta {
        name: Some(pod.node_id.clone()),
        namespace: Some(pod.namespace.clone()),
        labels: Some(result_labels),
        owner_references: owner.map(|o| vec![o]),
        ..Default::default()
    });
    result.outputs = outputs;
    result.message = message;
    result
}

/// Creates the task result, or overwrites whatever holds its name: a previous attempt of the
/// executor's, or one made first by someone else. Every field the controller reads — labels,
/// owners, outputs, message — is set whole with a JSON patch (`add` replaces a member), so
/// nothing of an earlier object survives into this pod's report, and the executor needs only
/// the `create` and `patch` verbs Argo's executor role grants.
pub async fn report(client: &Client, result: &WorkflowTaskResult) -> Result<(), kube::Error> {
    let ns = result.namespace().unwrap_or_default();
    let api: Api<WorkflowTaskResult> = Api::namespaced(client.clone(), &ns);
    match api.create(&PostParams::default(), result).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let patch = overwrite(result).map_err(kube::Error::SerdeError)?;
            api.patch(
                &result.name_any(),
                &PatchParams::default(),
                &Patch::Json::<()>(patch),
            )
            .await
            .map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// The termination message that vouches for `reported`: its digest first (see
/// [`report_digest`]), then `message`.
pub fn termination_message(reported: &WorkflowTaskResult, message: Option<&str>) -> String {
    let digest = report_digest::digest(reported.outputs.as_ref(), reported.message.as_deref());
    report_digest::termination_message(&digest, message)
}

/// The JSON patch that makes an existing task result say what `result` says.
fn overwrite(result: &WorkflowTaskResult) -> Result<json_patch::Patch, serde_json::Error> {
    let set =
        |path: &str, value: Value| serde_json::json!({"op": "add", "path": path, "value": value});
    serde_json::from_value(serde_json::json!([
        set(
            "/metadata/labels",
            serde_json::to_value(&result.metadata.labels)?
        ),
        set(
            "/metadata/ownerReferences",
            serde_json::to_value(&result.metadata.owner_references)?
        ),
        set("/outputs", serde_json::to_value(&result.outputs)?),
        set("/message", serde_json::to_value(&result.message)?),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"{"name":"t","outputs":{"parameters":[{"name":"out","valueFrom":{"path":"/tmp/out"}},{"name":"opt","valueFrom":{"path":"/tmp/none","default":"d"}}]}}"#;

    #[test]
    fn outputs_from_files_and_stdout() {
        let files = |p: &str| (p == "/tmp/out").then(|| "hello\n".to_string());
        let out = collect_outputs(TEMPLATE, files, "line1\nline2\n", 0).unwrap();
        assert_eq!(out.result.as_deref(), Some("line1\nline2"));
        assert_eq!(out.exit_code.as_deref(), Some("0"));
        let values: Vec<(&str, &str)> = out
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_ref().unwrap().as_str()))
            .collect();
        assert_eq!(values, [("out", "hello"), ("opt", "d")]);
    }

    #[test]
    fn a_missing_output_file_is_an_error_naming_it() {
        let err = collect_outputs(TEMPLATE, |_| None, "", 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"output parameter "out": reading /tmp/out: no such file or directory"#
        );
        assert!(matches!(
            collect_outputs("{", |_| None, "", 0),
            Err(ExecutorError::BadTemplate(_))
        ));
    }

    #[test]
    fn task_results_are_named_after_the_node_and_labelled() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "wf-a-1", "namespace": "ns", "uid": "u",
                "labels": {"workflows.argoproj.io/workflow": "wf", "flotilla.dev/workflow-namespace": "argo"},
                "annotations": {"workflows.argoproj.io/node-id": "wf-123"}},
        }))
        .unwrap();
        let r = task_result(&PodRef::from_pod(&pod).unwrap(), None, None);
        assert_eq!(r.metadata.name.as_deref(), Some("wf-123"));
        assert_eq!(r.metadata.namespace.as_deref(), Some("ns"));
        let l = r.metadata.labels.unwrap();
        assert_eq!(l["workflows.argoproj.io/report-outputs-completed"], "true");
        assert_eq!(l["flotilla.dev/workflow-namespace"], "argo");
        let bare: Pod =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}})).unwrap();
        assert_eq!(
            PodRef::from_pod(&bare).unwrap_err(),
            ExecutorError::NotAWorkflowPod(labels::NODE_ID)
        );
    }
}
