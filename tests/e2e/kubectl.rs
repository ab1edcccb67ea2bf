//! The real `kubectl` drives the clusters (simulated by default): what a platform engineer types
//! must behave as on a real cluster. Fails loudly when kubectl is missing.

use std::time::Duration;

use anyhow::{Result, ensure};
use flotilla_e2e::{Env, Kubectl, TempDir, unique, wait_for};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};

const CONTEXT: &str = "cluster-1";

/// The test's environment, kubectl for [`CONTEXT`], and a namespace of the test's own there.
async fn start() -> Result<(Env, Kubectl, String)> {
    let env = Env::start().await?;
    let k = env.kubectl(CONTEXT);
    let ns = unique("e2e-kubectl");
    k.ok(&["create", "namespace", &ns])?;
    Ok((env, k, ns))
}

/// Deletes the test's namespace and waits until it is gone.
fn remove(k: &Kubectl, ns: &str) -> Result<()> {
    k.ok(&["delete", "namespace", ns, "--wait=true", "--timeout=60s"])?;
    Ok(())
}

/// Applies `manifest`; kubectl must say `outcome` (the `which` apply, for the failure message).
fn apply_says(k: &Kubectl, manifest: &str, outcome: &str, which: &str) -> Result<()> {
    let out = k.ok_with(&["apply", "-f", "-"], Some(manifest))?;
    ensure!(out.contains(outcome), "{which} apply: {out}");
    Ok(())
}

/// Applies `manifest`, then `kubectl -n NS wait UNTIL… --timeout=60s`.
fn apply_and_wait(k: &Kubectl, ns: &str, manifest: &str, until: &[&str]) -> Result<()> {
    k.ok_with(&["apply", "-f", "-"], Some(manifest))?;
    let mut wait = vec!["-n", ns, "wait"];
    wait.extend(until);
    wait.push("--timeout=60s");
    k.ok(&wait)?;
    Ok(())
}

