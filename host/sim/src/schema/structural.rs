//! A compiled structural schema (a CRD version's `schema.openAPIV3Schema`) and the two
//! request-path transformations the apiextensions-apiserver applies with it: pruning of
//! unknown fields and defaulting. Validation of values lives in `schema/validate.rs`.
//!
//! Mirrors `k8s.io/apiextensions-apiserver/pkg/apiserver/schema` (`pruning/algorithm.go`,
//! `defaulting/algorithm.go`, `defaulting/prunenulls.go`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Why a schema document could not be compiled: a known keyword had the wrong JSON type,
/// which a real API server reports as a decoding error of the CRD.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub(crate) struct SchemaError {
    /// Path of the offending keyword inside the schema, e.g. `properties[spec].type`.
    pub(crate) path: String,
    pub(crate) reason: String,
}

/// `additionalProperties`: either a boolean or a schema. Structural schemas forbid it together
/// with `properties` (unless it is `true`), which CRD validation enforces.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Additional {
    Allows(bool),
    Schema(Box<Node>),
}

impl Additional {
    /// The schema applying to additional properties, `None` for the boolean forms (which
    /// the pruning and defaulting algorithms treat as "no schema").
    pub(super) fn schema(&self) -> Option<&Node> {
        match self {
            Additional::Schema(node) => Some(node),
            Additional::Allows(_) => None,
        }
    }
}

/// One node of a structural schema. Only the keywords the server acts on are kept;
/// `description`, `example`, `title` and the like are accepted and dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Node {
    /// `type`, empty when unspecified.
    pub(super) type_: String,
    pub(super) nullable: bool,
    pub(super) format: String,
    pub(super) properties: BTreeMap<String, Node>,
    pub(super) additional: Option<Additional>,
    pub(super) items: Option<Box<Node>>,
    pub(super) required: Vec<String>,
    pub(super) enum_values: Option<Vec<Value>>,
    /// `default`, never `Some(Value::Null)` (a null default means "no default" in v1).
    pub(super) default: Option<Value>,
    pub(super) maximum: Option<f64>,
    pub(super) exclusive_maximum: bool,
    pub(super) minimum: Option<f64>,
    pub(super) exclusive_minimum: bool,
    pub(super) multiple_of: Option<f64>,
    pub(super) max_length: Option<u64>,
    pub(super) min_length: Option<u64>,
    pub(super) max_items: Option<u64>,
    pub(super) min_items: Option<u64>,
    pub(super) max_properties: Option<u64>,
    pub(super) min_properties: Option<u64>,
    pub(super) pattern: Option<String>,
    pub(super) all_of: Vec<Node>,
    pub(super) any_of: Vec<Node>,
    pub(super) one_of: Vec<Node>,
    pub(super) not: Option<Box<Node>>,
    pub(super) preserve_unknown: bool,
    pub(super) embedded: bool,
    pub(super) int_or_string: bool,
}

/// The top-level fields every resource keeps regardless of its schema.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// A compiled `openAPIV3Schema` of one CRD version.
///
/// Invariant: built only from a document whose known keywords have the right JSON types;
/// structural-ness itself is checked by CRD validation (`validate_crd`), not here, so a
/// schema compiled from an accepted CRD behaves like the server's.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StructuralSchema {
    pub(super) root: Node,
}

impl StructuralSchema {
    /// Compiles a version's `schema.openAPIV3Schema`.
    pub(crate) fn compile(schema: &Value) -> Result<Self, SchemaError> {
        Ok(Self {
            root: Node::compile(schema, "")?,
        })
    }

    /// Removes every field the schema does not specify, as the server does before storing a
    /// custom resource. Returns the removed fields' paths in Kubernetes' unknown-field form
    /// (`spec.foo`, `spec.items[0].bar`), sorted, for strict field validation.
    ///
    /// `apiVersion`, `kind` and `metadata` are always kept at the root (the root is treated as
    /// an embedded resource); `metadata` itself is left as-is.
    pub(crate) fn prune(&self, obj: &mut Value) -> Vec<String> {
        let mut removed = Vec::new();
        prune(obj, Some(&self.root), true, "", &mut removed);
        removed.sort();
        removed
    }

    /// Applies `default:` values where a field is absent or a non-nullable field is null, then
    /// drops remaining non-nullable nulls that have no default, as the server does on both
    /// read and write.
    pub(crate) fn apply_defaults(&self, obj: &mut Value) {
        apply_defaults(obj, Some(&self.root));
        prune_non_nullable_nulls(obj, &self.root);
    }
}

fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn keeps_meta(key: &str, value: &Value) -> bool {
    match key {
        "apiVersion" | "kind" => value.is_string(),
        "metadata" => value.is_object(),
        _ => false,
    }
}

/// `pruning.prune`: `schema` is `None` where nothing is specified, in which case every object
/// key below is unknown.
fn prune(
    x: &mut Value,
    schema: Option<&Node>,
    is_root: bool,
    path: &str,
    removed: &mut Vec<String>,
) {
    if let Some(s) = schema
        && s.preserve_unknown
    {
        skip_prune(x, s, is_root, path, removed);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(s) = schema else {
                removed.extend(map.keys().map(|k| join_key(path, k)));
                map.clear();
                return;
            };
            let embedded = s.embedded || is_root;
            let mut unknown = Vec::new();
            for (k, v) in map.iter_mut() {
                if embedded && keeps_meta(k, v) {
                    continue;
                }
                match schema_of(s, k) {
                    Some(sub) => prune(v, sub, false, &join_key(path, k), removed),
                    None => unknown.push(k.clone()),
                }
            }
            for k in unknown {
                map.remove(&k);
                removed.push(join_key(path, &k));
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.items.as_deref());
            for (i, v) in items.iter_mut().enumerate() {
                prune(v, item_schema, false, &format!("{path}[{i}]"), removed);
            }
        }
        _ => {}
    }
}

/// The schema a key of an object under `s` is pruned with: its property's, else that of
/// `additionalProperties`; `None` when the key is unknown.
fn schema_of<'s>(s: &'s Node, key: &str) -> Option<Option<&'s Node>> {
    match s.properties.get(key) {
        Some(prop) => Some(Some(prop)),
        None => s.additional.as_ref().map(|a| a.schema()),
    }
}

/// `pruning.skipPrune`: below `x-kubernetes-preserve-unknown-fields`, unknown keys stay but
/// specified ones are still pruned inside.
fn skip_prune(x: &mut Value, s: &Node, is_root: bool, path: &str, removed: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if (s.embedded || is_root) && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(sub) = schema_of(s, k) {
                    prune(v, sub, false, &join_key(path, k), removed);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, v) in items.iter_mut().enumerate() {
                    skip_prune(v, item_schema, false, &format!("{path}[{i}]"), removed);
                }
            }
        }
        _ => {}
    }
}

fn is_non_nullable_null(v: &Value, s: Option<&Node>) -> bool {
    v.is_null() && s.is_some_and(|s| !s.nullable)
}

/// `defaulting.Default`.
fn apply_defaults(x: &mut Value, schema: Option<&Node>) {
    let Some(s) = schema else { return };
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                let missing = match map.get(k) {
                    None => true,
                    Some(v) => is_non_nullable_null(v, Some(prop)),
                };
                if missing {
                    map.insert(k.clone(), default.clone());
                }
            }
            let additional = s.additional.as_ref().and_then(Additional::schema);
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    apply_defaults(v, Some(prop));
                } else if let Some(add) = additional {
                    if is_non_nullable_null(v, Some(add))
                        && let Some(default) = &add.default
                    {
                        *v = default.clone();
                    }
                    apply_defaults(v, Some(add));
                }
            }
        }
        Value::Array(items) => {
            let item_schema = s.items.as_deref();
            for v in items.iter_mut() {
                if is_non_nullable_null(v, item_schema)
                    && let Some(default) = item_schema.and_then(|i| i.default.as_ref())
                {
                    *v = default.clone();
                }
                apply_defaults(v, item_schema);
            }
        }
        _ => {}
    }
}

/// `defaulting.PruneNonNullableNullsWithoutDefaults`.
fn prune_non_nullable_nulls(x: &mut Value, s: &Node) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| match s.properties.get(k) {
                Some(prop) => !(v.is_null() && prop.default.is_none() && !prop.nullable),
                None => true,
            });
            let additional = s.additional.as_ref().and_then(Additional::schema);
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    prune_non_nullable_nulls(v, prop);
                } else if let Some(add) = additional {
                    prune_non_nullable_nulls(v, add);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for v in items.iter_mut() {
                    prune_non_nullable_nulls(v, item_schema);
                }
            }
        }
        _ => {}
    }
}

