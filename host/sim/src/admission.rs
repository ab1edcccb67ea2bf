//! What the API server does to an object between decoding and storage: typed decoding of built-in
//! kinds, structural schemas of custom resources, per-kind defaults and validation (admission and
//! registry strategies), and the side effects of a write (RBAC cache, authentication of
//! service-account tokens).

mod lease;
mod pod;
mod secret;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::Api;
use crate::events::EventApi;
use crate::resources::{Builtin, ResourceType};
use crate::status::{ApiError, Result};
use crate::store::Stored;
use crate::validation::{self, FieldError, NameRule};

/// `fieldValidation`: what to do with fields the type does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

fn unknown_fields(unknown: Vec<String>, validation: FieldValidation) -> Result<Vec<String>> {
    let messages: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect();
    match validation {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(messages),
        FieldValidation::Strict if messages.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            messages.join(", ")
        ))),
    }
}

/// Decodes through the type or schema, dropping unknown fields; returns the warnings.
fn decode(rt: &ResourceType, obj: &mut Value, validation: FieldValidation) -> Result<Vec<String>> {
    match (rt.builtin, &rt.schema) {
        (Some(Builtin::Event), _) => {
            let n =
                crate::builtin::normalize(Builtin::Event, obj).map_err(ApiError::bad_request)?;
            let warnings = unknown_fields(n.unknown, validation)?;
            *obj = n.value;
            Ok(warnings)
        }
        (Some(builtin), _) => {
            let n = crate::builtin::normalize(builtin, obj).map_err(ApiError::bad_request)?;
            let warnings = unknown_fields(n.unknown, validation)?;
            *obj = n.value;
            Ok(warnings)
        }
        (None, Some(schema)) => {
            let pruned = schema.prune(obj);
            let warnings = unknown_fields(pruned, validation)?;
            schema.apply_defaults(obj);
            Ok(warnings)
        }
        (None, None) => Ok(Vec::new()),
    }
}

fn name_rule(rt: &ResourceType) -> NameRule {
    NameRule::for_resource(&rt.group, &rt.plural)
}

/// Validates metadata once the final name is known.
pub(crate) fn validate_meta(rt: &ResourceType, obj: &Value, name: &str) -> Result<()> {
    let errors = validation::validate_object_meta(&obj["metadata"], name_rule(rt), rt.namespaced);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.kind, &rt.group, name, &errors))
    }
}

fn invalid(rt: &ResourceType, obj: &Value, errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::invalid(&rt.kind, &rt.group, name, &errors))
}

pub(crate) fn admit_create(
    api: &Api,
    rt: &ResourceType,
    obj: &mut Value,
    validation: FieldValidation,
) -> Result<Vec<String>> {
    let warnings = decode(rt, obj, validation)?;
    match rt.builtin {
        Some(Builtin::Pod) => {
            pod::default(obj);
            invalid(rt, obj, pod::validate(obj))?;
            pod::check_service_account(api, obj)?;
        }
        Some(Builtin::Secret) => {
            secret::merge_string_data(obj);
            invalid(rt, obj, secret::validate(obj))?;
        }
        Some(Builtin::ConfigMap) => invalid(rt, obj, secret::validate_config_map(obj))?,
        Some(Builtin::Lease) => invalid(rt, obj, lease::validate(obj))?,
        Some(Builtin::Namespace) => {
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
            obj["status"] = json!({"phase": "Active"});
        }
        Some(Builtin::CustomResourceDefinition) => {
            crate::schema::fill_crd_defaults(obj);
            invalid(rt, obj, crate::schema::validate_crd(obj))?;
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        Some(Builtin::Event) => {
            *obj = crate::events::from_events_v1(obj.clone());
            invalid(
                rt,
                obj,
                crate::events::validate_create(obj, EventApi::EventsV1),
            )?;
        }
        Some(Builtin::CoreEvent) => {
            *obj = crate::events::normalize_core(obj.clone());
            invalid(rt, obj, crate::events::validate_create(obj, EventApi::Core))?;
        }
        Some(_) => {}
        None => {
            if rt.status_subresource {
                // A custom resource's status cannot be set on create when /status exists.
                if let Some(o) = obj.as_object_mut() {
                    o.remove("status");
                }
            }
            if let Some(schema) = &rt.schema {
                invalid(rt, obj, schema.validate(obj))?;
            }
        }
    }
    Ok(warnings)
}

pub(crate) fn admit_update(
    api: &Api,
    rt: &ResourceType,
    old: &Value,
    new: &mut Value,
    subresource: &str,
    validation: FieldValidation,
) -> Result<Vec<String>> {
    let _ = api;
    if rt.builtin == Some(Builtin::Event) {
        *new = crate::events::from_events_v1(new.clone());
    }
    let stored_rt;
    let decode_rt = if rt.builtin == Some(Builtin::Event) {
        stored_rt = ResourceType {
            builtin: Some(Builtin::CoreEvent),
            ..rt.clone()
        };
        &stored_rt
    } else {
        rt
    };
    let warnings = decode(decode_rt, new, validation)?;
    let name = old["metadata"]["name"].as_str().unwrap_or_default();
    validate_meta(rt, new, name)?;
    invalid(
        rt,
        new,
        validation::validate_object_meta_update(&new["metadata"], &old["metadata"]),
    )?;
    match rt.builtin {
        Some(Builtin::Pod) if subresource.is_empty() => {
            invalid(rt, new, pod::validate_update(old, new))?
        }
        Some(Builtin::Pod) => {}
        Some(Builtin::Secret) => {
            secret::merge_string_data(new);
            invalid(rt, new, secret::validate(new))?;
            invalid(rt, new, secret::validate_update(old, new))?;
        }
        Some(Builtin::ConfigMap) => invalid(rt, new, secret::validate_config_map(new))?,
        Some(Builtin::Lease) => invalid(rt, new, lease::validate(new))?,
        Some(Builtin::Namespace) if subresource != "finalize" => {
            new["spec"] = old["spec"].clone();
        }
        Some(Builtin::CustomResourceDefinition) if subresource.is_empty() => {
            crate::schema::fill_crd_defaults(new);
            invalid(rt, new, crate::schema::validate_crd(new))?;
        }
        // Both are in core form here: events.k8s.io objects were converted above.
        Some(Builtin::Event) => invalid(
            rt,
            new,
            crate::events::validate_update(new, old, EventApi::EventsV1),
        )?,
        Some(Builtin::CoreEvent) => invalid(
            rt,
            new,
            crate::events::validate_update(new, old, EventApi::Core),
        )?,
        None => {
            if let Some(schema) = &rt.schema {
                invalid(rt, new, schema.validate(new))?;
            }
        }
        _ => {}
    }
    Ok(warnings)
}

/// Side effects of a successful write (`new` is `None` when the object was removed).
pub(crate) fn after_write(
    api: &Api,
    rt: &Arc<ResourceType>,
    _old: Option<&Arc<Stored>>,
    _new: Option<&Arc<Stored>>,
) {
    if rt.group == "rbac.authorization.k8s.io" {
        api.rbac_changed();
    }
}
