//! Workflows shaped like Argo's examples (`examples/` in argo-workflows) and Flotilla's own
//! multi-cluster examples: all valid, with no warnings.

use super::{check, native_expressions, workflow};
use crate::validate::validate;
use crate::workflow::Workflow;

const HELLO_WORLD: &str = r#"
entrypoint: whalesay
templates:
- name: whalesay
  container:
    image: docker/whalesay
    command: [cowsay]
    args: ["hello world"]
"#;

const STEPS: &str = r#"
entrypoint: hello-hello-hello
templates:
- name: hello-hello-hello
  steps:
  - - name: hello1
      template: whalesay
      arguments: {parameters: [{name: message, value: hello1}]}
  - - name: hello2a
      template: whalesay
      arguments: {parameters: [{name: message, value: hello2a}]}
    - name: hello2b
      template: whalesay
      arguments: {parameters: [{name: message, value: "{{steps.hello1.status}}"}]}
- name: whalesay
  inputs: {parameters: [{name: message}]}
  container: {image: docker/whalesay, command: [cowsay], args: ["{{inputs.parameters.message}}"]}
"#;

const DAG_DIAMOND: &str = r#"
entrypoint: diamond
templates:
- name: echo
  inputs: {parameters: [{name: message}]}
  container: {image: "alpine:3.7", command: [echo, "{{inputs.parameters.message}}"]}
- name: diamond
  dag:
    tasks:
    - {name: A, template: echo, arguments: {parameters: [{name: message, value: A}]}}
    - {name: B, dependencies: [A], template: echo, arguments: {parameters: [{name: message, value: B}]}}
    - {name: C, dependencies: [A], template: echo, arguments: {parameters: [{name: message, value: "{{tasks.A.status}}"}]}}
    - {name: D, dependencies: [B, C], template: echo, arguments: {parameters: [{name: message, value: "{{tasks.A.id}}"}]}}
"#;

/// Tasks declared before the tasks they depend on, with `depends`, outputs and a target.
const DAG_DEPENDS_OUTPUTS: &str = r#"
entrypoint: main
templates:
- name: main
  dag:
    target: use
    tasks:
    - name: use
      depends: "gen.Succeeded || gen.Failed"
      template: echo
      arguments: {parameters: [{name: message, value: "{{tasks.gen.outputs.parameters.p}}"}]}
    - name: gen
      template: gen
  outputs:
    parameters:
    - name: result
      valueFrom: {parameter: "{{tasks.gen.outputs.result}}"}
- name: gen
  script: {image: python, command: [python], source: "print(1)"}
  outputs: {parameters: [{name: p, globalName: p, valueFrom: {path: /tmp/p}}]}
- name: echo
  inputs: {parameters: [{name: message}]}
  container: {image: alpine, args: ["{{inputs.parameters.message}} {{workflow.outputs.parameters.p}}"]}
"#;

const PARAMETERS: &str = r#"
entrypoint: print-message
arguments:
  parameters:
  - {name: message, value: hello world}
  - {name: count, value: 3}
  - {name: mode, value: fast, enum: [fast, slow]}
templates:
- name: print-message
  inputs:
    parameters:
    - name: message
    - {name: greeting, default: hi}
    - {name: internal, value: "{{workflow.parameters.count}}"}
  container:
    image: busybox
    command: [echo]
    args: ["{{inputs.parameters.message}} {{workflow.parameters.mode}} {{workflow.name}} {{pod.name}}"]
"#;

const LOOPS: &str = r#"
entrypoint: loops
templates:
- name: loops
  steps:
  - - name: gen
      template: gen-list
  - - name: maps
      template: cat-os
      arguments: {parameters: [{name: image, value: "{{item.image}}"}, {name: tag, value: "{{item.tag}}"}]}
      withItems: [{image: debian, tag: "9.1"}, {image: alpine, tag: "3.6"}]
    - name: param
      template: echo
      arguments: {parameters: [{name: message, value: "{{item.name}}"}]}
      withParam: "{{steps.gen.outputs.result}}"
    - name: seq
      template: echo
      arguments: {parameters: [{name: message, value: "{{item}}"}]}
      withSequence: {count: "3"}
  - - name: after
      template: echo
      arguments: {parameters: [{name: message, value: "{{steps.param.outputs.parameters}}"}]}