impl Node {
    /// Compiles one schema node; `path` locates it for error messages.
    pub(super) fn compile(v: &Value, path: &str) -> Result<Node, SchemaError> {
        let Some(m) = v.as_object() else {
            return Err(err(path, "must be an object"));
        };
        let mut n = Node {
            type_: string_field(m, "type", path)?,
            nullable: bool_field(m, "nullable", path)?,
            format: string_field(m, "format", path)?,
            required: string_list(m, "required", path)?,
            default: m.get("default").filter(|d| !d.is_null()).cloned(),
            maximum: number_field(m, "maximum", path)?,
            exclusive_maximum: bool_field(m, "exclusiveMaximum", path)?,
            minimum: number_field(m, "minimum", path)?,
            exclusive_minimum: bool_field(m, "exclusiveMinimum", path)?,
            multiple_of: number_field(m, "multipleOf", path)?,
            max_length: count_field(m, "maxLength", path)?,
            min_length: count_field(m, "minLength", path)?,
            max_items: count_field(m, "maxItems", path)?,
            min_items: count_field(m, "minItems", path)?,
            max_properties: count_field(m, "maxProperties", path)?,
            min_properties: count_field(m, "minProperties", path)?,
            preserve_unknown: bool_field(m, "x-kubernetes-preserve-unknown-fields", path)?,
            embedded: bool_field(m, "x-kubernetes-embedded-resource", path)?,
            int_or_string: bool_field(m, "x-kubernetes-int-or-string", path)?,
            ..Node::default()
        };
        let pattern = string_field(m, "pattern", path)?;
        if !pattern.is_empty() {
            n.pattern = Some(pattern);
        }
        match m.get("enum") {
            None | Some(Value::Null) => {}
            Some(Value::Array(values)) => n.enum_values = Some(values.clone()),
            Some(_) => return Err(err(&sub(path, "enum"), "must be an array")),
        }
        match m.get("properties") {
            None | Some(Value::Null) => {}
            Some(Value::Object(props)) => {
                for (k, pv) in props {
                    let p = format!("{}[{k}]", sub(path, "properties"));
                    n.properties.insert(k.clone(), Node::compile(pv, &p)?);
                }
            }
            Some(_) => return Err(err(&sub(path, "properties"), "must be an object")),
        }
        match m.get("additionalProperties") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => n.additional = Some(Additional::Allows(*b)),
            Some(schema) => {
                let p = sub(path, "additionalProperties");
                n.additional = Some(Additional::Schema(Box::new(Node::compile(schema, &p)?)));
            }
        }
        match m.get("items") {
            None | Some(Value::Null) => {}
            Some(Value::Array(_)) => {
                return Err(err(
                    &sub(path, "items"),
                    "items must be a schema object and not an array",
                ));
            }
            Some(items) => n.items = Some(Box::new(Node::compile(items, &sub(path, "items"))?)),
        }
        n.all_of = node_list(m, "allOf", path)?;
        n.any_of = node_list(m, "anyOf", path)?;
        n.one_of = node_list(m, "oneOf", path)?;
        if let Some(not) = m.get("not").filter(|v| !v.is_null()) {
            n.not = Some(Box::new(Node::compile(not, &sub(path, "not"))?));
        }
        Ok(n)
    }
}

fn sub(path: &str, key: &str) -> String {
    join_key(path, key)
}

fn err(path: &str, reason: &str) -> SchemaError {
    SchemaError {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

fn string_field(m: &Map<String, Value>, key: &str, path: &str) -> Result<String, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(err(&sub(path, key), "must be a string")),
    }
}

fn bool_field(m: &Map<String, Value>, key: &str, path: &str) -> Result<bool, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(err(&sub(path, key), "must be a boolean")),
    }
}

fn number_field(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(err(&sub(path, key), "must be a number")),
    }
}

fn count_field(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(c) => Ok(Some(c)),
            None => Err(err(&sub(path, key), "must be a non-negative integer")),
        },
        Some(_) => Err(err(&sub(path, key), "must be an integer")),
    }
}

fn string_list(m: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<String>, SchemaError> {
    list(m, key, path, |v, at| match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(err(at, "must be a string")),
    })
}

