//! `spec.onExit`: once the entrypoint's node is fulfilled, Argo runs the exit handler as the
//! node `<workflow>.onExit`, with `{{workflow.status}}` and `{{workflow.failures}}` set. A `Stop`
//! or a passed deadline still lets it run; `Terminate` never starts it (and halts it if it is
//! already running). The workflow ends only once the handler has.

use serde_json::json;

use super::template::Scope;
use super::walk::{Call, Walker};
use crate::naming;
use crate::workflow::{NodePhase, NodeType};

/// The exit handler's node name (Argo's `<workflow>.onExit`).
pub(super) fn node_name(root: &str) -> String {
    format!("{root}.onExit")
}

impl Walker<'_> {
    /// Runs (or goes on running) the exit handler; `None` when there is none to run yet.
    pub(super) fn exit_handler(
        &mut self,
        root: &str,
        root_phase: NodePhase,
        global: &Scope,
    ) -> Option<NodePhase> {
        let template = self.wf.spec.on_exit.clone().filter(|t| !t.is_empty())?;
        if !root_phase.is_fulfilled() {
            return None;
        }
        let node_name = node_name(root);
        let mut scope = global.child();
        scope.insert("workflow.status", workflow_status(root_phase));
        scope.insert("workflow.failures", self.failures());
        let call = Call {
            node_name: node_name.clone(),
            display_name: node_name,
            template,
            arguments: self.workflow_arguments.clone(),
            boundary_id: None,
            attempt: false,
        };
        self.run_exit_handler(&call, &scope)
    }

    /// Runs (or goes on running) an exit handler — the workflow's, or a step's or task's hook —
    /// under what halts the workflow: `Stop` and a passed deadline let it run as if nothing
    /// halted (the halt is for what it follows); `Terminate` never starts one and halts one
    /// already running. `None` when it does not run.
    pub(super) fn run_exit_handler(&mut self, call: &Call, scope: &Scope) -> Option<NodePhase> {
        let started = self.nodes.contains_key(&self.node_id(&call.node_name));
        let halt = self.control.halt.clone();
        let runs = halt.as_ref().is_none_or(|h| h.exit_handlers);
        if !runs && !started {
            return None;
        }
        if runs && halt.is_some() {
            self.control.halt = None;
            if !self.control.frozen {
                self.parallelism.reopen();
            }
        }
        let phase = self.execute(call, scope);
        self.control.halt = halt;
        Some(phase)
    }

    /// Argo's `workflow.failures`: every failed or errored node, as JSON.
    fn failures(&self) -> String {
        let failures: Vec<_> = self
            .nodes
            .values()
            .filter(|n| matches!(n.phase, NodePhase::Failed | NodePhase::Error))
            .map(|n| {
                let template = n.template_name.clone().unwrap_or_default();
                let pod_name = if n.type_ == NodeType::Pod {
                    naming::node_pod_name(&self.wf_name, n, self.format)
                } else {
                    String::new()
                };
                json!({
                    "displayName": n.display_name,
                    "message": n.message.clone().unwrap_or_default(),
                    "templateName": template,
                    "phase": n.phase.to_string(),
                    "podName": pod_name,
                    "finishedAt": n.finished_at,
                })
            })
            .collect();
        serde_json::Value::Array(failures).to_string()
    }
}

/// `{{workflow.status}}` as Argo sets it for the exit handler: the entrypoint's outcome.
fn workflow_status(root_phase: NodePhase) -> &'static str {
    match root_phase {
        NodePhase::Failed => "Failed",
        NodePhase::Error => "Error",
        _ => "Succeeded",
    }
}