- name: gen-list
  script:
    image: python:alpine3.6
    command: [python]
    source: |
      import json
      print(json.dumps([{"name": "a"}, {"name": "b"}]))
- name: cat-os
  inputs: {parameters: [{name: image}, {name: tag}]}
  container: {image: "{{inputs.parameters.image}}:{{inputs.parameters.tag}}", command: [cat, /etc/os-release]}
- name: echo
  inputs: {parameters: [{name: message}]}
  container: {image: alpine, args: ["{{inputs.parameters.message}}"]}
"#;

const RETRIES: &str = r#"
entrypoint: main
templates:
- name: main
  steps:
  - - {name: a, template: retry-container}
    - {name: b, template: retry-script, arguments: {parameters: [{name: limit, value: "2"}]}}
- name: retry-container
  retryStrategy: {limit: "10", retryPolicy: Always, backoff: {duration: "1", factor: 2, maxDuration: 1m}}
  activeDeadlineSeconds: 300
  timeout: 5m
  container:
    image: python:alpine3.6
    command: [python, -c]
    args: ["import random; import sys; sys.exit(random.choice([0, 1, 1]))"]
- name: retry-script
  inputs: {parameters: [{name: limit}]}
  retryStrategy: {limit: "{{inputs.parameters.limit}}", retryPolicy: OnError}
  script: {image: alpine, command: [sh], source: "echo {{retries}}"}
"#;

const RESOURCES: &str = r#"
entrypoint: main
templates:
- name: main
  steps:
  - - {name: create, template: pi-tmpl}
  - - name: delete
      template: delete-job
      arguments: {parameters: [{name: job, value: "{{steps.create.outputs.parameters.job-name}}"}]}
- name: pi-tmpl
  resource:
    action: create
    successCondition: status.succeeded > 0
    failureCondition: status.failed > 3
    manifest: |
      apiVersion: batch/v1
      kind: Job
      metadata:
        generateName: pi-job-
        labels: {workflow: {{workflow.name}}}
      spec:
        template:
          spec:
            containers:
            - name: pi
              image: perl
              command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
            restartPolicy: Never
  outputs:
    parameters:
    - {name: job-name, valueFrom: {jsonPath: "{.metadata.name}"}}
    - {name: job-obj, valueFrom: {jqFilter: "."}}
- name: delete-job
  inputs: {parameters: [{name: job}]}
  resource:
    action: delete
    manifest: |
      apiVersion: batch/v1
      kind: Job
      metadata:
        name: {{inputs.parameters.job}}
"#;

/// Recursion, `when`, an exit handler reading `workflow.status`/`failures`, a suspend step.
const COINFLIP_EXIT_HANDLER: &str = r#"
entrypoint: coinflip
onExit: exit-handler
templates:
- name: coinflip
  steps:
  - - {name: flip-coin, template: flip-coin}
  - - {name: heads, template: heads, when: "{{steps.flip-coin.outputs.result}} == heads"}
    - {name: tails, template: coinflip, when: "{{steps.flip-coin.outputs.result}} == tails"}
  - - {name: approve, template: approve}
- name: flip-coin
  script:
    image: python:alpine3.6
    command: [python]
    source: |
      import random
      print("heads" if random.randint(0, 1) == 0 else "tails")
- name: heads
  container: {image: "alpine:3.6", command: [sh, -c], args: ["echo it was heads"]}
- name: approve
  suspend: {duration: "20s"}
- name: exit-handler
  container: {image: alpine, args: ["{{workflow.status}} {{workflow.failures}} {{workflow.duration}}"]}
