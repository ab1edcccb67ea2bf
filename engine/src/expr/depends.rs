//! A DAG task's `depends` expression (and the legacy `dependencies` list it generalises).
//!
//! Argo finds the task names with a regular expression, rewrites every bare name `A` to
//! `(A.Succeeded || A.Skipped || A.Daemoned)` (plus `A.Errored`/`A.Failed` when `A` has
//! `continueOn`), and evaluates the result with expr-lang once all named tasks are fulfilled.
//! Because any word is taken as a task name, the only operators that survive are `&&`, `||`, `!`
//! and parentheses, which is exactly the grammar parsed here:
//!
//! ```text
//! or      := and ( '||' and )*
//! and     := unary ( '&&' unary )*
//! unary   := '!' unary | '(' or ')' | operand
//! operand := NAME ( '.' RESULT )?          NAME := [a-zA-Z0-9][-a-zA-Z0-9]*
//! ```

use std::fmt;

use super::{ExprError, Result, check_complexity};

/// Message Argo puts on a task node whose `depends` evaluated false.
pub(crate) const OMITTED_MESSAGE: &str = "omitted: depends condition not met";

/// A result property a `depends` operand can test (`A.Failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TaskResult {
    Succeeded,
    Failed,
    Errored,
    Skipped,
    Omitted,
    Daemoned,
    /// A fanned-out task (`withItems`/`withParam`/`withSequence`) with at least one child Succeeded.
    AnySucceeded,
    /// A fanned-out task with at least one child, every one of them Failed.
    AllFailed,
}

impl TaskResult {
    const ALL: [TaskResult; 8] = [
        TaskResult::Succeeded,
        TaskResult::Failed,
        TaskResult::Errored,
        TaskResult::Skipped,
        TaskResult::Omitted,
        TaskResult::Daemoned,
        TaskResult::AnySucceeded,
        TaskResult::AllFailed,
    ];

    /// The spelling used in `depends` (`Succeeded`, `AnySucceeded`…).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TaskResult::Succeeded => "Succeeded",
            TaskResult::Failed => "Failed",
            TaskResult::Errored => "Errored",
            TaskResult::Skipped => "Skipped",
            TaskResult::Omitted => "Omitted",
            TaskResult::Daemoned => "Daemoned",
            TaskResult::AnySucceeded => "AnySucceeded",
            TaskResult::AllFailed => "AllFailed",
        }
    }

    fn from_name(name: &str) -> Option<TaskResult> {
        TaskResult::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether the result is about a fanned-out task's children (Argo validation requires the
    /// dependency to have items).
    pub(crate) fn needs_items(self) -> bool {
        matches!(self, TaskResult::AnySucceeded | TaskResult::AllFailed)
    }
}

/// The phase of a dependency's node, as far as `depends` cares (Argo's `NodePhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Error,
    Skipped,
    Omitted,
}

impl Phase {
    /// Argo's `NodePhase.Fulfilled`: finished, skipped or omitted.
    fn fulfilled(self) -> bool {
        matches!(
            self,
            Phase::Succeeded | Phase::Failed | Phase::Error | Phase::Skipped | Phase::Omitted
        )
    }
}

/// A dependency task's `continueOn`: which failures a bare `A` (or a `dependencies` entry) lets
/// through. Argo's validation forbids `continueOn` in a DAG that uses `depends`, so in practice this
/// only widens the legacy list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ContinueOn {
    pub(crate) error: bool,
    pub(crate) failed: bool,
}

