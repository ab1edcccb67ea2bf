//! Sets of field paths, the unit of ownership in server-side apply, and their wire form
//! (`fieldsV1`, as `sigs.k8s.io/structured-merge-diff` serialises `fieldpath.Set`).
//!
//! A set is a tree: each node is one path element below its parent and may itself be a
//! member (`".": {}` in `fieldsV1`, or `{}` for a member with nothing below it).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// One step of a field path (`fieldpath.PathElement`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Element {
    /// `f:name`: a field of an object.
    Field(String),
    /// `k:{"name":"main"}`: the item of an associative list with these key values, as
    /// canonical JSON (keys sorted, as Go encodes a map).
    Key(String),
    /// `v:"x"`: the item of a set-list with this value, as JSON.
    Value(String),
    /// `i:0`: the item of a list at this index (lists without keys that are not atomic).
    Index(usize),
}

impl Element {
    fn encode(&self) -> String {
        match self {
            Element::Field(name) => format!("f:{name}"),
            Element::Key(json) => format!("k:{json}"),
            Element::Value(json) => format!("v:{json}"),
            Element::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(text: &str) -> Option<Element> {
        let (kind, rest) = text.split_once(':')?;
        match kind {
            "f" => Some(Element::Field(rest.to_owned())),
            "k" => {
                let keys: Map<String, Value> = serde_json::from_str(rest).ok()?;
                Some(Element::Key(Value::Object(keys).to_string()))
            }
            "v" => {
                let value: Value = serde_json::from_str(rest).ok()?;
                Some(Element::Value(value.to_string()))
            }
            "i" => rest.parse().ok().map(Element::Index),
            _ => None,
        }
    }
}

/// A path written as `fieldpath.Path.String()` writes it: `.spec.containers[name="main"].image`.
pub(crate) struct PathDisplay<'a>(pub(crate) &'a [Element]);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in self.0 {
            match element {
                Element::Field(name) => write!(f, ".{name}")?,
                Element::Key(json) => {
                    let keys: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
                    let pairs: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    write!(f, "[{}]", pairs.join(","))?;
                }
                Element::Value(json) => write!(f, "[={json}]")?,
                Element::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// A set of paths, as a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSet {
    /// Whether the path leading to this node is itself in the set.
    pub(crate) member: bool,
    pub(crate) children: BTreeMap<Element, FieldSet>,
}

impl FieldSet {
    /// The set holding only the path that leads to it.
    pub(crate) fn leaf() -> FieldSet {
        FieldSet {
            member: true,
            children: BTreeMap::new(),
        }
    }

    /// No path is in the set.
    pub(crate) fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds every path of `other`.
    pub(crate) fn union_with(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (element, theirs) in &other.children {
            self.children
                .entry(element.clone())
                .or_default()
                .union_with(theirs);
        }
    }

    /// The paths in both sets.
    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (element, mine) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = mine.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(element.clone(), both);
                }
            }
        }
        out
    }

    /// The paths of `self` that are not in `other`.
    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (element, mine) in &self.children {
            let rest = match other.children.get(element) {
                Some(theirs) => mine.difference(theirs),
                None => mine.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(element.clone(), rest);
            }
        }
        out
    }

    /// Every member path, depth first, parents before their children.
    pub(crate) fn paths(&self) -> Vec<Vec<Element>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<Element>, out: &mut Vec<Vec<Element>>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON of the set.
    pub(crate) fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            if !child.is_empty() {
                map.insert(element.encode(), child.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Reads `fieldsV1`; `None` when it is not a well-formed set. Depth is bounded by the
    /// JSON decoder's own recursion limit.
    pub(crate) fn from_fields_v1(value: &Value) -> Option<FieldSet> {
        let map = value.as_object()?;
        let mut set = FieldSet::default();
        for (key, child) in map {
            if key == "." {
                set.member = true;
                continue;
            }
            let element = Element::decode(key)?;
            let mut child = FieldSet::from_fields_v1(child)?;
            if child.children.is_empty() {
                child.member = true;
            }
            set.children.insert(element, child);
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_v1_round_trips_members_leaves_and_keys() {
        let wire = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:image": {}, "f:name": {}}},
                "f:finalizers": {"v:\"a\"": {}}
            }
        });
        let set = FieldSet::from_fields_v1(&wire).unwrap();
        assert_eq!(set.to_fields_v1(), wire);
        let paths: Vec<String> = set
            .paths()
            .iter()
            .map(|p| PathDisplay(p).to_string())
            .collect();
        assert_eq!(
            paths,
            [
                ".metadata.labels",
                ".metadata.labels.app",
                ".spec.containers[name=\"main\"]",
                ".spec.containers[name=\"main\"].image",
                ".spec.containers[name=\"main\"].name",
                ".spec.finalizers[=\"a\"]",
            ]
        );
    }

    #[test]
    fn malformed_fields_v1_is_refused() {
        for wire in [
            json!([]),
            json!({"x:y": {}}),
            json!({"k:notjson": {}}),
            json!({"f:a": 1}),
        ] {
            assert_eq!(FieldSet::from_fields_v1(&wire), None, "{wire}");
        }
    }

    #[test]
    fn set_algebra() {
        let a =
            FieldSet::from_fields_v1(&json!({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}})).unwrap();
        let b = FieldSet::from_fields_v1(&json!({"f:b": {"f:c": {}}, "f:e": {}})).unwrap();
        assert_eq!(
            a.intersection(&b).to_fields_v1(),
            json!({"f:b": {"f:c": {}}})
        );
        assert_eq!(
            a.difference(&b).to_fields_v1(),
            json!({"f:a": {}, "f:b": {"f:d": {}}})
        );
        let mut u = a.clone();
        u.union_with(&b);
        assert_eq!(
            u.to_fields_v1(),
            json!({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}, "f:e": {}})
        );
        assert!(a.difference(&a).is_empty());
    }
}
