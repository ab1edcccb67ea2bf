//! A task's or step's `when`, evaluated as Argo v3.5/3.6's `shouldExecute` does with govaluate.
//!
//! Argo substitutes `{{…}}` first, so the text here is e.g. `heads == heads`. It then parses the
//! text with govaluate, turns every unquoted word (a govaluate *variable*) into a string literal,
//! re-plans the tokens and evaluates them with no parameters. That two-pass shape is kept, because
//! it decides which errors a user sees: a word where govaluate accepts a variable but not a string
//! (`!foo`) passes the first pass and fails the second.
//!
//! Supported: numbers (all float64), `'…'`/`"…"` strings, `true`/`false`, unquoted words as
//! strings, `[…]` quoted words, `== != < <= > >=` (numbers or strings, never mixed), `=~ !~`
//! (RE2 syntax via the `regex` crate), `&& || !`, `+ - * / % **`, bitwise `& | ^ ~ << >>`,
//! `? : ??`, `in (a, b)`, parentheses. Not reproduced: govaluate's date literals (a quoted string
//! that parses as a date becomes a Unix-time number there; here it stays a string), and the Go
//! regexp dialect where it differs from the `regex` crate's.

mod eval;
mod lex;
mod parse;
mod value;

use super::{ExprError, Result, check_complexity};
use lex::Token;
use value::Value;

/// Whether a task or step with this (already substituted) `when` runs. An empty `when` runs.
///
/// An `Err` is what Argo turns into an Error node with the error's text as its message; the
/// caller decides that (Argo ignores the error while a task still awaits `withItems`/`withParam`
/// expansion, since `{{item}}` is not substituted yet).
pub(crate) fn when_true(when: &str) -> Result<bool> {
    if when.is_empty() {
        return Ok(true);
    }
    let invalid = |reason: String| {
        let reason = if reason.contains("Invalid token") {
            format!("{reason} (hint: try wrapping the affected expression in quotes (\"))")
        } else {
            reason
        };
        ExprError::WhenInvalid {
            expr: when.to_string(),
            reason,
        }
    };
    // Pass 1: govaluate.NewEvaluableExpression(when).
    let tokens = lex::tokenize(when).map_err(invalid)?;
    let (max_open, operators) = parse::complexity(&tokens);
    check_complexity(when, max_open, operators)?;
    let (tokens, _) = compile(tokens).map_err(invalid)?;
    // Pass 2: unquoted words become strings, then NewEvaluableExpressionFromTokens.
    let tokens: Vec<Token> = tokens.into_iter().map(Token::variable_to_string).collect();
    let (_, ast) = lex::check_balance(&tokens)
        .and_then(|()| compile(tokens))
        .map_err(|reason| ExprError::WhenParse {
            expr: when.to_string(),
            reason,
        })?;
    match eval::eval(&ast) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(ExprError::WhenNotBool {
            expr: when.to_string(),
            got: other.go_fmt(),
        }),
        Err(reason) => Err(ExprError::WhenEvaluate {
            expr: when.to_string(),
            reason,
        }),
    }
}

/// The checks both passes share: syntax, regex compilation, planning.
fn compile(tokens: Vec<Token>) -> std::result::Result<(Vec<Token>, parse::Ast), String> {
    lex::check_syntax(&tokens)?;
    let tokens = lex::optimize(tokens)?;
    let ast = parse::plan(&tokens)?;
    Ok((tokens, ast))
}

#[cfg(test)]
mod tests;
