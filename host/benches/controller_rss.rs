//! Controller memory: resident set size of a `flotilla controller` process watching 1,000
//! running workflows of 10 pods each (10,000 running pods), served by `flotilla sim serve` in
//! another process (target: ≤ 150 MB); then, against a new simulator and controller, one
//! workflow fanning out into 100,000 nodes (its pods left unscheduled, so only the controller's
//! side is measured): its memory, and what became of a status that large (stored compressed
//! within the object size limit, or the workflow failed saying why).
//!
//! Run: `cargo bench -p flotilla --bench controller_rss` (`FLOTILLA_RSS_CASE=small` or `large`
//! for one case, `FLOTILLA_RSS_NODES=N` for a large case of N nodes, `FLOTILLA_RSS_CONTROLLER`
//! for another build's `flotilla` as the controller). Figures go to docs/performance.md.

use std::process::Child;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

const WORKFLOWS: usize = 1_000;
/// Registered clusters no workflow uses.
const IDLE_CLUSTERS: usize = 50;
const PODS_PER_WORKFLOW: usize = 10;
/// Pods of the large case's fan-out: with its step group and root, 100,000 nodes
/// (`FLOTILLA_RSS_NODES` for another count of nodes).
const LARGE_FAN_OUT: usize = 99_998;

fn large_fan_out() -> usize {
    std::env::var("FLOTILLA_RSS_NODES")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(LARGE_FAN_OUT, |n| n.saturating_sub(2).max(1))
}

#[allow(dead_code)]
#[path = "../tests/common/processes.rs"]
mod processes;
use processes::Killed;

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb / 1024.0
}

/// Requests seen by [`counting_listener`]: watches, and everything else.
#[derive(Clone, Default)]
struct Requests(std::sync::Arc<parking_lot::Mutex<(usize, usize)>>);

impl Requests {
    fn counts(&self) -> (usize, usize) {
        *self.0.lock()
    }
}

/// A plain-HTTP listener that answers every request 503 and counts it.
async fn counting_listener() -> (String, Requests) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let address = listener.local_addr().expect("address").to_string();
    let requests = Requests::default();
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let Ok(n) = socket.read(&mut buf).await else {
                    return;
                };
                let head = String::from_utf8_lossy(&buf[..n]);
                let line = head.lines().next().unwrap_or_default();
                let watch = line.contains("watch=true") || line.contains("watch=1");
                {
                    let mut c = counted.0.lock();
                    if watch { c.0 += 1 } else { c.1 += 1 }
                }
                let _ = socket
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (address, requests)
}

async fn running_pods(pods: &Api<Pod>) -> usize {
    count(pods, ListParams::default().fields("status.phase=Running")).await
}

/// Pods of workflows matching `params`, listed in pages.
async fn count(pods: &Api<Pod>, params: ListParams) -> usize {
    let mut count = 0;
    let mut params = params.labels("workflows.argoproj.io/workflow").limit(5000);
    loop {
        let page = pods.list_metadata(&params).await.expect("list pods");
        count += page.items.len();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => params = params.continue_token(&c),
            _ => return count,
        }
    }
}

fn main() {
    let case = std::env::var("FLOTILLA_RSS_CASE").unwrap_or_default();
    if case != "large" {
        many_small();
    }
    if case != "small" {
        one_large();
    }
}

