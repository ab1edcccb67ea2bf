//! Suspend templates: the node stays Running until it is resumed — Argo's `argo resume` (and
//! `flotilla resume`) marks it Succeeded in the status — or until `suspend.duration` has passed
//! since it started. A halted workflow fails it.
//!
//! Not implemented: output parameters supplied on resume (`valueFrom.supplied`).

use std::time::Duration;

use super::retry::parse_duration;
use super::walk::{Call, Walker};
use crate::workflow::{NodePhase, NodeType, Template};

impl Walker<'_> {
    pub(super) fn suspend(&mut self, call: &Call, template: &Template) -> NodePhase {
        let id = self.ensure_node(call, NodeType::Suspend, NodePhase::Pending);
        if let Some(halt) = &self.control.halt {
            let message = halt.suspend.clone();
            return self.mark(&id, NodePhase::Failed, Some(message));
        }
        let duration = template
            .suspend
            .as_ref()
            .and_then(|s| s.duration.as_ref())
            .map(|d| d.as_str().trim())
            .filter(|d| !d.is_empty());
        if let Some(text) = duration {
            let wait = match parse_duration(text) {
                Ok(wait) => wait,
                Err(e) => {
                    let message = format!(
                        "template {:?}: suspend.duration is invalid: {e}",
                        template.name
                    );
                    return self.mark(&id, NodePhase::Error, Some(message));
                }
            };
            let started = self
                .nodes
                .get(&id)
                .and_then(|n| n.started_at.as_ref())
                .map_or(self.now, |t| t.0);
            let due = jiff::SignedDuration::try_from(wait)
                .ok()
                .and_then(|w| started.checked_add(w).ok())
                .unwrap_or(jiff::Timestamp::MAX);
            if self.now > due {
                // A suspended workflow resumes nothing on its own, as in Argo.
                if !self.control.frozen {
                    return self.mark(&id, NodePhase::Succeeded, None);
                }
            } else {
                let left = Duration::try_from(due.duration_since(self.now)).unwrap_or_default();
                self.requeue(left + Duration::from_millis(1));
            }
        }
        self.mark(&id, NodePhase::Running, None)
    }
}
