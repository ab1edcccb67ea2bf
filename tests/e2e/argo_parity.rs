//! Argo's behaviour where Flotilla once differed (issue 13): scripts without source, image
//! entrypoints, parameters from ConfigMaps, sidecars, expressions, today's argosay.

use anyhow::{Result, ensure};
use flotilla_e2e::{Env, WORKFLOW_TIMEOUT as TIMEOUT, ensure_phase, main_workflow, node, pods_of};
use flotilla_engine::workflow::{NodePhase, WorkflowPhase};
use kube::ResourceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_without_source_runs_an_empty_script() -> Result<()> {
    // Argo reads an absent `source` as an empty script; the CRD lets it through, and the
    // controller once could not read the workflow at all (no phase, no event, ever).
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "no-source-",
                "",
                "    script: {image: alpine:3.20, command: [sh]}\n",
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_run_their_own_entrypoints_and_pods_keep_their_args() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "entrypoints-",
                "",
                r#"
    steps:
    - - {name: moo, template: v1}
      - {name: say, template: v2}
  - name: v1
    container: {image: argoproj/argosay:v1}
  - name: v2
    container: {image: argoproj/argosay:v2, args: [echo, hi]}
"#,
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let pods = pods_of(&env, &wf).await?;
    let main_of = |template: &str| {
        pods.iter()
            .find(|p| p.name_any().contains(&format!("-{template}-")))
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.iter().find(|c| c.name == "main"))
            .map(|c| (c.command.clone().unwrap_or_default(), c.args.clone()))
    };
    // As Argo's emissary: the executor in front of the image's entrypoint, the args as written
    // (argosay:v1 has no entrypoint; its CMD, cowsay, becomes the args).
    let (command, args) = main_of("v2").expect("the v2 pod");
    ensure!(
        command.ends_with(&["--".to_string(), "/argosay".to_string()]),
        "{command:?}"
    );
    ensure!(args == Some(vec!["echo".into(), "hi".into()]), "{args:?}");
    let (command, args) = main_of("v1").expect("the v1 pod");
    ensure!(
        command.last().map(String::as_str) == Some("--"),
        "{command:?}"
    );
    ensure!(args == Some(vec!["cowsay".into()]), "{args:?}");
    Ok(())
}

/// Argo's `arguments-parameters-from-configmap` and `global-parameters-from-configmap`: values
/// come from a ConfigMap labelled as parameters; an unlabelled one is not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_come_from_config_maps_labelled_as_parameters() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let kubectl = env.kubectl("cluster-0");
    let labelled = flotilla_e2e::unique("params");
    let unlabelled = flotilla_e2e::unique("plain");
    let config_maps = format!(
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: {labelled}
  namespace: argo
  labels: {{workflows.argoproj.io/configmap-type: Parameter}}
data: {{msg: hello from a configmap}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: {unlabelled}, namespace: argo}}
data: {{msg: never read}}
"#
    );
    kubectl.ok_with(&["apply", "-f", "-"], Some(&config_maps))?;
    let workflow = |name: &str| {
        main_workflow(
            "params-from-configmap-",
            &format!(
                "  arguments:\n    parameters:\n    - name: global\n      valueFrom: {{configMapKeyRef: {{name: {name}, key: msg}}}}\n"
            ),
            &format!(
                r#"    inputs:
      parameters:
      - name: local
        valueFrom: {{configMapKeyRef: {{name: {name}, key: msg}}}}
    container:
      image: argoproj/argosay:v2
      args: [echo, "{{{{workflow.parameters.global}}}} / {{{{inputs.parameters.local}}}}"]
"#
            ),
        )
    };
    let result = async {
        let wf = env.run_workflow(&workflow(&labelled), TIMEOUT).await?;
        ensure_phase(&wf, WorkflowPhase::Succeeded)?;
        let pods = pods_of(&env, &wf).await?;
        let main = pods
            .first()
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.iter().find(|c| c.name == "main"))
            .and_then(|c| c.args.clone());
        ensure!(
            main == Some(vec![
                "echo".into(),
                "hello from a configmap / hello from a configmap".into()
            ]),
            "{main:?}"
        );
        let wf = env.run_workflow(&workflow(&unlabelled), TIMEOUT).await?;
        ensure_phase(&wf, WorkflowPhase::Error)?;
        let message = wf.status.and_then(|s| s.message).unwrap_or_default();
        ensure!(
            message.contains(&format!(
                "ConfigMap '{unlabelled}' does not exist. Please make sure it has the label workflows.argoproj.io/configmap-type: Parameter"
            )),
            "{message}"
        );
        Ok(())
    }
    .await;
    kubectl.ok(&["-n", "argo", "delete", "configmap", &labelled, &unlabelled])?;
    result
}

