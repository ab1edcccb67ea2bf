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

#[test]
fn literal_output_values_are_the_nodes_outputs_in_their_declared_order() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - name: make
          template: make
          arguments: {parameters: [{name: colour, value: red}]}
      - - name: use
          template: use
          arguments: {parameters: [{name: got, value: "{{steps.make.outputs.parameters.literal}}"}]}
    - name: make
      inputs: {parameters: [{name: colour}]}
      container: {image: argoproj/argosay:v2, args: [echo, x, /tmp/out]}
      outputs:
        parameters:
        - {name: out, valueFrom: {path: /tmp/out}}
        - {name: literal, value: "{{inputs.parameters.colour}} {{workflow.name}}"}
    - name: use
      inputs: {parameters: [{name: got}]}
      container: {image: argoproj/argosay:v2, args: [echo, "{{inputs.parameters.got}}"]}
"#,
    ));
    assert_eq!(h.run(&echo_outputs), WorkflowPhase::Succeeded);
    let outputs = h.node("make").outputs.clone().unwrap();
    let params: Vec<(&str, &str)> = outputs
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_ref().unwrap().as_str()))
        .collect();
    assert_eq!(params, [("out", "x"), ("literal", "red wf")]);
    let used = h
        .created
        .iter()
        .find(|p| p["metadata"]["annotations"]["workflows.argoproj.io/node-name"] == "wf[1].use")
        .unwrap();
    assert_eq!(user_args(used), ["echo", "red wf"]);
}

/// Argo's `global-outputs` example: a step exports an output with `globalName`, and a later
/// step (started in the same reconcile) and the workflow's status see it.
#[test]
fn global_outputs_reach_later_steps_and_the_workflow_status() {
    let mut h = Harness::new(&main_spec(
        r#"      steps:
      - - {name: make, template: make}
      - - {name: use, template: use}
    - name: make
      container: {image: argoproj/argosay:v2, args: [echo, made, /tmp/out]}
      outputs:
        parameters:
        - {name: out, globalName: made, valueFrom: {path: /tmp/out}}
    - name: use
      container: {image: argoproj/argosay:v2, args: [echo, "{{workflow.outputs.parameters.made}}"]}
"#,
    ));
    let pods = h.step();
    let (phase, code, outputs) = echo_outputs(&pods[0]);
    h.observe(&pods[0], phase, code, outputs);
    let next = h.step();
    let [used] = next.as_slice() else {
        panic!("`use` starts in the reconcile that sees `make` done: {next:#?}")
    };
    assert_eq!(user_args(used), ["echo", "made"]);
    assert_eq!(h.run(&succeed), WorkflowPhase::Succeeded);
    let published = h.wf.status.as_ref().unwrap().outputs.clone().unwrap();
    assert_eq!(published.parameters.len(), 1);
    assert_eq!(published.parameters[0].name, "made");
    assert_eq!(
        published.parameters[0].value.as_ref().unwrap().as_str(),
        "made"
    );
}

#[test]
fn a_forged_status_output_is_replaced_by_what_the_nodes_published() {
    let mut h = Harness::new(&main_spec(
        "      container: {image: argoproj/argosay:v2, args: [echo]}\n",
    ));
    h.step();
    let status = h.wf.status.as_mut().unwrap();
    status.outputs = Some(Outputs {
        parameters: vec![Parameter {
            name: "forged".into(),
            value: Some(AnyString("x".into())),
            ..Default::default()
        }],
        ..Default::default()
    });
    h.step();
    assert_eq!(h.wf.status.as_ref().unwrap().outputs, None);
}

#[test]
fn workflow_variables_argo_derives_from_the_spec_and_the_clock() {
    let mut h = Harness::new(
        r#"
spec:
  entrypoint: main
  priority: 7
  templates:
  - name: main
    container:
      image: argoproj/argosay:v2
      args:
      - echo
      - "{{workflow.mainEntrypoint}} {{workflow.priority}} {{workflow.creationTimestamp}}"
      - "{{workflow.creationTimestamp.Y}}{{workflow.creationTimestamp.m}}{{workflow.creationTimestamp.d}} {{workflow.creationTimestamp.H}}:{{workflow.creationTimestamp.M}} {{workflow.creationTimestamp.s}} {{workflow.creationTimestamp.RFC3339}}"
      - "{{workflow.duration}}"
"#,
    );
    let created: jiff::Timestamp = "2026-03-04T05:06:07Z".parse().unwrap();
    h.wf.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        created,
    ));
    let pods = h.step();
    let args = user_args(&pods[0]);
    assert_eq!(args[1], "main 7 2026-03-04T05:06:07Z");
    assert_eq!(args[2], "20260304 05:06 1772600767 2026-03-04T05:06:07Z");
    // Started in this very reconcile: Argo's "0.000000".
    assert_eq!(args[3], "0.000000");
}

/// Parameter ConfigMaps by (namespace, name).
#[derive(Debug)]
struct ConfigMaps(BTreeMap<(String, String), BTreeMap<String, String>>);

impl crate::ports::ParameterConfigMaps for ConfigMaps {
    fn value(&self, namespace: &str, name: &str, key: &str) -> crate::ports::ConfigMapValue {
        use crate::ports::ConfigMapValue;
        match self.0.get(&(namespace.to_string(), name.to_string())) {
            None => ConfigMapValue::NoConfigMap,
            Some(data) => data
                .get(key)
                .map_or(ConfigMapValue::NoKey, |v| ConfigMapValue::Value(v.clone())),
        }
    }
}

