//! The end-to-end harness: two clusters named `cluster-0` (primary) and `cluster-1`, either
//! simulated in-process (the default) or real ones from the kubeconfig named by
//! `FLOTILLA_E2E_KUBECONFIG` (it must have contexts `cluster-0` and `cluster-1`).
//!
//! Tests use only what works on both: Kubernetes API calls, the real `kubectl`, and
//! conditions waited on with a deadline — never sleeps, never simulator internals.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

#[cfg(test)]
mod architecture;
mod kubectl;
mod tenant;
mod turns;
mod workflow;
pub use kubectl::Kubectl;
pub use tenant::{TENANT_ROLE, Tenant, bound_token, create_or_merge, executor_rbac, role_binding};
use turns::{
    cron_workflows, remove_cron_workflows_of_the_turn, remove_workflows_of_the_turn,
    reset_shared_configuration, workflows,
};
pub use workflow::*;

/// Where the clusters come from.
#[derive(Debug)]
pub enum Clusters {
    /// Started in this process; dropped (and stopped) with the environment.
    Simulated(flotilla::sandbox::Sandbox),
    /// Real clusters from a kubeconfig.
    Real,
}

/// A test environment: a kubeconfig with contexts `cluster-0` and `cluster-1`.
#[derive(Debug)]
pub struct Env {
    pub kubeconfig: PathBuf,
    pub clusters: Clusters,
    _dir: Option<TempDir>,
    /// On real clusters, this test's turn (see [`Env::start`]) and the uids of the Workflows
    /// that existed when it began: any other is the test's own.
    _turn: Option<(tokio::sync::MutexGuard<'static, ()>, HashSet<String>)>,
}

/// On real clusters, what a test leaves in the controller's shared configuration would reach the
/// next one (a second `rest-config` key for a cluster makes it "configured ambiguously", a
/// placement plugin stays configured): when a test's turn ends, pass or fail, the configuration
/// goes back to what `install` makes — no `rest-config` Secret, no profile Secrets, no policy,
/// plugin or images ConfigMap in `argo` of `cluster-0`.
///
/// The Workflows and CronWorkflows made during the turn go too, in any namespace of `cluster-0`,
/// with their pods in both clusters, so that the next test's controller does not inherit them.
impl Drop for Env {
    fn drop(&mut self) {
        if let (Clusters::Real, Some((_, before))) = (&self.clusters, &self._turn) {
            remove_cron_workflows_of_the_turn(&self.kubeconfig, before);
            remove_workflows_of_the_turn(&self.kubeconfig, before);
            reset_shared_configuration(&self.kubeconfig);
        }
    }
}

/// Real clusters are shared by every test of the suite — the controller watches every
/// namespace, the policy ConfigMap and the CRDs are cluster-wide — so on them the tests take
/// turns. Simulated clusters belong to one test each and need no turns.
static REAL_CLUSTERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The variable that points the suite at real clusters.
pub const REAL_KUBECONFIG_VAR: &str = "FLOTILLA_E2E_KUBECONFIG";

impl Env {
    /// Two clusters for one test: simulated ones of its own, or — with `FLOTILLA_E2E_KUBECONFIG`
    /// — the real ones, once the tests before it have finished with them.
    pub async fn start() -> Result<Env> {
        // `RUST_LOG=flotilla=debug cargo test …` shows what the controller did.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        if let Ok(path) = std::env::var(REAL_KUBECONFIG_VAR) {
            let kubeconfig = PathBuf::from(path);
            if !kubeconfig.exists() {
                bail!(
                    "{REAL_KUBECONFIG_VAR}={} does not exist",
                    kubeconfig.display()
                );
            }
            let turn = REAL_CLUSTERS.lock().await;
            // Uids are unique across kinds: one set holds the workflows' and CronWorkflows'.
            let before = workflows(&kubeconfig)
                .into_iter()
                .chain(cron_workflows(&kubeconfig))
                .map(|(_, _, uid)| uid)
                .collect();
            return Ok(Env {
                kubeconfig,
                clusters: Clusters::Real,
                _dir: None,
                _turn: Some((turn, before)),
            });
        }
        let dir = TempDir::new()?;
        let kubeconfig = dir.path().join("kubeconfig");
        let sandbox = flotilla::sandbox::Sandbox::start(2, kubeconfig.clone()).await?;
        Ok(Env {
            kubeconfig,
            clusters: Clusters::Simulated(sandbox),
            _dir: Some(dir),
            _turn: None,
        })
    }

    /// [`Env::start`], with Flotilla installed in `cluster-0`; returns an admin client for it.
    pub async fn installed() -> Result<(Env, kube::Client)> {
        let env = Env::start().await?;
        let client = env.client("cluster-0").await?;
        flotilla::sandbox::install(&client).await?;
        Ok((env, client))
    }

