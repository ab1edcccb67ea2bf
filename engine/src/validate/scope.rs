//! The names a `{{...}}` reference may use at each point of a workflow, and Argo's check that
//! every reference with a workflow-variable prefix names one of them (`resolveAllVariables`).
//!
//! Like Argo, the check runs over the JSON text of a template, step or task, so a tag is exactly
//! what Argo's `fasttemplate` sees: the text between a `{{` and the first `}}` after it,
//! JSON-escaped, compared after trimming whitespace.

use std::collections::HashSet;

/// Names in scope. Only membership matters for validation, never values.
pub(super) type Scope = HashSet<String>;

/// Argo's magic scope entry meaning "any `{{item...}}`" (set by `withParam`).
pub(super) const ANY_ITEM: &str = "item.*";
/// Magic entry: some output parameter's `globalName` is itself a `{{...}}` reference.
pub(super) const ANY_WORKFLOW_OUTPUT_PARAMETER: &str = "workflow.outputs.parameters.*";
/// Magic entry: some output artifact's `globalName` is itself a `{{...}}` reference.
pub(super) const ANY_WORKFLOW_OUTPUT_ARTIFACT: &str = "workflow.outputs.artifacts.*";

/// Argo's `GlobalVarValidWorkflowVariablePrefix`: only tags starting with one of these are
/// checked. Anything else (`{{item}}`, `{{retries}}`, a Helm `{{ .Values.x }}` in a script) is
/// left for run time.
const CHECKED_PREFIXES: [&str; 7] = [
    "item.",
    "steps.",
    "inputs.",
    "outputs.",
    "pod.",
    "workflow.",
    "tasks.",
];

/// Tags that pass even though no scope holds them: values only known at run time.
const RUNTIME_PREFIXES: [&str; 7] = [
    "outputs.",
    "workflow.creationTimestamp",
    "workflow.scheduledTime",
    "workflow.duration",
    "tasks.name",
    "steps.name",
    "node.name",
];

/// How much text after an unterminated `{{` an error quotes.
const EXCERPT_CHARS: usize = 60;

/// Calls `f` with every tag of `text`, untrimmed. A `{{` with no `}}` after it is an error in
/// `fasttemplate`, whatever the caller wanted.
pub(super) fn for_each_tag(
    text: &str,
    mut f: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = rest.get(start + 2..).unwrap_or("");
        let Some(end) = after.find("}}") else {
            let excerpt: String = rest
                .get(start..)
                .unwrap_or("")
                .chars()
                .take(EXCERPT_CHARS)
                .collect();
            return Err(format!(
                "Cannot find end tag=\"}}}}\" in the template starting from {excerpt:?}"
            ));
        };
        f(after.get(..end).unwrap_or(""))?;
        rest = after.get(end + 2..).unwrap_or("");
    }
    Ok(())
}

/// Argo's `resolveAllVariables`: every checked tag in `text` is in one of the scope `layers` or
/// in `globals`, or is one of the run-time exceptions. The error is Argo's
/// `failed to resolve {{tag}}`.
///
/// A layer entry `steps.<name>.*` (or `tasks.<name>.*`) admits any reference to that step or
/// task: it stands for a template Flotilla cannot follow (a `templateRef`), whose outputs are
/// unknown.
pub(super) fn resolve_all(layers: &[&Scope], globals: &Scope, text: &str) -> Result<(), String> {
    let has = |name: &str| layers.iter().any(|s| s.contains(name));
    let any_item = has(ANY_ITEM);
    let any_out_param = has(ANY_WORKFLOW_OUTPUT_PARAMETER);
    let any_out_art = has(ANY_WORKFLOW_OUTPUT_ARTIFACT);
    let unknown_outputs = |name: &str| {
        ["steps.", "tasks."].iter().any(|root| {
            name.strip_prefix(root)
                .and_then(|rest| rest.split('.').next())
                .is_some_and(|node| has(&format!("{root}{node}.*")))
        })
    };
    for_each_tag(text, |tag| {
        let name = tag.trim();
        if !CHECKED_PREFIXES.iter().any(|p| name.starts_with(p))
            || has(name)
            || globals.contains(name)
            || RUNTIME_PREFIXES.iter().any(|p| name.starts_with(p))
            || (any_item && (name == "item" || name.starts_with("item.")))
            || (any_out_param && name.starts_with("workflow.outputs.parameters."))
            || (any_out_art && name.starts_with("workflow.outputs.artifacts."))
            || unknown_outputs(name)
        {
            Ok(())
        } else {
            Err(format!("failed to resolve {{{{{tag}}}}}"))
        }
    })
}