/// What the engine observed about one dependency task, for [`DependsExpr::evaluate`].
///
/// Build it with [`TaskState::not_created`] or [`TaskState::node`] and the `with_*` methods, so
/// that a forgotten field cannot make a task wait forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskState {
    /// Phase of the task's node (for a fanned-out task, of its TaskGroup node); `None` while the
    /// engine has not created the node.
    pub(crate) phase: Option<Phase>,
    /// The node runs a daemon template: it counts as fulfilled (and `Daemoned`) once past Pending.
    pub(crate) daemoned: bool,
    /// Every lifecycle hook of the node has finished; dependents wait for the hooks too.
    pub(crate) hooks_fulfilled: bool,
    /// For a fanned-out task (a TaskGroup node), its children's phases. A child whose status is
    /// missing should be reported as [`Phase::Pending`], which is how Argo treats it.
    pub(crate) children: Option<Vec<Phase>>,
    /// The dependency task's own `continueOn`.
    pub(crate) continue_on: ContinueOn,
}

impl TaskState {
    /// The dependency has no node yet: the dependent waits.
    pub(crate) fn not_created() -> TaskState {
        TaskState {
            phase: None,
            daemoned: false,
            hooks_fulfilled: true,
            children: None,
            continue_on: ContinueOn::default(),
        }
    }

    /// The dependency's node is in `phase`, not a daemon, not fanned out, hooks done.
    pub(crate) fn node(phase: Phase) -> TaskState {
        TaskState {
            phase: Some(phase),
            ..TaskState::not_created()
        }
    }

    #[cfg(test)]
    pub(crate) fn with_daemoned(mut self, daemoned: bool) -> TaskState {
        self.daemoned = daemoned;
        self
    }

    #[cfg(test)]
    pub(crate) fn with_hooks_fulfilled(mut self, done: bool) -> TaskState {
        self.hooks_fulfilled = done;
        self
    }

    pub(crate) fn with_children(mut self, children: Vec<Phase>) -> TaskState {
        self.children = Some(children);
        self
    }

    pub(crate) fn with_continue_on(mut self, continue_on: ContinueOn) -> TaskState {
        self.continue_on = continue_on;
        self
    }

    /// Argo's `NodeStatus.Fulfilled` plus its hooks check: only then may a dependent decide.
    pub(crate) fn fulfilled(&self) -> bool {
        let Some(phase) = self.phase else {
            return false;
        };
        let node_fulfilled = phase.fulfilled() || (self.daemoned && phase != Phase::Pending);
        node_fulfilled && self.hooks_fulfilled
    }

    /// Whether `result` holds, per Argo's `evaluateDependsLogic`.
    pub(crate) fn has(&self, result: TaskResult) -> bool {
        let phase = self.phase;
        match result {
            TaskResult::Succeeded => phase == Some(Phase::Succeeded),
            TaskResult::Failed => phase == Some(Phase::Failed),
            TaskResult::Errored => phase == Some(Phase::Error),
            TaskResult::Skipped => phase == Some(Phase::Skipped),
            TaskResult::Omitted => phase == Some(Phase::Omitted),
            TaskResult::Daemoned => {
                self.daemoned && phase.is_some_and(|phase| phase != Phase::Pending)
            }
            TaskResult::AnySucceeded => self
                .children
                .as_ref()
                .is_some_and(|children| children.contains(&Phase::Succeeded)),
            TaskResult::AllFailed => self.children.as_ref().is_some_and(|children| {
                !children.is_empty() && children.iter().all(|c| *c == Phase::Failed)
            }),
        }
    }

    /// What a bare name means: `Succeeded || Skipped || Daemoned`, widened by `continueOn`.
    fn bare(&self) -> bool {
        self.has(TaskResult::Succeeded)
            || self.has(TaskResult::Skipped)
            || self.has(TaskResult::Daemoned)
            || (self.continue_on.error && self.has(TaskResult::Errored))
            || (self.continue_on.failed && self.has(TaskResult::Failed))
    }
}

/// What to do with a task whose `depends` has been evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DependsDecision {
    /// A dependency is not fulfilled yet: do nothing this round.
    Wait,
    /// The condition holds: go on to `when`, expansion and execution.
    Run,
    /// The condition is false: create the task's node as type Skipped, phase Omitted, message
    /// [`OMITTED_MESSAGE`], connected to its dependencies. It is fulfilled but not completed.
    Omit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// `name` or `name.Result`.
    Task {
        name: String,
        result: Option<TaskResult>,
    },
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    /// The legacy list: every name, bare. Empty means no dependencies (always true).
    All(Vec<String>),
}

