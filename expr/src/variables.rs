//! Argo's variables as an expression sees them (`util/expand` in argo-workflows): flat names
//! expanded into nested maps at each `.`, after dropping every name that is the prefix of
//! another (`workflow.parameters`, the JSON of all parameters, gives way to
//! `workflow.parameters.n`).

use expr::{Context, Value};
use indexmap::IndexMap;

/// The context for `variables`, expanded.
pub(crate) fn context(variables: &[(String, String)]) -> Context {
    let mut names: Vec<&(String, String)> = variables.iter().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    // A later duplicate is the one that counts, as when a map is built from the list.
    names.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    let mut root: IndexMap<String, Value> = IndexMap::new();
    for (name, value) in &names {
        // Names under `name.` sort together, from the first one not below `name.`.
        let children = format!("{name}.");
        let first = names.partition_point(|(other, _)| *other < children);
        let parent = names
            .get(first)
            .is_some_and(|(other, _)| other.starts_with(&children));
        if !parent {
            insert(&mut root, name, value);
        }
    }
    let mut context = Context::default();
    for (key, value) in root {
        context.insert(key, value);
    }
    context
}

/// Sets `name` (split at each `.`) to `value` in `map`, creating the maps on the way. A segment
/// that already holds a string (only possible for names with empty segments, `a..b`) is kept.
fn insert(map: &mut IndexMap<String, Value>, name: &str, value: &str) {
    let mut map = map;
    let mut segments = name.split('.').peekable();
    while let Some(segment) = segments.next() {
        if segments.peek().is_none() {
            map.entry(segment.to_string())
                .or_insert_with(|| Value::String(value.to_string()));
            return;
        }
        let slot = map
            .entry(segment.to_string())
            .or_insert_with(|| Value::Map(IndexMap::new()));
        match slot {
            Value::Map(inner) => map = inner,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_expand_into_maps_and_parents_give_way() {
        let context = context(&vars(&[
            ("workflow.parameters", "[{\"name\":\"n\"}]"),
            ("workflow.parameters.n", "3"),
            ("workflow.name", "wf"),
            ("item", "x"),
            ("a", "parent"),
            ("a-b", "sorts between"),
            ("a.b", "child"),
        ]));
        let a = context.get("a").and_then(Value::as_map).unwrap();
        assert_eq!(a["b"], Value::String("child".into()));
        let workflow = context.get("workflow").and_then(Value::as_map).unwrap();
        assert_eq!(workflow["name"], Value::String("wf".into()));
        let parameters = workflow["parameters"].as_map().unwrap();
        assert_eq!(parameters["n"], Value::String("3".into()));
        assert_eq!(context.get("item"), Some(&Value::String("x".into())));
    }

    #[test]
    fn the_last_of_two_equal_names_counts() {
        let context = context(&vars(&[("a", "1"), ("a", "2")]));
        assert_eq!(context.get("a"), Some(&Value::String("2".into())));
    }
}