fn node_list(m: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<Node>, SchemaError> {
    list(m, key, path, Node::compile)
}

/// `key`'s array (absent or null: empty), each item read by `item` with its path.
fn list<T>(
    m: &Map<String, Value>,
    key: &str,
    path: &str,
    item: impl Fn(&Value, &str) -> Result<T, SchemaError>,
) -> Result<Vec<T>, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| item(v, &format!("{}[{i}]", sub(path, key))))
            .collect(),
        Some(_) => Err(err(&sub(path, key), "must be an array")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema(v: Value) -> StructuralSchema {
        StructuralSchema::compile(&v).unwrap()
    }

    #[test]
    fn prunes_unknown_fields_and_reports_paths() {
        let s = schema(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "image": {"type": "string"},
                    "ports": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}}
                }}
            }
        }));
        let mut obj = json!({
            "apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a", "labels": {"x": "y"}},
            "spec": {"image": "nginx", "foo": 1, "ports": [{"port": 80, "name": "http"}]},
            "status": {"phase": "Running"}
        });
        let removed = s.prune(&mut obj);
        assert_eq!(removed, vec!["spec.foo", "spec.ports[0].name", "status"]);
        assert_eq!(
            obj,
            json!({
                "apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a", "labels": {"x": "y"}},
                "spec": {"image": "nginx", "ports": [{"port": 80}]}
            })
        );
    }

    #[test]
    fn preserve_unknown_fields_keeps_unknown_but_prunes_known_subtrees() {
        let s = schema(json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {
                        "strict": {"type": "object", "properties": {"a": {"type": "string"}}},
                        "loose": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }
            }
        }));
        let mut obj = json!({
            "spec": {
                "anything": {"deep": [1, {"x": 2}]},
                "strict": {"a": "1", "b": "2"},
                "loose": {"c": {"d": 1}}
            }
        });
        let removed = s.prune(&mut obj);
        assert_eq!(removed, vec!["spec.strict.b"]);
        assert_eq!(obj["spec"]["anything"], json!({"deep": [1, {"x": 2}]}));
        assert_eq!(obj["spec"]["loose"], json!({"c": {"d": 1}}));
        assert_eq!(obj["spec"]["strict"], json!({"a": "1"}));
    }

    #[test]
    fn additional_properties_schema_and_embedded_resources() {
        let s = schema(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "byName": {"type": "object", "additionalProperties": {
                        "type": "object", "properties": {"size": {"type": "integer"}}
                    }},
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": true,
                        "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}
                    }
                }}
            }
        }));
        let mut obj = json!({"spec": {
            "labels": {"a": "b", "c.d/e": "f"},
            "byName": {"one": {"size": 1, "colour": "red"}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": "1", "y": "2"}, "status": {}}
        }});
        let removed = s.prune(&mut obj);
        assert_eq!(
            removed,
            vec![
                "spec.byName.one.colour",
                "spec.template.spec.y",
                "spec.template.status"
            ]
        );
        assert_eq!(obj["spec"]["labels"], json!({"a": "b", "c.d/e": "f"}));
        assert_eq!(
            obj["spec"]["template"],
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": "1"}})
        );
    }

    #[test]
    fn root_keeps_meta_fields_even_without_schema_for_them() {
        let s = schema(json!({"type": "object"}));
        let mut obj =
            json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"a": 1}});
        assert_eq!(s.prune(&mut obj), vec!["spec"]);
        assert_eq!(
            obj,
            json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}})
        );
    }

    #[test]
    fn applies_defaults_recursively_and_for_non_nullable_nulls() {
        let s = schema(json!({
            "type": "object",
            "properties": {"spec": {
                "type": "object",
                "default": {},
                "properties": {
                    "replicas": {"type": "integer", "default": 1},
                    "mode": {"type": "string", "default": "fast"},
                    "opt": {"type": "string", "nullable": true, "default": "x"},
                    "gone": {"type": "string"},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"p": {"type": "integer", "default": 7}}}}
                }
            }}
        }));
        let mut obj = json!({"metadata": {"name": "a"}});
        s.apply_defaults(&mut obj);
        assert_eq!(
            obj["spec"],
            json!({"replicas": 1, "mode": "fast", "opt": "x"})
        );

        let mut obj = json!({"spec": {"replicas": 3, "mode": null, "opt": null, "gone": null, "list": [{}, {"p": 2}]}});
        s.apply_defaults(&mut obj);
        assert_eq!(
            obj["spec"],
            json!({"replicas": 3, "mode": "fast", "opt": null, "list": [{"p": 7}, {"p": 2}]})
        );
    }

    #[test]
    fn compile_rejects_mistyped_keywords() {
        let e =
            StructuralSchema::compile(&json!({"type": "object", "properties": {"a": {"type": 5}}}))
                .unwrap_err();
        assert_eq!(e.path, "properties[a].type");
        assert!(
            StructuralSchema::compile(&json!({"type": "array", "items": [{"type": "string"}]}))
                .is_err()
        );
        assert!(StructuralSchema::compile(&json!("nope")).is_err());
    }
}
