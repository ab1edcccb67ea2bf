//! What an emulated container "runs": the simulator has no container runtime, so a container's
//! image, command and args are turned into a [`Program`], a short list of commands that print,
//! write and read files in the pod's [`PodFs`], sleep and exit.
//!
//! Emulated, and nothing else:
//! - `argoproj/argosay:v2` as Argo publishes it today: `argosay:v1` (Ubuntu with cowsay) plus the
//!   shell script `/argosay` (argo-workflows `test/e2e/images/argosay/v2/argosay`, its
//!   entrypoint, run with `set -eu`): `echo [text] [file]` (to standard output, or to the file
//!   with a newline), `cat file`, `sleep seconds` (coreutils), `exit [code]`,
//!   `assert_contains file text` (`grep -F`), no arguments = `echo`; anything else exits 1.
//! - `cowsay` in `argoproj/argosay:v1` and v2, and in `docker/whalesay`.
//! - `sh -c SCRIPT` / `bash -c SCRIPT` with the subset in [`sh`], and the plain executables `echo`,
//!   `cat`, `sleep`, `true`, `false` run without a shell, in any image.
//! - Flotilla's executor around a container (`flotilla-executor run|sidecar -- COMMAND…`): what it
//!   wraps, and (see [`wrapper`]) the file by which main's executor stops the sidecars.
//!
//! Anything else cannot start; [`program_for`] says so in a [`NotEmulated`] message that the
//! lifecycle shows as the container's terminated message with exit code 127. The pure interpreter
//! ([`Execution`]) yields one [`Action`] at a time so the I/O side can timestamp output and sleep.

mod cowsay;
mod run;
mod sh;

use std::collections::BTreeMap;
use std::time::Duration;

use super::fs::PodFs;
use crate::logs::LogStream;

pub(crate) use run::Execution;

/// Exit code of a container whose command the simulator cannot run (the shell's "not found").
pub(crate) const NOT_EMULATED_EXIT_CODE: i32 = 127;

/// The container's command is outside what the simulator emulates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct NotEmulated {
    pub(crate) message: String,
}

/// Which emulated image a container uses; decides entrypoint and what is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageKind {
    /// argoproj/argosay:v2 and later: a Go binary as entrypoint, no shell.
    Argosay,
    /// argoproj/argosay:v1 (Ubuntu with cowsay, `CMD ["cowsay"]`) or another cowsay image.
    Cowsay,
    /// docker/whalesay: Ubuntu with a whale-drawing cowsay.
    Whalesay,
    /// Any other image: assumed to have a POSIX shell and coreutils.
    Other,
}

fn image_kind(image: &str) -> ImageKind {
    let without_digest = image.split('@').next().unwrap_or(image);
    let (repo, tag) = match without_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (without_digest, "latest"),
    };
    let mut parts: Vec<&str> = repo.split('/').collect();
    if parts.len() > 1
        && parts
            .first()
            .is_some_and(|p| p.contains('.') || p.contains(':') || *p == "localhost")
    {
        parts.remove(0);
    }
    match parts.as_slice() {
        ["argoproj", "argosay"] if tag == "v1" => ImageKind::Cowsay,
        ["argoproj", "argosay"] => ImageKind::Argosay,
        ["docker", "whalesay"] => ImageKind::Whalesay,
        [.., "cowsay"] => ImageKind::Cowsay,
        _ => ImageKind::Other,
    }
}

/// When an item of an and-or list runs, given the previous status (`;`, `&&`, `||`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    IfSucceeded,
    IfFailed,
}

/// Where a command's standard output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    Stream(LogStream),
    File { path: String, append: bool },
    Discard,
}

/// One emulated command.
#[derive(Debug, Clone, PartialEq)]
enum Cmd {
    /// Writes text; status 0.
    Write {
        to: Output,
        text: String,
    },
    /// Concatenates files to `to`; a missing file is reported as `cat` reports it.
    Cat {
        files: Vec<String>,
        to: Output,
    },
    Sleep(Duration),
    /// Sets the status without output (`true`, `false`, a failed utility after its message).
    Status(i32),
    /// Ends the program with this code, or with the last status when `None`.
    Exit(Option<i32>),
    /// `grep -F pattern path`: the lines holding `pattern` to standard output; status 0, 1
    /// when none does, 2 when the file is missing.
    Grep {
        path: String,
        pattern: String,
    },
    /// `test` / `[`: status 0 when the condition holds, else 1.
    Test(Condition),
    /// `touch file...`: creates the files that do not exist; status 0.
    Touch(Vec<String>),
    /// Goes on at this item when the status is not 0 (the shell's `if` and `elif`).
    JumpIfFailed(usize),
    /// Goes on at this item (the end of an `if` once a branch has run).
    Jump(usize),
}

/// What `test` checks: files are looked at when it runs, everything else is known when the
/// script is read.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Known(bool),
    /// `-e`/`-f` (`nonempty`: `-s`) of a path.
    File {
        path: String,
        nonempty: bool,
    },
    Not(Box<Condition>),
}

