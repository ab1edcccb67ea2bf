//! Server-side apply (`application/apply-patch+yaml`) and what every write records of who
//! made it: the request's field manager, the kind's field table, and the size etcd would store.

use std::sync::Arc;

use http::{Response, StatusCode, header};
use serde_json::{Value, json};

use super::read::view;
use super::write::{Incoming, create_object, write_object};
use super::{Api, Call};
use crate::admission::FieldValidation;
use crate::codec::{self, Body};
use crate::fieldmanager::{self, Writer};
use crate::patch::PatchType;
use crate::resources::ResourceType;
use crate::status::{ApiError, Result};

/// The field manager a write is recorded under: `?fieldManager=`, else the User-Agent's
/// program (`options` names the request's options kind in the error, as Kubernetes does).
pub(super) fn field_manager(call: &Call, options: &str) -> Result<String> {
    let Some(manager) = call.param("fieldManager") else {
        return Ok(fieldmanager::manager_from_user_agent(
            call.header(header::USER_AGENT),
        ));
    };
    let error = if manager.len() > 128 {
        Some(crate::validation::FieldError::too_long("fieldManager", 128))
    } else {
        manager
            .chars()
            .position(|c| !crate::validation::go_printable(c))
            .map(|at| {
                crate::validation::FieldError::invalid(
                    "fieldManager",
                    json!(manager),
                    format!(
                        "invalid character {:?} (at position {at})",
                        manager.chars().nth(at).unwrap_or_default()
                    ),
                )
            })
    };
    match error {
        Some(error) => Err(ApiError::invalid(options, "meta.k8s.io", "", &[error])),
        None => Ok(manager.to_owned()),
    }
}

/// The most an object may take in storage: etcd's default `--max-request-bytes` (1.5 MiB).
/// Objects are stored here as JSON — as custom resources are in etcd; built-in kinds are
/// stored as protobuf there, a little smaller.
const MAX_STORED_BYTES: usize = 1536 * 1024;

/// Refuses an object too large to store, in the words the API server passes on from etcd (a
/// 500: kubernetes/kubernetes#112152).
pub(super) fn check_stored_size(object: &Value) -> Result<()> {
    let size = serde_json::to_vec(object).map_or(0, |bytes| bytes.len());
    if size > MAX_STORED_BYTES {
        return Err(ApiError::from_status(&json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "etcdserver: request is too large", "code": 500
        })));
    }
    Ok(())
}

/// The field table of a kind (its list keys).
pub(super) fn field_table(rt: &ResourceType) -> crate::patch::schema::Struct {
    crate::patch::schema::apply_table(&rt.group, &rt.kind)
}

/// `?force=`: only an apply may force, and only `true` or `false` are read.
pub(super) fn patch_force(call: &Call, patch_type: PatchType) -> Result<bool> {
    let force = match call.param("force") {
        None => return Ok(false),
        Some("true") => true,
        Some("false" | "") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "failed to parse \"force\": strconv.ParseBool: parsing {other:?}: invalid syntax"
            )));
        }
    };
    if patch_type != PatchType::Apply {
        return Err(invalid_patch_options(
            crate::validation::FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            ),
        ));
    }
    Ok(force)
}

/// A 422 naming what is wrong with a patch's options, as the API server words it.
fn invalid_patch_options(error: crate::validation::FieldError) -> ApiError {
    ApiError::invalid("PatchOptions", "meta.k8s.io", "", &[error])
}

/// Server-side apply: the configuration merged into the object under field ownership, or the
/// object created from it when there is none.
pub(super) fn apply(
    api: &Api,
    rt: &Arc<ResourceType>,
    call: &Call,
    validation: FieldValidation,
    dry_run: bool,
    force: bool,
) -> Result<Response<Body>> {
    let Some(manager) = call.param("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(invalid_patch_options(
            crate::validation::FieldError::required("fieldManager", "is required for apply patch"),
        ));
    };
    let manager = field_manager(call, "PatchOptions").map(|_| manager)?;
    let config = apply_configuration(rt, call)?;
    let writer = Writer {
        manager,
        subresource: &call.info.subresource,
    };
    let table = field_table(rt);
    let applied = |live: Option<&Value>| {
        fieldmanager::apply(table, live, &config, writer, force).map_err(|c| c.to_error())
    };
    let written = write_object(
        api,
        rt,
        &call.info.namespace,
        &call.info.name,
        &call.info.subresource,
        validation,
        dry_run,
        manager,
        |current| applied(Some(&view(rt, current))).map(Incoming::Applied),
    );
    match written {
        Ok((written, warnings)) => written.respond(rt, StatusCode::OK, &warnings),
        Err(err) if err.code == 404 && call.info.subresource.is_empty() => {
            let mut obj = applied(None)?;
            let (written, warnings) = create_object(
                api,
                rt,
                &call.info.namespace,
                &mut obj,
                validation,
                dry_run,
                None,
            )?;
            written.respond(rt, StatusCode::CREATED, &warnings)
        }
        Err(err) => Err(err),
    }
}

/// The configuration an apply sends (YAML or JSON): an object of this kind, named as the URL
/// names it, without `managedFields`; what a subresource does not write is reset.
fn apply_configuration(rt: &ResourceType, call: &Call) -> Result<Value> {
    let mut config: Value = serde_yaml::from_slice(&call.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let text = |config: &Value| config.to_string();
    let Some(object) = config.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "error decoding YAML: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            codec::type_name(&config)
        )));
    };
    for (field, what) in [("kind", "Kind"), ("apiVersion", "apiVersion")] {
        if object
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let shown = text(&Value::Object(object.clone()));
            return Err(ApiError::bad_request(format!(
                "Object '{what}' is missing in '{shown}'"
            )));
        }
    }
    let meta = object
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    if meta.get("managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    match meta.get("name").and_then(Value::as_str) {
        Some(name) if name != call.info.name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                call.info.name
            )));
        }
        Some(_) => {}
        None => {
            meta.insert("name".into(), json!(call.info.name));
        }
    }
    if rt.status_subresource {
        if call.info.subresource == "status" {
            object
                .retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
            // Nor does metadata change through /status but for the object's identity.
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.retain(|k, _| {
                    matches!(k.as_str(), "name" | "namespace" | "uid" | "resourceVersion")
                });
            }
        } else {
            object.remove("status");
        }
    }
    Ok(config)
}
