//! Label selectors: a faithful port of apimachinery's `pkg/labels/selector.go` lexer, parser
//! and `NewRequirement` validation, so the accepted language and every error message match.

use serde_json::{Map, Value};

use super::SelectorError;
use crate::validation::{go_quote, is_qualified_name, is_valid_label_value};

/// The comparison a [`Requirement`] makes (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One term of a selector. Invariants (established by [`LabelSelector::parse`]): the key is a
/// valid qualified name, the values are valid label values, sorted and deduplicated; `Exists` and
/// `DoesNotExist` have no values, the exact-match operators one, `GreaterThan`/`LessThan` one
/// whose integer is `bound`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
    bound: i64,
}

impl Requirement {
    /// `Requirement.Matches`: note `!=` and `notin` match objects that lack the label.
    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels
            .and_then(|l| l.get(&self.key))
            .map(|v| v.as_str().unwrap_or(""));
        match (self.op, value) {
            (Op::In | Op::Equals | Op::DoubleEquals, Some(v)) => self.values.iter().any(|x| x == v),
            (Op::NotIn | Op::NotEquals, Some(v)) => !self.values.iter().any(|x| x == v),
            (Op::NotIn | Op::NotEquals | Op::DoesNotExist, None) => true,
            (Op::Exists, Some(_)) => true,
            (Op::GreaterThan, Some(v)) => v.parse::<i64>().is_ok_and(|n| n > self.bound),
            (Op::LessThan, Some(v)) => v.parse::<i64>().is_ok_and(|n| n < self.bound),
            (
                Op::In
                | Op::Equals
                | Op::DoubleEquals
                | Op::Exists
                | Op::GreaterThan
                | Op::LessThan,
                None,
            )
            | (Op::DoesNotExist, Some(_)) => false,
        }
    }
}

/// A parsed `labelSelector`: the AND of its requirements, sorted by key. Empty selects all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses a `labelSelector` query value (`labels.Parse`). Errors carry Kubernetes' text,
    /// e.g. `unable to parse requirement: found '', expected: identifier`.
    pub(crate) fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser::new(selector);
        let mut requirements = parser.parse().map_err(SelectorError::Label)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }

    /// Whether an object with these `metadata.labels` is selected. `None` means no labels.
    pub(crate) fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

/// Lexer tokens (`labels.Token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// `string2token`: the literal tokens.
fn literal_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Byte lexer; like Go's, `read` yields 0 at the end (so a NUL byte also ends a token).
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn lex(&mut self) -> (Token, String) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special(ch) {
            self.scan_special()
        } else {
            self.scan_identifier()
        }
    }

    fn scan_identifier(&mut self) -> (Token, String) {
        let mut buffer = Vec::new();
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
            buffer.push(ch);
        }
        let literal = String::from_utf8_lossy(&buffer).into_owned();
        match literal_token(&buffer) {
            Some(token) => (token, literal),
            None => (Token::Identifier, literal),
        }
    }

    /// Longest run of special characters that still forms a token (`!=`, `==`, ...).
    fn scan_special(&mut self) -> (Token, String) {
        let mut buffer = Vec::new();
        let mut last: Option<(Token, usize)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if !is_special(ch) {
                self.unread();
                break;
            }
            buffer.push(ch);
            if let Some(token) = literal_token(&buffer) {
                last = Some((token, buffer.len()));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        match last {
            Some((token, len)) => (
                token,
                String::from_utf8_lossy(buffer.get(..len).unwrap_or_default()).into_owned(),
            ),
            None => (
                Token::Error,
                format!(
                    "error expected: keyword found '{}'",
                    String::from_utf8_lossy(&buffer)
                ),
            ),
        }
    }
}

