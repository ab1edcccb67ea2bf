//! create, update and patch, with the API server's metadata rules: generateName, optimistic
//! concurrency, server-owned fields, generation and status subresources.

mod update;

use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use super::apply::{apply, check_stored_size, field_manager, field_table, patch_force};
use super::read::{scope_namespace, view};
use super::{Api, Call, meta};
use crate::admission::{self, FieldValidation};
use crate::codec::{self, Body};
use crate::fieldmanager::{self, Writer};
use crate::patch::{PatchError, PatchType};
use crate::resources::ResourceType;
use crate::status::{ApiError, Result};
use crate::store::Stored;
use update::prepare_update;

/// Metadata fields only the server sets; an update cannot change them.
const SERVER_OWNED: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
];

pub(super) fn respond_with(
    code: StatusCode,
    value: &Value,
    warnings: &[String],
) -> Result<Response<Body>> {
    respond_json(
        code,
        serde_json::to_vec(value).unwrap_or_default(),
        warnings,
    )
}

fn respond_json(
    code: StatusCode,
    body: impl Into<bytes::Bytes>,
    warnings: &[String],
) -> Result<Response<Body>> {
    let mut resp = codec::json_response(code, body);
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    Ok(resp)
}

/// What a create or update leaves: the object stored, or the one a dry run would have stored.
pub(crate) enum Written {
    Stored(Arc<Stored>),
    DryRun(Value),
}

impl Written {
    /// The response carrying the object as `rt`'s endpoint serves it. A stored object served at
    /// its storage version is sent in the encoding its watch events share.
    pub(super) fn respond(
        &self,
        rt: &ResourceType,
        code: StatusCode,
        warnings: &[String],
    ) -> Result<Response<Body>> {
        match self {
            Written::Stored(stored) if super::read::served_as_stored(rt) => {
                respond_json(code, stored.json().clone(), warnings)
            }
            Written::Stored(stored) => respond_with(code, &view(rt, stored), warnings),
            Written::DryRun(value) => respond_with(code, value, warnings),
        }
    }
}

