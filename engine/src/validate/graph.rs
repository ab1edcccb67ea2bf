//! Argo's `validateSteps` and `validateDAG`: names, loops, arguments, references between steps
//! or tasks, and the DAG's edges (sorted with Argo's own topological sort, so duplicate names,
//! unknown dependencies and cycles fail with Argo's `sorting failed: ...`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::Value;

use super::argo::{Args, Ctx, Holder, to_json};
use super::kind::other_field;
use super::names::{
    NameRule, artifact_name, check_arguments, check_names, field_name_errors, is_parameter,
    str_field,
};
use super::scope::{ANY_ITEM, Scope, resolve_all};
use crate::expr::{DependsExpr, ExprError};
use crate::workflow::{Arguments, DagTask, Sequence, Template};

impl<'a> Ctx<'a> {
    pub(super) fn validate_steps(
        &mut self,
        scope: &mut Scope,
        t: &'a Template,
    ) -> Result<(), String> {
        non_leaf(t)?;
        let name = &t.name;
        let mut seen = HashSet::new();
        for (i, group) in t.steps.iter().flatten().enumerate() {
            for step in &group.0 {
                let s = step.name.as_str();
                if s.is_empty() {
                    return Err(format!("templates.{name}.steps[{i}].name is required"));
                }
                if seen.contains(s) {
                    return Err(format!(
                        "templates.{name}.steps[{i}].name '{s}' is not unique"
                    ));
                }
                let errs = field_name_errors(s);
                if !errs.is_empty() {
                    return Err(format!(
                        "templates.{name}.steps[{i}].name '{s}' is invalid: {}",
                        errs.join(";")
                    ));
                }
                seen.insert(s);
                let at = format!("templates.{name}.steps[{i}].{s}");
                let prefix = format!("steps.{s}");
                scope.insert(format!("{prefix}.status"));
                add_items_to_scope(
                    step.with_items.as_deref(),
                    step.with_param.as_deref(),
                    step.with_sequence.as_ref(),
                    scope,
                )
                .map_err(|e| format!("{at} {e}"))?;
                check_arguments(&format!("{at}.arguments."), step.arguments.as_ref())?;
                let holder = Holder::step(step);
                let resolved = self
                    .validate_holder(&holder, Args::Fake)
                    .map_err(|e| format!("{at} {e}"))?;
                if has_exit_hook(step.on_exit.as_deref(), &step.other) {
                    self.add_outputs_to_scope(resolved, &prefix, scope, false, false);
                }
                resolve_all(&[scope], &self.globals, &to_json(step)?)
                    .map_err(|e| format!("templates.{name}.steps {e}"))?;
                let aggregate =
                    loops_over_list(step.with_items.as_deref(), step.with_param.as_deref());
                self.add_outputs_to_scope(resolved, &prefix, scope, aggregate, false);
                self.validate_holder(&holder, Args::Given(step.arguments.as_ref()))
                    .map_err(|e| format!("{at} {e}"))?;
            }
        }
        Ok(())
    }

