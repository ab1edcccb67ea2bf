//! The attacker's tests of outputs: a tenant who shares a namespace with another tries to forge
//! the other's outputs — planting task results, copying a victim's pod stamps, rewriting a
//! report, replacing a pod. None of it reaches the victim's status or next step.

use anyhow::{Context as _, Result, ensure};
use flotilla_e2e::{Env, Tenant, WORKFLOW_TIMEOUT as TIMEOUT, message, phase, unique};
use flotilla_engine::workflow::{Workflow, WorkflowPhase, WorkflowTaskResult};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::trust::{Shared, controller, run_as, still_serving, submit_as};

/// The victim's workflow: `produce` prints a value in the shared namespace, `consume` (at home)
/// receives it as a parameter and prints it. With `hold`, a first step pauses in the shared
/// namespace for that long (the attacker's window to read its pod). The workflow's deadline is
/// `deadline` seconds.
fn producer_consumer(name: &str, shared: &str, hold: Option<&str>, deadline: u32) -> String {
    let (hold_step, hold_template) = match hold {
        Some(time) => (
            "        - - {name: hold, template: hold}\n".to_string(),
            format!(
                "    - name: hold\n      namespace: {shared}\n      container: {{image: argoproj/argosay:v2, args: [sleep, {time}]}}\n"
            ),
        ),
        None => Default::default(),
    };
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: {name}}}
spec:
  entrypoint: main
  activeDeadlineSeconds: {deadline}
  templates:
    - name: main
      steps:
{hold_step}        - - {{name: produce, template: produce}}
        - - name: consume
            template: consume
            arguments: {{parameters: [{{name: value, value: "{{{{steps.produce.outputs.result}}}}"}}]}}
{hold_template}    - name: produce
      namespace: {shared}
      script: {{image: "alpine:3.20", command: [sh], source: "echo real\n"}}
    - name: consume
      inputs: {{parameters: [{{name: value}}]}}
      container: {{image: argoproj/argosay:v2, args: [echo, "{{{{inputs.parameters.value}}}}"]}}
"#
    )
}

/// What the attacker can work out of a victim's workflow name: the ID and pod name of the
/// `produce` node, the `step`th step of `main`.
fn produce_node(victim_wf: &str, step: usize) -> (String, String) {
    let node_name = format!("{victim_wf}[{step}].produce");
    let id = flotilla_engine::naming::node_id(victim_wf, &node_name);
    let pod = flotilla_engine::naming::pod_name(
        victim_wf,
        &node_name,
        "produce",
        flotilla_engine::naming::PodNameFormat::V2,
    );
    (id, pod)
}

/// A task result the attacker plants for the victim's node, claiming `result: forged`.
fn planted_result(id: &str, victim_wf: &str, victim_ns: &str) -> Result<WorkflowTaskResult> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTaskResult",
        "metadata": {"name": id, "labels": {
            "workflows.argoproj.io/workflow": victim_wf,
            "flotilla.dev/workflow-namespace": victim_ns,
            "workflows.argoproj.io/report-outputs-completed": "true",
        }},
        "outputs": {"result": "forged"},
    }))?)
}

/// Two tenants who may both use a namespace they share, under the controller: the stage of the
/// forgery tests. The attacker's API clients reach only what a tenant's role grants there.
struct Scene {
    env: Env,
    attacker: Tenant,
    victim: Tenant,
    shared: Shared,
    _controller: flotilla::sandbox::ControllerHandle,
}

impl Scene {
    async fn set() -> Result<Scene> {
        let env = Env::start().await?;
        let attacker = env.tenant("cluster-0", "team-a").await?;
        let victim = env.tenant("cluster-0", "team-b").await?;
        let shared = Shared::create(&env, "shared").await?;
        for tenant in [&attacker, &victim] {
            tenant
                .grant(&env.client("cluster-0").await?, &shared.name)
                .await?;
        }
        let policy = format!(
            "p, cluster-0:{a}, cluster-0:{s}\np, cluster-0:{b}, cluster-0:{s}",
            a = attacker.namespace,
            b = victim.namespace,
            s = shared.name
        );
        let (controller, _) = controller(&env, &policy).await?;
        Ok(Scene {
            env,
            attacker,
            victim,
            shared,
            _controller: controller,
        })
    }

