//! Argo's checks of a resource template and of output parameters, with Argo's messages.

use serde::Deserialize;

use super::kind::Kind;
use super::scope::blank_tags;
use crate::workflow::{Parameter, ResourceTemplate};

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
    let parses = serde_yaml::Deserializer::from_str(&text)
        .all(|doc| serde_yaml::Value::deserialize(doc).is_ok());
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
        Kind::Dag | Kind::Steps if !set(&from.parameter) && !set(&from.expression) => Err(
            format!("{r}.parameter or expression must be specified for {type_name} templates"),
        ),
        _ => Ok(()),
    }
}
