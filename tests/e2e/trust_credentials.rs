//! The controller's own identity stays its own (issue 10, "Use the controller's own identity"):
//! credentials written to its namespace cannot make it read its files or run commands, it needs
//! no more rights than its manifests grant, and `flotilla logs` uses its credentials only for a
//! workflow the user may read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result, ensure};
use flotilla_e2e::{
    Env, TempDir, WORKFLOW_TIMEOUT as TIMEOUT, bound_token, create_or_merge, ensure_phase,
    main_workflow, node, phase, remote_greeting_dag, role_binding, wait_for,
};
use flotilla_engine::workflow::{NodePhase, WorkflowPhase};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams};

/// A workflow of one container in `cluster`'s `default` namespace.
fn one_pod_in(cluster: &str) -> String {
    main_workflow(
        &format!("to-{cluster}-"),
        "",
        &format!(
            "    cluster: {cluster}\n    namespace: default\n    container: {{image: argoproj/argosay:v2}}\n"
        ),
    )
}

/// cluster-1's API server address as the kubeconfig has it.
fn cluster_1_server(env: &Env) -> Result<String> {
    env.cluster_of("cluster-1")?
        .cluster
        .and_then(|c| c.server)
        .context("cluster-1 has no server")
}

/// Removes keys from the `rest-config` Secret (the test removes what it added).
async fn remove_keys(client: &kube::Client, keys: &[&str]) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "argo");
    let data: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| (k.to_string(), serde_json::Value::Null))
        .collect();
    let patch = serde_json::json!({ "data": data });
    secrets
        .patch(
            "rest-config",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(())
}

/// Runs `yaml` until its one node fails with a message containing `refusal` — at first the
/// controller may not have seen the new key yet, and says the cluster is not configured.
async fn refused(
    env: &Env,
    yaml: &str,
    refusal: &str,
) -> Result<flotilla_engine::workflow::Workflow> {
    let client = env.client("cluster-0").await?;
    let api: Api<flotilla_engine::workflow::Workflow> = Api::namespaced(client, "argo");
    wait_for(
        &format!("a workflow to fail saying {refusal:?}"),
        TIMEOUT,
        || async {
            let wf = env.run_workflow(yaml, TIMEOUT).await?;
            let message = node(&wf, &wf.name_any())
                .and_then(|n| n.message.clone())
                .unwrap_or_default();
            if message.contains(refusal) {
                return Ok(Some(wf));
            }
            ensure!(
                message.contains("is not configured"),
                "an unexpected message: {message}"
            );
            api.delete(&wf.name_any(), &DeleteParams::default()).await?;
            Ok(None)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_using_the_controllers_files_or_commands_are_refused_by_entry_and_field()
-> Result<()> {
    let env = Env::start().await?;
    let client = env.client("cluster-0").await?;
    let controller = env.controller().await?;
    env.enroll("default").await?;
    env.set_policy(
        "p, cluster-0:argo, cluster-1:default\np, cluster-0:argo, stolen:default\np, cluster-0:argo, runs:default",
    )?;
    // Written while the controller runs, by whoever may write Secrets in its namespace.
    let server = cluster_1_server(&env)?;
    let dir = TempDir::new()?;
    let marker = dir.path().join("ran");
    let token_file = serde_json::json!({
        "Host": server,
        "BearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "TLSClientConfig": {"Insecure": true},
    });
    let exec = serde_json::json!({
        "Host": server,
        "TLSClientConfig": {"Insecure": true},
        "ExecProvider": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "sh",
            "args": ["-c", format!("touch {}", marker.display())],
            "interactiveMode": "Never",
        },
    });
    for (key, value) in [("stolen.", &token_file), ("runs.", &exec)] {
        flotilla::clusters::enroll::add_key(&client, "argo", key, value.to_string().into_bytes())
            .await?;
    }

    let stolen = refused(
        &env,
        &one_pod_in("stolen"),
        "Secret rest-config key stolen.: BearerTokenFile names a local file, refused",
    )
    .await?;
    let said = node(&stolen, &stolen.name_any())
        .and_then(|n| n.message.clone())
        .unwrap_or_default();
    ensure!(
        said.contains("--allow-credential-files") && !said.contains("/var/run/secrets"),
        "{said}"
    );
    ensure!(phase(&stolen) != Some(WorkflowPhase::Succeeded));
    let runs = refused(
        &env,
        &one_pod_in("runs"),
        "Secret rest-config key runs.: ExecProvider runs a credential plugin, refused",
    )
    .await?;
    ensure!(phase(&runs) != Some(WorkflowPhase::Succeeded));
    ensure!(
        !marker.exists(),
        "the entry's command ran in the controller"
    );

    // The good entry keeps working, and the controller never stopped.
    let good = env.run_workflow(&one_pod_in("cluster-1"), TIMEOUT).await?;
    ensure_phase(&good, WorkflowPhase::Succeeded)?;
    ensure!(
        node(&good, &good.name_any()).is_some_and(|n| n.phase == NodePhase::Succeeded),
        "{:#?}",
        good.status
    );
    ensure!(controller.is_running(), "the controller stopped");
    ensure!(
        !marker.exists(),
        "the entry's command ran in the controller"
    );
    remove_keys(&client, &["stolen.", "runs."]).await?;
    Ok(())
}

/// A bound token for `namespace/account` in `context`.
async fn token_for(env: &Env, context: &str, namespace: &str, account: &str) -> Result<String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(env.client(context).await?, namespace);
    bound_token(&accounts, account).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_needs_no_more_than_its_manifests_grant() -> Result<()> {
    let (env, _admin) = Env::installed().await?;
    env.enroll("default").await?;
    env.set_policy("p, cluster-0:argo, cluster-1:default\np, cluster-0:argo, cluster-0:default")?;
    // The controller as its service account, with the rights manifests/base gives it.
    let token = token_for(&env, "cluster-0", "argo", "flotilla-controller").await?;
    let own = env.client_with_token("cluster-0", &token).await?;
    let controller = flotilla::sandbox::spawn_controller(own.clone(), "cluster-0");
    let wf = env
        .run_workflow(
            &remote_greeting_dag(
                "least-privilege-",
                "far",
                "near",
                "    container: {image: argoproj/argosay:v2, args: [echo, \"{{inputs.parameters.v}}\"]}\n",
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    ensure!(controller.is_running());
    // Its Secrets and ConfigMaps are its own namespace's only.
    for namespace in ["default", "kube-system"] {
        let secrets: Api<Secret> = Api::namespaced(own.clone(), namespace);
        match secrets.list(&ListParams::default()).await {
            Err(kube::Error::Api(s)) if s.code == 403 => {}
            other => anyhow::bail!("listing Secrets in {namespace}: {other:?}"),
        }
    }
    let argo: Api<Secret> = Api::namespaced(own, "argo");
    argo.get("rest-config").await?;
    Ok(())
}

/// Lets the tenant's service account do `verbs` on `resources` in cluster-0's `argo`.
async fn allow_in_argo(
    admin: &kube::Client,
    tenant: &flotilla_e2e::Tenant,
    name: &str,
    group: &str,
    resources: &[&str],
    verbs: &[&str],
) -> Result<()> {
    let roles: Api<Role> = Api::namespaced(admin.clone(), "argo");
    let role = Role {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![group.into()]),
            resources: Some(resources.iter().map(|r| r.to_string()).collect()),
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        }]),
    };
    create_or_merge(&roles, name, &role).await?;
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), "argo");
    let binding = role_binding(name, "Role", name, &tenant.account, &tenant.namespace);
    create_or_merge(&bindings, name, &binding).await?;
    Ok(())
}

