//! delete and deletecollection: `DeleteOptions`, preconditions, and graceful deletion (grace
//! periods for bound pods, finalizers, orphan and foreground propagation, terminating namespaces).

use std::sync::Arc;

use http::{Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::read::{Selectors, scope_namespace, view};
use super::write::{respond_with, uid_precondition};
use super::{Api, Call, meta};
use crate::admission;
use crate::codec::{self, Body};
use crate::resources::{Builtin, ResourceType};
use crate::status::{ApiError, Result};
use crate::store::{DeleteAction, Stored};

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
