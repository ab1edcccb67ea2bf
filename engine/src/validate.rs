//! Workflow validation: what Argo checks when a workflow is submitted (and again before its
//! controller runs it), plus what Flotilla needs on top, so an invalid workflow ends at once with
//! a message naming the problem and where it is — Argo's own message wherever Argo has one.
//!
//! [`validate`] returns the *first* error, as Argo does. Argo's checks run first and in Argo's
//! order (`workflow/validate/validate.go`, ported in `argo` and `graph`); Flotilla's own
//! checks run after them, so a workflow Argo rejects is rejected with Argo's message. Argo's
//! controller reports a failed validation as phase `Failed` (`Error` for some callers) with the
//! message `invalid spec: <message>`; the engine adds that prefix, not this module.
//!
//! # Argo checks ported
//! Template, step, task, parameter and artifact names (present, valid, unique); `spec.arguments`
//! and step/task arguments (a value or a ConfigMap/supplied `valueFrom`, enums); the entrypoint
//! (required, defined); `onExit`; template types (unknown, several); input parameters supplied
//! by every caller; `{{...}}` references to inputs, globals, earlier steps, ancestor tasks and
//! loop items (Argo's placeholder scopes, including its run-time exceptions); steps (names,
//! loops); DAGs (at least one task, Argo's topological sort and its `duplicated nodeName` /
//! `invalid dependency` / `graph with cycle` errors, `depends` vs `dependencies` vs
//! `continueOn`, task results, items-based results, `target`, arguments that read a
//! non-ancestor task); resource `action` and `manifest` (parseable YAML); output parameters
//! (one source, the right source for the type, `globalName`); `retryPolicy`; `timeout`;
//! `activeDeadlineSeconds`; leaf-only `parallelism`; container/script images (or
//! `templateDefaults`); volume mounts; `podGC.strategy`; the 63-character workflow name.
//!
//! Templates from WorkflowTemplates are resolved before validation (`references`) and validated
//! as the workflow's own, named by their stored keys. Not ported, because they need the cluster
//! or full evaluation: the `successCondition`/`failureCondition` syntax (parsed at run time, as in Argo), `podGC`
//! label selectors, metrics, artifact locations and input-artifact supply. Deviations: a
//! `depends` expression that does not parse is rejected here (Argo only fails the task at run
//! time); substituted global values (`{{workflow.parameters.x}}` with a literal value) are not
//! re-checked inside `action`, `timeout` and manifests; DAG sort ties break by declaration order.
//!
//! # Flotilla checks
//! A template with both `cluster` and `clusterName`, different; a `namespace` that is not a
//! DNS-1123 label (unless it is a `{{...}}` reference); `retryStrategy.limit` that is not a
//! non-negative integer or a `{{...}}` reference; a template of a type Flotilla cannot run
//! (`containerSet`, `data`, `http`, `plugin`) that the entrypoint or `onExit` can reach.
//!
//! # Refused: what would change how the workflow runs (`semantic`)
//! `{{=...}}` expressions anywhere in the spec or a reachable template (not evaluated yet);
//! `spec.hooks`, `synchronization`, `podSpecPatch`, `templateDefaults`,
//! `retryStrategy.expression`, `retryStrategy.affinity`; a reachable template's
//! `synchronization`, `memoize`, `daemon`, `podSpecPatch`, `retryStrategy.expression`,
//! `retryStrategy.affinity`; its steps' and tasks' `hooks`. Each error names the field;
//! ignored, the workflow would run as something else.
//!
//! # Warnings: what is ignored
//! Every field Flotilla's types do not hold is reported, never silently dropped:
//! - `spec`: `artifactRepositoryRef`,
//!   `volumeClaimTemplates`, `volumeClaimGC`, `executor`, `hostNetwork`, `dnsPolicy`, `dnsConfig`, `hostAliases`,
//!   `schedulerName`, `automountServiceAccountToken`, `artifactGC`, `workflowMetadata`,
//!   `ttlSecondsAfterFinished`, `podDisruptionBudget` and any unknown field: "… is not supported
//!   by Flotilla and is ignored". `archiveLogs`, `metrics`, `priority`, `podPriority` only feed
//!   Argo's tooling or queueing: "… is only used by Argo's own tooling and is ignored".
//! - templates: `archiveLocation`, `executor`, `hostAliases`, `schedulerName`, `priority`
//!   (and, on a template nothing calls, the refused fields above), deprecated template-level
//!   `template`/`templateRef`/`arguments`, unknown fields; `metrics` (tooling only); input and
//!   output artifacts; `containerSet`/`data`/`http`/`plugin` on a template nothing calls.
//! - steps and tasks: `inline`, unknown fields, argument artifacts. A `templateRef` left after
//!   resolution is malformed, and its shape is reported as an error.
//! - `spec.arguments.artifacts`.

mod argo;
mod graph;
mod kind;
mod leaf;
mod names;
mod scope;
mod semantic;
mod unsupported;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use crate::template::Evaluator;
use crate::workflow::{Template, Workflow};
use kind::kinds;

/// A workflow that may run, and what in it Flotilla will ignore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Validated {
    /// One line per ignored field, naming it by its path (`spec.hooks is not supported by
    /// Flotilla and is ignored`).
    pub(crate) warnings: Vec<String>,
}

/// Why a workflow may not run: the first problem found, in Argo's words where Argo has them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ValidationError(pub(crate) String);

