//! Each broken workflow fails with the message Argo gives (or Flotilla's, for its own checks).

use super::{check, main_with};

/// `(case, spec YAML, expected message)`.
fn assert_errors(cases: &[(&str, String, &str)]) {
    for (case, spec, expected) in cases {
        assert_eq!(check(spec).map(|_| ()), Err(expected.to_string()), "{case}");
    }
}

#[test]
fn workflow_level_errors() {
    let s = |y: &str| y.to_string();
    assert_errors(&[
        (
            "no entrypoint",
            s("templates: [{name: hello, container: {image: alpine}}]"),
            "spec.entrypoint is required",
        ),
        (
            "entrypoint undefined",
            s("entrypoint: nope\ntemplates: [{name: hello, container: {image: alpine}}]"),
            "template name 'nope' undefined",
        ),
        (
            "duplicate template",
            s("entrypoint: a\ntemplates: [{name: a, suspend: {}}, {name: a, suspend: {}}]"),
            "spec.templates[1].name 'a' is not unique",
        ),
        (
            "invalid template name",
            s("entrypoint: hello_world\ntemplates: [{name: hello_world, suspend: {}}]"),
            "spec.templates[0].name: 'hello_world' is invalid: name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character (e.g. My-name1-2, 123-NAME)",
        ),
        (
            "argument without value",
            s(
                "entrypoint: a\narguments: {parameters: [{name: p}]}\ntemplates: [{name: a, suspend: {}}]",
            ),
            "spec.arguments.p.value or spec.arguments.p.valueFrom is required",
        ),
        (
            "argument name",
            s(
                "entrypoint: a\narguments: {parameters: [{name: 'param#1', value: x}]}\ntemplates: [{name: a, suspend: {}}]",
            ),
            "spec.arguments.parameters[0].name: 'param#1' is invalid: Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1",
        ),
        (
            "argument outside its enum",
            s(
                "entrypoint: a\narguments: {parameters: [{name: p, value: c, enum: [a, b]}]}\ntemplates: [{name: a, suspend: {}}]",
            ),
            "spec.arguments.p.value should be present in spec.arguments.p.enum list",
        ),
        (
            "entrypoint input not supplied",
            s(
                "entrypoint: echo\ntemplates: [{name: echo, inputs: {parameters: [{name: message}]}, container: {image: alpine}}]",
            ),
            "templates.echo inputs.parameters.message was not supplied",
        ),
        (
            "podGC",
            s("entrypoint: a\npodGC: {strategy: Sometimes}\ntemplates: [{name: a, suspend: {}}]"),
            "podGC.strategy unknown strategy 'Sometimes'",
        ),
        (
            "a workflowTemplateRef left after resolution (a WorkflowTemplate's own)",
            s("workflowTemplateRef: {name: wt}"),
            "spec.workflowTemplateRef: a WorkflowTemplate run by reference cannot itself refer to one",
        ),
        (
            "unused template is validated too",
            s(
                "entrypoint: a\ntemplates: [{name: a, suspend: {}}, {name: b, container: {command: [x]}}]",
            ),
            "templates.b templates.b.container.image may not be empty",
        ),
        (
            "onExit undefined",
            s("entrypoint: a\nonExit: nope\ntemplates: [{name: a, suspend: {}}]"),
            "template name 'nope' undefined",
        ),
    ]);
}

#[test]
fn template_errors() {
    let m = main_with;
    assert_errors(&[
        (
            "no type",
            m("inputs: {}"),
            "template 'main' type is unknown",
        ),
        (
            "two types",
            m("container: {image: a}\nsuspend: {}"),
            "templates.main multiple template types specified. choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref",
        ),
        (
            "undefined input reference",
            m("container: {image: alpine, args: ['{{inputs.parameters.nope}}']}"),
            "templates.main: failed to resolve {{inputs.parameters.nope}}",
        ),
        (
            "retry policy",
            m("retryStrategy: {retryPolicy: Sometimes}\ncontainer: {image: a}"),
            "Sometimes is not a valid RetryPolicy",
        ),
        (
            "timeout on steps",
            m("timeout: 1m\nsteps: [[{name: a, template: hello}]]"),
            "Steps template doesn't support timeout field.",
        ),
        (
            "timeout without unit",
            m("timeout: '30'\ncontainer: {image: a}"),
            "main has invalid duration format in timeout.",
        ),
        (
            "parallelism on a leaf",
            m("parallelism: 2\ncontainer: {image: a}"),
            "templates.main.parallelism is only valid for steps and dag templates",
        ),
        (
            "activeDeadlineSeconds on steps",
            m("activeDeadlineSeconds: 10\nsteps: [[{name: a, template: hello}]]"),
            "templates.main.activeDeadlineSeconds is only valid for leaf templates",
        ),
        (
            "output parameter without source",
            m("container: {image: a}\noutputs: {parameters: [{name: p}]}"),
            "templates.main.outputs.parameters.p does not have valueFrom or value specified",
        ),
        (
            "container output without path",
            m(
                "container: {image: a}\noutputs: {parameters: [{name: p, valueFrom: {jsonPath: '{.a}'}}]}",
            ),
            "templates.main.outputs.parameters.p.path must be specified for Container templates",
        ),
        (
            "resource output without jsonPath",
            m(
                "resource: {action: get, manifest: 'kind: Pod'}\noutputs: {parameters: [{name: p, valueFrom: {path: /p}}]}",
            ),
            "templates.main.outputs.parameters.p .jqFilter or jsonPath must be specified for Resource templates",
        ),
        (
            "output reading an undefined step",
            m(
                "steps: [[{name: a, template: gen}]]\noutputs: {parameters: [{name: p, valueFrom: {parameter: '{{steps.b.outputs.parameters.p}}'}}]}",
            ),
            "templates.main.outputs failed to resolve {{steps.b.outputs.parameters.p}}",
        ),
        (
            "resource action",
            m("resource: {action: explode, manifest: 'kind: Pod'}"),
            "templates.main.resource.action must be one of: get, create, apply, delete, replace, patch",
        ),
        (
            "resource manifest missing",
            m("resource: {action: create}"),
            "either templates.main.resource.manifest or templates.main.resource.manifestFrom must be specified",
        ),
        (
            "resource manifest not YAML",
            m("resource: {action: apply, manifest: \"kind: [Pod\"}"),
            "templates.main.resource.manifest must be a valid yaml",
        ),
    ]);
}

