//! A port of Argo's `ValidateWorkflow` for the features Flotilla supports: the same walk (the
//! entrypoint with the workflow's arguments, then `onExit`, then every template with made-up
//! arguments), the same order of checks, and so the same first error, in Argo's words.
//!
//! Argo nests messages as the walk descends — a step's problem is reported as
//! `templates.<caller>.steps[<i>].<step> <problem>` — and sometimes names a template twice
//! (`templates.x templates.x ...`); both are kept, because users and tools match on them.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::kind::{Kind, has_output, kinds, other_field};
use super::names::{
    NameRule, artifact_name, check_arguments, check_names, is_parameter, str_field,
};
use super::scope::{
    ANY_WORKFLOW_OUTPUT_ARTIFACT, ANY_WORKFLOW_OUTPUT_PARAMETER, Scope, for_each_tag, resolve_all,
};
use crate::workflow::{Arguments, DagTask, Outputs, Template, TemplateRef, Workflow, WorkflowStep};

/// Deepest chain of templates calling templates the walk follows. Argo has no limit (Go stacks
/// grow); Flotilla's reconcile threads have small fixed stacks, and real workflows nest a
/// handful of levels.
const MAX_NESTING: usize = 200;

/// What a template holder asks the walk to validate.
#[derive(Debug)]
pub(super) struct Holder<'a> {
    /// `template:` (or the entrypoint / `onExit` name); empty when not set.
    template: &'a str,
    /// `templateRef:` left after resolution: malformed, reported.
    template_ref: Option<&'a Value>,
    /// Whether the step or task has an `inline:` template (unsupported, not followed).
    inline: bool,
}

impl<'a> Holder<'a> {
    fn named(name: &'a str) -> Self {
        Holder {
            template: name,
            template_ref: None,
            inline: false,
        }
    }

    pub(super) fn step(step: &'a WorkflowStep) -> Self {
        Self::with_other(step.template.as_deref(), &step.other)
    }

    pub(super) fn task(task: &'a DagTask) -> Self {
        Self::with_other(task.template.as_deref(), &task.other)
    }

    fn with_other(
        template: Option<&'a str>,
        other: &'a std::collections::BTreeMap<String, Value>,
    ) -> Self {
        Holder {
            template: template.unwrap_or(""),
            template_ref: other_field(other, "templateRef"),
            inline: other_field(other, "inline").is_some(),
        }
    }
}

/// The arguments a template is validated with: Argo's `FakeArguments` (which supply every
/// parameter) or a caller's real list.
#[derive(Debug, Clone, Copy)]
pub(super) enum Args<'a> {
    Fake,
    Given(Option<&'a Arguments>),
}

/// The walk's state: Argo's `templateValidationCtx`.
#[derive(Debug)]
pub(super) struct Ctx<'a> {
    templates: HashMap<&'a str, &'a Template>,
    /// Global variable names (`workflow.*`); grows as output parameters with a `globalName` are
    /// met, so, as in Argo, order of validation matters.
    pub(super) globals: Scope,
    /// Templates whose bodies were validated already (Argo's `results`).
    visited: HashSet<&'a str>,
    /// `spec.templateDefaults` supplies a container / script image.
    default_container_image: bool,
    default_script_image: bool,
    depth: usize,
}

