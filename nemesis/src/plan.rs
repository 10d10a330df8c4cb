//! Plans: what to do on which node, in order, as data.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::NemesisError;

/// An operation of the DB automation (faultline's `Db` trait): the runner
/// maps each to `Db::kill`, `Db::start`, `Db::pause` or `Db::resume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbOp {
    /// SIGKILL the DB process.
    Kill,
    /// Start a stopped DB process, keeping its data.
    Start,
    /// SIGSTOP the DB process.
    Pause,
    /// SIGCONT the DB process.
    Resume,
}

impl fmt::Display for DbOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbOp::Kill => "kill",
            DbOp::Start => "start",
            DbOp::Pause => "pause",
            DbOp::Resume => "resume",
        })
    }
}

/// One thing to do on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a program with these arguments (each quoted by the control plane;
    /// never pasted into a shell line). A failure fails the step unless
    /// `tolerate_failure` (for "create if missing"-style commands).
    Exec {
        argv: Vec<String>,
        tolerate_failure: bool,
    },
    /// An operation of the DB automation.
    Db(DbOp),
}

/// An action on a named node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub node: String,
    pub action: Action,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            Action::Exec { argv, .. } => write!(f, "{}: {}", self.node, argv.join(" ")),
            Action::Db(op) => write!(f, "{}: db {op}", self.node),
        }
    }
}

/// Steps for nodes. Steps of one node run in order; nodes run in parallel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

fn argv<I, S>(args: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    args.into_iter().map(Into::into).collect()
}

impl Plan {
    pub fn new() -> Self {
        Plan::default()
    }

    /// Adds a command that must succeed.
    pub fn exec<I, S>(&mut self, node: &str, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.steps.push(Step {
            node: node.to_string(),
            action: Action::Exec {
                argv: argv(args),
                tolerate_failure: false,
            },
        });
        self
    }

    /// Adds a command whose failure is expected at times and ignored.
    pub fn try_exec<I, S>(&mut self, node: &str, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.steps.push(Step {
            node: node.to_string(),
            action: Action::Exec {
                argv: argv(args),
                tolerate_failure: true,
            },
        });
        self
    }

    pub fn db(&mut self, node: &str, op: DbOp) -> &mut Self {
        self.steps.push(Step {
            node: node.to_string(),
            action: Action::Db(op),
        });
        self
    }

    pub fn extend(&mut self, other: Plan) -> &mut Self {
        self.steps.extend(other.steps);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps grouped by node, each node's in plan order.
    pub fn by_node(&self) -> BTreeMap<&str, Vec<&Action>> {
        let mut m: BTreeMap<&str, Vec<&Action>> = BTreeMap::new();
        for s in &self.steps {
            m.entry(s.node.as_str()).or_default().push(&s.action);
        }
        m
    }

    /// Every argv of `node`, for tests and dry runs.
    pub fn commands_for(&self, node: &str) -> Vec<&[String]> {
        self.steps
            .iter()
            .filter(|s| s.node == node)
            .filter_map(|s| match &s.action {
                Action::Exec { argv, .. } => Some(argv.as_slice()),
                Action::Db(_) => None,
            })
            .collect()
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Carries plan steps out on the nodes. faultline implements it over its
/// control plane and `Db`; tests implement it with a recorder.
pub trait Executor: Sync {
    /// Runs `argv` on `node`; `Err` only when it could not be run at all.
    fn exec(&self, node: &str, argv: &[String]) -> Result<ExecOutput, ExecError>;
    /// Runs a DB operation on `node`.
    fn db(&self, node: &str, op: DbOp) -> Result<(), ExecError>;
}

/// Why a step of a plan could not be run on a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The plan names a node the executor does not know, or a DB step without a DB:
    /// the caller's configuration is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The node could not be reached, or the command not run.
    #[error("{0}")]
    Unreachable(String),
    /// The DB operation itself failed.
    #[error("{0}")]
    Db(String),
}

/// What to do after a failed step on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Skip that node's remaining steps (starting a fault: later steps build
    /// on earlier ones).
    StopNode,
    /// Keep going (healing: remove as much as possible).
    Continue,
}

/// Runs `plan`: nodes in parallel (one thread per node, and nodes are few),
/// each node's steps in order. Fails listing every failed step.
pub fn run_plan(
    what: &str,
    plan: &Plan,
    ex: &dyn Executor,
    on_failure: OnFailure,
) -> Result<(), NemesisError> {
    let by_node = plan.by_node();
    let run_node = |node: &str, actions: &[&Action]| -> Vec<String> {
        let mut failures = Vec::new();
        for a in actions {
            let failed = match a {
                Action::Exec {
                    argv,
                    tolerate_failure,
                } => match ex.exec(node, argv) {
                    Ok(out) if out.success || *tolerate_failure => None,
                    Ok(out) => Some(format!(
                        "  {node}: {} failed: {}",
                        argv.join(" "),
                        out.stderr.trim()
                    )),
                    Err(e) => Some(format!("  {node}: {}: {e}", argv.join(" "))),
                },
                Action::Db(op) => ex
                    .db(node, *op)
                    .err()
                    .map(|e| format!("  {node}: db {op}: {e}")),
            };
            if let Some(f) = failed {
                tracing::warn!("{what}: {}", f.trim());
                failures.push(f);
                if on_failure == OnFailure::StopNode {
                    break;
                }
            }
        }
        failures
    };
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = by_node
            .iter()
            .map(|(node, actions)| s.spawn(move || run_node(node, actions)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec!["  a plan thread panicked".to_string()])
            })
            .collect()
    });
    if failures.is_empty() {
        Ok(())
    } else {
        Err(NemesisError::Plan {
            what: what.to_string(),
            count: failures.len(),
            failures: failures.join("\n"),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records every step; commands whose argv contains `fail_on` fail.
    #[derive(Default)]
    pub struct Recorder {
        pub log: Mutex<Vec<String>>,
        pub fail_on: Option<String>,
    }

    impl Executor for Recorder {
        fn exec(&self, node: &str, argv: &[String]) -> Result<ExecOutput, ExecError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("{node}: {}", argv.join(" ")));
            let fail = self
                .fail_on
                .as_ref()
                .is_some_and(|f| argv.iter().any(|a| a == f));
            Ok(ExecOutput {
                success: !fail,
                stdout: String::new(),
                stderr: if fail { "boom".into() } else { String::new() },
            })
        }
        fn db(&self, node: &str, op: DbOp) -> Result<(), ExecError> {
            self.log.lock().unwrap().push(format!("{node}: db {op}"));
            Ok(())
        }
    }

    #[test]
    fn runs_per_node_in_order_and_reports_failures() {
        let mut p = Plan::new();
        p.exec("n1", ["a"])
            .exec("n1", ["bad"])
            .exec("n1", ["c"])
            .try_exec("n2", ["bad"])
            .db("n2", DbOp::Kill);
        let r = Recorder {
            fail_on: Some("bad".into()),
            ..Recorder::default()
        };
        let e = run_plan("test", &p, &r, OnFailure::StopNode).unwrap_err();
        assert!(e.to_string().contains("n1: bad failed: boom"), "{e}");
        let log = r.log.lock().unwrap().clone();
        assert!(!log.contains(&"n1: c".to_string()), "stopped after failure");
        assert!(log.contains(&"n2: db kill".to_string()));

        let r = Recorder {
            fail_on: Some("bad".into()),
            ..Recorder::default()
        };
        assert!(run_plan("test", &p, &r, OnFailure::Continue).is_err());
        assert!(r.log.lock().unwrap().contains(&"n1: c".to_string()));
    }
}
