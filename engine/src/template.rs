//! Argo's `{{...}}` parameter substitution (`util/template` in argo-workflows).
//!
//! Argo never substitutes into a single field: it marshals the whole step, task
//! or template to JSON, runs `fasttemplate` over that JSON *text*, and
//! unmarshals the result. This module does the same, because several
//! user-visible behaviours only fall out of working on the text:
//!
//! - object keys are substituted as well as values;
//! - replacement values are escaped for the inside of a JSON string, so a
//!   value holding `"` or a newline cannot break the document;
//! - a tag is whatever lies between a `{{` and the *first* following `}}`, so
//!   `{{a {{b}}` looks up `b` and writes back `{{a <b>` (Argo's "nested tag"
//!   rule), and a `{{` with no `}}` anywhere after it is an error in every mode;
//! - the name looked up is the tag's JSON-escaped text with surrounding
//!   whitespace trimmed (so `{{ workflow.name }}` works, but a tag holding a
//!   real newline does not, because in JSON text that newline is `\n`).
//!
//! Modes. Argo's controller substitutes with `allowUnresolved = true`
//! ([`Mode::Lenient`]) almost everywhere at run time (step and DAG-task
//! references, `SubstituteParams`, global variables), leaving unknown tags
//! verbatim; strict checking happens at submission, in validation, which only
//! complains about names that start with a workflow-variable prefix (see
//! [`is_workflow_variable`]). The one run-time strict caller seen in Argo's
//! sources is `withItems` expansion (`processItem`, v3.0-era code; not
//! re-checked against v3.5), which substitutes `item` strictly.
//!
//! Expressions (`{{=...}}`, expr-lang) are evaluated by the scope's evaluator
//! ([`Evaluator`], within the pass's budget) over the variables the scope holds
//! under the names the expression mentions, as Argo's `expressionReplace` does:
//! the value as Go's `%v` writes it, JSON-escaped. An expression that fails or is
//! nil is left verbatim in [`Mode::Lenient`] (a later pass, with more variables
//! known, may resolve it) and is an error in [`Mode::Strict`]; one that hit a
//! bound is an error in both. A scope without an evaluator treats every
//! expression as unresolvable ([`TemplateError::ExpressionUnsupported`] in strict
//! mode). Nothing is ever silently dropped.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

pub(crate) use evaluator::Evaluator;

mod evaluator;

#[cfg(test)]
use serde_json::Value;

#[cfg(test)]
mod tests;

const START: &str = "{{";
const END: &str = "}}";
/// Tag prefix marking an expr-lang expression (Argo's `kindExpression`).
const EXPRESSION_PREFIX: char = '=';
/// How much of the text after an unterminated `{{` an error message quotes.
const ERROR_EXCERPT_CHARS: usize = 60;

/// Errors from substitution. Messages follow Argo's wording so users see the
/// text they know from Argo; where Argo's text would be unhelpful (it quotes
/// the whole marshalled template) only the relevant excerpt is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    /// A tag named a variable the scope does not hold ([`Mode::Strict`]).
    /// `tag` is the text between the braces, untrimmed, as Argo prints it.
    #[error("failed to resolve {{{{{tag}}}}}")]
    Unresolved { tag: String },
    /// A `{{` had no `}}` after it. Argo (fasttemplate) rejects the whole
    /// template in this case, whatever the mode.
    #[error("Cannot find end tag=\"}}}}\" in the template starting from {excerpt:?}")]
    MissingEndTag { excerpt: String },
    /// A `{{=...}}` expression had to be resolved ([`Mode::Strict`]) but the
    /// expression evaluator is not implemented yet.
    #[error("expressions ({{{{=...}}}}) are not supported yet: {{{{={expression}}}}}")]
    ExpressionUnsupported { expression: String },
    /// A `{{=...}}` expression had to be resolved ([`Mode::Strict`]) but failed or was nil
    /// (Argo's `failed to evaluate expression: …`), or hit a bound (`exhausted`, in any mode).
    #[error("{message}")]
    Expression { message: String, exhausted: bool },
    /// Substitution produced something that is not valid JSON. Argo reports
    /// this when a value holds a control character that Go's `strconv.Quote`
    /// escapes in a non-JSON way (`\x1b`, `\a`, `\v`), e.g. coloured log
    /// output captured as `outputs.result`.
    #[error("cannot finish template replacement because the result was invalid JSON: {reason}")]
    InvalidJsonResult { reason: String },
    /// The value to substitute into could not be written as JSON (Argo's
    /// `Replace` refuses invalid JSON input with this wording).
    #[error("cannot do template replacements with invalid JSON: {reason}")]
    InvalidJsonInput { reason: String },
    /// Substitution would produce more than [`MAX_SUBSTITUTED_BYTES`]: a value doubled at
    /// each level of a recursive template grows exponentially, and the API server could not
    /// store the result anyway.
    #[error("template replacement would produce more than {limit} bytes")]
    TooLarge { limit: usize },
}