/// `kubectl -n NS patch KIND NAME [--type TYPE] -p PATCH`'s arguments.
fn patch<'a>(
    ns: &'a str,
    kind: &'a str,
    name: &'a str,
    patch_type: Option<&'a str>,
    patch: &'a str,
) -> Vec<&'a str> {
    let mut args = vec!["-n", ns, "patch", kind, name];
    if let Some(t) = patch_type {
        args.extend(["--type", t]);
    }
    args.extend(["-p", patch]);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmaps_create_get_apply_label_patch_delete() -> Result<()> {
    let (_env, k, ns) = start().await?;

    k.ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "settings",
        "--from-literal=a=1",
    ])?;
    let cm = k.json(&["-n", &ns, "get", "configmap", "settings"])?;
    ensure!(cm["data"]["a"] == "1", "created configmap: {cm}");
    ensure!(
        cm["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36),
        "uid: {cm}"
    );

    // apply twice: the second apply patches, and a key removed from the manifest is removed.
    let first = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: {ns}\n  labels: {{tier: one}}\ndata:\n  x: \"1\"\n  y: \"2\"\n"
    );
    apply_says(&k, &first, "configmap/applied created", "first")?;
    let second = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: {ns}\n  labels: {{tier: two}}\ndata:\n  x: \"10\"\n"
    );
    apply_says(&k, &second, "configmap/applied configured", "second")?;
    let applied = k.json(&["-n", &ns, "get", "configmap", "applied"])?;
    ensure!(
        applied["data"] == serde_json::json!({"x": "10"}),
        "after second apply: {applied}"
    );
    ensure!(
        applied["metadata"]["labels"]["tier"] == "two",
        "labels: {applied}"
    );
    ensure!(
        applied["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string(),
        "last-applied annotation: {applied}"
    );
    apply_says(&k, &second, "configmap/applied unchanged", "third")?;

    k.ok(&["-n", &ns, "label", "configmap", "settings", "color=blue"])?;
    let names = k.ok(&[
        "-n",
        &ns,
        "get",
        "configmaps",
        "-l",
        "color=blue",
        "-o",
        "name",
    ])?;
    ensure!(
        names.trim() == "configmap/settings",
        "label selector: {names}"
    );
    let names = k.ok(&[
        "-n",
        &ns,
        "get",
        "configmaps",
        "-l",
        "color notin (blue)",
        "-o",
        "name",
    ])?;
    ensure!(
        !names.contains("settings") && names.contains("applied"),
        "set-based selector: {names}"
    );

    let settings = |patch_type, body| patch(&ns, "configmap", "settings", patch_type, body);
    k.ok(&settings(Some("merge"), r#"{"data":{"b":"2"}}"#))?;
    k.ok(&settings(
        Some("json"),
        r#"[{"op":"remove","path":"/data/a"}]"#,
    ))?;
    k.ok(&settings(None, r#"{"data":{"c":"3"}}"#))?;
    let cm = k.json(&["-n", &ns, "get", "configmap", "settings"])?;
    ensure!(
        cm["data"] == serde_json::json!({"b": "2", "c": "3"}),
        "after patches: {cm}"
    );
    let err = k.fails(
        &settings(
            Some("json"),
            r#"[{"op":"test","path":"/data/b","value":"9"}]"#,
        ),
        None,
    )?;
    ensure!(
        err.contains("Invalid") || err.contains("test"),
        "failed JSON patch test op: {err}"
    );

    // A stale resourceVersion is a 409 Conflict.
    let mut stale = k.json(&["-n", &ns, "get", "configmap", "settings"])?;
    k.ok(&["-n", &ns, "label", "configmap", "settings", "bump=1"])?;
    stale["data"]["d"] = serde_json::json!("4");
    let err = k.fails(&["replace", "-f", "-"], Some(&stale.to_string()))?;
    ensure!(
        err.contains("Conflict") && err.contains("the object has been modified; please apply your changes to the latest version and try again"),
        "stale replace: {err}"
    );

    k.ok(&["-n", &ns, "delete", "configmap", "settings"])?;
    let err = k.fails(&["-n", &ns, "get", "configmap", "settings"], None)?;
    ensure!(
        err.contains(r#"configmaps "settings" not found"#),
        "get after delete: {err}"
    );
    remove(&k, &ns)
}

/// `kubectl apply --server-side`: the applier owns what it sets, another manager changing
/// it is refused with Kubernetes' conflict message, and `--force-conflicts` takes it over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_owns_fields_and_reports_conflicts() -> Result<()> {
    let (_env, k, ns) = start().await?;
    let manifest = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  namespace: {ns}\ndata:\n  a: \"{value}\"\n"
        )
    };
    let apply = ["apply", "--server-side", "-f", "-"];
    let out = k.ok_with(&apply, Some(&manifest("1")))?;
    ensure!(
        out.contains("configmap/owned serverside-applied"),
        "first apply: {out}"
    );
    let other = ["apply", "--server-side", "--field-manager=other", "-f", "-"];
    let err = k.fails(&other, Some(&manifest("2")))?;
    ensure!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .data.a"#),
        "conflicting apply: {err}"
    );
    let mut forced = other.to_vec();
    forced.insert(2, "--force-conflicts");
    k.ok_with(&forced, Some(&manifest("2")))?;
    let cm = k.json(&[
        "-n",
        &ns,
        "get",
        "configmap",
        "owned",
        "--show-managed-fields",
    ])?;
    ensure!(cm["data"]["a"] == "2", "forced apply: {cm}");
    let entries = cm["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let owner_of_a: Vec<&str> = entries
        .iter()
        .filter(|e| e["fieldsV1"]["f:data"].get("f:a").is_some())
        .filter_map(|e| e["manager"].as_str())
        .collect();
    ensure!(
        owner_of_a == ["other"],
        "owners of .data.a: {owner_of_a:?} in {cm}"
    );
    remove(&k, &ns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_run_log_wait_and_delete() -> Result<()> {
    let (_env, k, ns) = start().await?;
    wait_for(
        "the namespace's default service account",
        Duration::from_secs(30),
        || async {
            Ok(
                k.run(&["-n", &ns, "get", "serviceaccount", "default"], None)?
                    .status
                    .success()
                    .then_some(()),
            )
        },
    )
    .await?;

    let say = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: say\n  namespace: {ns}\nspec:\n  restartPolicy: Never\n  containers:\n    - name: main\n      image: argoproj/argosay:v2\n      args: [echo, hello from the pod]\n"
    );
    apply_and_wait(
        &k,
        &ns,
        &say,
        &["--for=jsonpath={.status.phase}=Succeeded", "pod/say"],
    )?;
    let logs = k.ok(&["-n", &ns, "logs", "say"])?;
    ensure!(logs.contains("hello from the pod"), "logs: {logs:?}");
    let table = k.ok(&["-n", &ns, "get", "pods"])?;
    ensure!(
        table.contains("STATUS") && table.contains("Completed"),
        "kubectl get pods: {table}"
    );

    let sleeper = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sleeper\n  namespace: {ns}\n  labels: {{app: sleeper}}\nspec:\n  restartPolicy: Never\n  containers:\n    - name: main\n      image: argoproj/argosay:v2\n      args: [sleep, 1h]\n"
    );
    apply_and_wait(
        &k,
        &ns,
        &sleeper,
        &["--for=condition=Ready", "pod", "-l", "app=sleeper"],
    )?;
    // Applying the same pod with a changed label patches it (strategic merge patch).
    k.ok_with(
        &["apply", "-f", "-"],
        Some(&sleeper.replace("app: sleeper", "app: sleeper, extra: x")),
    )?;
    let pod = k.json(&["-n", &ns, "get", "pod", "sleeper"])?;
    ensure!(
        pod["metadata"]["labels"]["extra"] == "x",
        "applied label: {}",
        pod["metadata"]
    );
    // Changing an immutable field is rejected as a real API server does.
    let err = k.fails(
        &["apply", "-f", "-"],
        Some(&sleeper.replace("sleep, 1h", "sleep, 2h")),
    )?;
    ensure!(
        err.contains("Forbidden: pod updates may not change fields"),
        "immutable spec: {err}"
    );

    k.ok(&["-n", &ns, "delete", "pod", "sleeper", "--wait=false"])?;
    k.ok(&[
        "-n",
        &ns,
        "wait",
        "--for=delete",
        "pod/sleeper",
        "--timeout=60s",
    ])?;
    remove(&k, &ns)
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.e2e.flotilla.dev
spec:
  group: e2e.flotilla.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wdg]}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Phase, type: string, jsonPath: .status.phase}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
                colour: {type: string}
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_after_their_crd_is_established() -> Result<()> {
    let (_env, k, ns) = start().await?;
    k.ok_with(&["apply", "-f", "-"], Some(WIDGET_CRD))?;
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.e2e.flotilla.dev",
        "--timeout=60s",
    ])?;

    let widget = format!(
        "apiVersion: e2e.flotilla.dev/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: {ns}\nspec:\n  size: 3\n  colour: red\n"
    );
    wait_for("widgets to be served", Duration::from_secs(30), || async {
        Ok(k.run(&["apply", "-f", "-"], Some(&widget))?
            .status
            .success()
            .then_some(()))
    })
    .await?;
    let out = k.ok_with(
        &["apply", "-f", "-"],
        Some(&widget.replace("size: 3", "size: 5")),
    )?;
    ensure!(
        out.contains("configured"),
        "second apply of a custom resource: {out}"
    );
    let table = k.ok(&["-n", &ns, "get", "wdg"])?;
    ensure!(
        table.contains("SIZE") && table.contains('5'),
        "printer columns: {table}"
    );

    k.ok(&patch(
        &ns,
        "widget",
        "w1",
        Some("merge"),
        r#"{"spec":{"colour":"blue"}}"#,
    ))?;
    let w = k.json(&["-n", &ns, "get", "widget", "w1"])?;
    ensure!(
        w["spec"]["colour"] == "blue" && w["metadata"]["generation"] == 3,
        "after patch: {w}"
    );
    // A custom resource does not take strategic merge patches.
    let err = k.fails(
        &patch(
            &ns,
            "widget",
            "w1",
            Some("strategic"),
            r#"{"spec":{"size":1}}"#,
        ),
        None,
    )?;
    ensure!(
        err.contains("application/strategic-merge-patch+json is not supported"),
        "strategic on CR: {err}"
    );
    // Unknown fields are rejected when kubectl asks for strict validation: by the server where
    // it validates fields (1.25 and later: `strict decoding error: unknown field "spec.shape"`),
    // else by kubectl itself from the published schema (1.24: `ValidationError(Widget.spec):
    // unknown field "shape" in …`).
    let err = k.fails(
        &["apply", "-f", "-"],
        Some(&widget.replace("colour: red", "colour: red\n  shape: round")),
    )?;
    ensure!(
        err.contains("unknown field \"spec.shape\"")
            || (err.contains("ValidationError(Widget.spec)")
                && err.contains("unknown field \"shape\"")),
        "strict validation: {err}"
    );

    k.ok(&["-n", &ns, "delete", "widget", "w1"])?;
    k.ok(&[
        "delete",
        "crd",
        "widgets.e2e.flotilla.dev",
        "--wait=true",
        "--timeout=60s",
    ])?;
    let err = k.fails(&["-n", &ns, "get", "widgets"], None)?;
    // kubectl's discovery cache may still know the type; either way the server no longer serves it.
    ensure!(
        err.contains("the server doesn't have a resource type")
            || err.contains("the server could not find the requested resource"),
        "after CRD deletion: {err}"
    );
    remove(&k, &ns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_rights_is_forbidden() -> Result<()> {
    let (env, k, ns) = start().await?;
    k.ok(&["-n", &ns, "create", "serviceaccount", "nobody"])?;
    let client = env.client(CONTEXT).await?;
    let sas: Api<ServiceAccount> = Api::namespaced(client, &ns);
    let request: TokenRequest =
        serde_json::from_value(serde_json::json!({"spec": {"audiences": []}}))?;
    let token = sas
        .create_token_request("nobody", &PostParams::default(), &request)
        .await?;
    let token = token.status.map(|s| s.token).unwrap_or_default();
    ensure!(!token.is_empty(), "no token issued");

    // A kubeconfig with the same server and CA, but the service account's token.
    let dir = TempDir::new()?;
    let mut config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&env.kubeconfig)?)?;
    for user in config["users"].as_sequence_mut().into_iter().flatten() {
        user["user"] = serde_yaml::from_str(&format!("token: {token}"))?;
    }
    let path = dir.path().join("nobody.kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&config)?)?;
    let nobody = k.clone().with_kubeconfig(&path);

    let err = nobody.fails(&["-n", &ns, "get", "pods"], None)?;
    let expected = format!(
        r#"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:{ns}:nobody" cannot list resource "pods" in API group "" in the namespace "{ns}""#
    );
    ensure!(
        err.contains(&expected),
        "forbidden list:\n{err}\nexpected:\n{expected}"
    );

    // Granting exactly one verb with RBAC, as `kubectl create role` does, allows exactly that.
    k.ok(&[
        "-n",
        &ns,
        "create",
        "role",
        "pod-reader",
        "--verb=list",
        "--resource=pods",
    ])?;
    k.ok(&[
        "-n",
        &ns,
        "create",
        "rolebinding",
        "nobody-reads",
        "--role=pod-reader",
        &format!("--serviceaccount={ns}:nobody"),
    ])?;
    wait_for(
        "the role binding to take effect",
        Duration::from_secs(30),
        || async {
            Ok(nobody
                .run(&["-n", &ns, "get", "pods"], None)?
                .status
                .success()
                .then_some(()))
        },
    )
    .await?;
    let err = nobody.fails(&["-n", &ns, "create", "configmap", "x"], None)?;
    ensure!(
        err.contains("configmaps is forbidden")
            && err.contains(r#"cannot create resource "configmaps""#),
        "forbidden create: {err}"
    );
    remove(&k, &ns)
}
