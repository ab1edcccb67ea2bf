//! `flotilla bench`: how fast Flotilla drives an API server, measured beside what the same API
//! server takes from a plain client with the same concurrency, in the same run — as kube-burner
//! and clusterloader2 measure clusters. Against the cluster a kubeconfig names, or a simulated
//! one started in this process when none is named.
//!
//! Each scenario runs in a namespace of its own, with a controller started in this process for
//! that namespace under an instance ID of its own (so a controller already running for the
//! cluster leaves it alone), and removes both when it ends, whatever happened.

mod cluster;
mod fanout;
mod latency;
mod objects;
mod raw;
mod report;
mod session;
mod stats;
mod watch;
mod workflows;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};

pub use report::{Figures, Outcome, Report};

use cluster::Cluster;
use session::Session;

/// Most workflows one `latency` run submits (each is remembered until the run ends).
const MAX_LATENCY_SUBMISSIONS: f64 = 100_000.0;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One workflow of `--pods` pods: pods/s against the plain client's ceiling.
    Fanout,
    /// `--workflows` one-pod workflows end to end: workflows/s, submit→finished p50/p99.
    Workflows,
    /// One-pod workflows at `--rate` per second: submit→first-pod p50/p99.
    Latency,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Fanout, Scenario::Workflows, Scenario::Latency];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Fanout => "fanout",
            Scenario::Workflows => "workflows",
            Scenario::Latency => "latency",
        }
    }
}

/// Settings of `flotilla bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// What to measure (default: all three, one after the other).
    #[arg(value_enum)]
    pub scenarios: Vec<Scenario>,
    /// Kubeconfig of the cluster to measure. Without it and without --context, a simulated
    /// cluster is started in this process and measured.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Pods in the `fanout` workflow.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub pods: u32,
    /// Rounds of `fanout` (plain client, then Flotilla); the medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// One-pod workflows in `workflows`.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub workflows: u32,
    /// Submissions per second in `latency`.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Seconds of submissions in `latency`.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration_seconds: u64,
    /// Requests in flight, for the plain client and for submissions (default: the controller's
    /// own create concurrency).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Measure the controller already serving the cluster instead of one started here (the
    /// namespace must be one it watches).
    #[arg(long)]
    pub external_controller: bool,
    /// With --external-controller: the instance ID that controller serves.
    #[arg(long, requires = "external_controller")]
    pub instance_id: Option<String>,
    /// The image pods run `flotilla-executor` from (for the controller started here).
    #[arg(long, env = "FLOTILLA_EXECUTOR_IMAGE")]
    pub executor_image: Option<String>,
    /// Longest wait for any one step (every pod seen, every workflow finished, a round's pods
    /// deleted).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout_seconds: u64,
    /// Where the JSON report is written.
    #[arg(long, default_value = "flotilla-bench.json")]
    pub output: PathBuf,
}

impl BenchArgs {
    fn check(&self) -> Result<()> {
        ensure!(
            self.rate.is_finite() && self.rate > 0.0 && self.rate <= 10_000.0,
            "--rate {}: submissions per second must be more than 0 and at most 10000",
            self.rate
        );
        let submissions = self.rate * self.duration_seconds as f64;
        ensure!(
            submissions <= MAX_LATENCY_SUBMISSIONS,
            "--rate {} for --duration-seconds {} would submit {submissions:.0} workflows; at most \
             {MAX_LATENCY_SUBMISSIONS} in one run",
            self.rate,
            self.duration_seconds
        );
        Ok(())
    }

    fn scenarios(&self) -> Vec<Scenario> {
        if self.scenarios.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            self.scenarios.clone()
        }
    }
}

