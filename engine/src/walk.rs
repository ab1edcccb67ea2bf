//! The walk over a workflow's templates: one call per template invocation, creating or updating
//! its node, recursing into DAGs, steps and retries, and returning the node's phase.
//!
//! Everything the walk decides lands in `nodes` (the new status) and `pods` (what to do with
//! them); a problem with the workflow's content (a missing parameter, an unresolvable
//! reference) becomes an `Error` node with a message that names it — never a panic.
//!
//! The walker keeps the node map and dispatches each call by template kind (`dag`, `steps`,
//! `retry`, `pods`, `resource`, `suspend`); what the walk consults is owned elsewhere: the
//! templates by `catalog`, the variables by `vars`, the edges by `edges`, the pod budget and
//! limits by `parallelism`, the policy's verdicts by `placement`, shared manifests by
//! `manifest`, holds and halts by `lifecycle`, the walk's own limits by `budget`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::catalog::Catalog;
use super::edges::WideParents;
use super::global_outputs::GlobalOutputs;
use super::lifecycle::Control;
use super::manifest::{BaseManifests, PodDefaults};
use super::parallelism::Parallelism;
use super::placement::Verdicts;
use super::template::Scope;
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

/// The phases a walk ends with: the entrypoint's node, and the exit handler's once it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outcome {
    pub(super) root: NodePhase,
    pub(super) exit: Option<NodePhase>,
    /// Pods still running below a fulfilled root (see `settle_left_pods`): the workflow waits.
    pub(super) pods_left: bool,
}

