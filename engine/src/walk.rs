//! The walk over a workflow's templates: one call per template invocation, creating or updating
//! its node, recursing into DAGs, steps and retries, and returning the node's phase.
//!
//! Everything the walk decides lands in `nodes` (the new status) and `pods` (what to do with
//! them); a problem with the workflow's content (a missing parameter, an unresolvable
//! reference) becomes an `Error` node with a message that names it — never a panic.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value;

use super::lifecycle::Control;
use super::parallelism::Parallelism;
use super::template::{Mode, Scope};
use super::{EngineConfig, Observed, time};
use crate::decision::PodAction;
use crate::naming::{self, PodNameFormat};
use crate::workflow::{NodePhase, NodeStatus, NodeType, Parameter, Template, Workflow};

/// Deepest nesting of template invocations (Argo's default `maxRecursionDepth`).
const MAX_DEPTH: usize = 150;

/// One template invocation: which node runs which template with which arguments.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) node_name: String,
    pub(super) display_name: String,
    pub(super) template: String,
    /// Argument values by parameter name, already substituted.
    pub(super) arguments: Vec<(String, String)>,
    pub(super) boundary_id: Option<String>,
    /// An attempt of a retry node: run the template itself, not another retry.
    pub(super) attempt: bool,
}

/// A base manifest's template, cluster and namespace.
type ManifestKey = (String, Option<String>, String);

/// The phases a walk ends with: the entrypoint's node, and the exit handler's once it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outcome {
    pub(super) root: NodePhase,
    pub(super) exit: Option<NodePhase>,
}

pub(super) struct Walker<'a> {
    pub(super) wf: &'a Workflow,
    pub(super) wf_name: String,
    pub(super) namespace: String,
    pub(super) observed: &'a Observed,
    pub(super) config: &'a EngineConfig,
    pub(super) now: jiff::Timestamp,
    pub(super) format: PodNameFormat,
    pub(super) nodes: BTreeMap<String, NodeStatus>,
    templates: HashMap<&'a str, &'a Template>,
    /// Templates whose body holds `{{…}}` tags, as JSON (outputs apart), computed once.
    tagged: HashMap<&'a str, String>,
    /// Pod manifests of templates that need no substitution, built once per (template,
    /// namespace) and personalised per pod: the hot path of a wide fan-out.
    /// `None`: the template's pods are built in full (see `BaseManifest::new`).
    pub(super) base_manifests: HashMap<ManifestKey, Option<super::manifest::BaseManifest>>,
    /// Template invocations currently on the stack.
    depth: usize,
    pub(super) pods: Vec<PodAction>,
    pub(super) requeue_after: Option<Duration>,
    /// Shutdown, deadline and suspension: what holds or halts the walk.
    pub(super) control: Control,
    /// The pod budget and the steps and DAG nodes' limits.
    pub(super) parallelism: Parallelism,
    /// The policy's verdict per place (cluster, namespace), asked once per walk.
    pub(super) authorized: HashMap<(Option<String>, String), Result<(), String>>,
    /// Nodes and graph steps this walk may still spend.
    pub(super) budget: super::budget::WalkBudget,
    /// The children of parents with many, as sets (see `add_child`).
    wide_children: HashMap<String, std::collections::HashSet<String>>,
}

/// Children a parent may have before `add_child` keeps a set of them instead of scanning.
const WIDE_PARENT: usize = 64;

impl<'a> Walker<'a> {
    pub(super) fn new(
        wf: &'a Workflow,
        observed: &'a Observed,
        config: &'a EngineConfig,
        now: jiff::Timestamp,
        format: PodNameFormat,
        nodes: BTreeMap<String, NodeStatus>,
        control: Control,
    ) -> Self {
        let tagged = wf
            .spec
            .templates
            .iter()
            .filter_map(|t| {
                let (_, body) = split_outputs(serde_json::to_value(t).ok()?);
                let text = body.to_string();
                text.contains("{{").then_some((t.name.as_str(), text))
            })
            .collect();
        let templates = wf
            .spec
            .templates
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let parallelism = Parallelism::new(wf, &nodes, observed, config, &control);
        Walker {
            wf,
            wf_name: wf.metadata.name.clone().unwrap_or_default(),
            namespace: wf.metadata.namespace.clone().unwrap_or_default(),
            observed,
            config,
            now,
            format,
            nodes,
            templates,
            tagged,
            base_manifests: HashMap::new(),
            depth: 0,
            pods: Vec::new(),
            requeue_after: None,
            control,
            parallelism,
            authorized: HashMap::new(),
            budget: Default::default(),
            wide_children: HashMap::new(),
        }
    }