/// Most bytes one substitution may produce: more than a stored object (1.5 MiB) may hold.
pub(crate) const MAX_SUBSTITUTED_BYTES: usize = 2 * 1024 * 1024;

/// Whether an unresolved `{{name}}` is an error or is left in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Argo's `allowUnresolved = false`: the first unresolved tag fails.
    Strict,
    /// Argo's `allowUnresolved = true`: unresolved tags are written back
    /// verbatim so a later pass (with more of the scope known) can fill them.
    Lenient,
}

/// Variables visible to one substitution, as `name -> string value`
/// (`inputs.parameters.x`, `tasks.a.outputs.result`, `item.os`, ...).
///
/// Scopes are layered: a child borrows its parent and holds only its own
/// additions, and a lookup walks from the innermost layer outwards, so an
/// inner definition shadows an outer one. The engine builds the workflow-wide
/// layer once per reconcile and stacks a small layer per template invocation,
/// per task and per loop item, so a workflow with thousands of nodes never
/// copies the global map.
#[derive(Debug, Default)]
pub(crate) struct Scope<'p> {
    parent: Option<&'p Scope<'p>>,
    vars: HashMap<String, String>,
    /// Variables that change while the scope is in use (a root scope's workflow outputs,
    /// published as nodes complete); looked up after `vars`.
    live: Option<LiveVars>,
    /// The evaluator of `{{=…}}` tags: set on a root, used by every layer above it.
    evaluator: Option<Evaluator>,
}

/// Variables shared between a root scope and the walk that publishes them.
pub(crate) type LiveVars = std::rc::Rc<std::cell::RefCell<HashMap<String, String>>>;