impl Condition {
    fn holds(&self, container: &str, fs: &PodFs) -> bool {
        match self {
            Condition::Known(b) => *b,
            Condition::File { path, nonempty } => fs
                .read(container, path)
                .is_some_and(|data| !*nonempty || !data.is_empty()),
            Condition::Not(c) => !c.holds(container, fs),
        }
    }
}

/// What a container runs: an and-or list of commands.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Program {
    items: Vec<(When, Cmd)>,
}

/// The part Flotilla's executor plays around the command it wraps: `run` (main) leaves the
/// file `main-exited` next to its binary once the command has ended; `sidecar` ends the
/// command, exiting 0, once that file appears.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Wrapper {
    /// The file to leave once the command has ended (`run`).
    pub(crate) leaves: Option<String>,
    /// The file whose appearance stops the command (`sidecar`).
    pub(crate) stops_at: Option<String>,
}

/// The file Flotilla's executor leaves for the sidecars when main has ended
/// (`flotilla_executor::sidecar::MAIN_EXITED`), next to its own binary.
pub const MAIN_EXITED: &str = "main-exited";

/// The next thing a running program does, as the I/O side must carry it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Output(LogStream, String),
    Sleep(Duration),
    /// The program has finished with this exit code (already in 0..=255).
    Exit(i32),
}

/// Builds the program a container runs. `command` and `args` are the container's, with Kubernetes'
/// `$(VAR)` references already expanded; `env` is the container's environment (for `$VAR` in scripts).
pub(crate) fn program_for(
    image: &str,
    command: &[String],
    args: &[String],
    env: &BTreeMap<String, String>,
) -> Result<Program, NotEmulated> {
    // Flotilla's executor wraps workflow containers: `flotilla-executor install PATH` (its init
    // container) copies the binary, `flotilla-executor run -- CMD…` runs CMD and reports outputs
    // (the kubelet's exit hook plays that part). Emulate what it wraps.
    let whole: Vec<&String> = command.iter().chain(args).collect();
    if let [program, verb, rest @ ..] = whole.as_slice()
        && program.rsplit('/').next() == Some("flotilla-executor")
    {
        match verb.as_str() {
            "install" => return Ok(Program::default()),
            "run" | "sidecar" => {
                let mut inner: Vec<String> = rest
                    .iter()
                    .skip_while(|a| a.as_str() == "--")
                    .map(|a| a.to_string())
                    .collect();
                // A script template: the executor writes the source to a file and runs the
                // interpreter on it; for a shell that is `sh -c SOURCE`.
                if let Some(source) = env.get("ARGO_SCRIPT_SOURCE")
                    && matches!(
                        inner.first().and_then(|p| p.rsplit('/').next()),
                        Some("sh" | "bash")
                    )
                {
                    inner.truncate(1);
                    inner.push("-c".into());
                    inner.push(source.clone());
                }
                return program_for(image, &inner, &[], env);
            }
            _ => {}
        }
    }
    let kind = image_kind(image);
    let argv: Vec<String> = match (kind, command.is_empty()) {
        (_, false) => command.iter().chain(args).cloned().collect(),
        (ImageKind::Argosay, true) => std::iter::once("/argosay".to_owned())
            .chain(args.iter().cloned())
            .collect(),
        (ImageKind::Cowsay, true) if args.is_empty() => vec!["cowsay".to_owned()],
        (_, true) => args.to_vec(),
    };
    let not_emulated = |detail: Option<String>| {
        let what = if argv.is_empty() {
            "the default command".to_owned()
        } else {
            format!("\"{}\"", argv.join(" "))
        };
        let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
        NotEmulated {
            message: format!(
                "simulated kubelet cannot run {what} in image \"{image}\": only argosay, whalesay and simple sh -c scripts are emulated{detail}"
            ),
        }
    };
    let Some((program, rest)) = argv.split_first() else {
        return Err(not_emulated(None));
    };
    let base = program.rsplit('/').next().unwrap_or(program);
    let items = match base {
        "argosay" if kind == ImageKind::Argosay => {
            argosay(rest).map_err(|e| not_emulated(Some(e)))?
        }
        "cowsay"
            if matches!(
                kind,
                ImageKind::Cowsay | ImageKind::Whalesay | ImageKind::Argosay
            ) =>
        {
            vec![(
                When::Always,
                Cmd::Write {
                    to: stdout(),
                    text: cowsay::cowsay(rest, kind == ImageKind::Whalesay),
                },
            )]
        }
        "sh" | "bash" => match rest {
            [flag, script, ..] if flag == "-c" => {
                let cowsay = matches!(kind, ImageKind::Cowsay | ImageKind::Whalesay)
                    .then_some(kind == ImageKind::Whalesay);
                sh::parse(script, env, cowsay).map_err(|e| not_emulated(Some(e)))?
            }
            _ => return Err(not_emulated(None)),
        },
        "echo" | "cat" | "sleep" | "true" | "false" => {
            let words: Vec<String> = std::iter::once(base.to_owned())
                .chain(rest.iter().cloned())
                .collect();
            vec![(
                When::Always,
                sh::simple_command(&words, Output::Stream(LogStream::Stdout), None)
                    .map_err(|e| not_emulated(Some(e)))?,
            )]
        }
        _ => return Err(not_emulated(None)),
    };
    Ok(Program { items })
}