/// One walk's state: its inputs, the node map it builds, and the pod actions it decides.
pub(super) struct Walker<'a> {
    pub(super) wf: &'a Workflow,
    pub(super) wf_name: String,
    pub(super) namespace: String,
    pub(super) observed: &'a Observed,
    pub(super) config: &'a EngineConfig,
    pub(super) now: jiff::Timestamp,
    pub(super) format: PodNameFormat,
    pub(super) nodes: BTreeMap<String, NodeStatus>,
    pub(super) catalog: Catalog<'a>,
    /// Pod manifests shared by a template's pods: the hot path of a wide fan-out.
    pub(super) base_manifests: BaseManifests,
    /// The spec's pod-level settings with the workflow's variables substituted (set by `run`).
    pub(super) pod_defaults: PodDefaults,
    /// `workflow.outputs.parameters.*`, published as nodes complete.
    pub(super) global_outputs: GlobalOutputs,
    /// Template invocations currently on the stack (an exit hook counts for more: see `hooks`).
    pub(super) depth: usize,
    pub(super) pods: Vec<PodAction>,
    pub(super) requeue_after: Option<Duration>,
    /// Shutdown, deadline and suspension: what holds or halts the walk.
    pub(super) control: Control,
    /// The pod budget and the steps and DAG nodes' limits.
    pub(super) parallelism: Parallelism,
    /// The policy's verdict per place, asked once per walk.
    pub(super) verdicts: Verdicts,
    /// Nodes and graph steps this walk may still spend.
    pub(super) budget: super::budget::WalkBudget,
    /// The evaluator of `{{=…}}` expressions, with what this walk may spend on them (set by
    /// the reconcile, which validates with the same budget).
    pub(super) evaluator: Option<crate::template::Evaluator>,
    /// The children of parents with many, as sets (see `add_child`).
    pub(super) wide: WideParents,
    /// Two node names whose IDs are the same (see `node_id`): the walk goes on (the first
    /// standing for both, as in Argo), and is then discarded, as one whose budget is spent, and
    /// the workflow errors saying which.
    collision: std::cell::OnceCell<String>,
    /// The workflow's arguments, resolved once per walk: what steps' and tasks' exit hooks are
    /// called with (see `hooks`).
    pub(super) workflow_arguments: Vec<(String, String)>,
}

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
        let parallelism = Parallelism::new(wf, &nodes, observed, config, &control);
        let global_outputs = GlobalOutputs::new(&wf.spec.templates, &nodes);
        Walker {
            wf,
            wf_name: wf.metadata.name.clone().unwrap_or_default(),
            namespace: wf.metadata.namespace.clone().unwrap_or_default(),
            observed,
            config,
            now,
            format,
            nodes,
            catalog: Catalog::new(wf),
            base_manifests: BaseManifests::default(),
            pod_defaults: PodDefaults::default(),
            global_outputs,
            depth: 0,
            pods: Vec::new(),
            requeue_after: None,
            control,
            parallelism,
            verdicts: Verdicts::default(),
            budget: Default::default(),
            evaluator: None,
            wide: WideParents::default(),
            collision: std::cell::OnceCell::new(),
            workflow_arguments: Vec::new(),
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
        let parameters = self.workflow_parameters()?;
        let mut global = self.global_scope(&parameters);
        global.set_live(self.global_outputs.live());
        global.set_evaluator(self.evaluator.clone());
        self.pod_defaults = PodDefaults::of(&self.wf.spec, &global)?;
        let call = Call {
            node_name: root.to_string(),
            display_name: root.to_string(),
            template: entrypoint,
            arguments: parameters.clone(),
            boundary_id: None,
            attempt: false,
        };
        // Kept for exit handlers and hooks (moved: the root call holds its own copy).
        self.workflow_arguments = parameters;
        let root_phase = self.execute(&call, &global);
        let exit = self.exit_handler(root, root_phase, &global);
        let mut pods_left = false;
        if root_phase.is_fulfilled() {
            pods_left |= self.settle_left_pods(&self.node_id(root), true);
        }
        if exit.is_some_and(NodePhase::is_fulfilled) {
            // The exit handler's pods are halted only by what halts the handler itself.
            let halted = self.control.halt.as_ref().is_some_and(|h| !h.exit_handlers);
            let exit_id = self.node_id(&super::exit::node_name(root));
            pods_left |= self.settle_left_pods(&exit_id, halted);
        }
        Ok(Outcome {
            root: root_phase,
            exit,
            pods_left,
        })
    }

    /// The ID of the node named `node_name`. Argo's IDs are 32-bit hashes of node names, so two
    /// names of one workflow may share one (a fan-out of 6,000 items does about once in 300
    /// workflows); Argo then takes the second node for the first and never runs it. Here the
    /// walk is discarded instead, and the workflow errors naming both.
    pub(super) fn node_id(&self, node_name: &str) -> String {
        let id = naming::node_id(&self.wf_name, node_name);
        self.held(&id, node_name);
        id
    }

    /// The node of ID `id`, if there is one, when node `node_name` is looked for there: one of
    /// another name is a collision (see [`Walker::node_id`]).
    fn held(&self, id: &str, node_name: &str) -> Option<&NodeStatus> {
        let node = self.nodes.get(id)?;
        if node.name != node_name {
            let _ = self.collision.set(format!(
                "nodes {:?} and {node_name:?} have the same ID {id:?} (Argo's node IDs are 32-bit hashes of node names); the workflow cannot run both, under another name it can",
                node.name
            ));
        }
        Some(node)
    }

    /// Why the walk is not to be kept, if it is not: its budget spent (first: the walk stopped
    /// there), or two nodes of one ID.
    pub(super) fn stopped(&self) -> Option<String> {
        self.budget
            .overrun()
            .map(|overrun| overrun.message())
            .or_else(|| self.collision.get().cloned())
            .or_else(|| self.evaluator.as_ref().and_then(|e| e.spent_out()))
    }

    /// The node for `call`, created with `phase` and `type_` if it does not exist yet.
    pub(super) fn ensure_node(&mut self, call: &Call, type_: NodeType, phase: NodePhase) -> String {
        let id = self.node_id(&call.node_name);
        if !self.nodes.contains_key(&id) && !self.budget.new_node(self.nodes.len()) {
            // The walk stops (see `execute`) and the workflow errors saying why.
            return id;
        }
        let now = time(self.now);
        // A template from a WorkflowTemplate is recorded as Argo records it, by reference.
        let template_ref = crate::workflow::TemplateRef::from_key(&call.template);
        self.nodes.entry(id.clone()).or_insert_with(|| NodeStatus {
            id: id.clone(),
            name: call.node_name.clone(),
            display_name: call.display_name.clone(),
            type_,
            template_name: template_ref.is_none().then(|| call.template.clone()),
            template_scope: template_ref
                .as_ref()
                .map(crate::workflow::TemplateRef::scope),
            template_ref,
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
            // Argo flags each attempt of a Retry node.
            node_flag: call.attempt.then(|| crate::workflow::NodeFlag {
                retried: Some(true),
                ..Default::default()
            }),
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
        // The hot path of a wide fan-out: one lookup finds the node and checks its name.
        let id = naming::node_id(&self.wf_name, &call.node_name);
        let phase = self.held(&id, &call.node_name).map(|n| n.phase);
        if let Some(phase) = phase.filter(|p| p.is_fulfilled()) {
            return phase;
        }
        if phase.is_none() {
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
                            .catalog
                            .get(&call.template)
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
            let phase = self.observe_pod(&id, &pod);
            if phase.is_fulfilled() {
                self.settled_pod(&id, &call.template, scope);
            }
            return phase;
        }
        let Some(template) = self.catalog.get(&call.template) else {
            let id = self.ensure_node(call, NodeType::Skipped, NodePhase::Error);
            let message = format!("template {:?} not found", call.template);
            return self.mark(&id, NodePhase::Error, Some(message));
        };
        if self.retry_strategy(template).is_some() && !call.attempt {
            return self.retry(call, template, scope);
        }
        let from_config_map =
            |p: &Parameter, reference| self.config_map_parameter(p, reference, scope);
        let resolved = self
            .catalog
            .resolve(template, &call.arguments, scope, &from_config_map);
        let (template, inputs) = match resolved {
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
            let phase = self.pod(call, &template, &inputs);
            if phase.is_fulfilled() {
                self.literal_outputs(&id, &template, &local);
            }
            phase
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
        if phase.is_fulfilled() {
            self.publish_outputs(&id);
        }
        phase
    }

    /// The retry strategy `template` runs under: its own, else the workflow's.
    pub(super) fn retry_strategy<'t>(
        &'t self,
        template: &'t Template,
    ) -> Option<&'t crate::workflow::RetryStrategy> {
        template
            .retry_strategy
            .as_ref()
            .or(self.wf.spec.retry_strategy.as_ref())
    }

    /// A pod node that settled on the hot path (its template not resolved this walk): its
    /// literal outputs, with the inputs recorded on it, and its global outputs published.
    fn settled_pod(&mut self, id: &str, template: &str, scope: &Scope) {
        if let Some(template) = self.catalog.get(template) {
            let mut local = scope.child();
            let inputs = self.nodes.get(id).and_then(|n| n.inputs.as_ref());
            for p in inputs.iter().flat_map(|i| i.parameters.iter()) {
                if let Some(v) = &p.value {
                    local.insert(format!("inputs.parameters.{}", p.name), v.0.clone());
                }
            }
            self.literal_outputs(id, template, &local);
        }
        self.publish_outputs(id);
    }

    /// Makes a node that just completed offer its global outputs to what runs after it.
    fn publish_outputs(&mut self, id: &str) {
        if let Some(node) = self.nodes.get(id) {
            self.global_outputs.publish(node);
        }
    }
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
