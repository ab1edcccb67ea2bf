//! The variables nodes offer one another (`steps.a.outputs.result`, `tasks.b.status`, a
//! fan-out's aggregated outputs…), and the task names a text refers to.

use std::collections::HashSet;

use super::template::Scope;
use super::walk::Walker;
use crate::config_maps::{self, KeyRef};
use crate::workflow::{DagTask, NodeStatus, NodeType, Outputs, Parameter};

/// The variables a completed node offers its successors: `<prefix>.outputs.result`,
/// `<prefix>.outputs.parameters.<p>`, `<prefix>.status`, `<prefix>.id`…
pub(super) fn node_vars(prefix: &str, node: &NodeStatus, out: &mut Vec<(String, String)>) {
    out.push((format!("{prefix}.id"), node.id.clone()));
    out.push((format!("{prefix}.status"), node.phase.to_string()));
    if let Some(t) = &node.started_at {
        out.push((
            format!("{prefix}.startedAt"),
            t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ));
    }
    if let Some(t) = &node.finished_at {
        out.push((
            format!("{prefix}.finishedAt"),
            t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ));
    }
    if let Some(ip) = &node.pod_ip {
        out.push((format!("{prefix}.ip"), ip.clone()));
    }
    if let Some(outputs) = &node.outputs {
        outputs_vars(prefix, outputs, out);
    }
}

pub(super) fn outputs_vars(prefix: &str, outputs: &Outputs, out: &mut Vec<(String, String)>) {
    if let Some(result) = &outputs.result {
        out.push((format!("{prefix}.outputs.result"), result.clone()));
    }
    if let Some(code) = &outputs.exit_code {
        out.push((format!("{prefix}.exitCode"), code.clone()));
    }
    for p in &outputs.parameters {
        if let Some(v) = &p.value {
            out.push((
                format!("{prefix}.outputs.parameters.{}", p.name),
                v.0.clone(),
            ));
        }
    }
}

