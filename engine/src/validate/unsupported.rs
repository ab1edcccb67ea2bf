//! Fields a workflow may use that Flotilla does not implement and whose absence leaves the rest
//! of the workflow running as written: each becomes a warning, which the engine shows as an
//! event and in the status message. Those that change how it runs are errors (`semantic`).

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::kind::{Kind, other_field};
use super::semantic;
use crate::workflow::{Arguments, Template, Workflow};

/// Argo `spec` fields that only describe the workflow or feed Argo's own tooling; ignoring them
/// changes no step's behaviour. Warned with a milder wording.
const SPEC_METADATA_ONLY: [&str; 4] = ["archiveLogs", "metrics", "priority", "podPriority"];

/// Template fields that only feed Argo's tooling (Prometheus metrics).
const TEMPLATE_METADATA_ONLY: [&str; 1] = ["metrics"];

pub(super) fn collect(wf: &Workflow, reachable: &HashSet<&str>) -> Vec<String> {
    let spec = &wf.spec;
    let mut out = Vec::new();
    fields(
        &mut out,
        "spec",
        &spec.other,
        &SPEC_METADATA_ONLY,
        &semantic::SPEC,
    );
    artifacts(&mut out, "spec.arguments", spec.arguments.as_ref());
    for t in &spec.templates {
        template(&mut out, t, reachable.contains(t.name.as_str()));
    }
    out
}

fn template(out: &mut Vec<String>, t: &Template, reachable: bool) {
    let at = format!("templates.{}", t.name);
    // A reachable template of an unsupported type is an error (see `validate`); one nothing
    // calls only earns a warning.
    let types: Vec<&str> = Kind::UNSUPPORTED.iter().map(|k| k.field()).collect();
    if !reachable {
        for k in types.iter().filter(|k| other_field(&t.other, k).is_some()) {
            out.push(format!(
                "{at}.{k} is not supported by Flotilla; the template is never called, so it is ignored"
            ));
        }
    }
    // A reachable template's fields that change what it does are errors (`semantic`); on one
    // nothing calls they are only ignored.
    let mut skip = types.clone();
    if reachable {
        skip.extend(semantic::TEMPLATE);
    }
    fields(out, &at, &t.other, &TEMPLATE_METADATA_ONLY, &skip);
    if !reachable && t.pod_spec_patch.as_deref().is_some_and(|p| !p.is_empty()) {
        out.push(ignored(&at, "podSpecPatch"));
    }
    if t.inputs.as_ref().is_some_and(|i| !i.artifacts.is_empty()) {
        out.push(ignored(&at, "inputs.artifacts"));
    }
    if t.outputs.as_ref().is_some_and(|o| !o.artifacts.is_empty()) {
        out.push(ignored(&at, "outputs.artifacts"));
    }
    let step_skip: &[&str] = if reachable { &semantic::STEP } else { &[] };
    for (i, group) in t.steps.iter().flatten().enumerate() {
        for step in &group.0 {
            let at = format!("{at}.steps[{i}].{}", step.name);
            fields(out, &at, &step.other, &[], step_skip);
            artifacts(out, &format!("{at}.arguments"), step.arguments.as_ref());
        }
    }
    for task in t.dag.iter().flat_map(|d| &d.tasks) {
        let at = format!("{at}.tasks.{}", task.name);
        fields(out, &at, &task.other, &[], step_skip);
        artifacts(out, &format!("{at}.arguments"), task.arguments.as_ref());
    }
}

/// One warning per set field in `other` (the fields Flotilla's types do not hold), except
/// those in `skip`.
fn fields(
    out: &mut Vec<String>,
    at: &str,
    other: &BTreeMap<String, Value>,
    metadata: &[&str],
    skip: &[&str],
) {
    for key in other.keys() {
        if other_field(other, key).is_none() || skip.contains(&key.as_str()) {
            continue;
        }
        out.push(if metadata.contains(&key.as_str()) {
            format!("{at}.{key} is only used by Argo's own tooling and is ignored by Flotilla")
        } else {
            ignored(at, key)
        });
    }
}

fn artifacts(out: &mut Vec<String>, at: &str, args: Option<&Arguments>) {
    if args.is_some_and(|a| !a.artifacts.is_empty()) {
        out.push(ignored(at, "artifacts"));
    }
}

fn ignored(at: &str, field: &str) -> String {
    format!("{at}.{field} is not supported by Flotilla and is ignored")
}