    /// [`Scene::set`], the attacker's view of pods in the shared namespace, and a name for the
    /// victim's workflow.
    async fn set_for_pods() -> Result<(Scene, Api<Pod>, String)> {
        let scene = Scene::set().await?;
        let pods = scene.attackers();
        Ok((scene, pods, unique("victim")))
    }

    /// The attacker's view of pods or task results in the shared namespace.
    fn attackers<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.attacker.client.clone(), &self.shared.name)
    }

    /// The attacker makes `pod` in the shared namespace, and a task result claiming `forged` for
    /// the victim's node `id` of workflow `victim_wf`.
    async fn plant(&self, pod: &Pod, id: &str, victim_wf: &str) -> Result<()> {
        self.attackers::<Pod>()
            .create(&PostParams::default(), pod)
            .await
            .context("the attacker plants a pod")?;
        let result = planted_result(id, victim_wf, &self.victim.namespace)?;
        self.attackers::<WorkflowTaskResult>()
            .create(&PostParams::default(), &result)
            .await
            .context("the attacker plants a task result")?;
        Ok(())
    }

    /// Runs the victim's producer and consumer as workflow `victim_wf`, to its end.
    async fn run_victim(&self, victim_wf: &str) -> Result<Workflow> {
        let yaml = producer_consumer(victim_wf, &self.shared.name, None, 90);
        run_as(&self.env, &self.victim, &yaml).await
    }

    /// The victim can still run a workflow; then everything the test made is removed.
    async fn strike(self) -> Result<()> {
        still_serving(&self.env, &self.victim).await?;
        self.shared.remove().await?;
        self.attacker.remove().await?;
        self.victim.remove().await
    }
}

/// No forged output is anywhere in the victim's status.
fn nothing_forged_reached(wf: &Workflow) -> Result<()> {
    let status = serde_json::to_string(&wf.status)?;
    ensure!(
        !status.contains("forged"),
        "a forged output reached the victim: {status}"
    );
    Ok(())
}

/// What the victim's `produce` step printed.
fn produced(wf: &Workflow) -> Option<String> {
    flotilla_e2e::node(wf, "produce")
        .and_then(|n| n.outputs.as_ref())
        .and_then(|o| o.result.clone())
}

/// The victim's `produce` node failed because the attacker took its pod's name first, and
/// nothing ran on forged outputs.
fn produce_failed_on_a_foreign_pod(wf: &Workflow, namespace: &str, pod_name: &str) -> Result<()> {
    let expected =
        format!("pod {namespace}/{pod_name} exists and was not created for this workflow");
    ensure!(
        flotilla_e2e::node(wf, "produce").and_then(|n| n.message.clone()) == Some(expected.clone()),
        "expected the produce node to fail with {expected:?}: {:#?}",
        wf.status
    );
    ensure!(
        flotilla_e2e::node(wf, "consume").is_none(),
        "nothing ran on forged outputs"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_forge_another_tenants_outputs_in_a_shared_namespace() -> Result<()> {
    let scene = Scene::set().await?;
    let (victim, shared) = (&scene.victim, &scene.shared);
    let results: Api<WorkflowTaskResult> = scene.attackers();

    // 1. A planted task result alone: the victim's own pod reports over it, and the victim
    //    runs with its real value.
    let victim_wf = unique("victim");
    let (id, _) = produce_node(&victim_wf, 0);
    results
        .create(
            &PostParams::default(),
            &planted_result(&id, &victim_wf, &victim.namespace)?,
        )
        .await
        .context("the attacker plants a task result")?;
    let wf = scene.run_victim(&victim_wf).await?;
    ensure!(
        phase(&wf) == Some(WorkflowPhase::Succeeded),
        "{}: {:#?}",
        message(&wf),
        wf.status
    );
    let produced = produced(&wf);
    ensure!(
        produced.as_deref() == Some("real"),
        "the victim's step produced {produced:?}"
    );

    // 2. A planted pod (with the victim's labels) and result: the victim's node fails naming
    //    the pod; nothing forged flows on.
    let victim_wf = unique("victim");
    let (id, pod_name) = produce_node(&victim_wf, 0);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": pod_name, "labels": {
            "workflows.argoproj.io/workflow": victim_wf,
            "flotilla.dev/workflow-namespace": victim.namespace,
        }, "annotations": {"workflows.argoproj.io/node-id": id}},
        "spec": {"containers": [{"name": "main", "image": "argoproj/argosay:v2"}]},
    }))?;
    scene.plant(&pod, &id, &victim_wf).await?;
    let wf = scene.run_victim(&victim_wf).await?;
    ensure!(
        phase(&wf) != Some(WorkflowPhase::Succeeded),
        "{}",
        message(&wf)
    );
    produce_failed_on_a_foreign_pod(&wf, &shared.name, &pod_name)?;
    scene.strike().await
}

