//! govaluate's lexer and its token-sequence checks, as Argo's `when` sees them.
//!
//! Error strings are govaluate's, because Argo passes them through to the node message.

use regex::Regex;

use super::value::{Pattern, go_float};

/// An operator symbol. [`Op::symbol`] is govaluate's spelling in error messages (`==` prints as
/// `=` there, as in govaluate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Neq,
    Gt,
    Lt,
    Gte,
    Lte,
    Req,
    Nreq,
    In,
    And,
    Or,
    Plus,
    Minus,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Mul,
    Div,
    Mod,
    Pow,
    Negate,
    Invert,
    BitNot,
    TernaryTrue,
    TernaryFalse,
    Coalesce,
    Separate,
}

impl Op {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Neq => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Gte => ">=",
            Op::Lte => "<=",
            Op::Req => "=~",
            Op::Nreq => "!~",
            Op::In => "in",
            Op::And => "&&",
            Op::Or => "||",
            Op::Plus => "+",
            Op::Minus | Op::Negate => "-",
            Op::BitAnd => "&",
            Op::BitOr => "|",
            Op::BitXor => "^",
            Op::Shl => "<<",
            Op::Shr => ">>",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Mod => "%",
            Op::Pow => "**",
            Op::Invert => "!",
            Op::BitNot => "~",
            Op::TernaryTrue => "?",
            Op::TernaryFalse => ":",
            Op::Coalesce => "??",
            Op::Separate => ",",
        }
    }
}

