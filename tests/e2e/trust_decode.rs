//! The attacker's test for issue 10, item 4: one malformed object harms only itself.
//!
//! A tenant stores a task result whose `outputs.result` is a number and a workflow whose
//! `parallelism` is a string. Flotilla's own CRDs now reject both at the door (see `crds.rs`), so
//! the test puts the CRDs in the shape Argo's quick start installs — `spec`, `status` and
//! `outputs` preserve anything — as a cluster running Argo's minimal CRDs would have them, and
//! puts Flotilla's back at the end. The controller must keep running, another workflow must
//! still succeed, and each malformed object gets a Warning event naming its field without
//! quoting its content.
//!
//! The same module checks that the controller refuses a Workflow CRD that would prune the
//! fields Flotilla adds (Argo's full CRDs type every field Argo knows and prune the rest). Both
//! tests change the cluster-wide CRDs: on real clusters `Env::start` gives each test its turn,
//! and each puts Flotilla's CRDs back before it ends.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use flotilla_e2e::{
    Env, Tenant, WORKFLOW_TIMEOUT as TIMEOUT, ensure_phase, main_workflow, wait_for,
};
use flotilla_engine::workflow::{Workflow, WorkflowPhase, WorkflowTaskResult};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::serde::Deserialize as _;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

const FLOTILLA_CRDS: &str = include_str!("../../manifests/base/crds.yaml");

/// A CRD of `argoproj.io/v1alpha1` named `$name` with `names: $names`, as far as its schema's
/// top-level `type`: what the CRDs below share.
macro_rules! crd_head {
    ($name:literal, $names:literal) => {
        concat!(
            "\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ",
            $name,
            "}\nspec:\n  group: argoproj.io\n  names: ",
            $names,
            r#"
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
"#
        )
    };
}

/// The Workflow CRD's head (see `crd_head`).
macro_rules! workflow_crd_head {
    () => {
        crd_head!(
            "workflows.argoproj.io",
            "{kind: Workflow, listKind: WorkflowList, plural: workflows, shortNames: [wf], singular: workflow}"
        )
    };
}

/// A Workflow CRD shaped as Argo's full CRDs are: a structural schema naming the fields Argo
/// knows and preserving nothing else (a handful here; Argo's names them all).
const PRUNING_CRD: &str = concat!(
    workflow_crd_head!(),
    r#"        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            properties:
              entrypoint: {type: string}
              templates:
                type: array
                items:
                  type: object
                  properties:
                    name: {type: string}
                    container: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              phase: {type: string}
              nodes:
                type: object
                additionalProperties:
                  type: object
                  properties:
                    id: {type: string}
                    name: {type: string}
                    phase: {type: string}
"#
);

/// The two CRDs as Argo's quick start (its minimal CRDs) installs them: no types below the top.
const ARGO_MINIMAL_CRDS: &str = concat!(
    workflow_crd_head!(),
    r#"        required: [metadata, spec]
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec: {type: object, x-kubernetes-map-type: atomic, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-map-type: atomic, x-kubernetes-preserve-unknown-fields: true}
---"#,
    crd_head!(
        "workflowtaskresults.argoproj.io",
        "{kind: WorkflowTaskResult, listKind: WorkflowTaskResultList, plural: workflowtaskresults, singular: workflowtaskresult}"
    ),
    r#"        required: [metadata]
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          message: {type: string}
          phase: {type: string}
          progress: {type: string}
          outputs: {type: object, x-kubernetes-map-type: atomic, x-kubernetes-preserve-unknown-fields: true}
"#
);

/// What the tenant hides in its malformed objects: it must never be repeated.
const RESULT_SECRET: i64 = 8_675_309_031_337;
const PARALLELISM_SECRET: &str = "s3cr3t-parallelism";

fn good_workflow() -> String {
    main_workflow(
        "decode-good-",
        "",
        "    container: {image: argoproj/argosay:v2, args: [echo, hello]}\n",
    )
}