/// Argo's `sidecar` example, with a sidecar that would run for an hour: main's end stops it,
/// and the workflow and its pod succeed with main.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecars_are_stopped_when_main_ends() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "sidecar-",
                "",
                r#"    container: {image: alpine:3.20, command: [sh, -c], args: ["echo main done"]}
    sidecars:
    - {name: waits, image: alpine:3.20, command: [sh, -c], args: ["sleep 3600"]}
"#,
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let pods = pods_of(&env, &wf).await?;
    let status = pods
        .first()
        .and_then(|p| p.status.clone())
        .unwrap_or_default();
    ensure!(status.phase.as_deref() == Some("Succeeded"), "{status:#?}");
    let sidecar = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == "waits")
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref())
        .map(|t| t.exit_code);
    ensure!(sidecar == Some(0), "{status:#?}");
    Ok(())
}

/// An expression calling a function Flotilla lacks is refused at submission, naming where it is
/// and the function — never passed to the container as text while the workflow succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expression_calling_an_unknown_function_is_refused_naming_where_it_is() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "expression-",
                "",
                "    container: {image: argoproj/argosay:v2, args: [echo, \"{{=sprig.uuidv4()}}\"]}\n",
            ),
            TIMEOUT,
        )
        .await?;
    let status = wf.status.clone().unwrap_or_default();
    let message = status.message.clone().unwrap_or_default();
    ensure!(
        status.phase == Some(WorkflowPhase::Failed)
            && message.contains(
                "templates.main.container.args[1]: {{=sprig.uuidv4()}}: the expression calls sprig.uuidv4(), which Flotilla's expressions do not have"
            ),
        "{status:#?}"
    );
    ensure!(pods_of(&env, &wf).await?.is_empty(), "no pod ran");
    Ok(())
}

/// The expressions example: evaluated in task arguments, container args (here and in
/// cluster-1), `when` and a DAG's output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expressions_example_evaluates_here_and_in_cluster_1() -> Result<()> {
    let (_env, _controller, wf) = run_example("expressions.yaml").await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let result =
        |display: &str| node(&wf, display).and_then(|n| n.outputs.clone().and_then(|o| o.result));
    ensure!(
        result("task-0(0:1)").as_deref() == Some("hello 13"),
        "{:#?}",
        wf.status
    );
    ensure!(
        result("task-0(1:2)").as_deref() == Some("hello 23"),
        "{:#?}",
        wf.status
    );
    let flip = node(&wf, "flip").expect("the cluster-1 task");
    ensure!(flip.cluster.as_deref() == Some("cluster-1"), "{flip:#?}");
    ensure!(result("flip").as_deref() == Some("heads"), "{flip:#?}");
    let tails = node(&wf, "tails").expect("the tails task");
    ensure!(tails.phase == NodePhase::Skipped, "{tails:#?}");
    let root = node(&wf, &wf.name_any()).expect("the DAG");
    let outcome = root
        .outputs
        .as_ref()
        .and_then(|o| o.parameters.iter().find(|p| p.name == "outcome"))
        .and_then(|p| p.value.as_ref())
        .map(|v| v.0.clone());
    ensure!(outcome.as_deref() == Some("it was heads"), "{root:#?}");
    Ok(())
}