#[test]
fn steps_errors() {
    let m = main_with;
    assert_errors(&[
        (
            "undefined template",
            m("steps: [[{name: hello, template: nope}]]"),
            "templates.main.steps[0].hello template name 'nope' undefined",
        ),
        (
            "undefined exit hook (Flotilla's check)",
            m("steps: [[{name: hello, template: hello, onExit: nope}]]"),
            "templates.main.steps[0].hello.onExit template name 'nope' undefined",
        ),
        (
            "duplicate step",
            m("steps: [[{name: a, template: hello}], [{name: a, template: hello}]]"),
            "templates.main.steps[1].name 'a' is not unique",
        ),
        (
            "input not supplied",
            m("steps: [[{name: a, template: echo}]]"),
            "templates.main.steps[0].a templates.echo inputs.parameters.message was not supplied",
        ),
        (
            "two loops",
            m("steps: [[{name: a, template: hello, withItems: [1], withParam: '[1]'}]]"),
            "templates.main.steps[0].a only one of withItems, withParam, withSequence can be specified",
        ),
        (
            "sequence with count and end",
            m("steps: [[{name: a, template: hello, withSequence: {count: 2, end: 3}}]]"),
            "templates.main.steps[0].a only one of count or end can be defined in withSequence",
        ),
        (
            "reference to an undefined step",
            m(
                "steps: [[{name: a, template: echo, arguments: {parameters: [{name: message, value: '{{steps.nope.outputs.result}}'}]}}]]",
            ),
            "templates.main.steps failed to resolve {{steps.nope.outputs.result}}",
        ),
        (
            "reference to a later step",
            m(
                "steps:\n- - {name: a, template: echo, arguments: {parameters: [{name: message, value: '{{steps.b.status}}'}]}}\n- - {name: b, template: hello}",
            ),
            "templates.main.steps failed to resolve {{steps.b.status}}",
        ),
        (
            "argument without value",
            m("steps: [[{name: a, template: echo, arguments: {parameters: [{name: message}]}}]]"),
            "templates.main.steps[0].a.arguments.message.value or templates.main.steps[0].a.arguments.message.valueFrom is required",
        ),
        (
            "templateRef and template",
            m("steps: [[{name: a, template: hello, templateRef: {name: wt, template: t}}]]"),
            "templates.main.steps[0].a template name cannot be specified with templateRef.",
        ),
        (
            "templateRef left unresolved",
            m("steps: [[{name: a, templateRef: {name: wt, template: t, clusterScope: \"yes\"}}]]"),
            "templates.main.steps[0].a templateRef must name a WorkflowTemplate and its template, without '/', and clusterScope must be a boolean",
        ),
    ]);
}

