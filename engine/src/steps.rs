//! Steps templates: groups of steps run in order, the steps of a group in parallel; a step's
//! `when` may skip it; a failed step fails its group (unless `continueOn`) and the template.

use super::children::continues_on;
use super::fanout;
use super::hooks::exit_template;
use super::template::Scope;
use super::walk::{Call, Walker};
use crate::workflow::{NodePhase, NodeType, Template, WorkflowStep};

impl Walker<'_> {
    pub(super) fn steps(&mut self, call: &Call, template: &Template, scope: &Scope) -> NodePhase {
        let id = self.ensure_node(call, NodeType::Steps, NodePhase::Running);
        let Some(groups) = &template.steps else {
            return NodePhase::Running;
        };
        self.enter_boundary(&id, template);
        // Earlier groups' variables, added as each group ends (never copied per group: a
        // template of many one-step groups would cost the square of its length).
        let mut local = scope.child();
        let mut previous: Vec<String> = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            let group_name = format!("{}[{i}]", call.node_name);
            let group_call = Call {
                node_name: group_name.clone(),
                display_name: format!("[{i}]"),
                template: call.template.clone(),
                arguments: Vec::new(),
                boundary_id: Some(id.clone()),
                attempt: false,
            };
            let group_id = self.ensure_node(&group_call, NodeType::StepGroup, NodePhase::Running);
            if i == 0 {
                self.add_child(&id, &group_id);
            } else {
                for parent in &previous {
                    self.add_child(parent, &group_id);
                }
            }
            let mut running = false;
            let mut failure: Option<(NodePhase, String)> = None;
            for step in &group.0 {
                let step_name = format!("{group_name}.{}", step.name);
                let phase = self.step(&group_call, &group_id, step, &step_name, &local, scope);
                let phase = self.step_hook(&group_call, step, &step_name, phase, scope);
                if !phase.is_fulfilled() {
                    running = true;
                } else if matches!(phase, NodePhase::Failed | NodePhase::Error)
                    && !continues_on(step.continue_on.as_ref(), phase)
                    && failure.is_none()
                {
                    failure = Some((
                        phase,
                        format!("child '{}' failed", self.node_id(&step_name)),
                    ));
                }
            }
            if running {
                let Some(failed) = self.leave_boundary(&id) else {
                    return NodePhase::Running;
                };
                self.set_outbound(&id, self.group_outbound(&group_id));
                return failed;
            }
            if let Some((phase, message)) = failure {
                self.mark(&group_id, phase, Some(message.clone()));
                // Argo's `updateOutboundNodes` on failure too: a DAG task depending on this one
                // hangs off them, so the DAG's assessment reaches it (and ends).
                self.set_outbound(&id, self.group_outbound(&group_id));
                return self.mark(&id, phase, Some(message));
            }
            self.mark(&group_id, NodePhase::Succeeded, None);
            previous = self.group_outbound(&group_id);
            let mut vars = Vec::new();
            for step in &group.0 {
                let step_id = self.node_id(&format!("{group_name}.{}", step.name));
                self.child_vars(&format!("steps.{}", step.name), &step_id, &mut vars);
            }
            local.extend(vars);
        }
        self.set_outbound(&id, previous);
        let children: Vec<(String, String)> = groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| {
                g.0.iter().map(move |s| {
                    (
                        s.name.clone(),
                        format!("{}[{i}].{}", call.node_name, s.name),
                    )
                })
            })
            .collect();
        if let Err(message) = self.template_outputs(&id, template, &local, "steps", children) {
            return self.mark(&id, NodePhase::Error, Some(message));
        }
        self.mark(&id, NodePhase::Succeeded, None)
    }

    /// Where a successor of a step group hangs: its steps' outbound nodes, or the group itself
    /// when they have none.
    fn group_outbound(&self, group_id: &str) -> Vec<String> {
        let children = self
            .nodes
            .get(group_id)
            .map(|n| n.children.clone())
            .unwrap_or_default();
        let outbound = self.outbound(children.iter().map(String::as_str));
        if outbound.is_empty() {
            return vec![group_id.to_string()];
        }
        outbound
    }

    fn set_outbound(&mut self, id: &str, outbound: Vec<String>) {
        if let Some(node) = self.nodes.get_mut(id) {
            node.outbound_nodes = outbound;
        }
    }

    /// A step's exit hook, once the step has completed (a fanned-out step's items have theirs):
    /// the step's phase, or `Running` while the hook runs.
    fn step_hook(
        &mut self,
        group_call: &Call,
        step: &WorkflowStep,
        step_name: &str,
        phase: NodePhase,
        scope: &Scope,
    ) -> NodePhase {
        let Some(hook) = exit_template(step.on_exit.as_deref()) else {
            return phase;
        };
        let fanned_out = self
            .nodes
            .get(&self.node_id(step_name))
            .is_some_and(|n| n.type_ == NodeType::TaskGroup);
        if !phase.is_fulfilled() || fanned_out {
            return phase;
        }
        let parent = Call {
            node_name: step_name.to_string(),
            display_name: step.name.clone(),
            template: String::new(),
            arguments: Vec::new(),
            boundary_id: group_call.boundary_id.clone(),
            attempt: false,
        };
        if self.exit_hook(&parent, hook, scope) {
            phase
        } else {
            NodePhase::Running
        }
    }

    /// One step of a group: skipped by `when`, fanned out by items, or run.
    fn step(
        &mut self,
        group_call: &Call,
        group_id: &str,
        step: &WorkflowStep,
        step_name: &str,
        local: &Scope,
        scope: &Scope,
    ) -> NodePhase {
        let step_id = self.node_id(step_name);
        if let Some(phase) = self.phase_of(&step_id).filter(|p| p.is_fulfilled()) {
            return phase;
        }
        let base = Call {
            node_name: step_name.to_string(),
            display_name: step.name.clone(),
            template: step.template.clone().unwrap_or_default(),
            arguments: Vec::new(),
            boundary_id: group_call.boundary_id.clone(),
            attempt: false,
        };
        if let Some(when) = &step.when {
            let skip = super::children::skip_by_when(when, local);
            if let Some((phase, message)) = skip {
                let id = self.ensure_node(&base, NodeType::Skipped, phase);
                self.add_child(group_id, &id);
                return self.mark(&id, phase, Some(message));
            }
        }
        let items = match fanout::items(
            step.with_items.as_ref(),
            step.with_param.as_deref(),
            step.with_sequence.as_ref(),
            local,
            self.config.max_fan_out,
        ) {
            Ok(items) => items,
            Err(message) => {
                let id = self.ensure_node(&base, NodeType::Pod, NodePhase::Error);
                self.add_child(group_id, &id);
                return self.mark(&id, NodePhase::Error, Some(message));
            }
        };
        match items {
            None => {
                let call = match self.arguments(step.arguments.as_ref(), local) {
                    Ok(arguments) => Call { arguments, ..base },
                    Err(message) => {
                        let id = self.ensure_node(&base, NodeType::Pod, NodePhase::Error);
                        self.add_child(group_id, &id);
                        return self.mark(&id, NodePhase::Error, Some(message));
                    }
                };
                let phase = self.execute(&call, scope);
                self.add_child(group_id, &step_id);
                phase
            }
            Some(items) => {
                // Argo hangs fanned-out steps directly under the group, through a TaskGroup-like node.
                let tg = self.ensure_node(&base, NodeType::TaskGroup, NodePhase::Running);
                self.add_child(group_id, &tg);
                let phase = self.fan_out(
                    &base,
                    &tg,
                    &items,
                    step.arguments.as_ref(),
                    step.continue_on.as_ref(),
                    exit_template(step.on_exit.as_deref()),
                    local,
                    scope,
                );
                if phase.is_fulfilled() {
                    self.mark(&tg, phase, None)
                } else {
                    phase
                }
            }
        }
    }
}