/// Today's `argoproj/argosay:v2` echoes to standard output: the template's `outputs.result`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argosay_echo_is_the_templates_result() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "argosay-result-",
                "",
                "    container: {image: argoproj/argosay:v2, args: [echo, hello from argosay]}\n",
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let result = node(&wf, &wf.name_any()).and_then(|n| n.outputs.clone().and_then(|o| o.result));
    ensure!(
        result.as_deref() == Some("hello from argosay"),
        "{result:?}"
    );
    Ok(())
}

/// Argo's `images` setting in `workflow-controller-configmap`: an image it names runs without a
/// `command`, its entrypoint and cmd as the setting gives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_configmaps_images_give_entrypoints() -> Result<()> {
    let (env, client) = Env::installed().await?;
    let kubectl = env.kubectl("cluster-0");
    let config = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: workflow-controller-configmap, namespace: argo}
data:
  images: |
    example.com/tool:1.0:
      entrypoint: [sh, -c]
      cmd: ["echo from the images setting"]
"#;
    kubectl.ok_with(&["apply", "-f", "-"], Some(config))?;
    let _controller = flotilla::sandbox::spawn_controller(client, "cluster-0");
    let wf = env
        .run_workflow(
            &main_workflow(
                "images-setting-",
                "",
                "    container: {image: example.com/tool:1.0}\n",
            ),
            TIMEOUT,
        )
        .await;
    kubectl.ok_with(&["delete", "-f", "-"], Some(config))?;
    let wf = wf?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let result = node(&wf, &wf.name_any()).and_then(|n| n.outputs.clone().and_then(|o| o.result));
    ensure!(
        result.as_deref() == Some("from the images setting"),
        "{result:?}"
    );
    Ok(())
}

/// Runs `examples/<name>` with cluster-1's `default` namespace enrolled and the seeds' policy:
/// its other objects (a ConfigMap) are applied first and deleted after.
async fn run_example(
    name: &str,
) -> Result<(
    Env,
    flotilla::sandbox::ControllerHandle,
    flotilla_engine::workflow::Workflow,
)> {
    run_example_renamed(name, &[]).await
}

/// [`run_example`] with each `from` in the example's text replaced by `to`: names this run owns
/// alone (a run against a real cluster may share it with others).
async fn run_example_renamed(
    name: &str,
    renames: &[(&str, &str)],
) -> Result<(
    Env,
    flotilla::sandbox::ControllerHandle,
    flotilla_engine::workflow::Workflow,
)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    let mut text = std::fs::read_to_string(path)?;
    for (from, to) in renames {
        text = text.replace(from, to);
    }
    let (workflows, others): (Vec<&str>, Vec<&str>) = text
        .split("\n---\n")
        .partition(|doc| doc.contains("kind: Workflow\n"));
    let [workflow] = workflows.as_slice() else {
        anyhow::bail!("{name} holds {} workflows, not one", workflows.len());
    };
    let (env, controller) =
        crate::multicluster::two_clusters(Some("default"), crate::multicluster::SEED_POLICY)
            .await?;
    let kubectl = env.kubectl("cluster-0");
    let others = others.join("\n---\n");
    if !others.trim().is_empty() {
        kubectl.ok_with(&["apply", "-f", "-"], Some(&others))?;
    }
    let wf = env.run_workflow(workflow, TIMEOUT).await;
    if !others.trim().is_empty() {
        kubectl.ok_with(&["delete", "--ignore-not-found", "-f", "-"], Some(&others))?;
    }
    Ok((env, controller, wf?))
}

