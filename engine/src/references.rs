//! Templates a workflow takes from WorkflowTemplates and ClusterWorkflowTemplates, resolved
//! into the workflow the walk runs (Argo's `templateresolution` and `JoinWorkflowSpec`).
//!
//! - `workflowTemplateRef`: the workflow runs the WorkflowTemplate's spec with its own joined
//!   over it — its fields win, `templates`, `arguments.parameters`, `arguments.artifacts` and
//!   `volumes` are merged by name. The WorkflowTemplate's spec is stored in
//!   `status.storedWorkflowTemplateSpec` on the first pass and used from there after.
//! - `templateRef` (a step's or task's): the template of that WorkflowTemplate. The names its
//!   steps and tasks call are that WorkflowTemplate's templates, not the workflow's. Each one is
//!   stored in `status.storedTemplates` under Argo's key (`namespaced/<name>/<template>`,
//!   `cluster/…` for a ClusterWorkflowTemplate) when first resolved, and used from there after:
//!   a running workflow keeps what it started with when a WorkflowTemplate changes.
//!
//! The walk runs a workflow whose templates are its own plus each stored one named by its key,
//! with every call rewritten to the key of what it calls; no local name holds a `/`, so no key
//! is ever a local name. A template's origin grants nothing: it runs under the workflow's
//! authorization, exactly as it would written inline, so a `storedTemplates` entry written by
//! someone else (the status is the tenant's to write) can do no more than a spec edit.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use crate::observed::Observed;
use crate::ports::FoundTemplate;
use crate::workflow::{
    Template, TemplateRef, Workflow, WorkflowSpec, WorkflowStatus, WorkflowTemplateRef,
};

/// Most templates one workflow may take from WorkflowTemplates: each is stored in its status.
pub(crate) const MAX_REFERENCED: usize = 200;

/// How long after its creation a workflow waits for a WorkflowTemplate it names to appear in the
/// controller's cache before it fails: one created just before the workflow may reach the
/// cache's watch after it.
pub(crate) const MISSING_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Why references did not resolve: Argo's message, and whether something was not found (which
/// a cache that has not caught up yet would also say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unresolved {
    pub(crate) message: String,
    pub(crate) missing: bool,
}

impl From<String> for Unresolved {
    fn from(message: String) -> Self {
        Unresolved {
            message,
            missing: false,
        }
    }
}

fn missing(message: String) -> Unresolved {
    Unresolved {
        message,
        missing: true,
    }
}

/// The workflow the walk runs, and what its status stores of its WorkflowTemplates.
#[derive(Debug)]
pub(crate) struct Resolved<'a> {
    pub(crate) workflow: Cow<'a, Workflow>,
    pub(crate) stored_templates: BTreeMap<String, Template>,
    pub(crate) stored_spec: Option<WorkflowSpec>,
}

/// What to resolve: everything, or (for a finished workflow, which runs nothing more) only the
/// spec a `workflowTemplateRef` joins, for its pod GC and TTL settings — its stored templates
/// are then not read, and come back empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Everything,
    SpecOnly,
}

