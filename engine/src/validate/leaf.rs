//! Argo's checks of a leaf template's parts — resource, volume mounts, output parameters —
//! with Argo's messages.

use serde::Deserialize;

use std::collections::HashMap;

use serde_json::Value;

use super::kind::Kind;
use super::names::{artifact_name, is_parameter, param_name_error, str_field};
use super::scope::blank_tags;
use crate::workflow::{Parameter, ResourceTemplate, Template};

const ACTIONS: [&str; 6] = ["get", "create", "apply", "delete", "replace", "patch"];

/// A resource template's `action` and `manifest`.
///
/// An `action` that is a `{{...}}` reference is left for run time, as Argo leaves one that
/// resolved to a placeholder. A manifest must parse as YAML once every `{{...}}` is replaced by
/// a plain word (Argo parses it after substituting placeholders). `successCondition` and
/// `failureCondition` are label-selector-like expressions Argo only parses at run time; so does
/// Flotilla. `manifestFrom` is not in Flotilla's types, so a template that only has it is
/// reported as missing its manifest.
pub(super) fn check_resource(name: &str, r: &ResourceTemplate) -> Result<(), String> {
    let action = r.action.as_str();
    if !action.contains("{{") && !ACTIONS.contains(&action) {
        return Err(format!(
            "templates.{name}.resource.action must be one of: get, create, apply, delete, replace, patch"
        ));
    }
    if action == "delete" || action == "get" {
        return Ok(());
    }
    if r.manifest.is_empty() {
        return Err(format!(
            "either templates.{name}.resource.manifest or templates.{name}.resource.manifestFrom must be specified"
        ));
    }
    let text = blank_tags(&r.manifest);
    let parses = match crate::bounded_yaml::within_budget(&text) {
        Err(e @ crate::bounded_yaml::Refused::TooLarge(_)) => {
            return Err(format!("templates.{name}.resource.manifest: {e}"));
        }
        Err(_) => false,
        Ok(()) => serde_yaml::Deserializer::from_str(&text)
            .all(|doc| serde_yaml::Value::deserialize(doc).is_ok()),
    };
    if !parses {
        return Err(format!(
            "templates.{name}.resource.manifest must be a valid yaml"
        ));
    }
    Ok(())
}

/// Argo's `validateOutputParameter` and the per-type rule that follows it in `validateOutputs`:
/// exactly one source, and the source the template type can provide. `r` is the parameter's
/// path, `templates.<t>.outputs.parameters.<p>`.
pub(super) fn check_output_parameter(r: &str, p: &Parameter, kind: Kind) -> Result<(), String> {
    if p.value_from.is_some() && p.value.is_some() {
        return Err(format!(
            "{r} has both valueFrom and value specified. Choose one."
        ));
    }
    if p.value.is_some() {
        return Ok(());
    }
    let Some(from) = &p.value_from else {
        return Err(format!("{r} does not have valueFrom or value specified"));
    };
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    let sources = [
        set(&from.path),
        set(&from.jq_filter),
        set(&from.json_path),
        set(&from.parameter),
        set(&from.expression),
        from.supplied.is_some(),
    ];
    match sources.iter().filter(|s| **s).count() {
        0 => {
            return Err(
                "valueFrom type unspecified. choose one of: path, jqFilter, jsonPath, parameter, raw, expression"
                    .to_string(),
            );
        }
        1 => {}
        _ => {
            return Err(
                "multiple valueFrom types specified. choose one of: path, jqFilter, jsonPath, parameter, raw"
                    .to_string(),
            );
        }
    }
    let type_name = kind.type_name();
    match kind {
        Kind::Container | Kind::ContainerSet | Kind::Script if !set(&from.path) => Err(format!(
            "{r}.path must be specified for {type_name} templates"
        )),
        Kind::Resource if !set(&from.jq_filter) && !set(&from.json_path) => Err(format!(
            "{r} .jqFilter or jsonPath must be specified for {type_name} templates"
        )),
        Kind::Dag | Kind::Steps if !set(&from.parameter) && !set(&from.expression) => Err(format!(
            "{r}.parameter or expression must be specified for {type_name} templates"
        )),
        _ => Ok(()),
    }
}

/// Argo checks a container's volume mounts and input artifact paths do not collide.
pub(super) fn check_mounts(t: &Template, container: &Value) -> Result<(), String> {
    let name = &t.name;
    let mut mounted: HashMap<&str, String> = HashMap::new();
    let mounts = container.get("volumeMounts").and_then(Value::as_array);
    for (i, m) in mounts.into_iter().flatten().enumerate() {
        let path = str_field(m, "mountPath");
        if let Some(prev) = mounted.get(path) {
            return Err(format!(
                "templates.{name}.container.volumeMounts[{i}].mountPath '{path}' already mounted in {prev}"
            ));
        }
        mounted.insert(
            path,
            format!("container.volumeMounts.{}", str_field(m, "name")),
        );
    }
    let artifacts = t.inputs.iter().flat_map(|i| &i.artifacts);
    for (i, a) in artifacts.enumerate() {
        let path = str_field(a, "path");
        if let Some(prev) = mounted.get(path) {
            return Err(format!(
                "templates.{name}.inputs.artifacts[{i}].path '{path}' already mounted in {prev}"
            ));
        }
        mounted.insert(path, format!("inputs.artifacts.{}", artifact_name(a)));
    }
    Ok(())
}

/// An output's `globalName` must be a valid parameter name unless it is itself a reference.
pub(super) fn check_global_name(global: &str) -> Result<(), String> {
    if global.is_empty() || is_parameter(global) {
        return Ok(());
    }
    match param_name_error(global) {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}