/// The attacker copies every label and annotation (the controller's creator proof included) off
/// the victim's first pod onto a pod it makes, first, for the victim's next node: the proof is
/// for the first pod's name and node only, so the next node fails naming the pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stamps_copied_off_a_victims_pod_do_not_make_a_pod_the_victims() -> Result<()> {
    let (scene, pods, victim_wf) = Scene::set_for_pods().await?;
    let (victim, shared) = (&scene.victim, &scene.shared);
    let created = submit_as(
        victim,
        &producer_consumer(&victim_wf, &shared.name, Some("8s"), 90),
    )
    .await?;

    let selector = format!("workflows.argoproj.io/workflow={victim_wf}");
    let hold = flotilla_e2e::wait_for("the victim's first pod", TIMEOUT, || async {
        Ok(pods
            .list(&kube::api::ListParams::default().labels(&selector))
            .await?
            .items
            .into_iter()
            .next())
    })
    .await?;
    ensure!(
        hold.annotations()
            .contains_key("flotilla.dev/creator-proof"),
        "the controller proves its pods: {:?}",
        hold.annotations()
    );
    let (id, pod_name) = produce_node(&victim_wf, 1);
    let mut annotations = hold.annotations().clone();
    annotations.insert("workflows.argoproj.io/node-id".into(), id.clone());
    let copy = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.clone()),
            labels: Some(hold.labels().clone()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: serde_json::from_value(serde_json::json!({
            "containers": [{"name": "main", "image": "argoproj/argosay:v2"}],
        }))?,
        ..Default::default()
    };
    scene.plant(&copy, &id, &victim_wf).await?;

    let wf = scene.env.wait_finished(&created, TIMEOUT).await?;
    produce_failed_on_a_foreign_pod(&wf, &shared.name, &pod_name)?;
    scene.strike().await
}

