//! The small POSIX shell subset a `sh -c` script may use in the simulator.
//!
//! Supported: simple commands `echo [-n]`, `cat [file...]`, `sleep N[smhd]...`, `exit [N]`, `true`,
//! `false`, `:` (and `cowsay` in images that have it); the separators `;`, newline, `&&`, `||`;
//! output redirection `>` and `>>`; single and double quotes, backslash escapes, `#` comments, and
//! `$NAME` / `${NAME}` from the container's environment. Anything else (pipes, background jobs,
//! subshells, command substitution, control flow, other commands, fd redirections, globs, word
//! splitting) is rejected with a description, so the container fails visibly instead of doing
//! something a real shell would not.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Cmd, Output, When, cowsay, exit_status};
use crate::logs::LogStream;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    /// `;` or a newline.
    Semi,
    AndIf,
    OrIf,
    Great,
    DGreat,
}

/// Parses a script into an and-or list. `cowsay` is `Some(whale)` when the image has cowsay.
pub(super) fn parse(
    script: &str,
    env: &BTreeMap<String, String>,
    cowsay: Option<bool>,
) -> Result<Vec<(When, Cmd)>, String> {
    let tokens = tokenize(script, env)?;
    let mut items = Vec::new();
    let mut when = When::Always;
    let mut words: Vec<String> = Vec::new();
    let mut redirect: Option<Output> = None;
    let mut iter = tokens.into_iter().peekable();
    // True right after `&&`/`||`: a command must follow.
    let mut need_command = false;
    while let Some(token) = iter.next() {
        match token {
            Token::Word(w) => words.push(w),
            Token::Great | Token::DGreat => {
                let Some(Token::Word(target)) = iter.next() else {
                    return Err("syntax error: a redirection needs a file name".to_owned());
                };
                if redirect.is_some() {
                    return Err("more than one redirection on a command".to_owned());
                }
                redirect = Some(redirect_target(target, token == Token::DGreat));
            }
            Token::Semi | Token::AndIf | Token::OrIf => {
                if words.is_empty() {
                    if redirect.is_some() || need_command || token != Token::Semi {
                        return Err("syntax error: a command is missing".to_owned());
                    }
                    continue;
                }
                push_command(&mut items, when, &words, redirect.take(), cowsay)?;
                words.clear();
                need_command = token != Token::Semi;
                when = match token {
                    Token::AndIf => When::IfSucceeded,
                    Token::OrIf => When::IfFailed,
                    _ => When::Always,
                };
            }
        }
    }
    if words.is_empty() {
        if redirect.is_some() || need_command {
            return Err("syntax error: a command is missing".to_owned());
        }
    } else {
        push_command(&mut items, when, &words, redirect, cowsay)?;
    }
    Ok(items)
}

fn redirect_target(path: String, append: bool) -> Output {
    match path.as_str() {
        "/dev/null" => Output::Discard,
        "/dev/stdout" => Output::Stream(LogStream::Stdout),
        "/dev/stderr" => Output::Stream(LogStream::Stderr),
        _ => Output::File { path, append },
    }
}

fn push_command(
    items: &mut Vec<(When, Cmd)>,
    when: When,
    words: &[String],
    redirect: Option<Output>,
    cowsay: Option<bool>,
) -> Result<(), String> {
    if let Some(first) = words.first()
        && let Some((name, _)) = first.split_once('=')
        && is_name(name)
    {
        return Err(format!("variable assignment \"{first}\""));
    }
    let to = redirect.unwrap_or(Output::Stream(LogStream::Stdout));
    let cmd = simple_command(words, to.clone(), cowsay)?;
    // A redirection creates (or truncates) its file even when the command prints nothing.
    if let Output::File { path, append } = &to
        && !matches!(cmd, Cmd::Write { .. } | Cmd::Cat { .. })
    {
        items.push((
            when,
            Cmd::Write {
                to: Output::File {
                    path: path.clone(),
                    append: *append,
                },
                text: String::new(),
            },
        ));
        items.push((When::Always, cmd));
        return Ok(());
    }
    items.push((when, cmd));
    Ok(())
}

