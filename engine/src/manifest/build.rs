//! Building a pod node's manifest: the template's container as `main` (wrapped by the executor),
//! the workflow's and template's pod-level settings, the labels, annotations and creator proof
//! that tie it to the workflow — built in full, or once per template and personalised per pod.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::entrypoint::{self, ImageEntrypoint};
use super::{self as manifest, BaseManifest, PodManifest};
use crate::placement::Placement;
use crate::resource_target::{self, ResourceTarget};
use crate::walk::{Call, Walker};
use crate::workflow::Template;
use crate::workflow::labels;

/// What a node's pod is built from.
#[derive(Clone, Copy)]
pub(crate) struct PodRequest<'r> {
    pub(crate) call: &'r Call,
    pub(crate) template: &'r Template,
    pub(crate) pod_name: &'r str,
    pub(crate) place: &'r Placement,
    pub(crate) node_id: &'r str,
    pub(crate) inputs: &'r [(String, String)],
    /// Where a resource template's manifest was authorized to act.
    pub(crate) target: Option<&'r ResourceTarget>,
}

impl Walker<'_> {
    /// The pod manifest for a node: for a template with nothing to substitute and no inputs every
    /// pod differs only in its name and node, so one base manifest is encoded and personalised
    /// (a resource template's `target` follows from its template and place, so it is shared too).
    pub(crate) fn manifest_for(&mut self, pod: PodRequest<'_>) -> Result<PodManifest, String> {
        let proof = self.creator_proof(pod.pod_name, pod.place, pod.node_id);
        let in_full = |walker: &Self| {
            walker
                .pod_manifest(pod, proof.as_deref())
                .map(|built| PodManifest::from_value(pod.pod_name, &built))
        };
        if !pod.inputs.is_empty() || self.catalog.is_tagged(&pod.template.name) {
            return in_full(self);
        }
        let key = (pod.template.name.clone(), pod.place.clone());
        if !self.base_manifests.0.contains_key(&key) {
            let placeholders = Call {
                node_name: manifest::NODE_NAME.to_string(),
                ..pod.call.clone()
            };
            let base = PodRequest {
                call: &placeholders,
                pod_name: manifest::POD_NAME,
                node_id: manifest::NODE_ID,
                ..pod
            };
            let built = self.pod_manifest(base, proof.as_ref().map(|_| manifest::PROOF))?;
            // Where `pod_manifest` puts them: the name and `ARGO_POD_NAME`, the node ID
            // annotation and `ARGO_NODE_ID`, the node name annotation, the proof annotation.
            let uses = [
                (manifest::POD_NAME, 2),
                (manifest::NODE_ID, 2),
                (manifest::NODE_NAME, 1),
                (manifest::PROOF, usize::from(proof.is_some())),
            ];
            self.base_manifests
                .0
                .insert(key.clone(), BaseManifest::new(&built, uses));
        }
        match self.base_manifests.0.get(&key).and_then(Option::as_ref) {
            Some(base) => Ok(base.personalise(
                pod.pod_name,
                pod.node_id,
                &pod.call.node_name,
                proof.as_deref().unwrap_or_default(),
            )),
            None => in_full(self),
        }
    }

    /// The controller's proof that it made this pod (`None`: it stamps none).
    fn creator_proof(&self, pod_name: &str, place: &Placement, node_id: &str) -> Option<String> {
        let prover = self.config.creator_proof.as_ref()?;
        Some(prover.prove(&crate::PodIdentity {
            workflow_uid: self.wf.metadata.uid.as_deref().unwrap_or_default(),
            node_id,
            namespace: &place.namespace,
            name: pod_name,
        }))
    }

    /// The pod for a node: the template's container named `main`, the workflow's and template's
    /// pod-level settings, and the labels and annotations that tie it to the workflow; a
    /// resource template's pod also carries the `target` its manifest was authorized for.
    fn pod_manifest(&self, pod: PodRequest<'_>, proof: Option<&str>) -> Result<Value, String> {
        let PodRequest {
            call,
            template,
            pod_name,
            place,
            node_id,
            inputs,
            target,
        } = pod;
        let namespace = place.namespace.as_str();
        let spec = &self.pod_defaults;
        let mut main: Map<String, Value> = match (&template.container, &template.script) {
            (Some(Value::Object(c)), _) => c.clone(),
            (None, Some(script)) => {
                let mut c = script.container.clone();
                // The executor writes `source` to a file and appends its path to the command.
                c.insert(
                    "env".into(),
                    merged_env(
                        c.get("env"),
                        &[("ARGO_SCRIPT_SOURCE", script.source.as_str())],
                    ),
                );
                c
            }
            // A resource template's pod runs the executor itself (Argo's `argoexec resource`).
            (None, None) if template.resource.is_some() => {
                let mut c = Map::new();
                c.insert("image".into(), json!(self.config.executor_image));
                c.insert("command".into(), json!([EXECUTOR_BINARY, "resource"]));
                let target = target.map(ResourceTarget::to_env).unwrap_or_default();
                c.insert(
                    "env".into(),
                    json!([{"name": resource_target::ENV, "value": target}]),
                );
                c
            }
            _ => {
                return Err(format!(
                    "template {:?}: container must be an object",
                    template.name
                ));
            }
        };
        main.insert("name".into(), json!("main"));
        let wf_uid = self.wf.metadata.uid.as_deref().unwrap_or_default();
        let own_cluster = self.config.cluster.as_deref().unwrap_or_default();
        let mut env_pairs = vec![
            ("ARGO_WORKFLOW_NAME", self.wf_name.as_str()),
            ("ARGO_WORKFLOW_NAMESPACE", self.namespace.as_str()),
            ("ARGO_WORKFLOW_CLUSTER", own_cluster),
            ("ARGO_WORKFLOW_UID", wf_uid),
            ("ARGO_NODE_ID", node_id),
            ("ARGO_POD_NAME", pod_name),
        ];
        // The executor vouches for its report in the termination log: where the template put it.
        let termination_log = main
            .get("terminationMessagePath")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(path) = &termination_log {
            env_pairs.push((crate::workflow::report_digest::TERMINATION_LOG_ENV, path));
        }
        main.insert("env".into(), merged_env(main.get("env"), &env_pairs));
        let mut executor_view = json!({"name": template.name, "inputs": {"parameters": inputs.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>()}, "outputs": template.outputs});
        let wrapped = template.resource.is_none();
        if let Some(resource) = &template.resource {
            executor_view["resource"] = json!(resource);
        }
        let executor_view = executor_view.to_string();
        if wrapped {
            let images = [&*self.observed.images, &self.config.images];
            wrap_with_executor(&mut main, &images, &template.name, Wrap::Main)?;
        }
        add_executor_env(
            &mut main,
            &executor_view,
            self.config.instance_id.as_deref(),
        );

        let mut pod_labels: Map<String, Value> = Map::new();
        let mut annotations: Map<String, Value> = Map::new();
        for meta in [spec.pod_metadata.as_ref(), template.metadata.as_ref()]
            .into_iter()
            .flatten()
        {
            pod_labels.extend(meta.labels.iter().map(|(k, v)| (k.clone(), json!(v))));
            annotations.extend(meta.annotations.iter().map(|(k, v)| (k.clone(), json!(v))));
        }
        // The controller's own labels last: a user label cannot detach the pod from its watch.
        pod_labels.insert(labels::WORKFLOW.into(), json!(self.wf_name));
        pod_labels.insert(labels::COMPLETED.into(), json!("false"));
        pod_labels.insert(labels::WORKFLOW_NAMESPACE.into(), json!(self.namespace));
        if let Some(own) = &self.config.cluster {
            pod_labels.insert(labels::WORKFLOW_CLUSTER.into(), json!(own));
        }
        if let Some(uid) = &self.wf.metadata.uid {
            pod_labels.insert(labels::WORKFLOW_UID.into(), json!(uid));
        }
        if let Some(id) = &self.config.instance_id {
            pod_labels.insert(labels::CONTROLLER_INSTANCE_ID.into(), json!(id));
        }
        annotations.insert(labels::NODE_ID.into(), json!(node_id));
        annotations.insert(labels::NODE_NAME.into(), json!(call.node_name));
        annotations.insert(labels::TEMPLATE.into(), json!(executor_view));
        if let Some(proof) = proof {
            annotations.insert(labels::CREATOR_PROOF.into(), json!(proof));
        }

        let mut pod_spec = Map::new();
        pod_spec.insert("restartPolicy".into(), json!("Never"));
        if let Some(automount) = template.automount_service_account_token {
            pod_spec.insert("automountServiceAccountToken".into(), json!(automount));
        }
        let mut containers = vec![Value::Object(main)];
        for (i, sidecar) in template.sidecars.iter().flatten().enumerate() {
            match sidecar {
                Value::Object(sidecar) if wrapped => {
                    let mut sidecar = sidecar.clone();
                    let field = format!("sidecars[{i}]");
                    let wrap = Wrap::Sidecar(&field);
                    let images = [&*self.observed.images, &self.config.images];
                    wrap_with_executor(&mut sidecar, &images, &template.name, wrap)?;
                    containers.push(Value::Object(sidecar));
                }
                other => containers.push(other.clone()),
            }
        }
        pod_spec.insert("containers".into(), Value::Array(containers));
        // The executor's own init container comes first: it puts the executor where `main` runs it.
        let mut init = Vec::new();
        if wrapped {
            init.push(json!({
                "name": "init",
                "image": self.config.executor_image,
                "command": [EXECUTOR_BINARY, "install", EXECUTOR_PATH],
                "volumeMounts": [{"name": EXECUTOR_VOLUME, "mountPath": EXECUTOR_DIR}],
            }));
        }
        init.extend(template.init_containers.iter().flatten().cloned());
        if !init.is_empty() {
            pod_spec.insert("initContainers".into(), Value::Array(init));
        }
        let service_account = template
            .service_account_name
            .as_ref()
            .or(spec.service_account_name.as_ref());
        if let Some(sa) = service_account {
            pod_spec.insert("serviceAccountName".into(), json!(sa));
        }
        let node_selector = template
            .node_selector
            .as_ref()
            .or(spec.node_selector.as_ref());
        if let Some(ns) = node_selector {
            pod_spec.insert("nodeSelector".into(), json!(ns));
        }
        if let Some(t) = template.tolerations.as_ref().or(spec.tolerations.as_ref()) {
            pod_spec.insert("tolerations".into(), json!(t));
        }
        if let Some(a) = template.affinity.as_ref().or(spec.affinity.as_ref()) {
            pod_spec.insert("affinity".into(), a.clone());
        }
        let volumes: Vec<Value> = spec
            .volumes
            .iter()
            .flatten()
            .chain(template.volumes.iter().flatten())
            .cloned()
            .chain(wrapped.then(|| json!({"name": EXECUTOR_VOLUME, "emptyDir": {}})))
            .collect();
        if !volumes.is_empty() {
            pod_spec.insert("volumes".into(), Value::Array(volumes));
        }
        if let Some(s) = &spec.image_pull_secrets {
            pod_spec.insert("imagePullSecrets".into(), json!(s));
        }
        if let Some(sc) = template
            .security_context
            .as_ref()
            .or(spec.security_context.as_ref())
        {
            pod_spec.insert("securityContext".into(), sc.clone());
        }
        if let Some(p) = template
            .priority_class_name
            .as_ref()
            .or(spec.pod_priority_class_name.as_ref())
        {
            pod_spec.insert("priorityClassName".into(), json!(p));
        }
        let mut deadline = match &template.active_deadline_seconds {
            Some(d) => Some(d.0.parse::<i64>().map_err(|_| {
                format!(
                    "template {:?}: activeDeadlineSeconds {:?} is not a number of seconds",
                    template.name, d.0
                )
            })?),
            None => None,
        };
        // A `timeout` bounds the pod's run too (the time before it started is checked in `timeout`).
        if let Some(timeout) = template.timeout.as_deref().filter(|t| !t.trim().is_empty()) {
            let seconds = crate::pods::timeout_of(template, timeout)?
                .as_secs_f64()
                .ceil() as i64;
            deadline = Some(deadline.map_or(seconds, |d| d.min(seconds)));
        }
        if let Some(seconds) = deadline {
            pod_spec.insert("activeDeadlineSeconds".into(), json!(seconds));
        }

        let mut metadata = json!({
            "name": pod_name,
            "namespace": namespace,
            "labels": pod_labels,
            "annotations": annotations,
        });
        // An owner reference only where Kubernetes can honour it: same cluster and namespace.
        if place.cluster.is_none()
            && namespace == self.namespace
            && let Some(uid) = &self.wf.metadata.uid
        {
            metadata["ownerReferences"] = json!([{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "name": self.wf_name,
                "uid": uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }]);
        }
        Ok(json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}))
    }
}

