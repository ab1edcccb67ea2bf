//! create, update, patch, delete and deletecollection, with the API server's metadata rules:
//! generateName, optimistic concurrency, status subresources, finalizers and graceful deletion.

use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::apply::{apply, check_stored_size, field_manager, field_table, patch_force};
use super::read::{Selectors, scope_namespace, view};
use super::{Api, Call, meta};
use crate::admission::{self, FieldValidation};
use crate::codec::{self, Body};
use crate::fieldmanager::{self, Writer};
use crate::patch::{PatchError, PatchType};
use crate::resources::{Builtin, ResourceType};
use crate::status::{ApiError, Result};
use crate::store::{DeleteAction, Stored};

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
    let mut resp = codec::value_response(code, value);
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    Ok(resp)
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
    let (stored, warnings) = create_object(
        api,
        rt,
        &call.info.namespace,
        &mut obj,
        validation,
        dry_run,
        Some(&manager),
    )?;
    respond_with(StatusCode::CREATED, &stored, &warnings)
}

/// The create path shared by HTTP and the simulator's own controllers. Returns the object as
/// served and any warnings.
pub(crate) fn create_object(
    api: &Api,
    rt: &Arc<ResourceType>,
    url_namespace: &str,
    obj: &mut Value,
    validation: FieldValidation,
    dry_run: bool,
    // `None`: the object's ownership is recorded already (an apply that creates it).
    manager: Option<&str>,
) -> Result<(Value, Vec<String>)> {
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
            return Ok((obj.clone(), warnings));
        }
        match api.store.create(&rt.storage, &ns, &name, obj.clone()) {
            Ok(stored) => {
                admission::after_write(api, rt, None, Some(&stored));
                return Ok((view(rt, &stored), warnings));
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
    let (value, warnings) = write_object(
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
    respond_with(StatusCode::OK, &value, &warnings)
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
    let (value, warnings) = write_object(
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
            let patched =
                crate::patch::apply_patch(patch_type, &rt.group, &rt.kind, &served, &body)
                    .map_err(|e: PatchError| ApiError::from_status(&e.to_status()))?;
            Ok(Incoming::Patched(patched))
        },
    )?;
    respond_with(StatusCode::OK, &value, &warnings)
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
) -> Result<(Value, Vec<String>)> {
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
        return Ok((new, warnings));
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
            Ok((view(rt, &stored), warnings))
        }
    }
}

/// The object an update will store, from the current one and the proposal: preconditions,
/// server-owned fields, admission, generation.
fn prepare_update(
    api: &Api,
    rt: &ResourceType,
    name: &str,
    writer: Writer,
    validation: FieldValidation,
    current: &Stored,
    proposal: Incoming,
) -> Result<(Value, Vec<String>)> {
    let subresource = writer.subresource;
    let applied = matches!(proposal, Incoming::Applied(_));
    let (mut new, precondition) = match proposal {
        Incoming::Replace(v) => {
            let rv = meta::meta_str(&v, "resourceVersion").map(str::to_string);
            if rv.is_none() && rt.builtin.is_none() {
                return Err(ApiError::invalid(
                    &rt.kind,
                    &rt.group,
                    name,
                    &[crate::validation::FieldError::invalid(
                        "metadata.resourceVersion",
                        json!(0),
                        "must be specified for an update",
                    )],
                ));
            }
            (v, rv)
        }
        Incoming::Patched(v) | Incoming::Applied(v) => {
            let rv = meta::meta_str(&v, "resourceVersion").map(str::to_string);
            (v, rv)
        }
    };
    if let Some(rv) = precondition
        && meta::parse_rv(&rv)? != current.rv
    {
        return Err(ApiError::stale_resource_version(
            &rt.group, &rt.plural, name,
        ));
    }
    if let Some(uid) = meta::meta_str(&new, "uid") {
        uid_precondition(rt, name, current, uid)?;
    }
    meta::check_type(rt, &mut new)?;
    // Objects are stored at their storage version.
    new["apiVersion"] = current.value["apiVersion"].clone();
    let recorded = applied
        .then(|| new.pointer("/metadata/managedFields").cloned())
        .flatten();
    merge_server_fields(rt, &current.value, &mut new, subresource)?;
    if let Some(recorded) = recorded {
        new["metadata"]["managedFields"] = recorded;
    }
    let warnings =
        admission::admit_update(api, rt, &current.value, &mut new, subresource, validation)?;
    if !applied {
        fieldmanager::record_update(field_table(rt), Some(&current.value), &mut new, writer);
    }
    check_stored_size(&new)?;
    if rt.builtin.is_none() && spec_changed(&current.value, &new) {
        let generation = current.value["metadata"]["generation"]
            .as_i64()
            .unwrap_or(1)
            + 1;
        new["metadata"]["generation"] = json!(generation);
    }
    Ok((new, warnings))
}

