//! A resource template's `successCondition` and `failureCondition`: Kubernetes label-selector
//! syntax (`status.succeeded > 0`, `status.phase in (Failed, Error)`, `!status.ready`), where
//! each key is a path into the resource's JSON — exactly what Argo does by parsing the condition
//! with `labels.ParseToRequirements` and reading keys with gjson.
//!
//! Pure: parsing and matching only; the resource's JSON comes from the caller.

use serde_json::Value;

use super::path::gjson_get;

/// A parsed condition: every requirement must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    text: String,
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// Why a condition does not parse; names the condition and the offending part.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("condition {condition:?}: {problem}")]
pub struct ConditionError {
    condition: String,
    problem: String,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let fail = |problem: String| ConditionError {
            condition: text.to_string(),
            problem,
        };
        let tokens = lex(text);
        let mut requirements = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let (requirement, next) = requirement(&tokens, i).map_err(fail)?;
            requirements.push(requirement);
            i = next;
            match tokens.get(i) {
                None => {}
                Some(Token::Comma) => {
                    i += 1;
                    if i == tokens.len() {
                        return Err(fail("expected a requirement after ','".into()));
                    }
                }
                Some(t) => return Err(fail(format!("expected ',' but found {t}"))),
            }
        }
        Ok(Condition {
            text: text.to_string(),
            requirements,
        })
    }

    /// Whether every requirement holds for `object`.
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| r.matches(object))
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Requirement {
    /// apimachinery's `Requirement.Matches`, over gjson lookups instead of labels.
    fn matches(&self, object: &Value) -> bool {
        let found = gjson_get(object, &self.key);
        match self.op {
            Op::Exists => found.is_some(),
            Op::DoesNotExist => found.is_none(),
            Op::In => found.is_some_and(|v| self.values.contains(&v)),
            Op::NotIn => found.is_none_or(|v| !self.values.contains(&v)),
            Op::GreaterThan | Op::LessThan => {
                let (Some(have), Some(want)) = (
                    found.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.op == Op::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Bang,
    Eq,
    NotEq,
    Gt,
    Lt,
    Comma,
    Open,
    Close,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) => write!(f, "{w:?}"),
            Token::Bang => f.write_str("'!'"),
            Token::Eq => f.write_str("'='"),
            Token::NotEq => f.write_str("'!='"),
            Token::Gt => f.write_str("'>'"),
            Token::Lt => f.write_str("'<'"),
            Token::Comma => f.write_str("','"),
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
        }
    }
}

fn lex(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '!' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::NotEq
            }
            '!' => Token::Bang,
            '=' => {
                if chars.peek() == Some(&'=') {
                    chars.next();
                }
                Token::Eq
            }
            '>' => Token::Gt,
            '<' => Token::Lt,
            ',' => Token::Comma,
            '(' => Token::Open,
            ')' => Token::Close,
            c => {
                let mut word = c.to_string();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "!=<>,()".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                Token::Word(word)
            }
        };
        tokens.push(token);
    }
    tokens
}

/// One requirement starting at `tokens[i]`; returns it and the index after it.
fn requirement(tokens: &[Token], i: usize) -> Result<(Requirement, usize), String> {
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => Ok(w.clone()),
        Some(t) => Err(format!("expected a key but found {t}")),
        None => Err("expected a key".to_string()),
    };
    if tokens.get(i) == Some(&Token::Bang) {
        let key = checked_key(word(i + 1)?)?;
        let r = Requirement {
            key,
            op: Op::DoesNotExist,
            values: Vec::new(),
        };
        return Ok((r, i + 2));
    }
    let key = checked_key(word(i)?)?;
    let single = |op: Op, at: usize| -> Result<(Requirement, usize), String> {
        let (value, next) = match tokens.get(at) {
            Some(Token::Word(w)) => (w.clone(), at + 1),
            _ => (String::new(), at),
        };
        let value = checked_value(value)?;
        if matches!(op, Op::GreaterThan | Op::LessThan) && value.parse::<i64>().is_err() {
            return Err(format!(
                "for '>' and '<' the value must be an integer, not {value:?}"
            ));
        }
        let r = Requirement {
            key: key.clone(),
            op,
            values: vec![value],
        };
        Ok((r, next))
    };
    match tokens.get(i + 1) {
        None | Some(Token::Comma) => Ok((
            Requirement {
                key,
                op: Op::Exists,
                values: Vec::new(),
            },
            i + 1,
        )),
        Some(Token::Eq) => single(Op::In, i + 2),
        Some(Token::NotEq) => single(Op::NotIn, i + 2),
        Some(Token::Gt) => single(Op::GreaterThan, i + 2),
        Some(Token::Lt) => single(Op::LessThan, i + 2),
        Some(Token::Word(w)) if w == "in" || w == "notin" => {
            let op = if w == "in" { Op::In } else { Op::NotIn };
            let (values, next) = value_set(tokens, i + 2)?;
            Ok((Requirement { key, op, values }, next))
        }
        Some(t) => Err(format!("expected an operator after {key:?} but found {t}")),
    }
}

