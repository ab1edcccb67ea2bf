//! How much of a workflow may run at once, for one walk: the pod budget (the workflow's
//! `parallelism` and the per-reconcile cap on creations) and each steps or DAG template's own
//! `parallelism` and `failFast`, as Argo's `checkParallelism` applies them: a template with
//! `parallelism: N` starts no new child while N of its children (pods, steps, DAGs) are pending
//! or running, and one with `failFast: true` fails once a child has failed, starting nothing
//! more.
//!
//! Children are counted when the first new child would start, so those walked before it this
//! reconcile count with their new phases.

use std::collections::{BTreeMap, HashMap};

use super::budget::WalkBudget;
use super::lifecycle::Control;
use super::walk::{Call, Walker};
use crate::workflow::{NodePhase, NodeStatus, NodeType, Template, Workflow};
use crate::{EngineConfig, Observed};

/// Argo's message for a template failed by `failFast`.
const FAIL_FAST: &str = "template has failed or errored children and failFast enabled";

/// The workflow's pod budget and its steps and DAG nodes' limits, for one walk.
#[derive(Debug)]
pub(super) struct Parallelism {
    /// Pods this reconcile may still create (per-reconcile cap and workflow `parallelism`).
    creates_left: usize,
    /// What exit handlers may create when the walk is halted, taken by the first (`reopen`).
    handlers_may_create: Option<usize>,
    /// The `parallelism` and `failFast` of the steps and DAG nodes walked (by node ID).
    limits: HashMap<String, Limits>,
}

impl Parallelism {
    /// The pod budget: none while the workflow is halted or suspended; else the per-reconcile
    /// cap, within the workflow's `parallelism` less its pods already running.
    pub(super) fn new(
        wf: &Workflow,
        nodes: &BTreeMap<String, NodeStatus>,
        observed: &Observed,
        config: &EngineConfig,
        control: &Control,
    ) -> Self {
        let running_pods = nodes
            .values()
            .filter(|n| {
                n.type_ == NodeType::Pod
                    && !n.phase.is_fulfilled()
                    && observed.pods.contains_key(&n.id)
            })
            .count();
        let parallelism = wf
            .spec
            .parallelism
            .and_then(|p| usize::try_from(p).ok())
            .filter(|p| *p > 0);
        let open = match parallelism {
            Some(p) => p
                .saturating_sub(running_pods)
                .min(config.max_pod_creates_per_reconcile),
            None => config.max_pod_creates_per_reconcile,
        };
        let halted = control.halt.is_some() || control.frozen;
        Parallelism {
            creates_left: if halted { 0 } else { open },
            handlers_may_create: halted.then_some(open),
            limits: HashMap::new(),
        }
    }

    /// Whether a pod may be created now.
    pub(super) fn may_create(&self) -> bool {
        self.creates_left > 0
    }

    /// A pod is created: one less may be.
    pub(super) fn created(&mut self) {
        self.creates_left = self.creates_left.saturating_sub(1);
    }

    /// No more pods this reconcile (its share of manifests is built).
    pub(super) fn stop_creating(&mut self) {
        self.creates_left = 0;
    }

    /// Exit handlers' pods, in a halted walk: the budget the halt held back (the per-reconcile
    /// cap within the workflow's `parallelism`), once per walk — every handler of the walk
    /// shares it.
    pub(super) fn reopen(&mut self) {
        if let Some(open) = self.handlers_may_create.take() {
            self.creates_left = open;
        }
    }

    /// On entering the steps or DAG node `id`: records its template's limits.
    fn enter(&mut self, id: &str, template: &Template) {
        let parallelism = template
            .parallelism
            .and_then(|p| usize::try_from(p).ok())
            .filter(|p| *p > 0);
        let fail_fast = template.fail_fast == Some(true);
        if parallelism.is_some() || fail_fast {
            let limits = Limits {
                parallelism,
                fail_fast,
                left: None,
            };
            self.limits.insert(id.to_string(), limits);
        }
    }

    fn fails_fast(&self, id: &str) -> bool {
        self.limits.get(id).is_some_and(|l| l.fail_fast)
    }

    /// Whether a new child of `boundary` may start (and counts it if so); `children` counts
    /// the boundary's children, asked at most once per boundary.
    fn may_start(&mut self, boundary: &str, children: impl FnOnce() -> Children) -> bool {
        let Some(limits) = self.limits.get_mut(boundary) else {
            return true;
        };
        let left = match limits.left {
            Some(left) => left,
            None => {
                let children = children();
                if limits.fail_fast && children.unsuccessful > 0 {
                    0
                } else {
                    limits
                        .parallelism
                        .map_or(usize::MAX, |p| p.saturating_sub(children.active))
                }
            }
        };
        let allowed = left > 0;
        limits.left = Some(if allowed { left - 1 } else { 0 });
        allowed
    }
}

/// The limits of one steps or DAG node, for this reconcile.
#[derive(Debug, Clone, Default)]
struct Limits {
    parallelism: Option<usize>,
    fail_fast: bool,
    /// New children it may still start; counted at the first start.
    left: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Children {
    active: usize,
    unsuccessful: usize,
}

/// Argo's `isActiveNodeType`: the children that count.
fn counts(t: NodeType) -> bool {
    matches!(t, NodeType::Pod | NodeType::Steps | NodeType::Dag)
}

impl Walker<'_> {
    /// On entering the steps or DAG node `id`: records its template's limits.
    pub(super) fn enter_boundary(&mut self, id: &str, template: &Template) {
        self.parallelism.enter(id, template);
    }

    /// Once its children are walked: `Some(Failed)` when `failFast` fails the node `id`.
    pub(super) fn leave_boundary(&mut self, id: &str) -> Option<NodePhase> {
        if self.parallelism.fails_fast(id)
            && children_of(&self.nodes, &self.budget, id).unsuccessful > 0
        {
            return Some(self.mark(id, NodePhase::Failed, Some(FAIL_FAST.into())));
        }
        None
    }

    /// Whether the call's node, about to be created, may start under its boundary's limits
    /// (and counts it if so). Retry attempts are not held back: their retry node was.
    pub(super) fn may_start(&mut self, call: &Call) -> bool {
        if call.attempt {
            return true;
        }
        let Some(boundary) = call.boundary_id.as_deref() else {
            return true;
        };
        let (nodes, budget) = (&self.nodes, &self.budget);
        self.parallelism
            .may_start(boundary, || children_of(nodes, budget, boundary))
    }
}

/// The boundary's children that count, by phase.
fn children_of(
    nodes: &BTreeMap<String, NodeStatus>,
    budget: &WalkBudget,
    boundary: &str,
) -> Children {
    let mut children = Children::default();
    // A scan of every node, per boundary with limits: charged, as a forged status can hold
    // many such boundaries.
    if !budget.step(nodes.len()) {
        return children;
    }
    let inside = nodes
        .values()
        .filter(|n| counts(n.type_) && n.boundary_id.as_deref() == Some(boundary));
    for node in inside {
        match node.phase {
            NodePhase::Pending | NodePhase::Running => children.active += 1,
            NodePhase::Failed | NodePhase::Error => children.unsuccessful += 1,
            _ => {}
        }
    }
    children
}