/// What Flotilla's executor adds around the command of a container run as `command` + `args`.
pub(crate) fn wrapper(command: &[String], args: &[String]) -> Wrapper {
    let whole: Vec<&String> = command.iter().chain(args).collect();
    let [program, verb, ..] = whole.as_slice() else {
        return Wrapper::default();
    };
    if program.rsplit('/').next() != Some("flotilla-executor") {
        return Wrapper::default();
    }
    let marker = match program.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{MAIN_EXITED}"),
        None => MAIN_EXITED.to_owned(),
    };
    match verb.as_str() {
        "run" => Wrapper {
            leaves: Some(marker),
            stops_at: None,
        },
        "sidecar" => Wrapper {
            leaves: None,
            stops_at: Some(marker),
        },
        _ => Wrapper::default(),
    }
}

fn stdout() -> Output {
    Output::Stream(LogStream::Stdout)
}

/// `argoproj/argosay:v2` as Argo publishes it today: `argosay:v1` (Ubuntu with cowsay, so a
/// shell and coreutils) plus the shell script `/argosay` as its entrypoint (argo-workflows
/// `test/e2e/images/argosay/v2/argosay`, run with `set -eu`). `echo` writes to standard output,
/// so `outputs.result` of `argosay echo x` is `x`; `sleep` is coreutils' (plain seconds). An
/// unset operand fails as the shell fails it (dash's line numbers left out); `sh FILE` is not
/// emulated.
fn argosay(args: &[String]) -> Result<Vec<(When, Cmd)>, String> {
    let words = |w: &[&str]| -> Vec<String> { w.iter().map(|s| (*s).to_owned()).collect() };
    let run = |w: Vec<String>, to: Output| sh::simple_command(&w, to, None);
    let unset = |n: usize| {
        vec![
            (
                When::Always,
                Cmd::Write {
                    to: Output::Stream(LogStream::Stderr),
                    text: format!("/argosay: {n}: parameter not set\n"),
                },
            ),
            (When::Always, Cmd::Exit(Some(2))),
        ]
    };
    let one = |cmd: Cmd| vec![(When::Always, cmd)];
    let Some((sub, rest)) = args.split_first() else {
        return Ok(one(run(words(&["echo", "hello argo"]), stdout())?));
    };
    Ok(match (sub.as_str(), rest) {
        ("echo", []) => one(run(words(&["echo", "hello argo"]), stdout())?),
        ("echo", [text]) => one(run(words(&["echo", text]), stdout())?),
        ("echo", [text, file]) => {
            let to = Output::File {
                path: file.clone(),
                append: false,
            };
            vec![
                (When::Always, run(words(&["echo", text]), to)?),
                (When::IfSucceeded, Cmd::Sleep(Duration::from_millis(100))),
            ]
        }
        // `case $#` has no branch for more (its `default)` is a literal pattern): nothing runs.
        ("echo", _) => one(Cmd::Status(0)),
        ("cat", []) => unset(2),
        ("cat", [file, ..]) => one(Cmd::Cat {
            files: vec![file.clone()],
            to: stdout(),
        }),
        ("exit", []) => one(Cmd::Exit(Some(0))),
        ("exit", [code, ..]) => match code.parse::<i64>() {
            Ok(n) if code.chars().all(|c| c.is_ascii_digit()) => {
                one(Cmd::Exit(Some(exit_status(n))))
            }
            _ => vec![
                (
                    When::Always,
                    Cmd::Write {
                        to: Output::Stream(LogStream::Stderr),
                        text: format!("/argosay: exit: Illegal number: {code}\n"),
                    },
                ),
                (When::Always, Cmd::Exit(Some(2))),
            ],
        },
        ("sleep", []) => unset(2),
        ("sleep", [duration, ..]) => match run(words(&["sleep", duration]), stdout()) {
            Ok(cmd) => one(cmd),
            Err(_) => vec![
                (
                    When::Always,
                    Cmd::Write {
                        to: Output::Stream(LogStream::Stderr),
                        text: format!("sleep: invalid time interval '{duration}'\n"),
                    },
                ),
                (When::Always, Cmd::Exit(Some(1))),
            ],
        },
        ("assert_contains", [] | [_]) => unset(rest.len() + 2),
        ("assert_contains", [path, pattern, ..]) => one(Cmd::Grep {
            path: path.clone(),
            pattern: pattern.clone(),
        }),
        ("sh", _) => return Err("argosay sh runs a script file".to_owned()),
        _ => one(Cmd::Exit(Some(1))),
    })
}

/// The status a process exit code becomes (`os.Exit(256)` is seen as 0, `-1` as 255).
fn exit_status(code: i64) -> i32 {
    i32::try_from(code.rem_euclid(256)).unwrap_or(255)
}

#[cfg(test)]
mod tests;