/// A parsed `depends` expression or `dependencies` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DependsExpr {
    source: String,
    root: Node,
}

impl DependsExpr {
    /// Parses a `depends` expression, e.g. `A && (B.Failed || !C.Skipped)`.
    pub(crate) fn parse(source: &str) -> Result<DependsExpr> {
        let (mut open, mut max_open, mut nots, mut halves) = (0usize, 0usize, 0usize, 0usize);
        for c in source.chars() {
            match c {
                '(' => {
                    open += 1;
                    max_open = max_open.max(open);
                }
                ')' => open = open.saturating_sub(1),
                '!' => nots += 1,
                // `&&` and `||` are two characters each.
                '&' | '|' => halves += 1,
                _ => {}
            }
        }
        check_complexity(source, max_open, nots + halves.div_ceil(2))?;
        let mut parser = Parser {
            source,
            chars: source.chars().collect(),
            pos: 0,
        };
        let root = parser.parse_or()?;
        parser.skip_ws();
        if parser.pos < parser.chars.len() {
            return Err(parser.error("'&&', '||' or the end of the expression"));
        }
        Ok(DependsExpr {
            source: source.to_string(),
            root,
        })
    }

    /// The legacy `dependencies: [a, b]`, which means `a && b` with bare names.
    pub(crate) fn from_dependencies<S: AsRef<str>>(names: &[S]) -> Result<DependsExpr> {
        let mut all = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            if !is_task_name(name) {
                return Err(ExprError::InvalidDependencyName {
                    name: name.to_string(),
                });
            }
            all.push(name.to_string());
        }
        Ok(DependsExpr {
            source: all.join(" && "),
            root: Node::All(all),
        })
    }

    /// Argo's `getTaskDependsLogic`: `depends` if set, else the `dependencies` list, else `None`
    /// (a root task, which runs without waiting).
    pub(crate) fn for_task<S: AsRef<str>>(
        depends: Option<&str>,
        dependencies: &[S],
    ) -> Result<Option<DependsExpr>> {
        match depends {
            Some(depends) if !depends.is_empty() => DependsExpr::parse(depends).map(Some),
            _ if !dependencies.is_empty() => DependsExpr::from_dependencies(dependencies).map(Some),
            _ => Ok(None),
        }
    }

    /// The text the expression came from (the list joined with ` && ` for the legacy form).
    #[cfg(test)]
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Every task the expression mentions, once each, in order of first mention: the DAG's edges.
    pub(crate) fn dependencies(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.root.visit(&mut |name, _| {
            if !out.contains(&name) {
                out.push(name);
            }
        });
        out
    }

    /// The tasks tested with `.AnySucceeded` or `.AllFailed`; Argo's validation rejects the DAG
    /// unless each has `withItems`, `withParam` or `withSequence`.
    pub(crate) fn item_dependencies(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.root.visit(&mut |name, result| {
            if result.is_some_and(TaskResult::needs_items) && !out.contains(&name) {
                out.push(name);
            }
        });
        out
    }

    /// Decides a task with this `depends`, looking each dependency up by name.
    ///
    /// Like Argo, nothing is decided until every dependency is fulfilled (finished, skipped,
    /// omitted, or a daemon past Pending, with its hooks done), even if the answer is already
    /// known. The engine should call this only while the task itself has no node.
    pub(crate) fn evaluate(&self, lookup: impl Fn(&str) -> TaskState) -> DependsDecision {
        let mut states: Vec<(&str, TaskState)> = Vec::new();
        for name in self.dependencies() {
            let state = lookup(name);
            if !state.fulfilled() {
                return DependsDecision::Wait;
            }
            states.push((name, state));
        }
        let find = |name: &str| {
            states
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, state)| state)
        };
        if self.root.eval(&find) {
            DependsDecision::Run
        } else {
            DependsDecision::Omit
        }
    }
}

