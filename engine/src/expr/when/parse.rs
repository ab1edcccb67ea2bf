//! govaluate's stage planner: tokens to a tree, with its precedence (lowest first):
//! `,` < `?` `:` `??` < `||` < `&&` < comparators (`==` `!=` `<` `<=` `>` `>=` `=~` `!~` `in`)
//! < `&` `|` `^` < `<<` `>>` < `+` `-` < `*` `/` `%` < `**` < prefix (`-` `!` `~`) < values.
//!
//! Every binary level is left-associative (govaluate plans right-recursively, then mirrors
//! same-precedence chains, which comes to the same tree). Like govaluate, tokens left over after
//! a complete expression are ignored (`(true) false` is `true`): the syntax check lets a value
//! follow `)`.

use super::lex::{Op, Token};
use super::value::Value;

#[derive(Debug, Clone)]
pub(super) enum Ast {
    /// A missing operand (`()`, `(1 +)`), which evaluates to Go's nil.
    Nil,
    Literal(Value),
    /// An unquoted word before Argo's rewrite; never evaluated (Argo rewrites first).
    Variable(String),
    /// `a.B` or `a.B(args)`: evaluating it fails, as a `when` has no parameters.
    Accessor {
        parts: Vec<String>,
        args: Option<Box<Ast>>,
    },
    Prefix(Op, Box<Ast>),
    Binary(Op, Box<Ast>, Box<Ast>),
}

/// Plans `tokens`, which have passed the syntax check.
pub(super) fn plan(tokens: &[Token]) -> Result<Ast, String> {
    Planner { tokens, pos: 0 }.level(0)
}

/// The deepest parenthesis nesting and the number of operators, which bound how deep planning
/// and evaluation recurse.
pub(super) fn complexity(tokens: &[Token]) -> (usize, usize) {
    let (mut open, mut max_open, mut operators) = (0usize, 0usize, 0usize);
    for token in tokens {
        match token {
            Token::Clause => {
                open += 1;
                max_open = max_open.max(open);
            }
            Token::ClauseClose => open = open.saturating_sub(1),
            Token::Prefix(_)
            | Token::Comparator(_)
            | Token::LogicalOp(_)
            | Token::Modifier(_)
            | Token::Ternary(_)
            | Token::Separator => operators += 1,
            _ => {}
        }
    }
    (max_open, operators)
}

/// The binary precedence levels, lowest first.
const LEVELS: usize = 10;

fn level_op(level: usize, token: &Token) -> Option<Op> {
    match (level, token) {
        (0, Token::Separator) => Some(Op::Separate),
        (1, Token::Ternary(op)) => Some(*op),
        (2, Token::LogicalOp(Op::Or)) => Some(Op::Or),
        (3, Token::LogicalOp(Op::And)) => Some(Op::And),
        (4, Token::Comparator(op)) => Some(*op),
        (5, Token::Modifier(op @ (Op::BitAnd | Op::BitOr | Op::BitXor)))
        | (6, Token::Modifier(op @ (Op::Shl | Op::Shr)))
        | (7, Token::Modifier(op @ (Op::Plus | Op::Minus)))
        | (8, Token::Modifier(op @ (Op::Mul | Op::Div | Op::Mod)))
        | (9, Token::Modifier(op @ Op::Pow)) => Some(*op),
        _ => None,
    }
}

struct Planner<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl Planner<'_> {
    fn level(&mut self, level: usize) -> Result<Ast, String> {
        if level >= LEVELS {
            return self.value();
        }
        let mut left = self.level(level + 1)?;
        while let Some(op) = self.tokens.get(self.pos).and_then(|t| level_op(level, t)) {
            self.pos += 1;
            let right = self.level(level + 1)?;
            left = Ast::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn value(&mut self) -> Result<Ast, String> {
        let Some(token) = self.tokens.get(self.pos) else {
            return Ok(Ast::Nil);
        };
        if matches!(token, Token::ClauseClose) {
            // An empty group: govaluate leaves the `)` for the group to consume.
            return Ok(Ast::Nil);
        }
        self.pos += 1;
        Ok(match token {
            Token::Clause => {
                let inner = self.level(0)?;
                // govaluate consumes the next token as the `)`, whatever it is.
                self.pos += 1;
                inner
            }
            Token::Prefix(op) => Ast::Prefix(*op, Box::new(self.value()?)),
            Token::Numeric(n) => Ast::Literal(Value::Number(*n)),
            Token::Boolean(b) => Ast::Literal(Value::Bool(*b)),
            Token::Str(s) => Ast::Literal(Value::Str(s.clone())),
            Token::Pattern(p) => Ast::Literal(Value::Pattern(p.clone())),
            Token::Variable(name) => Ast::Variable(name.clone()),
            Token::Accessor(parts) => {
                // A following group is the method's arguments; govaluate plans everything from
                // there as the argument expression.
                let args = match self.tokens.get(self.pos) {
                    Some(Token::Clause) => Some(Box::new(self.level(0)?)),
                    _ => None,
                };
                Ast::Accessor {
                    parts: parts.clone(),
                    args,
                }
            }
            other => {
                return Err(format!(
                    "Unable to plan token kind: '{}', value: '{}'",
                    kind_name(other),
                    other.go_value()
                ));
            }
        })
    }
}

fn kind_name(token: &Token) -> &'static str {
    match token {
        Token::Comparator(_) => "COMPARATOR",
        Token::LogicalOp(_) => "LOGICALOP",
        Token::Modifier(_) => "MODIFIER",
        Token::Ternary(_) => "TERNARY",
        Token::Separator => "SEPARATOR",
        _ => "UNKNOWN",
    }
}