impl Walker<'_> {
    /// `spec.arguments.parameters` as the entrypoint (and the exit handler) receive them: each
    /// its `value`, or what its ConfigMap holds (else its `valueFrom.default`).
    pub(super) fn workflow_parameters(&self) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for p in self
            .wf
            .spec
            .arguments
            .iter()
            .flat_map(|a| a.parameters.iter())
        {
            if let Some(v) = &p.value {
                out.push((p.name.clone(), v.0.clone()));
                continue;
            }
            let Some(reference) = KeyRef::of(p) else {
                continue;
            };
            let reference = reference?;
            let value = match reference.read(self.observed, &self.namespace) {
                Ok(value) => value,
                Err(e) => config_maps::fallback(p).ok_or_else(|| {
                    format!(
                        "failed to set global parameter {} from configmap with name {} and key {}: {e}",
                        p.name, reference.name, reference.key
                    )
                })?,
            };
            out.push((p.name.clone(), value));
        }
        Ok(out)
    }

    /// An input or argument parameter read from its ConfigMap, whose name and key may use the
    /// variables of `scope`; `valueFrom.default` when the ConfigMap or key is missing, as Argo.
    pub(super) fn config_map_parameter(
        &self,
        p: &Parameter,
        reference: KeyRef,
        scope: &Scope,
    ) -> Result<String, String> {
        let substituted = |text: &str| {
            crate::template::substitute_str(text, scope, crate::template::Mode::Lenient)
                .map_err(|e| e.to_string())
        };
        let reference = KeyRef {
            name: substituted(&reference.name)?,
            key: substituted(&reference.key)?,
        };
        reference
            .read(self.observed, &self.namespace)
            .or_else(|e| config_maps::fallback(p).ok_or(e))
            .map_err(|e| {
                format!(
                    "unable to retrieve inputs.parameters.{} from ConfigMap: {e}",
                    p.name
                )
            })
    }

    /// Workflow-wide variables (`workflow.*`), built once per reconcile.
    pub(super) fn global_scope(&self, parameters: &[(String, String)]) -> Scope<'static> {
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
        scope.insert(
            "workflow.mainEntrypoint",
            self.wf.spec.entrypoint.clone().unwrap_or_default(),
        );
        if let Some(priority) = self.wf.spec.other.get("priority").and_then(|p| p.as_i64()) {
            scope.insert("workflow.priority", priority.to_string());
        }
        if let Some(t) = &meta.creation_timestamp {
            creation_timestamp(t.0, &mut scope);
        }
        // Seconds since the workflow started, as Argo prints them (`%f`).
        let started = self.wf.status.as_ref().and_then(|s| s.started_at.as_ref());
        let running = started.map_or(0.0, |t| self.now.duration_since(t.0).as_secs_f64().max(0.0));
        scope.insert("workflow.duration", format!("{running:.6}"));
        for (name, value) in parameters {
            scope.insert(format!("workflow.parameters.{name}"), value.clone());
        }
        let declared: Vec<&Parameter> = self
            .wf
            .spec
            .arguments
            .iter()
            .flat_map(|a| a.parameters.iter())
            .collect();
        scope.insert(
            "workflow.parameters",
            serde_json::to_string(&declared).unwrap_or_default(),
        );
        for (k, v) in meta.labels.iter().flatten() {
            scope.insert(format!("workflow.labels.{k}"), v.clone());
        }
        for (k, v) in meta.annotations.iter().flatten() {
            scope.insert(format!("workflow.annotations.{k}"), v.clone());
        }
        scope
    }

    /// The variables a task or step offers the rest of its template under `prefix`
    /// (`tasks.a`, `steps.b`): its own, and a fan-out's aggregated outputs.
    pub(super) fn child_vars(&self, prefix: &str, id: &str, out: &mut Vec<(String, String)>) {
        let Some(node) = self.nodes.get(id) else {
            return;
        };
        node_vars(prefix, node, out);
        if node.type_ == NodeType::TaskGroup {
            self.aggregate_vars(prefix, node, out);
        }
    }

    /// A fanned-out task's outputs as JSON lists (`outputs.result`, `outputs.parameters.<p>`).
    pub(super) fn aggregate_vars(
        &self,
        prefix: &str,
        group: &crate::workflow::NodeStatus,
        out: &mut Vec<(String, String)>,
    ) {
        // Charged: every task naming a fan-out's outputs reads all its children.
        if !self.budget.step(group.children.len()) {
            return;
        }
        let children: Vec<&crate::workflow::NodeStatus> = group
            .children
            .iter()
            .filter_map(|c| self.nodes.get(c))
            .collect();
        let results: Vec<serde_json::Value> = children
            .iter()
            .filter_map(|c| c.outputs.as_ref().and_then(|o| o.result.clone()))
            .map(|r| serde_json::from_str(&r).unwrap_or(serde_json::Value::String(r)))
            .collect();
        out.push((
            format!("{prefix}.outputs.result"),
            serde_json::Value::Array(results).to_string(),
        ));
        let mut params: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
            Default::default();
        for c in &children {
            for p in c.outputs.iter().flat_map(|o| o.parameters.iter()) {
                if let Some(v) = &p.value {
                    params
                        .entry(p.name.clone())
                        .or_default()
                        .push(serde_json::Value::String(v.0.clone()));
                }
            }
        }
        for (name, values) in params {
            out.push((
                format!("{prefix}.outputs.parameters.{name}"),
                serde_json::Value::Array(values).to_string(),
            ));
        }
    }
}

/// The strftime conversions `workflow.creationTimestamp.<c>` offers, one variable each.
const STRFTIME_CONVERSIONS: &str = "aAbBCdDeFgGhHIjklmMnpPrRSTuUVwWyYzZ";

/// `workflow.creationTimestamp` (RFC 3339, UTC), and the variables Argo derives from it:
/// `.s` (Unix seconds), `.RFC3339`, and `.<c>` for each strftime conversion `%<c>`.
fn creation_timestamp(at: jiff::Timestamp, scope: &mut Scope<'static>) {
    let utc = at.to_zoned(jiff::tz::TimeZone::UTC);
    let rfc3339 = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    for c in STRFTIME_CONVERSIONS.chars() {
        let format = format!("%{c}");
        if let Ok(value) = jiff::fmt::strtime::format(&format, &utc) {
            scope.insert(format!("workflow.creationTimestamp.{c}"), value);
        }
    }
    scope.insert("workflow.creationTimestamp.s", at.as_second().to_string());
    scope.insert("workflow.creationTimestamp.RFC3339", rfc3339.clone());
    scope.insert("workflow.creationTimestamp", rfc3339);
}

