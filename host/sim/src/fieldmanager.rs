//! Field ownership (`metadata.managedFields`) and server-side apply, as the API server's
//! field manager keeps them (`k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager` over
//! `sigs.k8s.io/structured-merge-diff`).
//!
//! Every write records who set what: a create, update or non-apply patch is an `Update` by
//! the request's field manager (`?fieldManager=`, else the User-Agent up to its first `/`),
//! which takes the fields it added or changed from every other manager. An apply
//! (`application/apply-patch+yaml`) is an `Apply`: the manager's fields become exactly those
//! its configuration names, fields it no longer names are removed unless someone else owns
//! them, and changing a value another manager owns is a conflict (409) unless `force=true`,
//! which takes the field over.
//!
//! Differences from the API server, none of which changes an outcome a client can see on a
//! well-formed object:
//! - list types come from the strategic-merge table (a custom resource is typed by `ObjectMeta`
//!   alone, its other lists atomic — true for the `x-kubernetes-preserve-unknown-fields`
//!   schemas Argo's CRDs use); a container's `ports` are keyed by `containerPort` only, where
//!   the OpenAPI schema adds `protocol`;
//! - a keyed list whose items do not all carry their key, or repeat one, is treated as atomic
//!   (the API server keeps such lists item by item where it can);
//! - `managedFields: [{}]` (the documented way to clear them) is not special.

mod set;
mod walk;

use serde_json::{Map, Value, json};

pub(crate) use set::FieldSet;
use set::PathDisplay;
use walk::Ty;

use crate::patch::schema::Struct;
use crate::status::ApiError;

/// At most this many `Update` entries are kept; older ones are folded into one named
/// `ancient-changes` (the API server's `maxUpdateManagers`).
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Fields the API server never records an owner for (`stripMeta`), built once.
fn ignored() -> &'static FieldSet {
    static IGNORED: std::sync::LazyLock<FieldSet> = std::sync::LazyLock::new(stripped);
    &IGNORED
}

fn stripped() -> FieldSet {
    FieldSet::from_fields_v1(&json!({
        "f:apiVersion": {},
        "f:kind": {},
        "f:metadata": {
            ".": {}, "f:name": {}, "f:namespace": {}, "f:creationTimestamp": {}, "f:selfLink": {},
            "f:uid": {}, "f:generation": {}, "f:managedFields": {}, "f:resourceVersion": {},
            "f:deletionTimestamp": {}, "f:deletionGracePeriodSeconds": {}
        }
    }))
    .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Apply,
    Update,
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: Operation,
    api_version: String,
    time: String,
    subresource: String,
    fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: Operation, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How the API server names a manager in a conflict (`printManager`).
    fn describe(&self) -> String {
        let mut text = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            text.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            text.push_str(&format!(" using {} at {}", self.api_version, self.time));
        }
        text
    }

    fn read(value: &Value) -> Option<Entry> {
        let operation = match value.get("operation")?.as_str()? {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return None,
        };
        let text = |field: &str| {
            value
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let fields = match value.get("fieldsV1") {
            Some(v) => FieldSet::from_fields_v1(v)?,
            None => FieldSet::default(),
        };
        Some(Entry {
            manager: text("manager"),
            operation,
            api_version: text("apiVersion"),
            time: text("time"),
            subresource: text("subresource"),
            fields,
        })
    }

    fn write(&self) -> Value {
        let mut out = Map::new();
        out.insert("manager".into(), json!(self.manager));
        let operation = match self.operation {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        };
        out.insert("operation".into(), json!(operation));
        out.insert("apiVersion".into(), json!(self.api_version));
        if !self.time.is_empty() {
            out.insert("time".into(), json!(self.time));
        }
        out.insert("fieldsType".into(), json!("FieldsV1"));
        out.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            out.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(out)
    }
}

/// The entries of an object. Entries that cannot be read are dropped, as the API server
/// resets managed fields it cannot decode.
fn entries(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Entry::read).collect())
        .unwrap_or_default()
}