impl Scope<'static> {
    /// An empty root scope.
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl<'p> Scope<'p> {
    /// An empty layer on top of `self`; insertions into it shadow `self`.
    pub(crate) fn child(&self) -> Scope<'_> {
        Scope {
            parent: Some(self),
            vars: HashMap::new(),
            live: None,
            evaluator: None,
        }
    }

    /// Evaluates `{{=…}}` tags with `evaluator` (in this layer and those above it).
    pub(crate) fn set_evaluator(&mut self, evaluator: Option<Evaluator>) {
        self.evaluator = evaluator;
    }

    /// The evaluator of the nearest layer that has one.
    fn evaluator(&self) -> Option<&Evaluator> {
        let mut layer = Some(self);
        while let Some(scope) = layer {
            if let Some(evaluator) = &scope.evaluator {
                return Some(evaluator);
            }
            layer = scope.parent;
        }
        None
    }

    /// The variables visible here that `expression` may read, once each, as [`Scope::get`]
    /// finds them: those whose first name (`inputs` of `inputs.parameters.n`) is a word of the
    /// expression, or all of them if it names `$env`. A failure once they pass
    /// [`evaluator::MAX_VARIABLE_BYTES`].
    fn variables(
        &self,
        expression: &str,
    ) -> Result<Vec<(String, String)>, crate::ports::ExpressionFailure> {
        let every = expression.contains("$env");
        let words: HashSet<&str> = expression
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        let named = |name: &str| every || words.contains(name.split('.').next().unwrap_or(name));
        let mut out: Vec<(String, String)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut bytes = 0usize;
        let mut layer = Some(self);
        while let Some(scope) = layer {
            let live = scope.live.as_ref().map(|l| l.borrow());
            let pairs = scope.vars.iter().chain(live.iter().flat_map(|l| l.iter()));
            for (name, value) in pairs {
                if !named(name) || seen.contains(name) {
                    continue;
                }
                bytes = bytes.saturating_add(name.len() + value.len());
                if bytes > evaluator::MAX_VARIABLE_BYTES {
                    return Err(evaluator::too_many_variables(bytes));
                }
                seen.insert(name.clone());
                out.push((name.clone(), value.clone()));
            }
            layer = scope.parent;
        }
        Ok(out)
    }

    /// Looks `live` up after this layer's own variables.
    pub(crate) fn set_live(&mut self, live: LiveVars) {
        self.live = Some(live);
    }

    /// A layer on top of `self` holding one extra variable.
    #[cfg(test)]
    pub(crate) fn with(&self, key: impl Into<String>, value: impl Into<String>) -> Scope<'_> {
        let mut child = self.child();
        child.insert(key, value);
        child
    }

    /// Defines (or redefines, in this layer) a variable.
    pub(crate) fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(key.into(), value.into());
    }

    /// The value of `key` in the innermost layer defining it.
    pub(crate) fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        let mut layer = Some(self);
        while let Some(scope) = layer {
            if let Some(value) = scope.vars.get(key) {
                return Some(Cow::Borrowed(value));
            }
            if let Some(value) = scope
                .live
                .as_ref()
                .and_then(|l| l.borrow().get(key).cloned())
            {
                return Some(Cow::Owned(value));
            }
            layer = scope.parent;
        }
        None
    }

    /// Whether any layer defines `key`.
    #[cfg(test)]
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Scope<'_> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Scope<'static> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut scope = Scope::new();
        scope.extend(iter);
        scope
    }
}

/// Substitutes every tag in `text` as Argo would substitute inside one JSON
/// string field: the result is what that field holds after Argo's
/// marshal-replace-unmarshal round trip.
pub(crate) fn substitute_str(
    text: &str,
    scope: &Scope,
    mode: Mode,
) -> Result<String, TemplateError> {
    if !text.contains(START) {
        return Ok(text.to_owned());
    }
    // JSON escaping never creates or splits a `{{` or `}}`, so checking the
    // raw text gives the same verdict, with an excerpt the user wrote.
    split(text)?;
    let encoded = encode_json(&text)?;
    let replaced = replace_json_text(&encoded, scope, mode)?;
    serde_json::from_str(&replaced).map_err(|err| TemplateError::InvalidJsonResult {
        reason: err.to_string(),
    })
}

/// Substitutes every tag anywhere in `value` — string values and object keys
/// alike — by running Argo's replacement over the value's JSON text, so tags
/// behave exactly as under Argo, including the rare tag that spans two
/// strings. Numbers, booleans and nulls are untouched.
#[cfg(test)]
pub(crate) fn substitute_value(
    value: &Value,
    scope: &Scope,
    mode: Mode,
) -> Result<Value, TemplateError> {
    let encoded = encode_json(value)?;
    if !encoded.contains(START) {
        return Ok(value.clone());
    }
    let replaced = replace_json_text(&encoded, scope, mode)?;
    serde_json::from_str(&replaced).map_err(|err| TemplateError::InvalidJsonResult {
        reason: err.to_string(),
    })
}