/// The container's env with these variables set (replacing any of the same name).
fn merged_env(existing: Option<&Value>, extra: &[(&str, &str)]) -> Value {
    let mut env: Vec<Value> = existing
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    env.retain(|e| !extra.iter().any(|(k, _)| e["name"] == *k));
    env.extend(extra.iter().map(|(k, v)| json!({"name": k, "value": v})));
    Value::Array(env)
}

/// The executor in the executor image (`flotilla-executor`: the engine's types and a kube client,
/// the one binary every workflow pod receives). Its verbs: `install PATH` (the init container
/// copies it), `run -- COMMAND…` (wraps `main`) and `resource` (a resource template's pod).
pub const EXECUTOR_BINARY: &str = "/bin/flotilla-executor";
/// Where the executor binary is put for `main` to run (Argo's `/var/run/argo`).
const EXECUTOR_DIR: &str = "/var/run/argo";
const EXECUTOR_PATH: &str = "/var/run/argo/flotilla-executor";
const EXECUTOR_VOLUME: &str = "var-run-argo";

/// Makes `main` run through `flotilla-executor run -- COMMAND…`, which reports the node's
/// outputs. As Argo's emissary does, only `command` changes (the executor in front of what the
/// container would have run); `args` stay the template's, or become the image's `CMD`.
/// How the executor wraps a container: `main` runs the template's command and reports its
/// outputs; a sidecar runs until `main` has ended, and is then stopped (Argo kills sidecars
/// when main exits).
#[derive(Clone, Copy)]
enum Wrap<'f> {
    Main,
    /// A sidecar, named for messages by its field (`sidecars[0]`).
    Sidecar(&'f str),
}