impl fmt::Display for DependsExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Node {
    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a str, Option<TaskResult>)) {
        match self {
            Node::Task { name, result } => f(name, *result),
            Node::Not(inner) => inner.visit(f),
            Node::And(a, b) | Node::Or(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Node::All(names) => names.iter().for_each(|name| f(name, None)),
        }
    }

    /// `find` knows every name the expression mentions (evaluate checked them all first); a name
    /// it does not know reads as false rather than panicking.
    fn eval<'s>(&self, find: &impl Fn(&str) -> Option<&'s TaskState>) -> bool {
        let task = |name: &str, result: Option<TaskResult>| {
            find(name).is_some_and(|state| match result {
                Some(result) => state.has(result),
                None => state.bare(),
            })
        };
        match self {
            Node::Task { name, result } => task(name, *result),
            Node::Not(inner) => !inner.eval(find),
            Node::And(a, b) => a.eval(find) && b.eval(find),
            Node::Or(a, b) => a.eval(find) || b.eval(find),
            Node::All(names) => names.iter().all(|name| task(name, None)),
        }
    }
}

/// Argo's task-name shape in `depends`: `[a-zA-Z0-9][-a-zA-Z0-9]*`.
fn is_task_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

struct Parser<'a> {
    source: &'a str,
    chars: Vec<char>,
    /// Index into `chars`.
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek2(&self) -> Option<char> {
        self.chars.get(self.pos + 1).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, expected: &'static str) -> ExprError {
        let found = match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "end of expression".to_string(),
        };
        ExprError::DependsSyntax {
            expr: self.source.to_string(),
            position: self.pos + 1,
            expected,
            found,
        }
    }

    /// Consumes the two-character operator `op` (after whitespace) if it is next.
    fn eat_op(&mut self, op: char) -> Result<bool> {
        self.skip_ws();
        if self.peek() != Some(op) {
            return Ok(false);
        }
        if self.peek2() != Some(op) {
            return Err(self.error(if op == '&' { "'&&'" } else { "'||'" }));
        }
        self.pos += 2;
        Ok(true)
    }

    fn parse_or(&mut self) -> Result<Node> {
        let mut left = self.parse_and()?;
        while self.eat_op('|')? {
            let right = self.parse_and()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Node> {
        let mut left = self.parse_unary()?;
        while self.eat_op('&')? {
            let right = self.parse_unary()?;
            left = Node::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Node> {
        self.skip_ws();
        match self.peek() {
            Some('!') => {
                self.pos += 1;
                Ok(Node::Not(Box::new(self.parse_unary()?)))
            }
            Some('(') => {
                self.pos += 1;
                let inner = self.parse_or()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error("')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(c) if c.is_ascii_alphanumeric() => self.parse_operand(),
            _ => Err(self.error("a task name, '!' or '('")),
        }
    }

    fn parse_operand(&mut self) -> Result<Node> {
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '-');
        if self.peek() != Some('.') {
            return Ok(Node::Task { name, result: None });
        }
        self.pos += 1;
        let result_pos = self.pos;
        let result = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        // Argo recognises `name.Result` only for `[A-Z][a-zA-Z]+`; anything else after the dot
        // is left over and breaks the expression.
        let mut shape = result.chars();
        let shaped = shape.next().is_some_and(|c| c.is_ascii_uppercase())
            && result.len() > 1
            && shape.all(|c| c.is_ascii_alphabetic());
        if !shaped {
            self.pos = result_pos;
            return Err(self.error("a task result such as 'Succeeded' after '.'"));
        }
        match TaskResult::from_name(&result) {
            Some(result) => Ok(Node::Task {
                name,
                result: Some(result),
            }),
            None => Err(ExprError::InvalidTaskResult { task: name, result }),
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek().filter(|c| keep(*c)) {
            out.push(c);
            self.pos += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests;