/// The names of the tasks a task's `when`, items and arguments refer to; `None` when they may
/// refer to any (see [`refers_to_every_task`]).
pub(super) fn referenced_tasks(task: &DagTask) -> Option<Vec<String>> {
    let mut text = String::new();
    text.push_str(task.when.as_deref().unwrap_or_default());
    text.push('\n');
    text.push_str(task.with_param.as_deref().unwrap_or_default());
    for json in [
        task.with_items
            .as_ref()
            .and_then(|v| serde_json::to_string(v).ok()),
        task.with_sequence
            .as_ref()
            .and_then(|v| serde_json::to_string(v).ok()),
        task.arguments
            .as_ref()
            .and_then(|v| serde_json::to_string(v).ok()),
    ]
    .into_iter()
    .flatten()
    {
        text.push('\n');
        text.push_str(&json);
    }
    if refers_to_every_task(&text) {
        return None;
    }
    Some(
        task_names_in(&text)
            .into_iter()
            .map(str::to_string)
            .collect(),
    )
}

/// The task names a text refers to: whatever follows `tasks.` up to the first character a task
/// name cannot hold (`[a-zA-Z0-9-]`), and the quoted name in `tasks['…']` or `tasks["…"]` (an
/// expression's way to name a task with a `-`; `\"` in JSON text). A superset of its tags'
/// task names, whatever their spacing.
pub(super) fn task_names_in(text: &str) -> HashSet<&str> {
    let dotted = text.match_indices("tasks.").map(|(at, prefix)| {
        let rest = &text[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        &rest[..end]
    });
    let indexed = text.match_indices("tasks[").filter_map(|(at, prefix)| {
        let rest = &text[at + prefix.len()..];
        let quote = ["'", "\\\"", "\""]
            .into_iter()
            .find(|q| rest.starts_with(q))?;
        let rest = &rest[quote.len()..];
        rest.find(quote).map(|end| &rest[..end])
    });
    dotted
        .chain(indexed)
        .filter(|name| !name.is_empty())
        .collect()
}

/// Whether an expression in `text` (a `{{=…}}` tag) may refer to a task [`task_names_in`] does
/// not see: `tasks` reached other than as `tasks.NAME` or `tasks['NAME']` (an index it computes,
/// `tasks?.NAME`, `get(tasks, …)`), or the whole environment (`$env`).
pub(super) fn refers_to_every_task(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("{{=") {
        let tag = &rest[start + 3..];
        let end = tag.find("}}").unwrap_or(tag.len());
        let expression = &tag[..end];
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let other_use = expression.match_indices("tasks").any(|(at, found)| {
            let before = expression[..at].chars().next_back();
            let after = &expression[at + found.len()..];
            let plain = after.starts_with('.')
                || ["['", "[\"", "[\\\""].iter().any(|q| after.starts_with(q));
            !word(before) && !word(after.chars().next()) && !plain
        });
        if other_use || expression.contains("$env") {
            return true;
        }
        rest = &tag[end..];
    }
    false
}

#[cfg(test)]
mod task_reference_tests {
    use super::*;

    #[test]
    fn tasks_are_found_however_an_expression_names_them() {
        let names = task_names_in(
            r#"{{tasks.a.outputs.result}} {{=tasks['b-1'].status}} {{=tasks[\"c\"]}}"#,
        );
        let mut names: Vec<&str> = names.into_iter().collect();
        names.sort();
        assert_eq!(names, ["a", "b-1", "c"]);
        for every in [
            "{{=tasks[name].status}}",
            "{{=tasks?.a.status}}",
            "{{=get(tasks, 'a')}}",
            "{{=$env}}",
        ] {
            assert!(refers_to_every_task(every), "{every}");
        }
        for some in [
            "{{=tasks.a.status}}",
            "{{=tasks['a'].status}}",
            "{{tasks[name]}} $env",
            "{{=mytasks(1)}}",
        ] {
            assert!(!refers_to_every_task(some), "{some}");
        }
    }
}
