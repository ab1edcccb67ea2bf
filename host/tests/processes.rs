//! The production shape, with separate processes: `flotilla sim serve` stands in for the
//! clusters, `flotilla controller` runs as it would in its Deployment, and the user drives both
//! with the real kubectl; the Deployment's probes answer as they would in the cluster.

use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::processes::{Killed, sim_serve};

mod common;

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl must be installed for this test (kubectl 1.24 or later)");
    assert!(
        out.status.success(),
        "kubectl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An address on loopback that nothing listens on now.
fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").to_string()
}

/// The status code of `GET path` at `addr`, if anything answered.
fn get(addr: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// `flotilla sim serve` with one cluster and Flotilla's manifests applied, as an administrator
/// would install them; everything is removed when it is dropped.
struct Installed {
    repo: PathBuf,
    dir: PathBuf,
    kubeconfig: PathBuf,
    _sim: Killed,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn installed(tag: &str) -> Installed {
    let served = served(tag);
    for file in [
        "manifests/base/crds.yaml",
        "manifests/base/namespace.yaml",
        "manifests/base/controller-rbac.yaml",
    ] {
        served.kubectl(&["apply", "-f", &served.repo.join(file).display().to_string()]);
    }
    served.kubectl(&[
        "wait",
        "--for=condition=Established",
        "crd/workflows.argoproj.io",
        "--timeout=60s",
    ]);
    served
}

/// `flotilla sim serve` with one cluster and nothing installed.
fn served(tag: &str) -> Installed {
    served_with(tag, &[])
}

/// `flotilla sim serve` with one cluster, nothing installed, and `extra` flags.
fn served_with(tag: &str, extra: &[&str]) -> Installed {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("flotilla-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (kubeconfig, sim) = sim_serve(&dir, extra);
    Installed {
        repo,
        dir,
        kubeconfig,
        _sim: sim,
    }
}

impl Installed {
    /// `flotilla controller` as the Deployment runs it, with `extra` flags; its probes' address.
    fn controller(&self, extra: &[&str]) -> (Child, String) {
        let probes = free_port();
        let child = common::processes::controller(&self.kubeconfig)
            .args(["--metrics-addr", &probes])
            .args(extra)
            .spawn()
            .expect("flotilla controller runs");
        (child, probes)
    }

    fn kubectl(&self, args: &[&str]) -> String {
        kubectl(&self.kubeconfig, args)
    }

    /// Creates the workflow in `file` (under the repository, or absolute) in `argo`; its name.
    fn submit(&self, file: &Path) -> String {
        let file = self.repo.join(file).display().to_string();
        let name = self.kubectl(&["-n", "argo", "create", "-f", &file, "-o", "name"]);
        name.trim()
            .trim_start_matches("workflow.argoproj.io/")
            .to_owned()
    }

    /// `kubectl -n argo get pods -l workflows.argoproj.io/workflow=NAME -o OUTPUT`.
    fn pods_of(&self, workflow: &str, output: &str) -> String {
        let selector = format!("workflows.argoproj.io/workflow={workflow}");
        self.kubectl(&["-n", "argo", "get", "pods", "-l", &selector, "-o", output])
    }

    fn wait_succeeded(&self, name: &str) {
        self.kubectl(&[
            "-n",
            "argo",
            "wait",
            "--for=jsonpath={.status.phase}=Succeeded",
            &format!("workflow/{name}"),
            "--timeout=90s",
        ]);
    }
}

/// Waits until the probe at `addr` answers `/readyz` with 200.
fn wait_ready(addr: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while get(addr, "/readyz") != Some(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "the controller never became ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_controller_process_runs_a_workflow_submitted_with_kubectl() {
    let env = installed("processes");
    let (controller, probes) = env.controller(&[]);
    let _controller = Killed(controller);
    // The Deployment's probes: ready once the caches have listed.
    wait_ready(&probes);
    assert_eq!(get(&probes, "/healthz"), Some(200));

    let name = env.submit(Path::new("examples/hello-world.yaml"));
    assert!(name.starts_with("hello-world-"), "{name}");
    env.wait_succeeded(&name);
    let table = env.kubectl(&["-n", "argo", "get", "workflows"]);
    assert!(
        table.contains("Succeeded"),
        "kubectl get workflows: {table}"
    );
}

/// A workflow of six short pods in two rounds: long enough for a controller to die mid-way.
const TWO_ROUNDS: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: handover-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: first
            template: nap
            withItems: [1, 2, 3]
        - - name: second
            template: nap
            withItems: [1, 2, 3]
    - name: nap
      container:
        image: argoproj/argosay:v2
        args: [sleep, 3s]
"#;

/// Who holds the controller's Lease (empty while no one does).
fn holder(env: &Installed) -> String {
    env.kubectl(&[
        "-n",
        "argo",
        "get",
        "lease",
        "flotilla-workflow-controller",
        "-o",
        "jsonpath={.spec.holderIdentity}",
        "--ignore-not-found",
    ])
}

/// The reporting instances of the events about workflow `name`.
fn reporters_of(env: &Installed, name: &str) -> Vec<String> {
    let events = env.kubectl(&["-n", "argo", "get", "events.events.k8s.io", "-o", "json"]);
    let events: serde_json::Value = serde_json::from_str(&events).expect("events as JSON");
    events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["regarding"]["name"] == name)
        .map(|e| {
            e["reportingInstance"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Two replicas, as the Deployment runs them: one leads and is the only one that writes; the
/// other keeps warm caches. The leader is killed (SIGKILL: no hand-over) in the middle of a
/// workflow, and the standby takes it over once the lease expires — no node gets two pods.
#[test]
fn of_two_controller_processes_only_the_leader_acts_and_the_standby_takes_over() {
    let env = installed("leader");
    let lease = ["--leader-election-lease-seconds", "6"];
    let (a, a_probes) =
        env.controller(&[&lease[..], &["--leader-election-identity", "replica-a"]].concat());
    let (b, b_probes) =
        env.controller(&[&lease[..], &["--leader-election-identity", "replica-b"]].concat());
    let mut replicas =
        std::collections::HashMap::from([("replica-a", Killed(a)), ("replica-b", Killed(b))]);
    wait_ready(&a_probes);
    wait_ready(&b_probes);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let leader = loop {
        let holder = holder(&env);
        if replicas.contains_key(holder.as_str()) {
            break holder;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no replica took the lease"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let standby = if leader == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };

    let file = env.dir.join("two-rounds.yaml");
    std::fs::write(&file, TWO_ROUNDS).expect("workflow file");
    let first = env.submit(&file);
    env.wait_succeeded(&first);
    let reporters = reporters_of(&env, &first);
    assert!(!reporters.is_empty(), "no events about {first}");
    assert!(
        reporters.iter().all(|r| *r == leader),
        "events of {first} came from {reporters:?}; only the leader {leader} may write"
    );

    // Mid-way through the next workflow, the leader dies without handing over.
    let second = env.submit(&file);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while env.pods_of(&second, "name").trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{second} never made a pod"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(replicas.remove(leader.as_str()));
    env.wait_succeeded(&second);
    assert_eq!(holder(&env), standby, "the standby holds the lease");
    assert!(
        reporters_of(&env, &second).iter().any(|r| r == standby),
        "the standby finished {second}"
    );
    let pods = env.pods_of(
        &second,
        "jsonpath={range .items[*]}{.metadata.annotations.workflows\\.argoproj\\.io/node-id}{\"\\n\"}{end}",
    );
    let nodes: Vec<&str> = pods.lines().filter(|l| !l.is_empty()).collect();
    let unique: std::collections::BTreeSet<&str> = nodes.iter().copied().collect();
    assert_eq!(
        nodes.len(),
        6,
        "one pod for each of the six naps: {nodes:?}"
    );
    assert_eq!(unique.len(), nodes.len(), "a node with two pods: {nodes:?}");
}

/// `flotilla bench --kubeconfig K ARGS…`: its standard output, or its standard error when it
/// failed.
fn bench(kubeconfig: &Path, out: &Path, args: &[&str]) -> Result<String, String> {
    let run = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .arg("bench")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--output")
        .arg(out)
        .args(args)
        .output()
        .expect("flotilla bench runs");
    if run.status.success() {
        Ok(String::from_utf8_lossy(&run.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&run.stderr).into_owned())
    }
}

#[test]
fn bench_measures_the_cluster_a_kubeconfig_names_and_removes_what_it_made() {
    // A cluster without Flotilla's CRDs is named as such.
    let bare = served("bench-bare");
    let refused = bench(&bare.kubeconfig, &bare.dir.join("r.json"), &["fanout"])
        .expect_err("a cluster without the CRDs cannot be measured");
    assert!(
        refused.contains("no workflows.argoproj.io CustomResourceDefinition")
            && refused.contains("flotilla crd | kubectl apply -f -"),
        "{refused}"
    );

    let env = installed("bench");
    let report = env.dir.join("bench.json");
    let small = [
        "--pods",
        "30",
        "--rounds",
        "1",
        "--workflows",
        "8",
        "--rate",
        "20",
        "--duration-seconds",
        "1",
    ];
    let table = bench(&env.kubeconfig, &report, &small).expect("flotilla bench");
    assert!(table.contains("flotilla / ceiling"), "{table}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the JSON report")).expect("JSON");
    let results = json["results"].as_array().expect("results");
    let scenarios: Vec<&str> = results
        .iter()
        .filter_map(|r| r["scenario"].as_str())
        .collect();
    assert_eq!(scenarios, ["fanout", "workflows", "latency"], "{json:#}");
    for r in results {
        assert_eq!(
            r["simulated"], false,
            "measured through the kubeconfig: {r:#}"
        );
        assert!(
            r["server_version"]
                .as_str()
                .is_some_and(|v| v.starts_with('v')),
            "{r:#}"
        );
    }
    let (fanout, workflows, latency) = (&results[0], &results[1], &results[2]);
    assert_eq!(fanout["pods"], 30);
    for side in ["plain_client_pods_per_s", "flotilla_pods_per_s"] {
        let rates = fanout[side].as_array().expect("per-round rates");
        assert!(
            rates.len() == 1 && rates[0].as_f64() > Some(0.0),
            "{fanout:#}"
        );
    }
    assert_eq!(workflows["workflows"], 8);
    assert_eq!(workflows["not_succeeded"], 0, "{workflows:#}");
    assert!(
        workflows["submit_to_finished_p99_ms"].as_f64() > Some(0.0),
        "{workflows:#}"
    );
    assert_eq!(latency["workflows"], 20);
    assert!(
        latency["submit_to_first_pod_p50_ms"].as_f64() > Some(0.0),
        "{latency:#}"
    );

    // The controller already serving the cluster, measured instead of one started by the
    // benchmark: its workflows succeed too.
    let (controller, _) = env.controller(&["--leader-elect=false"]);
    let _controller = Killed(controller);
    let external = env.dir.join("external.json");
    bench(
        &env.kubeconfig,
        &external,
        &["workflows", "--workflows", "5", "--external-controller"],
    )
    .expect("flotilla bench --external-controller");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&external).expect("report")).expect("JSON");
    assert_eq!(json["controller"], "external");
    assert_eq!(json["results"][0]["not_succeeded"], 0, "{json:#}");

    // Every namespace the runs made is gone, and with it all they created.
    let namespaces = env.kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(!namespaces.contains("flotilla-bench-"), "{namespaces}");

    // Interrupted (Ctrl-C) in the middle of a run, it still removes what it made.
    let long = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .arg("bench")
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .arg("--output")
        .arg(env.dir.join("interrupted.json"))
        .args(["latency", "--rate", "5", "--duration-seconds", "3600"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flotilla bench runs");
    let started = std::time::Instant::now();
    while !env
        .kubectl(&["get", "namespaces", "-o", "name"])
        .contains("flotilla-bench-latency-")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no namespace made"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Some workflows submitted, so there is something to remove.
    std::thread::sleep(Duration::from_secs(1));
    let interrupted = Command::new("kill")
        .args(["-INT", &long.id().to_string()])
        .status()
        .expect("kill");
    assert!(interrupted.success());
    let output = long.wait_with_output().expect("the benchmark ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "an interrupted run fails: {stderr}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    let namespaces = env.kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(!namespaces.contains("flotilla-bench-"), "{namespaces}");
}

/// On a control plane whose only kubelet is `flotilla sim kubelet` in its own process, the API
/// server finds that kubelet's API where its Node says and `kubectl logs` reads through it.
#[test]
fn kubectl_logs_reach_the_kubelet_process_the_node_registers() {
    let env = served_with("kubelet-api", &["--no-kubelet"]);
    // The kubelet admits the API server by its client certificate, signed by the cluster's CA
    // (the one the kubeconfig trusts).
    let ca = env.kubectl(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let ca_file = env.dir.join("ca.pem");
    std::fs::write(
        &ca_file,
        base64::engine::general_purpose::STANDARD
            .decode(ca.trim())
            .expect("the kubeconfig's CA is base64"),
    )
    .expect("CA file");
    let kubelet = Killed(
        Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["sim", "kubelet", "--kubeconfig"])
            .arg(&env.kubeconfig)
            .args([
                "--node-name",
                "solo",
                "--node-ip",
                "127.0.0.1",
                "--port",
                "0",
                "--client-ca-file",
            ])
            .arg(&ca_file)
            .spawn()
            .expect("flotilla sim kubelet runs"),
    );
    let pod = env.dir.join("say.yaml");
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: say\n  namespace: default\nspec:\n  restartPolicy: Never\n  containers:\n    - name: main\n      image: argoproj/argosay:v2\n      args: [echo, hello from another process]\n",
    )
    .expect("pod manifest");
    env.kubectl(&["apply", "-f", &pod.display().to_string()]);
    env.kubectl(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/say",
        "--timeout=60s",
    ]);
    // Port 0: the kubelet listens where it can, and its Node says where.
    let port = env.kubectl(&[
        "get",
        "node",
        "solo",
        "-o",
        "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}",
    ]);
    assert!(
        port.parse::<u16>().is_ok_and(|p| p > 0),
        "registered port {port:?}"
    );
    let logs = env.kubectl(&["logs", "say"]);
    assert_eq!(logs, "hello from another process\n");

    drop(kubelet);
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .args(["logs", "say"])
        .output()
        .expect("kubectl runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains(&format!(
                "Get \"https://127.0.0.1:{port}/containerLogs/default/say/main\""
            )),
        "with the kubelet gone, kubectl logs says where it could not reach: {stderr}"
    );
}
