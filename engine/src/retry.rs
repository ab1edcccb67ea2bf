//! `retryStrategy`: a Retry node whose children are attempts `name(0)`, `name(1)`…, retried per
//! `retryPolicy` up to `limit` times, with back-off between attempts.

use std::time::Duration;

use super::template::{Mode, Scope, substitute_str};
use super::walk::{Call, Walker};
use crate::workflow::{NodePhase, NodeType, RetryStrategy, Template};

/// Most attempts one Retry node makes in one reconcile. An attempt that fails as it starts (a
/// place the policy denies, an argument that does not resolve) is fulfilled at once, and
/// without this bound would be retried in the same reconcile for as long as `limit` allows —
/// without a limit, forever — wedging the reconcile. The rest wait for the next reconcile.
pub(super) const MAX_ATTEMPTS_PER_RECONCILE: usize = 10;
/// When a Retry node that made its [`MAX_ATTEMPTS_PER_RECONCILE`] attempts goes on.
const MORE_ATTEMPTS_AFTER: Duration = Duration::from_secs(1);

impl Walker<'_> {
    pub(super) fn retry(&mut self, call: &Call, template: &Template, scope: &Scope) -> NodePhase {
        let id = self.ensure_node(call, NodeType::Retry, NodePhase::Running);
        let Some(strategy) = self.retry_strategy(template).cloned() else {
            return NodePhase::Running;
        };
        let strategy = &strategy;
        let mut local = scope.child();
        local.extend(
            call.arguments
                .iter()
                .map(|(n, v)| (format!("inputs.parameters.{n}"), v.clone())),
        );
        let limit = match retry_limit(strategy, &local) {
            Ok(l) => l,
            Err(message) => return self.mark(&id, NodePhase::Error, Some(message)),
        };
        let attempts = self
            .nodes
            .get(&id)
            .map(|n| n.children.clone())
            .unwrap_or_default();
        let mut attempt_no = attempts.len().saturating_sub(1);
        let mut last_phase = attempts.last().and_then(|a| self.phase_of(a));
        let mut attempted = 0;
        if last_phase.is_none_or(|p| !p.is_fulfilled()) {
            last_phase = Some(self.attempt(call, &id, attempt_no, scope));
            attempted += 1;
        }
        loop {
            let Some(phase) = last_phase else {
                return NodePhase::Running;
            };
            if !phase.is_fulfilled() {
                return NodePhase::Running;
            }
            let last_id = self.node_id(&format!("{}({attempt_no})", call.node_name));
            let last_outputs = self.nodes.get(&last_id).and_then(|n| n.outputs.clone());
            if phase == NodePhase::Succeeded || phase == NodePhase::Skipped {
                if let Some(node) = self.nodes.get_mut(&id) {
                    node.outputs = last_outputs;
                }
                return self.mark(&id, phase, None);
            }
            // A halted workflow makes no further attempt (Argo's `processNodeRetries`).
            if let Some(halt) = &self.control.halt {
                let message = halt.retry.clone();
                if let Some(node) = self.nodes.get_mut(&id) {
                    node.outputs = last_outputs;
                }
                return self.mark(&id, phase, Some(message));
            }
            let retried = u32::try_from(attempt_no).unwrap_or(u32::MAX);
            // Argo's order: the policy, the limit, then the expression.
            let stop = if !retryable(strategy.retry_policy.as_deref(), phase) {
                Some(self.nodes.get(&last_id).and_then(|n| n.message.clone()))
            } else if limit.is_some_and(|l| retried >= l) {
                Some(Some("No more retries left".to_string()))
            } else if let Some(expression) =
                strategy.expression.as_deref().filter(|e| !e.is_empty())
            {
                match self.retry_expression(expression, &local, &last_id, attempt_no) {
                    Ok(true) => None,
                    Ok(false) => Some(Some(
                        "retryStrategy.expression evaluated to false".to_string(),
                    )),
                    Err(message) => return self.mark(&id, NodePhase::Error, Some(message)),
                }
            } else {
                None
            };
            if let Some(message) = stop {
                if let Some(node) = self.nodes.get_mut(&id) {
                    node.outputs = last_outputs;
                }
                return self.mark(&id, phase, message);
            }
            // `backoff.maxDuration` bounds the retries, from the first attempt's start.
            let max_deadline = match self.max_duration_deadline(strategy, call, &local) {
                Ok(d) => d,
                Err(message) => return self.mark(&id, NodePhase::Error, Some(message)),
            };
            let give_up = |walker: &mut Self, message: &str| {
                if let Some(node) = walker.nodes.get_mut(&id) {
                    node.outputs = last_outputs.clone();
                }
                walker.mark(&id, phase, Some(message.to_string()))
            };
            if max_deadline.is_some_and(|d| self.now > d) {
                return give_up(self, "Max duration limit exceeded");
            }
            // Back off before the next attempt.
            match backoff(strategy, retried, &local) {
                Err(message) => return self.mark(&id, NodePhase::Error, Some(message)),
                Ok(Some(wait)) => {
                    let finished = self
                        .nodes
                        .get(&last_id)
                        .and_then(|n| n.finished_at.clone())
                        .map_or(self.now, |t| t.0);
                    let due = finished
                        .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
                        .unwrap_or(finished);
                    if max_deadline.is_some_and(|d| due > d) {
                        return give_up(self, "Backoff would exceed max duration limit");
                    }
                    if self.now < due {
                        let left = Duration::try_from(due.duration_since(self.now)).unwrap_or(wait);
                        self.requeue(left);
                        self.mark(
                            &id,
                            NodePhase::Running,
                            Some(format!("Backoff for {}", human(wait))),
                        );
                        return NodePhase::Running;
                    }
                }
                Ok(None) => {}
            }
            if attempted >= MAX_ATTEMPTS_PER_RECONCILE {
                self.requeue(MORE_ATTEMPTS_AFTER);
                return self.mark(&id, NodePhase::Running, None);
            }
            attempt_no += 1;
            last_phase = Some(self.attempt(call, &id, attempt_no, scope));
            attempted += 1;
        }
    }

    /// When `backoff.maxDuration` runs out: the first attempt's start plus the duration.
    fn max_duration_deadline(
        &self,
        strategy: &RetryStrategy,
        call: &Call,
        scope: &Scope,
    ) -> Result<Option<jiff::Timestamp>, String> {
        let Some(max) = strategy
            .backoff
            .as_ref()
            .and_then(|b| b.max_duration.as_ref())
        else {
            return Ok(None);
        };
        let text = substitute_str(max.as_str(), scope, Mode::Strict).map_err(|e| e.to_string())?;
        let max =
            parse_duration(&text).map_err(|e| format!("retryStrategy.backoff.maxDuration: {e}"))?;
        let first = self.node_id(&format!("{}(0)", call.node_name));
        let Some(started) = self.nodes.get(&first).and_then(|n| n.started_at.as_ref()) else {
            return Ok(None);
        };
        let max = jiff::SignedDuration::try_from(max).unwrap_or(jiff::SignedDuration::MAX);
        Ok(Some(
            started.0.checked_add(max).unwrap_or(jiff::Timestamp::MAX),
        ))
    }

    /// Whether `retryStrategy.expression` allows another attempt after attempt `attempt_no`
    /// (`last_id`) failed. Its `{{…}}` tags take the template's variables (`scope`), as the rest
    /// of the template does; Argo then evaluates it over these variables only: `retries`, and
    /// `lastRetry.exitCode` (`-1` when unknown), `.status`, `.duration` (seconds) and `.message`.
    fn retry_expression(
        &self,
        expression: &str,
        template_scope: &Scope,
        last_id: &str,
        attempt_no: usize,
    ) -> Result<bool, String> {
        let expression = substitute_str(expression, template_scope, Mode::Lenient)
            .map_err(|e| format!("retryStrategy.expression: {e}"))?;
        let last = self.nodes.get(last_id);
        let exit_code = last
            .and_then(|n| n.outputs.as_ref())
            .and_then(|o| o.exit_code.clone())
            .unwrap_or_else(|| "-1".to_string());
        let seconds = last
            .and_then(|n| Some((n.started_at.as_ref()?, n.finished_at.as_ref()?)))
            .map_or(0.0, |(start, end)| {
                end.0.duration_since(start.0).as_secs_f64().max(0.0)
            });
        let mut scope = Scope::new();
        scope.set_evaluator(self.evaluator.clone());
        scope.insert("retries", attempt_no.to_string());
        scope.insert("lastRetry.exitCode", exit_code);
        scope.insert(
            "lastRetry.status",
            last.map(|n| n.phase.to_string()).unwrap_or_default(),
        );
        scope.insert("lastRetry.duration", seconds.to_string());
        scope.insert(
            "lastRetry.message",
            last.and_then(|n| n.message.clone()).unwrap_or_default(),
        );
        let value = crate::template::evaluate(&expression, &scope).map_err(|f| f.message)?;
        match value.as_deref() {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            other => Err(format!(
                "unable to cast expression result '{}' to bool",
                other.unwrap_or("<nil>")
            )),
        }
    }

    fn attempt(&mut self, call: &Call, retry_id: &str, n: usize, scope: &Scope) -> NodePhase {
        let attempt = Call {
            node_name: format!("{}({n})", call.node_name),
            display_name: format!("{}({n})", call.display_name),
            attempt: true,
            ..call.clone()
        };
        // Argo's `{{retries}}`: which attempt this is, from 0.
        let mut local = scope.child();
        local.insert("retries", n.to_string());
        let phase = self.execute(&attempt, &local);
        let attempt_id = self.node_id(&attempt.node_name);
        self.add_child(retry_id, &attempt_id);
        phase
    }
}

