//! The JSONPath subset CRD printer columns use (`{.a.b}`, `.a[0].b`, `.a[*].b`,
//! `.a['dotted.key']`, `.a[?(@.k=="v")].b`), evaluated with missing keys allowed, as
//! `k8s.io/client-go/util/jsonpath` does for `additionalPrinterColumns`.

use serde_json::Value;

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    /// `[?(@.path == literal)]`.
    Filter(Vec<String>, Value),
}

/// A parsed printer-column path.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses a column's `jsonPath`; `None` when it is outside the supported subset (the
    /// caller then falls back to default printing, as the server does for a bad column).
    pub(super) fn parse(src: &str) -> Option<JsonPath> {
        let src = src.trim();
        let src = src
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(src);
        let chars: Vec<char> = src.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars.get(i) {
                Some('.') => {
                    i += 1;
                    let start = i;
                    while i < chars.len() && !matches!(chars.get(i), Some('.') | Some('[')) {
                        i += 1;
                    }
                    let name: String = chars.get(start..i)?.iter().collect();
                    if name.is_empty() {
                        // `.` alone (or `..`) selects the current node: nothing to add.
                        if i < chars.len() && chars.get(i) == Some(&'.') {
                            return None;
                        }
                        continue;
                    }
                    if name == "*" {
                        steps.push(Step::Wildcard);
                    } else {
                        steps.push(Step::Field(name));
                    }
                }
                Some('[') => {
                    let close = find_bracket_end(&chars, i)?;
                    let inner: String = chars.get(i + 1..close)?.iter().collect();
                    steps.push(parse_bracket(inner.trim())?);
                    i = close + 1;
                }
                _ => return None,
            }
        }
        Some(JsonPath { steps })
    }

    /// All values the path selects in `obj`, in document order.
    pub(super) fn find(&self, obj: &Value) -> Vec<Value> {
        let mut current = vec![obj.clone()];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in &current {
                apply(step, v, &mut next);
            }
            current = next;
        }
        current
    }
}

fn find_bracket_end(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut i = open + 1;
    while i < chars.len() {
        let c = *chars.get(i)?;
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ']' => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return Some(inner.to_string());
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::Wildcard);
    }
    if let Some(key) = unquote(inner) {
        return Some(Step::Field(key));
    }
    if let Ok(n) = inner.parse::<i64>() {
        return Some(Step::Index(n));
    }
    let cond = inner.strip_prefix("?(")?.strip_suffix(')')?;
    let (lhs, rhs) = cond.split_once("==")?;
    let path = lhs.trim().strip_prefix("@.")?;
    let keys: Vec<String> = path.split('.').map(str::to_string).collect();
    let rhs = rhs.trim();
    let literal = match unquote(rhs) {
        Some(s) => Value::String(s),
        None => serde_json::from_str(rhs).ok()?,
    };
    Some(Step::Filter(keys, literal))
}

fn apply(step: &Step, v: &Value, out: &mut Vec<Value>) {
    match step {
        Step::Field(name) => {
            if let Some(x) = v.get(name) {
                out.push(x.clone());
            }
        }
        Step::Index(i) => {
            if let Value::Array(items) = v {
                let len = items.len() as i64;
                let idx = if *i < 0 { len + i } else { *i };
                if let Some(x) = usize::try_from(idx).ok().and_then(|u| items.get(u)) {
                    out.push(x.clone());
                }
            }
        }
        Step::Wildcard => match v {
            Value::Array(items) => out.extend(items.iter().cloned()),
            Value::Object(map) => out.extend(map.values().cloned()),
            _ => {}
        },
        Step::Filter(keys, literal) => {
            if let Value::Array(items) = v {
                for item in items {
                    let found = keys.iter().try_fold(item, |cur, k| cur.get(k));
                    if found.is_some_and(|f| f == literal || numbers_equal(f, literal)) {
                        out.push(item.clone());
                    }
                }
            }
        }
    }
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn find(path: &str, obj: &Value) -> Vec<Value> {
        JsonPath::parse(path).unwrap().find(obj)
    }

    #[test]
    fn paths() {
        let obj = json!({
            "metadata": {"labels": {"app": "web", "example.com/tier": "front"}},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}
        });
        assert_eq!(find(".metadata.labels.app", &obj), vec![json!("web")]);
        assert_eq!(
            find(".metadata.labels['example.com/tier']", &obj),
            vec![json!("front")]
        );
        assert_eq!(find(".spec.containers[1].image", &obj), vec![json!("y")]);
        assert_eq!(find(".spec.containers[-1].name", &obj), vec![json!("b")]);
        assert_eq!(
            find(".spec.containers[*].name", &obj),
            vec![json!("a"), json!("b")]
        );
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Synced")].status"#, &obj),
            vec![json!("False")]
        );
        assert_eq!(find("{.spec.missing.deeper}", &obj), Vec::<Value>::new());
        assert_eq!(find(".spec.containers[5].name", &obj), Vec::<Value>::new());
        assert!(JsonPath::parse("spec.x").is_none());
        assert!(JsonPath::parse(".a[").is_none());
    }
}
