//! Flotilla's CRDs, applied with kubectl as a platform engineer would: full Argo YAML applies
//! unchanged and keeps every field; `kubectl get wf` prints Argo's columns.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use flotilla_e2e::{Env, unique, wait_for};

const CRDS: &str = include_str!("../../manifests/base/crds.yaml");

/// An Argo workflow using fields Flotilla does not model (they must survive the round trip).
const RICH_WORKFLOW: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: rich
spec:
  entrypoint: main
  archiveLogs: true
  artifactRepositoryRef: {configMap: my-repo, key: default}
  hooks:
    exit: {template: main}
  templates:
    - name: main
      synchronization: {mutex: {name: m}}
      memoize: {key: "k", cache: {configMap: {name: c}}}
      container:
        image: argoproj/argosay:v2
        args: [echo, hi]
"#;

/// Applies Flotilla's CRDs in cluster-0 with kubectl, waits until they are established, and
/// creates a namespace named from `prefix` (the test deletes it); returns kubectl and the namespace.
fn with_crds(env: &Env, prefix: &str) -> Result<(flotilla_e2e::Kubectl, String)> {
    let k = env.kubectl("cluster-0");
    k.ok_with(&["apply", "-f", "-"], Some(CRDS))?;
    for crd in ["workflows.argoproj.io", "workflowtaskresults.argoproj.io"] {
        k.ok(&[
            "wait",
            "--for=condition=Established",
            &format!("crd/{crd}"),
            "--timeout=60s",
        ])?;
    }
    let ns = unique(prefix);
    k.ok(&["create", "namespace", &ns])?;
    Ok((k, ns))
}

/// Applies `yaml` in `ns` until workflows are served.
async fn apply_once_served(k: &flotilla_e2e::Kubectl, ns: &str, yaml: &str) -> Result<()> {
    wait_for(
        "workflows to be served",
        Duration::from_secs(30),
        || async {
            Ok(k.run(&["-n", ns, "apply", "-f", "-"], Some(yaml))?
                .status
                .success()
                .then_some(()))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_yaml_applies_and_keeps_every_field() -> Result<()> {
    let env = Env::start().await?;
    let (k, ns) = with_crds(&env, "e2e-crds")?;
    apply_once_served(&k, &ns, RICH_WORKFLOW).await?;
    let wf = k.json(&["-n", &ns, "get", "wf", "rich"])?;
    ensure!(
        wf["spec"]["archiveLogs"] == true,
        "unknown spec fields are kept: {wf}"
    );
    ensure!(
        wf["spec"]["templates"][0]["memoize"]["key"] == "k",
        "unknown template fields are kept: {wf}"
    );
    ensure!(wf["spec"]["hooks"]["exit"]["template"] == "main", "{wf}");
    let table = k.ok(&["-n", &ns, "get", "workflows"])?;
    ensure!(
        table.contains("STATUS") && table.contains("AGE") && table.contains("MESSAGE"),
        "printer columns: {table}"
    );
    k.ok(&["delete", "namespace", &ns, "--wait=true", "--timeout=60s"])?;
    Ok(())
}

/// What Argo accepts and Flotilla's schema must too: numbers as parameter values, expressions
/// where Argo takes an int-or-string, `null` where Argo's Go types write it, fields Argo's full
/// CRDs do not know (Flotilla's own among them) — every one kept as written.
const ARGO_ACCEPTS: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: argo-accepts
spec:
  entrypoint: main
  arguments:
    parameters: [{name: count, value: 3}, {name: t, value: "30"}, {name: flag, value: true}]
  templates:
    - name: main
      cluster: cluster-1
      clusterName: cluster-1
      namespace: team-b
      activeDeadlineSeconds: "{{workflow.parameters.t}}"
      retryStrategy: {limit: "2", backoff: {duration: 1, factor: 2}}
      inputs:
        parameters: [{name: x, default: 1, enum: [1, "2"]}]
      container: {image: argoproj/argosay:v2}
status:
  phase: Running
  startedAt: "2024-01-01T00:00:00Z"
  finishedAt: null
  nodes:
    argo-accepts:
      id: argo-accepts
      name: argo-accepts
      displayName: argo-accepts
      type: Pod
      phase: Running
      finishedAt: null
      cluster: cluster-1
      namespace: team-b
      podName: argo-accepts-pod
      resourcesDuration: {cpu: 1, memory: 2}
"#;

/// A kubectl failure's message: the API server's words (the wording kubectl and the server
/// version add around them differs, so only the field and the rule are matched).
fn rejected(
    k: &flotilla_e2e::Kubectl,
    ns: &str,
    yaml: &str,
    field: &str,
    rule: &str,
) -> Result<()> {
    let message = k.fails(&["-n", ns, "create", "-f", "-"], Some(yaml))?;
    ensure!(
        message.contains(field) && message.contains(rule),
        "expected a rejection naming {field} ({rule}): {message}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_rejects_what_flotilla_cannot_read_and_keeps_what_argo_accepts() -> Result<()> {
    let env = Env::start().await?;
    let (k, ns) = with_crds(&env, "e2e-crds-door")?;
    apply_once_served(&k, &ns, ARGO_ACCEPTS)
        .await
        .with_context(|| {
            let out = k.run(&["-n", &ns, "apply", "-f", "-"], Some(ARGO_ACCEPTS));
            format!("last attempt: {out:?}")
        })?;
    let wf = k.json(&["-n", &ns, "get", "wf", "argo-accepts"])?;
    let template = &wf["spec"]["templates"][0];
    ensure!(
        template["cluster"] == "cluster-1"
            && template["clusterName"] == "cluster-1"
            && template["namespace"] == "team-b"
            && template["retryStrategy"]["backoff"]["factor"] == 2
            && wf["spec"]["arguments"]["parameters"][0]["value"] == 3,
        "Argo's and Flotilla's spec fields are kept: {wf}"
    );
    let node = &wf["status"]["nodes"]["argo-accepts"];
    ensure!(
        node["cluster"] == "cluster-1"
            && node["podName"] == "argo-accepts-pod"
            && node["resourcesDuration"]["cpu"] == 1,
        "status fields are kept: {wf}"
    );

    for (yaml, field, rule) in [
        (
            r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTaskResult",
            "metadata": {"name": "bad-result"}, "outputs": {"result": 5}}"#,
            "outputs.result",
            "must be of type string",
        ),
        (
            r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTaskResult",
            "metadata": {"name": "bad-parameter"},
            "outputs": {"parameters": [{"name": "p", "value": 5}]}}"#,
            "outputs.parameters[0].value",
            "must be of type string",
        ),
        (
            r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "bad-parallelism"},
            "spec": {"parallelism": "2", "templates": []}}"#,
            "spec.parallelism",
            "must be of type integer",
        ),
    ] {
        rejected(&k, &ns, yaml, field, rule)?;
    }
    k.ok(&["delete", "namespace", &ns, "--wait=true", "--timeout=60s"])?;
    Ok(())
}