/// `expression` (a `valueFrom.expression`, a retry's) over the variables `scope` holds under
/// the names it mentions: its value as Go's `%v` writes it, `None` when nil.
pub(crate) fn evaluate(
    expression: &str,
    scope: &Scope,
) -> Result<Option<String>, crate::ports::ExpressionFailure> {
    match scope.evaluator() {
        Some(evaluator) => evaluator.evaluate(expression, || scope.variables(expression)),
        None => Err(crate::ports::ExpressionFailure {
            message: format!("expressions are not supported by this controller: {expression}"),
            fuel: 0,
            exhausted: true,
        }),
    }
}

impl TemplateError {
    /// Whether an expression hit a bound: an error no default or later pass can stand in for.
    pub(crate) fn exhausted(&self) -> bool {
        matches!(
            self,
            TemplateError::Expression {
                exhausted: true,
                ..
            }
        )
    }
}

/// Whether `text` holds a tag naming the variable `name` (`{{name}}`, `{{ name }}`).
pub(crate) fn names(text: &str, name: &str) -> bool {
    split(text).is_ok_and(|pieces| {
        pieces
            .iter()
            .any(|p| matches!(p, Piece::Tag(tag) if tag.trim() == name))
    })
}

/// One lexical piece of a template, borrowed from its text.
enum Piece<'a> {
    Text(&'a str),
    /// The text strictly between `{{` and the first `}}` after it.
    Tag(&'a str),
}

/// Splits `text` the way fasttemplate does: a tag runs from a `{{` to the
/// first `}}` after it (so tags never nest), and a `{{` with no `}}` after it
/// rejects the whole text before anything is substituted.
fn split(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(START) {
        let (before, from_start) = rest.split_at(start);
        pieces.push(Piece::Text(before));
        let inner = &from_start[START.len()..];
        let Some(end) = inner.find(END) else {
            return Err(TemplateError::MissingEndTag {
                excerpt: from_start.chars().take(ERROR_EXCERPT_CHARS).collect(),
            });
        };
        pieces.push(Piece::Tag(&inner[..end]));
        rest = &inner[end + END.len()..];
    }
    pieces.push(Piece::Text(rest));
    Ok(pieces)
}

/// Argo's `Template.Replace` over JSON text: the heart of this module.
/// Substitutes inside JSON text (as `substitute_value` does after encoding): for callers that
/// keep a template's JSON text and parse the result straight into their own type.
pub(crate) fn substitute_json_text(
    json: &str,
    scope: &Scope,
    mode: Mode,
) -> Result<String, TemplateError> {
    if !json.contains(START) {
        return Ok(json.to_owned());
    }
    replace_json_text(json, scope, mode)
}

fn replace_json_text(json: &str, scope: &Scope, mode: Mode) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(json.len());
    for piece in split(json)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Tag(tag) => replace_tag(&mut out, tag, scope, mode)?,
        }
        if out.len() > MAX_SUBSTITUTED_BYTES {
            return Err(TemplateError::TooLarge {
                limit: MAX_SUBSTITUTED_BYTES,
            });
        }
    }
    Ok(out)
}