fn retry_limit(strategy: &RetryStrategy, scope: &Scope) -> Result<Option<u32>, String> {
    let Some(limit) = &strategy.limit else {
        return Ok(None);
    };
    let text = substitute_str(limit.as_str(), scope, Mode::Strict).map_err(|e| e.to_string())?;
    text.trim()
        .parse::<u32>()
        .map(Some)
        .map_err(|_| format!("retryStrategy.limit {text:?} is not a non-negative integer"))
}

/// Whether a failed attempt is retried under `policy` (default `OnFailure`).
fn retryable(policy: Option<&str>, phase: NodePhase) -> bool {
    match policy.unwrap_or("OnFailure") {
        "Always" => matches!(phase, NodePhase::Failed | NodePhase::Error),
        "OnError" | "OnTransientError" => phase == NodePhase::Error,
        _ => phase == NodePhase::Failed,
    }
}

/// The wait before attempt `retried + 1`: `duration * factor^retried`, capped by `cap`.
fn backoff(
    strategy: &RetryStrategy,
    retried: u32,
    scope: &Scope,
) -> Result<Option<Duration>, String> {
    let Some(b) = &strategy.backoff else {
        return Ok(None);
    };
    let Some(duration) = &b.duration else {
        return Ok(None);
    };
    let base = parse_duration(
        &substitute_str(duration.as_str(), scope, Mode::Strict).map_err(|e| e.to_string())?,
    )?;
    let factor = match &b.factor {
        Some(f) => f.as_str().trim().parse::<f64>().map_err(|_| {
            format!(
                "retryStrategy.backoff.factor {:?} is not a number",
                f.as_str()
            )
        })?,
        None => 1.0,
    };
    // Argo: duration × factor^(attempts so far − 1): d, d·f, d·f², …
    let exponent = i32::try_from(retried).unwrap_or(i32::MAX);
    let scaled = base.as_secs_f64() * factor.max(0.0).powi(exponent).min(1e6);
    let mut wait = Duration::try_from_secs_f64(scaled).unwrap_or(Duration::MAX);
    if let Some(cap) = &b.cap {
        wait = wait.min(parse_duration(cap.as_str())?);
    }
    Ok(Some(wait))
}

/// A Go duration (`10s`, `1m30s`, `1h`, `500ms`) or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let bad = || format!("{text:?} is not a duration (e.g. 30s, 1m, 1h30m)");
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
        let part = Duration::try_from_secs_f64(value * seconds).map_err(|_| bad())?;
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{}s", d.as_secs_f64().round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert!(
            parse_duration("99999999999999999999h").is_err(),
            "overflow is an error, not a panic"
        );
    }

    #[test]
    fn policies() {
        assert!(retryable(None, NodePhase::Failed));
        assert!(!retryable(None, NodePhase::Error));
        assert!(retryable(Some("OnError"), NodePhase::Error));
        assert!(retryable(Some("Always"), NodePhase::Error));
    }
}
