//! Argo's variables where its own workflows use them: the spec's pod settings, resource
//! manifests, inputs from ConfigMaps, outputs and the `workflow.*` globals.

use super::*;

#[test]
fn pod_metadata_and_other_pod_settings_take_the_workflows_variables() {
    let mut h = Harness::new(&main_spec_with(
        r#"  arguments: {parameters: [{name: team, value: blue}]}
  podMetadata:
    labels: {wf: "{{workflow.name}}", team: "{{workflow.parameters.team}}"}
    annotations: {uid: "{{workflow.uid}}", left: "{{not.a.variable}}"}
  nodeSelector: {pool: "{{workflow.parameters.team}}"}
"#,
        "      container: {image: argoproj/argosay:v2}\n",
    ));
    let pods = h.step();
    let meta = &pods[0]["metadata"];
    assert_eq!(meta["labels"]["wf"], "wf");
    assert_eq!(meta["labels"]["team"], "blue");
    assert_eq!(meta["annotations"]["uid"], "uid-1");
    // Argo substitutes globals leniently: what is not a variable stays as written.
    assert_eq!(meta["annotations"]["left"], "{{not.a.variable}}");
    assert_eq!(pods[0]["spec"]["nodeSelector"]["pool"], "blue");
}

#[test]
fn an_unterminated_tag_in_the_pod_settings_fails_the_workflow_naming_the_spec() {
    let mut h = Harness::new(&main_spec_with(
        "  serviceAccountName: \"{{workflow.name\"\n",
        "      container: {image: argoproj/argosay:v2}\n",
    ));
    let pods = h.step();
    assert!(pods.is_empty(), "{pods:#?} {:#?}", h.wf.status);
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(WorkflowPhase::Error), "{status:#?}");
    let message = status.message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("spec: Cannot find end tag"),
        "{message}"
    );
}

#[test]
fn pod_name_is_the_nodes_pod_in_resource_manifests_and_container_args() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - {name: make, template: make}
        - {name: say, template: say}
    - name: make
      resource:
        action: create
        manifest: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: "made-by-{{pod.name}}"}
    - name: say
      container: {image: argoproj/argosay:v2, args: [echo, "{{pod.name}}"]}
"#,
    ));
    let pods = h.step();
    assert_eq!(pods.len(), 2, "{pods:#?}");
    for pod in &pods {
        let name = pod["metadata"]["name"].as_str().unwrap();
        let main = &pod["spec"]["containers"][0];
        let template: Value = serde_json::from_str(
            main["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == "ARGO_TEMPLATE")
                .unwrap()["value"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        match template["name"].as_str() {
            Some("make") => {
                let manifest = template["resource"]["manifest"].as_str().unwrap();
                assert!(
                    manifest.contains(&format!("name: \"made-by-{name}\"")),
                    "{manifest}"
                );
            }
            Some("say") => assert_eq!(main["args"], serde_json::json!(["echo", name])),
            other => panic!("{other:?}"),
        }
    }
}
