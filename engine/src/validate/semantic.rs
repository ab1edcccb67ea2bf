//! Fields that change how a workflow runs which Flotilla does not implement yet. Each is an
//! error naming the field: ignored, the workflow would run, and succeed, doing something other
//! than what it says (a mutex not held, an exit hook not run, an expression passed to the
//! container as text). What only feeds Argo's tooling stays a warning (`unsupported`).

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::kind::other_field;
use crate::template::Evaluator;
use crate::workflow::{RetryStrategy, Template, Workflow};

/// `spec` fields that change what runs, or how.
pub(super) const SPEC: [&str; 4] = [
    "hooks",
    "synchronization",
    "podSpecPatch",
    "templateDefaults",
];

/// Template fields that change what the template does.
pub(super) const TEMPLATE: [&str; 3] = ["synchronization", "memoize", "daemon"];

/// Step and task fields that change what the step or task does.
pub(super) const STEP: [&str; 1] = ["hooks"];

/// The fields refused by code of their own in [`template`] (typed fields), as the feature
/// table in `docs/argo-compatibility.md` names them.
#[cfg(test)]
const TYPED: [&str; 3] = [
    "spec.retryStrategy.affinity",
    "template.podSpecPatch",
    "template.retryStrategy.affinity",
];

/// Every refusal, as `docs/argo-compatibility.md`'s feature table names it: `spec.<field>`,
/// `template.<field>` and `step.<field>` (steps and tasks).
#[cfg(test)]
pub(super) fn refused_fields() -> Vec<String> {
    let mut out: Vec<String> = SPEC.iter().map(|f| format!("spec.{f}")).collect();
    out.extend(TEMPLATE.iter().map(|f| format!("template.{f}")));
    out.extend(STEP.iter().map(|f| format!("step.{f}")));
    out.extend(TYPED.iter().map(|f| f.to_string()));
    out.extend(
        super::kind::Kind::UNSUPPORTED
            .iter()
            .map(|k| format!("template.{}", k.field())),
    );
    out
}

/// How deep the spec's JSON is searched for expressions (serde_json parses no deeper than 128).
const MAX_DEPTH: usize = 128;

/// The first field of `wf` (its spec, and the templates the entrypoint or `onExit` reach) that
/// Flotilla would have to ignore although it changes how the workflow runs.
pub(super) fn check(
    wf: &Workflow,
    reachable: &HashSet<&str>,
    evaluator: Option<&Evaluator>,
) -> Result<(), String> {
    let spec = &wf.spec;
    let mut checker = Checker {
        evaluator,
        seen: HashSet::new(),
    };
    set_field("spec", &spec.other, &SPEC)?;
    retry_strategy("spec", spec.retry_strategy.as_ref(), &mut checker)?;
    for (key, value) in &spec.other {
        checker.tags(&format!("spec.{key}"), value, 0)?;
    }
    for (field, value) in [
        ("spec.arguments", serde_json::to_value(&spec.arguments)),
        ("spec.podMetadata", serde_json::to_value(&spec.pod_metadata)),
        ("spec.volumes", serde_json::to_value(&spec.volumes)),
        ("spec.affinity", serde_json::to_value(&spec.affinity)),
        ("spec.tolerations", serde_json::to_value(&spec.tolerations)),
        (
            "spec.nodeSelector",
            serde_json::to_value(&spec.node_selector),
        ),
    ] {
        checker.tags(field, &value.unwrap_or_default(), 0)?;
    }
    for t in spec
        .templates
        .iter()
        .filter(|t| reachable.contains(t.name.as_str()))
    {
        template(t, &mut checker)?;
    }
    Ok(())
}

fn template(t: &Template, checker: &mut Checker) -> Result<(), String> {
    let at = format!("templates.{}", t.name);
    set_field(&at, &t.other, &TEMPLATE)?;
    if t.pod_spec_patch.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(refused(&at, "podSpecPatch"));
    }
    retry_strategy(&at, t.retry_strategy.as_ref(), checker)?;
    for (i, group) in t.steps.iter().flatten().enumerate() {
        for step in &group.0 {
            let at = format!("{at}.steps[{i}].{}", step.name);
            set_field(&at, &step.other, &STEP)?;
        }
    }
    for task in t.dag.iter().flat_map(|d| &d.tasks) {
        let at = format!("{at}.tasks.{}", task.name);
        set_field(&at, &task.other, &STEP)?;
    }
    // A DAG's or steps template's outputs computed by an expression (no `{{=` around it).
    let outputs = t.outputs.iter().flat_map(|o| &o.parameters);
    for p in outputs {
        if let Some(expression) = p.value_from.as_ref().and_then(|v| v.expression.as_deref()) {
            let field = format!("outputs.parameters.{}.valueFrom.expression", p.name);
            checker.bare(&at, &field, expression)?;
        }
    }
    let json = serde_json::to_value(t).unwrap_or_default();
    checker.tags(&at, &json, 0)
}

