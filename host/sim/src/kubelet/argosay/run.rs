//! The pure interpreter: steps a [`Program`] one observable [`Action`] at a time.

use super::{Action, Cmd, Output, Program, When};
use crate::kubelet::fs::PodFs;
use crate::logs::LogStream;

/// A program being run: call [`Execution::next`] until it returns [`Action::Exit`].
#[derive(Debug, Clone)]
pub(crate) struct Execution {
    program: Program,
    pc: usize,
    /// What the current command still has to do before the program goes on at `pc` (a message
    /// after its output, then its status), first first.
    pending: std::collections::VecDeque<Cmd>,
    status: i32,
    /// Set once the program has ended; later calls keep returning the same exit.
    exited: Option<i32>,
}

impl Execution {
    pub(crate) fn new(program: Program) -> Self {
        Self {
            program,
            pc: 0,
            pending: std::collections::VecDeque::new(),
            status: 0,
            exited: None,
        }
    }

    /// Runs the program up to its next observable action. Files are read and written in `fs` as
    /// `container` sees it.
    pub(crate) fn next(&mut self, container: &str, fs: &mut PodFs) -> Action {
        loop {
            if let Some(code) = self.exited {
                return Action::Exit(code);
            }
            if let Some(cmd) = self.pending.pop_front() {
                if let Some(action) = self.run(cmd, container, fs) {
                    return action;
                }
                continue;
            }
            let Some((when, cmd)) = self.program.items.get(self.pc).cloned() else {
                self.exited = Some(self.status);
                continue;
            };
            self.pc += 1;
            let runs = match when {
                When::Always => true,
                When::IfSucceeded => self.status == 0,
                When::IfFailed => self.status != 0,
            };
            if !runs {
                continue;
            }
            if let Some(action) = self.run(cmd, container, fs) {
                return action;
            }
        }
    }

    fn run(&mut self, cmd: Cmd, container: &str, fs: &mut PodFs) -> Option<Action> {
        match cmd {
            Cmd::Write { to, text } => {
                self.status = 0;
                emit(to, text, container, fs)
            }
            Cmd::Cat { files, to } => {
                let mut out = String::new();
                let mut errors = String::new();
                self.status = 0;
                for file in &files {
                    match fs.read(container, file) {
                        Some(data) => out.push_str(&String::from_utf8_lossy(data)),
                        None => {
                            errors.push_str(&format!("cat: {file}: No such file or directory\n"));
                            self.status = 1;
                        }
                    }
                }
                if !errors.is_empty() {
                    self.pending.push_back(Cmd::Write {
                        to: Output::Stream(LogStream::Stderr),
                        text: errors,
                    });
                    self.pending.push_back(Cmd::Status(self.status));
                }
                if out.is_empty() {
                    None
                } else {
                    emit(to, out, container, fs)
                }
            }
            Cmd::Sleep(duration) => {
                self.status = 0;
                Some(Action::Sleep(duration))
            }
            Cmd::Status(status) => {
                self.status = status;
                None
            }
            Cmd::Exit(code) => {
                let code = code.unwrap_or(self.status);
                self.exited = Some(code);
                Some(Action::Exit(code))
            }
            Cmd::Grep { path, pattern } => {
                let Some(data) = fs.read(container, &path) else {
                    self.pending.push_back(Cmd::Status(2));
                    return Some(Action::Output(
                        LogStream::Stderr,
                        format!("grep: {path}: No such file or directory\n"),
                    ));
                };
                let data = String::from_utf8_lossy(data);
                let found: String = data
                    .lines()
                    .filter(|line| line.contains(&pattern))
                    .map(|line| format!("{line}\n"))
                    .collect();
                self.status = if found.is_empty() { 1 } else { 0 };
                (!found.is_empty()).then_some(Action::Output(LogStream::Stdout, found))
            }
            Cmd::Test(condition) => {
                self.status = if condition.holds(container, fs) { 0 } else { 1 };
                None
            }
            Cmd::Touch(files) => {
                for file in files {
                    fs.write(container, &file, b"", true);
                }
                self.status = 0;
                None
            }
            Cmd::JumpIfFailed(target) => {
                if self.status != 0 {
                    self.pc = target;
                }
                None
            }
            Cmd::Jump(target) => {
                self.pc = target;
                None
            }
        }
    }
}

fn emit(to: Output, text: String, container: &str, fs: &mut PodFs) -> Option<Action> {
    match to {
        Output::Stream(stream) => Some(Action::Output(stream, text)),
        Output::File { path, append } => {
            fs.write(container, &path, text.as_bytes(), append);
            None
        }
        Output::Discard => None,
    }
}
