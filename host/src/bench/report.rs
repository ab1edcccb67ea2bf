//! What a run found: a table for people and JSON for tools, each figure beside its ceiling and
//! target.

use serde::Serialize;

use super::{fanout::Fanout, latency::Latency, workflows::Workflows};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub flotilla_version: &'static str,
    /// When the run started (RFC 3339).
    pub started: String,
    /// What measured: this machine's CPUs as the process sees them.
    pub client_cpus: usize,
    /// `in-process` (a controller started by the benchmark) or `external` (the cluster's own).
    pub controller: &'static str,
    pub results: Vec<Outcome>,
}

/// One scenario's figures, and the cluster they were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub server: String,
    pub server_version: String,
    /// Whether the cluster was a simulated one in the benchmark's own process.
    pub simulated: bool,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "scenario", rename_all = "lowercase")]
pub enum Figures {
    Fanout(Fanout),
    Workflows(Workflows),
    Latency(Latency),
}

impl Report {
    /// An empty report of a run starting now.
    pub fn new(external_controller: bool) -> Report {
        Report {
            flotilla_version: env!("CARGO_PKG_VERSION"),
            started: jiff::Timestamp::now().to_string(),
            client_cpus: std::thread::available_parallelism().map_or(1, usize::from),
            controller: if external_controller {
                "external"
            } else {
                "in-process"
            },
            results: Vec::new(),
        }
    }

    /// The table printed at the end of a run: one line per figure.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<10} {:<44} {:>10}  {}\n",
            "SCENARIO", "MEASURE", "VALUE", "NOTE"
        );
        for outcome in &self.results {
            for (scenario, measure, value, note) in outcome.rows() {
                out.push_str(&format!(
                    "{scenario:<10} {measure:<44} {value:>10}  {note}\n"
                ));
            }
        }
        out
    }
}

type Row = (&'static str, String, String, String);

impl Outcome {
    fn rows(&self) -> Vec<Row> {
        let where_ = format!(
            "{} ({}{})",
            self.server,
            self.server_version,
            if self.simulated { ", simulated" } else { "" }
        );
        let rate = |v: f64| format!("{v:.0}");
        let ms = |v: f64| format!("{v:.1}");
        let pct = |v: f64| format!("{:.1}%", 100.0 * v);
        match &self.figures {
            Figures::Fanout(f) => vec![
                (
                    "fanout",
                    "plain client pods/s (the ceiling)".into(),
                    rate(f.plain_client_median),
                    format!(
                        "{} pods, {} in flight, median of {} rounds; {where_}",
                        f.pods,
                        f.concurrency,
                        f.flotilla_pods_per_s.len()
                    ),
                ),
                (
                    "fanout",
                    "flotilla pods/s".into(),
                    rate(f.flotilla_median),
                    "submission until a watch saw the last pod".into(),
                ),
                (
                    "fanout",
                    "flotilla / ceiling".into(),
                    pct(f.ratio),
                    "median of the rounds' ratios; target >= 90%".into(),
                ),
            ],
            Figures::Workflows(w) => vec![
                (
                    "workflows",
                    "plain client workflows/s (the ceiling)".into(),
                    rate(w.plain_client_workflows_per_s),
                    format!(
                        "a Workflow and a pod each, {} in flight; {where_}",
                        w.concurrency
                    ),
                ),
                (
                    "workflows",
                    "flotilla workflows/s".into(),
                    rate(w.flotilla_workflows_per_s),
                    format!(
                        "{} one-pod workflows, submission until finished",
                        w.workflows
                    ),
                ),
                (
                    "workflows",
                    "flotilla / ceiling".into(),
                    pct(w.ratio),
                    if self.simulated {
                        "target >= 300 workflows/s on the simulator".into()
                    } else {
                        "target >= 80%".into()
                    },
                ),
                (
                    "workflows",
                    "submit -> finished p50 (ms)".into(),
                    ms(w.submit_to_finished_p50_ms),
                    String::new(),
                ),
                (
                    "workflows",
                    "submit -> finished p99 (ms)".into(),
                    ms(w.submit_to_finished_p99_ms),
                    String::new(),
                ),
                (
                    "workflows",
                    "not Succeeded".into(),
                    w.not_succeeded.to_string(),
                    "expected 0".into(),
                ),
            ],
            Figures::Latency(l) => vec![
                (
                    "latency",
                    "submissions/s".into(),
                    l.achieved_rate.map_or("-".into(), |r| format!("{r:.1}")),
                    format!("{} workflows at {} /s asked; {where_}", l.workflows, l.rate),
                ),
                (
                    "latency",
                    "submit -> first pod p50 (ms)".into(),
                    ms(l.submit_to_first_pod_p50_ms),
                    String::new(),
                ),
                (
                    "latency",
                    "submit -> first pod p99 (ms)".into(),
                    ms(l.submit_to_first_pod_p99_ms),
                    "target < 100 ms at 50/s".into(),
                ),
                (
                    "latency",
                    "submit -> first pod max (ms)".into(),
                    ms(l.submit_to_first_pod_max_ms),
                    String::new(),
                ),
            ],
        }
    }
}