/// Runs Argo's checks in Argo's order; the first problem is returned as Argo words it.
pub(super) fn validate_workflow(wf: &Workflow) -> Result<(), String> {
    let spec = &wf.spec;
    if let Some(name) = wf.metadata.name.as_deref().filter(|n| n.len() > 63) {
        return Err(format!(
            "workflow name {name:?} must not be more than 63 characters long (currently {})",
            name.len()
        ));
    }
    if other_field(&spec.other, "workflowTemplateRef").is_some() {
        // The workflow's own reference is resolved before validation (`references`); one left
        // is a WorkflowTemplate's, which Argo does not follow either.
        return Err(
            "spec.workflowTemplateRef: a WorkflowTemplate run by reference cannot itself refer to one"
                .to_string(),
        );
    }
    // Templates taken from WorkflowTemplates are named by their stored key (unique, and never
    // a local name): their own names are checked one by one.
    let (taken, own): (Vec<&Template>, Vec<&Template>) = spec
        .templates
        .iter()
        .partition(|t| TemplateRef::from_key(&t.name).is_some());
    check_names(own.iter().map(|t| t.name.as_str()), NameRule::Field)
        .map_err(|e| format!("spec.templates{e}"))?;
    for t in taken {
        let tail = t.name.rsplit('/').next().unwrap_or_default();
        check_names([tail], NameRule::Field).map_err(|e| format!("{}{e}", t.name))?;
    }
    check_arguments("spec.arguments.", spec.arguments.as_ref())?;

    let mut ctx = Ctx::new(wf);
    let entrypoint = spec.entrypoint.as_deref().unwrap_or("");
    if entrypoint.is_empty() {
        return Err("spec.entrypoint is required".to_string());
    }
    let args = Args::Given(spec.arguments.as_ref());
    ctx.validate_holder(&Holder::named(entrypoint), args)?;
    if let Some(on_exit) = spec.on_exit.as_deref().filter(|s| !s.is_empty()) {
        ctx.globals.insert("workflow.failures".to_string());
        ctx.validate_holder(&Holder::named(on_exit), args)?;
    }
    if let Some(strategy) = spec.pod_gc.as_ref().and_then(|gc| gc.strategy.as_deref()) {
        let known = [
            "",
            "OnPodCompletion",
            "OnPodSuccess",
            "OnWorkflowCompletion",
            "OnWorkflowSuccess",
        ];
        if !known.contains(&strategy) {
            return Err(format!("podGC.strategy unknown strategy '{strategy}'"));
        }
    }
    for t in &spec.templates {
        ctx.validate_holder(&Holder::named(&t.name), Args::Fake)
            .map_err(|e| format!("templates.{} {e}", t.name))?;
    }
    Ok(())
}

