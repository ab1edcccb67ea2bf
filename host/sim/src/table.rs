//! Server-side printing for `kubectl get`: the `meta.k8s.io` `Table` a real API server returns
//! when asked for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! Column sets reproduce `pkg/printers/internalversion/printers.go` for the built-in kinds the
//! simulator serves, the default table convertor (`NAME`, `CREATED AT`) for everything without a
//! printer (Roles, ClusterRoles, CRDs, ...), and apiextensions' convertor for custom resources.
//! The server always prints "wide"; kubectl drops priority-1 columns itself unless `-o wide`.
//!
//! Pure: the caller passes `now`.

mod columns;
mod jsonpath;
mod printers;

use serde_json::{Value, json};

use jsonpath::JsonPath;

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATION_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// Which `meta.k8s.io` version the client asked the Table in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableVersion {
    V1,
    V1Beta1,
}

impl TableVersion {
    /// The `apiVersion` of the Table (and of PartialObjectMetadata rows).
    pub(crate) fn api_version(self) -> &'static str {
        match self {
            TableVersion::V1 => "meta.k8s.io/v1",
            TableVersion::V1Beta1 => "meta.k8s.io/v1beta1",
        }
    }
}

/// Decides from an `Accept` header whether the response must be a Table, and in which version.
/// Media ranges are tried in order of preference (`q`, then position); the first one the server
/// can produce wins, so `application/json` ahead of a Table clause means plain JSON.
pub(crate) fn table_request(accept: &str) -> Option<TableVersion> {
    let mut clauses: Vec<(f32, usize, &str)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, clause)| {
            let clause = clause.trim();
            if clause.is_empty() {
                return None;
            }
            let q = params(clause)
                .find(|(k, _)| *k == "q")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1.0);
            Some((q, i, clause))
        })
        .collect();
    clauses.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (q, _, clause) in clauses {
        if q <= 0.0 {
            continue;
        }
        let media = clause
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(media.as_str(), "application/json" | "application/*" | "*/*") {
            continue;
        }
        let get = |key: &str| params(clause).find(|(k, _)| *k == key).map(|(_, v)| v);
        match get("as") {
            None => return None,
            Some("Table") if get("g") == Some("meta.k8s.io") => match get("v") {
                Some("v1") => return Some(TableVersion::V1),
                Some("v1beta1") => return Some(TableVersion::V1Beta1),
                _ => continue,
            },
            Some(_) => continue,
        }
    }
    None
}

fn params(clause: &str) -> impl Iterator<Item = (&str, &str)> {
    clause.split(';').skip(1).filter_map(|p| {
        let (k, v) = p.split_once('=')?;
        Some((k.trim(), v.trim().trim_matches('"')))
    })
}

/// `includeObject` of the Table request (`metav1.TableOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

/// Parses the `includeObject` query parameter. `Err` holds the message of the 400 BadRequest a
/// real server returns for an unknown value.
pub(crate) fn parse_include_object(value: Option<&str>) -> Result<IncludeObject, String> {
    match value {
        None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
        Some("None") => Ok(IncludeObject::None),
        Some("Object") => Ok(IncludeObject::Object),
        Some(other) => Err(format!("unrecognized includeObject value: {other:?}")),
    }
}

/// One `columnDefinitions` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) type_: String,
    pub(crate) format: String,
    pub(crate) description: String,
    pub(crate) priority: i32,
}