/// One simple command (already split into words) with its standard output going to `to`; also
/// used for containers that exec `echo`/`cat`/`sleep`/`true`/`false` directly.
pub(super) fn simple_command(
    words: &[String],
    to: Output,
    cowsay: Option<bool>,
) -> Result<Cmd, String> {
    let Some((name, args)) = words.split_first() else {
        return Err("empty command".to_owned());
    };
    match name.as_str() {
        "echo" => {
            let (newline, args) = match args.split_first() {
                Some((flag, rest)) if flag == "-n" => (false, rest),
                _ => (true, args),
            };
            if let Some(flag) = args.first().filter(|a| {
                a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| "neE".contains(c))
            }) {
                return Err(format!("echo option \"{flag}\""));
            }
            if args.iter().any(|a| a.contains('\\')) {
                return Err("echo with a backslash (shells disagree on escapes)".to_owned());
            }
            let mut text = args.join(" ");
            if newline {
                text.push('\n');
            }
            Ok(Cmd::Write { to, text })
        }
        "cat" => {
            if let Some(flag) = args.iter().find(|a| a.len() > 1 && a.starts_with('-')) {
                return Err(format!("cat option \"{flag}\""));
            }
            // `-` is standard input, which is empty in a container without stdin.
            let files = args.iter().filter(|a| *a != "-").cloned().collect();
            Ok(Cmd::Cat { files, to })
        }
        "sleep" => {
            if args.is_empty() {
                return Err("sleep without an operand".to_owned());
            }
            let mut total = Duration::ZERO;
            for arg in args {
                total += parse_sleep(arg).ok_or_else(|| format!("sleep operand \"{arg}\""))?;
            }
            Ok(Cmd::Sleep(total))
        }
        "exit" => match args {
            [] => Ok(Cmd::Exit(None)),
            [code] if !code.is_empty() && code.chars().all(|c| c.is_ascii_digit()) => {
                let code: i64 = code
                    .parse()
                    .map_err(|_| format!("exit status \"{code}\""))?;
                Ok(Cmd::Exit(Some(exit_status(code))))
            }
            _ => Err(format!("exit {}", args.join(" "))),
        },
        "true" | ":" => Ok(Cmd::Status(0)),
        "false" => Ok(Cmd::Status(1)),
        "cowsay" if cowsay.is_some() => Ok(Cmd::Write {
            to,
            text: cowsay::cowsay(args, cowsay == Some(true)),
        }),
        other => Err(format!("command \"{other}\" is not emulated")),
    }
}

/// `sleep` operands of coreutils/busybox: a decimal number with an optional s, m, h or d suffix.
fn parse_sleep(arg: &str) -> Option<Duration> {
    let (number, scale) = match arg.char_indices().last()? {
        (i, 's') => (&arg[..i], 1.0),
        (i, 'm') => (&arg[..i], 60.0),
        (i, 'h') => (&arg[..i], 3600.0),
        (i, 'd') => (&arg[..i], 86400.0),
        _ => (arg, 1.0),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    Duration::try_from_secs_f64(value * scale).ok()
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits a script into words and operators, doing quote removal and `$NAME` expansion.
fn tokenize(script: &str, env: &BTreeMap<String, String>) -> Result<Vec<Token>, String> {
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
            '<' | '(' | ')' | '`' | '*' | '?' | '[' | '{' | '}' => {
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
        Some(c) if c.is_ascii_digit() || "?#@*!$-(".contains(*c) => {
            return Err(format!("unsupported shell syntax \"${c}\""));
        }
        _ => return Ok(None),
    };
    Ok(Some(env.get(&name).cloned().unwrap_or_default()))
}
