//! A workflow's lifecycle on cluster-0: its deadline, `flotilla stop|terminate|suspend|resume`,
//! suspend templates, pod GC and TTLs.

use anyhow::{Result, bail, ensure};
use flotilla::commands::{self, CommandError};
use flotilla_e2e::{
    Env, WORKFLOW_TIMEOUT as TIMEOUT, ensure_phase, main_workflow, message, node, phase, wait_for,
    workflow_pods,
};
use flotilla_engine::workflow::{NodePhase, Workflow, WorkflowPhase};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;

const NS: &str = "argo";

/// Workflow pods in `argo`, not counting those being deleted.
async fn live_pods(client: &kube::Client, name: &str) -> Result<Vec<Pod>> {
    let pods = workflow_pods(client, NS, name).await?;
    Ok(pods
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect())
}

async fn submit(env: &Env, yaml: &str) -> Result<(kube::Client, Workflow)> {
    let client = env.client("cluster-0").await?;
    let wf = flotilla::sandbox::submit(&client, yaml, "test workflow").await?;
    Ok((client, wf))
}

/// Waits until the node shown as `display` is in phase `want`.
async fn wait_node(
    client: &kube::Client,
    name: &str,
    display: &str,
    want: NodePhase,
) -> Result<Workflow> {
    let api: Api<Workflow> = Api::namespaced(client.clone(), NS);
    wait_for(
        &format!("node {display} of {name} to be {want}"),
        TIMEOUT,
        || async {
            let wf = api.get(name).await?;
            match node(&wf, display) {
                Some(n) if n.phase == want => Ok(Some(wf)),
                // Reported if the wait times out: the phase it was stuck in.
                Some(n) => bail!("it is {} ({:?})", n.phase, n.message),
                None => bail!("it does not exist yet (workflow {:?})", phase(&wf)),
            }
        },
    )
    .await
}

async fn wait_no_pods(client: &kube::Client, name: &str) -> Result<()> {
    wait_for(
        &format!("the pods of {name} to be deleted"),
        TIMEOUT,
        || async { Ok(live_pods(client, name).await?.is_empty().then_some(())) },
    )
    .await
}

