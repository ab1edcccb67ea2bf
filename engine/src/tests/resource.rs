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
        serde_json::json!(["/bin/flotilla-executor", "resource"])
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

/// What the controller's authorizer (Casbin, the default model: `r.sub == r.obj ||
/// keyMatch(r.sub, p.sub) && keyMatch(r.obj, p.obj)`) decides for `policy`'s `p, SUB, OBJ`
/// lines. The engine has no Casbin; `flotilla::authz`'s tests hold Casbin to the same answers
/// (`only_a_whole_cluster_line_grants_cluster_scoped_objects`).
fn policy(policy: &str) -> std::sync::Arc<dyn Access> {
    let lines = policy
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            assert!(
                fields.len() == 3 && fields[0] == "p",
                "a policy line: {line:?}"
            );
            (fields[1].to_owned(), fields[2].to_owned())
        })
        .collect();
    std::sync::Arc::new(DefaultModel(lines))
}

#[derive(Debug)]
struct DefaultModel(Vec<(String, String)>);

impl Access for DefaultModel {
    fn allows(&self, subject: &str, object: &str) -> bool {
        // Casbin's keyMatch: a `*` matches any suffix.
        let key_match = |key: &str, pattern: &str| match pattern.find('*') {
            Some(star) => key.starts_with(&pattern[..star]),
            None => key == pattern,
        };
        subject == object
            || self
                .0
                .iter()
                .any(|(sub, obj)| key_match(subject, sub) && key_match(object, obj))
    }
}

/// A workflow in namespace `argo` of cluster-0 whose one resource template creates `manifest`
/// (the template runs where `placement` says: extra template fields such as `cluster:`).
fn making(placement: &str, manifest: &str, policy_csv: &str) -> Harness {
    let indented: String = manifest.lines().map(|l| format!("        {l}\n")).collect();
    let mut h = Harness::new(&format!(
        r#"
spec:
  entrypoint: make
  arguments: {{parameters: [{{name: ns, value: victim}}, {{name: broken, value: 'a"b'}}]}}
  templates:
  - name: make
    {placement}
    resource:
      action: create
      manifest: |
{indented}"#
    ));
    h.config.cluster = Some("cluster-0".into());
    h.observed.access = Some(policy(policy_csv));
    h
}

/// The target the pod carries for its executor.
fn target_of(pod: &Value) -> crate::resource_target::ResourceTarget {
    let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
    let value = env
        .iter()
        .find(|e| e["name"] == crate::resource_target::ENV)
        .expect("the pod carries its target")["value"]
        .as_str()
        .unwrap()
        .to_string();
    crate::resource_target::ResourceTarget::from_env(Some(&value)).unwrap()
}

/// The one pod a reconcile creates, or the node's failure when it creates none.
fn one_pod(h: &mut Harness) -> Result<Value, (NodePhase, String)> {
    let mut pods = h.step();
    match pods.len() {
        1 => Ok(pods.remove(0)),
        0 => {
            let node = h.node("wf");
            Err((node.phase, node.message.clone().unwrap_or_default()))
        }
        n => panic!("{n} pods"),
    }
}

const CONFIG_MAP_IN_VICTIM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loot, namespace: victim}";
const CLUSTER_ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: root}\nrules: []";

#[test]
fn a_manifest_in_its_own_namespace_needs_no_policy_and_carries_it_as_its_target() {
    let mut h = making(
        "",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}",
        "",
    );
    let pod = one_pod(&mut h).unwrap();
    let target = target_of(&pod);
    assert_eq!(target.cluster, "cluster-0");
    assert_eq!(target.namespace, "argo", "the pod's namespace by default");
    assert!(!target.cluster_scoped);
}

#[test]
fn a_manifest_in_another_namespace_is_refused_without_a_policy_line_before_any_pod() {
    let mut h = making(
        "",
        CONFIG_MAP_IN_VICTIM,
        "p, cluster-0:argo, cluster-1:victim",
    );
    let (phase, message) = one_pod(&mut h).unwrap_err();
    assert_eq!(phase, NodePhase::Failed);
    assert_eq!(
        message,
        r#"template "make": resource ConfigMap "loot": namespace "argo" is forbidden from creating resources in cluster "cluster-0" namespace "victim""#
    );
    assert!(h.created.is_empty());
    assert_eq!(h.phase(), Some(WorkflowPhase::Failed));
}

#[test]
fn a_manifest_in_a_granted_namespace_is_allowed_and_only_there() {
    let mut h = making(
        "",
        CONFIG_MAP_IN_VICTIM,
        "p, cluster-0:argo, cluster-0:victim",
    );
    let pod = one_pod(&mut h).unwrap();
    // The pod runs in the workflow's namespace; its manifest may act in `victim` only.
    assert_eq!(pod["metadata"]["namespace"], "argo");
    let target = target_of(&pod);
    assert_eq!(target.namespace, "victim");
    assert!(!target.cluster_scoped);
}

