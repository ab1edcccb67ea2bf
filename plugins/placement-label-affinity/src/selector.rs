//! Kubernetes label selectors in their string form (`labels.Parse`): `k=v` (or `k==v`), `k!=v`,
//! `k in (a,b)`, `k notin (a)`, `k` (has the label), `!k` (has not), a comma between
//! requirements meaning "and". Keys and values follow Kubernetes' rules (a key is an optional
//! DNS-subdomain prefix and `/`, then a name of at most 63 letters, digits, `-`, `_` and `.`
//! starting and ending with a letter or digit; a value is empty or such a name). An empty
//! selector matches everything. Plain Rust: no WIT.

/// What one requirement asks of a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The label is set (to anything).
    Exists,
    /// The label is not set.
    DoesNotExist,
    /// The label is set to one of these (`=` is a set of one).
    In(Vec<String>),
    /// The label is not set, or set to none of these (`!=` is a set of one).
    NotIn(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
}

/// A parsed selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A key, a value, or the words `in`/`notin`.
    Word(String),
    Eq,
    NotEq,
    Not,
    Comma,
    Open,
    Close,
}

fn describe(token: Option<&(usize, Token)>) -> String {
    match token {
        None => "the end".into(),
        Some((_, Token::Word(w))) => format!("{w:?}"),
        Some((_, Token::Eq)) => "'='".into(),
        Some((_, Token::NotEq)) => "'!='".into(),
        Some((_, Token::Not)) => "'!'".into(),
        Some((_, Token::Comma)) => "','".into(),
        Some((_, Token::Open)) => "'('".into(),
        Some((_, Token::Close)) => "')'".into(),
    }
}

/// The tokens of `s`, each with its position (1-based, in characters).
fn tokens(s: &str) -> Result<Vec<(usize, Token)>, String> {
    let chars: Vec<char> = s.chars().collect();
    let word_char = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        let (token, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '=' if chars.get(i + 1) == Some(&'=') => (Token::Eq, 2),
            '=' => (Token::Eq, 1),
            '!' if chars.get(i + 1) == Some(&'=') => (Token::NotEq, 2),
            '!' => (Token::Not, 1),
            ',' => (Token::Comma, 1),
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            c if word_char(c) => {
                let len = chars[i..].iter().take_while(|&&c| word_char(c)).count();
                (Token::Word(chars[i..i + len].iter().collect()), len)
            }
            other => {
                return Err(format!(
                    "unexpected {other:?} at character {at} (operators: =, ==, !=, in, notin, !)"
                ));
            }
        };
        out.push((at, token));
        i += len;
    }
    Ok(out)
}

/// Why `name` is not a label name (the part of a key after its prefix, or a value), if not.
fn name_error(name: &str) -> Option<&'static str> {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    if name.len() > 63 {
        Some("is longer than 63 characters")
    } else if !name
        .chars()
        .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
    {
        Some("may hold only letters, digits, '-', '_' and '.'")
    } else if !name.starts_with(alnum) || !name.ends_with(alnum) {
        Some("must start and end with a letter or digit")
    } else {
        None
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if prefix.len() > 253 || !prefix.split('.').all(label_ok) {
            return Err(format!(
                "label key {key:?}: its prefix {prefix:?} is not a DNS subdomain"
            ));
        }
    }
    if name.is_empty() {
        return Err(format!("label key {key:?} has no name"));
    }
    match name_error(name) {
        Some(why) => Err(format!("label key {key:?}: its name {why}")),
        None => Ok(()),
    }
}

fn check_value(value: &str) -> Result<(), String> {
    match name_error(value) {
        Some(why) if !value.is_empty() => Err(format!("label value {value:?} {why}")),
        _ => Ok(()),
    }
}

impl Selector {
    /// Parses the string form; the error says what is wrong and where.
    pub fn parse(s: &str) -> Result<Selector, String> {
        let tokens = tokens(s)?;
        let mut it = tokens.iter().peekable();
        let mut requirements = Vec::new();
        if tokens.is_empty() {
            return Ok(Selector(requirements));
        }
        let expected = |what: &str, got: Option<&(usize, Token)>| {
            let at = got
                .map(|(at, _)| format!(" at character {at}"))
                .unwrap_or_default();
            format!("expected {what}{at}, found {}", describe(got))
        };
        loop {
            let negated = matches!(it.peek(), Some((_, Token::Not)));
            if negated {
                it.next();
            }
            let key = match it.next() {
                Some((_, Token::Word(w))) => w.clone(),
                other => return Err(expected("a label key", other)),
            };
            check_key(&key)?;
            let op = if negated {
                Op::DoesNotExist
            } else {
                match it.peek().copied() {
                    None | Some((_, Token::Comma)) => Op::Exists,
                    Some((_, op @ (Token::Eq | Token::NotEq))) => {
                        it.next();
                        let value = match it.peek().copied() {
                            Some((_, Token::Word(w))) => {
                                it.next();
                                w.clone()
                            }
                            None | Some((_, Token::Comma)) => String::new(),
                            other => return Err(expected("a label value", other)),
                        };
                        check_value(&value)?;
                        if *op == Token::Eq {
                            Op::In(vec![value])
                        } else {
                            Op::NotIn(vec![value])
                        }
                    }
                    Some((_, Token::Word(w))) if w == "in" || w == "notin" => {
                        it.next();
                        match it.next() {
                            Some((_, Token::Open)) => {}
                            other => return Err(expected(&format!("'(' after {w:?}"), other)),
                        }
                        let mut values = Vec::new();
                        loop {
                            let value = match it.peek().copied() {
                                Some((_, Token::Word(v))) => {
                                    it.next();
                                    v.clone()
                                }
                                _ => String::new(),
                            };
                            check_value(&value)?;
                            values.push(value);
                            match it.next() {
                                Some((_, Token::Comma)) => continue,
                                Some((_, Token::Close)) => break,
                                other => return Err(expected("',' or ')'", other)),
                            }
                        }
                        if values == [""] {
                            return Err(format!("the values of {key:?} {w} () are empty"));
                        }
                        if w == "in" {
                            Op::In(values)
                        } else {
                            Op::NotIn(values)
                        }
                    }
                    other => {
                        return Err(expected(
                            &format!("=, ==, !=, in, notin or ',' after {key:?}"),
                            other,
                        ));
                    }
                }
            };
            requirements.push(Requirement { key, op });
            match it.next() {
                None => return Ok(Selector(requirements)),
                Some((_, Token::Comma)) => {}
                other => return Err(expected("',' or the end", other)),
            }
        }
    }

