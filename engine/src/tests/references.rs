//! `templateRef` and `workflowTemplateRef`: templates from WorkflowTemplates and
//! ClusterWorkflowTemplates, as Argo resolves, stores and records them.

use std::sync::Arc;

use super::*;
use crate::ports::FoundTemplate;
use crate::workflow::{
    ClusterWorkflowTemplate, DecodeError, Invalid, Lenient, TemplateRef, WorkflowSpec,
    WorkflowTemplate,
};

/// The WorkflowTemplates of the harness's cluster, by (namespace, name); `None` namespace for
/// ClusterWorkflowTemplates.
#[derive(Debug, Default)]
struct Library(BTreeMap<(Option<String>, String), FoundTemplate>);

impl ports::WorkflowTemplates for Library {
    fn get(&self, namespace: Option<&str>, name: &str) -> Option<FoundTemplate> {
        self.0
            .get(&(namespace.map(str::to_string), name.to_string()))
            .cloned()
    }
}

impl Library {
    fn add(&mut self, namespace: Option<&str>, name: &str, yaml: &str) {
        let spec = spec(yaml);
        let found = match namespace {
            Some(_) => FoundTemplate::Namespaced(Arc::new(Lenient::Valid(WorkflowTemplate {
                metadata: Default::default(),
                spec,
            }))),
            None => FoundTemplate::Cluster(Arc::new(Lenient::Valid(ClusterWorkflowTemplate {
                metadata: Default::default(),
                spec,
            }))),
        };
        self.0
            .insert((namespace.map(str::to_string), name.to_string()), found);
    }
}

fn spec(yaml: &str) -> WorkflowSpec {
    serde_yaml::from_str(yaml).expect("test spec parses")
}

/// A WorkflowTemplate `lib` in `argo` whose `hello` template calls its own `say` (whose name the
/// workflow also has, running another image), and a ClusterWorkflowTemplate `shared`.
fn library() -> Library {
    let mut library = Library::default();
    library.add(
        Some("argo"),
        "lib",
        r#"
podMetadata: {labels: {from: lib}}
templates:
  - name: hello
    inputs: {parameters: [{name: who}]}
    steps:
      - - {name: say, template: say, arguments: {parameters: [{name: who, value: "{{inputs.parameters.who}}"}]}}
  - name: say
    inputs: {parameters: [{name: who}]}
    container: {image: lib-image, command: [echo], args: ["{{inputs.parameters.who}}", "{{workflow.parameters.greeting}}"]}
"#,
    );
    library.add(
        None,
        "shared",
        r#"
templates:
  - name: there
    cluster: cluster-1
    namespace: default
    container: {image: shared-image, command: [echo]}
"#,
    );
    library
}

const CALLER: &str = r#"
spec:
  entrypoint: main
  arguments: {parameters: [{name: greeting, value: hi}]}
  templates:
    - name: main
      steps:
        - - name: call
            templateRef: {name: lib, template: hello}
            arguments: {parameters: [{name: who, value: world}]}
    - name: say
      container: {image: local-image, command: [echo]}
"#;

fn harness(yaml: &str) -> Harness {
    let mut h = Harness::new(yaml);
    h.observed.workflow_templates = Some(Arc::new(library()));
    h
}