/// `( v1, v2 … )` starting at `tokens[i]`.
fn value_set(tokens: &[Token], mut i: usize) -> Result<(Vec<String>, usize), String> {
    if tokens.get(i) != Some(&Token::Open) {
        return Err("expected '(' after in/notin".to_string());
    }
    i += 1;
    let mut values = Vec::new();
    loop {
        match tokens.get(i) {
            Some(Token::Word(w)) => {
                values.push(checked_value(w.clone())?);
                i += 1;
            }
            Some(Token::Comma) | Some(Token::Close) => values.push(String::new()),
            Some(t) => return Err(format!("expected a value but found {t}")),
            None => return Err("expected ')'".to_string()),
        }
        match tokens.get(i) {
            Some(Token::Comma) => i += 1,
            Some(Token::Close) => return Ok((values, i + 1)),
            Some(t) => return Err(format!("expected ',' or ')' but found {t}")),
            None => return Err("expected ')'".to_string()),
        }
    }
}

/// A key must be a qualified name (`[prefix/]name`), as label keys are.
fn checked_key(key: String) -> Result<String, String> {
    let name = key.rsplit_once('/').map_or(key.as_str(), |(_, n)| n);
    if name.is_empty() || name.len() > 63 || !name_chars(name) {
        return Err(format!(
            "key {key:?} is not a valid qualified name (alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric, at most 63 characters)"
        ));
    }
    Ok(key)
}

/// A value must be a valid label value: empty, or a name of at most 63 characters.
fn checked_value(value: String) -> Result<String, String> {
    if value.is_empty() || (value.len() <= 63 && name_chars(&value)) {
        return Ok(value);
    }
    Err(format!(
        "value {value:?} is not a valid label value (alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric, at most 63 characters)"
    ))
}

fn name_chars(s: &str) -> bool {
    let ok_end = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    ok_end(s.chars().next())
        && ok_end(s.chars().last())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(condition: &str, object: &Value) -> bool {
        Condition::parse(condition).unwrap().matches(object)
    }

    #[test]
    fn argo_examples_match_as_argo_does() {
        let job =
            json!({"status": {"succeeded": 1, "failed": 0, "phase": "Running", "active": true}});
        assert!(holds("status.succeeded > 0", &job));
        assert!(!holds("status.failed > 3", &job));
        assert!(holds("status.phase == Running", &job));
        assert!(holds("status.phase = Running", &job));
        assert!(holds("status.phase in (Running, Pending)", &job));
        assert!(!holds("status.phase notin (Running,Pending)", &job));
        assert!(holds("status.phase != Failed", &job));
        assert!(holds("status.active == true", &job));
        assert!(holds("status.succeeded, !status.missing", &job));
        assert!(!holds("status.succeeded > 0, status.phase == Done", &job));
    }

    #[test]
    fn absent_keys_follow_label_selector_rules() {
        let empty = json!({"status": {}});
        // Equality and ordering need the key; inequality holds without it.
        assert!(!holds("status.phase == Running", &empty));
        assert!(!holds("status.count < 5", &empty));
        assert!(holds("status.phase != Running", &empty));
        assert!(holds("status.phase notin (A)", &empty));
        assert!(holds("!status.phase", &empty));
        // A value that is not an integer never satisfies '>' or '<'.
        assert!(!holds(
            "status.phase > 1",
            &json!({"status": {"phase": "x"}})
        ));
    }

    #[test]
    fn array_indexes_are_gjson_paths() {
        let obj = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert!(holds("status.conditions.0.type == Complete", &obj));
        assert!(!holds("status.conditions.1.type == Complete", &obj));
    }

    #[test]
    fn bad_conditions_name_the_problem() {
        let err = |c: &str| Condition::parse(c).unwrap_err().to_string();
        assert_eq!(
            err("status.succeeded > zero"),
            r#"condition "status.succeeded > zero": for '>' and '<' the value must be an integer, not "zero""#
        );
        assert!(err("status.phase in Running").contains("expected '(' after in/notin"));
        assert!(err("a == b c").contains(r#"expected ',' but found "c""#));
        assert!(err("a,").contains("expected a requirement after ','"));
        assert!(err("== b").contains("expected a key but found '='"));
        assert!(err("a == b!c").contains("expected ',' but found '!'"));
        assert!(err("-bad == 1").contains(r#"key "-bad" is not a valid qualified name"#));
    }
}