fn wrap_with_executor(
    container: &mut Map<String, Value>,
    images: &[&BTreeMap<String, ImageEntrypoint>],
    template: &str,
    wrap: Wrap<'_>,
) -> Result<(), String> {
    let (verb, field) = match wrap {
        Wrap::Main => ("run", "container"),
        Wrap::Sidecar(field) => ("sidecar", field),
    };
    let (command, args) = entrypoint::resolve(container, images, template, field)?;
    if let Some(args) = args {
        container.insert("args".into(), args);
    }
    let mut wrapped = vec![EXECUTOR_PATH.to_string(), verb.into(), "--".into()];
    wrapped.extend(command);
    container.insert("command".into(), json!(wrapped));
    let mounts = container
        .entry("volumeMounts")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(mounts) = mounts.as_array_mut() {
        mounts.push(json!({"name": EXECUTOR_VOLUME, "mountPath": EXECUTOR_DIR}));
    }
    Ok(())
}

/// The pod identity and template the executor needs, partly from the downward API.
fn add_executor_env(main: &mut Map<String, Value>, executor_view: &str, instance_id: Option<&str>) {
    let mut extra = vec![
        json!({"name": "ARGO_POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}),
        json!({"name": "ARGO_POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}),
        json!({"name": "ARGO_TEMPLATE", "value": executor_view}),
    ];
    if let Some(id) = instance_id {
        extra.push(json!({"name": "ARGO_INSTANCE_ID", "value": id}));
    }
    let env = main
        .entry("env")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(env) = env.as_array_mut() {
        env.extend(extra);
    }
}