    pub(super) fn into_nodes(self) -> BTreeMap<String, NodeStatus> {
        self.nodes
    }

    /// Runs the entrypoint as the root node, then the exit handler once the root is fulfilled.
    pub(super) fn run(&mut self, root: &str) -> Result<Outcome, String> {
        let entrypoint = self
            .wf
            .spec
            .entrypoint
            .clone()
            .ok_or_else(|| "spec.entrypoint is required".to_string())?;
        let global = self.global_scope();
        let call = Call {
            node_name: root.to_string(),
            display_name: root.to_string(),
            template: entrypoint,
            arguments: self.workflow_arguments(),
            boundary_id: None,
            attempt: false,
        };
        let root_phase = self.execute(&call, &global);
        let exit = self.exit_handler(root, root_phase, &global);
        Ok(Outcome {
            root: root_phase,
            exit,
        })
    }

    /// `spec.arguments.parameters` as the entrypoint (and the exit handler) receive them.
    pub(super) fn workflow_arguments(&self) -> Vec<(String, String)> {
        self.wf
            .spec
            .arguments
            .as_ref()
            .map(|a| {
                a.parameters
                    .iter()
                    .filter_map(|p| Some((p.name.clone(), p.value.clone()?.0)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Workflow-wide variables (`workflow.*`), built once per reconcile.
    pub(super) fn global_scope(&self) -> Scope<'static> {
        let meta = &self.wf.metadata;
        let mut scope = Scope::new();
        scope.insert("workflow.name", self.wf_name.clone());
        scope.insert("workflow.namespace", self.namespace.clone());
        scope.insert("workflow.uid", meta.uid.clone().unwrap_or_default());
        scope.insert(
            "workflow.serviceAccountName",
            self.wf
                .spec
                .service_account_name
                .clone()
                .unwrap_or_default(),
        );
        if let Some(t) = &meta.creation_timestamp {
            scope.insert(
                "workflow.creationTimestamp",
                t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            );
        }
        let mut params = Vec::new();
        for p in self
            .wf
            .spec
            .arguments
            .iter()
            .flat_map(|a| a.parameters.iter())
        {
            if let Some(v) = &p.value {
                scope.insert(format!("workflow.parameters.{}", p.name), v.0.clone());
            }
            params.push(p.clone());
        }
        scope.insert(
            "workflow.parameters",
            serde_json::to_string(&params).unwrap_or_default(),
        );
        for (k, v) in meta.labels.iter().flatten() {
            scope.insert(format!("workflow.labels.{k}"), v.clone());
        }
        for (k, v) in meta.annotations.iter().flatten() {
            scope.insert(format!("workflow.annotations.{k}"), v.clone());
        }
        scope
    }

    pub(super) fn is_tagged(&self, template: &str) -> bool {
        self.tagged.contains_key(template)
    }

    pub(super) fn node_id(&self, node_name: &str) -> String {
        naming::node_id(&self.wf_name, node_name)
    }

    /// The node for `call`, created with `phase` and `type_` if it does not exist yet.
    pub(super) fn ensure_node(&mut self, call: &Call, type_: NodeType, phase: NodePhase) -> String {
        let id = self.node_id(&call.node_name);
        if !self.nodes.contains_key(&id) && !self.budget.new_node(self.nodes.len()) {
            // The walk stops (see `execute`) and the workflow errors saying why.
            return id;
        }
        let now = time(self.now);
        self.nodes.entry(id.clone()).or_insert_with(|| NodeStatus {
            id: id.clone(),
            name: call.node_name.clone(),
            display_name: call.display_name.clone(),
            type_,
            template_name: Some(call.template.clone()),
            phase,
            boundary_id: call.boundary_id.clone(),
            message: None,
            started_at: Some(now),
            finished_at: None,
            progress: None,
            inputs: None,
            outputs: None,
            children: Vec::new(),
            outbound_nodes: Vec::new(),
            pod_ip: None,
            host_node_name: None,
            cluster: None,
            namespace: None,
            pod_name: None,
            pod_uid: None,
        });
        id
    }

    pub(super) fn phase_of(&self, id: &str) -> Option<NodePhase> {
        self.nodes.get(id).map(|n| n.phase)
    }

    /// Sets a node's phase (and message), stamping `finishedAt` when it becomes fulfilled.
    pub(super) fn mark(
        &mut self,
        id: &str,
        phase: NodePhase,
        message: Option<String>,
    ) -> NodePhase {
        let now = time(self.now);
        if let Some(node) = self.nodes.get_mut(id) {
            node.phase = phase;
            if message.is_some() {
                node.message = message;
            }
            if phase.is_fulfilled() && node.finished_at.is_none() {
                node.finished_at = Some(now);
            }
        }
        phase
    }

    /// Links a node created just now: nothing to de-duplicate, so no scan of the siblings.
    pub(super) fn push_new_child(&mut self, parent: &str, child: &str) {
        if let Some(node) = self.nodes.get_mut(parent) {
            node.children.push(child.to_string());
            if let Some(set) = self.wide_children.get_mut(parent) {
                set.insert(child.to_string());
            }
        }
    }

    /// Links `child` under `parent` unless it is linked already. A parent of few children is
    /// scanned; one of many gets a set for the rest of the walk, so the root tasks of a wide
    /// DAG, linked on every reconcile, cost their number, not its square.
    pub(super) fn add_child(&mut self, parent: &str, child: &str) {
        // A child held back (suspension, parallelism) has no node yet: nothing to link.
        if !self.nodes.contains_key(child) {
            return;
        }
        let Some(node) = self.nodes.get_mut(parent) else {
            return;
        };
        let linked = if node.children.len() < WIDE_PARENT {
            if !self.budget.step(1 + node.children.len()) {
                return;
            }
            node.children.iter().any(|c| c == child)
        } else {
            let set = match self.wide_children.entry(parent.to_string()) {
                std::collections::hash_map::Entry::Occupied(set) => set.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    if !self.budget.step(node.children.len()) {
                        return;
                    }
                    slot.insert(node.children.iter().cloned().collect())
                }
            };
            !set.insert(child.to_string())
        };
        if !linked {
            node.children.push(child.to_string());
        }
    }

    /// Argo's `getOutboundNodes` for each of `ids` in turn: the nodes a successor of all of them
    /// hangs off. Iterative, and one walk for all, each node expanded once (and charged to the
    /// walk's budget): the graph comes from the status, which the engine checks
    /// (`graph::check`) but never trusts — a forged one can lead every id to the same large set.
    pub(super) fn outbound<'i>(&'i self, ids: impl IntoIterator<Item = &'i str>) -> Vec<String> {
        let mut out = Vec::new();
        let mut expanded = std::collections::HashSet::new();
        let starts: Vec<&str> = ids.into_iter().collect();
        // Depth-first, in order: reversed onto the stack so the first edge is popped first.
        let mut todo: Vec<&str> = starts.into_iter().rev().collect();
        while let Some(id) = todo.pop() {
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            if !expanded.insert(id) || !self.budget.step(1) {
                continue;
            }
            let next = match node.type_ {
                NodeType::Pod
                | NodeType::Skipped
                | NodeType::Suspend
                | NodeType::Container
                | NodeType::Plugin => {
                    out.push(id.to_string());
                    continue;
                }
                NodeType::TaskGroup if node.children.is_empty() => {
                    out.push(id.to_string());
                    continue;
                }
                NodeType::TaskGroup => &node.children,
                NodeType::Retry => {
                    out.push(node.children.last().map_or(id, String::as_str).to_string());
                    continue;
                }
                _ => &node.outbound_nodes,
            };
            todo.extend(next.iter().rev().map(String::as_str));
        }
        out
    }

    /// Requests another reconcile no later than `after`.
    pub(super) fn requeue(&mut self, after: Duration) {
        self.requeue_after = super::earliest(self.requeue_after, Some(after));
    }

    /// Runs one template invocation and returns its node's phase.
    pub(super) fn execute(&mut self, call: &Call, scope: &Scope) -> NodePhase {
        // A spent budget ends the walk: the engine errors the workflow with the reason.
        if self.budget.overrun().is_some() {
            return NodePhase::Error;
        }
        // Recursive templates (Argo's loop idiom) nest one level per iteration; a runaway one
        // must fail its node, not overflow the controller's stack.
        if self.depth >= MAX_DEPTH {
            let id = self.ensure_node(call, NodeType::Skipped, NodePhase::Error);
            return self.mark(
                &id,
                NodePhase::Error,
                Some(format!("Maximum recursion depth exceeded ({MAX_DEPTH})")),
            );
        }
        self.depth += 1;
        let phase = self.execute_inner(call, scope);
        self.depth -= 1;
        phase
    }

    fn execute_inner(&mut self, call: &Call, scope: &Scope) -> NodePhase {
        let id = self.node_id(&call.node_name);
        if let Some(phase) = self.phase_of(&id).filter(|p| p.is_fulfilled()) {
            return phase;
        }
        if !self.nodes.contains_key(&id) {
            // A suspended workflow starts nothing new (what already runs carries on), nor does
            // a template whose `parallelism` is reached.
            if self.control.frozen || !self.may_start(call) {
                return NodePhase::Pending;
            }
        }
        if let Some(phase) = self.while_unreachable(&id) {
            return phase;
        }
        // Hot path: a pod node whose pod is observed only follows its pod; the template was
        // resolved and checked when the pod was created.
        if self.control.halt.is_none()
            && self.nodes.get(&id).is_some_and(|n| {
                // A pending node with a `timeout` takes the full path, which checks it.
                n.type_ == NodeType::Pod
                    && (n.phase != NodePhase::Pending
                        || self
                            .templates
                            .get(call.template.as_str())
                            .is_none_or(|t| t.timeout.is_none()))
            })
            && let Some(pod) = self.observed.pods.get(&id)
        {
            let pod = pod.clone();
            // Still allowed there? A grant revoked stops a pod elsewhere in this cluster as it
            // stops one in another (whose scope the controller then stops observing).
            if let Some(place) = self.placed_elsewhere(&id)
                && let Err((phase, message)) = self.authorize_place(&place)
            {
                return self.mark(&id, phase, Some(message));
            }
            return self.observe_pod(&id, &pod);
        }
        let Some(template) = self.templates.get(call.template.as_str()).copied() else {
            let id = self.ensure_node(call, NodeType::Skipped, NodePhase::Error);
            let message = format!("template {:?} not found", call.template);
            return self.mark(&id, NodePhase::Error, Some(message));
        };
        if template.retry_strategy.is_some() && !call.attempt {
            return self.retry(call, template, scope);
        }
        let (template, inputs) = match self.resolve(template, &call.arguments, scope) {
            Ok(resolved) => resolved,
            Err(message) => {
                let id = self.ensure_node(call, type_of(template), NodePhase::Error);
                return self.mark(&id, NodePhase::Error, Some(message));
            }
        };
        let mut local = scope.child();
        for (name, value) in &inputs {
            local.insert(format!("inputs.parameters.{name}"), value.clone());
        }
        let phase = if template.dag.is_some() {
            self.dag(call, &template, &local)
        } else if template.steps.is_some() {
            self.steps(call, &template, &local)
        } else if template.container.is_some()
            || template.script.is_some()
            || template.resource.is_some()
        {
            self.pod(call, &template, &inputs)
        } else if template.suspend.is_some() {
            self.suspend(call, &template)
        } else {
            let id = self.ensure_node(call, type_of(&template), NodePhase::Error);
            let message = format!(
                "template {:?}: this template type is not supported yet by Flotilla",
                template.name
            );
            self.mark(&id, NodePhase::Error, Some(message))
        };
        let recorded: usize = inputs.iter().map(|(n, v)| n.len() + v.len()).sum();
        if let Some(node) = self.nodes.get_mut(&id)
            && node.inputs.is_none()
            && !inputs.is_empty()
            && self.budget.node_bytes(recorded)
        {
            node.inputs = Some(crate::workflow::Inputs {
                parameters: inputs
                    .iter()
                    .map(|(n, v)| Parameter {
                        name: n.clone(),
                        value: Some(v.clone().into()),
                        ..Default::default()
                    })
                    .collect(),
                artifacts: Vec::new(),
            });
        }
        phase
    }

    /// Argo's `ProcessArgs`: the template's input values (argument, else value, else default) and
    /// the template with `{{inputs.parameters.*}}` and every other variable substituted.
    fn resolve(
        &self,
        template: &'a Template,
        arguments: &[(String, String)],
        scope: &Scope,
    ) -> Result<Resolved<'a>, String> {
        let mut inputs = Vec::new();
        for p in template.inputs.iter().flat_map(|i| i.parameters.iter()) {
            let value = arguments
                .iter()
                .find(|(n, _)| *n == p.name)
                .map(|(_, v)| v.clone())
                .or_else(|| p.value.as_ref().map(|v| v.0.clone()))
                .or_else(|| p.default.as_ref().map(|v| v.0.clone()))
                .ok_or_else(|| format!("inputs.parameters.{} was not supplied", p.name))?;
            if let Some(allowed) = &p.enum_values
                && !allowed.iter().any(|a| a.0 == value)
            {
                let list: Vec<&str> = allowed.iter().map(|a| a.0.as_str()).collect();
                return Err(format!(
                    "value '{value}' of inputs.parameters.{} is not one of {list:?}",
                    p.name
                ));
            }
            inputs.push((p.name.clone(), value));
        }
        // Most templates of a wide fan-out have no `{{…}}` in their body: no JSON round trip.
        let Some(body) = self.tagged.get(template.name.as_str()) else {
            return Ok((std::borrow::Cow::Borrowed(template), inputs));
        };
        let mut local = scope.child();
        for (name, value) in &inputs {
            local.insert(format!("inputs.parameters.{name}"), value.clone());
        }
        local.insert(
            "inputs.parameters",
            serde_json::to_string(
                &inputs
                    .iter()
                    .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
        );
        // Outputs may refer to tasks or steps that have not run yet; the DAG/steps code resolves
        // them when they complete, so only the body is substituted.
        let text = super::template::substitute_json_text(body, &local, Mode::Lenient)
            .map_err(|e| e.to_string())?;
        let mut resolved: Template = serde_json::from_str(&text)
            .map_err(|e| format!("template {:?}: {e}", template.name))?;
        resolved.outputs = template.outputs.clone();
        Ok((std::borrow::Cow::Owned(resolved), inputs))
    }
}

/// A template with its inputs substituted (borrowed when it had nothing to substitute), and
/// the input values.
type Resolved<'a> = (std::borrow::Cow<'a, Template>, Vec<(String, String)>);

fn split_outputs(mut raw: Value) -> (Option<Value>, Value) {
    let outputs = raw.as_object_mut().and_then(|m| m.remove("outputs"));
    (outputs, raw)
}

pub(super) fn type_of(template: &Template) -> NodeType {
    if template.dag.is_some() {
        NodeType::Dag
    } else if template.steps.is_some() {
        NodeType::Steps
    } else if template.suspend.is_some() {
        NodeType::Suspend
    } else {
        NodeType::Pod
    }
}