impl<'a> Ctx<'a> {
    fn new(wf: &'a Workflow) -> Self {
        let spec = &wf.spec;
        let mut globals: Scope = [
            "workflow.name",
            "workflow.namespace",
            "workflow.mainEntrypoint",
            "workflow.serviceAccountName",
            "workflow.uid",
            "workflow.annotations",
            "workflow.annotations.json",
            "workflow.labels",
            "workflow.labels.json",
            "workflow.status",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let params = spec
            .arguments
            .as_ref()
            .map(|a| a.parameters.as_slice())
            .unwrap_or_default();
        if !params.is_empty() {
            globals.insert("workflow.parameters".to_string());
            globals.insert("workflow.parameters.json".to_string());
        }
        for p in params.iter().filter(|p| !p.name.is_empty()) {
            globals.insert(format!("workflow.parameters.{}", p.name));
        }
        let meta = other_field(&spec.other, "workflowMetadata");
        let keys = |field: &str| -> Vec<String> {
            meta.and_then(|m| m.get(field))
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let annotations = wf
            .metadata
            .annotations
            .iter()
            .flat_map(|m| m.keys().cloned());
        for k in annotations.chain(keys("annotations")) {
            globals.insert(format!("workflow.annotations.{k}"));
        }
        let labels = wf.metadata.labels.iter().flat_map(|m| m.keys().cloned());
        for k in labels.chain(keys("labels")).chain(keys("labelsFrom")) {
            globals.insert(format!("workflow.labels.{k}"));
        }
        if other_field(&spec.other, "priority").is_some() {
            globals.insert("workflow.priority".to_string());
        }
        let defaults = other_field(&spec.other, "templateDefaults");
        let default_image = |field: &str| {
            defaults
                .and_then(|d| d.get(field))
                .is_some_and(|c| !str_field(c, "image").is_empty())
        };
        Ctx {
            templates: spec
                .templates
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
            globals,
            visited: HashSet::new(),
            default_container_image: default_image("container"),
            default_script_image: default_image("script"),
            depth: 0,
        }
    }

    /// Argo's `validateTemplateHolder`: resolves the holder and validates the template it
    /// names. `None` when the template cannot be followed (a `templateRef` or `inline`).
    pub(super) fn validate_holder(
        &mut self,
        holder: &Holder<'a>,
        args: Args<'a>,
    ) -> Result<Option<&'a Template>, String> {
        if let Some(r) = holder.template_ref {
            if !holder.template.is_empty() {
                return Err("template name cannot be specified with templateRef.".to_string());
            }
            if str_field(r, "name").is_empty() {
                return Err("resource name is required".to_string());
            }
            if str_field(r, "template").is_empty() {
                return Err("template name is required".to_string());
            }
            // Every well-formed reference was resolved before validation (`references`).
            return Err(
                "templateRef must name a WorkflowTemplate and its template, without '/', and clusterScope must be a boolean"
                    .to_string(),
            );
        }
        let name = holder.template;
        let found = if name.is_empty() {
            None
        } else {
            let t = self.templates.get(name).copied();
            Some(t.ok_or_else(|| format!("template name '{name}' undefined"))?)
        };
        if holder.inline {
            return Ok(None);
        }
        let Some(t) = found else {
            return Err("failed to get a template".to_string());
        };
        if kinds(t).is_empty() {
            return Err(format!("template '{}' type is unknown", t.name));
        }
        if let Some(policy) = t
            .retry_strategy
            .as_ref()
            .and_then(|r| r.retry_policy.as_deref())
        {
            let known = ["", "Always", "OnFailure", "OnError", "OnTransientError"];
            if !known.contains(&policy) {
                return Err(format!("{policy} is not a valid RetryPolicy"));
            }
        }
        self.validate_template(t, args)?;
        Ok(Some(t))
    }

    /// Argo's `validateTemplate`.
    fn validate_template(&mut self, t: &'a Template, args: Args<'a>) -> Result<(), String> {
        let name = &t.name;
        let kinds = kinds(t);
        let Some(&kind) = kinds.first() else {
            return Err(format!(
                "templates.{name} template type unspecified. choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref"
            ));
        };
        if kinds.len() > 1 {
            return Err(format!(
                "templates.{name} multiple template types specified. choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref"
            ));
        }
        let mut scope = inputs_scope(t, kind)?;
        let mut init_containers = t.init_containers.iter().flatten();
        if init_containers.any(|c| str_field(c, "name").is_empty()) {
            return Err("initContainers must all have container name".to_string());
        }
        if kind.is_pod() {
            scope.insert("pod.name".to_string());
        }
        if kind.is_leaf() {
            let outputs = t.outputs.as_ref();
            for a in outputs.iter().flat_map(|o| &o.artifacts) {
                if !str_field(a, "path").is_empty() {
                    scope.insert(format!("outputs.artifacts.{}.path", artifact_name(a)));
                }
            }
            for p in outputs.iter().flat_map(|o| &o.parameters) {
                if p.value_from
                    .as_ref()
                    .and_then(|v| v.path.as_deref())
                    .is_some_and(|p| !p.is_empty())
                {
                    scope.insert(format!("outputs.parameters.{}.path", p.name));
                }
            }
        }
        process_args(t, args).map_err(|e| format!("templates.{name} {e}"))?;
        if let Some(timeout) = t.timeout.as_deref().filter(|s| !s.is_empty()) {
            if !kind.is_leaf() {
                return Err(format!(
                    "{} template doesn't support timeout field.",
                    kind.type_name()
                ));
            }
            if timeout.parse::<i64>().is_ok() {
                return Err(format!("{name} has invalid duration format in timeout."));
            }
        }
        if !self.visited.insert(name.as_str()) {
            return Ok(());
        }
        if !kind.supported() {
            // Never run by Flotilla: reported (error or warning) by the caller, not walked.
            return Ok(());
        }
        if self.depth >= MAX_NESTING {
            return Err(format!(
                "templates.{name} calls templates nested more than {MAX_NESTING} levels deep"
            ));
        }
        self.depth += 1;
        let body = match kind {
            Kind::Steps => self.validate_steps(&mut scope, t),
            Kind::Dag => self.validate_dag(&mut scope, t),
            _ => self.validate_leaf(&scope, t),
        };
        self.depth -= 1;
        body?;
        self.validate_outputs(&scope, t, kind)
    }

    /// Argo's `validateLeaf` (also run for suspend templates).
    fn validate_leaf(&self, scope: &Scope, t: &Template) -> Result<(), String> {
        let name = &t.name;
        resolve_all(&[scope], &self.globals, &to_json(t)?)
            .map_err(|e| format!("templates.{name}: {e}"))?;
        if let Some(container) = t.container.as_ref() {
            super::leaf::check_mounts(t, container)?;
            if str_field(container, "image").is_empty() && !self.default_container_image {
                return Err(format!("templates.{name}.container.image may not be empty"));
            }
        }
        if let Some(resource) = &t.resource {
            super::leaf::check_resource(name, resource)?;
        }
        if let Some(script) = &t.script {
            let image = script
                .container
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("");
            if image.is_empty() && !self.default_script_image {
                return Err(format!("templates.{name}.script.image may not be empty"));
            }
        }
        if let Some(ads) = &t.active_deadline_seconds {
            let s = ads.as_str();
            let valid = match s.parse::<i64>() {
                Ok(n) => n >= 0,
                Err(_) => s.starts_with("{{") && s.ends_with("}}"),
            };
            if !valid {
                return Err(format!(
                    "templates.{name}.activeDeadlineSeconds must be a positive integer > 0 or an argo variable"
                ));
            }
        }
        if t.parallelism.is_some() {
            return Err(format!(
                "templates.{name}.parallelism is only valid for steps and dag templates"
            ));
        }
        Ok(())
    }

    /// Argo's `validateOutputs`.
    fn validate_outputs(&self, scope: &Scope, t: &Template, kind: Kind) -> Result<(), String> {
        let name = &t.name;
        let empty = Outputs::default();
        let outputs = t.outputs.as_ref().unwrap_or(&empty);
        check_names(
            outputs.parameters.iter().map(|p| p.name.as_str()),
            NameRule::ParamOrArtifact,
        )
        .map_err(|e| format!("templates.{name}.outputs.parameters {e}"))?;
        check_names(
            outputs.artifacts.iter().map(artifact_name),
            NameRule::ParamOrArtifact,
        )
        .map_err(|e| format!("templates.{name}.outputs.artifacts {e}"))?;
        resolve_all(&[scope], &self.globals, &to_json(outputs)?)
            .map_err(|e| format!("templates.{name}.outputs {e}"))?;
        for a in &outputs.artifacts {
            let art = artifact_name(a);
            let path = str_field(a, "path");
            if kind.is_leaf() && path.is_empty() {
                return Err(format!(
                    "error in templates.{name}.outputs.artifacts.{art}: Artifact '{art}' did not specify a path"
                ));
            }
            if !kind.is_leaf() && !path.is_empty() {
                return Err(format!(
                    "templates.{name}.outputs.artifacts.{art}.path only valid in container/script templates"
                ));
            }
            super::leaf::check_global_name(str_field(a, "globalName"))
                .map_err(|e| format!("templates.{name}.outputs.artifacts.{art}.globalName: {e}"))?;
        }
        for p in &outputs.parameters {
            let r = format!("templates.{name}.outputs.parameters.{}", p.name);
            super::leaf::check_output_parameter(&r, p, kind)?;
            super::leaf::check_global_name(p.global_name.as_deref().unwrap_or(""))
                .map_err(|e| format!("{r}.globalName: {e}"))?;
        }
        Ok(())
    }

    /// Argo's `addOutputsToScope`: what later steps / tasks may read from `prefix`
    /// (`steps.<name>` or `tasks.<name>`).
    pub(super) fn add_outputs_to_scope(
        &mut self,
        t: Option<&Template>,
        prefix: &str,
        scope: &mut Scope,
        aggregate: bool,
        ancestor: bool,
    ) {
        for field in ["id", "startedAt", "finishedAt", "hostNodeName"] {
            scope.insert(format!("{prefix}.{field}"));
        }
        let Some(t) = t else {
            // A template Flotilla cannot follow: its outputs are unknown, so allow them all.
            scope.insert(format!("{prefix}.*"));
            return;
        };
        if other_field(&t.other, "daemon").and_then(Value::as_bool) == Some(true) {
            scope.insert(format!("{prefix}.ip"));
        }
        if has_output(t) {
            scope.insert(format!("{prefix}.outputs.result"));
            scope.insert(format!("{prefix}.exitCode"));
        }
        let outputs = t.outputs.as_ref();
        let params = outputs.iter().flat_map(|o| &o.parameters);
        let params = params.map(|p| (p.name.as_str(), p.global_name.as_deref().unwrap_or("")));
        let artifacts = outputs.iter().flat_map(|o| &o.artifacts);
        let artifacts = artifacts.map(|a| (artifact_name(a), str_field(a, "globalName")));
        let lists = [
            (
                "parameters",
                ANY_WORKFLOW_OUTPUT_PARAMETER,
                params.collect::<Vec<_>>(),
            ),
            (
                "artifacts",
                ANY_WORKFLOW_OUTPUT_ARTIFACT,
                artifacts.collect(),
            ),
        ];
        for (what, any, list) in lists {
            for (name, global) in list {
                scope.insert(format!("{prefix}.outputs.{what}.{name}"));
                if global.is_empty() {
                } else if is_parameter(global) {
                    scope.insert(any.to_string());
                } else {
                    let g = format!("workflow.outputs.{what}.{global}");
                    scope.insert(g.clone());
                    self.globals.insert(g);
                }
            }
        }
        if aggregate {
            if kinds(t)
                .first()
                .is_some_and(|k| matches!(k, Kind::Script | Kind::ContainerSet))
            {
                scope.insert(format!("{prefix}.outputs.result"));
                scope.insert(format!("{prefix}.exitCode"));
            }
            scope.insert(format!("{prefix}.outputs.parameters"));
        }
        if ancestor {
            scope.insert(format!("{prefix}.status"));
        }
    }
}

/// Argo's `validateInputs`: names, and the scope the inputs create.
fn inputs_scope(t: &Template, kind: Kind) -> Result<Scope, String> {
    let name = &t.name;
    let params = t.inputs.iter().flat_map(|i| &i.parameters);
    let artifacts = t.inputs.iter().flat_map(|i| &i.artifacts);
    check_names(
        params.clone().map(|p| p.name.as_str()),
        NameRule::ParamOrArtifact,
    )
    .map_err(|e| format!("templates.{name}.inputs.parameters{e}"))?;
    check_names(
        artifacts.clone().map(artifact_name),
        NameRule::ParamOrArtifact,
    )
    .map_err(|e| format!("templates.{name}.inputs.artifacts{e}"))?;
    let mut scope: Scope = params
        .clone()
        .map(|p| format!("inputs.parameters.{}", p.name))
        .collect();
    if params.clone().next().is_some() {
        scope.insert("inputs.parameters".to_string());
    }
    for a in artifacts {
        let art = artifact_name(a);
        scope.insert(format!("inputs.artifacts.{art}"));
        let path = str_field(a, "path");
        if kind.is_leaf() {
            if path.is_empty() {
                return Err(format!(
                    "error in templates.{name}.inputs.artifacts.{art}: Artifact '{art}' did not specify a path"
                ));
            }
            scope.insert(format!("inputs.artifacts.{art}.path"));
        } else if !path.is_empty() {
            return Err(format!(
                "templates.{name}.inputs.artifacts.{art}.path only valid in container/script templates"
            ));
        }
        if !str_field(a, "from").is_empty() {
            return Err(format!(
                "templates.{name}.inputs.artifacts.{art}.from not valid in inputs"
            ));
        }
    }
    Ok(scope)
}

/// The checks of Argo's `ProcessArgs` that can fail at validation: each input parameter has a
/// value (its own `value` or `default`, the caller's argument, or a ConfigMap reference), and
/// every `{{` is closed. Input artifacts are not checked (Flotilla does not pass them).
fn process_args(t: &Template, args: Args<'_>) -> Result<(), String> {
    let from_config_map = |p: &crate::workflow::Parameter| {
        p.value_from
            .as_ref()
            .and_then(|v| v.config_map_key_ref.as_ref())
            .is_some_and(|v| !v.is_null())
    };
    for p in t.inputs.iter().flat_map(|i| &i.parameters) {
        let mut has_value = p.value.is_some() || p.default.is_some();
        let mut config_map = from_config_map(p);
        match args {
            Args::Fake => {
                has_value = true;
                config_map = false;
            }
            Args::Given(given) => {
                let arg = given.and_then(|a| a.parameters.iter().find(|a| a.name == p.name));
                if let Some(arg) = arg {
                    has_value = arg.value.is_some();
                    config_map = !has_value && from_config_map(arg);
                }
            }
        }
        if !config_map && !has_value {
            return Err(format!("inputs.parameters.{} was not supplied", p.name));
        }
    }
    for_each_tag(&to_json(t)?, |_| Ok(()))
}

/// The JSON text Argo's checks run over.
pub(super) fn to_json(value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("cannot encode as JSON: {e}"))
}
