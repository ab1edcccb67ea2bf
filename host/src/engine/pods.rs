//! Pod nodes: the pod a container or script template runs in, and the node's phase and outputs
//! from what the controller observes of that pod and of the executor's task result.

use serde_json::{Map, Value, json};

use super::manifest::{self, BaseManifest, PodManifest};
use super::placement::Placement;
use super::walk::{Call, Walker};
use super::{Action, PodPhase};
use crate::resource_target::{self, ResourceTarget};
use crate::workflow::labels;
use crate::workflow::{NodePhase, NodeType, Template};

impl Walker<'_> {
    pub(super) fn pod(
        &mut self,
        call: &Call,
        template: &Template,
        inputs: &[(String, String)],
    ) -> NodePhase {
        let id = self.ensure_node(call, NodeType::Pod, NodePhase::Pending);
        let info = self.undecided(&id, call, template);
        let place = match self.place(&id, info.as_ref(), template) {
            Ok(place) => place,
            Err((phase, message)) => return self.mark(&id, phase, Some(message)),
        };
        let pod_name = match self.pod_name_for(&id, info.as_ref(), call, template, &place) {
            Ok(name) => name,
            Err(message) => return self.mark(&id, NodePhase::Pending, Some(message)),
        };
        let namespace = place.namespace.clone();
        if let Some(phase) = self.while_unreachable(&id) {
            return phase;
        }
        if let Some(halt) = &self.control.halt {
            // Argo's execution control: a pod that has not finished is deleted and its node
            // fails; a node whose pod never started fails without one.
            let message = halt.pod.clone();
            let reported = self.observed.results.get(&id).is_some_and(|r| r.complete);
            match self.observed.pods.get(&id) {
                // A pod that ended still waiting for its report (never made, or not the one its
                // pod vouched for) waits no longer: the node fails as a running one does.
                Some(pod) if pod.phase == PodPhase::Succeeded && !reported => {
                    return self.mark(&id, NodePhase::Failed, Some(message));
                }
                Some(pod) if matches!(pod.phase, PodPhase::Succeeded | PodPhase::Failed) => {}
                Some(pod) => {
                    if !pod.deleting {
                        self.actions.push(Action::DeletePod {
                            node_id: id.clone(),
                            cluster: place.cluster,
                            namespace,
                            name: pod.name.clone(),
                            pod_uid: pod.uid.clone(),
                        });
                    }
                    return self.mark(&id, NodePhase::Failed, Some(message));
                }
                None => {
                    // A pod asked for in an earlier reconcile may exist before the cache shows
                    // it: delete it by its deterministic name (absent is fine).
                    let asked_before = self
                        .wf
                        .status
                        .as_ref()
                        .is_some_and(|s| s.nodes.contains_key(&id));
                    if asked_before {
                        self.actions.push(Action::DeletePod {
                            node_id: id.clone(),
                            cluster: place.cluster,
                            namespace,
                            name: pod_name,
                            pod_uid: None,
                        });
                    }
                    return self.mark(&id, NodePhase::Failed, Some(message));
                }
            }
        }
        if let Some(timeout) = template.timeout.as_deref().filter(|t| !t.trim().is_empty())
            && let Some(phase) = self.timeout(&id, template, timeout, &pod_name, &place)
        {
            return phase;
        }
        if let Some(error) = self.observed.create_errors.get(&id) {
            let message = error.clone();
            return self.mark(&id, NodePhase::Error, Some(message));
        }
        let Some(pod) = self.observed.pods.get(&id) else {
            let was_running = self.phase_of(&id) == Some(NodePhase::Running);
            if was_running {
                return self.mark(&id, NodePhase::Error, Some("pod deleted".into()));
            }
            if self.creates_left == 0 {
                return NodePhase::Pending;
            }
            // A resource template's manifest may act elsewhere than its pod: authorized too.
            let target = match self.resource_target(template, &place) {
                Ok(target) => target,
                Err((phase, message)) => return self.mark(&id, phase, Some(message)),
            };
            self.creates_left -= 1;
            let built = self.manifest_for(call, template, &pod_name, &place, &id, inputs, target);
            match built {
                // This reconcile has built its share of manifests: the rest wait for the next.
                Ok(pod) if !self.budget.manifest_bytes(pod.json().len()) => self.creates_left = 0,
                Ok(pod) => self.actions.push(Action::CreatePod {
                    node_id: id.clone(),
                    cluster: place.cluster,
                    namespace,
                    pod,
                }),
                Err(message) => return self.mark(&id, NodePhase::Error, Some(message)),
            }
            return NodePhase::Pending;
        };
        let pod = pod.clone();
        self.observe_pod(&id, &pod)
    }

    /// A pod node's phase and outputs from its observed pod (and the executor's task result).
    pub(super) fn observe_pod(&mut self, id: &str, pod: &super::ObservedPod) -> NodePhase {
        let id = id.to_string();
        if let Some(node) = self.nodes.get_mut(&id) {
            node.pod_ip = pod.pod_ip.clone().or(node.pod_ip.take());
            node.host_node_name = pod.host_node_name.clone().or(node.host_node_name.take());
            // The first pod proven the controller's is the node's for good (the controller
            // records the uid its create was answered with; this covers a create whose answer
            // was never saved).
            if node.pod_uid.is_none() {
                node.pod_uid = pod.uid.clone();
            }
        }
        match pod.phase {
            PodPhase::Pending => NodePhase::Pending,
            PodPhase::Running | PodPhase::Unknown => self.mark(&id, NodePhase::Running, None),
            PodPhase::Succeeded | PodPhase::Failed => {
                let result = self.observed.results.get(&id);
                if pod.phase == PodPhase::Succeeded && !result.is_some_and(|r| r.complete) {
                    // As Argo (3.5+) does, a succeeded pod's node settles only once the executor has
                    // reported its outputs; a failed pod's node does not wait for them.
                    return self.mark(&id, NodePhase::Running, None);
                }
                let mut outputs = result.map(|r| r.outputs.clone()).unwrap_or_default();
                if outputs.exit_code.is_none() {
                    outputs.exit_code = pod.exit_code.map(|c| c.to_string());
                }
                if let Some(node) = self.nodes.get_mut(&id) {
                    node.outputs = (!outputs.is_empty()).then_some(outputs);
                }
                let executor_error = result.and_then(|r| r.message.clone());
                if let (PodPhase::Succeeded, Some(message)) = (pod.phase, executor_error) {
                    return self.mark(&id, NodePhase::Error, Some(message));
                }
                if pod.phase == PodPhase::Succeeded {
                    self.mark(&id, NodePhase::Succeeded, None)
                } else {
                    let message = match (pod.message.clone(), pod.exit_code) {
                        (Some(m), _) => m,
                        (None, Some(code)) => format!("Error (exit code {code})"),
                        (None, None) => "pod failed".to_string(),
                    };
                    self.mark(&id, NodePhase::Failed, Some(message))
                }
            }
        }
    }

    /// The pod manifest for a node: for a template with nothing to substitute and no inputs every
    /// pod differs only in its name and node, so one base manifest is encoded and personalised
    /// (a resource template's `target` follows from its template and place, so it is shared too).
    #[allow(clippy::too_many_arguments)]
    fn manifest_for(
        &mut self,
        call: &Call,
        template: &Template,
        pod_name: &str,
        place: &Placement,
        node_id: &str,
        inputs: &[(String, String)],
        target: Option<ResourceTarget>,
    ) -> Result<PodManifest, String> {
        let target = target.as_ref();
        let proof = self.creator_proof(pod_name, place, node_id);
        let in_full = |walker: &Self| {
            let stamp = proof.as_deref();
            walker
                .pod_manifest(
                    call, template, pod_name, place, node_id, inputs, target, stamp,
                )
                .map(|pod| PodManifest::from_value(pod_name, &pod))
        };
        if !inputs.is_empty() || self.is_tagged(&template.name) {
            return in_full(self);
        }
        let key = (
            template.name.clone(),
            place.cluster.clone(),
            place.namespace.clone(),
        );
        if !self.base_manifests.contains_key(&key) {
            let placeholders = Call {
                node_name: manifest::NODE_NAME.to_string(),
                ..call.clone()
            };
            let pod = self.pod_manifest(
                &placeholders,
                template,
                manifest::POD_NAME,
                place,
                manifest::NODE_ID,
                inputs,
                target,
                proof.as_ref().map(|_| manifest::PROOF),
            )?;
            // Where `pod_manifest` puts them: the name and `ARGO_POD_NAME`, the node ID
            // annotation and `ARGO_NODE_ID`, the node name annotation, the proof annotation.
            let uses = [
                (manifest::POD_NAME, 2),
                (manifest::NODE_ID, 2),
                (manifest::NODE_NAME, 1),
                (manifest::PROOF, usize::from(proof.is_some())),
            ];
            self.base_manifests
                .insert(key.clone(), BaseManifest::new(&pod, uses));
        }
        match self.base_manifests.get(&key).and_then(Option::as_ref) {
            Some(base) => Ok(base.personalise(
                pod_name,
                node_id,
                &call.node_name,
                proof.as_deref().unwrap_or_default(),
            )),
            None => in_full(self),
        }
    }

    /// The controller's proof that it made this pod (`None`: it stamps none).
    fn creator_proof(&self, pod_name: &str, place: &Placement, node_id: &str) -> Option<String> {
        let prover = self.config.creator_proof.as_ref()?;
        Some(prover.prove(&super::PodIdentity {
            workflow_uid: self.wf.metadata.uid.as_deref().unwrap_or_default(),
            node_id,
            namespace: &place.namespace,
            name: pod_name,
        }))
    }

    /// The pod for a node: the template's container named `main`, the workflow's and template's
    /// pod-level settings, and the labels and annotations that tie it to the workflow; a
    /// resource template's pod also carries the `target` its manifest was authorized for.
    #[allow(clippy::too_many_arguments)]
    fn pod_manifest(
        &self,
        call: &Call,
        template: &Template,
        pod_name: &str,
        place: &Placement,
        node_id: &str,
        inputs: &[(String, String)],
        target: Option<&ResourceTarget>,
        proof: Option<&str>,
    ) -> Result<Value, String> {
        let namespace = place.namespace.as_str();
        let spec = &self.wf.spec;
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
                c.insert(
                    "command".into(),
                    json!(["/bin/flotilla", "executor", "resource"]),
                );
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
            wrap_with_executor(&mut main, &template.name)?;
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
        pod_spec.insert("containers".into(), {
            let mut containers = vec![Value::Object(main)];
            containers.extend(template.sidecars.iter().flatten().cloned());
            Value::Array(containers)
        });
        // The executor's own init container comes first: it puts `flotilla` where `main` runs it.
        let mut init = Vec::new();
        if wrapped {
            init.push(json!({
                "name": "init",
                "image": self.config.executor_image,
                "command": ["/bin/flotilla", "executor", "install", EXECUTOR_PATH],
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
            let seconds = timeout_of(template, timeout)?.as_secs_f64().ceil() as i64;
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

impl Walker<'_> {
    /// Argo's template `timeout`, counted from the node's start: a node still pending when it
    /// passes fails (its pod, if any, is deleted); until then the walk wakes up at the deadline.
    fn timeout(
        &mut self,
        id: &str,
        template: &Template,
        timeout: &str,
        pod_name: &str,
        place: &Placement,
    ) -> Option<NodePhase> {
        let limit = match timeout_of(template, timeout) {
            Ok(limit) => limit,
            Err(message) => return Some(self.mark(id, NodePhase::Error, Some(message))),
        };
        let pod = self.observed.pods.get(id);
        if pod.is_some_and(|p| p.phase != PodPhase::Pending) {
            return None;
        }
        let started = self.nodes.get(id)?.started_at.as_ref()?.0;
        let deadline = started
            .checked_add(jiff::SignedDuration::try_from(limit).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(jiff::Timestamp::MAX);
        if self.now <= deadline {
            let left = self.now.duration_until(deadline).unsigned_abs();
            self.requeue(left + std::time::Duration::from_millis(1));
            return None;
        }
        let asked_before = self
            .wf
            .status
            .as_ref()
            .is_some_and(|s| s.nodes.contains_key(id));
        if !pod.is_some_and(|p| p.deleting) && (pod.is_some() || asked_before) {
            self.actions.push(Action::DeletePod {
                node_id: id.to_string(),
                cluster: place.cluster.clone(),
                namespace: place.namespace.clone(),
                name: pod.map_or_else(|| pod_name.to_string(), |p| p.name.clone()),
                pod_uid: pod.and_then(|p| p.uid.clone()),
            });
        }
        let message = format!("timeout: the node did not start within its timeout of {timeout}");
        Some(self.mark(id, NodePhase::Failed, Some(message)))
    }
}

fn timeout_of(template: &Template, timeout: &str) -> Result<std::time::Duration, String> {
    super::retry::parse_duration(timeout)
        .map_err(|e| format!("templates.{}.timeout: {e}", template.name))
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

/// Where the executor binary is put for `main` to run (Argo's `/var/run/argo`).
const EXECUTOR_DIR: &str = "/var/run/argo";
const EXECUTOR_PATH: &str = "/var/run/argo/flotilla";
const EXECUTOR_VOLUME: &str = "var-run-argo";

/// Commands of images whose entrypoint a template may leave out (the controller cannot look an
/// image's entrypoint up in a registry; Argo's `images` configuration plays the same role).
fn known_entrypoint(image: &str) -> Option<&'static [&'static str]> {
    match repository(image).trim_start_matches("docker.io/") {
        "argoproj/argosay" | "quay.io/argoproj/argosay" => Some(&["/argosay"]),
        _ => None,
    }
}

/// An image reference without its tag or digest (`registry:5000/a/b:v1@sha256:…` → `registry:5000/a/b`).
fn repository(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    match (name.rfind(':'), name.rfind('/')) {
        (Some(colon), Some(slash)) if colon > slash => &name[..colon],
        (Some(colon), None) => &name[..colon],
        _ => name,
    }
}

/// Makes `main` run through `flotilla executor run -- COMMAND…`, which reports the node's outputs.
fn wrap_with_executor(main: &mut Map<String, Value>, template: &str) -> Result<(), String> {
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let image = main
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut command = strings(main.get("command"));
    if command.is_empty() {
        match known_entrypoint(&image) {
            Some(entry) => command = entry.iter().map(|s| s.to_string()).collect(),
            None => {
                return Err(format!(
                    "template {template:?}: container.command is required for image {image:?}: Flotilla runs the command through its executor and cannot look up an image's entrypoint"
                ));
            }
        }
    }
    command.extend(strings(main.get("args")));
    main.remove("args");
    let mut wrapped = vec![
        EXECUTOR_PATH.to_string(),
        "executor".into(),
        "run".into(),
        "--".into(),
    ];
    wrapped.extend(command);
    main.insert("command".into(), json!(wrapped));
    let mounts = main
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