/// The attacker rewrites the victim's task result as soon as the victim's executor has written
/// it, keeping its owner reference to the victim's pod: the controller takes only what the pod's
/// main container vouched for, so `forged` never reaches the victim's status or next step. (The
/// victim's node may wait for a true report until its deadline: an attacker who may write task
/// results in the namespace can always deny a result, as one who may delete pods there can.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_result_rewritten_after_the_report_is_not_taken() -> Result<()> {
    let scene = Scene::set().await?;
    let results: Api<WorkflowTaskResult> = scene.attackers();
    let victim_wf = unique("victim");
    let (id, _) = produce_node(&victim_wf, 0);
    let created = submit_as(
        &scene.victim,
        &producer_consumer(&victim_wf, &scene.shared.name, None, 30),
    )
    .await?;

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rewriter = tokio::spawn({
        let done = done.clone();
        async move {
            let mut forgeries = 0_usize;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(mut result) = results.get_opt(&id).await?
                    && result.outputs.as_ref().and_then(|o| o.result.as_deref()) != Some("forged")
                {
                    result.outputs.get_or_insert_default().result = Some("forged".into());
                    match results.replace(&id, &PostParams::default(), &result).await {
                        Ok(_) => forgeries += 1,
                        Err(kube::Error::Api(e)) if e.code == 409 => {}
                        Err(e) => return Err(anyhow::Error::from(e)),
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            anyhow::Ok(forgeries)
        }
    });
    let finished = scene.env.wait_finished(&created, TIMEOUT).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let forgeries = rewriter.await??;
    let wf = finished?;

    ensure!(
        forgeries > 0,
        "the attacker never got to rewrite the result"
    );
    nothing_forged_reached(&wf)?;
    let produced = produced(&wf);
    match phase(&wf) {
        Some(WorkflowPhase::Succeeded) => ensure!(
            produced.as_deref() == Some("real"),
            "the victim's step produced {produced:?}"
        ),
        // The rewrite came first: the node waited for a report the pod vouched for until its
        // deadline (the workflow then fails as Argo words it: "child '…' failed").
        Some(WorkflowPhase::Failed) => ensure!(
            flotilla_e2e::node(&wf, "produce")
                .and_then(|n| n.message.as_deref())
                .is_some_and(|m| m.contains("deadline")),
            "the victim failed for another reason: {}; nodes: {:?}",
            message(&wf),
            wf.status
                .iter()
                .flat_map(|s| s.nodes.values())
                .map(|n| (&n.display_name, n.phase, &n.message))
                .collect::<Vec<_>>()
        ),
        other => anyhow::bail!("the victim ended {other:?}: {}", message(&wf)),
    }
    scene.strike().await
}

/// The attacker deletes the victim's running pod and at once creates a copy of it in its place —
/// every label and annotation (the creator proof included) and its spec, with the script changed
/// to print `forged` — whose executor then reports `forged`, vouched for, from the copy. The node
/// recorded the uid of the pod the controller made, so the copy is not the node's: the node fails
/// (naming the replacement, or `pod deleted` if the controller saw the gap first) and `forged`
/// never reaches the victim. (Which of the two the controller sees is a race; the deterministic
/// check is `controller::observe::tests::a_pod_of_another_uid_than_the_recorded_one_is_not_observed`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_replaced_by_a_copy_after_the_controller_made_it_is_not_taken() -> Result<()> {
    let (scene, pods, victim_wf) = Scene::set_for_pods().await?;
    let (victim, shared) = (&scene.victim, &scene.shared);
    let yaml = producer_consumer(&victim_wf, &shared.name, None, 60).replace(
        r#"source: "echo real\n""#,
        r#"source: "sleep 8; echo real\n""#,
    );
    ensure!(yaml.contains("sleep 8"), "the victim's step takes a while");
    let created = submit_as(victim, &yaml).await?;

    let (_, pod_name) = produce_node(&victim_wf, 0);
    let original = flotilla_e2e::wait_for("the victim's pod", TIMEOUT, || async {
        Ok(pods.get_opt(&pod_name).await?)
    })
    .await?;
    let spec = serde_json::to_string(&original.spec)?.replace("sleep 8; echo real", "echo forged");
    ensure!(
        spec.contains("echo forged"),
        "the copy runs the attacker's script"
    );
    let copy = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.clone()),
            labels: Some(original.labels().clone()),
            annotations: Some(original.annotations().clone()),
            ..Default::default()
        },
        spec: Some(serde_json::from_str(&spec)?),
        ..Default::default()
    };
    pods.delete(
        &pod_name,
        &kube::api::DeleteParams::default().grace_period(0),
    )
    .await
    .context("the attacker deletes the victim's pod")?;
    // The controller may see the pod gone while it is still pending and make it again first:
    // then the attacker has lost the race, and the victim runs on its own pod.
    let original_uid = original.uid();
    let placed =
        flotilla_e2e::wait_for("the copy in the victim's pod's place", TIMEOUT, || async {
            match pods.create(&PostParams::default(), &copy).await {
                Ok(_) => Ok(Some(true)),
                Err(kube::Error::Api(e)) if e.code == 409 => match pods.get_opt(&pod_name).await? {
                    Some(pod) if pod.uid() != original_uid => Ok(Some(false)),
                    // The original is still going away.
                    _ => Ok(None),
                },
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    let wf = scene.env.wait_finished(&created, TIMEOUT).await?;
    nothing_forged_reached(&wf)?;
    if !placed {
        ensure!(
            phase(&wf) == Some(WorkflowPhase::Succeeded),
            "the victim ran on its own pod: {}",
            message(&wf)
        );
        return scene.strike().await;
    }
    let produce = flotilla_e2e::node(&wf, "produce").context("the produce node")?;
    let replaced = format!(
        "pod {}/{pod_name} was replaced by a pod not created for this workflow",
        shared.name
    );
    ensure!(
        produce.message.as_deref() == Some(replaced.as_str())
            || produce.message.as_deref() == Some("pod deleted"),
        "the produce node ended {:?}: {:?}",
        produce.phase,
        produce.message
    );
    ensure!(
        flotilla_e2e::node(&wf, "consume").is_none(),
        "nothing ran after the replaced step"
    );
    scene.strike().await
}
