//! The small POSIX shell subset a `sh -c` script may use in the simulator.
//!
//! Supported: simple commands `echo [-n]`, `cat [file...]`, `sleep N[smhd]...`, `exit [N]`, `true`,
//! `false`, `:`, `test`/`[` (`-e`, `-f`, `-s`, `-z`, `-n`, `=`, `!=`, `-eq`, `-ne`, `-lt`, `-le`,
//! `-gt`, `-ge`, `!`), `touch`, `mkdir [-p]` (directories are implicit in the pod's files), and
//! `cowsay` in images that have it; `if … then … [elif … then …] [else …] fi`; the separators
//! `;`, newline, `&&`, `||`; output redirection `>` and `>>`; single and double quotes, backslash
//! escapes, `#` comments, `$NAME` / `${NAME}` from the container's environment and arithmetic
//! `$((…))` over integers and those variables. Anything else (pipes, background jobs,
//! subshells, command substitution, loops, variable assignment, other commands, fd
//! redirections, globs, word splitting) is rejected with a description, so the container fails
//! visibly instead of doing something a real shell would not.

mod arith;
mod lex;

use std::collections::BTreeMap;
use std::time::Duration;

use self::lex::{Token, tokenize};
use super::{Cmd, Condition, Output, When, cowsay, exit_status};
use crate::logs::LogStream;

/// Parses a script into an and-or list. `cowsay` is `Some(whale)` when the image has cowsay.
pub(super) fn parse(
    script: &str,
    env: &BTreeMap<String, String>,
    cowsay: Option<bool>,
) -> Result<Vec<(When, Cmd)>, String> {
    let tokens = tokenize(script, env)?;
    let mut parser = Parser {
        tokens: tokens.into_iter().peekable(),
        cowsay,
        depth: 0,
    };
    let mut items = Vec::new();
    match parser.list(&mut items, &[])? {
        None => Ok(items),
        Some(word) => Err(format!("syntax error: unexpected \"{word}\"")),
    }
}

/// How deeply `if`s may nest.
const MAX_NESTING: usize = 32;

/// The shell's reserved words that end a list inside an `if`.
const RESERVED: [&str; 5] = ["if", "then", "elif", "else", "fi"];

struct Parser {
    tokens: std::iter::Peekable<std::vec::IntoIter<Token>>,
    cowsay: Option<bool>,
    depth: usize,
}

impl Parser {
    /// Commands separated by `;`, newlines, `&&` and `||`, appended to `items`, up to a
    /// reserved word in `stop` at a command's start (consumed and returned) or the end (`None`).
    fn list(
        &mut self,
        items: &mut Vec<(When, Cmd)>,
        stop: &[&str],
    ) -> Result<Option<String>, String> {
        let mut when = When::Always;
        // True right after `&&`/`||`: a command must follow.
        let mut need_command = false;
        loop {
            match self.tokens.peek() {
                None => {
                    if need_command {
                        return Err("syntax error: a command is missing".to_owned());
                    }
                    return Ok(None);
                }
                Some(Token::Semi) if !need_command => {
                    self.tokens.next();
                    continue;
                }
                Some(Token::Word(w)) if stop.contains(&w.as_str()) && !need_command => {
                    let word = w.clone();
                    self.tokens.next();
                    return Ok(Some(word));
                }
                Some(Token::Word(w)) if w == "if" => {
                    if when != When::Always {
                        return Err("unsupported shell syntax \"if\" after && or ||".to_owned());
                    }
                    self.tokens.next();
                    self.if_clause(items)?;
                }
                Some(Token::Word(w)) if RESERVED.contains(&w.as_str()) => {
                    return Err(format!("syntax error: unexpected \"{w}\""));
                }
                Some(_) => self.simple(items, when)?,
            }
            need_command = false;
            when = match self.tokens.next() {
                None => return Ok(None),
                Some(Token::Semi) => When::Always,
                Some(Token::AndIf) => {
                    need_command = true;
                    When::IfSucceeded
                }
                Some(Token::OrIf) => {
                    need_command = true;
                    When::IfFailed
                }
                Some(other) => return Err(format!("syntax error near {other:?}")),
            };
        }
    }

    /// A simple command: words and at most one redirection, up to a separator.
    fn simple(&mut self, items: &mut Vec<(When, Cmd)>, when: When) -> Result<(), String> {
        let mut words: Vec<String> = Vec::new();
        let mut redirect: Option<Output> = None;
        while let Some(token) = self
            .tokens
            .next_if(|t| matches!(t, Token::Word(_) | Token::Great | Token::DGreat))
        {
            match token {
                Token::Word(w) => words.push(w),
                Token::Great | Token::DGreat => {
                    let Some(Token::Word(target)) = self.tokens.next() else {
                        return Err("syntax error: a redirection needs a file name".to_owned());
                    };
                    if redirect.is_some() {
                        return Err("more than one redirection on a command".to_owned());
                    }
                    redirect = Some(redirect_target(target, token == Token::DGreat));
                }
                _ => unreachable!("only words and redirections are taken"),
            }
        }
        if words.is_empty() {
            return Err("syntax error: a command is missing".to_owned());
        }
        push_command(items, when, &words, redirect, self.cowsay)
    }