/// Stores the entries in the API server's order: `Apply` before `Update`, then by time,
/// manager, version and subresource (`sortEncodedManagedFields`).
/// Every entry of an object, or `None` if one cannot be read.
fn read_all(object: &Value) -> Option<Vec<Entry>> {
    object
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .map(Entry::read)
        .collect()
}

fn store_entries(object: &mut Value, mut entries: Vec<Entry>) {
    entries.sort_by(|a, b| {
        let op = |e: &Entry| e.operation == Operation::Update;
        (op(a), &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
            op(b),
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        let written = entries.iter().map(Entry::write).collect();
        meta.insert("managedFields".into(), Value::Array(written));
    }
}

/// Who is writing: the field manager and the subresource written through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writer<'a> {
    pub(crate) manager: &'a str,
    pub(crate) subresource: &'a str,
}

impl Writer<'_> {
    fn entry(&self, operation: Operation, object: &Value, fields: FieldSet) -> Entry {
        Entry {
            manager: self.manager.to_owned(),
            operation,
            api_version: object["apiVersion"].as_str().unwrap_or_default().to_owned(),
            time: crate::api::meta::now_rfc3339(),
            subresource: self.subresource.to_owned(),
            fields,
        }
    }
}

/// The field manager of a request that names none: its User-Agent up to the first `/`
/// (`prefixFromUserAgent`), at most 128 bytes.
pub(crate) fn manager_from_user_agent(user_agent: Option<&str>) -> String {
    let agent = user_agent.unwrap_or_default();
    let prefix = agent.split('/').next().unwrap_or_default();
    let mut end = prefix.len().min(128);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    prefix[..end].to_owned()
}

/// Whether a write sets `managedFields` itself (a client may replace them; the server then
/// keeps what was sent).
pub(crate) fn set_by_client(old: Option<&Value>, new: &Value) -> bool {
    let sent = new.pointer("/metadata/managedFields");
    let before = old.and_then(|o| o.pointer("/metadata/managedFields"));
    match sent {
        None => false,
        Some(Value::Array(list)) if list.is_empty() => false,
        Some(sent) => Some(sent) != before,
    }
}

/// Records a create (`old` is `None`), update or non-apply patch by `writer` in `new`'s
/// `managedFields` (`Updater.Update`).
pub(crate) fn record_update(table: Struct, old: Option<&Value>, new: &mut Value, writer: Writer) {
    // Entries the client sent replace the live ones, as long as the server can read every
    // one of them; the write is still recorded on top of them.
    let sent = set_by_client(old, new).then(|| read_all(new)).flatten();
    let mut managers = sent.unwrap_or_else(|| old.map(entries).unwrap_or_default());
    let ty = Ty::root(table);
    let skip = ignored();
    // A create compares with an empty object: its fields are added below the root.
    let nothing = Value::Object(Map::new());
    let cmp = walk::compare(Some(old.unwrap_or(&nothing)), Some(new), ty);
    let (added, modified, removed) = (
        cmp.added.difference(skip),
        cmp.modified.difference(skip),
        cmp.removed.difference(skip),
    );
    let mut changed = added.clone();
    changed.union_with(&modified);
    if changed.is_empty() && removed.is_empty() {
        // Nothing changed: the entries stay as they were, times included.
        store_entries(new, managers);
        return;
    }
    let mut fields = FieldSet::default();
    managers.retain_mut(|entry| {
        if entry.is(writer.manager, Operation::Update, writer.subresource) {
            fields = entry.fields.difference(&removed);
            return false;
        }
        entry.fields = entry.fields.difference(&changed).difference(&removed);
        !entry.fields.is_empty()
    });
    fields.union_with(&changed);
    if !fields.is_empty() {
        managers.push(writer.entry(Operation::Update, new, fields));
    }
    fold_ancient(&mut managers);
    store_entries(new, managers);
}

fn fold_ancient(managers: &mut Vec<Entry>) {
    let updates = managers
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .count();
    if updates <= MAX_UPDATE_MANAGERS {
        return;
    }
    let mut excess = updates - MAX_UPDATE_MANAGERS + 1;
    let mut folded = FieldSet::default();
    let mut template = None;
    managers.retain(|e| {
        if excess > 0 && e.operation == Operation::Update {
            excess -= 1;
            folded.union_with(&e.fields);
            template.get_or_insert_with(|| e.clone());
            return false;
        }
        true
    });
    if let Some(mut ancient) = template {
        ancient.manager = ANCIENT_CHANGES.to_owned();
        ancient.subresource.clear();
        ancient.fields = folded;
        managers.insert(0, ancient);
    }
}