/// Applies what the server owns to a proposed object: immutable metadata and the status
/// subresource split (`rest.BeforeUpdate`'s copying). Metadata rules, such as no new finalizers
/// on an object being deleted, are checked by admission afterwards.
fn merge_server_fields(
    rt: &ResourceType,
    current: &Value,
    new: &mut Value,
    subresource: &str,
) -> Result<()> {
    if subresource == "status" {
        // Only .status changes through /status.
        let status = new.get("status").cloned();
        *new = current.clone();
        match status {
            Some(s) => new["status"] = s,
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        return Ok(());
    }
    if rt.status_subresource && subresource.is_empty() {
        match current.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    let old_meta = meta::metadata(current).cloned().unwrap_or_default();
    let m = meta::metadata_mut(new)?;
    // A resourceVersion precondition has been checked by now; an unconditional update (none
    // given) applies to the current version, as the registry's `Update` does.
    // The namespace comes from the request when the object leaves it out; a different name or
    // namespace is left for the metadata update validation to reject as immutable.
    if m.get("namespace")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        match old_meta.get("namespace") {
            Some(ns) => {
                m.insert("namespace".into(), ns.clone());
            }
            None => {
                m.remove("namespace");
            }
        }
    }
    for field in SERVER_OWNED.iter().chain(["resourceVersion"].iter()) {
        match old_meta.get(*field) {
            Some(v) => {
                m.insert((*field).to_string(), v.clone());
            }
            None => {
                m.remove(*field);
            }
        }
    }
    Ok(())
}

/// Whether anything but metadata and status changed (custom resources bump `generation` then).
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("status");
        m
    };
    strip(old) != strip(new)
}

/// `DeleteOptions`, from the body or the query string.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteOptions {
    pub(crate) grace_period_seconds: Option<i64>,
    pub(crate) propagation_policy: Option<String>,
    pub(crate) orphan_dependents: Option<bool>,
    pub(crate) preconditions: Option<Preconditions>,
    pub(crate) dry_run: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Preconditions {
    pub(crate) uid: Option<String>,
    pub(crate) resource_version: Option<String>,
}

impl DeleteOptions {
    fn from_call(call: &Call) -> Result<Self> {
        let mut opts: DeleteOptions = if call.body.iter().all(u8::is_ascii_whitespace) {
            DeleteOptions::default()
        } else {
            let body = codec::decode_object(call.header(header::CONTENT_TYPE), &call.body)?;
            serde_json::from_value(body).map_err(|e| {
                ApiError::bad_request(format!("invalid DeleteOptions in the request body: {e}"))
            })?
        };
        if let Some(g) = call.param("gracePeriodSeconds") {
            opts.grace_period_seconds = Some(g.parse().map_err(|_| {
                ApiError::bad_request(format!("gracePeriodSeconds: Invalid value: {g:?}"))
            })?);
        }
        if let Some(p) = call.param("propagationPolicy") {
            opts.propagation_policy = Some(p.to_string());
        }
        if call.dry_run()? {
            opts.dry_run = Some(vec!["All".into()]);
        }
        match opts.propagation_policy.as_deref() {
            None | Some("Orphan" | "Background" | "Foreground") => Ok(opts),
            Some(other) => Err(ApiError::unprocessable(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            ))),
        }
    }
}

pub(super) fn delete(api: &Api, rt: &Arc<ResourceType>, call: &Call) -> Result<Response<Body>> {
    let opts = DeleteOptions::from_call(call)?;
    match delete_object(api, rt, &call.info.namespace, &call.info.name, &opts)? {
        None => Err(ApiError::not_found(&rt.group, &rt.plural, &call.info.name)),
        Some((value, true)) => respond_with(StatusCode::OK, &value, &[]),
        Some((value, false)) => respond_with(StatusCode::ACCEPTED, &value, &[]),
    }
}

