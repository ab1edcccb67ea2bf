//! The server's rules for an update: preconditions, server-owned metadata, the status split,
//! admission and the generation bump.

use serde_json::{Map, Value, json};

use super::{Incoming, SERVER_OWNED, uid_precondition};
use crate::admission::{self, FieldValidation};
use crate::api::apply::{check_stored_size, field_table};
use crate::api::{Api, meta};
use crate::fieldmanager::{self, Writer};
use crate::resources::ResourceType;
use crate::status::{ApiError, Result};
use crate::store::Stored;

/// The object an update will store, from the current one and the proposal: preconditions,
/// server-owned fields, admission, generation.
pub(super) fn prepare_update(
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
        let status = new.as_object_mut().and_then(|o| o.remove("status"));
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
    let empty = Map::new();
    let old_meta = meta::metadata(current).unwrap_or(&empty);
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
    fn spec(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "metadata" && *k != "status")
    }
    spec(old).count() != spec(new).count() || spec(old).any(|(k, v)| new.get(k) != Some(v))
}

#[cfg(test)]
mod tests {
    use super::spec_changed;
    use serde_json::json;

    #[test]
    fn only_fields_beside_metadata_and_status_are_the_spec() {
        let old = json!({"kind": "W", "metadata": {"name": "a"}, "spec": {"x": 1}, "status": {}});
        let relabelled = json!({"kind": "W", "metadata": {"name": "a", "labels": {"l": "v"}}, "spec": {"x": 1}, "status": {"phase": "Running"}});
        assert!(!spec_changed(&old, &relabelled));
        let changed =
            json!({"kind": "W", "metadata": {"name": "a"}, "spec": {"x": 2}, "status": {}});
        assert!(spec_changed(&old, &changed));
        let added = json!({"kind": "W", "metadata": {"name": "a"}, "spec": {"x": 1}, "data": 1});
        assert!(spec_changed(&old, &added));
        assert!(spec_changed(&added, &old));
        let moved = json!({"kind": "W", "metadata": {"name": "a"}, "data": {"x": 1}});
        assert!(spec_changed(&old, &moved));
    }
}