/// Replaces the two CRDs with those in `yaml` (a replace, not a merge: a schema must lose
/// what the new one does not have).
async fn replace_crds(env: &Env, yaml: &str) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(env.client("cluster-0").await?);
    for document in serde_yaml::Deserializer::from_str(yaml) {
        let mut crd = CustomResourceDefinition::deserialize(document)?;
        if crd.metadata.name.is_none() {
            continue;
        }
        let name = crd.name_any();
        // The API server's own controllers write the CRD's status (conditions, accepted names)
        // after any change, so a replace may lose to them: read again and retry, as
        // client-go's `RetryOnConflict` does.
        let mut attempts = 0;
        loop {
            let current = crds.get(&name).await?;
            crd.metadata.resource_version = current.metadata.resource_version;
            match crds.replace(&name, &PostParams::default(), &crd).await {
                Ok(_) => break,
                Err(kube::Error::Api(s)) if s.code == 409 && attempts < 10 => attempts += 1,
                Err(e) => return Err(e).with_context(|| format!("replacing CRD {name}")),
            }
        }
    }
    Ok(())
}

fn api_of<K: Resource<DynamicType = ()>>(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &ApiResource::erase::<K>(&()))
}

/// Creates `object` as the tenant, retrying while the API server still applies the schema it
/// had before the CRDs changed.
async fn create_as_tenant<K: Resource<DynamicType = ()>>(
    tenant: &Tenant,
    object: serde_json::Value,
) -> Result<()> {
    let api = api_of::<K>(&tenant.client, &tenant.namespace);
    let object: DynamicObject = serde_json::from_value(object)?;
    let name = object.name_any();
    wait_for(
        &format!("the API server to accept the malformed {}", K::kind(&())),
        Duration::from_secs(60),
        || {
            let (api, object) = (api.clone(), object.clone());
            async move {
                match api.create(&PostParams::default(), &object).await {
                    Ok(_) => Ok(Some(())),
                    Err(kube::Error::Api(s)) if s.code == 422 => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        },
    )
    .await
    .with_context(|| format!("creating {name}"))
}

/// The Warning event about `name` with `reason` in the tenant's namespace (read by an admin:
/// the quick start lets tenants read core events only).
async fn warning(env: &Env, tenant: &Tenant, name: &str, reason: &str) -> Result<Event> {
    let admin = env.client("cluster-0").await?;
    let events: Api<Event> = Api::namespaced(admin, &tenant.namespace);
    wait_for(
        &format!("a {reason} event about {name}"),
        TIMEOUT,
        || async {
            let list = events.list(&ListParams::default()).await?;
            Ok(list.items.into_iter().find(|e| {
                e.type_.as_deref() == Some("Warning")
                    && e.reason.as_deref() == Some(reason)
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
            }))
        },
    )
    .await
}

/// Returns the controller running at the end: one that started with the malformed objects
/// already stored (a restart lists them; a running watch only sees them go by).
async fn attack(
    env: &Env,
    tenant: &Tenant,
    running: flotilla::sandbox::ControllerHandle,
) -> Result<flotilla::sandbox::ControllerHandle> {
    replace_crds(env, ARGO_MINIMAL_CRDS).await?;
    let ns = &tenant.namespace;
    create_as_tenant::<WorkflowTaskResult>(
        tenant,
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "WorkflowTaskResult",
            "metadata": {
                "name": "bad-result",
                "namespace": ns,
                "labels": {"workflows.argoproj.io/workflow": "victim"},
            },
            "outputs": {"result": RESULT_SECRET},
        }),
    )
    .await?;
    create_as_tenant::<Workflow>(
        tenant,
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "bad-workflow", "namespace": ns},
            "spec": {
                "entrypoint": "main",
                "parallelism": PARALLELISM_SECRET,
                "templates": [{"name": "main", "container": {"image": "argoproj/argosay:v2"}}],
            },
        }),
    )
    .await?;

    // The controller restarts (an upgrade, a node drain): its first lists hold both objects.
    drop(running);
    let controller =
        flotilla::sandbox::spawn_controller(env.client("cluster-0").await?, "cluster-0");

    // Everyone else's workflows still run.
    let good = env.run_workflow(&good_workflow(), TIMEOUT).await?;
    let good_api: Api<Workflow> = Api::namespaced(env.client("cluster-0").await?, "argo");
    good_api
        .delete(&good.name_any(), &DeleteParams::default())
        .await?;
    ensure_phase(&good, WorkflowPhase::Succeeded)?;

    // Each malformed object is reported on itself, by field, without its content.
    for (name, reason, field, secret) in [
        (
            "bad-result",
            "WorkflowTaskResultMalformed",
            "outputs.result",
            RESULT_SECRET.to_string(),
        ),
        (
            "bad-workflow",
            "WorkflowMalformed",
            "spec.parallelism",
            PARALLELISM_SECRET.to_string(),
        ),
    ] {
        let event = warning(env, tenant, name, reason).await?;
        let note = event.note.clone().unwrap_or_default();
        ensure!(
            note.contains(field),
            "the event names the field {field}: {note}"
        );
        ensure!(
            !serde_json::to_string(&event)?.contains(&secret),
            "the event repeats the object's content: {event:?}"
        );
    }
    let metrics = flotilla::metrics::encode();
    for kind in ["Workflow", "WorkflowTaskResult"] {
        ensure!(
            metrics.contains(&format!(
                "flotilla_invalid_objects_total{{kind=\"{kind}\"}}"
            )),
            "{metrics}"
        );
    }
    // The malformed workflow is left as it was: no status written over what could not be read.
    let bad = api_of::<Workflow>(&env.client("cluster-0").await?, ns)
        .get("bad-workflow")
        .await?;
    ensure!(
        bad.data.get("status").is_none(),
        "the malformed workflow was written: {:?}",
        bad.data
    );
    Ok(controller)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_task_result_or_workflow_harms_only_itself() -> Result<()> {
    let env = Env::start().await?;
    let controller = env.controller().await?;
    let tenant = env.tenant("cluster-0", "team-a").await?;
    let outcome = attack(&env, &tenant, controller).await;
    // Put things back whatever happened: the tenant (and its objects), then Flotilla's CRDs.
    let removed = tenant.remove().await;
    let restored = replace_crds(&env, FLOTILLA_CRDS).await;
    let controller = outcome?;
    removed?;
    restored?;
    ensure!(controller.is_running(), "the controller stopped");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_crd_that_prunes_flotillas_fields_is_refused_at_start_up() -> Result<()> {
    let (env, admin) = Env::installed().await?;
    let outcome = refused_over_pruning_crd(&env, &admin).await;
    let restored = replace_crds(&env, FLOTILLA_CRDS).await;
    outcome?;
    restored
}

async fn refused_over_pruning_crd(env: &Env, admin: &kube::Client) -> Result<()> {
    replace_crds(env, PRUNING_CRD).await?;
    let config = flotilla::controller::ControllerConfig {
        engine: flotilla_engine::EngineConfig {
            cluster: Some("cluster-0".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let run = flotilla::controller::run(admin.clone(), config, std::future::pending());
    let stopped = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .context("the controller started over a CRD that prunes its fields")?;
    let error = match stopped {
        Ok(()) => anyhow::bail!("the controller returned without an error"),
        Err(e) => e.to_string(),
    };
    // Which fields a schema prunes is `pruned_fields`' own unit tests' matter; here, that the
    // controller's refusal names every one this CRD prunes.
    let crd: serde_json::Value = serde_yaml::from_str(PRUNING_CRD)?;
    let pruned = flotilla_engine::workflow::crd::pruned_fields(&crd);
    ensure!(
        pruned.iter().any(|f| f.starts_with("spec."))
            && pruned.iter().any(|f| f.starts_with("status.")),
        "the test's CRD should prune fields of both spec and status: {pruned:?}"
    );
    for field in &pruned {
        ensure!(
            error.contains(field.as_str()),
            "the refusal does not name {field}: {error}"
        );
    }
    Ok(())
}