/// The ConfigMap parameters example: read here and passed to cluster-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configmap_parameters_example_runs_here_and_in_cluster_1() -> Result<()> {
    let (_env, _controller, wf) = run_example("parameters-from-configmap.yaml").await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let there = node(&wf, "there").expect("the cluster-1 step");
    ensure!(there.cluster.as_deref() == Some("cluster-1"), "{there:#?}");
    let here = node(&wf, "here").and_then(|n| n.outputs.clone().and_then(|o| o.result));
    ensure!(
        here.as_deref() == Some("hello world / hello world"),
        "{here:?}"
    );
    let there = there.outputs.clone().and_then(|o| o.result);
    ensure!(there.as_deref() == Some("hello world"), "{there:?}");
    Ok(())
}

/// The sidecars example: both steps end although their sidecars would run for an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sidecars_example_ends_here_and_in_cluster_1() -> Result<()> {
    let (_env, _controller, wf) = run_example("sidecars.yaml").await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let there = node(&wf, "there").expect("the cluster-1 step");
    ensure!(there.cluster.as_deref() == Some("cluster-1"), "{there:#?}");
    Ok(())
}

/// The step-level exit handler example: every step's handler runs once its step has ended, the
/// second group only after the first's handler, and `hello2b`'s handler in cluster-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_level_exit_handler_example_runs_each_handler_after_its_step() -> Result<()> {
    let (_env, _controller, wf) = run_example("exit-handler-step-level.yaml").await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let found = |display: &str| {
        node(&wf, display).ok_or_else(|| anyhow::anyhow!("no node {display}: {:#?}", wf.status))
    };
    for step in ["hello1", "hello2a", "hello2b"] {
        let handler = found(&format!("{step}.onExit"))?;
        ensure!(
            handler.phase == NodePhase::Succeeded
                && found(step)?.children.contains(&handler.id)
                && handler.node_flag.as_ref().and_then(|f| f.hooked) == Some(true),
            "{handler:#?}"
        );
    }
    let remote = found("hello2b.onExit")?;
    ensure!(
        remote.cluster.as_deref() == Some("cluster-1"),
        "{remote:#?}"
    );
    // The second group starts once the first step's handler has finished.
    let first_handler_done = found("hello1.onExit")?.finished_at.clone();
    let second_started = found("hello2a")?.started_at.clone();
    ensure!(
        first_handler_done.is_some() && second_started >= first_handler_done,
        "hello2a started at {second_started:?}, hello1's handler ended at {first_handler_done:?}"
    );
    Ok(())
}

/// The global outputs example: produced in cluster-1, consumed here, recorded on the workflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_outputs_example_carries_outputs_from_cluster_1() -> Result<()> {
    let (env, _controller, wf) = run_example("global-outputs.yaml").await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let remote =
        flotilla_e2e::workflow_pods(&env.client("cluster-1").await?, "default", &wf.name_any())
            .await?;
    let [produced] = remote.as_slice() else {
        anyhow::bail!("one pod in cluster-1: {remote:#?}");
    };
    let pod = produced.name_any();
    let consumed = node(&wf, "consume").and_then(|n| n.outputs.clone().and_then(|o| o.result));
    ensure!(
        consumed == Some(format!("made by {pod} for team blue")),
        "{consumed:?} (pod {pod:?})"
    );
    let published: Vec<(String, String)> = wf
        .status
        .as_ref()
        .and_then(|s| s.outputs.clone())
        .map(|o| {
            o.parameters
                .into_iter()
                .map(|p| (p.name, p.value.map(|v| v.0).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    ensure!(
        published
            == [
                ("made".to_string(), format!("made by {pod}")),
                ("team".to_string(), "blue".to_string())
            ],
        "{published:?}"
    );
    // spec.podMetadata's labels took the workflow's name.
    for p in pods_of(&env, &wf).await? {
        ensure!(
            p.labels().get("workflow") == Some(&wf.name_any()),
            "{:?}",
            p.labels()
        );
    }
    Ok(())
}

/// The WorkflowTemplates example: the workflow calls a library's template by `templateRef`,
/// whose own steps run here and in cluster-1; the nodes record the reference as Argo does and
/// the templates taken are stored in the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_templates_example_calls_a_library_that_runs_in_cluster_1() -> Result<()> {
    let library = flotilla_e2e::unique("greetings");
    let (_env, _controller, wf) =
        run_example_renamed("workflow-templates.yaml", &[("greetings", &library)]).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    let there = node(&wf, "there").expect("the cluster-1 step");
    ensure!(there.cluster.as_deref() == Some("cluster-1"), "{there:#?}");
    let said = there.outputs.clone().and_then(|o| o.result);
    ensure!(
        said.as_deref() == Some("hello world, from cluster-1"),
        "{said:?}"
    );
    let call = node(&wf, "call").expect("the calling step");
    ensure!(
        call.template_ref.as_ref().map(|r| r.key()) == Some(format!("namespaced/{library}/greet"))
            && call.template_scope == Some(format!("namespaced/{library}")),
        "{call:#?}"
    );
    let stored: Vec<&String> = wf
        .status
        .as_ref()
        .map(|s| s.stored_templates.keys().collect())
        .unwrap_or_default();
    ensure!(
        stored
            == [
                &format!("namespaced/{library}/greet"),
                &format!("namespaced/{library}/say"),
                &format!("namespaced/{library}/say-there")
            ],
        "{stored:?}"
    );
    Ok(())
}

/// `workflowTemplateRef`: a workflow that is only a reference runs the WorkflowTemplate with its
/// own arguments over the template's; `kubectl` knows the kinds by Argo's short names; a
/// reference to nothing fails the workflow as Argo words it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_template_ref_runs_the_template_with_the_workflows_arguments() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let kubectl = env.kubectl("cluster-0");
    let name = flotilla_e2e::unique("whole");
    let template = format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: {name}, namespace: argo}}
