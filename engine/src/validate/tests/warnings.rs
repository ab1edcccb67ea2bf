//! What Flotilla ignores is reported as warnings, and does not stop the workflow.

use super::{check, main_with};

#[test]
fn unsupported_fields_are_warnings() {
    let spec = format!(
        "{}{}",
        r#"
hooks: {exit: {template: hello}}
synchronization: {mutex: {name: m}}
archiveLogs: true
arguments:
  artifacts: [{name: a, raw: {data: x}}]
"#,
        main_with(
            r#"
steps:
- - name: a
    template: gen
    hooks: {running: {expression: "true", template: hello}}
- - name: b
    templateRef: {name: wt, template: t}
    arguments: {artifacts: [{name: x, raw: {data: y}}]}
- - name: c
    template: echo
    arguments: {parameters: [{name: message, value: "{{steps.b.outputs.parameters.x}}"}]}
memoize: {key: k, cache: {configMap: {name: c}}}
metrics: {prometheus: []}
podSpecPatch: "{}"
- name: unused-http
  http: {url: "https://example.com"}
"#
        )
    );
    let validated = check(&spec).expect("warnings do not fail validation");
    assert_eq!(
        validated.warnings,
        [
            "spec.archiveLogs is only used by Argo's own tooling and is ignored by Flotilla",
            "spec.hooks is not supported by Flotilla and is ignored",
            "spec.synchronization is not supported by Flotilla and is ignored",
            "spec.arguments.artifacts is not supported by Flotilla and is ignored",
            "templates.main.memoize is not supported by Flotilla and is ignored",
            "templates.main.metrics is only used by Argo's own tooling and is ignored by Flotilla",
            "templates.main.podSpecPatch is not supported by Flotilla and is ignored",
            "templates.main.steps[0].a.hooks is not supported by Flotilla and is ignored",
            "templates.main.steps[1].b.templateRef is not supported by Flotilla and is ignored",
            "templates.main.steps[1].b.arguments.artifacts is not supported by Flotilla and is ignored",
            "templates.unused-http.http is not supported by Flotilla; the template is never called, so it is ignored",
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
