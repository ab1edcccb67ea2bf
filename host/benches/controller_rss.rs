//! Controller memory: resident set size of a `flotilla controller` process watching 1,000
//! running workflows of 10 pods each (10,000 running pods), served by `flotilla sim serve` in
//! another process. Target: ≤ 150 MB.
//!
//! Run: `cargo bench -p flotilla --bench controller_rss`. Figures go to docs/performance.md.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

const WORKFLOWS: usize = 1_000;
const PODS_PER_WORKFLOW: usize = 10;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb / 1024.0
}

async fn running_pods(pods: &Api<Pod>) -> usize {
    let mut count = 0;
    let mut params = ListParams::default()
        .labels("workflows.argoproj.io/workflow")
        .fields("status.phase=Running")
        .limit(2000);
    loop {
        let page = pods.list(&params).await.expect("list pods");
        count += page.items.len();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => params = params.continue_token(&c),
            _ => return count,
        }
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("flotilla-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let kubeconfig = dir.join("kubeconfig");
    let mut sim = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["sim", "serve", "--clusters", "1", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .spawn()
        .expect("flotilla sim serve");
    let out = sim.stdout.take().expect("stdout");
    let _sim = Killed(sim);
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        if line.contains("serving until Ctrl-C") {
            break;
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
        let options = kube::config::KubeConfigOptions { context: Some("cluster-0".into()), ..Default::default() };
        let client = kube::Client::try_from(kube::Config::from_custom_kubeconfig(kc, &options).await.expect("config")).expect("client");
        flotilla::sandbox::install(&client).await.expect("install");
        let controller = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["controller", "--context", "cluster-0", "--cluster", "cluster-0", "--kubeconfig"])
            .arg(&kubeconfig)
            .envs(std::env::var("MALLOC_ARENA_MAX").ok().map(|v| ("MALLOC_ARENA_MAX", v)))
            .stdout(Stdio::null())
            .spawn()
            .expect("flotilla controller");
        let pid = controller.id();
        let _controller = Killed(controller);
        // Started and watching, nothing to do yet.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = rss_mib(pid);

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
    let _ = std::fs::remove_dir_all(&dir);
}
