//! What steps and DAG templates share: running their children — the arguments a child is
//! called with, a fan-out over items, a `when` that skips it, `continueOn` — and the template's
//! own outputs once they are done.

use super::expr;
use super::fanout;
use super::template::{Mode, Scope, substitute_str};
use super::walk::{Call, Walker};
use crate::workflow::{ContinueOn, NodePhase, NodeType, Template};

/// Whether `continueOn` lets the template go on past a child that ended in `phase`.
pub(super) fn continues_on(c: Option<&ContinueOn>, phase: NodePhase) -> bool {
    c.is_some_and(|c| {
        (c.failed && phase == NodePhase::Failed) || (c.error && phase == NodePhase::Error)
    })
}

/// A `when` that does not hold: the node is Skipped with Argo's message (or Errors when the
/// expression is invalid); `None` when it holds.
pub(super) fn skip_by_when(when: &str, scope: &Scope) -> Option<(NodePhase, String)> {
    let verdict = substitute_str(when, scope, Mode::Strict)
        .map_err(|e| e.to_string())
        .and_then(|w| {
            expr::when_true(&w)
                .map(|ok| (ok, w))
                .map_err(|e| e.to_string())
        });
    match verdict {
        Ok((true, _)) => None,
        Ok((false, w)) => Some((NodePhase::Skipped, format!("when '{w}' evaluated false"))),
        Err(e) => Some((NodePhase::Error, e)),
    }
}