    /// [`Env::start`], with the controller running (see [`Env::controller`]).
    pub async fn with_controller() -> Result<(Env, flotilla::sandbox::ControllerHandle)> {
        let env = Env::start().await?;
        let controller = env.controller().await?;
        Ok((env, controller))
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self.clusters, Clusters::Simulated(_))
    }

    /// A kube-rs client for a context of the environment's kubeconfig.
    pub async fn client(&self, context: &str) -> Result<kube::Client> {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let options = kube::config::KubeConfigOptions {
            context: Some(context.to_string()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc, &options).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// Installs Flotilla into `cluster-0` (CRDs, namespace `argo`, RBAC) and runs the controller in
    /// this process; it stops when the handle is dropped.
    pub async fn controller(&self) -> Result<flotilla::sandbox::ControllerHandle> {
        let client = self.client("cluster-0").await?;
        flotilla::sandbox::install(&client).await?;
        Ok(flotilla::sandbox::spawn_controller(client, "cluster-0"))
    }

    /// Submits a workflow (YAML) to `cluster-0` in namespace `argo` and waits until it finishes.
    pub async fn run_workflow(
        &self,
        yaml: &str,
        timeout: Duration,
    ) -> Result<flotilla_engine::workflow::Workflow> {
        let client = self.client("cluster-0").await?;
        let submitted = flotilla::sandbox::submit(&client, yaml, "test workflow").await?;
        self.wait_finished(&submitted, timeout).await
    }

    /// Waits for a submitted workflow to finish.
    pub async fn wait_finished(
        &self,
        wf: &flotilla_engine::workflow::Workflow,
        timeout: Duration,
    ) -> Result<flotilla_engine::workflow::Workflow> {
        use kube::ResourceExt as _;
        let client = self.client("cluster-0").await?;
        let api: kube::Api<flotilla_engine::workflow::Workflow> =
            kube::Api::namespaced(client, &wf.namespace().unwrap_or_default());
        let name = wf.name_any();
        let last = std::sync::Mutex::new(String::new());
        let finished = wait_for(&format!("workflow {name} to finish"), timeout, || async {
            let current = api.get(&name).await?;
            if let Ok(mut last) = last.lock() {
                *last = describe(&current);
            }
            let done = current
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(|p| p.is_finished());
            Ok(done.then_some(current))
        })
        .await;
        let last = last.lock().map(|l| l.clone()).unwrap_or_default();
        finished.with_context(|| format!("last seen: {last}"))
    }

    /// Enrolls `cluster-1`'s `namespace` as the quick start does: its manifests there, and a
    /// `rest-config` key `cluster-1.NAMESPACE` in cluster-0's `argo` namespace. The server and
    /// CA come from the kubeconfig, so this works on real clusters as on simulated ones.
    pub async fn enroll(&self, namespace: &str) -> Result<String> {
        let cluster = self
            .cluster_of("cluster-1")?
            .cluster
            .context("the kubeconfig has no cluster for context cluster-1")?;
        let remote = flotilla::clusters::enroll::RemoteCluster {
            name: "cluster-1".into(),
            server: cluster.server.context("cluster-1 has no server")?,
            ca_data: cluster.certificate_authority_data,
        };
        let key = flotilla::clusters::enroll::enroll(
            &self.client("cluster-0").await?,
            "argo",
            &self.client("cluster-1").await?,
            &remote,
            namespace,
            Duration::from_secs(3600),
        )
        .await?;
        Ok(key)
    }

    /// The cluster `context` names in the environment's kubeconfig.
    pub fn cluster_of(&self, context: &str) -> Result<kube::config::NamedCluster> {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let named = kc
            .contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.context.clone())
            .with_context(|| format!("the kubeconfig has no context {context}"))?;
        kc.clusters
            .into_iter()
            .find(|c| c.name == named.cluster)
            .with_context(|| format!("the kubeconfig has no cluster for context {context}"))
    }

    /// Puts `policy.csv` in place (with the default model) through kubectl.
    pub fn set_policy(&self, policy: &str) -> Result<()> {
        let indented: String = policy.lines().map(|l| format!("    {l}\n")).collect();
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: workflow-controller-authz, namespace: argo}}\ndata:\n  policy.csv: |\n{indented}"
        );
        self.kubectl("cluster-0")
            .ok_with(&["apply", "-f", "-"], Some(&manifest))?;
        Ok(())
    }

    /// `kubectl --kubeconfig … --context …` ready for arguments.
    pub fn kubectl(&self, context: &str) -> Kubectl {
        Kubectl {
            kubeconfig: self.kubeconfig.clone(),
            context: context.to_string(),
        }
    }
}

/// Waits for `check` to return `Some`, polling with a short back-off until `timeout`; the error
/// says what was awaited.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(10);
    let mut last_err = None;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if Instant::now() >= deadline {
            match last_err {
                Some(e) => {
                    bail!("timed out after {timeout:?} waiting for {what}; last error: {e:#}")
                }
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// A unique, valid name with a prefix (for namespaces and objects of one test).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!(
        "{prefix}-{:x}{}",
        t % 0xffffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir> {
        let path = std::env::temp_dir().join(unique("flotilla-e2e"));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
