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
mod tenant;
pub use tenant::{TENANT_ROLE, Tenant, bound_token, create_or_merge, executor_rbac, role_binding};

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
/// The Workflows made during the turn go too, in any namespace of `cluster-0`, with their pods in
/// both clusters, so that the next test's controller does not inherit them.
impl Drop for Env {
    fn drop(&mut self) {
        if let (Clusters::Real, Some((_, before))) = (&self.clusters, &self._turn) {
            remove_workflows_of_the_turn(&self.kubeconfig, before);
            reset_shared_configuration(&self.kubeconfig);
        }
    }
}

/// Runs kubectl on the environment's kubeconfig; its output, or `None` with the failure
/// reported (cleaning up is not the test's outcome, and runs while an environment is dropped).
fn kubectl_cleanup(kubeconfig: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output();
    match out {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => {
            eprintln!(
                "cleaning up: kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("cleaning up: kubectl: {e}");
            None
        }
    }
}

/// The Workflows of `cluster-0` in every namespace: (namespace, name, uid) each; none when they
/// cannot be listed (no CRD yet).
fn workflows(kubeconfig: &Path) -> Vec<(String, String, String)> {
    let listing = "jsonpath={range .items[*]}{.metadata.namespace} {.metadata.name} {.metadata.uid}{\"\\n\"}{end}";
    // Quietly: before Flotilla is installed there is no such resource to list.
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--context", "cluster-0", "get", "workflows.argoproj.io"])
        .args(["--all-namespaces", "-o", listing])
        .output();
    let listed = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ => return Vec::new(),
    };
    listed
        .lines()
        .filter_map(|l| {
            let mut fields = l.split(' ');
            Some((
                fields.next()?.to_owned(),
                fields.next()?.to_owned(),
                fields.next()?.to_owned(),
            ))
        })
        .collect()
}

/// Deletes the Workflows of `cluster-0` whose uids are not in `before` (the tests take turns, so
/// they are this test's), without their finalizer — the controller that would honour it has
/// stopped with the test — and their pods in both clusters. By uid, not by creation time: the
/// test machine's clock need not agree with the API server's.
fn remove_workflows_of_the_turn(kubeconfig: &Path, before: &HashSet<String>) {
    for (namespace, name, uid) in workflows(kubeconfig) {
        if before.contains(&uid) {
            continue;
        }
        let at = ["--context", "cluster-0", "-n", namespace.as_str()];
        let delete = [
            &at[..],
            &[
                "delete",
                "workflows.argoproj.io",
                &name,
                "--ignore-not-found",
                "--wait=false",
            ],
        ]
        .concat();
        kubectl_cleanup(kubeconfig, &delete);
        let unfinalize = [
            &at[..],
            &[
                "patch",
                "workflows.argoproj.io",
                &name,
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ],
        ]
        .concat();
        // Gone already (no finalizer held it) is the usual answer.
        let _ = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(&unfinalize)
            .output();
        let selector = format!("workflows.argoproj.io/workflow={name}");
        for context in ["cluster-0", "cluster-1"] {
            kubectl_cleanup(
                kubeconfig,
                &[
                    "--context",
                    context,
                    "delete",
                    "pods",
                    "--all-namespaces",
                    "-l",
                    &selector,
                    "--ignore-not-found",
                    "--wait=false",
                ],
            );
        }
    }
}

/// Deletes the controller configuration tests create in `argo` of `cluster-0`, with kubectl
/// (synchronous, so it can run while an environment is dropped); failures are reported, not
/// fatal, as the test's own outcome is what matters.
fn reset_shared_configuration(kubeconfig: &Path) {
    let deletions: [&[&str]; 3] = [
        &["secret", flotilla::clusters::REST_CONFIG_SECRET],
        &["secret", "-l", flotilla::clusters::PROFILE_LABEL],
        &[
            "configmap",
            flotilla::authz::CONFIG_MAP,
            flotilla::plugins::settings::CONFIG_MAP,
            flotilla::controller::IMAGES_CONFIG_MAP,
        ],
    ];
    for what in deletions {
        let delete = [
            &[
                "--context",
                "cluster-0",
                "-n",
                "argo",
                "delete",
                "--ignore-not-found",
                "--wait=false",
            ][..],
            what,
        ]
        .concat();
        kubectl_cleanup(kubeconfig, &delete);
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
            let before = workflows(&kubeconfig)
                .into_iter()
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

/// The real kubectl binary against one context. Missing kubectl is a test failure, never a skip.
#[derive(Debug, Clone)]
pub struct Kubectl {
    pub kubeconfig: PathBuf,
    pub context: String,
}

impl Kubectl {
    pub fn with_kubeconfig(mut self, path: &Path) -> Self {
        self.kubeconfig = path.to_path_buf();
        self
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        use std::io::Write as _;
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--context")
            .arg(&self.context)
            .args(args);
        cmd.stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        });
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().context(
            "running `kubectl` failed — it must be installed and on PATH for the end-to-end suite (kubectl 1.32 is expected)",
        )?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes())?;
        }
        Ok(child.wait_with_output()?)
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Result<String> {
        self.ok_with(args, None)
    }

    pub fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let out = self.run(args, stdin)?;
        if !out.status.success() {
            bail!(
                "kubectl {} failed ({}):\nstdout: {}\nstderr: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs and requires failure; returns stderr.
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let out = self.run(args, stdin)?;
        if out.status.success() {
            bail!(
                "kubectl {} succeeded but should have failed:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }

    pub fn json(&self, args: &[&str]) -> Result<serde_json::Value> {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.ok(&all)?;
        serde_json::from_str(&out)
            .with_context(|| format!("kubectl {} printed invalid JSON: {out}", args.join(" ")))
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

/// A workflow's phase and its nodes' phases and messages, one line.
fn describe(wf: &flotilla_engine::workflow::Workflow) -> String {
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