async fn forget_in_argo(admin: &kube::Client, name: &str) -> Result<()> {
    let roles: Api<Role> = Api::namespaced(admin.clone(), "argo");
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), "argo");
    bindings.delete(name, &DeleteParams::default()).await?;
    roles.delete(name, &DeleteParams::default()).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_use_the_controllers_credentials_only_for_a_workflow_the_user_may_read() -> Result<()>
{
    let env = Env::start().await?;
    let admin = env.client("cluster-0").await?;
    let controller = env.controller().await?;
    let key = env.enroll("default").await?;
    env.set_policy("p, cluster-0:argo, cluster-1:default")?;
    let wf = env.run_workflow(&one_pod_in("cluster-1"), TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    drop(controller);

    // The workflow's cluster now leads to a listener that counts who connects: the controller's
    // credentials for it are used exactly when a connection arrives.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let spy = format!("http://{}", listener.local_addr()?);
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let accepting = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "argo");
    let original = secrets.get("rest-config").await?;
    let entry = serde_json::json!({"Host": spy, "BearerToken": "the-controllers"});
    flotilla::clusters::enroll::add_key(&admin, "argo", &key, entry.to_string().into_bytes())
        .await?;

    // A user who may read the controller's Secrets but not the workflow.
    let tenant = env.tenant("cluster-0", "logs-reader").await?;
    allow_in_argo(
        &admin,
        &tenant,
        "e2e-read-secrets",
        "",
        &["secrets"],
        &["get", "list"],
    )
    .await?;
    let options = flotilla_e2e::log_options(false);
    let mut lines = Vec::new();
    let denied = flotilla::logs::logs(&tenant.client, "argo", &wf.name_any(), &options, &mut |l| {
        lines.push(l)
    })
    .await;
    let error = denied
        .expect_err("the user may not read the workflow")
        .to_string();
    ensure!(
        error.contains(&format!("reading workflow argo/{}", wf.name_any())),
        "{error}"
    );
    ensure!(lines.is_empty(), "{lines:?}");
    ensure!(
        connections.load(Ordering::SeqCst) == 0,
        "the controller's credentials were used for a workflow the user may not read"
    );

    // Allowed to read it, the same user's logs go through the controller's credentials: the
    // check above could have failed.
    allow_in_argo(
        &admin,
        &tenant,
        "e2e-read-workflows",
        "argoproj.io",
        &["workflows"],
        &["get"],
    )
    .await?;
    let mut lines = Vec::new();
    flotilla::logs::logs(&tenant.client, "argo", &wf.name_any(), &options, &mut |l| {
        lines.push(l)
    })
    .await?;
    ensure!(
        connections.load(Ordering::SeqCst) > 0,
        "the remote pod was asked for: {lines:?}"
    );

    accepting.abort();
    let value = original
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .map(|v| v.0.clone())
        .context("the enrolled key")?;
    flotilla::clusters::enroll::add_key(&admin, "argo", &key, value).await?;
    forget_in_argo(&admin, "e2e-read-secrets").await?;
    forget_in_argo(&admin, "e2e-read-workflows").await?;
    tenant.remove().await?;
    Ok(())
}
