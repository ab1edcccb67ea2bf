//! Reading workflows in assertions (phase, message, nodes, pods) and writing the manifests tests
//! share.

use super::*;

/// A workflow's phase and its nodes' phases and messages, one line.
pub(crate) fn describe(wf: &flotilla_engine::workflow::Workflow) -> String {
    let Some(status) = &wf.status else {
        return "no status".into();
    };
    let nodes: Vec<String> = status
        .nodes
        .values()
        .map(|n| {
            format!(
                "{} {} {}",
                n.display_name,
                n.phase,
                n.message.as_deref().unwrap_or_default()
            )
        })
        .collect();
    format!("{:?}; nodes: {}", status.phase, nodes.join("; "))
}

/// How long an end-to-end test waits for a workflow to finish.
pub const WORKFLOW_TIMEOUT: Duration = Duration::from_secs(120);

/// A workflow's phase, if it has one yet.
pub fn phase(
    wf: &flotilla_engine::workflow::Workflow,
) -> Option<flotilla_engine::workflow::WorkflowPhase> {
    wf.status.as_ref().and_then(|s| s.phase)
}

/// Fails, showing the whole status, unless the workflow ended in `want`.
pub fn ensure_phase(
    wf: &flotilla_engine::workflow::Workflow,
    want: flotilla_engine::workflow::WorkflowPhase,
) -> Result<()> {
    anyhow::ensure!(phase(wf) == Some(want), "{:#?}", wf.status);
    Ok(())
}

/// A workflow's status message (empty when none).
pub fn message(wf: &flotilla_engine::workflow::Workflow) -> String {
    wf.status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default()
}

/// The node with this display name.
pub fn node<'a>(
    wf: &'a flotilla_engine::workflow::Workflow,
    display: &str,
) -> Option<&'a flotilla_engine::workflow::NodeStatus> {
    wf.status
        .as_ref()?
        .nodes
        .values()
        .find(|n| n.display_name == display)
}

/// The pods of a workflow (by its label) in a namespace.
pub async fn workflow_pods(
    client: &kube::Client,
    namespace: &str,
    workflow: &str,
) -> Result<Vec<k8s_openapi::api::core::v1::Pod>> {
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(client.clone(), namespace);
    let selector = format!("workflows.argoproj.io/workflow={workflow}");
    Ok(api
        .list(&kube::api::ListParams::default().labels(&selector))
        .await?
        .items)
}

/// The pods of a workflow in cluster-0's `argo` namespace, where the suite submits them.
pub async fn pods_of(
    env: &Env,
    wf: &flotilla_engine::workflow::Workflow,
) -> Result<Vec<k8s_openapi::api::core::v1::Pod>> {
    use kube::ResourceExt as _;
    workflow_pods(&env.client("cluster-0").await?, "argo", &wf.name_any()).await
}

/// A Workflow manifest (`generateName: GENERATE_NAME`) whose entrypoint is the template `main`:
/// `fields` are further spec fields (each line indented two spaces; or empty), `main` the rest
/// of the template `main` and any templates after it (indented as a `templates:` list item's).
pub fn main_workflow(generate_name: &str, fields: &str, main: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{generateName: {generate_name}}}\nspec:\n  entrypoint: main\n{fields}  templates:\n  - name: main\n{}",
        main.trim_start_matches('\n')
    )
}

/// A DAG whose task `local` passes on what task `remote` (in cluster-1's `default`) said, "hello
/// from cluster-1", as its input `v`; `local_rest` is the rest of the template `local` after
/// its inputs.
pub fn remote_greeting_dag(
    generate_name: &str,
    remote: &str,
    local: &str,
    local_rest: &str,
) -> String {
    main_workflow(
        generate_name,
        "",
        &format!(
            r#"    dag:
      tasks:
      - {{name: {remote}, template: {remote}}}
      - name: {local}
        template: {local}
        dependencies: [{remote}]
        arguments: {{parameters: [{{name: v, value: "{{{{tasks.{remote}.outputs.parameters.greeting}}}}"}}]}}
  - name: {remote}
    cluster: cluster-1
    namespace: default
    container: {{image: argoproj/argosay:v2, args: [echo, "hello from cluster-1", /tmp/greeting]}}
    outputs: {{parameters: [{{name: greeting, valueFrom: {{path: /tmp/greeting}}}}]}}
  - name: {local}
    inputs: {{parameters: [{{name: v}}]}}
{local_rest}"#
        ),
    )
}

/// The value of the first input parameter of the node shown as `display`.
pub fn first_input(wf: &flotilla_engine::workflow::Workflow, display: &str) -> Option<String> {
    first_value(&node(wf, display)?.inputs.as_ref()?.parameters)
}

/// The value of the first output parameter of the node shown as `display`.
pub fn first_output(wf: &flotilla_engine::workflow::Workflow, display: &str) -> Option<String> {
    first_value(&node(wf, display)?.outputs.as_ref()?.parameters)
}

fn first_value(parameters: &[flotilla_engine::workflow::Parameter]) -> Option<String> {
    let value = parameters.first()?.value.as_ref()?;
    Some(value.as_str().to_string())
}

/// `flotilla logs`' options for a controller `cluster-0` in namespace `argo`.
pub fn log_options(follow: bool) -> flotilla::logs::Options {
    flotilla::logs::Options {
        follow,
        controller_namespace: "argo".into(),
        cluster_name: "cluster-0".into(),
        local_access: flotilla::clusters::LocalAccess::none(),
    }
}
