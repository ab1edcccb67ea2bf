//! Argo's naming rules and its checks of `arguments` lists (`validateWorkflowFieldNames`,
//! `validateArguments` in `workflow/validate/validate.go`), with Argo's messages.
//!
//! Argo's rules are regular expressions over ASCII; they are written out by hand here so the
//! module needs no regex engine.

use std::collections::HashSet;

use serde_json::Value;

use crate::workflow::{Arguments, Parameter};

/// Longest template, step or task name Argo accepts (`workflowFieldMaxLength`).
const FIELD_NAME_MAX_LEN: usize = 128;
/// `workflowFieldNameErrMsg` plus the example Argo appends.
const FIELD_NAME_ERROR: &str = "name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character (e.g. My-name1-2, 123-NAME)";
const PARAM_NAME_ERROR: &str = "Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1";

/// Which of Argo's two name rules a list is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameRule {
    /// Templates, steps, tasks: `[a-zA-Z0-9][-a-zA-Z0-9]*`, at most 128 bytes.
    Field,
    /// Parameters and artifacts: `[-a-zA-Z0-9_]+`.
    ParamOrArtifact,
}

/// Argo's `isValidWorkflowFieldName`: the reasons `name` is not a valid template, step or task
/// name (empty when it is valid).
pub(super) fn field_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > FIELD_NAME_MAX_LEN {
        errs.push(format!(
            "must be no more than {FIELD_NAME_MAX_LEN} characters"
        ));
    }
    let mut bytes = name.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        errs.push(FIELD_NAME_ERROR.to_string());
    }
    errs
}

/// Argo's `isValidParamOrArtifactName`.
pub(super) fn param_name_error(name: &str) -> Option<&'static str> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (!valid).then_some(PARAM_NAME_ERROR)
}

/// Argo's `validateWorkflowFieldNames`: every name present, valid and unique. The error is the
/// suffix Argo appends to the list's path, e.g. `[1].name 'a' is not unique`.
pub(super) fn check_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    rule: NameRule,
) -> Result<(), String> {
    let mut seen = HashSet::new();
    for (i, name) in names.into_iter().enumerate() {
        if name.is_empty() {
            return Err(format!("[{i}].name is required"));
        }
        let errs = match rule {
            NameRule::Field => field_name_errors(name),
            NameRule::ParamOrArtifact => param_name_error(name)
                .map(|e| vec![e.to_string()])
                .unwrap_or_default(),
        };
        if !errs.is_empty() {
            return Err(format!(
                "[{i}].name: '{name}' is invalid: {}",
                errs.join(";")
            ));
        }
        if !seen.insert(name) {
            return Err(format!("[{i}].name '{name}' is not unique"));
        }
    }
    Ok(())
}

/// The `name` of an artifact, which Flotilla keeps as raw JSON.
pub(super) fn artifact_name(artifact: &Value) -> &str {
    artifact.get("name").and_then(Value::as_str).unwrap_or("")
}

/// A string field of raw JSON, `""` when absent (Go's zero value).
pub(super) fn str_field<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Argo's `validateArguments` with `allowEmptyValues = false` (submission): names, then each
/// parameter's value. `prefix` ends with a dot, e.g. `spec.arguments.` or
/// `templates.main.steps[0].hello.arguments.`.
///
/// Artifact arguments are only checked for their names: Flotilla does not pass artifacts, and
/// warns about them instead.
pub(super) fn check_arguments(prefix: &str, args: Option<&Arguments>) -> Result<(), String> {
    let Some(args) = args else { return Ok(()) };
    check_names(
        args.parameters.iter().map(|p| p.name.as_str()),
        NameRule::ParamOrArtifact,
    )
    .map_err(|e| format!("{prefix}parameters{e}"))?;
    check_names(
        args.artifacts.iter().map(artifact_name),
        NameRule::ParamOrArtifact,
    )
    .map_err(|e| format!("{prefix}artifacts{e}"))?;
    args.parameters
        .iter()
        .try_for_each(|p| check_argument_value(prefix, p))
}