/// A workflow whose step `nap` sleeps for 30 s before the step `after`; `fields` are further
/// spec fields (see [`main_workflow`]).
fn sleeper(fields: &str) -> String {
    main_workflow(
        "sleeper-",
        fields,
        r#"
    steps:
    - - {name: nap, template: sleep}
    - - {name: after, template: ok}
  - name: sleep
    container: {image: argoproj/argosay:v2, args: [sleep, 30s]}
  - name: ok
    container: {image: argoproj/argosay:v2}
"#,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_deadline_fails_it_and_deletes_its_pods() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let yaml = sleeper("  activeDeadlineSeconds: 2\n");
    let (client, submitted) = submit(&env, &yaml).await?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Failed)?;
    let nap = node(&wf, "nap").expect("the sleeping step");
    ensure!(
        nap.message.as_deref() == Some("Step exceeded its deadline"),
        "{nap:#?}"
    );
    ensure!(node(&wf, "after").is_none(), "the next step never started");
    wait_no_pods(&client, &wf.name_any()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_fails_a_running_workflow_and_refuses_a_finished_one() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let (client, submitted) = submit(&env, &sleeper("")).await?;
    let name = submitted.name_any();
    wait_node(&client, &name, "nap", NodePhase::Running).await?;
    commands::stop(&client, NS, &name).await?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Failed)?;
    ensure!(
        message(&wf) == "Stopped with strategy 'Stop'",
        "{}",
        message(&wf)
    );
    let nap = node(&wf, "nap").expect("the sleeping step");
    ensure!(
        nap.message.as_deref() == Some("workflow shutdown with strategy: Stop"),
        "{nap:#?}"
    );
    wait_no_pods(&client, &name).await?;

    match commands::stop(&client, NS, &name).await {
        Err(e @ CommandError::Finished { .. }) => ensure!(
            e.to_string()
                .starts_with("cannot shutdown a completed workflow: workflow"),
            "{e}"
        ),
        other => bail!("stopping a finished workflow: {other:?}"),
    }
    match commands::suspend(&client, NS, "no-such-workflow").await {
        Err(e @ CommandError::NotFound { .. }) => ensure!(
            e.to_string() == r#"workflow "no-such-workflow" not found in namespace "argo""#,
            "{e}"
        ),
        other => bail!("suspending a missing workflow: {other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_through_the_kubeconfig_as_the_cli_does() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let (client, submitted) = submit(&env, &sleeper("")).await?;
    let name = submitted.name_any();
    wait_node(&client, &name, "nap", NodePhase::Running).await?;
    // What `flotilla terminate NAME -n argo --kubeconfig … --context cluster-0` runs.
    let target = commands::Target {
        namespace: Some(NS.into()),
        kubeconfig: Some(env.kubeconfig.clone()),
        context: Some("cluster-0".into()),
    };
    let (cli_client, namespace) = target.connect().await?;
    commands::Verb::Terminate
        .run(&cli_client, &namespace, &name)
        .await?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Failed)?;
    ensure!(
        message(&wf) == "Stopped with strategy 'Terminate'",
        "{}",
        message(&wf)
    );
    ensure!(node(&wf, "after").is_none(), "the next step never started");
    wait_no_pods(&client, &name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_resume_a_workflow_and_its_suspend_step() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let (client, submitted) = submit(
        &env,
        &main_workflow(
            "approval-",
            "",
            r#"
    steps:
    - - {name: build, template: slow}
    - - {name: approve, template: approve}
    - - {name: release, template: ok}
  - name: approve
    suspend: {}
  - name: slow
    container: {image: argoproj/argosay:v2, args: [sleep, 3s]}
  - name: ok
    container: {image: argoproj/argosay:v2}
"#,
        ),
    )
    .await?;
    let name = submitted.name_any();
    wait_node(&client, &name, "build", NodePhase::Running).await?;
    // Suspended: the running step finishes, and nothing after it starts.
    commands::suspend(&client, NS, &name).await?;
    let wf = wait_node(&client, &name, "build", NodePhase::Succeeded).await?;
    ensure!(node(&wf, "approve").is_none(), "{:#?}", wf.status);
    ensure!(phase(&wf) == Some(WorkflowPhase::Running));
    // Resumed: the suspend step starts and waits for its own resume.
    commands::resume(&client, NS, &name).await?;
    wait_node(&client, &name, "approve", NodePhase::Running).await?;
    commands::resume(&client, NS, &name).await?;
    let wf = env.wait_finished(&submitted, TIMEOUT).await?;
    ensure_phase(&wf, WorkflowPhase::Succeeded)?;
    ensure!(node(&wf, "release").is_some_and(|n| n.phase == NodePhase::Succeeded));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_gc_on_pod_success_deletes_only_succeeded_pods() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let wf = env
        .run_workflow(
            &main_workflow(
                "pod-gc-",
                "  podGC: {strategy: OnPodSuccess, deleteDelayDuration: 1s}\n",
                r#"
    steps:
    - - {name: good, template: ok}
      - {name: bad, template: fail}
  - name: ok
    container: {image: argoproj/argosay:v2}
  - name: fail
    container: {image: argoproj/argosay:v2, args: [exit, "1"]}
"#,
            ),
            TIMEOUT,
        )
        .await?;
    ensure_phase(&wf, WorkflowPhase::Failed)?;
    let client = env.client("cluster-0").await?;
    let name = wf.name_any();
    let bad_id = node(&wf, "bad").expect("the failing step").id.clone();
    let remaining = wait_for(
        "the succeeded pod to be deleted and the failed one labelled completed",
        TIMEOUT,
        || async {
            let pods = live_pods(&client, &name).await?;
            let done = pods.len() == 1
                && pods[0]
                    .labels()
                    .get("workflows.argoproj.io/completed")
                    .is_some_and(|v| v == "true");
            Ok(done.then_some(pods))
        },
    )
    .await?;
    let node_id = remaining[0]
        .annotations()
        .get("workflows.argoproj.io/node-id")
        .cloned();
    ensure!(
        node_id.as_deref() == Some(bad_id.as_str()),
        "the failed step's pod stays: {node_id:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_strategy_deletes_the_finished_workflow() -> Result<()> {
    use futures::StreamExt as _;
    use kube::runtime::watcher::{self, Event};

    let (env, _controller) = Env::with_controller().await?;
    let client = env.client("cluster-0").await?;
    let api: Api<Workflow> = Api::namespaced(client.clone(), NS);
    // Watched from before it exists: a second after it finishes it is gone, sooner than a
    // poll on a loaded machine may look, and its deletion event carries its last state.
    let mut events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.next().await {
            if matches!(event?, Event::InitDone) {
                return Ok(());
            }
        }
        bail!("the watch of workflows ended before listing them")
    })
    .await??;
    let yaml = main_workflow(
        "ttl-",
        "  ttlStrategy: {secondsAfterCompletion: 1}\n",
        "    container: {image: argoproj/argosay:v2}\n",
    );
    let name = flotilla::sandbox::submit(&client, &yaml, "test workflow")
        .await?
        .name_any();
    let mut last_phase = None;
    let deleted = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.next().await {
            match event? {
                Event::Apply(wf) | Event::InitApply(wf) if wf.name_any() == name => {
                    last_phase = phase(&wf);
                }
                Event::Delete(wf) if wf.name_any() == name => return Ok(wf),
                _ => {}
            }
        }
        bail!("the watch of workflows ended")
    })
    .await;
    let wf = match deleted {
        Ok(deleted) => deleted?,
        Err(_) => bail!("workflow {name} was not deleted in {TIMEOUT:?}; last seen {last_phase:?}"),
    };
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Succeeded),
        "deleted as {:?}: {}",
        phase(&wf),
        message(&wf)
    );
    ensure!(api.get_opt(&name).await?.is_none(), "{name} is still there");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_runs_the_exit_handler_and_terminate_does_not() -> Result<()> {
    let (env, _controller) = Env::with_controller().await?;
    let yaml = format!(
        "{}  - name: bye\n    container: {{image: alpine:3.20, command: [sh, -c, \"echo {{{{workflow.status}}}}\"]}}\n",
        sleeper("  onExit: bye\n")
    );
    let (client, stopped) = submit(&env, &yaml).await?;
    let (_, terminated) = submit(&env, &yaml).await?;
    // Both at once: a sequential wait could see the second nap already finished.
    let names = [stopped.name_any(), terminated.name_any()];
    tokio::try_join!(
        wait_node(&client, &names[0], "nap", NodePhase::Running),
        wait_node(&client, &names[1], "nap", NodePhase::Running),
    )?;
    commands::stop(&client, NS, &stopped.name_any()).await?;
    commands::terminate(&client, NS, &terminated.name_any()).await?;

    let wf = env.wait_finished(&stopped, TIMEOUT).await?;
    ensure!(
        message(&wf) == "Stopped with strategy 'Stop'",
        "{}",
        message(&wf)
    );
    let exit_node = format!("{}.onExit", wf.name_any());
    let bye = node(&wf, &exit_node).expect("the exit handler ran");
    let said = bye.outputs.as_ref().and_then(|o| o.result.clone());
    ensure!(
        bye.phase == NodePhase::Succeeded && said.as_deref() == Some("Failed"),
        "the handler saw the stopped workflow's status: {bye:#?}"
    );

    let wf = env.wait_finished(&terminated, TIMEOUT).await?;
    ensure!(
        message(&wf) == "Stopped with strategy 'Terminate'",
        "{}",
        message(&wf)
    );
    let exit_node = format!("{}.onExit", wf.name_any());
    ensure!(node(&wf, &exit_node).is_none(), "{:#?}", wf.status);
    Ok(())
}