/// Deletes (or starts deleting) one object. `Some((object, removed))`; `None` if absent.
pub(crate) fn delete_object(
    api: &Api,
    rt: &Arc<ResourceType>,
    url_namespace: &str,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Option<(Value, bool)>> {
    let ns = scope_namespace(rt, url_namespace).to_string();
    let dry_run = opts
        .dry_run
        .as_ref()
        .is_some_and(|d| d.iter().any(|x| x == "All"));
    if dry_run {
        let Some(current) = api.store.get(&rt.storage, &ns, name) else {
            return Ok(None);
        };
        check_preconditions(rt, name, &current, opts)?;
        return Ok(Some((view(rt, &current), true)));
    }
    let mut previous = None;
    let outcome = api.store.delete(&rt.storage, &ns, name, |current| {
        previous = Some(current.clone());
        check_preconditions(rt, name, current, opts)?;
        Ok(decide_delete(rt, &current.value, opts))
    });
    match outcome? {
        None => Ok(None),
        Some((stored, removed)) => {
            admission::after_write(api, rt, previous.as_ref(), (!removed).then_some(&stored));
            Ok(Some((view(rt, &stored), removed)))
        }
    }
}

/// `DeleteOptions.preconditions`: the uid and resourceVersion the caller expects.
fn check_preconditions(
    rt: &ResourceType,
    name: &str,
    current: &Stored,
    opts: &DeleteOptions,
) -> Result<()> {
    let Some(p) = &opts.preconditions else {
        return Ok(());
    };
    if let Some(uid) = &p.uid {
        uid_precondition(rt, name, current, uid)?;
    }
    if let Some(rv) = &p.resource_version
        && meta::parse_rv(rv)? != current.rv
    {
        return Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                current.rv
            ),
        ));
    }
    Ok(())
}

/// Immediate removal, or a write marking the object deleted (finalizers, graceful pod deletion,
/// namespaces that must be emptied first).
fn decide_delete(rt: &ResourceType, current: &Value, opts: &DeleteOptions) -> DeleteAction {
    let mut finalizers = meta::finalizers(current);
    let orphan = opts.propagation_policy.as_deref() == Some("Orphan")
        || opts.orphan_dependents == Some(true);
    let foreground = opts.propagation_policy.as_deref() == Some("Foreground");
    let deleting = meta::has_deletion_timestamp(current);
    let is_namespace = rt.builtin == Some(Builtin::Namespace);

    let grace = if rt.builtin == Some(Builtin::Pod) {
        let bound = current["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let terminal = matches!(
            current["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        );
        if !bound || terminal {
            0
        } else {
            opts.grace_period_seconds
                .or_else(|| current["spec"]["terminationGracePeriodSeconds"].as_i64())
                .unwrap_or(30)
                .max(0)
        }
    } else {
        0
    };

    if deleting {
        // Already terminating: a shorter grace period may complete a pod's deletion.
        let current_grace = current["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0);
        if grace == 0 && current_grace > 0 && finalizers.is_empty() {
            return DeleteAction::Remove;
        }
        let mut next = current.clone();
        if grace < current_grace {
            next["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        }
        return DeleteAction::Update(next);
    }
    if orphan && !finalizers.iter().any(|f| f == "orphan") {
        finalizers.push("orphan".into());
    }
    if foreground && !finalizers.iter().any(|f| f == "foregroundDeletion") {
        finalizers.push("foregroundDeletion".into());
    }
    let namespace_pending = is_namespace;
    if finalizers.is_empty() && grace == 0 && !namespace_pending {
        return DeleteAction::Remove;
    }
    let mut next = current.clone();
    let when = if grace > 0 {
        meta::rfc3339_after(grace)
    } else {
        meta::now_rfc3339()
    };
    next["metadata"]["deletionTimestamp"] = Value::String(when);
    next["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
    if !finalizers.is_empty() {
        next["metadata"]["finalizers"] = json!(finalizers);
    }
    if is_namespace {
        next["status"]["phase"] = json!("Terminating");
    }
    DeleteAction::Update(next)
}

pub(super) fn delete_collection(
    api: &Api,
    rt: &Arc<ResourceType>,
    call: &Call,
) -> Result<Response<Body>> {
    let selectors = Selectors::from_call(rt, call)?;
    let opts = DeleteOptions::from_call(call)?;
    let ns = if rt.namespaced && !call.info.namespace.is_empty() {
        Some(call.info.namespace.as_str())
    } else {
        None
    };
    let (items, _) = api.store.list(&rt.storage, ns, |o| selectors.matches(o));
    let mut deleted = Vec::new();
    for item in items {
        let name = item.meta_str("name").unwrap_or_default().to_string();
        let item_ns = item.meta_str("namespace").unwrap_or_default().to_string();
        if let Some((value, _)) = delete_object(api, rt, &item_ns, &name, &opts)? {
            deleted.push(value);
        }
    }
    let list = json!({
        "kind": rt.list_kind,
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": api.store.revision().to_string()},
        "items": deleted,
    });
    respond_with(StatusCode::OK, &list, &[])
}

/// A precondition's UID against the stored object's, with the API server's message.
fn uid_precondition(rt: &ResourceType, name: &str, current: &Stored, uid: &str) -> Result<()> {
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
