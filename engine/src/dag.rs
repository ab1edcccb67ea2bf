//! DAG templates: tasks run when their `depends` (or `dependencies`) are met and their `when`
//! holds; the DAG's phase follows Argo's branch-phase assessment of its target tasks.

use std::collections::{HashMap, HashSet, VecDeque};

use super::children::{continues_on, skip_by_when};
use super::expr::{self, DependsDecision, DependsExpr, TaskState};
use super::fanout;
use super::hooks::{exit_template, is_hook};
use super::template::Scope;
use super::vars::referenced_tasks;
use super::walk::{Call, Walker};
use crate::workflow::{ContinueOn, DagTask, NodePhase, NodeType, Template};

/// Per-reconcile state of one DAG node.
struct DagRun<'t> {
    node_name: String,
    id: String,
    /// The tasks by name (a lookup per dependency, not a scan).
    by_name: HashMap<&'t str, &'t DagTask>,
    depends: HashMap<&'t str, Option<DependsExpr>>,
    visited: HashSet<&'t str>,
    /// Completed tasks whose exit hook still runs: their dependents and the DAG wait for it.
    hooks_pending: HashSet<&'t str>,
}

impl<'t> DagRun<'t> {
    fn task_name(&self, task: &str) -> String {
        format!("{}.{task}", self.node_name)
    }

