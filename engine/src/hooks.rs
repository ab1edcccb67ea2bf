//! Exit hooks of steps and DAG tasks (`onExit` on a step or task). Once the step's or task's
//! node has completed — Succeeded, Failed or Error; never Skipped or Omitted — Argo runs the
//! hook's template as the node `<node>.onExit` (shown `<step>.onExit`), flagged `hooked`, a
//! child of that node in the same boundary. A fanned-out step or task has one per item.
//!
//! What comes after waits for the hook: the next step group, the task's dependents, the end of
//! the steps or DAG template. The hook's own outcome changes no phase (it shows in
//! `workflow.failures`). It is called with the workflow's arguments, as Argo's `GetExitHook`
//! calls it. `Stop` and a passed deadline still run it; `Terminate` never starts one, and
//! nothing waits for one it would not start.

use super::template::Scope;
use super::walk::{Call, Walker};
use crate::workflow::{NodeFlag, NodePhase, NodeStatus};

/// What one exit hook counts toward the recursion limit (`walk::MAX_DEPTH`), in template calls.
const HOOK_DEPTH: usize = 3;

/// The suffix of an exit hook's node name and display name (Argo's `IsExitNode`).
const SUFFIX: &str = ".onExit";

/// Whether `node` is an exit hook (of a step, a task or the workflow).
pub(super) fn is_hook(node: &NodeStatus) -> bool {
    node.display_name.ends_with(SUFFIX)
}

/// A step's or task's `onExit` template, if it names one.
pub(super) fn exit_template(on_exit: Option<&str>) -> Option<&str> {
    on_exit.filter(|t| !t.is_empty())
}

impl Walker<'_> {
    /// Runs the exit hook `template` of the node `parent` made, once that node has completed,
    /// in `scope` (the one `parent` was made in). Whether the parent is done, its hook
    /// included: `false` while either still runs.
    pub(super) fn exit_hook(&mut self, parent: &Call, template: &str, scope: &Scope) -> bool {
        let parent_id = self.node_id(&parent.node_name);
        let Some(phase) = self.phase_of(&parent_id) else {
            return false;
        };
        if !phase.is_fulfilled() {
            return false;
        }
        if !matches!(
            phase,
            NodePhase::Succeeded | NodePhase::Failed | NodePhase::Error
        ) {
            return true;
        }
        let node_name = format!("{}{SUFFIX}", parent.node_name);
        let id = self.node_id(&node_name);
        // Done before: nothing to build (a wide fan-out's hooks are passed over every walk).
        if self.phase_of(&id).is_some_and(NodePhase::is_fulfilled) {
            return true;
        }
        // The workflow's arguments, as Argo passes them; only those the template takes, so a
        // hook costs what its own inputs do, however large the others.
        let takes: Vec<&str> = self
            .catalog
            .get(template)
            .and_then(|t| t.inputs.as_ref())
            .map(|i| i.parameters.iter().map(|p| p.name.as_str()).collect())
            .unwrap_or_default();
        let arguments = self
            .workflow_arguments
            .iter()
            .filter(|(name, _)| takes.contains(&name.as_str()))
            .cloned()
            .collect();
        let call = Call {
            node_name,
            display_name: format!("{}{SUFFIX}", parent.display_name),
            template: template.to_string(),
            arguments,
            boundary_id: parent.boundary_id.clone(),
            attempt: false,
        };
        // A hook nests more frames than a template call (a fan-out's item, its hook, the
        // handler): it counts as three toward the recursion limit, so a hook that hooks itself
        // ends there within the stack a template calling itself does.
        self.depth += HOOK_DEPTH - 1;
        let ran = self.run_exit_handler(&call, scope);
        self.depth -= HOOK_DEPTH - 1;
        let Some(hook_phase) = ran else {
            return true;
        };
        if let Some(node) = self.nodes.get_mut(&id) {
            node.node_flag.get_or_insert_with(NodeFlag::default).hooked = Some(true);
        }
        self.add_child(&parent_id, &id);
        hook_phase.is_fulfilled()
    }
}
