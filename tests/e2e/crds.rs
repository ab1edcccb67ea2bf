//! Flotilla's CRDs, applied with kubectl as a platform engineer would: full Argo YAML applies
//! unchanged and keeps every field; `kubectl get wf` prints Argo's columns.

use std::time::Duration;

use anyhow::{Result, ensure};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_yaml_applies_and_keeps_every_field() -> Result<()> {
    let env = Env::start().await?;
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
    let ns = unique("e2e-crds");
    k.ok(&["create", "namespace", &ns])?;
    wait_for(
        "workflows to be served",
        Duration::from_secs(30),
        || async {
            Ok(
                k.run(&["-n", &ns, "apply", "-f", "-"], Some(RICH_WORKFLOW))?
                    .status
                    .success()
                    .then_some(()),
            )
        },
    )
    .await?;
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
