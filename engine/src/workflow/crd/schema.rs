//! The structural schemas of Flotilla's CRDs: the API server rejects at the door what the Rust
//! types in [`crate::workflow`] could not read, so a tenant's typo fails its own `kubectl apply`
//! instead of reaching the controller.
//!
//! Written beside the types, field for field, under three rules that keep Argo's YAML valid:
//! - Only what the Rust types give a precise type is typed here; everything else (pod fields,
//!   Argo features Flotilla does not model) is left out, and kept: every object node preserves
//!   unknown fields, so nothing a user writes is ever pruned — including Flotilla's own
//!   `cluster`/`clusterName`/`namespace` on templates and `cluster`/`namespace`/`podName`/`podUID` on
//!   status nodes, which Argo's full CRDs would prune.
//! - Nothing Argo accepts is rejected: fields Argo reads as `AnyString` or `IntOrString`
//!   (parameter values in workflows, `activeDeadlineSeconds` of a template, retry limits,
//!   sequences, durations) are not typed; fields are `nullable` where Argo writes `null`
//!   (`finishedAt: null`); nothing is `required` that Argo's own CRDs do not require. What
//!   remains loose is caught by the controller's per-object decoding (`Lenient`).
//! - Task results are written by Argo's executor, which writes strings: their outputs are typed
//!   as Argo's full CRD types them (`value`, `result`, `exitCode` strings).

use serde_json::{Value, json};

/// An object whose unknown fields are kept, with these typed fields.
fn object(properties: Value) -> Value {
    json!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": properties,
    })
}

/// Any object (pod fields passed through as they are).
fn free_object() -> Value {
    json!({"type": "object", "nullable": true, "x-kubernetes-preserve-unknown-fields": true})
}

fn string() -> Value {
    json!({"type": "string", "nullable": true})
}

fn integer() -> Value {
    json!({"type": "integer", "nullable": true})
}

fn boolean() -> Value {
    json!({"type": "boolean", "nullable": true})
}

/// A list (that may be null, as Go's nil slices are).
fn list(items: Value) -> Value {
    json!({"type": "array", "nullable": true, "items": items})
}

/// A list of anything (containers, volumes, tolerations, `withItems`).
fn any_list() -> Value {
    list(json!({"x-kubernetes-preserve-unknown-fields": true}))
}

fn map_of(values: Value) -> Value {
    json!({"type": "object", "nullable": true, "additionalProperties": values})
}

/// A parameter; `value` is typed only where the writer is Argo's executor (see the module).
fn parameter(value: Option<Value>) -> Value {
    let mut properties = json!({
        "name": {"type": "string"},
        "globalName": string(),
        "description": string(),
        "enum": any_list(),
        "valueFrom": object(json!({
            "path": string(),
            "jsonPath": string(),
            "jqFilter": string(),
            "parameter": string(),
            "expression": string(),
            "event": string(),
            "supplied": free_object(),
            "configMapKeyRef": free_object(),
        })),
    });
    if let (Some(value), Some(p)) = (value, properties.as_object_mut()) {
        p.insert("value".into(), value.clone());
        p.insert("default".into(), value);
    }
    let mut schema = object(properties);
    schema["required"] = json!(["name"]);
    schema
}

/// Parameters and artifacts: `arguments`, `inputs`.
fn parameters_and_artifacts() -> Value {
    object(json!({
        "parameters": list(parameter(None)),
        "artifacts": list(json!({"x-kubernetes-preserve-unknown-fields": true})),
    }))
}

fn outputs(parameter_value: Option<Value>) -> Value {
    object(json!({
        "parameters": list(parameter(parameter_value)),
        "artifacts": list(json!({"x-kubernetes-preserve-unknown-fields": true})),
        "result": string(),
        "exitCode": string(),
    }))
}

fn pod_metadata() -> Value {
    object(json!({
        "labels": map_of(json!({"type": "string"})),
        "annotations": map_of(json!({"type": "string"})),
    }))
}