impl Walker<'_> {
    /// Runs one child per item under `group` and returns the group's phase.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fan_out(
        &mut self,
        group_call: &Call,
        group: &str,
        items: &[fanout::Item],
        arguments: Option<&crate::workflow::Arguments>,
        continue_on: Option<&ContinueOn>,
        hook: Option<&str>,
        local: &Scope,
        scope: &Scope,
    ) -> NodePhase {
        if items.is_empty() {
            return self.mark(
                group,
                NodePhase::Skipped,
                Some("Skipped, empty params".into()),
            );
        }
        let mut phases = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let child_name = format!("{}({i}:{})", group_call.node_name, item.label());
            let child_id = self.node_id(&child_name);
            if self.observed.pods.contains_key(&child_id)
                && self
                    .nodes
                    .get(&child_id)
                    .is_some_and(|n| n.type_ == NodeType::Pod)
            {
                // Its pod exists: the child only follows it (no arguments to resolve).
                let call = Call {
                    node_name: child_name,
                    ..group_call.clone()
                };
                let phase = self.execute(&call, scope);
                phases.push(self.item_hook(hook, phase, group_call, call, i, item, scope));
                continue;
            }
            let mut item_scope = local.child();
            item_scope.extend(item.vars());
            let call = match self.arguments(arguments, &item_scope) {
                Ok(args) => Call {
                    node_name: child_name.clone(),
                    display_name: format!("{}({i}:{})", group_call.display_name, item.label()),
                    arguments: args,
                    ..group_call.clone()
                },
                Err(message) => {
                    let call = Call {
                        node_name: child_name.clone(),
                        display_name: child_name.clone(),
                        ..group_call.clone()
                    };
                    let id = self.ensure_node(&call, NodeType::Pod, NodePhase::Error);
                    self.add_child(group, &id);
                    let phase = self.mark(&id, NodePhase::Error, Some(message));
                    phases.push(self.item_hook(hook, phase, group_call, call, i, item, scope));
                    continue;
                }
            };
            let existed = self.nodes.contains_key(&child_id);
            let phase = self.execute(&call, scope);
            if !existed {
                // Linked once, when created: re-checking 5,000 siblings per reconcile is quadratic.
                self.push_new_child(group, &child_id);
            }
            phases.push(self.item_hook(hook, phase, group_call, call, i, item, scope));
        }
        if phases.iter().any(|p| !p.is_fulfilled()) {
            return NodePhase::Running;
        }
        phases
            .iter()
            .copied()
            .find(|p| {
                matches!(p, NodePhase::Failed | NodePhase::Error) && !continues_on(continue_on, *p)
            })
            .unwrap_or(NodePhase::Succeeded)
    }

    /// An item's exit hook, once the item has completed: the item's phase, or `Running` while
    /// the hook runs.
    #[allow(clippy::too_many_arguments)]
    fn item_hook(
        &mut self,
        hook: Option<&str>,
        phase: NodePhase,
        group_call: &Call,
        call: Call,
        i: usize,
        item: &fanout::Item,
        scope: &Scope,
    ) -> NodePhase {
        let Some(hook) = hook.filter(|_| phase.is_fulfilled()) else {
            return phase;
        };
        let parent = Call {
            display_name: format!("{}({i}:{})", group_call.display_name, item.label()),
            ..call
        };
        if self.exit_hook(&parent, hook, scope) {
            phase
        } else {
            NodePhase::Running
        }
    }

    /// `arguments.parameters`, substituted strictly: a reference that cannot be resolved here is
    /// an error naming it.
    pub(super) fn arguments(
        &self,
        arguments: Option<&crate::workflow::Arguments>,
        scope: &Scope,
    ) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for p in arguments.iter().flat_map(|a| a.parameters.iter()) {
            let v = match (&p.value, crate::config_maps::KeyRef::of(p)) {
                (Some(value), _) => substitute_str(value.as_str(), scope, Mode::Strict)
                    .map_err(|e| e.to_string())?,
                // An argument read from a ConfigMap (Argo passes its `valueFrom` on).
                (None, Some(reference)) => self.config_map_parameter(p, reference?, scope)?,
                (None, None) => continue,
            };
            out.push((p.name.clone(), v));
        }
        Ok(out)
    }

    /// A DAG's or steps template's own `outputs.parameters` (`valueFrom.parameter` or
    /// `valueFrom.expression`, else `valueFrom.default`) and result. A parameter that resolves to
    /// nothing and has no default is an error of the node, as Argo's
    /// `getTemplateOutputsFromScope` makes it.
    pub(super) fn template_outputs(
        &mut self,
        id: &str,
        template: &Template,
        scope: &Scope,
        kind: &str,
        children: Vec<(String, String)>,
    ) -> Result<(), String> {
        let Some(outputs) = &template.outputs else {
            return Ok(());
        };
        let mut vars = Vec::new();
        for (name, node_name) in children {
            let cid = self.node_id(&node_name);
            self.child_vars(&format!("{kind}.{name}"), &cid, &mut vars);
        }
        let mut local = scope.child();
        local.extend(vars);
        let mut resolved = crate::workflow::Outputs::default();
        for p in &outputs.parameters {
            let from = p.value_from.as_ref();
            let expression = from.and_then(|v| v.expression.as_deref());
            let value = match expression.filter(|e| !e.is_empty()) {
                // Its tags first, as the rest of the template's; then the expression, its value
                // written with `%v` (a nil one as `<nil>`, as Argo's).
                Some(expression) => substitute_str(expression, &local, Mode::Lenient)
                    .map_err(|e| (e.to_string(), e.exhausted()))
                    .and_then(|expression| {
                        crate::template::evaluate(&expression, &local)
                            .map(|v| v.unwrap_or_else(|| "<nil>".to_string()))
                            .map_err(|f| (f.message, f.exhausted))
                    }),
                None => {
                    let source = from
                        .and_then(|v| v.parameter.clone())
                        .or_else(|| p.value.as_ref().map(|v| v.0.clone()));
                    match source {
                        Some(source) => substitute_str(&source, &local, Mode::Strict)
                            .map_err(|e| (e.to_string(), e.exhausted())),
                        None => continue,
                    }
                }
            };
            let default = from.and_then(|v| v.default.as_ref()).map(|d| d.0.clone());
            let value = match (value, default) {
                (Ok(value), _) => value,
                // A bound hit is an error, default or not.
                (Err((message, true)), _) => return Err(message),
                (Err(_), Some(default)) => default,
                (Err((message, false)), None) => {
                    return Err(format!("outputs.parameters.{}: {message}", p.name));
                }
            };
            resolved.parameters.push(crate::workflow::Parameter {
                name: p.name.clone(),
                value: Some(value.into()),
                ..Default::default()
            });
        }
        if let Some(node) = self.nodes.get_mut(id)
            && !resolved.is_empty()
        {
            node.outputs = Some(resolved);
        }
        Ok(())
    }
}