"#;

fn examples() -> Vec<(&'static str, Workflow)> {
    let file = |yaml: &str| serde_yaml::from_str::<Workflow>(yaml).expect("example is a Workflow");
    vec![
        ("hello-world", workflow(HELLO_WORLD)),
        ("steps", workflow(STEPS)),
        ("dag-diamond", workflow(DAG_DIAMOND)),
        ("dag-depends-outputs", workflow(DAG_DEPENDS_OUTPUTS)),
        ("parameters", workflow(PARAMETERS)),
        ("loops", workflow(LOOPS)),
        ("retries", workflow(RETRIES)),
        ("resources", workflow(RESOURCES)),
        ("coinflip-exit-handler", workflow(COINFLIP_EXIT_HANDLER)),
        (
            "multi-cluster",
            file(include_str!("../../../../examples/multi-cluster.yaml")),
        ),
        (
            "multi-cluster-dag",
            file(include_str!("../../../../examples/multi-cluster-dag.yaml")),
        ),
        (
            "expressions",
            file(include_str!("../../../../examples/expressions.yaml")),
        ),
    ]
}

#[test]
fn argo_examples_validate_and_warn_only_about_what_flotilla_ignores() {
    // Every field these examples use is acted on: none earns a warning.
    for (name, wf) in examples() {
        let validated = validate(&wf, native_expressions().as_ref()).map_err(|e| e.0);
        let Ok(validated) = validated else {
            panic!("{name}: {validated:?}")
        };
        assert_eq!(validated.warnings, Vec::<String>::new(), "{name}");
    }
    let retries = examples()
        .into_iter()
        .find(|(n, _)| *n == "retries")
        .map(|(_, wf)| wf)
        .unwrap();
    assert_eq!(
        validate(&retries, native_expressions().as_ref())
            .unwrap()
            .warnings,
        Vec::<String>::new(),
        "timeout and maxDuration are acted on"
    );
}

#[test]
fn the_later_multi_cluster_spelling_may_repeat_the_earlier() {
    let agreeing = r#"
entrypoint: main
templates:
- {name: main, cluster: c1, clusterName: c1, namespace: "{{workflow.namespace}}", container: {image: alpine}}
"#;
    assert!(check(agreeing).is_ok());
}

/// Every template removed in turn, and every step or task's template renamed, must give an
/// error or pass — never panic.
#[test]
fn damaged_examples_never_panic() {
    for (_, wf) in examples() {
        for i in 0..wf.spec.templates.len() {
            let mut broken = wf.clone();
            broken.spec.templates.remove(i);
            let _ = validate(&broken, native_expressions().as_ref());
            let mut renamed = wf.clone();
            renamed.spec.templates[i].name = String::new();
            let _ = validate(&renamed, native_expressions().as_ref());
            let mut untyped = wf.clone();
            let t = &mut untyped.spec.templates[i];
            (t.container, t.script, t.steps, t.dag) = (None, None, None, None);
            let _ = validate(&untyped, native_expressions().as_ref());
        }
    }
    let _ = validate(
        &Workflow::new("empty", Default::default()),
        native_expressions().as_ref(),
    );
}

/// A chain of templates each calling the next is walked to Argo's depth, then refused.
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let chain = |n: usize| {
        let mut spec = String::from("entrypoint: t0\ntemplates:\n");
        for i in 0..n {
            spec.push_str(&format!(
                "- {{name: t{i}, steps: [[{{name: s, template: t{}}}]]}}\n",
                i + 1
            ));
        }
        spec.push_str(&format!("- {{name: t{n}, container: {{image: alpine}}}}\n"));
        spec
    };
    assert!(check(&chain(50)).is_ok());
    let err = check(&chain(500)).unwrap_err();
    assert!(
        err.ends_with("calls templates nested more than 200 levels deep"),
        "{err}"
    );
}
