//! Resource templates: the executor's pod and the manifest it is given.

use super::*;

#[test]
fn a_resource_template_runs_the_executor_with_its_substituted_manifest() {
    let mut h = Harness::new(
        r#"
spec:
  entrypoint: make
  arguments: {parameters: [{name: size, value: "3"}]}
  serviceAccountName: creator
  templates:
  - name: make
    resource:
      action: create
      setOwnerReference: true
      successCondition: status.succeeded > 0
      manifest: |
        apiVersion: batch/v1
        kind: Job
        metadata: {generateName: "{{workflow.name}}-job-"}
        spec: {completions: {{workflow.parameters.size}}}
    outputs:
      parameters: [{name: job, valueFrom: {jsonPath: "{.metadata.name}"}}]
"#,
    );
    let pods = h.step();
    let [pod] = pods.as_slice() else {
        panic!("one pod: {pods:#?}")
    };
    assert_eq!(h.node("wf").type_, crate::workflow::NodeType::Pod);
    let main = &pod["spec"]["containers"][0];
    assert_eq!(main["image"], EngineConfig::default().executor_image);
    assert_eq!(
        main["command"],
        serde_json::json!(["/bin/flotilla", "executor", "resource"])
    );
    // No wrapped command, so neither the install init container nor its volume.
    assert!(pod["spec"].get("initContainers").is_none());
    assert!(pod["spec"].get("volumes").is_none());
    assert_eq!(pod["spec"]["serviceAccountName"], "creator");
    let env = |name: &str| {
        main["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["value"]
            .clone()
    };
    assert_eq!(env("ARGO_WORKFLOW_UID"), "uid-1");
    let view: Value = serde_json::from_str(env("ARGO_TEMPLATE").as_str().unwrap()).unwrap();
    assert_eq!(view["resource"]["action"], "create");
    assert_eq!(view["resource"]["successCondition"], "status.succeeded > 0");
    let manifest = view["resource"]["manifest"].as_str().unwrap();
    assert!(manifest.contains("generateName: \"wf-job-\""), "{manifest}");
    assert!(manifest.contains("completions: 3"), "{manifest}");
    assert_eq!(view["outputs"]["parameters"][0]["name"], "job");
    // The executor's outputs become the node's, as for any pod.
    let outputs = Outputs {
        parameters: vec![Parameter {
            name: "job".into(),
            value: Some(AnyString("wf-job-x1".into())),
            ..Default::default()
        }],
        ..Default::default()
    };
    h.observe(pod, PodPhase::Succeeded, Some(0), outputs);
    h.step();
    assert_eq!(h.phase(), Some(WorkflowPhase::Succeeded));
    let node = h.node("wf");
    let out = node.outputs.as_ref().unwrap();
    assert_eq!(
        out.parameters[0].value.as_ref().unwrap().as_str(),
        "wf-job-x1"
    );
}
