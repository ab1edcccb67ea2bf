//! Workflow outputs (Argo's `addOutputsToGlobalScope`): an output parameter declared with
//! `globalName: g` becomes `{{workflow.outputs.parameters.g}}` for whatever is substituted
//! after its node completes — in the same walk too — and `status.outputs.parameters`. The
//! last node to complete wins, as in Argo.
//!
//! Nothing is persisted of its own: each walk derives the outputs from the nodes it starts
//! with (in the order they finished) and adds those of the nodes that complete during it, so
//! `status.outputs` always agrees with the nodes.

use std::collections::{BTreeMap, HashMap};

use crate::template::LiveVars;
use crate::workflow::{NodeStatus, Outputs, Parameter, Template};

/// The prefix of a workflow output parameter's variable.
const PREFIX: &str = "workflow.outputs.parameters.";

/// The workflow's outputs as the walk publishes them.
#[derive(Default)]
pub(crate) struct GlobalOutputs {
    /// By template name: each `(output parameter, global name)` it declares.
    declared: HashMap<String, Vec<(String, String)>>,
    /// The variables, shared with the walk's root scope.
    live: LiveVars,
    /// Global names in the order first published (`status.outputs.parameters`' order).
    order: Vec<String>,
}

impl GlobalOutputs {
    /// The declarations of `templates`, and the outputs of the `nodes` that completed before.
    pub(crate) fn new(templates: &[Template], nodes: &BTreeMap<String, NodeStatus>) -> Self {
        let mut declared: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for t in templates {
            for p in t.outputs.iter().flat_map(|o| o.parameters.iter()) {
                if let Some(global) = p.global_name.as_ref().filter(|g| !g.is_empty()) {
                    declared
                        .entry(t.name.clone())
                        .or_default()
                        .push((p.name.clone(), global.clone()));
                }
            }
        }
        let mut outputs = GlobalOutputs {
            declared,
            ..Default::default()
        };
        if outputs.declared.is_empty() {
            return outputs;
        }
        let mut done: Vec<&NodeStatus> = nodes
            .values()
            .filter(|n| n.phase.is_fulfilled() && n.outputs.is_some())
            .filter(|n| {
                n.template_key()
                    .is_some_and(|t| outputs.declared.contains_key(t.as_ref()))
            })
            .collect();
        done.sort_by(|a, b| {
            let at = |n: &NodeStatus| n.finished_at.as_ref().map(|t| t.0);
            at(a).cmp(&at(b)).then_with(|| a.id.cmp(&b.id))
        });
        for node in done {
            outputs.publish(node);
        }
        outputs
    }

    /// The variables, for the walk's root scope.
    pub(crate) fn live(&self) -> LiveVars {
        self.live.clone()
    }

    /// Publishes the global outputs a completed `node` declares (through its template).
    pub(crate) fn publish(&mut self, node: &NodeStatus) {
        let (Some(template), Some(outputs)) = (node.template_key(), &node.outputs) else {
            return;
        };
        let Some(declared) = self.declared.get(template.as_ref()) else {
            return;
        };
        // Both lists come from the status: matched through a map, not one scan per name.
        let reported: HashMap<&str, &Parameter> = outputs
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p))
            .collect();
        let mut live = self.live.borrow_mut();
        for (param, global) in declared {
            let value = reported.get(param.as_str()).and_then(|p| p.value.as_ref());
            if let Some(value) = value
                && live
                    .insert(format!("{PREFIX}{global}"), value.0.clone())
                    .is_none()
            {
                self.order.push(global.clone());
            }
        }
    }

    /// `status.outputs` (`None`: nothing published).
    pub(crate) fn status(&self) -> Option<Outputs> {
        let live = self.live.borrow();
        let parameters: Vec<Parameter> = self
            .order
            .iter()
            .filter_map(|global| {
                let value = live.get(&format!("{PREFIX}{global}"))?;
                Some(Parameter {
                    name: global.clone(),
                    value: Some(value.clone().into()),
                    ..Default::default()
                })
            })
            .collect();
        (!parameters.is_empty()).then(|| Outputs {
            parameters,
            ..Default::default()
        })
    }
}