/// Whether `in`/`notin` are keywords (after a key) or plain values (`labels.ParserContext`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn new(selector: &str) -> Self {
        let mut lexer = Lexer {
            s: selector.as_bytes(),
            pos: 0,
        };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            let end = item.0 == Token::EndOfString;
            items.push(item);
            if end {
                break;
            }
        }
        Self { items, position: 0 }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        let (token, literal) = self
            .items
            .get(self.position)
            .cloned()
            .unwrap_or((Token::EndOfString, String::new()));
        match (context, token) {
            (Context::Values, Token::In | Token::NotIn) => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{next_literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return new_requirement(key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Op::In | Op::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(key, op, values)
    }

    /// Reads `[!]key`; infers `Exists`/`DoesNotExist` when nothing but `,` or the end follows.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Op>), String> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let mut op = None;
        if token == Token::DoesNotExist {
            op = Some(Op::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let problems = is_qualified_name(&literal);
        if !problems.is_empty() {
            // The parser's field path is nil, which Go prints as `<nil>`.
            return Err(format!(
                "<nil>: Invalid value: {}: {}",
                go_quote(&literal),
                problems.join("; ")
            ));
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::EndOfString || next == Token::Comma) && op.is_none() {
            op = Some(Op::Exists);
        }
        Ok((literal, op))
    }

    fn parse_operator(&mut self) -> Result<Op, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Op::In,
            Token::Equals => Op::Equals,
            Token::DoubleEquals => Op::DoubleEquals,
            Token::GreaterThan => Op::GreaterThan,
            Token::LessThan => Op::LessThan,
            Token::NotIn => Op::NotIn,
            Token::NotEquals => Op::NotEquals,
            _ => {
                return Err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    /// `(x,y,...)`; empty entries (`()`, `(a,)`, `(,a)`, `(a,,b)`) stand for the empty value.
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (token, _) = self.consume(Context::Values);
                if token != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut values: Vec<String> = Vec::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.push(literal);
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{next_literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (token, _) = self.lookahead(Context::Values);
        if token == Token::EndOfString || token == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            return Ok(vec![literal]);
        }
        Err(format!("found '{literal}', expected: identifier"))
    }
}

/// `labels.NewRequirement` for parser output: values become a sorted set and are validated;
/// several problems are reported as Kubernetes' bracketed aggregate.
fn new_requirement(key: String, op: Op, mut values: Vec<String>) -> Result<Requirement, String> {
    values.sort();
    values.dedup();
    let mut errors: Vec<String> = Vec::new();
    let mut bound = 0;
    if matches!(op, Op::GreaterThan | Op::LessThan) {
        for (i, value) in values.iter().enumerate() {
            match value.parse::<i64>() {
                Ok(n) => bound = n,
                Err(_) => errors.push(format!(
                    "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                    go_quote(value)
                )),
            }
        }
    }
    for (i, value) in values.iter().enumerate() {
        let problems = is_valid_label_value(value);
        if !problems.is_empty() {
            errors.push(format!(
                "values[{i}][{key}]: Invalid value: {}: {}",
                go_quote(value),
                problems.join("; ")
            ));
        }
    }
    let mut distinct: Vec<String> = Vec::with_capacity(errors.len());
    for error in errors {
        if !distinct.contains(&error) {
            distinct.push(error);
        }
    }
    match distinct.len() {
        0 => Ok(Requirement {
            key,
            op,
            values,
            bound,
        }),
        1 => Err(distinct.swap_remove(0)),
        _ => Err(format!("[{}]", distinct.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // The detail texts of apimachinery's `validation.IsQualifiedName` and `IsValidLabelValue`
    // (pkg/util/validation/validation.go), including `RegexError`'s double space before "or".
    const NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const SUBDOMAIN_ERR: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn matching_table() {
        let app_web = labels(json!({"app": "web", "tier": "front", "n": "5", "empty": ""}));
        let none = Map::new();
        // (selector, matches app_web, matches an object without labels)
        let cases = [
            ("", true, true),
            ("   ", true, true),
            ("app=web", true, false),
            ("app==web", true, false),
            ("app = web", true, false),
            ("app=db", false, false),
            ("app!=db", true, true),
            ("app!=web", false, true),
            ("app in (web,db)", true, false),
            ("app in(db)", false, false),
            ("app notin (db)", true, true),
            ("app notin (web)", false, true),
            ("app", true, false),
            ("!app", false, true),
            ("!missing", true, true),
            ("app=web,tier=front", true, false),
            ("app=web, tier=back", false, false),
            ("empty=", true, false),
            ("empty in ()", true, false),
            ("app in (,x)", false, false),
            ("n>4", true, false),
            ("n>5", false, false),
            ("n<6", true, false),
            ("app>1", false, false),
            ("in", false, false),
            ("x in (in, notin)", false, false),
            ("\tapp\n=\rweb ", true, false),
        ];
        for (selector, want_web, want_none) in cases {
            let parsed =
                LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector:?}: {e}"));
            assert_eq!(
                parsed.matches(Some(&app_web)),
                want_web,
                "{selector:?} on app=web"
            );
            assert_eq!(parsed.matches(None), want_none, "{selector:?} on no labels");
            assert_eq!(
                parsed.matches(Some(&none)),
                want_none,
                "{selector:?} on empty labels"
            );
        }
    }

    // Messages from apimachinery/pkg/labels/selector.go (parse, parseRequirement,
    // parseKeyAndInferOperator, parseOperator, parseValues, parseIdentifiersList,
    // parseExactValue, NewRequirement) with field.Path(nil).String() == "<nil>".
    #[test]
    fn parse_errors_use_kubernetes_wording() {
        let ops = "in, notin, =, ==, !=, gt, lt";
        let cases: Vec<(&str, String)> = vec![
            ("a b", format!("unable to parse requirement: found 'b', expected: {ops}")),
            ("a,", "found '', expected: identifier after ','".into()),
            ("a,,b", "found ',', expected: identifier after ','".into()),
            (",a", "found ',', expected: !, identifier, or 'end of string'".into()),
            ("=a", "found '=', expected: !, identifier, or 'end of string'".into()),
            ("!", "unable to parse requirement: found '', expected: identifier".into()),
            ("!a=b", "found '=', expected: ',' or 'end of string'".into()),
            ("a in b", "unable to parse requirement: found 'b' expected: '('".into()),
            ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'".into()),
            ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'".into()),
            ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier".into()),
            ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier".into()),
            ("a=(b)", "unable to parse requirement: found '(', expected: identifier".into()),
            ("a=b c", "found 'c', expected: ',' or 'end of string'".into()),
            ("a=!b", "unable to parse requirement: found '!', expected: identifier".into()),
            (
                "a/b/c=d",
                "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into(),
            ),
            ("Foo.Com/x", format!("unable to parse requirement: <nil>: Invalid value: \"Foo.Com/x\": prefix part {SUBDOMAIN_ERR}")),
            ("/x", "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be non-empty".into()),
            ("x/", format!("unable to parse requirement: <nil>: Invalid value: \"x/\": name part must be non-empty; name part {NAME_ERR}")),
            ("a=-b", format!("unable to parse requirement: values[0][a]: Invalid value: \"-b\": {VALUE_ERR}")),
            (
                "a in (-b, c, _d)",
                format!("unable to parse requirement: [values[0][a]: Invalid value: \"-b\": {VALUE_ERR}, values[1][a]: Invalid value: \"_d\": {VALUE_ERR}]"),
            ),
            ("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer".into()),
            ("a<", "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer".into()),
            (
                "a>-5",
                format!("unable to parse requirement: values[0][a]: Invalid value: \"-5\": {VALUE_ERR}"),
            ),
        ];
        for (selector, want) in cases {
            assert_eq!(
                LabelSelector::parse(selector),
                Err(SelectorError::Label(want)),
                "{selector:?}"
            );
        }
        let long_value = format!("a={}", "v".repeat(64));
        assert_eq!(
            LabelSelector::parse(&long_value).unwrap_err().to_string(),
            format!(
                "unable to parse requirement: values[0][a]: Invalid value: \"{}\": must be no more than 63 characters",
                "v".repeat(64)
            )
        );
    }

    #[test]
    fn requirements_are_sorted_sets() {
        let parsed = LabelSelector::parse("z in (b,a,b),a=1,!m").unwrap();
        let keys: Vec<&str> = parsed.requirements.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["a", "m", "z"]);
        assert_eq!(parsed.requirements[2].values, ["a", "b"]);
        assert_eq!(parsed.requirements[1].op, Op::DoesNotExist);
        assert!(LabelSelector::parse("").unwrap().requirements.is_empty());
    }

    #[test]
    fn lexer_takes_longest_operator() {
        let mut lexer = Lexer {
            s: b"a!=b==c=(d)),e",
            pos: 0,
        };
        let mut tokens = Vec::new();
        loop {
            let (token, _) = lexer.lex();
            tokens.push(token);
            if token == Token::EndOfString {
                break;
            }
        }
        use Token::*;
        assert_eq!(
            tokens,
            [
                Identifier,
                NotEquals,
                Identifier,
                DoubleEquals,
                Identifier,
                Equals,
                OpenPar,
                Identifier,
                ClosedPar,
                ClosedPar,
                Comma,
                Identifier,
                EndOfString
            ]
        );
    }
}