/// A retry strategy's parts that are not built.
fn retry_strategy(
    at: &str,
    strategy: Option<&RetryStrategy>,
    checker: &mut Checker,
) -> Result<(), String> {
    let Some(retry) = strategy else {
        return Ok(());
    };
    if let Some(expression) = retry.expression.as_deref().filter(|e| !e.is_empty()) {
        checker.bare(at, "retryStrategy.expression", expression)?;
    }
    if retry.affinity.is_some() {
        return Err(refused(at, "retryStrategy.affinity"));
    }
    Ok(())
}

fn set_field(at: &str, other: &BTreeMap<String, Value>, fields: &[&str]) -> Result<(), String> {
    match fields.iter().find(|f| other_field(other, f).is_some()) {
        Some(field) => Err(refused(at, field)),
        None => Ok(()),
    }
}

/// Most distinct expressions a workflow may hold: each is parsed in the sandbox at submission.
pub(crate) const MAX_EXPRESSIONS: usize = 1000;

/// Checks that every expression parses and calls only functions the evaluator has (Argo checks
/// neither at submission; a mistake found here fails the workflow before anything runs), each
/// distinct expression once. Without an evaluator the first expression is refused. Either way
/// the error names the field.
struct Checker<'e> {
    evaluator: Option<&'e Evaluator>,
    seen: HashSet<String>,
}

impl Checker<'_> {
    /// `Err(None)`: there is no evaluator; `Err(Some(why))`: the expression is refused.
    fn check(&mut self, expression: &str) -> Result<(), Option<String>> {
        let Some(evaluator) = self.evaluator else {
            return Err(None);
        };
        if self.seen.contains(expression) {
            return Ok(());
        }
        if self.seen.len() >= MAX_EXPRESSIONS {
            return Err(Some(format!(
                "the workflow holds more than {MAX_EXPRESSIONS} distinct expressions"
            )));
        }
        self.seen.insert(expression.to_string());
        evaluator.check(expression).map_err(|f| Some(f.message))
    }

    /// An expression written without `{{=…}}` (a retry strategy's, an output parameter's). Its
    /// `{{…}}` tags are substituted before it is evaluated; `nil` stands in for each here.
    fn bare(&mut self, at: &str, field: &str, expression: &str) -> Result<(), String> {
        let mut blanked = String::with_capacity(expression.len());
        let mut rest = expression;
        while let Some(start) = rest.find("{{") {
            let Some(end) = rest[start..].find("}}") else {
                break;
            };
            blanked.push_str(&rest[..start]);
            blanked.push_str("nil");
            rest = &rest[start + end + 2..];
        }
        blanked.push_str(rest);
        self.check(&blanked).map_err(|why| match why {
            None => refused(at, field),
            Some(why) => format!("{at}.{field}: {why}"),
        })
    }

    /// Every `{{=…}}` tag in `value`, wherever it is.
    fn tags(&mut self, at: &str, value: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        match value {
            Value::String(s) => self.tags_in(at, s),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| self.tags(&format!("{at}[{i}]"), v, depth + 1)),
            Value::Object(map) => map.iter().try_for_each(|(k, v)| {
                self.tags_in(at, k)?;
                self.tags(&format!("{at}.{k}"), v, depth + 1)
            }),
            _ => Ok(()),
        }
    }

    /// The tags of one string, each from a `{{` to the first `}}` after it (as substitution
    /// splits them), the search going on after that `}}`.
    fn tags_in(&mut self, at: &str, text: &str) -> Result<(), String> {
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let tag = &rest[start + 2..];
            let Some(end) = tag.find("}}") else {
                break;
            };
            // The kind is decided on the raw tag, as in substitution (`{{ =x}}` is a variable).
            if let Some(expression) = tag[..end].strip_prefix('=') {
                let shown: String = expression.chars().take(80).collect();
                self.check(expression).map_err(|why| match why {
                    None => format!(
                        "{at}: expressions ({{{{=…}}}}) are not supported by Flotilla yet: {{{{={shown}}}}}"
                    ),
                    Some(why) => format!("{at}: {{{{={shown}}}}}: {why}"),
                })?;
            }
            rest = &tag[end + 2..];
        }
        Ok(())
    }
}

fn refused(at: &str, field: &str) -> String {
    format!(
        "{at}.{field} is not supported by Flotilla yet; it changes how the workflow runs, so the workflow is refused rather than run without it"
    )
}