/// Validates `wf` as Argo would at submission, then for what Flotilla can run. Pure; never
/// panics.
pub(crate) fn validate(
    wf: &Workflow,
    evaluator: Option<&Evaluator>,
) -> Result<Validated, ValidationError> {
    argo::validate_workflow(wf).map_err(ValidationError)?;
    let reachable = reachable(wf);
    flotilla_checks(wf, &reachable, evaluator).map_err(ValidationError)?;
    Ok(Validated {
        warnings: unsupported::collect(wf, &reachable),
    })
}

/// Names of the templates the entrypoint or `onExit` can call, through steps, tasks and their
/// `onExit` handlers.
fn reachable(wf: &Workflow) -> HashSet<&str> {
    let spec = &wf.spec;
    let by_name: HashMap<&str, &Template> = spec
        .templates
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let mut seen = HashSet::new();
    let mut todo: Vec<&str> = [spec.entrypoint.as_deref(), spec.on_exit.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    while let Some(name) = todo.pop() {
        let Some(t) = by_name.get(name) else { continue };
        if !seen.insert(t.name.as_str()) {
            continue;
        }
        let steps = t.steps.iter().flatten().flat_map(|g| &g.0);
        let steps = steps.flat_map(|s| [s.template.as_deref(), s.on_exit.as_deref()]);
        let tasks = t.dag.iter().flat_map(|d| &d.tasks);
        let tasks = tasks.flat_map(|t| [t.template.as_deref(), t.on_exit.as_deref()]);
        todo.extend(steps.chain(tasks).flatten());
    }
    seen
}

/// Checks Argo does not make, for fields only Flotilla reads or features it lacks.
fn flotilla_checks(
    wf: &Workflow,
    reachable: &HashSet<&str>,
    evaluator: Option<&Evaluator>,
) -> Result<(), String> {
    if let Some(limit) = wf
        .spec
        .retry_strategy
        .as_ref()
        .and_then(|r| r.limit.as_ref())
    {
        retry_limit("spec", limit.as_str())?;
    }
    wf.spec
        .templates
        .iter()
        .try_for_each(|t| template_checks(t, reachable.contains(t.name.as_str())))?;
    exit_hooks_exist(wf, reachable)?;
    semantic::check(wf, reachable, evaluator)
}

/// A step's or task's `onExit` names a template of the workflow. Argo's validator does not
/// check it, and its controller errors the step group or DAG when the hook runs; named here,
/// the mistake is found at submission.
fn exit_hooks_exist(wf: &Workflow, reachable: &HashSet<&str>) -> Result<(), String> {
    let known: HashSet<&str> = wf.spec.templates.iter().map(|t| t.name.as_str()).collect();
    for t in wf
        .spec
        .templates
        .iter()
        .filter(|t| reachable.contains(t.name.as_str()))
    {
        let steps = t.steps.iter().flatten().enumerate().flat_map(|(i, g)| {
            g.0.iter()
                .map(move |s| (format!("steps[{i}].{}", s.name), s.on_exit.as_deref()))
        });
        let tasks = t.dag.iter().flat_map(|d| &d.tasks);
        let tasks = tasks.map(|task| (format!("tasks.{}", task.name), task.on_exit.as_deref()));
        for (at, on_exit) in steps.chain(tasks) {
            if let Some(hook) = on_exit.filter(|h| !h.is_empty() && !known.contains(h)) {
                return Err(format!(
                    "templates.{}.{at}.onExit template name '{hook}' undefined",
                    t.name
                ));
            }
        }
    }
    Ok(())
}

fn template_checks(t: &Template, reachable: bool) -> Result<(), String> {
    let name = &t.name;
    if let Err((cluster, cluster_name)) = t.cluster() {
        return Err(format!(
            "templates.{name}: cluster {cluster:?} and clusterName {cluster_name:?} disagree; set one"
        ));
    }
    if let Ok(Some(cluster)) = t.cluster()
        && !cluster.contains("{{")
        && let Some(e) = names::dns_label_error(cluster)
    {
        let field = match t.cluster.is_some() {
            true => "cluster",
            false => "clusterName",
        };
        return Err(format!(
            "templates.{name}.{field} {cluster:?} is invalid: {e}"
        ));
    }
    if let Some(ns) = t.namespace.as_deref().filter(|ns| !ns.contains("{{"))
        && let Some(e) = names::dns_label_error(ns)
    {
        return Err(format!("templates.{name}.namespace {ns:?} is invalid: {e}"));
    }
    if let Some(limit) = t.retry_strategy.as_ref().and_then(|r| r.limit.as_ref()) {
        retry_limit(&format!("templates.{name}"), limit.as_str())?;
    }
    if reachable && let Some(kind) = kinds(t).into_iter().find(|k| !k.supported()) {
        return Err(format!(
            "templates.{name}: {} templates are not supported by Flotilla",
            kind.field()
        ));
    }
    Ok(())
}

/// A `retryStrategy.limit` at `at`: a non-negative integer, or a reference resolved at run time.
fn retry_limit(at: &str, s: &str) -> Result<(), String> {
    let valid = match s.parse::<i64>() {
        Ok(n) => n >= 0,
        Err(_) => s.starts_with("{{") && s.ends_with("}}"),
    };
    if valid {
        return Ok(());
    }
    Err(format!(
        "{at}.retryStrategy.limit {s:?} must be a non-negative integer or a {{{{...}}}} reference"
    ))
}