spec:
  entrypoint: main
  arguments:
    parameters: [{{name: greeting, value: hello}}, {{name: who, value: nobody}}]
  templates:
  - name: main
    container:
      image: argoproj/argosay:v2
      args: [echo, "{{{{workflow.parameters.greeting}}}} {{{{workflow.parameters.who}}}}"]
"#
    );
    kubectl.ok_with(&["apply", "-f", "-"], Some(&template))?;
    let result = async {
        let listed = kubectl.ok(&["-n", "argo", "get", "wftmpl", &name, "-o", "name"])?;
        ensure!(
            listed.trim() == format!("workflowtemplate.argoproj.io/{name}"),
            "{listed}"
        );
        let workflow = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{generateName: by-reference-}}\nspec:\n  workflowTemplateRef: {{name: {name}}}\n  arguments:\n    parameters: [{{name: who, value: me}}]\n"
        );
        let wf = env.run_workflow(&workflow, TIMEOUT).await?;
        ensure_phase(&wf, WorkflowPhase::Succeeded)?;
        let result = node(&wf, &wf.name_any()).and_then(|n| n.outputs.clone().and_then(|o| o.result));
        ensure!(result.as_deref() == Some("hello me"), "{result:?}");
        let nothing = flotilla_e2e::unique("no-such-template");
        let missing = workflow.replace(&format!("name: {name}}}"), &format!("name: {nothing}}}"));
        let wf = env.run_workflow(&missing, TIMEOUT).await?;
        ensure_phase(&wf, WorkflowPhase::Failed)?;
        let message = wf.status.and_then(|s| s.message).unwrap_or_default();
        ensure!(
            message == format!("invalid spec: workflow template {nothing} not found"),
            "{message}"
        );
        Ok(())
    }
    .await;
    kubectl.ok(&[
        "-n",
        "argo",
        "delete",
        "--ignore-not-found",
        "workflowtemplate",
        &name,
    ])?;
    result
}

/// A CronWorkflow whose last schedule was missed (as after a controller restart) submits its
/// workflow at once, named, labelled and owned as Argo's; the workflow runs and leaves the
/// active list; the history limit keeps it, and once lowered to 0 deletes it. `kubectl` knows
/// the kind by Argo's short name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_workflow_submits_its_missed_schedule_and_keeps_its_history() -> Result<()> {
    use flotilla_engine::workflow::CronWorkflow;
    let (env, _controller) = Env::with_controller().await?;
    let kubectl = env.kubectl("cluster-0");
    let name = flotilla_e2e::unique("every-minute");
    let missed = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(120);
    let cron = format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {{name: {name}, namespace: argo}}
