//! The typed walks server-side apply makes over objects: the set of fields an object sets,
//! what changed between two objects, merging an applied configuration into a live object,
//! and removing fields. The type of each list comes from the strategic-merge table of the
//! kind ([`crate::patch::schema`]), which for built-in kinds names the same list keys as the
//! OpenAPI `x-kubernetes-list-map-keys` the API server reads; lists of custom resources, and
//! any list whose items do not all carry their key, are atomic.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::set::{Element, FieldSet};
use crate::patch::schema::{self, Strategy, Struct};

/// The type of one node: its list strategy and the table of the struct it holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ty {
    strategy: Strategy,
    fields: Struct,
}

impl Ty {
    pub(crate) fn root(fields: Struct) -> Ty {
        Ty {
            strategy: Strategy::Default,
            fields,
        }
    }

    fn field(self, name: &str) -> Ty {
        let (strategy, fields) = schema::field(self.fields, name);
        Ty { strategy, fields }
    }

    fn item(self) -> Ty {
        Ty::root(self.fields)
    }
}

enum ListKind<'k> {
    Atomic,
    Map(&'k str),
    Set,
}

fn list_kind<'k>(strategy: Strategy, lists: &[&[Value]]) -> ListKind<'k> {
    match strategy {
        Strategy::MergeKey(key) => {
            let keyed = lists.iter().all(|items| {
                let mut seen = std::collections::HashSet::new();
                items.iter().all(|item| {
                    item.get(key)
                        .is_some_and(|k| !k.is_null() && seen.insert(k.to_string()))
                })
            });
            if keyed {
                ListKind::Map(key)
            } else {
                ListKind::Atomic
            }
        }
        Strategy::MergeSet => {
            let scalars = lists.iter().all(|items| {
                let mut seen = std::collections::HashSet::new();
                items
                    .iter()
                    .all(|i| !i.is_object() && !i.is_array() && seen.insert(i.to_string()))
            });
            if scalars {
                ListKind::Set
            } else {
                ListKind::Atomic
            }
        }
        Strategy::Default => ListKind::Atomic,
    }
}

fn key_element(item: &Value, key: &str) -> Element {
    Element::Key(json!({ key: item[key] }).to_string())
}

/// The items of a keyed list by their key's JSON (keys are unique: see [`list_kind`]).
fn by_key<'v>(items: &'v [Value], key: &str) -> HashMap<String, &'v Value> {
    items.iter().map(|i| (i[key].to_string(), i)).collect()
}

/// The items of a set-list, as JSON.
fn as_set(items: &[Value]) -> HashSet<String> {
    items.iter().map(Value::to_string).collect()
}

fn value_element(item: &Value) -> Element {
    Element::Value(item.to_string())
}

/// The fields `value` sets: its leaves, and the items of keyed and set lists.
pub(crate) fn to_set(value: &Value, ty: Ty) -> FieldSet {
    fields(value, ty, false)
}

/// Every node of `value`, objects included: what an update that adds it adds.
fn whole(value: &Value, ty: Ty) -> FieldSet {
    let mut set = fields(value, ty, true);
    set.member = true;
    set
}

fn fields(value: &Value, ty: Ty, objects: bool) -> FieldSet {
    match value {
        Value::Object(map) => {
            let mut set = FieldSet {
                member: objects || map.is_empty(),
                ..FieldSet::default()
            };
            for (name, child) in map {
                set.children.insert(
                    Element::Field(name.clone()),
                    fields(child, ty.field(name), objects),
                );
            }
            set
        }
        Value::Array(items) => {
            let mut set = FieldSet {
                member: items.is_empty(),
                ..FieldSet::default()
            };
            match list_kind(ty.strategy, &[items]) {
                ListKind::Map(key) => {
                    for item in items {
                        let mut child = fields(item, ty.item(), objects);
                        child.member = true;
                        set.children.insert(key_element(item, key), child);
                    }
                }
                ListKind::Set => {
                    for item in items {
                        set.children.insert(value_element(item), FieldSet::leaf());
                    }
                }
                ListKind::Atomic => return FieldSet::leaf(),
            }
            set
        }
        _ => FieldSet::leaf(),
    }
}

/// What changed from one object to another (`typed.Comparison`).
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub(crate) added: FieldSet,
    pub(crate) modified: FieldSet,
    pub(crate) removed: FieldSet,
}

impl Comparison {
    fn nest(&mut self, element: Element, child: Comparison) {
        for (mine, theirs) in [
            (&mut self.added, child.added),
            (&mut self.modified, child.modified),
            (&mut self.removed, child.removed),
        ] {
            if !theirs.is_empty() {
                mine.children.insert(element.clone(), theirs);
            }
        }
    }
}