#[test]
fn dag_errors() {
    let m = main_with;
    assert_errors(&[
        (
            "no tasks",
            m("dag: {tasks: []}"),
            "templates.main must have at least one task",
        ),
        (
            "undefined exit hook (Flotilla's check)",
            m("dag: {tasks: [{name: a, template: hello, onExit: nope}]}"),
            "templates.main.tasks.a.onExit template name 'nope' undefined",
        ),
        (
            "undefined template",
            m("dag: {tasks: [{name: a, template: nope}]}"),
            "templates.main.tasks.a template name 'nope' undefined",
        ),
        (
            "duplicate task",
            m("dag: {tasks: [{name: a, template: hello}, {name: a, template: hello}]}"),
            "templates.main sorting failed: duplicated nodeName a",
        ),
        (
            "unknown dependency",
            m("dag: {tasks: [{name: a, template: hello, dependencies: [nope]}]}"),
            "templates.main sorting failed: invalid dependency nope",
        ),
        (
            "unknown depends",
            m(
                "dag: {tasks: [{name: a, template: hello}, {name: b, template: hello, depends: 'a && nope.Failed'}]}",
            ),
            "templates.main sorting failed: invalid dependency nope",
        ),
        (
            "cycle",
            m(
                "dag: {tasks: [{name: a, template: hello, depends: b}, {name: b, template: hello, depends: a}]}",
            ),
            "templates.main sorting failed: graph with cycle",
        ),
        (
            "depends and dependencies",
            m(
                "dag: {tasks: [{name: a, template: hello}, {name: b, template: hello, depends: a, dependencies: [a]}]}",
            ),
            "templates.main cannot use both 'depends' and 'dependencies' in the same DAG template",
        ),
        (
            "continueOn with depends",
            m(
                "dag: {tasks: [{name: a, template: hello, continueOn: {failed: true}}, {name: b, template: hello, depends: a}]}",
            ),
            "templates.main cannot use 'continueOn' when using 'depends'. Instead use 'dep-task.Failed'/'dep-task.Errored'",
        ),
        (
            "leading digit",
            m(
                "dag: {tasks: [{name: 1a, template: hello}, {name: b, template: hello, depends: 1a}]}",
            ),
            "templates.main.tasks.1a name cannot begin with a digit when using either 'depends' or 'dependencies'",
        ),
        (
            "invalid task result",
            m(
                "dag: {tasks: [{name: a, template: hello}, {name: b, template: hello, depends: a.Finished}]}",
            ),
            "templates.main.tasks.b task result 'Finished' for task 'a' is invalid",
        ),
        (
            "items result without items",
            m(
                "dag: {tasks: [{name: a, template: hello}, {name: b, template: hello, depends: a.AnySucceeded}]}",
            ),
            "templates.main.tasks.b dependency 'a' uses an items-based condition such as .AnySucceeded or .AllFailed but does not contain any items",
        ),
        (
            "argument from a task that is not a dependency",
            m(
                "dag: {tasks: [{name: a, template: gen}, {name: b, template: echo, arguments: {parameters: [{name: message, value: '{{tasks.a.outputs.parameters.p}}'}]}}]}",
            ),
            "templates.main.tasks.b missing dependency 'a' for parameter 'message'",
        ),
        (
            "status of a task that is not an ancestor",
            m(
                "dag: {tasks: [{name: a, template: hello}, {name: b, template: echo, arguments: {parameters: [{name: message, value: 'x {{tasks.a.status}}'}]}}]}",
            ),
            "templates.main.tasks.b failed to resolve {{tasks.a.status}}",
        ),
        (
            "input not supplied",
            m("dag: {tasks: [{name: a, template: echo}]}"),
            "templates.main.tasks.a templates.echo inputs.parameters.message was not supplied",
        ),
        (
            "two loops",
            m(
                "dag: {tasks: [{name: a, template: hello, withItems: [1], withSequence: {count: 1}}]}",
            ),
            "templates.main.tasks.a only one of withItems, withParam, withSequence can be specified",
        ),
        (
            "target",
            m("dag: {target: nope, tasks: [{name: a, template: hello}]}"),
            "templates.main.targets: target 'nope' is not defined",
        ),
        (
            "nested DAG problem keeps the path",
            m(
                "dag: {tasks: [{name: a, template: inner}]}\n- name: inner\n  dag: {tasks: [{name: x, template: nope}]}",
            ),
            "templates.main.tasks.a templates.inner.tasks.x template name 'nope' undefined",
        ),
    ]);
}

#[test]
fn flotilla_errors() {
    let m = main_with;
    assert_errors(&[
        (
            "cluster spellings disagree",
            m("cluster: a\nclusterName: b\ncontainer: {image: alpine}"),
            r#"templates.main: cluster "a" and clusterName "b" disagree; set one"#,
        ),
        (
            "namespace",
            m("namespace: Team_A\ncontainer: {image: alpine}"),
            r#"templates.main.namespace "Team_A" is invalid: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"#,
        ),
        (
            "retry limit",
            m("retryStrategy: {limit: lots}\ncontainer: {image: alpine}"),
            r#"templates.main.retryStrategy.limit "lots" must be a non-negative integer or a {{...}} reference"#,
        ),
        (
            "negative retry limit",
            m("retryStrategy: {limit: -1}\ncontainer: {image: alpine}"),
            r#"templates.main.retryStrategy.limit "-1" must be a non-negative integer or a {{...}} reference"#,
        ),
        (
            "containerSet reachable",
            m(
                "steps: [[{name: a, template: cs}]]\n- name: cs\n  containerSet: {containers: [{name: main, image: alpine}]}",
            ),
            "templates.cs: containerSet templates are not supported by Flotilla",
        ),
        (
            "http entrypoint",
            m("http: {url: 'https://example.com'}"),
            "templates.main: http templates are not supported by Flotilla",
        ),
    ]);
}