#[test]
fn a_template_ref_runs_the_workflow_templates_template_in_its_own_scope() {
    let mut h = harness(CALLER);
    let pods = h.step();
    assert_eq!(pods.len(), 1, "{:#?}", h.wf.status);
    let pod = &pods[0];
    // `say` inside the WorkflowTemplate is the WorkflowTemplate's, not the workflow's.
    let main = &pod["spec"]["containers"][0];
    assert_eq!(main["image"], "lib-image");
    assert_eq!(user_args(pod), ["world", "hi"]);
    // The WorkflowTemplate's podMetadata reaches the pods of its templates (Argo's).
    assert_eq!(pod["metadata"]["labels"]["from"], "lib");
    // Argo's pod name takes the template's own name.
    let name = pod["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("wf-say-"), "{name}");
    // Nodes record the reference as Argo does.
    let call = h.node("call");
    assert_eq!(call.template_name, None);
    assert_eq!(
        call.template_ref,
        Some(TemplateRef {
            name: "lib".into(),
            template: "hello".into(),
            cluster_scope: None
        })
    );
    assert_eq!(call.template_scope.as_deref(), Some("namespaced/lib"));
    assert_eq!(
        h.node("say").template_ref.as_ref().map(|r| r.key()),
        Some("namespaced/lib/say".to_string())
    );
    assert_eq!(h.node("wf").template_name.as_deref(), Some("main"));
    // Both templates it took are stored, as the WorkflowTemplate wrote them.
    let stored = &h.wf.status.as_ref().unwrap().stored_templates;
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        ["namespaced/lib/hello", "namespaced/lib/say"]
    );
    assert_eq!(stored["namespaced/lib/hello"].name, "hello");
    let steps = stored["namespaced/lib/hello"].steps.as_ref().unwrap();
    assert_eq!(steps[0].0[0].template.as_deref(), Some("say"));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
}

#[test]
fn a_running_workflow_keeps_the_templates_it_stored_when_the_library_changes() {
    let mut h = harness(CALLER);
    h.step();
    // The WorkflowTemplate is edited, then deleted: the workflow runs what it started with.
    h.observed.workflow_templates = Some(Arc::new(Library::default()));
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    assert_eq!(
        h.pod_of("say")["spec"]["containers"][0]["image"],
        "lib-image"
    );
}

#[test]
fn a_missing_workflow_template_or_template_fails_the_workflow_as_invalid() {
    for (reference, message) in [
        (
            "{name: nowhere, template: hello}",
            "invalid spec: workflow template nowhere not found",
        ),
        (
            "{name: lib, template: nothing}",
            "invalid spec: template nothing not found in workflow template lib",
        ),
        (
            "{name: lib, template: hello, clusterScope: true}",
            "invalid spec: cluster workflow template lib not found",
        ),
    ] {
        let mut h = harness(&CALLER.replace("{name: lib, template: hello}", reference));
        assert!(h.step().is_empty());
        assert_eq!(h.phase(), Some(WorkflowPhase::Failed), "{reference}");
        assert_eq!(h.message(), Some(message), "{reference}");
    }
}

#[test]
fn a_workflow_template_that_does_not_decode_is_named_in_the_failure() {
    let mut h = harness(CALLER);
    let mut library = library();
    library.0.insert(
        (Some("argo".into()), "lib".into()),
        FoundTemplate::Namespaced(Arc::new(Lenient::Invalid(Box::new(Invalid {
            metadata: Default::default(),
            error: DecodeError {
                path: "spec.templates[0].parallelism".into(),
                problem: "expected i64, found a string".into(),
            },
        })))),
    );
    h.observed.workflow_templates = Some(Arc::new(library));
    assert!(h.step().is_empty());
    assert_eq!(
        h.message(),
        Some(
            "invalid spec: workflow template lib is invalid: spec.templates[0].parallelism: expected i64, found a string"
        )
    );
}

#[test]
fn a_cluster_workflow_template_runs_where_it_says_under_the_workflows_authorization() {
    let yaml = r#"
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: far, templateRef: {name: shared, template: there, clusterScope: true}}
"#;
    // Not allowed into cluster-1: the template's origin grants nothing.
    let mut h = harness(yaml);
    h.config.cluster = Some("cluster-0".into());
    assert!(h.step().is_empty());
    assert_forbidden(&h, "far", "cluster-1", "default");
    let mut h = harness(yaml);
    h.config.cluster = Some("cluster-0".into());
    h.observed.access = Some(Arc::new(super::clusters::Allow(vec![(
        "cluster-0:argo",
        "cluster-1:default",
    )])));
    let pods = h.step();
    assert_eq!(pods.len(), 1);
    assert_eq!(
        h.created_in.values().next(),
        Some(&Some("cluster-1".into()))
    );
    let far = h.node("far");
    assert_eq!(far.template_scope.as_deref(), Some("cluster/shared"));
    assert_eq!(far.cluster.as_deref(), Some("cluster-1"));
}