/// `text` with every `{{...}}` replaced by a plain word, so it can be parsed as YAML where Argo
/// would have substituted a placeholder. An unterminated `{{` is kept as it is.
pub(super) fn blank_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = rest.get(start + 2..).unwrap_or("");
        let Some(end) = after.find("}}") else { break };
        out.push_str(rest.get(..start).unwrap_or(""));
        out.push_str("placeholder");
        rest = after.get(end + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(names: &[&str]) -> Scope {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tags_are_found_as_fasttemplate_finds_them() {
        let mut tags = Vec::new();
        let r = for_each_tag("a {{x}} b {{ y }} {{a {{b}} c", |t| {
            tags.push(t.to_string());
            Ok(())
        });
        assert_eq!(r, Ok(()));
        assert_eq!(tags, ["x", " y ", "a {{b"]);
        let err = for_each_tag("ok {{x}} then {{broken", |_| Ok(())).unwrap_err();
        assert_eq!(
            err,
            "Cannot find end tag=\"}}\" in the template starting from \"{{broken\""
        );
    }

    #[test]
    fn only_workflow_variable_prefixes_are_checked() {
        let globals = scope(&["workflow.name"]);
        let inputs = scope(&["inputs.parameters.a"]);
        for ok in [
            "{{inputs.parameters.a}}",
            "{{ inputs.parameters.a }}",
            "{{workflow.name}}",
            "{{item}}",
            "{{retries}}",
            "{{ .Values.x }}",
            "{{=inputs.parameters.nope}}",
            "{{outputs.parameters.x.path}}",
            "{{workflow.creationTimestamp.Y}}",
            "{{tasks.name}}",
        ] {
            assert_eq!(resolve_all(&[&inputs], &globals, ok), Ok(()), "{ok}");
        }
        assert_eq!(
            resolve_all(&[&inputs], &globals, "x {{ inputs.parameters.b }}"),
            Err("failed to resolve {{ inputs.parameters.b }}".to_string())
        );
        assert_eq!(
            resolve_all(&[&inputs], &globals, "{{item.a}}"),
            Err("failed to resolve {{item.a}}".to_string())
        );
        assert_eq!(
            resolve_all(&[&inputs, &scope(&[ANY_ITEM])], &globals, "{{item.a}}"),
            Ok(())
        );
        assert_eq!(
            resolve_all(
                &[&scope(&[ANY_WORKFLOW_OUTPUT_PARAMETER])],
                &globals,
                "{{workflow.outputs.parameters.x}}"
            ),
            Ok(())
        );
    }

    #[test]
    fn unknown_outputs_admit_any_reference_to_their_step() {
        let layers = scope(&["steps.a.*"]);
        let globals = Scope::new();
        assert_eq!(
            resolve_all(&[&layers], &globals, "{{steps.a.outputs.result}}"),
            Ok(())
        );
        assert_eq!(
            resolve_all(&[&layers], &globals, "{{steps.ab.outputs.result}}"),
            Err("failed to resolve {{steps.ab.outputs.result}}".to_string())
        );
    }

    #[test]
    fn blanking_tags_keeps_the_rest() {
        assert_eq!(
            blank_tags("name: {{workflow.name}}-{{= sprig.trim(x) }}\n{{open"),
            "name: placeholder-placeholder\n{{open"
        );
    }
}