    /// Whether a cluster with `labels` satisfies every requirement.
    pub fn matches(&self, labels: &[(String, String)]) -> bool {
        self.0.iter().all(|r| {
            let value = labels.iter().find(|(k, _)| *k == r.key).map(|(_, v)| v);
            match (&r.op, value) {
                (Op::Exists, v) => v.is_some(),
                (Op::DoesNotExist, v) => v.is_none(),
                (Op::In(values), Some(v)) => values.contains(v),
                (Op::In(_), None) => false,
                (Op::NotIn(values), Some(v)) => !values.contains(v),
                (Op::NotIn(_), None) => true,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, op: Op) -> Requirement {
        Requirement {
            key: key.into(),
            op,
        }
    }

    fn set(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn parses_every_form() {
        let s = Selector::parse(
            " region = eu ,tier==gold, env!=dev,zone in (a, b),x notin (c),gpu,!spot,example.com/team=ml",
        )
        .unwrap();
        assert_eq!(
            s.0,
            vec![
                req("region", Op::In(set(&["eu"]))),
                req("tier", Op::In(set(&["gold"]))),
                req("env", Op::NotIn(set(&["dev"]))),
                req("zone", Op::In(set(&["a", "b"]))),
                req("x", Op::NotIn(set(&["c"]))),
                req("gpu", Op::Exists),
                req("spot", Op::DoesNotExist),
                req("example.com/team", Op::In(set(&["ml"]))),
            ]
        );
        assert_eq!(Selector::parse("").unwrap().0, vec![]);
        assert_eq!(
            Selector::parse("k=").unwrap().0,
            vec![req("k", Op::In(set(&[""])))]
        );
    }

    #[test]
    fn matches_as_kubernetes_does() {
        let l = labels(&[("region", "eu"), ("tier", "gold"), ("gpu", "")]);
        let m = |s: &str| Selector::parse(s).unwrap().matches(&l);
        assert!(m(""));
        assert!(m("region=eu"));
        assert!(!m("region=us"));
        assert!(m("region in (us, eu)"));
        assert!(!m("region notin (us, eu)"));
        assert!(m("zone notin (a)"), "an absent label is not in any set");
        assert!(m("zone!=a"), "an absent label differs from any value");
        assert!(!m("zone in (a)"));
        assert!(m("gpu") && m("gpu="));
        assert!(!m("!gpu"));
        assert!(m("!spot"));
        assert!(m("region=eu,tier=gold"));
        assert!(!m("region=eu,tier=silver"), "a comma is an and");
    }

    #[test]
    fn malformed_selectors_say_what_and_where() {
        let e = |s: &str| Selector::parse(s).unwrap_err();
        assert_eq!(e("region=eu,"), "expected a label key, found the end");
        assert_eq!(
            e("region=eu;tier=gold"),
            "unexpected ';' at character 10 (operators: =, ==, !=, in, notin, !)"
        );
        assert_eq!(
            e("region in eu"),
            r#"expected '(' after "in" at character 11, found "eu""#
        );
        assert_eq!(e("zone in (a,b"), "expected ',' or ')', found the end");
        assert_eq!(e("zone in ()"), r#"the values of "zone" in () are empty"#);
        assert_eq!(
            e("region eu"),
            r#"expected =, ==, !=, in, notin or ',' after "region" at character 8, found "eu""#
        );
        assert_eq!(
            e("-bad=x"),
            r#"label key "-bad": its name must start and end with a letter or digit"#
        );
        assert_eq!(
            e("Bad.Prefix/k=x"),
            r#"label key "Bad.Prefix/k": its prefix "Bad.Prefix" is not a DNS subdomain"#
        );
        assert_eq!(
            e(&format!("k={}", "v".repeat(64))),
            format!(
                "label value {:?} is longer than 63 characters",
                "v".repeat(64)
            )
        );
        assert_eq!(
            e("k=(a)"),
            "expected a label value at character 3, found '('"
        );
        assert_eq!(e("!"), "expected a label key, found the end");
    }
}
