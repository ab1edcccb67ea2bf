//! get and list, with label/field selectors, pagination (`limit`/`continue` over a consistent
//! snapshot) and server-side printing for `kubectl get`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::{Response, StatusCode, header};
use serde_json::{Value, json};

use super::{Api, Call, meta, respond};
use crate::codec::{self, Body};
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, Result};
use crate::store::Stored;

/// How long a continue token stays valid (the API server's etcd compaction interval is 5 minutes).
const CONTINUE_TTL: Duration = Duration::from_secs(300);
const MAX_SNAPSHOTS: usize = 256;

/// The rest of paginated lists, so later pages come from the same consistent snapshot as the first
/// (as etcd serves them at the list's revision). Expired tokens answer 410.
#[derive(Debug, Default)]
pub(crate) struct ListSnapshots {
    next_id: u64,
    live: HashMap<u64, ListSnapshot>,
}

/// The items of one paginated list, as of its resourceVersion.
#[derive(Debug)]
struct ListSnapshot {
    taken: Instant,
    items: Arc<Vec<Arc<Stored>>>,
    rv: u64,
}

/// Both selectors of a list or watch, parsed and checked against the resource.
#[derive(Debug, Default)]
pub(crate) struct Selectors {
    pub(crate) labels: Option<LabelSelector>,
    pub(crate) fields: Option<FieldSelector>,
    group: String,
    resource: String,
}

impl Selectors {
    pub(crate) fn from_call(rt: &ResourceType, call: &Call) -> Result<Self> {
        let labels = match call.param("labelSelector") {
            None | Some("") => None,
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
        };
        let fields = match call.param("fieldSelector") {
            None | Some("") => None,
            Some(s) => {
                let f =
                    FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                f.check_supported(&rt.group, &rt.plural, rt.namespaced)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(f)
            }
        };
        Ok(Selectors {
            labels,
            fields,
            group: rt.group.clone(),
            resource: rt.plural.clone(),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    pub(crate) fn matches(&self, obj: &Stored) -> bool {
        if let Some(l) = &self.labels
            && !l.matches(obj.labels())
        {
            return false;
        }
        if let Some(f) = &self.fields
            && !f.matches_object(&obj.value, &self.group, &self.resource)
        {
            return false;
        }
        true
    }
}

pub(super) fn get(api: &Api, rt: &Arc<ResourceType>, call: &Call) -> Result<Response<Body>> {
    let ns = scope_namespace(rt, &call.info.namespace);
    let obj = api
        .store
        .get(&rt.storage, ns, &call.info.name)
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &call.info.name))?;
    let value = view(rt, &obj);
    if let Some(version) = crate::table::table_request(call.header(header::ACCEPT).unwrap_or("")) {
        let include = crate::table::parse_include_object(call.param("includeObject"))
            .map_err(ApiError::bad_request)?;
        let table = crate::table::build_table(
            &rt.columns,
            &[&value],
            json!({"resourceVersion": obj.rv.to_string()}),
            include,
            version,
            jiff::Timestamp::now(),
        );
        return respond(StatusCode::OK, &table);
    }
    if served_as_stored(rt) {
        return Ok(codec::json_response(StatusCode::OK, obj.json().clone()));
    }
    respond(StatusCode::OK, &value)
}

/// The stored object as this endpoint serves it (version, and the events.k8s.io view of Events).
pub(crate) fn view(rt: &ResourceType, obj: &Stored) -> Value {
    if rt.builtin == Some(crate::resources::Builtin::Event) {
        return crate::events::to_events_v1(&obj.value);
    }
    meta::served(rt, &obj.value)
}

/// Whether this endpoint serves objects exactly as stored (same version, not the events.k8s.io
/// view of Events), so their stored encoding can be sent as it is.
pub(crate) fn served_as_stored(rt: &ResourceType) -> bool {
    rt.version == rt.storage_version && rt.builtin != Some(crate::resources::Builtin::Event)
}

/// The namespace to read: cluster-scoped objects live under the empty namespace.
pub(crate) fn scope_namespace<'a>(rt: &ResourceType, ns: &'a str) -> &'a str {
    if rt.namespaced { ns } else { "" }
}