#[test]
fn a_workflow_template_ref_runs_the_template_with_the_workflows_own_spec_over_it() {
    let mut library = library();
    library.add(
        Some("argo"),
        "whole",
        r#"
entrypoint: main
arguments: {parameters: [{name: greeting, value: hello}, {name: who, value: nobody}]}
templates:
  - name: main
    container: {image: whole-image, command: [echo], args: ["{{workflow.parameters.greeting}}", "{{workflow.parameters.who}}"]}
"#,
    );
    let mut h = Harness::new(
        "spec:\n  workflowTemplateRef: {name: whole}\n  arguments: {parameters: [{name: who, value: me}]}\n",
    );
    h.observed.workflow_templates = Some(Arc::new(library));
    let pods = h.step();
    assert_eq!(pods.len(), 1, "{:#?}", h.wf.status);
    // Parameters merge by name, the workflow's winning.
    assert_eq!(user_args(&pods[0]), ["hello", "me"]);
    let stored = h.wf.status.as_ref().unwrap();
    assert_eq!(
        stored
            .stored_workflow_template_spec
            .as_ref()
            .and_then(|s| s.entrypoint.as_deref()),
        Some("main")
    );
    // Stored: the WorkflowTemplate's deletion does not stop the workflow.
    h.observed.workflow_templates = None;
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
}

#[test]
fn a_workflow_template_ref_with_templates_of_its_own_is_refused_as_argo_does() {
    let mut h = harness(
        "spec:\n  workflowTemplateRef: {name: lib}\n  entrypoint: a\n  templates: [{name: a, suspend: {}}]\n",
    );
    assert!(h.step().is_empty());
    assert_eq!(
        h.message(),
        Some(
            "invalid spec: Templates is invalid field in spec if workflow referred WorkflowTemplate reference"
        )
    );
}

/// The status is the tenant's to write: a stored template it forges is validated and run under
/// the same authorization as any template it could write inline.
#[test]
fn a_forged_stored_template_is_validated_and_authorized_as_an_inline_one() {
    let mut h = harness(CALLER);
    h.config.cluster = Some("cluster-0".into());
    let forged: crate::workflow::Template = serde_yaml::from_str(
        "{name: hello, cluster: cluster-1, namespace: kube-system, container: {image: evil, command: [sh]}}",
    )
    .unwrap();
    let mut status = crate::workflow::WorkflowStatus::default();
    status
        .stored_templates
        .insert("namespaced/lib/hello".into(), forged);
    h.wf.status = Some(status);
    assert!(h.step().is_empty(), "nothing made in kube-system");
    assert_forbidden(&h, "call", "cluster-1", "kube-system");
    // A forged template with no type fails validation, naming it.
    let mut h = harness(CALLER);
    let mut status = crate::workflow::WorkflowStatus::default();
    status.stored_templates.insert(
        "namespaced/lib/hello".into(),
        serde_yaml::from_str("{name: hello}").unwrap(),
    );
    h.wf.status = Some(status);
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert!(
        h.message()
            .unwrap()
            .contains("template 'namespaced/lib/hello' type is unknown"),
        "{:?}",
        h.message()
    );
}

#[test]
fn a_local_template_name_with_a_slash_cannot_pose_as_a_stored_one() {
    let mut h = harness(
        "spec:\n  entrypoint: namespaced/lib/hello\n  templates: [{name: namespaced/lib/hello, container: {image: x, command: [y]}}]\n",
    );
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert_eq!(
        h.message(),
        Some("invalid spec: templates.namespaced/lib/hello: a template's name cannot hold a '/'")
    );
}

#[test]
fn references_are_bounded() {
    // A WorkflowTemplate whose templates call each other in a long chain.
    let mut templates = String::from("templates:\n");
    for i in 0..=crate::references::MAX_REFERENCED {
        templates.push_str(&format!(
            "  - {{name: t{i}, steps: [[{{name: s, template: t{}}}]]}}\n",
            i + 1
        ));
    }
    let mut library = Library::default();
    library.add(Some("argo"), "chain", &templates);
    let mut h = Harness::new(
        "spec:\n  entrypoint: main\n  templates: [{name: main, steps: [[{name: a, templateRef: {name: chain, template: t0}}]]}]\n",
    );
    h.observed.workflow_templates = Some(Arc::new(library));
    assert!(h.step().is_empty());
    assert_eq!(
        h.message(),
        Some("invalid spec: the workflow takes more than 200 templates from WorkflowTemplates")
    );
}

