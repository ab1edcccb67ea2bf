//! Containers run through the executor: the pod's identity, image entrypoints, sidecars and
//! the controller ConfigMap's `images` setting.

use super::*;

#[test]
fn main_runs_through_the_executor_with_its_identity() {
    let mut h = Harness::new(HELLO);
    let pods = h.step();
    let pod = &pods[0];
    let main = &pod["spec"]["containers"][0];
    let command: Vec<&str> = main["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // As Argo's emissary: the executor goes in front of the image's entrypoint; the args stay.
    assert_eq!(
        command,
        ["/var/run/argo/flotilla-executor", "run", "--", "/argosay"]
    );
    assert_eq!(main["args"], serde_json::json!(["echo", "hello"]));
    let init = &pod["spec"]["initContainers"][0];
    assert_eq!(init["command"][1], "install");
    assert_eq!(init["volumeMounts"][0]["mountPath"], "/var/run/argo");
    assert!(
        pod["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "var-run-argo" && v["emptyDir"].is_object())
    );
    let env = main["env"].as_array().unwrap();
    let field = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
    };
    assert_eq!(
        field("ARGO_POD_NAMESPACE"),
        Some(serde_json::json!("metadata.namespace"))
    );
    assert_eq!(
        field("ARGO_POD_UID"),
        Some(serde_json::json!("metadata.uid"))
    );
    assert!(env.iter().any(|e| e["name"] == "ARGO_TEMPLATE"));
}

#[test]
fn an_image_without_a_known_entrypoint_needs_a_command() {
    let mut h = Harness::new(&main_spec(
        r#"
      container: {image: example.com/tool:1.0, args: [run]}
"#,
    ));
    h.step();
    let message = h.node("wf").message.clone().unwrap_or_default();
    assert!(
        message.contains("container.command is required for image \"example.com/tool:1.0\""),
        "{message}"
    );
    assert!(h.created.is_empty());
}

/// Argo's `sidecar` example: each sidecar runs through the executor too, which stops it once
/// main has ended (Argo kills sidecars when main exits), from the volume main's executor shares.
#[test]
fn sidecars_run_through_the_executor_that_stops_them_when_main_ends() {
    let mut h = Harness::new(&main_spec(
        r#"
      container: {image: alpine:3.20, command: [sh, -c], args: ["echo main"]}
      sidecars:
      - {name: influxdb, image: influxdb:1.2, command: [influxd], args: [run]}
      - {name: say, image: argoproj/argosay:v2, args: [sleep, "3600"]}
"#,
    ));
    let pods = h.step();
    let containers = pods[0]["spec"]["containers"].as_array().unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "influxdb", "say"]);
    let executor = "/var/run/argo/flotilla-executor";
    assert_eq!(
        containers[1]["command"],
        serde_json::json!([executor, "sidecar", "--", "influxd"])
    );
    assert_eq!(containers[1]["args"], serde_json::json!(["run"]));
    assert_eq!(
        containers[2]["command"],
        serde_json::json!([executor, "sidecar", "--", "/argosay"])
    );
    for sidecar in &containers[1..] {
        assert_eq!(
            sidecar["volumeMounts"],
            serde_json::json!([{"name": "var-run-argo", "mountPath": "/var/run/argo"}]),
            "{sidecar}"
        );
    }
}

#[test]
fn a_sidecar_image_without_a_known_entrypoint_needs_a_command_naming_the_sidecar() {
    let mut h = Harness::new(&main_spec(
        r#"
      container: {image: argoproj/argosay:v2}
      sidecars: [{name: db, image: example.com/db:1}]
"#,
    ));
    h.step();
    let message = h.node("wf").message.clone().unwrap_or_default();
    assert!(
        message.contains("sidecars[0].command is required for image \"example.com/db:1\""),
        "{message}"
    );
    assert!(h.created.is_empty());
}

/// Argo's `images` setting from the controller's ConfigMap: an image it names needs no
/// `command`, and its entry wins over the engine configuration's.
#[test]
fn the_controller_configmaps_images_give_entrypoints() {
    let mut h = Harness::new(&main_spec(
        "      container: {image: example.com/tool:1.0}\n",
    ));
    let entry = |entrypoint: &str, cmd: &str| crate::ImageEntrypoint {
        entrypoint: vec![entrypoint.to_string()],
        cmd: vec![cmd.to_string()],
    };
    h.config
        .images
        .insert("example.com/tool:1.0".into(), entry("/old", "old"));
    h.observed.images = std::sync::Arc::new(BTreeMap::from([(
        "example.com/tool:1.0".to_string(),
        entry("/tool", "run"),
    )]));
    let pods = h.step();
    let main = &pods[0]["spec"]["containers"][0];
    assert_eq!(main["command"].as_array().unwrap().last().unwrap(), "/tool");
    assert_eq!(user_args(&pods[0]), ["run"]);
}