fn with_config_maps(h: &mut Harness) {
    let data = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let maps = BTreeMap::from([
        (
            ("argo".into(), "simple-parameters".into()),
            data(&[("msg", "hello world"), ("other", "next")]),
        ),
        // Another namespace's ConfigMap of the same name is never read.
        (
            ("team-b".into(), "secret-ish".into()),
            data(&[("msg", "team b's")]),
        ),
    ]);
    h.observed.config_maps = Some(std::sync::Arc::new(ConfigMaps(maps)));
}

/// Argo's `arguments-parameters-from-configmap` and `global-parameters-from-configmap`
/// examples, with the name and key of one reference taken from the workflow's parameters.
#[test]
fn parameters_are_read_from_labelled_config_maps_in_the_workflows_namespace() {
    let mut h = Harness::new(&main_spec_with(
        r#"  arguments:
    parameters:
    - name: message
      valueFrom: {configMapKeyRef: {name: simple-parameters, key: msg}}
    - {name: key, value: other}
"#,
        r#"      steps:
      - - name: say
          template: say
          arguments:
            parameters:
            - name: passed
              valueFrom: {configMapKeyRef: {name: simple-parameters, key: msg}}
    - name: say
      inputs:
        parameters:
        - name: passed
        - name: read
          valueFrom: {configMapKeyRef: {name: simple-parameters, key: "{{workflow.parameters.key}}"}}
        - name: fallback
          valueFrom: {configMapKeyRef: {name: simple-parameters, key: absent}, default: dflt}
      container:
        image: argoproj/argosay:v2
        args: [echo, "{{workflow.parameters.message}}|{{inputs.parameters.passed}}|{{inputs.parameters.read}}|{{inputs.parameters.fallback}}"]
"#,
    ));
    with_config_maps(&mut h);
    let pods = h.step();
    assert_eq!(pods.len(), 1, "{:#?}", h.wf.status);
    assert_eq!(
        user_args(&pods[0]),
        ["echo", "hello world|hello world|next|dflt"]
    );
}

#[test]
fn a_missing_config_map_or_key_says_which_with_argos_messages() {
    let input = |key: &str| {
        main_spec(&format!(
            r#"      inputs:
        parameters:
        - name: p
          valueFrom: {{configMapKeyRef: {{name: simple-parameters, key: {key}}}}}
      container: {{image: argoproj/argosay:v2, args: [echo, "{{{{inputs.parameters.p}}}}"]}}
"#
        ))
    };
    let mut h = Harness::new(&input("absent"));
    with_config_maps(&mut h);
    assert!(h.step().is_empty());
    assert_eq!(
        h.node("wf").message.as_deref(),
        Some(
            "unable to retrieve inputs.parameters.p from ConfigMap: ConfigMap 'simple-parameters' does not have the key 'absent'"
        )
    );

    // Another namespace's ConfigMap is not there for this workflow.
    let mut h = Harness::new(&main_spec_with(
        r#"  arguments:
    parameters:
    - name: m
      valueFrom: {configMapKeyRef: {name: secret-ish, key: msg}}
"#,
        "      container: {image: argoproj/argosay:v2, args: [echo]}\n",
    ));
    with_config_maps(&mut h);
    assert!(h.step().is_empty());
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(WorkflowPhase::Error));
    assert_eq!(
        status.message.as_deref(),
        Some(
            "failed to set global parameter m from configmap with name secret-ish and key msg: ConfigMap 'secret-ish' does not exist. Please make sure it has the label workflows.argoproj.io/configmap-type: Parameter to be detectable by the controller"
        )
    );
}

/// The reviewer's attack: literal outputs that substitution makes large are charged to the
/// walk's budget of recorded bytes, so the workflow errors instead of the controller growing.
#[test]
fn literal_outputs_grown_by_substitution_are_bounded() {
    let big = "x".repeat(1024 * 1024);
    let outputs: String = (0..70)
        .map(|i| format!("        - {{name: o{i}, value: \"{{{{inputs.parameters.x}}}}\"}}\n"))
        .collect();
    let mut h = Harness::new(&main_spec_with(
        &format!("  arguments: {{parameters: [{{name: x, value: {big}}}]}}\n"),
        &format!(
            "      inputs: {{parameters: [{{name: x}}]}}\n      container: {{image: argoproj/argosay:v2}}\n      outputs:\n        parameters:\n{outputs}"
        ),
    ));
    assert_eq!(h.run(&succeed), WorkflowPhase::Error);
    let message =
        h.wf.status
            .as_ref()
            .unwrap()
            .message
            .clone()
            .unwrap_or_default();
    assert!(
        message.contains("bytes of input and output values"),
        "{message}"
    );
}

/// A parameter's ConfigMap removed while the workflow runs: the workflow errors naming it, and
/// its running pod is stopped rather than left behind.
#[test]
fn a_config_map_gone_mid_run_errors_the_workflow_and_stops_its_pods() {
    let mut h = Harness::new(&main_spec_with(
        r#"  arguments:
    parameters:
    - name: m
      valueFrom: {configMapKeyRef: {name: simple-parameters, key: msg}}
"#,
        "      container: {image: argoproj/argosay:v2, args: [sleep, \"60\"]}\n",
    ));
    with_config_maps(&mut h);
    let pods = h.step();
    running(&mut h, &pods);
    h.step();
    h.observed.config_maps = None;
    h.step();
    let status = h.wf.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(WorkflowPhase::Error));
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("failed to set global parameter m")),
        "{status:#?}"
    );
    assert!(
        h.others.iter().any(
            |a| matches!(a, PodAction::Delete { name, .. } if *name == pods[0]["metadata"]["name"])
        ),
        "{:#?}",
        h.others
    );
}