#[test]
fn a_parameterised_namespace_is_authorized_after_substitution() {
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loot, namespace: \"{{workflow.parameters.ns}}\"}";
    let mut h = making("", manifest, "p, cluster-0:argo, cluster-0:other");
    let (phase, message) = one_pod(&mut h).unwrap_err();
    assert_eq!(phase, NodePhase::Failed);
    assert!(
        message.ends_with(r#"in cluster "cluster-0" namespace "victim""#),
        "{message}"
    );
    let mut h = making("", manifest, "p, cluster-0:argo, cluster-0:victim");
    assert_eq!(target_of(&one_pod(&mut h).unwrap()).namespace, "victim");
}

#[test]
fn a_namespace_that_is_not_a_dns_label_is_an_error_naming_it() {
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: \"Team_A\"}";
    let mut h = making("", manifest, "p, cluster-0:argo, *");
    let (phase, message) = one_pod(&mut h).unwrap_err();
    assert_eq!(phase, NodePhase::Error);
    assert!(
        message.starts_with(
            r#"template "make": resource manifest: metadata.namespace "Team_A" is invalid: a lowercase RFC 1123 label"#
        ),
        "{message}"
    );
}

#[test]
fn an_unreadable_manifest_is_an_error_that_does_not_quote_it() {
    // Valid as written; not once its parameter is substituted.
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {token: c2VjcmV0, x: \"{{workflow.parameters.broken}}\"}";
    let mut h = making("", manifest, "");
    let (phase, message) = one_pod(&mut h).unwrap_err();
    assert_eq!(phase, NodePhase::Error);
    assert!(
        message.starts_with(r#"template "make": resource manifest: not valid YAML"#),
        "{message}"
    );
    assert!(!message.contains("c2VjcmV0"));
}

#[test]
fn a_cluster_scoped_kind_needs_the_whole_cluster_in_the_policy() {
    // Every namespace by name, or by prefix, is not the cluster.
    for lines in [
        "p, cluster-0:argo, cluster-0:argo\np, cluster-0:argo, cluster-0:default",
        "p, cluster-0:argo, cluster-0:team-*",
        "p, cluster-0:argo, cluster-1:*",
    ] {
        let mut h = making("", CLUSTER_ROLE, lines);
        let (phase, message) = one_pod(&mut h).unwrap_err();
        assert_eq!(phase, NodePhase::Failed, "{lines}");
        assert_eq!(
            message,
            r#"template "make": resource ClusterRole "root": namespace "argo" is forbidden from creating cluster-scoped resources in cluster "cluster-0" (that needs policy object "cluster-0:*")"#
        );
        assert!(h.created.is_empty());
    }
    let mut h = making("", CLUSTER_ROLE, "p, cluster-0:argo, cluster-0:*");
    let target = target_of(&one_pod(&mut h).unwrap());
    assert!(target.cluster_scoped);
    assert_eq!(
        target.namespace, "argo",
        "a namespaced answer may use the pod's only"
    );
}

#[test]
fn a_remote_template_is_authorized_in_its_own_cluster() {
    let placement = "cluster: cluster-1\n    namespace: default";
    // The pod may run in cluster-1's default namespace; its ClusterRole needs cluster-1:*.
    let mut h = making(
        placement,
        CLUSTER_ROLE,
        "p, cluster-0:argo, cluster-1:default",
    );
    let (_, message) = one_pod(&mut h).unwrap_err();
    assert!(
        message.contains(r#"in cluster "cluster-1" (that needs policy object "cluster-1:*")"#),
        "{message}"
    );
    let mut h = making(
        placement,
        CLUSTER_ROLE,
        "p, cluster-0:argo, cluster-1:default\np, cluster-0:argo, cluster-1:*",
    );
    let pod = one_pod(&mut h).unwrap();
    assert_eq!(h.created_in["wf"].as_deref(), Some("cluster-1"));
    assert_eq!(target_of(&pod).cluster, "cluster-1");
    // A namespaced object in cluster-1 defaults to the pod's namespace there.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}";
    let mut h = making(placement, cm, "p, cluster-0:argo, cluster-1:default");
    let target = target_of(&one_pod(&mut h).unwrap());
    assert_eq!(
        (target.cluster.as_str(), target.namespace.as_str()),
        ("cluster-1", "default")
    );
    assert!(!target.cluster_scoped);
}

#[test]
fn a_custom_kind_is_authorized_as_namespaced_and_told_whether_the_cluster_is_granted() {
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}";
    let mut h = making("", widget, "");
    let target = target_of(&one_pod(&mut h).unwrap());
    assert_eq!(target.namespace, "argo");
    assert!(
        !target.cluster_scoped,
        "the executor refuses it if discovery says cluster-scoped"
    );
    let mut h = making("", widget, "p, cluster-0:argo, cluster-0:*");
    assert!(target_of(&one_pod(&mut h).unwrap()).cluster_scoped);
}

/// A manifest that only becomes an alias bomb once substituted (so validation cannot see it):
/// nested anchors that expand to 10^10 scalars from under a kilobyte. The node fails before the
/// controller expands it.
#[test]
fn a_manifest_that_expands_past_the_yaml_budget_fails_its_node() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..10 {
        let row = vec![format!("*l{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("  l{level}: &l{level} [{row}]\n"));
    }
    let spec = serde_json::json!({"entrypoint": "make",
        "arguments": {"parameters": [{"name": "m", "value": bomb}]},
        "templates": [{"name": "make", "resource": {"action": "create",
            "manifest": "{{workflow.parameters.m}}"}}]});
    let mut h = Harness::new(&format!("spec: {spec}"));
    let (phase, message) = one_pod(&mut h).expect_err("no pod for a bomb");
    assert_eq!(phase, NodePhase::Error);
    assert!(
        message.starts_with(
            "template \"make\": resource manifest: it expands beyond what one document may hold ("
        ),
        "{message}"
    );
}
