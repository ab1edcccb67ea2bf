//! Clean-up once nodes and workflows finish, as Argo does it: every pod of a fulfilled node is
//! labelled `workflows.argoproj.io/completed=true`, pods are deleted per `podGC` (strategy, label
//! selector, `deleteDelayDuration`), and a finished workflow is deleted per `ttlStrategy`.
//!
//! Decisions read only the status the API server already holds (never the one this reconcile is
//! about to write) and what was observed of the pods, so a pod is deleted only after its node's
//! outcome is stored, and a pod already labelled or being deleted is left alone: deciding twice
//! asks for nothing twice.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{EngineConfig, Observed, PodPhase};
use crate::decision::{Effects, PodAction, WorkflowDeletion};
use crate::workflow::{Workflow, WorkflowPhase, WorkflowSpec, WorkflowStatus, labels};

/// `podGC.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strategy {
    /// No `podGC`: pods are only labelled completed.
    Never,
    OnPodCompletion,
    OnPodSuccess,
    OnWorkflowCompletion,
    OnWorkflowSuccess,
}

/// The workflow's `podGC`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PodGc {
    strategy: Strategy,
    selector: Selector,
    delay: Duration,
}

/// Parses `podGC`; the error names the field and the value.
pub(super) fn pod_gc(spec: &WorkflowSpec, config: &EngineConfig) -> Result<PodGc, String> {
    let Some(gc) = &spec.pod_gc else {
        return Ok(PodGc {
            strategy: Strategy::Never,
            selector: Selector::default(),
            delay: config.pod_gc_delete_delay,
        });
    };
    let strategy = match gc.strategy.as_deref().map(str::trim) {
        None | Some("") => Strategy::Never,
        Some("OnPodCompletion") => Strategy::OnPodCompletion,
        Some("OnPodSuccess") => Strategy::OnPodSuccess,
        Some("OnWorkflowCompletion") => Strategy::OnWorkflowCompletion,
        Some("OnWorkflowSuccess") => Strategy::OnWorkflowSuccess,
        Some(other) => {
            return Err(format!(
                "podGC.strategy {other:?} is unknown: use OnPodCompletion, OnPodSuccess, OnWorkflowCompletion or OnWorkflowSuccess"
            ));
        }
    };
    let delay = match gc.delete_delay_duration.as_deref().map(str::trim) {
        None | Some("") => config.pod_gc_delete_delay,
        Some(text) => super::retry::parse_duration(text)
            .map_err(|e| format!("podGC.deleteDelayDuration is invalid: {e}"))?,
    };
    let selector = match &gc.label_selector {
        None => Selector::default(),
        Some(value) => Selector::parse(value)?,
    };
    Ok(PodGc {
        strategy,
        selector,
        delay,
    })
}

/// Checks `ttlStrategy`: seconds must not be negative.
pub(super) fn check_ttl(spec: &WorkflowSpec) -> Result<(), String> {
    let Some(ttl) = &spec.ttl_strategy else {
        return Ok(());
    };
    for (field, value) in [
        ("secondsAfterCompletion", ttl.seconds_after_completion),
        ("secondsAfterSuccess", ttl.seconds_after_success),
        ("secondsAfterFailure", ttl.seconds_after_failure),
    ] {
        if let Some(v) = value.filter(|v| *v < 0) {
            return Err(format!(
                "ttlStrategy.{field} {v} must be a non-negative number of seconds"
            ));
        }
    }
    Ok(())
}

/// What clean-up decided: pods to delete or label, the workflow to delete, and when to look
/// again for a delay still running.
#[derive(Debug, Default)]
pub(super) struct Cleanup {
    pub(super) effects: Effects,
    pub(super) requeue_after: Option<Duration>,
}

impl Cleanup {
    fn requeue(&mut self, after: Duration) {
        self.requeue_after = super::earliest(self.requeue_after, Some(after));
    }

    /// `Ok` if `due` has come; otherwise asks to be woken then.
    fn due(&mut self, due: jiff::Timestamp, now: jiff::Timestamp) -> bool {
        if now >= due {
            return true;
        }
        let left = Duration::try_from(due.duration_since(now)).unwrap_or_default();
        self.requeue(left + Duration::from_millis(1));
        false
    }
}

fn plus(t: jiff::Timestamp, d: Duration) -> jiff::Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

