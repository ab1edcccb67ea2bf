//! One scenario's footprint on a cluster: a namespace of its own, the controller measured (one
//! started in this process for that namespace under an instance ID of its own, or the cluster's
//! own), and their removal at the end, whatever happened.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use flotilla_engine::EngineConfig;
use flotilla_engine::workflow::{Workflow, labels};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use super::{BenchArgs, Scenario, cluster::Cluster};
use crate::controller::{self, ControllerConfig, ControllerHandle};

pub struct Session {
    pub client: kube::Client,
    pub namespace: String,
    /// The engine settings the measured controller runs with (the plain client's manifests are
    /// made with the same).
    pub engine: EngineConfig,
    pub concurrency: usize,
    pub timeout: Duration,
    controller: Option<ControllerHandle>,
}

impl Session {
    pub async fn open(cluster: &Cluster, args: &BenchArgs, scenario: Scenario) -> Result<Session> {
        let client = cluster.client.clone();
        let namespace = format!("flotilla-bench-{}-{}", scenario.name(), suffix());
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": namespace, "labels": {"app.kubernetes.io/created-by": "flotilla-bench"}}
        }))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {namespace}"))?;
        let mut engine = EngineConfig::default();
        if let Some(image) = &args.executor_image {
            engine.executor_image.clone_from(image);
        }
        let controller = if args.external_controller {
            engine.instance_id.clone_from(&args.instance_id);
            None
        } else {
            // An instance ID no other controller serves: a controller already running for the
            // cluster (Flotilla's or Argo's) leaves this run's workflows alone.
            engine.instance_id = Some(namespace.clone());
            Some(controller::spawn(
                client.clone(),
                ControllerConfig {
                    namespace: Some(namespace.clone()),
                    controller_namespace: namespace.clone(),
                    engine: engine.clone(),
                    ..ControllerConfig::default()
                },
            ))
        };
        let session = Session {
            client,
            namespace,
            engine,
            concurrency: usize::from(args.concurrency),
            timeout: Duration::from_secs(args.timeout_seconds),
            controller,
        };
        if let Some(controller) = &session.controller {
            // Its start (lists, watches) is not what is measured.
            if !controller.ready(session.timeout).await {
                let namespace = session.namespace.clone();
                session.close().await;
                bail!(
                    "the controller started for namespace {namespace} did not become ready \
                     (its caches never listed: see its log above; it needs the rights of \
                     Flotilla's controller ClusterRole)"
                );
            }
        }
        Ok(session)
    }

    /// An API of kind `K` in the session's namespace.
    pub fn api<K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>>(
        &self,
    ) -> Api<K> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// `wf` labelled for the measured controller.
    pub fn labelled(&self, mut wf: Workflow) -> Workflow {
        if let Some(id) = &self.engine.instance_id {
            wf.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(labels::CONTROLLER_INSTANCE_ID.into(), id.clone());
        }
        wf
    }

    /// The label selector of the workflows and pods the measured controller owns here.
    pub fn selector(&self) -> String {
        match &self.engine.instance_id {
            Some(id) => format!("{}={id}", labels::CONTROLLER_INSTANCE_ID),
            None => format!("!{}", labels::CONTROLLER_INSTANCE_ID),
        }
    }

    pub async fn submit(&self, wf: &Workflow) -> Result<()> {
        self.api::<Workflow>()
            .create(&PostParams::default(), wf)
            .await
            .with_context(|| {
                format!(
                    "submitting workflow {}",
                    wf.metadata.name.as_deref().unwrap_or_default()
                )
            })?;
        Ok(())
    }

    /// Deletes every workflow and pod of the namespace and waits until its pods are gone, so
    /// that the next round starts from the same state.
    pub async fn clear(&self) -> Result<()> {
        let now = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::background()
        };
        self.api::<Workflow>()
            .delete_collection(&now, &ListParams::default())
            .await
            .context("deleting the round's workflows")?;
        let pods: Api<Pod> = self.api();
        pods.delete_collection(&now, &ListParams::default())
            .await
            .context("deleting the round's pods")?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let left = pods
                .list_metadata(&ListParams::default().limit(1))
                .await
                .context("listing the pods left")?;
            if left.items.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "pods of namespace {} were still there after {} s",
                    self.namespace,
                    self.timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Removes the namespace (with all it holds) and waits for it to go, then stops the
    /// controller; says so on standard error when it could not.
    pub async fn close(self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let gone = async {
            namespaces
                .delete(&self.namespace, &DeleteParams::background())
                .await?;
            while namespaces.get_opt(&self.namespace).await?.is_some() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Ok::<_, kube::Error>(())
        };
        let wait = self.timeout.max(Duration::from_secs(120));
        match tokio::time::timeout(wait, gone).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: removing namespace {}: {e}", self.namespace),
            Err(_) => eprintln!(
                "warning: namespace {} was not gone after {} s; remove it with kubectl delete namespace {}",
                self.namespace,
                wait.as_secs(),
                self.namespace
            ),
        }
    }
}

/// Eight hex digits that differ between runs (namespace and instance names).
fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    format!(
        "{:08x}",
        (nanos ^ u64::from(std::process::id()).rotate_left(32)) as u32
    )
}