    fn task(&self, name: &str) -> Option<&'t DagTask> {
        self.by_name.get(name).copied()
    }

    /// The names of the tasks `task` depends on.
    fn dependencies(&self, task: &str) -> Vec<String> {
        self.depends
            .get(task)
            .and_then(Option::as_ref)
            .map(|d| d.dependencies().into_iter().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

fn expr_phase(p: NodePhase) -> expr::Phase {
    match p {
        NodePhase::Pending => expr::Phase::Pending,
        NodePhase::Running => expr::Phase::Running,
        NodePhase::Succeeded => expr::Phase::Succeeded,
        NodePhase::Failed => expr::Phase::Failed,
        NodePhase::Error => expr::Phase::Error,
        NodePhase::Skipped => expr::Phase::Skipped,
        NodePhase::Omitted => expr::Phase::Omitted,
    }
}

/// Argo's `Completed`: fulfilled and not merely omitted.
fn completed(p: NodePhase) -> bool {
    matches!(
        p,
        NodePhase::Succeeded | NodePhase::Failed | NodePhase::Error | NodePhase::Skipped
    )
}

impl Walker<'_> {
    pub(super) fn dag(&mut self, call: &Call, template: &Template, scope: &Scope) -> NodePhase {
        let id = self.ensure_node(call, NodeType::Dag, NodePhase::Running);
        let Some(dag) = &template.dag else {
            return NodePhase::Running;
        };
        // Validation refuses such a DAG, but a status forged past it (`phase: Running` from the
        // start) is not validated: the cap holds here too.
        if dag.tasks.len() > MAX_TASKS {
            let message = too_many_tasks(&template.name, dag.tasks.len());
            return self.mark(&id, NodePhase::Error, Some(message));
        }
        self.enter_boundary(&id, template);
        let mut depends = HashMap::new();
        for task in &dag.tasks {
            match DependsExpr::for_task(task.depends.as_deref(), &task.dependencies) {
                Ok(e) => {
                    depends.insert(task.name.as_str(), e);
                }
                Err(e) => {
                    let message = format!(
                        "templates.{}.tasks.{}: invalid depends: {e}",
                        template.name, task.name
                    );
                    return self.mark(&id, NodePhase::Error, Some(message));
                }
            }
        }
        let targets: Vec<String> = match &dag.target {
            Some(t) if !t.trim().is_empty() => t.split_whitespace().map(str::to_string).collect(),
            _ => {
                let mut used = HashSet::new();
                for e in depends.values().flatten() {
                    used.extend(e.dependencies().into_iter().map(str::to_string));
                }
                dag.tasks
                    .iter()
                    .map(|t| t.name.clone())
                    .filter(|n| !used.contains(n))
                    .collect()
            }
        };
        let mut run = DagRun {
            node_name: call.node_name.clone(),
            id: id.clone(),
            // Reversed, so the first task of a name wins, as a scan finds it.
            by_name: dag
                .tasks
                .iter()
                .rev()
                .map(|t| (t.name.as_str(), t))
                .collect(),
            depends,
            visited: HashSet::new(),
            hooks_pending: HashSet::new(),
        };
        for target in &targets {
            self.dag_task(&mut run, target, scope);
        }
        let fail_fast = dag.fail_fast.unwrap_or(true);
        let target_ids: Vec<(String, Option<&ContinueOn>)> = targets
            .iter()
            .map(|t| {
                (
                    self.node_id(&run.task_name(t)),
                    run.task(t).and_then(|x| x.continue_on.as_ref()),
                )
            })
            .collect();
        let phase = self.assess_dag(&id, &target_ids, fail_fast);
        // A task's exit hook holds the DAG as a running task does, created yet or not.
        let phase = if run.hooks_pending.is_empty() {
            phase
        } else {
            NodePhase::Running
        };
        if !phase.is_fulfilled()
            && let Some(failed) = self.leave_boundary(&id)
        {
            return failed;
        }
        if phase.is_fulfilled() {
            let outbound = self.outbound(target_ids.iter().map(|(t, _)| t.as_str()));
            if let Some(node) = self.nodes.get_mut(&id) {
                node.outbound_nodes = outbound;
            }
            if phase == NodePhase::Succeeded {
                let tasks = dag.tasks.iter();
                let tasks = tasks.map(|t| (t.name.clone(), run.task_name(&t.name)));
                if let Err(message) =
                    self.template_outputs(&id, template, scope, "tasks", tasks.collect())
                {
                    return self.mark(&id, NodePhase::Error, Some(message));
                }
            }
            return self.mark(&id, phase, None);
        }
        phase
    }

    /// The dependency state of a task, for `depends` evaluation.
    fn task_state(&self, run: &DagRun, name: &str) -> TaskState {
        // Its dependents wait for its exit hook, as for the task itself (Argo's
        // `CheckAllHooksFullfilled`).
        if run.hooks_pending.contains(name) {
            return TaskState::node(expr_phase(NodePhase::Running));
        }
        let id = self.node_id(&run.task_name(name));
        let Some(node) = self.nodes.get(&id) else {
            return TaskState::not_created();
        };
        let mut state = TaskState::node(expr_phase(node.phase));
        // Charged: each dependent of a fan-out reads all its children, and a forged status can
        // give a group as many as it likes.
        if node.type_ == NodeType::TaskGroup && self.budget.step(node.children.len()) {
            let children: Vec<expr::Phase> = node
                .children
                .iter()
                .filter_map(|c| self.nodes.get(c))
                .map(|c| expr_phase(c.phase))
                .collect();
            state = state.with_children(children);
        }
        if let Some(c) = run.task(name).and_then(|t| t.continue_on.as_ref()) {
            state = state.with_continue_on(expr::ContinueOn {
                error: c.error,
                failed: c.failed,
            });
        }
        state
    }

    /// Scope for a task's arguments, items and `when`: the DAG's scope plus the variables of
    /// the tasks they name (`{{tasks.NAME…}}`, `tasks['NAME']`). Only those: every task's, for
    /// every task decided, cost the square of the DAG's width on every reconcile. An expression
    /// that may name any task (a computed index, `$env`) gets them all.
    fn dag_scope<'s>(&self, run: &DagRun, scope: &'s Scope, task: &DagTask) -> Scope<'s> {
        let mut vars = Vec::new();
        let names = referenced_tasks(task).unwrap_or_else(|| {
            // Every task, for every task decided: charged as graph steps, as that costs.
            self.budget.step(run.by_name.len());
            run.by_name.keys().map(|n| n.to_string()).collect()
        });
        for name in names {
            if run.task(&name).is_none() {
                continue;
            }
            let id = self.node_id(&run.task_name(&name));
            self.child_vars(&format!("tasks.{name}"), &id, &mut vars);
        }
        let mut local = scope.child();
        local.extend(vars);
        local
    }

    /// Decides `target` after every task it depends on, depth first — with an explicit stack,
    /// as a chain of dependencies is as long as the workflow's spec makes it (a recursion here
    /// overflowed the stack on a long chain). Each task is decided once per reconcile; a
    /// finished task's dependencies are not revisited through it.
    fn dag_task<'t>(&mut self, run: &mut DagRun<'t>, target: &str, scope: &Scope) {
        let mut stack: Vec<(&'t DagTask, bool)> = Vec::new();
        if let Some(task) = run.task(target) {
            stack.push((task, false));
        }
        while let Some((task, deps_done)) = stack.pop() {
            if deps_done {
                self.dag_task_decide(run, task, scope);
                continue;
            }
            if !run.visited.insert(task.name.as_str()) {
                continue;
            }
            let task_id = self.node_id(&run.task_name(&task.name));
            if self.phase_of(&task_id).is_some_and(NodePhase::is_fulfilled) {
                self.task_hook(run, task, scope);
                continue;
            }
            stack.push((task, true));
            let deps = run.dependencies(&task.name);
            let deps: Vec<&'t DagTask> = deps.iter().filter_map(|d| run.task(d)).collect();
            stack.extend(deps.into_iter().rev().map(|dep| (dep, false)));
        }
    }

    /// Decides one task whose dependencies have been decided in this reconcile.
    fn dag_task_decide<'t>(&mut self, run: &mut DagRun<'t>, task: &'t DagTask, scope: &Scope) {
        let node_name = run.task_name(&task.name);
        let task_id = self.node_id(&node_name);
        let depends = run.depends.get(task.name.as_str()).cloned().flatten();
        let deps = run.dependencies(&task.name);
        if let Some(expr) = &depends {
            match expr.evaluate(|n| self.task_state(run, n)) {
                DependsDecision::Wait => return,
                DependsDecision::Omit => {
                    let message = expr::OMITTED_MESSAGE.to_string();
                    let settled = (NodeType::Skipped, NodePhase::Omitted, message);
                    return self.settle_task(run, task, &node_name, &deps, settled, scope);
                }
                DependsDecision::Run => {}
            }
        }
        let local = self.dag_scope(run, scope, task);
        if let Some(when) = &task.when {
            let skip = skip_by_when(when, &local);
            if let Some((phase, message)) = skip {
                let settled = (NodeType::Skipped, phase, message);
                return self.settle_task(run, task, &node_name, &deps, settled, scope);
            }
        }
        let items = match fanout::items(
            task.with_items.as_ref(),
            task.with_param.as_deref(),
            task.with_sequence.as_ref(),
            &local,
            self.config.max_fan_out,
        ) {
            Ok(items) => items,
            Err(message) => {
                let settled = (NodeType::Pod, NodePhase::Error, message);
                return self.settle_task(run, task, &node_name, &deps, settled, scope);
            }
        };
        match items {
            None => {
                let phase_call = match self.arguments(task.arguments.as_ref(), &local) {
                    Ok(args) => self.task_call(run, task, &node_name, args),
                    Err(message) => {
                        let settled = (NodeType::Pod, NodePhase::Error, message);
                        return self.settle_task(run, task, &node_name, &deps, settled, scope);
                    }
                };
                self.execute(&phase_call, scope);
                self.connect(run, &deps, &task_id);
                self.task_hook(run, task, scope);
            }
            Some(items) => {
                let group_call = self.task_call(run, task, &node_name, Vec::new());
                let group = self.ensure_node(&group_call, NodeType::TaskGroup, NodePhase::Running);
                self.connect(run, &deps, &group);
                let phase = self.fan_out(
                    &group_call,
                    &group,
                    &items,
                    task.arguments.as_ref(),
                    task.continue_on.as_ref(),
                    exit_template(task.on_exit.as_deref()),
                    &local,
                    scope,
                );
                if phase.is_fulfilled() {
                    self.mark(&group, phase, None);
                }
            }
        }
    }

    /// A task that does not run (omitted, skipped by `when`, or failed before it starts): its
    /// node of `type_` ends in `phase` with `message`, hung where the task would have been.
    fn settle_task<'t>(
        &mut self,
        run: &mut DagRun<'t>,
        task: &'t DagTask,
        node_name: &str,
        deps: &[String],
        (type_, phase, message): (NodeType, NodePhase, String),
        scope: &Scope,
    ) {
        let call = self.task_call(run, task, node_name, Vec::new());
        let id = self.ensure_node(&call, type_, phase);
        self.mark(&id, phase, Some(message));
        self.connect(run, deps, &id);
        self.task_hook(run, task, scope);
    }

    /// A task's exit hook, once the task has completed (a fanned-out task's items have theirs,
    /// see `fan_out`); one still running is recorded in `run.hooks_pending`.
    fn task_hook<'t>(&mut self, run: &mut DagRun<'t>, task: &'t DagTask, scope: &Scope) {
        let Some(hook) = exit_template(task.on_exit.as_deref()) else {
            return;
        };
        let node_name = run.task_name(&task.name);
        let fanned_out = self
            .nodes
            .get(&self.node_id(&node_name))
            .is_some_and(|n| n.type_ == NodeType::TaskGroup);
        if fanned_out {
            return;
        }
        let parent = self.task_call(run, task, &node_name, Vec::new());
        if !self.exit_hook(&parent, hook, scope) {
            run.hooks_pending.insert(task.name.as_str());
        }
    }

    fn task_call(
        &self,
        run: &DagRun,
        task: &DagTask,
        node_name: &str,
        arguments: Vec<(String, String)>,
    ) -> Call {
        Call {
            node_name: node_name.to_string(),
            display_name: task.name.clone(),
            template: task.template.clone().unwrap_or_default(),
            arguments,
            boundary_id: Some(run.id.clone()),
            attempt: false,
        }
    }

    /// Hangs a task's node under the DAG (root tasks) or under its dependencies' outbound nodes.
    fn connect(&mut self, run: &DagRun, deps: &[String], id: &str) {
        if deps.is_empty() {
            let dag_id = run.id.clone();
            self.add_child(&dag_id, id);
            return;
        }
        let dep_ids: Vec<String> = deps
            .iter()
            .map(|dep| self.node_id(&run.task_name(dep)))
            .collect();
        for parent in self.outbound(dep_ids.iter().map(String::as_str)) {
            self.add_child(&parent, id);
        }
    }

    /// Argo's `assessDAGPhase`: a breadth-first walk from the DAG's children carrying each
    /// branch's last completed phase, so an omitted target inherits its branch's failure.
    fn assess_dag(
        &self,
        dag_id: &str,
        targets: &[(String, Option<&ContinueOn>)],
        fail_fast: bool,
    ) -> NodePhase {
        let Some(dag) = self.nodes.get(dag_id) else {
            return NodePhase::Running;
        };
        let mut target_phase: HashMap<&str, Option<NodePhase>> =
            targets.iter().map(|(t, _)| (t.as_str(), None)).collect();
        let mut queue: VecDeque<(String, NodePhase)> = dag
            .children
            .iter()
            .map(|c| (c.clone(), NodePhase::Succeeded))
            .collect();
        let mut seen: HashSet<(String, NodePhase)> = HashSet::new();
        while let Some((id, inherited)) = queue.pop_front() {
            if !seen.insert((id.clone(), inherited)) {
                continue;
            }
            let Some(node) = self.nodes.get(&id) else {
                return NodePhase::Running;
            };
            if !node.phase.is_fulfilled() {
                return NodePhase::Running;
            }
            let branch = if completed(node.phase) {
                node.phase
            } else {
                inherited
            };
            if let Some(slot) = target_phase.get_mut(id.as_str())
                && !slot.is_some_and(|p| matches!(p, NodePhase::Failed | NodePhase::Error))
            {
                *slot = Some(branch);
            }
            let next: Vec<String> = if node.type_ == NodeType::Retry {
                // Past the attempts to what they lead to; an exit hook of the Retry node is
                // walked itself.
                node.children
                    .iter()
                    .filter_map(|c| self.nodes.get(c))
                    .flat_map(|c| {
                        if is_hook(c) {
                            vec![c.id.clone()]
                        } else {
                            c.children.clone()
                        }
                    })
                    .collect()
            } else {
                node.children.clone()
            };
            queue.extend(next.into_iter().map(|c| (c, branch)));
        }
        let mut result = NodePhase::Succeeded;
        for (target, continue_on) in targets {
            match target_phase.get(target.as_str()).copied().flatten() {
                None => {
                    result = NodePhase::Running;
                    if !fail_fast {
                        break;
                    }
                }
                Some(p) if matches!(p, NodePhase::Failed | NodePhase::Error) => {
                    if continues_on(*continue_on, p) {
                        continue;
                    }
                    result = p;
                    if fail_fast {
                        break;
                    }
                }
                Some(_) => {}
            }
        }
        result
    }
}

/// Most tasks one DAG template may hold: validating it keeps every task's ancestry, a bit per
/// pair of tasks (12.5 MB at the cap), and deciding it links each task to its dependencies.
pub(super) const MAX_TASKS: usize = 10_000;

/// The error of a DAG template of `tasks` tasks, more than [`MAX_TASKS`].
pub(super) fn too_many_tasks(template: &str, tasks: usize) -> String {
    format!(
        "templates.{template}.dag.tasks holds {tasks} tasks; at most {MAX_TASKS} are supported (fan a task out with withItems, withParam or withSequence instead)"
    )
}
