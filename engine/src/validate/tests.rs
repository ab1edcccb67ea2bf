//! Fixtures shaped like Argo's examples validate; each broken variant fails with Argo's message.

mod compatibility;
mod errors;
mod fixtures;
mod warnings;

use super::{Validated, validate};
use crate::workflow::{Workflow, WorkflowSpec};

/// A workflow from the YAML of its `spec`.
fn workflow(spec_yaml: &str) -> Workflow {
    let spec: WorkflowSpec = serde_yaml::from_str(spec_yaml).expect("test YAML is a WorkflowSpec");
    Workflow::new("test", spec)
}

/// The controller's evaluator, run natively.
fn native_expressions() -> Option<crate::template::Evaluator> {
    Some(crate::template::Evaluator::new(std::sync::Arc::new(
        crate::tests::NativeExpressions,
    )))
}

fn check(spec_yaml: &str) -> Result<Validated, String> {
    validate(&workflow(spec_yaml), native_expressions().as_ref()).map_err(|e| e.0)
}

/// Templates the error cases call, so each case only writes the template it breaks.
const LIBRARY: &str = r#"
- name: hello
  container: {image: alpine}
- name: echo
  inputs: {parameters: [{name: message}]}
  container: {image: alpine, args: ["{{inputs.parameters.message}}"]}
- name: gen
  script: {image: python, source: "print(1)"}
  outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
"#;

/// The spec of a workflow whose entrypoint is `main`, with the template fields `body` (YAML,
/// any indentation), followed by [`LIBRARY`]. Lines of `body` from the first `- name:` at its
/// outer level on are further templates.
fn main_with(body: &str) -> String {
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    let indent = lines
        .iter()
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::from("entrypoint: main\ntemplates:\n- name: main\n");
    let mut in_main = true;
    for l in lines {
        let l = &l[indent..];
        in_main &= !l.starts_with("- name:");
        if in_main {
            out.push_str("  ");
        }
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(LIBRARY);
    out
}

#[test]
fn main_with_builds_the_expected_spec() {
    let spec = workflow(&main_with(
        "  steps:\n  - - {name: a, template: x}\n  - name: x\n    suspend: {}",
    ))
    .spec;
    assert_eq!(spec.entrypoint.as_deref(), Some("main"));
    let names: Vec<&str> = spec.templates.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["main", "x", "hello", "echo", "gen"]);
    assert!(spec.templates[0].steps.is_some());
}
