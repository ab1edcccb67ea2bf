//! What Flotilla ignores is reported as warnings, and does not stop the workflow; what would
//! change how it runs is refused.

use super::{check, main_with};

#[test]
fn unsupported_fields_are_warnings() {
    let spec = format!(
        "{}{}",
        r#"
archiveLogs: true
arguments:
  artifacts: [{name: a, raw: {data: x}}]
"#,
        main_with(
            r#"
steps:
- - name: a
    template: gen
- - name: b
    template: gen
    arguments: {artifacts: [{name: x, raw: {data: y}}]}
metrics: {prometheus: []}
- name: unused-http
  http: {url: "https://example.com"}
- name: unused-memoized
  memoize: {key: k, cache: {configMap: {name: c}}}
  podSpecPatch: "{}"
  container: {image: alpine}
"#
        )
    );
    let validated = check(&spec).expect("warnings do not fail validation");
    assert_eq!(
        validated.warnings,
        [
            "spec.archiveLogs is only used by Argo's own tooling and is ignored by Flotilla",
            "spec.arguments.artifacts is not supported by Flotilla and is ignored",
            "templates.main.metrics is only used by Argo's own tooling and is ignored by Flotilla",
            "templates.main.steps[1].b.arguments.artifacts is not supported by Flotilla and is ignored",
            "templates.unused-http.http is not supported by Flotilla; the template is never called, so it is ignored",
            "templates.unused-memoized.memoize is not supported by Flotilla and is ignored",
            "templates.unused-memoized.podSpecPatch is not supported by Flotilla and is ignored",
        ]
    );
}

#[test]
fn artifacts_and_dag_task_fields_are_warnings() {
    let spec = main_with(
        r#"
dag:
  tasks:
  - {name: a, template: art, inline: {container: {image: alpine}}}
- name: art
  inputs: {artifacts: [{name: in, path: /in, raw: {data: x}}]}
  outputs: {artifacts: [{name: out, path: /out}]}
  container: {image: alpine, args: ["{{inputs.artifacts.in.path}}"]}
"#,
    );
    assert_eq!(
        check(&spec).map(|v| v.warnings),
        Ok(vec![
            "templates.main.tasks.a.inline is not supported by Flotilla and is ignored".to_string(),
            "templates.art.inputs.artifacts is not supported by Flotilla and is ignored"
                .to_string(),
            "templates.art.outputs.artifacts is not supported by Flotilla and is ignored"
                .to_string(),
        ])
    );
}

#[test]
fn null_fields_are_not_reported() {
    let spec = format!(
        "hooks: null\n{}",
        main_with("container: {image: alpine}\nmemoize: null")
    );
    assert_eq!(check(&spec).map(|v| v.warnings), Ok(vec![]));
}

/// Issue 13: a field that changes semantics is never a mere warning.
#[test]
fn fields_that_change_how_the_workflow_runs_are_refused_naming_them() {
    let refused = |at: &str| {
        format!(
            "{at} is not supported by Flotilla yet; it changes how the workflow runs, so the workflow is refused rather than run without it"
        )
    };
    let steps = |step_fields: &str| {
        main_with(&format!(
            "steps:\n- - name: a\n    template: leaf\n{step_fields}- name: leaf\n  container: {{image: alpine}}\n"
        ))
    };
    let cases = [
        (
            format!("hooks: {{exit: {{template: main}}}}\n{}", main_with("container: {image: alpine}")),
            refused("spec.hooks"),
        ),
        (
            format!("synchronization: {{mutex: {{name: m}}}}\n{}", main_with("container: {image: alpine}")),
            refused("spec.synchronization"),
        ),
        (
            main_with("container: {image: alpine}\nmemoize: {key: k, cache: {configMap: {name: c}}}"),
            refused("templates.main.memoize"),
        ),
        (
            main_with("container: {image: alpine}\npodSpecPatch: \"{}\""),
            refused("templates.main.podSpecPatch"),
        ),
        (
            steps("    hooks: {running: {expression: \"true\", template: leaf}}\n"),
            refused("templates.main.steps[0].a.hooks"),
        ),
        (
            main_with("container: {image: alpine}\nretryStrategy: {limit: 1, expression: \"nope(lastRetry.status) == {{workflow.name}}\"}"),
            "templates.main.retryStrategy.expression: the expression calls nope(), which Flotilla's expressions do not have".to_string(),
        ),
        (
            main_with("container: {image: alpine, args: [echo, \"{{=sprig.uuidv4()}}\"]}"),
            "templates.main.container.args[1]: {{=sprig.uuidv4()}}: the expression calls sprig.uuidv4(), which Flotilla's expressions do not have".to_string(),
        ),
    ];
    for (spec, message) in cases {
        assert_eq!(check(&spec).map(|v| v.warnings), Err(message), "{spec}");
    }
}