/// `flotilla sim serve` with one cluster, Flotilla installed, and a client for it; the
/// simulator stops when the returned guard is dropped.
struct Served {
    dir: std::path::PathBuf,
    kubeconfig: std::path::PathBuf,
    _sim: Killed,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(tag: &str) -> Served {
    let dir = std::env::temp_dir().join(format!("flotilla-rss-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (kubeconfig, sim) = processes::sim_serve(&dir, &[]);
    Served {
        dir,
        kubeconfig,
        _sim: sim,
    }
}

impl Served {
    async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let options = kube::config::KubeConfigOptions {
            context: Some("cluster-0".into()),
            ..Default::default()
        };
        let client = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .expect("config"),
        )
        .expect("client");
        flotilla::sandbox::install(&client).await.expect("install");
        client
    }

    /// `flotilla controller`: this build's, or the one `FLOTILLA_RSS_CONTROLLER` names (an
    /// older build, measured against this build's simulator). One replica, so no election
    /// (`LEADER_ELECTION_DISABLE`, which builds without `--leader-elect` ignore).
    fn controller(&self) -> Child {
        let program = std::env::var_os("FLOTILLA_RSS_CONTROLLER")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_flotilla").into());
        processes::controller_of(program, &self.kubeconfig)
            .args(["--metrics-addr", "off"])
            .env("LEADER_ELECTION_DISABLE", "true")
            .envs(
                std::env::var("MALLOC_ARENA_MAX")
                    .ok()
                    .map(|v| ("MALLOC_ARENA_MAX", v)),
            )
            .spawn()
            .expect("flotilla controller")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// One workflow of 100,000 nodes whose pods stay unscheduled: the controller's memory once it
/// has made them all (or stopped), and the workflow's outcome.
fn one_large() {
    let served = serve("large");
    runtime().block_on(async {
        let client = served.client().await;
        let controller = served.controller();
        let pid = controller.id();
        let _controller = Killed(controller);
        let fan_out = large_fan_out();
        let name = name_without_id_collisions(fan_out);
        let yaml = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{name: {name}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - - {{name: fan, template: wait, withSequence: {{count: \"{fan_out}\"}}}}\n  - name: wait\n    nodeSelector: {{flotilla.dev/no-such-node: \"true\"}}\n    container: {{image: argoproj/argosay:v2}}\n"
        );
        let started = Instant::now();
        flotilla::sandbox::submit(&client, &yaml, "rss benchmark").await.expect("submit");
        let workflows: Api<flotilla_engine::workflow::Workflow> = Api::namespaced(client.clone(), "argo");
        let pods: Api<Pod> = Api::namespaced(client.clone(), "argo");
        // Until the pods stop growing (all made, or the workflow stopped making them).
        let (mut last, mut steady) = (usize::MAX, 0);
        let mut peak: f64 = 0.0;
        while steady < 3 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            peak = peak.max(rss_mib(pid));
            let made = count(&pods, ListParams::default()).await;
            steady = if made == last { steady + 1 } else { 0 };
            last = made;
            assert!(started.elapsed() < Duration::from_secs(1800), "still making pods after 30 minutes ({made})");
        }
        let rss = rss_mib(pid);
        let wf = workflows.get(&name).await.expect("the workflow");
        let stored = serde_json::to_vec(&wf.status).map(|v| v.len()).unwrap_or_default();
        let status = wf.status.unwrap_or_default();
        println!(
            "controller_rss/one_workflow_{}_nodes_mib  {rss:>8.1}  (peak {peak:.1}; {last} pods made in {:.0} s; phase {:?}; {} nodes; status as read back {} bytes; message: {})",
            fan_out + 2,
            started.elapsed().as_secs_f64(),
            status.phase,
            status.nodes.len(),
            stored,
            status.message.unwrap_or_default()
        );
    });
}

/// A name for the large workflow under which its node IDs are all distinct. Argo's node IDs are
/// 32-bit hashes of node names, so among 100,000 nodes two share an ID under most names, and the
/// workflow errors saying so at once — which measures nothing of its size.
fn name_without_id_collisions(fan_out: usize) -> String {
    (0..)
        .map(|i| {
            if i == 0 {
                "large".to_string()
            } else {
                format!("large-{i}")
            }
        })
        .find(|name| {
            let mut ids = std::collections::HashSet::new();
            [name.clone(), format!("{name}[0]")]
                .into_iter()
                .chain((0..fan_out).map(|i| format!("{name}[0].fan({i}:{i})")))
                .all(|node| ids.insert(flotilla_engine::naming::node_id(name, &node)))
        })
        .expect("some name")
}

/// 1,000 workflows of 10 running pods, after 50 idle clusters are measured.
fn many_small() {
    let served = serve("small");
    runtime().block_on(async {
        let client = served.client().await;
        let start_controller = || served.controller();

        // 50 clusters registered, none used: what they cost, and that none is watched. Their
        // address is a listener here that counts requests (plain HTTP, so it can read them).
        let (idle_alone, idle_50, requests) = {
            let alone = Killed(start_controller());
            tokio::time::sleep(Duration::from_secs(3)).await;
            let idle_alone = rss_mib(alone.0.id());
            drop(alone);
            let (address, requests) = counting_listener().await;
            for i in 0..IDLE_CLUSTERS {
                let value = format!(r#"{{"Host": "http://{address}", "BearerToken": "idle-{i}"}}"#);
                flotilla::clusters::enroll::add_key(&client, "argo", &format!("idle-{i}."), value.into_bytes())
                    .await
                    .expect("rest-config key");
            }
            let registered = Killed(start_controller());
            tokio::time::sleep(Duration::from_secs(5)).await;
            let idle_50 = rss_mib(registered.0.id());
            drop(registered);
            let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), "argo");
            secrets.delete("rest-config", &Default::default()).await.expect("delete rest-config");
            (idle_alone, idle_50, requests)
        };

        let controller = start_controller();
        let pid = controller.id();
        let _controller = Killed(controller);
        // Started and watching, nothing to do yet.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = rss_mib(pid);
        let (watches, others) = requests.counts();
        println!("controller_rss/idle_alone_mib           {idle_alone:>8.1}");
        println!("controller_rss/idle_{IDLE_CLUSTERS}_clusters_mib      {idle_50:>8.1}  (+{:.1} MB; target <= 50 MB; {watches} watch requests (target 0), {others} other requests: the orphan sweep's lists, one per cluster, made one after another)", idle_50 - idle_alone);

        let tasks: Vec<String> = (0..PODS_PER_WORKFLOW).map(|i| format!("      - {{name: t{i}, template: sleep}}")).collect();
        let yaml = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{generateName: rss-}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    dag:\n      tasks:\n{}\n  - name: sleep\n    container: {{image: argoproj/argosay:v2, args: [sleep, 1h]}}\n",
            tasks.join("\n")
        );
        let started = Instant::now();
        futures::stream::iter(0..WORKFLOWS)
            .for_each_concurrent(16, |_| {
                let (client, yaml) = (client.clone(), yaml.clone());
                async move {
                    flotilla::sandbox::submit(&client, &yaml, "rss benchmark").await.expect("submit");
                }
            })
            .await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), "argo");
        let want = WORKFLOWS * PODS_PER_WORKFLOW;
        loop {
            let running = running_pods(&pods).await;
            if running >= want {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(600), "only {running}/{want} pods running after 10 minutes");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        // Let the controller settle (status writes for the last workflows).
        tokio::time::sleep(Duration::from_secs(5)).await;
        let loaded = rss_mib(pid);
        println!("controller_rss/idle_mib                 {idle:>8.1}");
        println!("controller_rss/running_{WORKFLOWS}x{PODS_PER_WORKFLOW}_mib      {loaded:>8.1}  (target <= 150 MB; {:.0} s to reach)", started.elapsed().as_secs_f64());
    });
}