fn check_argument_value(prefix: &str, p: &Parameter) -> Result<(), String> {
    let name = &p.name;
    if p.value.is_none() && p.value_from.is_none() {
        return Err(format!(
            "{prefix}{name}.value or {prefix}{name}.valueFrom is required"
        ));
    }
    if let Some(from) = &p.value_from {
        let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        let has_source = from
            .config_map_key_ref
            .as_ref()
            .is_some_and(|v| !v.is_null())
            || nonempty(&from.event)
            || from.supplied.as_ref().is_some_and(|v| !v.is_null());
        let has_output_source = nonempty(&from.path)
            || nonempty(&from.json_path)
            || nonempty(&from.parameter)
            || nonempty(&from.expression);
        if !has_source || has_output_source {
            return Err(format!(
                "{prefix}{name}.valueFrom only allows: default, configMapKeyRef and supplied"
            ));
        }
    }
    if let Some(allowed) = &p.enum_values {
        if allowed.is_empty() {
            return Err(format!(
                "{prefix}{name}.enum should contain at least one value"
            ));
        }
        let Some(value) = &p.value else {
            return Err(format!("{prefix}{name}.value is required"));
        };
        if !allowed.contains(value) {
            return Err(format!(
                "{prefix}{name}.value should be present in {prefix}{name}.enum list"
            ));
        }
    }
    Ok(())
}

/// Argo's `isParameter`: whether `s` contains a simple `{{a.b-c.d_e}}` reference anywhere
/// (unanchored `{{[-a-zA-Z0-9]+(\.[-a-zA-Z0-9_]+)*}}`).
pub(super) fn is_parameter(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(found) = s.get(from..).and_then(|rest| rest.find("{{")) {
        let start = from + found + 2;
        if parameter_body_at(bytes, start) {
            return true;
        }
        from = from + found + 1;
    }
    false
}

/// Whether `bytes[start..]` begins with `seg(.seg)*}}`, the first segment without `_`.
fn parameter_body_at(bytes: &[u8], start: usize) -> bool {
    let first = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let later = |b: u8| first(b) || b == b'_';
    let mut i = start;
    let run = |i: &mut usize, ok: &dyn Fn(u8) -> bool| {
        let begin = *i;
        while bytes.get(*i).is_some_and(|&b| ok(b)) {
            *i += 1;
        }
        *i > begin
    };
    if !run(&mut i, &first) {
        return false;
    }
    loop {
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'}'), Some(b'}')) => return true,
            (Some(b'.'), _) => {
                i += 1;
                if !run(&mut i, &later) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

pub(super) use crate::naming::dns_label_error;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_follow_argo() {
        for ok in ["a", "A1", "123-NAME", "my-name1-2"] {
            assert!(field_name_errors(ok).is_empty(), "{ok}");
        }
        for bad in ["", "-a", "a_b", "a.b", "é"] {
            assert_eq!(field_name_errors(bad), [FIELD_NAME_ERROR], "{bad}");
        }
        assert_eq!(
            field_name_errors(&"a".repeat(129)),
            ["must be no more than 128 characters"]
        );
    }

    #[test]
    fn param_names_follow_argo() {
        assert_eq!(param_name_error("my_param-1"), None);
        assert_eq!(param_name_error("_"), None);
        assert_eq!(param_name_error("param#1"), Some(PARAM_NAME_ERROR));
        assert_eq!(param_name_error(""), Some(PARAM_NAME_ERROR));
    }

    #[test]
    fn check_names_reports_the_first_problem_with_its_index() {
        assert_eq!(check_names(["a", "b"], NameRule::Field), Ok(()));
        assert_eq!(
            check_names(["a", "", "c"], NameRule::Field),
            Err("[1].name is required".to_string())
        );
        assert_eq!(
            check_names(["a", "a"], NameRule::Field),
            Err("[1].name 'a' is not unique".to_string())
        );
        assert_eq!(
            check_names(["a_b"], NameRule::Field),
            Err(format!("[0].name: 'a_b' is invalid: {FIELD_NAME_ERROR}"))
        );
        assert_eq!(check_names(["a_b"], NameRule::ParamOrArtifact), Ok(()));
    }

    #[test]
    fn is_parameter_matches_argo_regex() {
        for yes in [
            "{{a}}",
            "x {{inputs.parameters.p_1}} y",
            "{{a-b.c_d.e}}",
            "{{ {{a}}",
        ] {
            assert!(is_parameter(yes), "{yes}");
        }
        for no in [
            "a", "{{}}", "{{a_b}}", "{{a.}}", "{{ a }}", "{{a}", "{{=a}}",
        ] {
            assert!(!is_parameter(no), "{no}");
        }
    }

    #[test]
    fn dns_labels() {
        for ok in ["a", "default", "team-1", "1a"] {
            assert_eq!(dns_label_error(ok), None, "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a_b", "a.b"] {
            assert!(dns_label_error(bad).is_some(), "{bad}");
        }
        assert!(dns_label_error(&"a".repeat(64)).is_some());
    }
}