    /// After `if`: the condition, `then` and its list, any `elif`s, an `else`, `fi`. The status
    /// after `fi` is the branch's, or 0 when no branch ran.
    fn if_clause(&mut self, items: &mut Vec<(When, Cmd)>) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("more than {MAX_NESTING} nested ifs"));
        }
        let mut to_end = Vec::new();
        loop {
            if self.list(items, &["then"])?.is_none() {
                return Err("syntax error: \"if\" without \"then\"".to_owned());
            }
            let skip = items.len();
            items.push((When::Always, Cmd::JumpIfFailed(usize::MAX)));
            let ended_by = self.list(items, &["elif", "else", "fi"])?;
            to_end.push(items.len());
            items.push((When::Always, Cmd::Jump(usize::MAX)));
            items[skip].1 = Cmd::JumpIfFailed(items.len());
            match ended_by.as_deref() {
                Some("elif") => continue,
                Some("else") => {
                    if self.list(items, &["fi"])?.is_none() {
                        return Err("syntax error: \"else\" without \"fi\"".to_owned());
                    }
                }
                Some("fi") => items.push((When::Always, Cmd::Status(0))),
                _ => return Err("syntax error: \"if\" without \"fi\"".to_owned()),
            }
            break;
        }
        let end = items.len();
        for at in to_end {
            items[at].1 = Cmd::Jump(end);
        }
        self.depth -= 1;
        Ok(())
    }
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
                let d = parse_sleep(arg).ok_or_else(|| format!("sleep operand \"{arg}\""))?;
                total = total.saturating_add(d);
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
        "test" => test(args),
        "[" => match args.split_last() {
            Some((last, inner)) if last == "]" => test(inner),
            _ => Err("syntax error: \"[\" without \"]\"".to_owned()),
        },
        "touch" => {
            if let Some(flag) = args.iter().find(|a| a.starts_with('-')) {
                return Err(format!("touch option \"{flag}\""));
            }
            if args.is_empty() {
                return Err("touch without a file".to_owned());
            }
            Ok(Cmd::Touch(args.to_vec()))
        }
        // Directories are implicit in the pod's files: creating one changes nothing seen.
        "mkdir" => match args {
            [] => Err("mkdir without a directory".to_owned()),
            _ if args.iter().any(|a| a.starts_with('-') && a != "-p") => {
                Err(format!("mkdir {}", args.join(" ")))
            }
            _ => Ok(Cmd::Status(0)),
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

/// `test`'s operands (already expanded): what they check, with files looked at when it runs.
fn test(args: &[String]) -> Result<Cmd, String> {
    Ok(Cmd::Test(condition(args)?))
}

fn condition(args: &[String]) -> Result<Condition, String> {
    let integer = |s: &str| {
        s.trim()
            .parse::<i64>()
            .map_err(|_| format!("test: {s}: integer expression expected"))
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Leading `!`s, counted rather than recursed into (a script may hold any number).
    let negations = args.iter().take_while(|a| **a == "!").count();
    if negations > 0 && negations < args.len() {
        let rest: Vec<String> = args[negations..].iter().map(|s| s.to_string()).collect();
        let inner = condition(&rest)?;
        return Ok(if negations % 2 == 1 {
            Condition::Not(Box::new(inner))
        } else {
            inner
        });
    }
    Ok(match args.as_slice() {
        [] => Condition::Known(false),
        [one] => Condition::Known(!one.is_empty()),
        ["-n", s] => Condition::Known(!s.is_empty()),
        ["-z", s] => Condition::Known(s.is_empty()),
        ["-e" | "-f", path] => Condition::File {
            path: path.to_string(),
            nonempty: false,
        },
        ["-s", path] => Condition::File {
            path: path.to_string(),
            nonempty: true,
        },
        [a, "=" | "==", b] => Condition::Known(a == b),
        [a, "!=", b] => Condition::Known(a != b),
        [a, op @ ("-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge"), b] => {
            let (a, b) = (integer(a)?, integer(b)?);
            Condition::Known(match *op {
                "-eq" => a == b,
                "-ne" => a != b,
                "-lt" => a < b,
                "-le" => a <= b,
                "-gt" => a > b,
                _ => a >= b,
            })
        }
        _ => return Err(format!("test {}", args.join(" "))),
    })
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

pub(super) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