fn field_validation(call: &Call) -> Result<FieldValidation> {
    match call.param("fieldValidation") {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// Creating in a namespace requires it to exist and not be terminating.
fn check_namespace(api: &Api, rt: &ResourceType, ns: &str) -> Result<()> {
    if !rt.namespaced {
        return Ok(());
    }
    let Some(namespace) = api.store.get("namespaces", "", ns) else {
        return Err(ApiError::not_found("", "namespaces", ns));
    };
    if meta::has_deletion_timestamp(&namespace.value) {
        return Err(ApiError::forbidden(
            format!(
                "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                crate::status::qualified(&rt.group, &rt.plural)
            ),
            &rt.group,
            &rt.plural,
            "",
        ));
    }
    Ok(())
}

pub(super) fn create(api: &Api, rt: &Arc<ResourceType>, call: &Call) -> Result<Response<Body>> {
    let mut obj = codec::decode_object(call.header(header::CONTENT_TYPE), &call.body)?;
    let dry_run = call.dry_run()?;
    let validation = field_validation(call)?;
    let manager = field_manager(call, "CreateOptions")?;
    let (written, warnings) = create_object(
        api,
        rt,
        &call.info.namespace,
        &mut obj,
        validation,
        dry_run,
        Some(&manager),
    )?;
    written.respond(rt, StatusCode::CREATED, &warnings)
}

/// The create path shared by HTTP and the simulator's own controllers. Returns the object
/// written and any warnings.
pub(crate) fn create_object(
    api: &Api,
    rt: &Arc<ResourceType>,
    url_namespace: &str,
    obj: &mut Value,
    validation: FieldValidation,
    dry_run: bool,
    // `None`: the object's ownership is recorded already (an apply that creates it).
    manager: Option<&str>,
) -> Result<(Written, Vec<String>)> {
    meta::check_type(rt, obj)?;
    let ns = scope_namespace(rt, url_namespace).to_string();
    {
        let m = meta::metadata_mut(obj)?;
        match m.get("namespace").and_then(Value::as_str) {
            Some(body_ns) if !body_ns.is_empty() && rt.namespaced && body_ns != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
        if rt.namespaced {
            if ns.is_empty() {
                return Err(ApiError::method_not_allowed(format!(
                    "{} must be created in a namespace: POST to /.../namespaces/{{namespace}}/{}",
                    rt.plural, rt.plural
                )));
            }
            m.insert("namespace".into(), Value::String(ns.clone()));
        } else {
            m.remove("namespace");
        }
        if m.get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        for field in SERVER_OWNED {
            m.remove(*field);
        }
        m.insert("uid".into(), Value::String(meta::new_uid()));
        m.insert(
            "creationTimestamp".into(),
            Value::String(meta::now_rfc3339()),
        );
        if rt.builtin.is_none() {
            m.insert("generation".into(), json!(1));
        }
    }
    check_namespace(api, rt, &ns)?;
    let generate = meta::meta_str(obj, "name").is_none();
    let prefix = meta::meta_str(obj, "generateName").map(str::to_string);
    if generate && prefix.is_none() {
        return Err(ApiError::invalid(
            &rt.kind,
            &rt.group,
            "",
            &[crate::validation::FieldError::required(
                "metadata.name",
                "name or generateName is required",
            )],
        ));
    }
    let warnings = admission::admit_create(api, rt, obj, validation)?;
    // generateName collisions are retried, as the API server does.
    for _attempt in 0..8 {
        if let Some(prefix) = &prefix
            && generate
        {
            meta::metadata_mut(obj)?
                .insert("name".into(), Value::String(meta::generate_name(prefix)));
        }
        let name = meta::meta_str(obj, "name").unwrap_or_default().to_string();
        admission::validate_meta(rt, obj, &name)?;
        if let Some(manager) = manager {
            let writer = Writer {
                manager,
                subresource: "",
            };
            fieldmanager::record_update(field_table(rt), None, obj, writer);
        }
        check_stored_size(obj)?;
        if dry_run {
            if api.store.get(&rt.storage, &ns, &name).is_some() {
                return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
            }
            return Ok((Written::DryRun(obj.clone()), warnings));
        }
        match api.store.create(&rt.storage, &ns, &name, obj.clone()) {
            Ok(stored) => {
                admission::after_write(api, rt, None, Some(&stored));
                return Ok((Written::Stored(stored), warnings));
            }
            Err(_) if generate => continue,
            Err(_) => return Err(ApiError::already_exists(&rt.group, &rt.plural, &name)),
        }
    }
    Err(ApiError::already_exists(
        &rt.group,
        &rt.plural,
        meta::meta_str(obj, "name").unwrap_or_default(),
    ))
}

pub(super) fn update(api: &Api, rt: &Arc<ResourceType>, call: &Call) -> Result<Response<Body>> {
    let mut obj = codec::decode_object(call.header(header::CONTENT_TYPE), &call.body)?;
    meta::check_type(rt, &mut obj)?;
    let name = call.info.name.clone();
    let body_name = meta::meta_str(&obj, "name").unwrap_or_default();
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if let Some(body_ns) = meta::meta_str(&obj, "namespace")
        && rt.namespaced
        && body_ns != call.info.namespace
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let validation = field_validation(call)?;
    let dry_run = call.dry_run()?;
    let manager = field_manager(call, "UpdateOptions")?;
    let sub = call.info.subresource.clone();
    let mut first = Some(obj);
    let (written, warnings) = write_object(
        api,
        rt,
        &call.info.namespace,
        &name,
        &sub,
        validation,
        dry_run,
        &manager,
        // Proposed again if the object changes before it is written: decoded again only then.
        |_current| {
            let obj = match first.take() {
                Some(obj) => obj,
                None => {
                    let mut obj =
                        codec::decode_object(call.header(header::CONTENT_TYPE), &call.body)?;
                    meta::check_type(rt, &mut obj)?;
                    obj
                }
            };
            Ok(Incoming::Replace(obj))
        },
    )?;
    written.respond(rt, StatusCode::OK, &warnings)
}

pub(super) fn patch(api: &Api, rt: &Arc<ResourceType>, call: &Call) -> Result<Response<Body>> {
    let content_type = call.header(header::CONTENT_TYPE).unwrap_or("");
    let patch_type = PatchType::from_content_type(content_type).ok_or_else(|| {
        ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
        ))
    })?;
    let validation = field_validation(call)?;
    let dry_run = call.dry_run()?;
    let force = patch_force(call, patch_type)?;
    let sub = call.info.subresource.clone();
    if patch_type == PatchType::Apply {
        return apply(api, rt, call, validation, dry_run, force);
    }
    let manager = field_manager(call, "PatchOptions")?;
    let body = call.body.clone();
    let (written, warnings) = write_object(
        api,
        rt,
        &call.info.namespace,
        &call.info.name,
        &sub,
        validation,
        dry_run,
        &manager,
        |current| {
            let served = view(rt, current);
            let patched = crate::patch::apply_patch(patch_type, &rt.group, &rt.kind, served, &body)
                .map_err(|e: PatchError| ApiError::from_status(&e.to_status()))?;
            Ok(Incoming::Patched(patched))
        },
    )?;
    written.respond(rt, StatusCode::OK, &warnings)
}

/// What an update or patch proposes, before the server's rules are applied.
pub(crate) enum Incoming {
    /// A full object from PUT: its resourceVersion, if set, is a precondition; CRs require one.
    Replace(Value),
    /// A patched copy of the current object: a resourceVersion the patch changed is a precondition.
    Patched(Value),
    /// The result of an apply, its `managedFields` already recorded; a resourceVersion the
    /// configuration carries is a precondition.
    Applied(Value),
}

/// The update path shared by PUT, PATCH and the simulator's controllers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_object(
    api: &Api,
    rt: &Arc<ResourceType>,
    url_namespace: &str,
    name: &str,
    subresource: &str,
    validation: FieldValidation,
    dry_run: bool,
    manager: &str,
    mut propose: impl FnMut(&Stored) -> Result<Incoming>,
) -> Result<(Written, Vec<String>)> {
    let writer = Writer {
        manager,
        subresource,
    };
    let ns = scope_namespace(rt, url_namespace).to_string();
    if dry_run {
        // Everything but the write; no lock needed since nothing is committed.
        let current = api
            .store
            .get(&rt.storage, &ns, name)
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        let proposal = propose(&current)?;
        let (new, warnings) =
            prepare_update(api, rt, name, writer, validation, &current, proposal)?;
        return Ok((Written::DryRun(new), warnings));
    }
    let mut warnings = Vec::new();
    let mut previous = None;
    let result = api.store.update(&rt.storage, &ns, name, |current| {
        previous = Some(current.clone());
        let proposal = propose(current)?;
        let (new, w) = prepare_update(api, rt, name, writer, validation, current, proposal)?;
        warnings = w;
        Ok(new)
    });
    match result? {
        None => Err(ApiError::not_found(&rt.group, &rt.plural, name)),
        Some(stored) => {
            let removed = api.store.get(&rt.storage, &ns, name).is_none();
            admission::after_write(api, rt, previous.as_ref(), (!removed).then_some(&stored));
            Ok((Written::Stored(stored), warnings))
        }
    }
}

/// A precondition's UID against the stored object's, with the API server's message.
pub(super) fn uid_precondition(
    rt: &ResourceType,
    name: &str,
    current: &Stored,
    uid: &str,
) -> Result<()> {
    let actual = current.meta_str("uid").unwrap_or_default();
    if uid == actual {
        return Ok(());
    }
    Err(ApiError::conflict(
        &rt.group,
        &rt.plural,
        name,
        &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
    ))
}