/// Resolves `wf`'s references: from its status first, else from the WorkflowTemplates
/// observed. `Err` is Argo's message for what could not be resolved.
pub(crate) fn resolve<'a>(
    wf: &'a Workflow,
    observed: &Observed,
    scope: Scope,
) -> Result<Resolved<'a>, Unresolved> {
    let status = wf.status.as_ref();
    let stored = status.map(|s| &s.stored_templates);
    let workflow_ref = workflow_template_ref(&wf.spec).map_err(Unresolved::from)?;
    if let Some(bad) = wf.spec.templates.iter().find(|t| t.name.contains('/')) {
        return Err(slash(&bad.name).into());
    }
    let calls_out = scope == Scope::Everything
        && (stored.is_some_and(|s| !s.is_empty()) || calls_out(&wf.spec));
    if workflow_ref.is_none() && !calls_out {
        // Nothing stored (or, for `SpecOnly`, nothing that will be read).
        return Ok(Resolved {
            workflow: Cow::Borrowed(wf),
            stored_templates: BTreeMap::new(),
            stored_spec: None,
        });
    }
    let namespace = wf.metadata.namespace.clone().unwrap_or_default();
    let mut library = Library::new(observed, &namespace);
    // Its status carries only the times and phase the walk reads; the nodes are the caller's.
    let mut effective = Workflow {
        metadata: wf.metadata.clone(),
        spec: wf.spec.clone(),
        status: status.map(|s| WorkflowStatus {
            phase: s.phase,
            started_at: s.started_at.clone(),
            finished_at: s.finished_at.clone(),
            ..Default::default()
        }),
    };
    let mut stored_spec = None;
    if let Some(r) = workflow_ref {
        if !wf.spec.templates.is_empty() {
            return Err(
                "Templates is invalid field in spec if workflow referred WorkflowTemplate reference"
                    .to_string()
                    .into(),
            );
        }
        let base = match status.and_then(|s| s.stored_workflow_template_spec.as_deref()) {
            Some(spec) => spec.clone(),
            None => library
                .spec(r.cluster_scope == Some(true), &r.name)?
                .clone(),
        };
        effective.spec = join(&base, &wf.spec).map_err(Unresolved::from)?;
        stored_spec = Some(base);
    }
    if scope == Scope::SpecOnly {
        return Ok(Resolved {
            workflow: Cow::Owned(effective),
            stored_templates: BTreeMap::new(),
            stored_spec,
        });
    }
    if let Some(bad) = effective
        .spec
        .templates
        .iter()
        .find(|t| t.name.contains('/'))
    {
        return Err(slash(&bad.name).into());
    }
    let mut pending = VecDeque::new();
    for template in &mut effective.spec.templates {
        rewrite_calls(template, None, &mut pending);
    }
    let mut stored_templates = BTreeMap::new();
    let mut added = Vec::new();
    while let Some(reference) = pending.pop_front() {
        let key = reference.key();
        if stored_templates.contains_key(&key) {
            continue;
        }
        if stored_templates.len() >= MAX_REFERENCED {
            return Err(format!(
                "the workflow takes more than {MAX_REFERENCED} templates from WorkflowTemplates"
            )
            .into());
        }
        let template = match stored.and_then(|s| s.get(&key)) {
            Some(template) => template.clone(),
            None => {
                let spec = library.spec(reference.cluster_scope == Some(true), &reference.name)?;
                let Some(found) = spec.templates.iter().find(|t| t.name == reference.template)
                else {
                    return Err(missing(format!(
                        "template {} not found in workflow template {}",
                        reference.template, reference.name
                    )));
                };
                with_pod_metadata(found.clone(), spec)
            }
        };
        let mut called = template.clone();
        called.name = key.clone();
        rewrite_calls(&mut called, Some(&reference), &mut pending);
        added.push(called);
        stored_templates.insert(key, template);
    }
    effective.spec.templates.extend(added);
    Ok(Resolved {
        workflow: Cow::Owned(effective),
        stored_templates,
        stored_spec,
    })
}

/// The WorkflowTemplates one resolution reads, each looked up in the cache once.
struct Library<'o> {
    observed: &'o Observed,
    namespace: &'o str,
    found: HashMap<(bool, String), FoundTemplate>,
}

impl<'o> Library<'o> {
    fn new(observed: &'o Observed, namespace: &'o str) -> Self {
        Library {
            observed,
            namespace,
            found: HashMap::new(),
        }
    }

    /// The spec of the WorkflowTemplate `name` of the workflow's namespace (`cluster`: of the
    /// ClusterWorkflowTemplate), in Argo's words when there is none.
    fn spec(&mut self, cluster: bool, name: &str) -> Result<&WorkflowSpec, Unresolved> {
        let kind = if cluster {
            "cluster workflow template"
        } else {
            "workflow template"
        };
        let key = (cluster, name.to_string());
        if !self.found.contains_key(&key) {
            let namespace = (!cluster).then_some(self.namespace);
            let Some(found) = self
                .observed
                .workflow_templates
                .as_ref()
                .and_then(|t| t.get(namespace, name))
            else {
                return Err(missing(format!("{kind} {name} not found")));
            };
            self.found.insert(key.clone(), found);
        }
        let found = &self.found[&key];
        found
            .spec()
            .map_err(|why| format!("{kind} {name} is invalid: {why}").into())
    }
}

/// Why a local template may not be named `name`: it would pass for a stored template's key.
fn slash(name: &str) -> String {
    format!("templates.{name}: a template's name cannot hold a '/'")
}

/// `spec.workflowTemplateRef`, if any.
fn workflow_template_ref(spec: &WorkflowSpec) -> Result<Option<WorkflowTemplateRef>, String> {
    let Some(value) = spec
        .other
        .get("workflowTemplateRef")
        .filter(|v| !v.is_null())
    else {
        return Ok(None);
    };
    let r: WorkflowTemplateRef = serde_json::from_value(value.clone())
        .map_err(|_| "spec.workflowTemplateRef must be an object with a name".to_string())?;
    if r.name.is_empty() {
        return Err("spec.workflowTemplateRef.name is required".to_string());
    }
    Ok(Some(r))
}

/// Whether a step or task of `spec` calls a template by `templateRef`.
fn calls_out(spec: &WorkflowSpec) -> bool {
    spec.templates.iter().any(|t| {
        let steps = t.steps.iter().flatten().flat_map(|group| group.0.iter());
        let tasks = t.dag.iter().flat_map(|d| d.tasks.iter());
        steps
            .map(|s| &s.other)
            .chain(tasks.map(|t| &t.other))
            .any(|other| other.contains_key("templateRef"))
    })
}

