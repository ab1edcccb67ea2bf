//! A lexical pass over an expression's text, outside its string literals.
//!
//! Argo calls sprig's functions as `sprig.trim(x)`: a function held in a map. expr-lang parses
//! that as a method call on the variable `sprig`, which it cannot dispatch, so the call is
//! renamed to a plain function (`__sprig_trim(x)`) before parsing, and the name is restored in
//! messages. The same pass lists the functions an expression calls, for [`crate::check`].

/// The prefix a `sprig.<name>(` call is renamed to.
pub(crate) const SPRIG: &str = "__sprig_";

/// Words of the grammar that may be followed by `(` without being a call.
const KEYWORDS: [&str; 13] = [
    "if",
    "else",
    "not",
    "in",
    "and",
    "or",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "let",
    "true",
    "false",
];

/// One token that matters here.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    /// An identifier, and where it starts.
    Ident(&'a str, usize),
    /// Any other character outside a string literal.
    Punct(char, usize),
}

/// The identifiers and punctuation of `text`, string literals, comments and whitespace skipped.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '/' if text[at..].starts_with("//") => {
                while chars.next_if(|&(_, d)| d != '\n').is_some() {}
            }
            '/' if text[at..].starts_with("/*") => {
                chars.next();
                let mut last = ' ';
                for (_, d) in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
            }
            '"' | '\'' | '`' => {
                // A literal runs to its unescaped closing quote (backquoted ones have no escapes).
                while let Some((_, d)) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '$' || c == '#' => {
                let mut end = at + c.len_utf8();
                while let Some(&(i, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        end = i + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Ident(&text[at..end], at));
            }
            c if c.is_ascii_digit() => {
                // A number (with `.`, exponent or `_`): never an identifier's start.
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => {}
            c => out.push(Token::Punct(c, at)),
        }
    }
    out
}

/// Whether token `i` follows a member `.` (not the range operator `..`).
fn member(tokens: &[Token<'_>], i: usize) -> bool {
    let dot = |j: usize| matches!(tokens.get(j), Some(Token::Punct('.', _)));
    i > 0 && dot(i - 1) && !(i > 1 && dot(i - 2))
}

/// `text` with each `sprig.<name>(` renamed to `__sprig_<name>(`.
pub(crate) fn rewrite(text: &str) -> String {
    let tokens = tokens(text);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (i, token) in tokens.iter().enumerate() {
        let Token::Ident("sprig", at) = *token else {
            continue;
        };
        let after_member = member(&tokens, i);
        let call = match tokens.get(i + 1..i + 4) {
            Some(
                [
                    Token::Punct('.', _),
                    Token::Ident(name, name_at),
                    Token::Punct('(', _),
                ],
            ) => Some((*name, *name_at)),
            _ => None,
        };
        if let (false, Some((name, name_at))) = (after_member, call) {
            out.push_str(&text[copied..at]);
            out.push_str(SPRIG);
            out.push_str(name);
            copied = name_at + name.len();
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The names of the functions `text` (rewritten) calls, in order, each once.
pub(crate) fn called(text: &str) -> Vec<String> {
    let tokens = tokens(text);
    let mut out: Vec<String> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Ident(name, _) = *token else {
            continue;
        };
        let method = member(&tokens, i);
        let call = matches!(tokens.get(i + 1), Some(Token::Punct('(', _)));
        if call && !method && !KEYWORDS.contains(&name) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// A message about rewritten text, in the names the author wrote.
pub(crate) fn restore(message: &str) -> String {
    message.replace(SPRIG, "sprig.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprig_calls_become_plain_functions() {
        assert_eq!(rewrite("sprig.trim(x)"), "__sprig_trim(x)");
        assert_eq!(
            rewrite("sprig.add(1, sprig . int(y)) + 1"),
            "__sprig_add(1, __sprig_int(y)) + 1"
        );
    }

    #[test]
    fn ranges_and_comments_do_not_hide_a_call() {
        assert_eq!(rewrite("0..sprig.int(n)"), "0..__sprig_int(n)");
        assert_eq!(
            rewrite("/* it's */ sprig.trim(x) // sprig.upper(y)\n+ 'a'"),
            "/* it's */ __sprig_trim(x) // sprig.upper(y)\n+ 'a'"
        );
        assert_eq!(called("1..f(2) // g(3)"), ["f"]);
    }

    #[test]
    fn literals_and_members_named_sprig_are_left_alone() {
        for text in [
            "'sprig.trim(x)'",
            "\"a \\\" sprig.trim(x)\"",
            "`sprig.trim(x)`",
            "a.sprig.trim(x)",
            "sprig.trim",
            "sprigs.trim(x)",
        ] {
            assert_eq!(rewrite(text), text);
        }
    }

    #[test]
    fn calls_are_listed_once_without_methods_or_keywords() {
        assert_eq!(
            called("asInt(x) + foo(1) + foo(2) + x.Year() + (if (a) { 1 } else { 2 })"),
            ["asInt", "foo"]
        );
        assert_eq!(called("x in (1..2) && 'f(x)' != ''"), Vec::<String>::new());
        assert_eq!(called("1e5(x)"), Vec::<String>::new());
    }
}