/// Compares two versions of a node.
pub(crate) fn compare(old: Option<&Value>, new: Option<&Value>, ty: Ty) -> Comparison {
    let mut out = Comparison::default();
    match (old, new) {
        (None, None) => {}
        // An unchanged subtree (most of a large status written again) is passed over at the
        // cost of a comparison, without building sets for it.
        (Some(a), Some(b)) if a == b => {}
        (None, Some(new)) => out.added = whole(new, ty),
        (Some(old), None) => out.removed = whole(old, ty),
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (name, child) in a {
                out.nest(
                    Element::Field(name.clone()),
                    compare(Some(child), b.get(name), ty.field(name)),
                );
            }
            for (name, child) in b.iter().filter(|(name, _)| !a.contains_key(*name)) {
                out.nest(
                    Element::Field(name.clone()),
                    compare(None, Some(child), ty.field(name)),
                );
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => match list_kind(ty.strategy, &[a, b]) {
            ListKind::Map(key) => {
                let (old, new) = (by_key(a, key), by_key(b, key));
                for item in a {
                    let other = new.get(&item[key].to_string()).copied();
                    out.nest(
                        key_element(item, key),
                        compare(Some(item), other, ty.item()),
                    );
                }
                for item in b.iter().filter(|i| !old.contains_key(&i[key].to_string())) {
                    out.nest(key_element(item, key), compare(None, Some(item), ty.item()));
                }
            }
            ListKind::Set => {
                let (old, new) = (as_set(a), as_set(b));
                for item in a.iter().filter(|i| !new.contains(&i.to_string())) {
                    out.removed
                        .children
                        .insert(value_element(item), FieldSet::leaf());
                }
                for item in b.iter().filter(|i| !old.contains(&i.to_string())) {
                    out.added
                        .children
                        .insert(value_element(item), FieldSet::leaf());
                }
            }
            ListKind::Atomic if a == b => {}
            ListKind::Atomic => out.modified = FieldSet::leaf(),
        },
        (Some(old), Some(new)) if old == new => {}
        (Some(old), Some(_)) => {
            out.modified = FieldSet::leaf();
            // What was below a node that is now a scalar (or of another shape) is gone.
            let mut below = to_set(old, ty);
            below.member = false;
            out.removed = below;
        }
    }
    out
}

/// Merges an applied configuration into the live node (`TypedValue.Merge`); `None` when the
/// configuration removes the node (an explicit `null`).
pub(crate) fn merge(live: Option<&Value>, config: &Value, ty: Ty) -> Option<Value> {
    match (live, config) {
        (_, Value::Null) => None,
        (Some(Value::Object(live)), Value::Object(config)) => {
            let mut out = live.clone();
            for (name, child) in config {
                match merge(out.get(name), child, ty.field(name)) {
                    Some(value) => out.insert(name.clone(), value),
                    None => out.remove(name),
                };
            }
            Some(Value::Object(out))
        }
        (Some(Value::Array(live)), Value::Array(config)) => {
            let mut out = live.clone();
            match list_kind(ty.strategy, &[live, config]) {
                ListKind::Map(key) => {
                    let mut at: HashMap<String, usize> = out
                        .iter()
                        .enumerate()
                        .map(|(i, item)| (item[key].to_string(), i))
                        .collect();
                    for item in config {
                        match at.get(&item[key].to_string()) {
                            Some(&i) => {
                                if let Some(merged) = merge(Some(&out[i]), item, ty.item()) {
                                    out[i] = merged;
                                }
                            }
                            None => {
                                at.insert(item[key].to_string(), out.len());
                                out.push(without_nulls(item));
                            }
                        }
                    }
                }
                ListKind::Set => {
                    let mut present = as_set(&out);
                    for item in config {
                        if present.insert(item.to_string()) {
                            out.push(item.clone());
                        }
                    }
                }
                ListKind::Atomic => {
                    return Some(Value::Array(config.iter().map(without_nulls).collect()));
                }
            }
            Some(Value::Array(out))
        }
        (_, config) => Some(without_nulls(config)),
    }
}

fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// The items of a list to remove (or to remove from), by their key map as JSON.
type KeyedRemovals<'s> = HashMap<String, (&'s FieldSet, &'s FieldSet)>;

/// Removes the member paths of `gone` from `value`, except a node below which `keep` still
/// has members (another manager owns part of it). Each list is gone through once.
pub(crate) fn remove(value: &mut Value, gone: &FieldSet, keep: &FieldSet) {
    let empty = FieldSet::default();
    let kept = |element: &Element| keep.children.get(element).unwrap_or(&empty);
    match value {
        Value::Object(map) => {
            for (element, child) in &gone.children {
                let Element::Field(name) = element else {
                    continue;
                };
                let kept = kept(element);
                if child.member && kept.is_empty() {
                    map.remove(name);
                } else if let Some(inner) = map.get_mut(name) {
                    remove(inner, child, kept);
                }
            }
        }
        Value::Array(items) => {
            // What becomes of each item: by its key map (as JSON), grouped by which key names
            // the elements use; or by its value.
            let mut by_keys: HashMap<Vec<String>, KeyedRemovals> = HashMap::new();
            let mut values: HashSet<&str> = HashSet::new();
            for (element, child) in &gone.children {
                match element {
                    Element::Key(text) => {
                        let keys: Map<String, Value> =
                            serde_json::from_str(text).unwrap_or_default();
                        // A key map with no keys names no item.
                        if !keys.is_empty() {
                            by_keys
                                .entry(keys.keys().cloned().collect())
                                .or_default()
                                .insert(Value::Object(keys).to_string(), (child, kept(element)));
                        }
                    }
                    Element::Value(text) if child.member && kept(element).is_empty() => {
                        values.insert(text);
                    }
                    _ => {}
                }
            }
            items.retain_mut(|item| {
                if !values.is_empty() && values.contains(item.to_string().as_str()) {
                    return false;
                }
                for (names, removals) in &by_keys {
                    let keys: Option<Map<String, Value>> = names
                        .iter()
                        .map(|k| Some((k.clone(), item.get(k)?.clone())))
                        .collect();
                    let Some(keys) = keys else { continue };
                    match removals.get(&Value::Object(keys).to_string()) {
                        Some((child, kept)) if child.member && kept.is_empty() => return false,
                        Some((child, kept)) => {
                            remove(item, child, kept);
                            return true;
                        }
                        None => {}
                    }
                }
                true
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::schema;

    fn pod() -> Ty {
        Ty::root(schema::lookup("", "Pod").unwrap())
    }

    #[test]
    fn keyed_lists_are_owned_item_by_item_and_untagged_lists_whole() {
        let set = to_set(
            &json!({"spec": {
                "containers": [{"name": "main", "image": "a", "args": ["x", "y"]}],
                "tolerations": [{"key": "k"}]
            }, "metadata": {"finalizers": ["f"]}}),
            pod(),
        );
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"f\"": {}}},
                "f:spec": {
                    "f:containers": {"k:{\"name\":\"main\"}": {
                        ".": {}, "f:args": {}, "f:image": {}, "f:name": {}
                    }},
                    "f:tolerations": {}
                }
            })
        );
    }

    #[test]
    fn a_comparison_tells_added_modified_and_removed_apart() {
        let old =
            json!({"spec": {"a": 1, "b": {"c": 2}, "containers": [{"name": "x", "image": "1"}]}});
        let new = json!({"spec": {"a": 2, "d": {"e": 3}, "containers": [{"name": "x", "image": "2"}, {"name": "y"}]}});
        let cmp = compare(Some(&old), Some(&new), pod());
        assert_eq!(
            cmp.modified.to_fields_v1(),
            json!({"f:spec": {"f:a": {}, "f:containers": {"k:{\"name\":\"x\"}": {"f:image": {}}}}})
        );
        assert_eq!(
            cmp.added.to_fields_v1(),
            json!({"f:spec": {"f:d": {".": {}, "f:e": {}}, "f:containers": {"k:{\"name\":\"y\"}": {".": {}, "f:name": {}}}}})
        );
        assert_eq!(
            cmp.removed.to_fields_v1(),
            json!({"f:spec": {"f:b": {".": {}, "f:c": {}}}})
        );
    }

    #[test]
    fn merging_a_configuration_keeps_what_it_does_not_name() {
        let live = json!({"spec": {"a": 1, "keep": true, "containers": [{"name": "x", "image": "1", "tty": true}]}});
        let config = json!({"spec": {"a": 2, "gone": null, "containers": [{"name": "x", "image": "2"}, {"name": "y"}]}});
        assert_eq!(
            merge(Some(&live), &config, pod()).unwrap(),
            json!({"spec": {"a": 2, "keep": true, "containers": [
                {"name": "x", "image": "2", "tty": true}, {"name": "y"}
            ]}})
        );
    }

    #[test]
    fn removal_spares_what_another_manager_holds() {
        let mut value = json!({"spec": {"containers": [{"name": "x", "image": "1", "tty": true}, {"name": "y"}]}});
        let gone = FieldSet::from_fields_v1(&json!({"f:spec": {"f:containers": {
            "k:{\"name\":\"x\"}": {".": {}, "f:image": {}},
            "k:{\"name\":\"y\"}": {".": {}, "f:name": {}}
        }}}))
        .unwrap();
        let kept = FieldSet::from_fields_v1(
            &json!({"f:spec": {"f:containers": {"k:{\"name\":\"x\"}": {"f:tty": {}}}}}),
        )
        .unwrap();
        remove(&mut value, &gone, &kept);
        assert_eq!(
            value,
            json!({"spec": {"containers": [{"name": "x", "tty": true}]}})
        );
    }
}