/// Labels and deletes the pods of fulfilled nodes in `persisted` (the stored status).
pub(super) fn pods(
    wf: &Workflow,
    persisted: &WorkflowStatus,
    gc: &PodGc,
    observed: &Observed,
    now: jiff::Timestamp,
    out: &mut Cleanup,
) {
    let wf_namespace = wf.metadata.namespace.clone().unwrap_or_default();
    let workflow_phase = persisted.phase;
    let no_labels = BTreeMap::new();
    for (node_id, pod) in &observed.pods {
        let Some(node) = persisted.nodes.get(node_id) else {
            continue;
        };
        if !node.phase.is_fulfilled() || pod.deleting {
            continue;
        }
        let pod_labels = observed.pod_labels.get(node_id).unwrap_or(&no_labels);
        let namespace = node
            .namespace
            .clone()
            .unwrap_or_else(|| wf_namespace.clone());
        let delete_from = if gc.selector.matches(pod_labels) {
            // Without a recorded time (an older status), the delay runs from now.
            let node_done = node.finished_at.as_ref().map_or(now, |t| t.0);
            let workflow_done = persisted.finished_at.as_ref().map_or(now, |t| t.0);
            match gc.strategy {
                Strategy::Never => None,
                Strategy::OnPodCompletion => Some(node_done),
                Strategy::OnPodSuccess => (pod.phase == PodPhase::Succeeded).then_some(node_done),
                Strategy::OnWorkflowCompletion => workflow_phase
                    .is_some_and(WorkflowPhase::is_finished)
                    .then_some(workflow_done),
                Strategy::OnWorkflowSuccess => {
                    (workflow_phase == Some(WorkflowPhase::Succeeded)).then_some(workflow_done)
                }
            }
        } else {
            None
        };
        if let Some(finished) = delete_from
            && out.due(plus(finished, gc.delay), now)
        {
            out.effects.pods.push(PodAction::Delete {
                node_id: node_id.clone(),
                cluster: node.cluster.clone(),
                namespace,
                name: pod.name.clone(),
                pod_uid: pod.uid.clone(),
            });
            continue;
        }
        if pod_labels.get(labels::COMPLETED).map(String::as_str) != Some("true") {
            out.effects.pods.push(PodAction::LabelCompleted {
                node_id: node_id.clone(),
                cluster: node.cluster.clone(),
                namespace,
                name: pod.name.clone(),
                pod_uid: pod.uid.clone(),
            });
        }
    }
}

/// Deletes a finished workflow once its `ttlStrategy` says so (Argo's TTL controller: the
/// failure TTL for Failed, the success TTL for Succeeded, else the completion TTL).
pub(super) fn ttl(
    wf: &Workflow,
    persisted: &WorkflowStatus,
    now: jiff::Timestamp,
    out: &mut Cleanup,
) {
    let (Some(ttl), Some(phase), Some(finished)) = (
        &wf.spec.ttl_strategy,
        persisted.phase,
        persisted.finished_at.as_ref(),
    ) else {
        return;
    };
    if wf.metadata.deletion_timestamp.is_some() {
        return;
    }
    let seconds = match phase {
        WorkflowPhase::Failed if ttl.seconds_after_failure.is_some() => ttl.seconds_after_failure,
        WorkflowPhase::Succeeded if ttl.seconds_after_success.is_some() => {
            ttl.seconds_after_success
        }
        _ => ttl.seconds_after_completion,
    };
    // A negative value is refused when the workflow starts; one edited in later is ignored.
    let Some(seconds) = seconds.and_then(|s| u64::try_from(s).ok()) else {
        return;
    };
    if out.due(plus(finished.0, Duration::from_secs(seconds)), now) {
        out.effects.delete_workflow = Some(WorkflowDeletion {
            namespace: wf.metadata.namespace.clone().unwrap_or_default(),
            name: wf.metadata.name.clone().unwrap_or_default(),
            uid: wf.metadata.uid.clone(),
        });
    }
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`); empty matches every pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Selector {
    labels: BTreeMap<String, String>,
    expressions: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Selector {
    fn parse(value: &serde_json::Value) -> Result<Selector, String> {
        let selector: LabelSelector = serde_json::from_value(value.clone())
            .map_err(|e| format!("podGC.labelSelector is invalid: {e}"))?;
        let mut expressions = Vec::new();
        for (i, e) in selector.match_expressions.iter().flatten().enumerate() {
            let at = format!("podGC.labelSelector.matchExpressions[{i}]");
            let operator = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!(
                        "{at}.operator {other:?} is not one of In, NotIn, Exists, DoesNotExist"
                    ));
                }
            };
            let values = e.values.clone().unwrap_or_default();
            match operator {
                Operator::In | Operator::NotIn if values.is_empty() => {
                    return Err(format!(
                        "{at}.values must be non-empty for operator {}",
                        e.operator
                    ));
                }
                Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                    return Err(format!(
                        "{at}.values must be empty for operator {}",
                        e.operator
                    ));
                }
                _ => {}
            }
            expressions.push(Requirement {
                key: e.key.clone(),
                operator,
                values,
            });
        }
        Ok(Selector {
            labels: selector.match_labels.unwrap_or_default(),
            expressions,
        })
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    Operator::In => value.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let s = Selector::parse(&json!({
            "matchLabels": {"gc": "yes"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "keep", "operator": "DoesNotExist"},
            ],
        }))
        .unwrap();
        assert!(s.matches(&labels(&[("gc", "yes"), ("tier", "a")])));
        assert!(!s.matches(&labels(&[("gc", "yes"), ("tier", "c")])));
        assert!(!s.matches(&labels(&[("gc", "yes"), ("tier", "a"), ("keep", "1")])));
        assert!(Selector::default().matches(&labels(&[])));
    }

    #[test]
    fn bad_selectors_and_delays_name_the_field() {
        let e = Selector::parse(&json!({"matchExpressions": [{"key": "k", "operator": "Near"}]}))
            .unwrap_err();
        assert_eq!(
            e,
            r#"podGC.labelSelector.matchExpressions[0].operator "Near" is not one of In, NotIn, Exists, DoesNotExist"#
        );
        let spec: WorkflowSpec =
            serde_json::from_value(json!({"podGC": {"deleteDelayDuration": "soon"}})).unwrap();
        let e = pod_gc(&spec, &EngineConfig::default()).unwrap_err();
        assert!(
            e.starts_with("podGC.deleteDelayDuration is invalid: \"soon\""),
            "{e}"
        );
    }
}