    pub(super) fn validate_dag(
        &mut self,
        scope: &mut Scope,
        t: &'a Template,
    ) -> Result<(), String> {
        non_leaf(t)?;
        let name = &t.name;
        let Some(dag) = &t.dag else { return Ok(()) };
        let tasks = &dag.tasks;
        if tasks.is_empty() {
            return Err(format!("templates.{name} must have at least one task"));
        }
        if tasks.len() > crate::dag::MAX_TASKS {
            return Err(crate::dag::too_many_tasks(name, tasks.len()));
        }
        let using_depends = tasks.iter().any(|t| non_empty(t.depends.as_deref()));
        let exprs: Vec<Result<Option<DependsExpr>, ExprError>> = tasks
            .iter()
            .map(|t| DependsExpr::for_task(t.depends.as_deref(), &t.dependencies))
            .collect();
        let deps: Vec<Vec<String>> = tasks.iter().zip(&exprs).map(edges).collect();
        let order =
            topo_sort(tasks, &deps).map_err(|e| format!("templates.{name} sorting failed: {e}"))?;
        check_names(tasks.iter().map(|t| t.name.as_str()), NameRule::Field)
            .map_err(|e| format!("templates.{name}.tasks{e}"))?;
        let index: HashMap<&str, usize> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let sorted = || order.iter().filter_map(|&i| tasks.get(i).map(|t| (i, t)));
        let ancestry = Ancestry::new(&order, &deps, &index);

        let mut resolved: Vec<Option<&'a Template>> = vec![None; tasks.len()];
        for (i, task) in sorted() {
            let at = format!("templates.{name}.tasks.{}", task.name);
            let starts_with_digit = task.name.as_bytes().first().is_some_and(u8::is_ascii_digit);
            if (using_depends || !task.dependencies.is_empty()) && starts_with_digit {
                return Err(format!(
                    "{at} name cannot begin with a digit when using either 'depends' or 'dependencies'"
                ));
            }
            if using_depends && !task.dependencies.is_empty() {
                return Err(format!(
                    "templates.{name} cannot use both 'depends' and 'dependencies' in the same DAG template"
                ));
            }
            if using_depends && task.continue_on.is_some() {
                return Err(format!(
                    "templates.{name} cannot use 'continueOn' when using 'depends'. Instead use 'dep-task.Failed'/'dep-task.Errored'"
                ));
            }
            let r = self
                .validate_holder(&Holder::task(task), Args::Fake)
                .map_err(|e| format!("{at} {e}"))?;
            if let Some(slot) = resolved.get_mut(i) {
                *slot = r;
            }
            let prefix = format!("tasks.{}", task.name);
            self.add_outputs_to_scope(r, &prefix, scope, task_aggregates(task), false);
            match exprs.get(i) {
                Some(Err(e)) => return Err(format!("{at} {e}")),
                Some(Ok(Some(expr))) => {
                    for dep in expr.item_dependencies() {
                        let dep_task = index.get(dep).and_then(|&j| tasks.get(j));
                        if dep_task.is_some_and(|d| !has_items(d)) {
                            return Err(format!(
                                "{at} dependency '{dep}' uses an items-based condition such as .AnySucceeded or .AllFailed but does not contain any items"
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(target) = dag.target.as_deref().filter(|s| !s.is_empty()) {
            resolve_all(&[scope], &self.globals, target)
                .map_err(|e| format!("templates.{name}.targets {e}"))?;
            for tn in target.split(' ') {
                if !is_parameter(tn) && !index.contains_key(tn) {
                    return Err(format!(
                        "templates.{name}.targets: target '{tn}' is not defined"
                    ));
                }
            }
        }
        for (i, task) in sorted() {
            let at = format!("templates.{name}.tasks.{}", task.name);
            let prefix = format!("tasks.{}", task.name);
            let r = resolved.get(i).copied().flatten();
            if other_field(&task.other, "hooks").is_some() {
                scope.insert(format!("{prefix}.status"));
            }
            self.add_outputs_to_scope(r, &prefix, scope, false, false);
            // What only this task sees, layered over `scope` rather than copying it: the
            // outputs of the ancestors it names (all of them cost the square of a chain's length).
            let mut task_scope = Scope::new();
            let task_json = to_json(task)?;
            let mut names: HashSet<&str> = HashSet::new();
            for referenced in crate::vars::task_names_in(&task_json) {
                let Some(&a) = index.get(referenced) else {
                    continue;
                };
                if let Some(anc) = tasks.get(a).filter(|_| ancestry.has(i, a)) {
                    let r = resolved.get(a).copied().flatten();
                    let p = format!("tasks.{}", anc.name);
                    self.add_outputs_to_scope(r, &p, &mut task_scope, task_aggregates(anc), true);
                    names.insert(anc.name.as_str());
                }
            }
            add_items_to_scope(
                task.with_items.as_deref(),
                task.with_param.as_deref(),
                task.with_sequence.as_ref(),
                &mut task_scope,
            )
            .map_err(|e| format!("{at} {e}"))?;
            resolve_all(&[scope, &task_scope], &self.globals, &task_json)
                .map_err(|e| format!("{at} {e}"))?;
            check_arguments(&format!("{at}.arguments."), task.arguments.as_ref())?;
            argument_dependencies(task.arguments.as_ref(), &names)
                .map_err(|e| format!("{at} {e}"))?;
            self.validate_holder(&Holder::task(task), Args::Given(task.arguments.as_ref()))
                .map_err(|e| format!("{at} {e}"))?;
        }
        Ok(())
    }
}

/// Argo's `validateNonLeaf`.
fn non_leaf(t: &Template) -> Result<(), String> {
    if t.active_deadline_seconds.is_some() {
        return Err(format!(
            "templates.{}.activeDeadlineSeconds is only valid for leaf templates",
            t.name
        ));
    }
    Ok(())
}

fn non_empty(s: Option<&str>) -> bool {
    s.is_some_and(|s| !s.is_empty())
}

/// The tasks a task waits for. A `depends` that does not parse has no edges here; its error is
/// reported where Argo checks task results, after the DAG is sorted.
fn edges((task, expr): (&DagTask, &Result<Option<DependsExpr>, ExprError>)) -> Vec<String> {
    match expr {
        Ok(Some(e)) => e.dependencies().into_iter().map(String::from).collect(),
        Ok(None) => Vec::new(),
        Err(_) if non_empty(task.depends.as_deref()) => Vec::new(),
        Err(_) => {
            let mut out: Vec<String> = Vec::new();
            for d in &task.dependencies {
                if !out.contains(d) {
                    out.push(d.clone());
                }
            }
            out
        }
    }
}

/// Argo's `sorting.TopologicalSorting` (Kahn's algorithm), with its errors. Ties are broken by
/// declaration order, so the first error reported is deterministic (Argo's depends on Go's map
/// order).
fn topo_sort(tasks: &[DagTask], deps: &[Vec<String>]) -> Result<Vec<usize>, String> {
    let mut index = HashMap::new();
    for (i, t) in tasks.iter().enumerate() {
        if index.insert(t.name.as_str(), i).is_some() {
            return Err(format!("duplicated nodeName {}", t.name));
        }
    }
    let mut waiting = vec![0usize; tasks.len()];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, ds) in deps.iter().enumerate() {
        for d in ds {
            let Some(&j) = index.get(d.as_str()) else {
                return Err(format!("invalid dependency {d}"));
            };
            if let (Some(n), Some(w)) = (next.get_mut(j), waiting.get_mut(i)) {
                n.push(i);
                *w += 1;
            }
        }
    }
    let mut queue: VecDeque<usize> = (0..tasks.len())
        .filter(|&i| waiting.get(i) == Some(&0))
        .collect();
    let mut order = Vec::with_capacity(tasks.len());
    while let Some(i) = queue.pop_front() {
        order.push(i);
        for &k in next.get(i).into_iter().flatten() {
            if let Some(w) = waiting.get_mut(k) {
                *w -= 1;
                if *w == 0 {
                    queue.push_back(k);
                }
            }
        }
    }
    if order.len() < tasks.len() {
        return Err("graph with cycle".to_string());
    }
    Ok(order)
}

/// Every task's ancestors — the tasks it waits for, directly or not (Argo's
/// `GetTaskAncestry`) — as a bit set over task indices per task, built once in topological
/// order: a task's ancestors are its dependencies and theirs (at most
/// `dag::MAX_TASKS` tasks, checked first).
struct Ancestry {
    words: usize,
    bits: Vec<u64>,
}

impl Ancestry {
    fn new(order: &[usize], deps: &[Vec<String>], index: &HashMap<&str, usize>) -> Ancestry {
        let words = deps.len().div_ceil(64);
        let mut bits = vec![0u64; deps.len() * words];
        for &i in order {
            for d in deps.get(i).into_iter().flatten() {
                let Some(&j) = index.get(d.as_str()).filter(|&&j| j != i) else {
                    continue;
                };
                // `j` comes before `i` in the order, so its set is complete.
                let (row, dep_row) = if i < j {
                    let (head, tail) = bits.split_at_mut(j * words);
                    (&mut head[i * words..(i + 1) * words], &tail[..words])
                } else {
                    let (head, tail) = bits.split_at_mut(i * words);
                    (&mut tail[..words], &head[j * words..(j + 1) * words])
                };
                for (word, dep_word) in row.iter_mut().zip(dep_row) {
                    *word |= dep_word;
                }
                if let Some(word) = row.get_mut(j / 64) {
                    *word |= 1 << (j % 64);
                }
            }
        }
        Ancestry { words, bits }
    }

    /// Whether task `ancestor` is an ancestor of task `task`.
    fn has(&self, task: usize, ancestor: usize) -> bool {
        self.bits
            .get(task * self.words + ancestor / 64)
            .is_some_and(|word| word & (1 << (ancestor % 64)) != 0)
    }
}

/// Argo's `validateDAGTaskArgumentDependency`: an argument that is exactly a reference to a
/// task's output must name an ancestor, or the value may not exist when the task starts.
fn argument_dependencies(args: Option<&Arguments>, ancestry: &HashSet<&str>) -> Result<(), String> {
    let Some(args) = args else { return Ok(()) };
    let referenced = |v: &str| {
        v.starts_with("{{tasks.")
            .then(|| v.split('.').nth(1).unwrap_or("").to_string())
            .filter(|t| !ancestry.contains(t.as_str()))
    };
    for p in &args.parameters {
        if let Some(t) = p.value.as_ref().and_then(|v| referenced(v.as_str())) {
            return Err(format!(
                "missing dependency '{t}' for parameter '{}'",
                p.name
            ));
        }
    }
    for a in &args.artifacts {
        if let Some(t) = referenced(str_field(a, "from")) {
            return Err(format!(
                "missing dependency '{t}' for artifact '{}'",
                artifact_name(a)
            ));
        }
    }
    Ok(())
}

/// Argo's `addItemsToScope`: at most one loop, and the `{{item...}}` names it defines.
fn add_items_to_scope(
    items: Option<&[Value]>,
    param: Option<&str>,
    sequence: Option<&Sequence>,
    scope: &mut Scope,
) -> Result<(), String> {
    let items = items.unwrap_or_default();
    let param = param.unwrap_or("");
    let defined = [!items.is_empty(), !param.is_empty(), sequence.is_some()];
    if defined.iter().filter(|d| **d).count() > 1 {
        return Err("only one of withItems, withParam, withSequence can be specified".to_string());
    }
    if !items.is_empty() {
        for item in items {
            match item {
                Value::Array(list) => {
                    scope.extend((0..list.len()).map(|i| format!("item.[{i}]")));
                }
                Value::Object(map) => scope.extend(map.keys().map(|k| format!("item.{k}"))),
                _ => {
                    scope.insert("item".to_string());
                }
            }
        }
    } else if !param.is_empty() {
        scope.insert("item".to_string());
        scope.insert(ANY_ITEM.to_string());
    } else if let Some(seq) = sequence {
        if seq.count.is_some() && seq.end.is_some() {
            return Err("only one of count or end can be defined in withSequence".to_string());
        }
        scope.insert("item".to_string());
    }
    Ok(())
}

/// Whether a step or task's outputs are aggregated into lists (`withItems` or `withParam`).
fn loops_over_list(items: Option<&[Value]>, param: Option<&str>) -> bool {
    items.is_some_and(|i| !i.is_empty()) || non_empty(param)
}

fn task_aggregates(t: &DagTask) -> bool {
    loops_over_list(t.with_items.as_deref(), t.with_param.as_deref())
}

fn has_items(t: &DagTask) -> bool {
    task_aggregates(t) || t.with_sequence.is_some()
}

/// Argo's `HasExitHook`: `onExit`, or a `hooks.exit`.
fn has_exit_hook(on_exit: Option<&str>, other: &BTreeMap<String, Value>) -> bool {
    non_empty(on_exit)
        || other_field(other, "hooks")
            .and_then(|h| h.get("exit"))
            .is_some()
}