/// Writes the replacement for one tag (`tag` is the JSON text between the
/// braces) to `out`.
fn replace_tag(
    out: &mut String,
    tag: &str,
    scope: &Scope,
    mode: Mode,
) -> Result<(), TemplateError> {
    // The kind is decided on the raw tag, as Argo's `parseTag` does, so
    // `{{ =x}}` is a (never resolvable) variable named `=x`, not an expression.
    if let Some(expression) = tag.strip_prefix(EXPRESSION_PREFIX) {
        // The tag is JSON text: its escapes undone, it is what the author wrote.
        let expression = unescape_json_fragment(expression);
        let Some(evaluator) = scope.evaluator() else {
            return match mode {
                Mode::Lenient => {
                    write_back(out, tag);
                    Ok(())
                }
                Mode::Strict => Err(TemplateError::ExpressionUnsupported { expression }),
            };
        };
        // Argo leaves these unresolved until the exit handler's pass defines them, rather than
        // reading a missing status as nil (argo-workflows#10393).
        let undefined = |name: &str| expression.contains(name) && scope.get(name).is_none();
        if mode == Mode::Lenient && (undefined("workflow.status") || undefined("workflow.failures"))
        {
            write_back(out, tag);
            return Ok(());
        }
        return match (
            evaluator.evaluate(&expression, || scope.variables(&expression)),
            mode,
        ) {
            (Ok(Some(value)), _) => push_expression_value(out, &value),
            // A bound hit is no answer a later pass could change: it fails, lenient or not.
            (Err(failure), _) if failure.exhausted => Err(TemplateError::Expression {
                message: failure.message,
                exhausted: true,
            }),
            (_, Mode::Lenient) => {
                write_back(out, tag);
                Ok(())
            }
            (Ok(None), Mode::Strict) => Err(TemplateError::Expression {
                message: format!("failed to evaluate expression: {expression:?} is nil"),
                exhausted: false,
            }),
            (Err(failure), Mode::Strict) => Err(TemplateError::Expression {
                message: failure.message,
                exhausted: false,
            }),
        };
    }
    let name = tag.trim();
    if let Some(value) = scope.get(name) {
        return push_json_escaped(out, &value, name);
    }
    // Argo's nested-tag rule: in `{{outer-{{inner}}` resolve `inner` (exactly
    // as written, untrimmed) and keep the outer opening for a later pass.
    if let Some(index) = tag.rfind(START).filter(|&index| index > 0) {
        let (prefix, nested) = (&tag[..index], &tag[index + START.len()..]);
        if let Some(value) = scope.get(nested) {
            out.push_str(START);
            out.push_str(prefix);
            return push_json_escaped(out, &value, nested);
        }
    }
    match mode {
        Mode::Lenient => {
            write_back(out, tag);
            Ok(())
        }
        Mode::Strict => Err(TemplateError::Unresolved {
            tag: tag.to_owned(),
        }),
    }
}

/// Appends an expression's value escaped for the inside of a JSON string, as Argo writes it
/// (`json.Marshal`: control characters as `\u` escapes, never an error).
fn push_expression_value(out: &mut String, value: &str) -> Result<(), TemplateError> {
    let quoted = serde_json::to_string(value).map_err(|e| TemplateError::InvalidJsonInput {
        reason: e.to_string(),
    })?;
    out.push_str(&quoted[1..quoted.len() - 1]);
    Ok(())
}

fn write_back(out: &mut String, tag: &str) {
    out.push_str(START);
    out.push_str(tag);
    out.push_str(END);
}

/// Appends `value` escaped for the inside of a JSON string.
///
/// Argo escapes with Go's `strconv.Quote`, which agrees with JSON for `"`, `\`, `\n`, `\r`,
/// `\t`, `\b` and `\f` (and writes other characters either verbatim or as a `\u` escape of
/// four hex digits, which JSON reads back unchanged), but writes the remaining ASCII control
/// characters as `\a`, `\v` or `\xNN`. Those are not JSON, so Argo's result fails to parse;
/// we fail the same way, naming the variable and the character.
fn push_json_escaped(out: &mut String, value: &str, name: &str) -> Result<(), TemplateError> {
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => {
                return Err(TemplateError::InvalidJsonResult {
                    reason: format!(
                        "value of {{{{{name}}}}} contains control character U+{:04X}",
                        u32::from(ch)
                    ),
                });
            }
            _ => out.push(ch),
        }
    }
    Ok(())
}

/// Decodes the JSON string escapes in a fragment of JSON text (an
/// expression's source), falling back to the raw fragment if it is not a
/// well-formed string body (e.g. a tag that spans two JSON strings).
fn unescape_json_fragment(fragment: &str) -> String {
    serde_json::from_str(&format!("\"{fragment}\"")).unwrap_or_else(|_| fragment.to_owned())
}

fn encode_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, TemplateError> {
    serde_json::to_string(value).map_err(|err| TemplateError::InvalidJsonInput {
        reason: err.to_string(),
    })
}
