//! Pod nodes: when the pod a container, script or resource template runs in is asked for (its
//! manifest is built in `manifest`), and the node's phase and outputs from what the controller
//! observes of that pod and of the executor's task result. A place and name a policy decides
//! are recorded in the status first; the pod is asked for only by a pass that read them back.

use std::time::Duration;

use super::PodPhase;
use super::manifest::PodRequest;
use super::placement::Placement;
use super::template::{Mode, Scope, substitute_str};
use super::walk::{Call, Walker};
use crate::decision::PodAction;
use crate::workflow::{NodePhase, NodeType, Parameter, Template};

/// How soon a node whose placement was just recorded is looked at again, should the status
/// write's own watch event not bring it back first.
const RECORDED_PLACEMENT: Duration = Duration::from_secs(1);

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
            match self.observed.pods.get(&id) {
                Some(pod) => {
                    let pod = pod.clone();
                    if let Some(phase) = self.halt_pod(&id, place.cluster.clone(), &namespace, &pod)
                    {
                        return phase;
                    }
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
                        self.pods.push(PodAction::Delete {
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
            if info.is_some() {
                // A place and name decided by a policy in this pass are only recorded: the pod
                // is asked for by a pass that read them back from the written status. A restart,
                // a failed or conflicting status write, or a second controller then finds that
                // record instead of asking the policy again — whose answer may differ
                // (least-loaded, failover) and would make a second pod for the node.
                self.requeue(RECORDED_PLACEMENT);
                return NodePhase::Pending;
            }
            if !self.parallelism.may_create() {
                return NodePhase::Pending;
            }
            let named = match self.catalog.with_pod_name(template, &pod_name) {
                Ok(named) => named,
                Err(message) => return self.mark(&id, NodePhase::Error, Some(message)),
            };
            let template = named.as_ref();
            // A resource template's manifest may act elsewhere than its pod: authorized too.
            let target = match self.resource_target(template, &place) {
                Ok(target) => target,
                Err((phase, message)) => return self.mark(&id, phase, Some(message)),
            };
            self.parallelism.created();
            let built = self.manifest_for(PodRequest {
                call,
                template,
                pod_name: &pod_name,
                place: &place,
                node_id: &id,
                inputs,
                target: target.as_ref(),
            });
            match built {
                // This reconcile has built its share of manifests: the rest wait for the next.
                Ok(pod) if !self.budget.manifest_bytes(pod.json().len()) => {
                    self.parallelism.stop_creating()
                }
                Ok(pod) => self.pods.push(PodAction::Create {
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

    /// Under a halt, a pod node whose pod is observed: a pod still running is deleted and its
    /// node fails, as does one that ended still waiting for its report (never made, or not the
    /// one its pod vouched for); `None` for a pod that ended otherwise, whose node settles as
    /// usual.
    fn halt_pod(
        &mut self,
        id: &str,
        cluster: Option<String>,
        namespace: &str,
        pod: &super::ObservedPod,
    ) -> Option<NodePhase> {
        let message = self.control.halt.as_ref()?.pod.clone();
        let reported = self.observed.results.get(id).is_some_and(|r| r.complete);
        match pod.phase {
            PodPhase::Succeeded if !reported => {}
            PodPhase::Succeeded | PodPhase::Failed => return None,
            _ if pod.deleting => {}
            _ => self.pods.push(PodAction::Delete {
                node_id: id.to_string(),
                cluster,
                namespace: namespace.to_string(),
                name: pod.name.clone(),
                pod_uid: pod.uid.clone(),
            }),
        }
        Some(self.mark(id, NodePhase::Failed, Some(message)))
    }

    /// Pod nodes below `top` that the walk no longer reaches because a node above them is
    /// fulfilled — a `failFast` template fails at its first failed child while its siblings
    /// still run — are followed here until their pods end, as Argo completes a workflow only
    /// once every pod it made has reported. With `halted` (and a halt in force) their pods are
    /// deleted and the nodes fail instead. Whether any is still running: the workflow does not
    /// end while one is.
    pub(super) fn settle_left_pods(&mut self, top: &str, halted: bool) -> bool {
        let mut running = false;
        for id in self.subtree(top) {
            let Some(node) = self.nodes.get(&id) else {
                continue;
            };
            // Pods are observed by node ID: a node filed under another key (a status the
            // controller did not write) would take another node's pod for its own.
            if node.type_ != NodeType::Pod || node.phase.is_fulfilled() || node.id != id {
                continue;
            }
            let Some(pod) = self.observed.pods.get(&id).cloned() else {
                continue;
            };
            let cluster = node.cluster.clone();
            let namespace = node
                .namespace
                .clone()
                .unwrap_or_else(|| self.namespace.clone());
            let halt = halted
                .then(|| self.halt_pod(&id, cluster, &namespace, &pod))
                .flatten();
            let phase = halt.unwrap_or_else(|| self.observe_pod(&id, &pod));
            running |= !phase.is_fulfilled();
        }
        running
    }

    /// The IDs of `top` and every node below it (by `children`), each once; charged to the
    /// walk's budget, as the graph comes from the status.
    fn subtree(&self, top: &str) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![top.to_string()];
        let mut out = Vec::new();
        while let Some(id) = todo.pop() {
            if !self.budget.step(1) {
                break;
            }
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(node) = self.nodes.get(&id) {
                todo.extend(node.children.iter().cloned());
            }
            out.push(id);
        }
        out
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
}

impl Walker<'_> {
    /// A settled pod node's outputs with the template's literal output parameters (`value:`,
    /// substituted with `scope`): Argo's executor reports the template's outputs with only the
    /// `valueFrom` ones filled in, so the declared order is kept and reported extras follow.
    pub(super) fn literal_outputs(&mut self, id: &str, template: &Template, scope: &Scope) {
        let declared: Vec<&Parameter> = template
            .outputs
            .iter()
            .flat_map(|o| o.parameters.iter())
            .collect();
        let is_literal = |p: &Parameter| p.value_from.is_none() && p.value.is_some();
        if !declared.iter().any(|p| is_literal(p)) {
            return;
        }
        let Some(node) = self.nodes.get_mut(id) else {
            return;
        };
        let outputs = node.outputs.get_or_insert_with(Default::default);
        let mut reported: Vec<Option<Parameter>> = std::mem::take(&mut outputs.parameters)
            .into_iter()
            .map(Some)
            .collect();
        let by_name: std::collections::HashMap<String, usize> = reported
            .iter()
            .enumerate()
            .filter_map(|(at, r)| Some((r.as_ref()?.name.clone(), at)))
            .collect();
        for p in declared {
            let was_reported = by_name.get(&p.name).and_then(|&at| reported[at].take());
            let value = match &p.value {
                Some(value) if is_literal(p) => {
                    let text = substitute_str(value.as_str(), scope, Mode::Lenient)
                        .unwrap_or_else(|_| value.0.clone());
                    // Kept in the status: charged like recorded inputs, so values that a tenant
                    // makes grow by substitution end the walk instead of the controller's memory.
                    if !self.budget.node_bytes(p.name.len() + text.len()) {
                        break;
                    }
                    Some(text.into())
                }
                _ => match was_reported {
                    Some(r) => r.value,
                    None => continue,
                },
            };
            outputs.parameters.push(Parameter {
                name: p.name.clone(),
                value,
                ..Default::default()
            });
        }
        outputs.parameters.extend(reported.into_iter().flatten());
    }

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
            self.pods.push(PodAction::Delete {
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

pub(super) fn timeout_of(
    template: &Template,
    timeout: &str,
) -> Result<std::time::Duration, String> {
    super::retry::parse_duration(timeout)
        .map_err(|e| format!("templates.{}.timeout: {e}", template.name))
}