/// Runs the scenarios `args` name into `report`, each one's figures added as it ends; the
/// first failure ends the run (the figures before it stay in `report`).
pub async fn run(args: &BenchArgs, report: &mut Report) -> Result<()> {
    args.check()?;
    for scenario in args.scenarios() {
        // Only `workflows` needs its pods to run; on a simulated cluster the others measure
        // creation alone, as against a control plane without kubelets.
        let kubelet = scenario == Scenario::Workflows;
        let mut cluster = Cluster::connect(args, kubelet).await?;
        let figures = match scenario {
            Scenario::Fanout => {
                let mut rounds = Vec::new();
                for round in 0..args.rounds {
                    if round > 0 && cluster.embedded {
                        // A simulated cluster of its own for each round: what a simulator keeps
                        // of earlier rounds (its watch window, its heap) slows the later ones.
                        cluster = Cluster::connect(args, kubelet).await?;
                    }
                    let measured = in_session(&cluster, args, scenario, async |s| {
                        fanout::round(s, args.pods, round).await
                    });
                    rounds.push(measured.await?);
                }
                Figures::Fanout(fanout::summary(
                    args.pods,
                    usize::from(args.concurrency),
                    &rounds,
                ))
            }
            Scenario::Workflows => Figures::Workflows(
                in_session(&cluster, args, scenario, async |s| {
                    workflows::run(s, args.workflows).await
                })
                .await?,
            ),
            Scenario::Latency => Figures::Latency(
                in_session(&cluster, args, scenario, async |s| {
                    latency::run(s, args.rate, Duration::from_secs(args.duration_seconds)).await
                })
                .await?,
            ),
        };
        report.results.push(Outcome {
            server: cluster.server.clone(),
            server_version: cluster.version.clone(),
            simulated: cluster.embedded,
            figures,
        });
    }
    Ok(())
}

/// Runs `work` in a session of its own on `cluster` (a namespace, a controller), removed
/// whatever happened — an error, or Ctrl-C.
async fn in_session<T>(
    cluster: &Cluster,
    args: &BenchArgs,
    scenario: Scenario,
    work: impl AsyncFnOnce(&Session) -> Result<T>,
) -> Result<T> {
    let session = Session::open(cluster, args, scenario).await?;
    let result = tokio::select! {
        result = work(&session) => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: removing namespace {}", session.namespace);
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    session.close().await;
    result.with_context(|| format!("scenario {}", scenario.name()))
}

/// `flotilla bench`: runs, prints the table, writes the JSON — with the figures measured so far
/// when a scenario fails.
pub async fn command(args: BenchArgs) -> Result<()> {
    let mut report = Report::new(args.external_controller);
    let outcome = run(&args, &mut report).await;
    print!("{}", report.table());
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.output, json + "\n")
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!("report: {}", args.output.display());
    outcome
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    fn args(line: &[&str]) -> Result<super::BenchArgs, String> {
        let cli = crate::cli::Cli::try_parse_from(["flotilla", "bench"].iter().chain(line))
            .map_err(|e| e.to_string())?;
        match cli.command {
            crate::cli::Command::Bench(args) => Ok(args),
            other => Err(format!("not bench: {other:?}")),
        }
    }

    #[test]
    fn settings_that_would_run_unbounded_or_measure_nothing_are_refused() {
        let checked = |line: &[&str]| args(line).and_then(|a| a.check().map_err(|e| e.to_string()));
        assert!(checked(&[]).is_ok());
        let huge = checked(&["--rate", "10000", "--duration-seconds", "3600"]).unwrap_err();
        assert!(huge.contains("would submit 36000000 workflows"), "{huge}");
        for rate in ["0", "-1", "NaN", "inf", "10001"] {
            let refused = checked(&[&format!("--rate={rate}")]).unwrap_err();
            assert!(refused.contains("--rate"), "{rate}: {refused}");
        }
        assert!(checked(&["--pods", "0"]).is_err());
        assert!(
            checked(&["--instance-id", "x"]).is_err(),
            "only with --external-controller"
        );
        assert_eq!(
            args(&["latency", "fanout"]).unwrap().scenarios(),
            [super::Scenario::Latency, super::Scenario::Fanout]
        );
        assert_eq!(args(&[]).unwrap().scenarios(), super::Scenario::ALL);
    }
}