spec:
  schedules: ["* * * * *"]
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 5
  workflowMetadata: {{labels: {{team: blue}}}}
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      container: {{image: argoproj/argosay:v2, args: [echo, scheduled]}}
status: {{lastScheduledTime: "{}"}}
"#,
        missed.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    kubectl.ok_with(&["apply", "-f", "-"], Some(&cron))?;
    let result = async {
        let listed = kubectl.ok(&["-n", "argo", "get", "cwf", &name, "-o", "name"])?;
        ensure!(
            listed.trim() == format!("cronworkflow.argoproj.io/{name}"),
            "{listed}"
        );
        let client = env.client("cluster-0").await?;
        let workflows: kube::Api<flotilla_engine::workflow::Workflow> =
            kube::Api::namespaced(client.clone(), "argo");
        let crons: kube::Api<CronWorkflow> = kube::Api::namespaced(client, "argo");
        let selector = format!("workflows.argoproj.io/cron-workflow={name}");
        let listing = kube::api::ListParams::default().labels(&selector);
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        // Submitted, and run to its end.
        let submitted = loop {
            let list = workflows.list(&listing).await?;
            let done = list.items.into_iter().find(|wf| {
                wf.status.as_ref().and_then(|s| s.phase) == Some(WorkflowPhase::Succeeded)
            });
            if let Some(wf) = done {
                break wf;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "nothing submitted ran"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let cron_uid = crons.get(&name).await?.metadata.uid;
        let wf_name = submitted.name_any();
        ensure!(
            wf_name.starts_with(&format!("{name}-"))
                && wf_name[name.len() + 1..]
                    .parse::<i64>()
                    .is_ok_and(|t| t > missed.as_second()),
            "{wf_name}"
        );
        ensure!(submitted.labels().get("team").map(String::as_str) == Some("blue"));
        let owner = submitted.owner_references().first().cloned();
        ensure!(
            owner
                .as_ref()
                .map(|o| (o.kind.as_str(), Some(o.uid.clone())))
                == Some(("CronWorkflow", cron_uid)),
            "{owner:?}"
        );
        ensure!(
            submitted
                .annotations()
                .contains_key("workflows.argoproj.io/scheduled-time"),
            "{:?}",
            submitted.annotations()
        );
        // Out of the active list once finished.
        loop {
            let status = crons.get(&name).await?.status.unwrap_or_default();
            let still = status
                .active
                .iter()
                .any(|a| a.name.as_deref() == Some(&wf_name));
            if !still && status.last_scheduled_time.is_some() {
                break;
            }
            ensure!(tokio::time::Instant::now() < deadline, "{status:?}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // The history limit lowered to 0: the finished workflows go.
        kubectl.ok(&[
            "-n",
            "argo",
            "patch",
            "cronworkflow",
            &name,
            "--type=merge",
            "-p",
            r#"{"spec":{"successfulJobsHistoryLimit":0}}"#,
        ])?;
        loop {
            if workflows.get_opt(&wf_name).await?.is_none() {
                break;
            }
            ensure!(tokio::time::Instant::now() < deadline, "{wf_name} kept");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Ok(())
    }
    .await;
    let cron_gone = kubectl.ok(&[
        "-n",
        "argo",
        "delete",
        "--ignore-not-found",
        "cronworkflow",
        &name,
    ]);
    // Its workflows too, whatever the test reached (the next minute's may have been submitted).
    let workflows_gone = kubectl.ok(&[
        "-n",
        "argo",
        "delete",
        "workflows",
        "-l",
        &format!("workflows.argoproj.io/cron-workflow={name}"),
        "--ignore-not-found",
    ]);
    result?;
    cron_gone?;
    workflows_gone.map(|_| ())
}