/// A WorkflowTemplate created just before the workflow may reach the controller's cache after
/// it: a new workflow waits a little for what it names before failing.
#[test]
fn a_new_workflow_waits_briefly_for_a_workflow_template_the_cache_has_not_seen() {
    let created = |h: &mut Harness| {
        h.wf.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(h.now));
    };
    let mut h = Harness::new(CALLER);
    created(&mut h);
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), None, "not failed yet");
    assert_eq!(h.requeue_after, Some(Duration::from_secs(1)));
    h.observed.workflow_templates = Some(Arc::new(library()));
    assert_eq!(h.step().len(), 1, "runs once the cache has it");

    let mut h = Harness::new(CALLER);
    created(&mut h);
    h.step();
    h.advance(10);
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert_eq!(
        h.message(),
        Some("invalid spec: workflow template lib not found")
    );
}

/// A step's `onExit` inside a WorkflowTemplate names the WorkflowTemplate's own template; an
/// empty one (Go's zero value) is none.
#[test]
fn exit_handlers_inside_a_workflow_template_are_its_own() {
    let mut library = Library::default();
    library.add(
        Some("argo"),
        "exits",
        r#"
templates:
  - name: main
    steps: [[{name: work, template: work, onExit: cleanup}, {name: quiet, template: work, onExit: ""}]]
  - name: work
    container: {image: work-image, command: [x]}
  - name: cleanup
    container: {image: cleanup-image, command: [x]}
"#,
    );
    let mut h = Harness::new(
        "spec:\n  entrypoint: main\n  templates: [{name: main, steps: [[{name: call, templateRef: {name: exits, template: main}}]]}, {name: cleanup, container: {image: local-image, command: [x]}}]\n",
    );
    h.observed.workflow_templates = Some(Arc::new(library));
    assert_eq!(
        h.run(&succeed),
        WorkflowPhase::Succeeded,
        "{:?}",
        h.message()
    );
    let images: Vec<&str> = h
        .created
        .iter()
        .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap())
        .collect();
    assert_eq!(
        images.iter().filter(|i| **i == "cleanup-image").count(),
        1,
        "{images:?}"
    );
    assert!(!images.contains(&"local-image"), "{images:?}");
}

#[test]
fn a_reference_holding_a_slash_is_refused_not_followed() {
    let mut h = harness(&CALLER.replace(
        "{name: lib, template: hello}",
        "{name: lib, template: hello/../say}",
    ));
    assert!(h.step().is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
    assert!(
        h.message().unwrap().ends_with(
            "templateRef must name a WorkflowTemplate and its template, without '/', and clusterScope must be a boolean"
        ),
        "{:?}",
        h.message()
    );
}

/// `workflowTemplateRef` joins lists by name: long ones too, each name once, the workflow's
/// values winning.
#[test]
fn joined_parameter_lists_keep_each_name_once_with_the_workflows_value() {
    let mut base = String::from("entrypoint: main\narguments:\n  parameters:\n");
    let mut own =
        String::from("spec:\n  workflowTemplateRef: {name: many}\n  arguments:\n    parameters:\n");
    for i in 0..2000 {
        base.push_str(&format!("  - {{name: p{i}, value: base}}\n"));
        own.push_str(&format!("    - {{name: p{}, value: own}}\n", i + 1000));
    }
    base.push_str("templates: [{name: main, container: {image: x, command: [y], args: [\"{{workflow.parameters.p0}}\", \"{{workflow.parameters.p1500}}\", \"{{workflow.parameters.p2500}}\"]}}]\n");
    let mut library = Library::default();
    library.add(Some("argo"), "many", &base);
    let mut h = Harness::new(&own);
    h.observed.workflow_templates = Some(Arc::new(library));
    let pods = h.step();
    assert_eq!(pods.len(), 1, "{:?}", h.message());
    assert_eq!(user_args(&pods[0]), ["base", "own", "own"]);
}