/// Rewrites the calls of `template` (whose origin is `origin`, `None` for the workflow's own)
/// to the names the walk knows them by, queueing every template they take from elsewhere.
/// A `templateRef` that does not decode is left for validation to report.
fn rewrite_calls(
    template: &mut Template,
    origin: Option<&TemplateRef>,
    pending: &mut VecDeque<TemplateRef>,
) {
    let mut call = |template: &mut Option<String>,
                    on_exit: &mut Option<String>,
                    other: &mut BTreeMap<String, Value>| {
        // Argo's zero values: an empty name is none.
        if template.as_deref() == Some("") {
            *template = None;
        }
        if on_exit.as_deref() == Some("") {
            *on_exit = None;
        }
        if let (Some(name), Some(origin)) = (on_exit.as_mut(), origin) {
            let reference = TemplateRef {
                template: name.clone(),
                ..origin.clone()
            };
            *name = reference.key();
            pending.push_back(reference);
        }
        match other.get("templateRef").filter(|v| !v.is_null()) {
            // What does not decode, or is not a plain name, stays for validation to report.
            Some(value) if template.is_none() => {
                let Ok(reference) = serde_json::from_value::<TemplateRef>(value.clone()) else {
                    return;
                };
                let plain = |s: &str| !s.is_empty() && !s.contains('/');
                if !plain(&reference.name) || !plain(&reference.template) {
                    return;
                }
                other.remove("templateRef");
                *template = Some(reference.key());
                pending.push_back(reference);
            }
            Some(_) => {}
            None => {
                if let (Some(name), Some(origin)) = (template.as_mut(), origin) {
                    let reference = TemplateRef {
                        template: name.clone(),
                        ..origin.clone()
                    };
                    *name = reference.key();
                    pending.push_back(reference);
                }
            }
        }
    };
    for group in template.steps.iter_mut().flatten() {
        for step in &mut group.0 {
            call(&mut step.template, &mut step.on_exit, &mut step.other);
        }
    }
    for task in template.dag.iter_mut().flat_map(|d| d.tasks.iter_mut()) {
        call(&mut task.template, &mut task.on_exit, &mut task.other);
    }
}

/// The WorkflowTemplate's `podMetadata` added to a template taken from it (Argo's
/// `addPodMetadata`: the WorkflowTemplate's labels and annotations win).
fn with_pod_metadata(mut template: Template, spec: &WorkflowSpec) -> Template {
    let Some(pod) = &spec.pod_metadata else {
        return template;
    };
    let metadata = template.metadata.get_or_insert_with(Default::default);
    metadata
        .labels
        .extend(pod.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    metadata
        .annotations
        .extend(pod.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
    template
}

/// Argo's `JoinWorkflowSpec`: `own` over `base`, merging lists of named items by name.
fn join(base: &WorkflowSpec, own: &WorkflowSpec) -> Result<WorkflowSpec, String> {
    let encode = |spec: &WorkflowSpec| {
        serde_json::to_value(spec).map_err(|e| format!("the workflow template's spec: {e}"))
    };
    let mut joined = encode(base)?;
    let mut own = encode(own)?;
    if let Some(o) = own.as_object_mut() {
        o.remove("workflowTemplateRef");
    }
    merge(&mut joined, own, "");
    serde_json::from_value(joined).map_err(|e| format!("the joined spec does not decode: {e}"))
}

/// The lists merged by their items' `name` (`patchMergeKey: name` in Argo's types).
const MERGED_BY_NAME: &[&str] = &["templates", "parameters", "artifacts", "volumes"];

/// `over` merged into `target`, `over` winning. Both were decoded by serde, whose recursion
/// limit bounds their depth.
fn merge(target: &mut Value, over: Value, key: &str) {
    match (target, over) {
        (_, Value::Null) => {}
        (Value::Object(target), Value::Object(over)) => {
            for (k, v) in over {
                match target.get_mut(&k) {
                    Some(existing) => merge(existing, v, &k),
                    None => {
                        target.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(over)) if MERGED_BY_NAME.contains(&key) => {
            // Indexed by name: both lists are the tenant's, and may be long.
            let mut at: HashMap<String, usize> = HashMap::new();
            for (i, item) in target.iter().enumerate() {
                if let Some(name) = item.get("name").and_then(Value::as_str) {
                    at.entry(name.to_string()).or_insert(i);
                }
            }
            for item in over {
                let name = item.get("name").and_then(Value::as_str).map(str::to_string);
                match name.as_ref().and_then(|n| at.get(n)).copied() {
                    Some(i) => merge(&mut target[i], item, ""),
                    None => {
                        if let Some(name) = name {
                            at.insert(name, target.len());
                        }
                        target.push(item);
                    }
                }
            }
        }
        (target, over) => *target = over,
    }
}