/// What a DAG task and a step share: a template call.
fn call(extra: Value) -> Value {
    let mut properties = json!({
        "name": {"type": "string"},
        "template": string(),
        "arguments": parameters_and_artifacts(),
        "when": string(),
        "withItems": any_list(),
        "withParam": string(),
        "withSequence": object(json!({"format": string()})),
        "continueOn": object(json!({"error": boolean(), "failed": boolean()})),
        "onExit": string(),
    });
    if let (Some(p), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    object(properties)
}

fn template() -> Value {
    object(json!({
        "name": {"type": "string"},
        "inputs": parameters_and_artifacts(),
        "outputs": outputs(None),
        "container": free_object(),
        "script": object(json!({"source": string()})),
        "resource": object(json!({
            "action": string(),
            "manifest": string(),
            "mergeStrategy": string(),
            "successCondition": string(),
            "failureCondition": string(),
            "setOwnerReference": boolean(),
            "flags": list(json!({"type": "string"})),
        })),
        "dag": object(json!({
            "tasks": list(call(json!({
                "dependencies": list(json!({"type": "string"})),
                "depends": string(),
            }))),
            "target": string(),
            "failFast": boolean(),
        })),
        "steps": list(list(call(json!({})))),
        "suspend": free_object(),
        "retryStrategy": retry_strategy(),
        "parallelism": integer(),
        "failFast": boolean(),
        "serviceAccountName": string(),
        "automountServiceAccountToken": boolean(),
        "nodeSelector": map_of(json!({"type": "string"})),
        "tolerations": any_list(),
        "affinity": free_object(),
        "volumes": any_list(),
        "initContainers": any_list(),
        "sidecars": any_list(),
        "metadata": pod_metadata(),
        "securityContext": free_object(),
        "priorityClassName": string(),
        "podSpecPatch": string(),
        "timeout": string(),
        "cluster": string(),
        "clusterName": string(),
        "namespace": string(),
    }))
}

fn workflow_spec() -> Value {
    let mut spec = object(json!({
        "entrypoint": string(),
        "arguments": parameters_and_artifacts(),
        "templates": list(template()),
        "serviceAccountName": string(),
        "parallelism": integer(),
        "activeDeadlineSeconds": integer(),
        "podGC": object(json!({
            "strategy": string(),
            "labelSelector": free_object(),
            "deleteDelayDuration": string(),
        })),
        "ttlStrategy": object(json!({
            "secondsAfterCompletion": integer(),
            "secondsAfterSuccess": integer(),
            "secondsAfterFailure": integer(),
        })),
        "shutdown": string(),
        "suspend": boolean(),
        "onExit": string(),
        "retryStrategy": retry_strategy(),
        "nodeSelector": map_of(json!({"type": "string"})),
        "tolerations": any_list(),
        "affinity": free_object(),
        "volumes": any_list(),
        "podMetadata": pod_metadata(),
        "imagePullSecrets": any_list(),
        "podPriorityClassName": string(),
        "securityContext": free_object(),
    }));
    spec["x-kubernetes-map-type"] = json!("atomic");
    // The one object that must be there (Argo's Workflow requires a spec).
    if let Some(spec) = spec.as_object_mut() {
        spec.remove("nullable");
    }
    spec
}

/// A template's or the workflow's `retryStrategy` (its `limit` is an int or a string).
fn retry_strategy() -> Value {
    object(json!({
        "retryPolicy": string(),
        "expression": string(),
        "backoff": free_object(),
        "affinity": free_object(),
    }))
}

fn node_status() -> Value {
    object(json!({
        "id": string(),
        "name": string(),
        "displayName": string(),
        "type": string(),
        "templateName": string(),
        "phase": string(),
        "boundaryID": string(),
        "message": string(),
        "startedAt": string(),
        "finishedAt": string(),
        "progress": string(),
        "inputs": parameters_and_artifacts(),
        "outputs": outputs(None),
        "children": list(json!({"type": "string"})),
        "outboundNodes": list(json!({"type": "string"})),
        "podIP": string(),
        "hostNodeName": string(),
        "cluster": string(),
        "namespace": string(),
        "podName": string(),
        "podUID": string(),
        "templateRef": template_ref(),
        "templateScope": string(),
    }))
}

/// A step's or node's `templateRef`.
fn template_ref() -> Value {
    object(json!({
        "name": string(),
        "template": string(),
        "clusterScope": boolean(),
    }))
}

fn workflow_status() -> Value {
    let mut status = object(json!({
        "phase": string(),
        "startedAt": string(),
        "finishedAt": string(),
        "progress": string(),
        "message": string(),
        "nodes": map_of(node_status()),
        "outputs": outputs(None),
        "conditions": list(object(json!({
            "type": string(),
            "status": string(),
            "message": string(),
        }))),
        "taskResultsCompletionStatus": map_of(json!({"type": "boolean"})),
        "storedTemplates": map_of(template()),
        "storedWorkflowTemplateSpec": nullable(workflow_spec()),
    }));
    status["x-kubernetes-map-type"] = json!("atomic");
    status
}

/// `workflows.argoproj.io`'s `openAPIV3Schema`.
pub(super) fn workflow() -> Value {
    root(workflow_spec(), workflow_status())
}

/// A kind's `openAPIV3Schema` from its spec's and status's: metadata and spec required.
fn root(spec: Value, status: Value) -> Value {
    json!({
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    })
}

/// `workflowtemplates.argoproj.io`'s and `clusterworkflowtemplates.argoproj.io`'s
/// `openAPIV3Schema`: a workflow's spec, and no status.
pub(super) fn workflow_template() -> Value {
    let mut schema = workflow();
    if let Some(properties) = schema["properties"].as_object_mut() {
        properties.remove("status");
    }
    schema
}

/// `cronworkflows.argoproj.io`'s `openAPIV3Schema`: the schedule and a workflow's spec.
pub(super) fn cron_workflow() -> Value {
    let mut spec = object(json!({
        "workflowSpec": workflow_spec(),
        "schedule": string(),
        "schedules": list(json!({"type": "string"})),
        "timezone": string(),
        "concurrencyPolicy": string(),
        "suspend": boolean(),
        "startingDeadlineSeconds": integer(),
        "successfulJobsHistoryLimit": integer(),
        "failedJobsHistoryLimit": integer(),
        "workflowMetadata": object(json!({
            "labels": map_of(json!({"type": "string"})),
            "annotations": map_of(json!({"type": "string"})),
        })),
    }));
    if let Some(spec) = spec.as_object_mut() {
        spec.remove("nullable");
    }
    root(spec, free_object())
}

fn nullable(mut schema: Value) -> Value {
    schema["nullable"] = json!(true);
    schema
}

/// `workflowtaskresults.argoproj.io`'s `openAPIV3Schema` (Argo's fields at the top level).
pub(super) fn workflow_task_result() -> Value {
    json!({
        "type": "object",
        "required": ["metadata"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "message": string(),
            "phase": string(),
            "progress": string(),
            "outputs": outputs(Some(string())),
        },
    })
}
