//! The shell's words: quote removal, `$NAME` / `${NAME}` expansion from the container's
//! environment and `$((…))` arithmetic, and the operators the subset knows.

use std::collections::BTreeMap;

use super::arith::arithmetic;
use super::is_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Word(String),
    /// `;` or a newline.
    Semi,
    AndIf,
    OrIf,
    Great,
    DGreat,
}

/// Splits a script into words and operators, doing quote removal and `$NAME` expansion.
pub(super) fn tokenize(script: &str, env: &BTreeMap<String, String>) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = script.chars().peekable();
    let mut word = String::new();
    // A word exists once it has any character or quotes, even if it ends up empty ("").
    let mut in_word = false;
    let unsupported = |what: &str| Err(format!("unsupported shell syntax {what}"));
    macro_rules! finish_word {
        () => {
            if in_word {
                tokens.push(Token::Word(std::mem::take(&mut word)));
                in_word = false;
            }
        };
    }
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => finish_word!(),
            '\n' | ';' => {
                finish_word!();
                if chars.peek() == Some(&';') && c == ';' {
                    return unsupported("\";;\"");
                }
                tokens.push(Token::Semi);
            }
            '#' if !in_word => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '&' => {
                finish_word!();
                if chars.next_if_eq(&'&').is_none() {
                    return unsupported("\"&\"");
                }
                tokens.push(Token::AndIf);
            }
            '|' => {
                finish_word!();
                if chars.next_if_eq(&'|').is_none() {
                    return unsupported("\"|\"");
                }
                tokens.push(Token::OrIf);
            }
            '>' => {
                if in_word && !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
                    return unsupported(&format!("\"{word}>\""));
                }
                finish_word!();
                if chars.peek() == Some(&'&') || chars.peek() == Some(&'|') {
                    return unsupported("\">&\"");
                }
                tokens.push(if chars.next_if_eq(&'>').is_some() {
                    Token::DGreat
                } else {
                    Token::Great
                });
            }
            // `[` and `]` alone are `test`'s words; anywhere else they would be a glob.
            '[' | ']'
                if !in_word && chars.peek().is_none_or(|n| n.is_whitespace() || *n == ';') =>
            {
                tokens.push(Token::Word(c.to_string()));
            }
            '<' | '(' | ')' | '`' | '*' | '?' | '[' | ']' | '{' | '}' => {
                return unsupported(&format!("\"{c}\""));
            }
            '~' if !in_word => return unsupported("\"~\""),
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
                None => return unsupported("\"\\\" at the end"),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err("syntax error: unterminated quoted string".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('$' | '`' | '"' | '\\')) => word.push(ch),
                            Some('\n') => {}
                            Some(ch) => {
                                word.push('\\');
                                word.push(ch);
                            }
                            None => {
                                return Err("syntax error: unterminated quoted string".to_owned());
                            }
                        },
                        Some('$') => {
                            if let Some(value) = expand(&mut chars, env)? {
                                word.push_str(&value);
                            } else {
                                word.push('$');
                            }
                        }
                        Some('`') => return unsupported("\"`\""),
                        Some(ch) => word.push(ch),
                        None => return Err("syntax error: unterminated quoted string".to_owned()),
                    }
                }
            }
            '$' => match expand(&mut chars, env)? {
                Some(value) => {
                    if value
                        .chars()
                        .any(|c| c.is_whitespace() || "*?[".contains(c))
                    {
                        return unsupported("(word splitting of an unquoted variable)");
                    }
                    // An unquoted empty expansion alone makes no word at all.
                    if !value.is_empty() {
                        in_word = true;
                    }
                    word.push_str(&value);
                }
                None => {
                    word.push('$');
                    in_word = true;
                }
            },
            other => {
                word.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        tokens.push(Token::Word(word));
    }
    Ok(tokens)
}

/// After a `$`: `NAME` or `{NAME}` expands to its value (empty when unset); a `$` not followed by a
/// name stays literal (`None`); special parameters and substitutions are rejected.
fn expand(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    env: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    let name = match chars.peek() {
        Some('{') => {
            chars.next();
            let mut name = String::new();
            loop {
                match chars.next() {
                    Some('}') => break,
                    Some(c) => name.push(c),
                    None => return Err("syntax error: missing \"}\"".to_owned()),
                }
            }
            if !is_name(&name) {
                return Err(format!("unsupported shell syntax \"${{{name}}}\""));
            }
            name
        }
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
            let mut name = String::new();
            while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                name.push(c);
            }
            name
        }
        Some('(') => {
            chars.next();
            if chars.next_if_eq(&'(').is_none() {
                return Err("unsupported shell syntax \"$(\"".to_owned());
            }
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some(')') if chars.peek() == Some(&')') => {
                        chars.next();
                        break;
                    }
                    Some(c) => text.push(c),
                    None => return Err("syntax error: missing \"))\"".to_owned()),
                }
            }
            return arithmetic(&text, env).map(|n| Some(n.to_string()));
        }
        Some(c) if c.is_ascii_digit() || "?#@*!$-".contains(*c) => {
            return Err(format!("unsupported shell syntax \"${c}\""));
        }
        _ => return Ok(None),
    };
    Ok(Some(env.get(&name).cloned().unwrap_or_default()))
}