/// Fields of other managers that an apply would change.
#[derive(Debug)]
pub(crate) struct Conflicts(Vec<(String, String)>);

impl Conflicts {
    /// The 409 the API server answers (`NewConflictError`).
    pub(crate) fn to_error(&self) -> ApiError {
        let message = if let [(manager, path)] = self.0.as_slice() {
            format!("Apply failed with 1 conflict: conflict with {manager}: {path}")
        } else {
            let mut by_manager: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for (manager, path) in &self.0 {
                by_manager.entry(manager).or_default().push(path);
            }
            let mut lines = Vec::new();
            for (manager, paths) in by_manager {
                lines.push(format!("conflicts with {manager}:"));
                lines.extend(paths.iter().map(|p| format!("- {p}")));
            }
            format!(
                "Apply failed with {} conflicts: {}",
                self.0.len(),
                lines.join("\n")
            )
        };
        let causes: Vec<Value> = self
            .0
            .iter()
            .map(|(manager, path)| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with {manager}"), "field": path})
            })
            .collect();
        ApiError::from_status(&json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Conflict", "details": {"causes": causes}, "code": 409
        }))
    }
}

/// Server-side apply of `config` by `writer` to `live` (`None`: the object is created).
/// Returns the new object, its `managedFields` recorded, or the conflicts that stop it.
pub(crate) fn apply(
    table: Struct,
    live: Option<&Value>,
    config: &Value,
    writer: Writer,
    force: bool,
) -> Result<Value, Conflicts> {
    let ty = Ty::root(table);
    let skip = ignored();
    let mut managers = live.map(entries).unwrap_or_default();
    let applied = walk::to_set(config, ty).difference(skip);
    let empty = Value::Object(Map::new());
    let live = Some(live.unwrap_or(&empty));
    let mut new = walk::merge(live, config, ty).unwrap_or_else(|| empty.clone());
    let mine = managers
        .iter()
        .position(|e| e.is(writer.manager, Operation::Apply, writer.subresource));
    let last = mine.map(|i| managers.remove(i));
    let last_time = last.as_ref().map(|e| e.time.clone());
    let last = last.map(|e| e.fields).unwrap_or_default();
    // Prune what this manager applied before and no longer names, unless another owns it.
    let mut owned = applied.clone();
    for entry in &managers {
        owned.union_with(&entry.fields);
    }
    walk::remove(&mut new, &last.difference(&owned), &owned);
    let cmp = walk::compare(live, Some(&new), ty);
    let mut changed = cmp.added.difference(skip);
    changed.union_with(&cmp.modified.difference(skip));
    let removed = cmp.removed.difference(skip);
    // A field the configuration sets to null and so removes is changed by this applier: it
    // conflicts with another owner as a new value would.
    changed.union_with(&removed.intersection(&applied));
    let mut conflicts = Vec::new();
    for entry in &mut managers {
        let taken = entry.fields.intersection(&changed);
        if !taken.is_empty() && !force {
            let who = entry.describe();
            conflicts.extend(
                taken
                    .paths()
                    .iter()
                    .map(|p| (who.clone(), PathDisplay(p).to_string())),
            );
        }
        entry.fields = entry.fields.difference(&taken).difference(&removed);
    }
    if !conflicts.is_empty() {
        return Err(Conflicts(conflicts));
    }
    managers.retain(|e| !e.fields.is_empty());
    let unchanged = changed.is_empty() && removed.is_empty() && last == applied;
    let mut entry = writer.entry(Operation::Apply, config, applied);
    if let Some(time) = last_time.filter(|_| unchanged) {
        entry.time = time;
    }
    managers.push(entry);
    store_entries(&mut new, managers);
    Ok(new)
}

#[cfg(test)]
mod tests;