impl Column {
    fn new(name: &str, type_: &str, priority: i32, description: &str) -> Self {
        // Every built-in printer marks its object-name column with format `name`.
        let format = if name == "Name" { "name" } else { "" };
        Column {
            name: name.into(),
            type_: type_.into(),
            format: format.into(),
            description: description.into(),
            priority,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Printer {
    Pod,
    Namespace,
    ConfigMap,
    Secret,
    ServiceAccount,
    Event,
    Lease,
    Node,
    RoleBinding,
    /// The default convertor: name and RFC 3339 creation time.
    Default,
    /// A CRD's printer columns: one path per column after `Name`.
    Custom(Vec<JsonPath>),
}

/// The column set (and row printer) for one resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Columns {
    defs: Vec<Column>,
    printer: Printer,
}

fn name_col() -> Column {
    Column::new("Name", "string", 0, NAME_DESCRIPTION)
}

fn age_col() -> Column {
    Column::new("Age", "string", 0, CREATION_DESCRIPTION)
}

impl Columns {
    /// What the server prints for a resource with no printer: `NAME`, `CREATED AT`.
    pub(crate) fn default_columns() -> Columns {
        Columns {
            defs: vec![
                name_col(),
                Column::new("Created At", "date", 0, CREATION_DESCRIPTION),
            ],
            printer: Printer::Default,
        }
    }

    /// Columns for a CRD version (`spec.versions[i]`): `Name`, then its
    /// `additionalPrinterColumns`, or `Age` from `.metadata.creationTimestamp` when it declares
    /// none. A column path outside the supported JSONPath subset falls back to default printing.
    pub(crate) fn from_crd_version(version: &Value) -> Columns {
        let declared = version
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .filter(|cols| !cols.is_empty())
            .cloned()
            .unwrap_or_else(|| {
                vec![json!({"name": "Age", "type": "date", "description": CREATION_DESCRIPTION, "jsonPath": ".metadata.creationTimestamp"})]
            });
        let mut defs = vec![name_col()];
        let mut paths = Vec::new();
        for col in &declared {
            let text = |k: &str| col.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let path_src = text("jsonPath");
            let Some(path) = JsonPath::parse(&path_src) else {
                return Columns::default_columns();
            };
            let description = match text("description") {
                d if d.is_empty() => {
                    format!("Custom resource definition column (in JSONPath format): {path_src}")
                }
                d => d,
            };
            defs.push(Column {
                name: text("name"),
                type_: text("type"),
                format: text("format"),
                description,
                priority: col
                    .get("priority")
                    .and_then(Value::as_i64)
                    .and_then(|p| i32::try_from(p).ok())
                    .unwrap_or(0),
            });
            paths.push(path);
        }
        Columns {
            defs,
            printer: Printer::Custom(paths),
        }
    }

    fn row(&self, obj: &Value, now: jiff::Timestamp) -> (Vec<Value>, Option<Value>) {
        let plain = |cells| (cells, None);
        match &self.printer {
            Printer::Pod => printers::pod(obj, now),
            Printer::Namespace => plain(printers::namespace(obj, now)),
            Printer::ConfigMap => plain(printers::config_map(obj, now)),
            Printer::Secret => plain(printers::secret(obj, now)),
            Printer::ServiceAccount => plain(printers::service_account(obj, now)),
            Printer::Event => plain(printers::event(obj, now)),
            Printer::Lease => plain(printers::lease(obj, now)),
            Printer::Node => plain(printers::node(obj, now)),
            Printer::RoleBinding => plain(printers::role_binding(obj, now)),
            Printer::Default => {
                let created = obj
                    .pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                    .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
                plain(vec![
                    json!(value_str(
                        obj.pointer("/metadata/name").unwrap_or(&Value::Null)
                    )),
                    json!(created),
                ])
            }
            Printer::Custom(paths) => {
                let mut cells = vec![json!(value_str(
                    obj.pointer("/metadata/name").unwrap_or(&Value::Null)
                ))];
                for (path, col) in paths.iter().zip(self.defs.iter().skip(1)) {
                    let found = path.find(obj);
                    cells.push(match found.first() {
                        None => Value::Null,
                        Some(v) => custom_cell(&col.type_, v, now),
                    });
                }
                plain(cells)
            }
        }
    }
}

/// `cellForJSONValue` (and JSONPath text printing for `string` columns).
fn custom_cell(column_type: &str, v: &Value, now: jiff::Timestamp) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    match column_type {
        "string" => Value::String(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        "integer" => match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(Value::from)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        "number" => v.as_f64().map(Value::from).unwrap_or(Value::Null),
        "boolean" => v.as_bool().map(Value::Bool).unwrap_or(Value::Null),
        "date" => match v {
            Value::String(s) => {
                Value::String(translate_timestamp_since(&Value::String(s.clone()), now))
            }
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// The string content of a JSON value, `""` for anything else.
pub(super) fn value_str(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// `translateTimestampSince`: `<unknown>` for an absent timestamp, `<invalid>` for one that does
/// not parse, else the human duration since it.
pub(super) fn translate_timestamp_since(ts: &Value, now: jiff::Timestamp) -> String {
    match ts.as_str() {
        None | Some("") | Some("null") => "<unknown>".to_string(),
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => human_duration_between(t, now),
            Err(_) => "<invalid>".to_string(),
        },
    }
}

pub(super) fn human_duration_between(then: jiff::Timestamp, now: jiff::Timestamp) -> String {
    let nanos = now.as_nanosecond() - then.as_nanosecond();
    human_duration(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// apimachinery `duration.HumanDuration` of a duration in nanoseconds: `5s`, `2m3s`, `3h`,
/// `2d3h`, `400d`, `3y20d`, ...
pub(crate) fn human_duration(nanos: i64) -> String {
    const SEC: i64 = 1_000_000_000;
    let seconds = nanos / SEC;
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Builds the `Table` for `items` (one object for a GET, the list's items for a LIST).
/// `list_meta` becomes the Table's `metadata` (`resourceVersion`, `continue`, ...).
pub(crate) fn build_table(
    columns: &Columns,
    items: &[&Value],
    list_meta: Value,
    include: IncludeObject,
    version: TableVersion,
    now: jiff::Timestamp,
) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let (cells, conditions) = columns.row(obj, now);
            let mut row = json!({"cells": cells});
            if let Some(conditions) = conditions {
                row["conditions"] = conditions;
            }
            match include {
                IncludeObject::None => {}
                IncludeObject::Object => row["object"] = (*obj).clone(),
                IncludeObject::Metadata => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": version.api_version(),
                        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                    });
                }
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": version.api_version(),
        "metadata": list_meta,
        "columnDefinitions": columns.defs.iter().map(Column::to_json).collect::<Vec<_>>(),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests;