pub(super) fn list(api: &Api, rt: &Arc<ResourceType>, call: &Call) -> Result<Response<Body>> {
    let selectors = Selectors::from_call(rt, call)?;
    let limit = match call.param("limit") {
        None | Some("") => 0,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("limit: Invalid value: {l:?}")))?,
    };
    let (items, rv, offset) = match call.param("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (id, offset) = decode_continue(token)?;
            let mut snaps = api.lists.lock();
            snaps
                .live
                .retain(|_, snap| snap.taken.elapsed() < CONTINUE_TTL);
            let Some(ListSnapshot { items, rv, .. }) = snaps.live.get(&id) else {
                return Err(ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            };
            (items.clone(), *rv, offset)
        }
        None => {
            check_list_rv(call)?;
            let ns = if rt.namespaced && !call.info.namespace.is_empty() {
                Some(call.info.namespace.as_str())
            } else {
                None
            };
            let (items, rv) = api.store.list(&rt.storage, ns, |o| selectors.matches(o));
            (Arc::new(items), rv, 0)
        }
    };
    let end = if limit > 0 {
        (offset + limit).min(items.len())
    } else {
        items.len()
    };
    let page = items.get(offset..end).unwrap_or(&[]);
    let mut list_meta = json!({"resourceVersion": rv.to_string()});
    if end < items.len() {
        let mut snaps = api.lists.lock();
        let id = match call.param("continue").and_then(|t| decode_continue(t).ok()) {
            Some((id, _)) => id,
            None => {
                snaps.next_id += 1;
                let id = snaps.next_id;
                if snaps.live.len() >= MAX_SNAPSHOTS
                    && let Some(oldest) = snaps
                        .live
                        .iter()
                        .min_by_key(|(_, snap)| snap.taken)
                        .map(|(k, _)| *k)
                {
                    snaps.live.remove(&oldest);
                }
                snaps.live.insert(
                    id,
                    ListSnapshot {
                        taken: Instant::now(),
                        items: items.clone(),
                        rv,
                    },
                );
                id
            }
        };
        list_meta["continue"] = Value::String(encode_continue(id, end));
        if selectors.is_empty() {
            list_meta["remainingItemCount"] = json!(items.len() - end);
        }
    }

    if let Some(version) = crate::table::table_request(call.header(header::ACCEPT).unwrap_or("")) {
        let include = crate::table::parse_include_object(call.param("includeObject"))
            .map_err(ApiError::bad_request)?;
        let values: Vec<Value> = page.iter().map(|o| view(rt, o)).collect();
        let refs: Vec<&Value> = values.iter().collect();
        let table = crate::table::build_table(
            &rt.columns,
            &refs,
            list_meta,
            include,
            version,
            jiff::Timestamp::now(),
        );
        return respond(StatusCode::OK, &table);
    }

    // Splice the cached encodings of the items into the list without re-encoding them.
    let mut out = Vec::with_capacity(64 + page.iter().map(|o| o.json().len() + 1).sum::<usize>());
    let head = json!({"kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": list_meta});
    let head = serde_json::to_vec(&head).unwrap_or_default();
    out.extend_from_slice(&head[..head.len().saturating_sub(1)]);
    out.extend_from_slice(b",\"items\":[");
    let plain = served_as_stored(rt);
    for (i, obj) in page.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if plain {
            out.extend_from_slice(obj.json());
        } else {
            out.extend_from_slice(&serde_json::to_vec(&view(rt, obj)).unwrap_or_default());
        }
    }
    out.extend_from_slice(b"]}");
    Ok(codec::json_response(StatusCode::OK, out))
}

/// `resourceVersionMatch=Exact` asks for a past snapshot the simulator does not keep: 410, as a
/// real server answers for a compacted revision.
fn check_list_rv(call: &Call) -> Result<()> {
    let rv = call.param("resourceVersion").filter(|v| !v.is_empty());
    match (
        call.param("resourceVersionMatch").filter(|v| !v.is_empty()),
        rv,
    ) {
        (None, Some(rv)) => meta::parse_rv(rv).map(|_| ()),
        (None, None) => Ok(()),
        (Some(_), None) => Err(ApiError::bad_request(
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        (Some("NotOlderThan"), Some(rv)) => meta::parse_rv(rv).map(|_| ()),
        (Some("Exact"), Some(rv)) => {
            meta::parse_rv(rv)?;
            Err(ApiError::gone(format!("too old resource version: {rv}")))
        }
        (Some(other), Some(_)) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

fn encode_continue(id: u64, offset: usize) -> String {
    let raw = json!({"v": "sim/v1", "id": id, "offset": offset});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, usize)> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let id = v["id"].as_u64().ok_or_else(bad)?;
    let offset = v["offset"].as_u64().ok_or_else(bad)? as usize;
    Ok((id, offset))
}