/// govaluate's token kinds (those it can produce without functions or date literals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Unknown,
    Prefix,
    Numeric,
    Boolean,
    String,
    Pattern,
    Variable,
    Separator,
    Accessor,
    Comparator,
    LogicalOp,
    Modifier,
    Clause,
    ClauseClose,
    Ternary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Unknown => "UNKNOWN",
            Kind::Prefix => "PREFIX",
            Kind::Numeric => "NUMERIC",
            Kind::Boolean => "BOOLEAN",
            Kind::String => "STRING",
            Kind::Pattern => "PATTERN",
            Kind::Variable => "VARIABLE",
            Kind::Separator => "SEPARATOR",
            Kind::Accessor => "ACCESSOR",
            Kind::Comparator => "COMPARATOR",
            Kind::LogicalOp => "LOGICALOP",
            Kind::Modifier => "MODIFIER",
            Kind::Clause => "CLAUSE",
            Kind::ClauseClose => "CLAUSE_CLOSE",
            Kind::Ternary => "TERNARY",
        }
    }

    /// Whether an expression may end after this kind of token.
    fn is_eof(self) -> bool {
        use Kind::*;
        matches!(
            self,
            ClauseClose | Numeric | Boolean | String | Pattern | Variable | Accessor
        )
    }

    /// govaluate's lexer-state table: may `next` follow a token of this kind?
    pub(super) fn can_precede(self, next: Kind) -> bool {
        use Kind::*;
        match self {
            Unknown => matches!(
                next,
                Prefix | Numeric | Boolean | Variable | Pattern | Accessor | String | Clause
            ),
            Clause => matches!(
                next,
                Prefix
                    | Numeric
                    | Boolean
                    | Variable
                    | Pattern
                    | Accessor
                    | String
                    | Clause
                    | ClauseClose
            ),
            ClauseClose => matches!(
                next,
                Comparator
                    | Modifier
                    | Numeric
                    | Boolean
                    | Variable
                    | String
                    | Pattern
                    | Clause
                    | ClauseClose
                    | LogicalOp
                    | Ternary
                    | Separator
            ),
            Numeric | Boolean | String | Variable => matches!(
                next,
                Modifier | Comparator | LogicalOp | ClauseClose | Ternary | Separator
            ),
            Pattern => matches!(
                next,
                Modifier | Comparator | LogicalOp | ClauseClose | Separator
            ),
            Modifier => matches!(
                next,
                Prefix | Numeric | Variable | Accessor | String | Boolean | Clause | ClauseClose
            ),
            Comparator => matches!(
                next,
                Prefix
                    | Numeric
                    | Boolean
                    | Variable
                    | Accessor
                    | String
                    | Clause
                    | ClauseClose
                    | Pattern
            ),
            LogicalOp => matches!(
                next,
                Prefix | Numeric | Boolean | Variable | Accessor | String | Clause | ClauseClose
            ),
            Prefix => matches!(
                next,
                Numeric | Boolean | Variable | Accessor | Clause | ClauseClose
            ),
            Ternary => matches!(
                next,
                Prefix | Numeric | Boolean | String | Variable | Accessor | Clause | Separator
            ),
            Accessor => matches!(
                next,
                Clause | Modifier | Comparator | LogicalOp | ClauseClose | Ternary | Separator
            ),
            Separator => matches!(
                next,
                Prefix | Numeric | Boolean | String | Variable | Accessor | Clause
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Token {
    Prefix(Op),
    Numeric(f64),
    Boolean(bool),
    Str(String),
    Pattern(Pattern),
    /// An unquoted word; Argo turns these into strings before evaluating.
    Variable(String),
    /// A dotted word (`a.B`): a field access on a parameter, which a `when` never has.
    Accessor(Vec<String>),
    Comparator(Op),
    LogicalOp(Op),
    Modifier(Op),
    Clause,
    ClauseClose,
    Ternary(Op),
    Separator,
}

impl Token {
    pub(super) fn kind(&self) -> Kind {
        match self {
            Token::Prefix(_) => Kind::Prefix,
            Token::Numeric(_) => Kind::Numeric,
            Token::Boolean(_) => Kind::Boolean,
            Token::Str(_) => Kind::String,
            Token::Pattern(_) => Kind::Pattern,
            Token::Variable(_) => Kind::Variable,
            Token::Accessor(_) => Kind::Accessor,
            Token::Comparator(_) => Kind::Comparator,
            Token::LogicalOp(_) => Kind::LogicalOp,
            Token::Modifier(_) => Kind::Modifier,
            Token::Clause => Kind::Clause,
            Token::ClauseClose => Kind::ClauseClose,
            Token::Ternary(_) => Kind::Ternary,
            Token::Separator => Kind::Separator,
        }
    }

    /// The token's value as Go's `%v` prints it (parentheses are runes, so they print as numbers).
    pub(super) fn go_value(&self) -> String {
        match self {
            Token::Numeric(n) => go_float(*n),
            Token::Boolean(b) => b.to_string(),
            Token::Str(s) | Token::Variable(s) => s.clone(),
            Token::Pattern(p) => p.source.clone(),
            Token::Accessor(parts) => format!("[{}]", parts.join(" ")),
            Token::Prefix(op)
            | Token::Comparator(op)
            | Token::LogicalOp(op)
            | Token::Modifier(op)
            | Token::Ternary(op) => op.symbol().to_string(),
            Token::Clause => u32::from('(').to_string(),
            Token::ClauseClose => u32::from(')').to_string(),
            Token::Separator => ",".to_string(),
        }
    }

    /// Argo's rewrite between its two govaluate passes: unquoted words become strings.
    pub(super) fn variable_to_string(self) -> Token {
        match self {
            Token::Variable(s) => Token::Str(s),
            other => other,
        }
    }
}

/// govaluate's `parseTokens`: lex the whole text, then check parenthesis balance.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    let mut previous = Kind::Unknown;
    while let Some(token) = lexer.next_token(previous)? {
        previous = token.kind();
        tokens.push(token);
    }
    check_balance(&tokens)?;
    Ok(tokens)
}

pub(super) fn check_balance(tokens: &[Token]) -> Result<(), String> {
    let depth: i64 = tokens
        .iter()
        .map(|t| match t {
            Token::Clause => 1,
            Token::ClauseClose => -1,
            _ => 0,
        })
        .sum();
    if depth == 0 {
        Ok(())
    } else {
        Err("Unbalanced parenthesis".to_string())
    }
}

/// govaluate's `checkExpressionSyntax`: every token may follow the one before, and the last may
/// end an expression.
pub(super) fn check_syntax(tokens: &[Token]) -> Result<(), String> {
    let mut state = Kind::Unknown;
    let mut last: Option<&Token> = None;
    for token in tokens {
        let kind = token.kind();
        if !state.can_precede(kind) {
            if let (Some(Token::Variable(name)), Token::Clause) = (last, token) {
                return Err(format!("Undefined function {name}"));
            }
            let last_value = last.map_or_else(|| "<nil>".to_string(), Token::go_value);
            return Err(format!(
                "Cannot transition token types from {} [{last_value}] to {} [{}]",
                state.name(),
                kind.name(),
                token.go_value()
            ));
        }
        state = kind;
        last = Some(token);
    }
    if state.is_eof() {
        Ok(())
    } else {
        Err("Unexpected end of expression".to_string())
    }
}

/// govaluate's `optimizeTokens`: a string right after `=~`/`!~` is compiled to a pattern now,
/// so a bad regex is a parse error rather than an evaluation error.
pub(super) fn optimize(mut tokens: Vec<Token>) -> Result<Vec<Token>, String> {
    for i in 1..tokens.len() {
        let after_regex_op = matches!(
            tokens.get(i - 1),
            Some(Token::Comparator(Op::Req | Op::Nreq))
        );
        if let (true, Some(Token::Str(source))) = (after_regex_op, tokens.get(i)) {
            let pattern = compile_pattern(source)?;
            if let Some(slot) = tokens.get_mut(i) {
                *slot = Token::Pattern(pattern);
            }
        }
    }
    Ok(tokens)
}

/// Compiles a regex the way Go's `regexp.Compile` reports failure: one line, pattern quoted.
pub(super) fn compile_pattern(source: &str) -> Result<Pattern, String> {
    match Regex::new(source) {
        Ok(regex) => Ok(Pattern {
            source: source.to_string(),
            regex,
        }),
        Err(err) => {
            let text = err.to_string();
            let detail = text
                .lines()
                .rev()
                .find_map(|line| line.trim().strip_prefix("error: "))
                .unwrap_or(text.as_str())
                .trim()
                .to_string();
            Err(format!("error parsing regexp: {detail}: `{source}`"))
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

fn is_numeric(c: char) -> bool {
    c.is_ascii_digit() || c == '.'
}

fn is_quote(c: char) -> bool {
    c == '\'' || c == '"'
}

fn is_variable_name(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

fn is_symbol(c: char) -> bool {
    !(c.is_alphanumeric() || matches!(c, '(' | ')' | '[' | ']') || is_quote(c))
}

fn is_lowercase_start(part: &str) -> bool {
    part.chars().next().is_some_and(|c| {
        let mut upper = c.to_uppercase();
        !(upper.next() == Some(c) && upper.next().is_none())
    })
}

impl Lexer {
    fn next_token(&mut self, previous: Kind) -> Result<Option<Token>, String> {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
        let Some(&c) = self.chars.get(self.pos) else {
            return Ok(None);
        };
        if is_numeric(c) {
            let text = self.read_word(is_numeric);
            return match text.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(Token::Numeric(n))),
                _ => Err(format!("Unable to parse numeric value '{text}' to float64")),
            };
        }
        self.pos += 1;
        match c {
            ',' => return Ok(Some(Token::Separator)),
            '[' => {
                let (name, closed) = self.read_until(|c| c != ']');
                if !closed {
                    return Err("Unclosed parameter bracket".to_string());
                }
                self.pos += 1;
                return Ok(Some(Token::Variable(name)));
            }
            '(' => return Ok(Some(Token::Clause)),
            ')' => return Ok(Some(Token::ClauseClose)),
            _ => {}
        }
        if c.is_alphabetic() {
            self.pos -= 1;
            return self.word().map(Some);
        }
        if is_quote(c) {
            let (text, closed) = self.read_until(|c| !is_quote(c));
            if !closed {
                return Err("Unclosed string literal".to_string());
            }
            self.pos += 1;
            return Ok(Some(Token::Str(text)));
        }
        self.pos -= 1;
        let symbol = self.read_word(is_symbol);
        let op = |ops: &[(&str, Op)]| {
            ops.iter()
                .find(|(text, _)| *text == symbol)
                .map(|(_, op)| *op)
        };
        if previous.can_precede(Kind::Prefix)
            && let Some(op) = op(&[("-", Op::Negate), ("!", Op::Invert), ("~", Op::BitNot)])
        {
            return Ok(Some(Token::Prefix(op)));
        }
        let modifiers = [
            ("+", Op::Plus),
            ("-", Op::Minus),
            ("*", Op::Mul),
            ("/", Op::Div),
            ("%", Op::Mod),
            ("**", Op::Pow),
            ("&", Op::BitAnd),
            ("|", Op::BitOr),
            ("^", Op::BitXor),
            (">>", Op::Shr),
            ("<<", Op::Shl),
        ];
        let comparators = [
            ("==", Op::Eq),
            ("!=", Op::Neq),
            (">", Op::Gt),
            (">=", Op::Gte),
            ("<", Op::Lt),
            ("<=", Op::Lte),
            ("=~", Op::Req),
            ("!~", Op::Nreq),
        ];
        let token = if let Some(op) = op(&modifiers) {
            Token::Modifier(op)
        } else if let Some(op) = op(&[("&&", Op::And), ("||", Op::Or)]) {
            Token::LogicalOp(op)
        } else if let Some(op) = op(&comparators) {
            Token::Comparator(op)
        } else if let Some(op) = op(&[
            ("?", Op::TernaryTrue),
            (":", Op::TernaryFalse),
            ("??", Op::Coalesce),
        ]) {
            Token::Ternary(op)
        } else {
            return Err(format!("Invalid token: '{symbol}'"));
        };
        Ok(Some(token))
    }

    /// An unquoted word starting with a letter: boolean, `in`, variable or accessor.
    fn word(&mut self) -> Result<Token, String> {
        let text = self.read_word(is_variable_name);
        let token = match text.as_str() {
            "true" => Token::Boolean(true),
            "false" => Token::Boolean(false),
            "in" | "IN" => Token::Comparator(Op::In),
            _ => Token::Variable(text.clone()),
        };
        if !text.contains('.') {
            return Ok(token);
        }
        if text.ends_with('.') {
            return Err(format!("Hanging accessor on token '{text}'"));
        }
        let parts: Vec<String> = text.split('.').map(str::to_string).collect();
        if let Some(part) = parts.iter().skip(1).find(|p| is_lowercase_start(p)) {
            return Err(format!(
                "Unable to access unexported field '{part}' in token '{text}'"
            ));
        }
        Ok(Token::Accessor(parts))
    }

    /// govaluate's `readTokenUntilFalse`: from the current character, stops at whitespace (once
    /// something was read) or at the first character failing `keep`; `\` escapes the next one.
    fn read_word(&mut self, keep: fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            if c == '\\' {
                self.escaped(&mut out);
                continue;
            }
            if c.is_whitespace() {
                if out.is_empty() {
                    self.pos += 1;
                    continue;
                }
                break;
            }
            if !keep(c) {
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        out
    }

    /// After a `\`: the next character, taken as it is (nothing at the end of the text).
    fn escaped(&mut self, out: &mut String) {
        self.pos += 1;
        if let Some(&escaped) = self.chars.get(self.pos) {
            out.push(escaped);
            self.pos += 1;
        }
    }

    /// Reads (whitespace included, `\` escaping) up to the first character failing `keep`,
    /// leaving it unread. `false` when the text ended first.
    fn read_until(&mut self, keep: impl Fn(char) -> bool) -> (String, bool) {
        let mut out = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            if c == '\\' {
                self.escaped(&mut out);
                continue;
            }
            if !keep(c) {
                return (out, true);
            }
            out.push(c);
            self.pos += 1;
        }
        (out, false)
    }
}
