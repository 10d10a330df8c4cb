//! Jepsen's process semantics: each client process has at most one operation open; an
//! `ok`, `fail` or `info` completes it; after `info` the process is never heard from again.

use super::error::HistoryError;
use super::op::{Op, OpType, Process};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Took effect, with the completion's value as its result.
    Ok,
    /// Certainly did not take effect.
    Fail,
    /// May have taken effect at any point after its invocation, or never. Includes
    /// invocations that never completed.
    Info,
}

/// A client operation: its invocation and, when there is one, its completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub process: u64,
    pub f: Arc<str>,
    /// The key of an independent (keyed) workload, from the invocation or else completion.
    pub key: Option<Value>,
    /// Position of the invocation in the history's events.
    pub invoke: usize,
    /// Position of the completion, if it completed.
    pub complete: Option<usize>,
    pub outcome: Outcome,
}

impl Operation {
    /// The argument given at invocation.
    pub fn invoke_value<'h>(&self, ops: &'h [Op]) -> &'h Value {
        &ops[self.invoke].value
    }

    /// The completion's value (the result for an `ok`), if it completed.
    pub fn result_value<'h>(&self, ops: &'h [Op]) -> Option<&'h Value> {
        self.complete.map(|c| &ops[c].value)
    }
}

#[derive(Clone)]
enum ProcState {
    /// An invocation of `f` is open, read at `line`.
    Open { f: Arc<str>, line: u64 },
    /// Completed with `info` at `line`: the process must not act again.
    Crashed { line: u64 },
}

/// Checks events one at a time as they are read.
pub(super) struct Validator {
    file: PathBuf,
    procs: FxHashMap<u64, ProcState>,
    /// Indices may skip numbers (Jepsen histories filtered by hand), as long as they
    /// increase; otherwise they must count events from 0.
    gaps: bool,
    /// Every client event is a completion standing alone (see `History`).
    completions_only: bool,
    last_index: Option<u64>,
}

impl Validator {
    /// The rules of our own JSON Lines format: consecutive indices, paired events.
    pub(super) fn new(file: PathBuf) -> Self {
        Validator {
            file,
            procs: FxHashMap::default(),
            gaps: false,
            completions_only: false,
            last_index: None,
        }
    }

    /// Jepsen EDN as people hand it over: indices that increase with gaps, and possibly
    /// completions only.
    pub(super) fn lenient(file: PathBuf, completions_only: bool) -> Self {
        Validator {
            gaps: true,
            completions_only,
            ..Validator::new(file)
        }
    }

    fn err(&self, op: &Op, message: String) -> HistoryError {
        HistoryError::invalid(&self.file, op.line, message)
    }

    /// `position` is how many events came before this one.
    pub(super) fn check(&mut self, op: &Op, position: usize) -> Result<(), HistoryError> {
        if self.gaps {
            if let Some(last) = self.last_index.filter(|&l| op.index <= l) {
                return Err(self.err(
                    op,
                    format!(
                        "index {} does not increase: the event before it has index {last}",
                        op.index
                    ),
                ));
            }
            self.last_index = Some(op.index);
        } else if op.index != position as u64 {
            return Err(self.err(
                op,
                format!(
                    "index {} is not consecutive: expected {position} (indices count events from 0)",
                    op.index
                ),
            ));
        }
        let Process::Client(p) = op.process else {
            // The nemesis and other named actors follow no pairing discipline we rely on.
            return Ok(());
        };
        if self.completions_only {
            // Each completion stands alone; there is nothing to pair.
            return Ok(());
        }
        match (op.kind, self.procs.get(&p)) {
            (OpType::Invoke, None) => {
                self.procs.insert(
                    p,
                    ProcState::Open {
                        f: op.f.clone(),
                        line: op.line,
                    },
                );
            }
            (OpType::Invoke, Some(ProcState::Open { line, .. })) => {
                return Err(self.err(
                    op,
                    format!(
                        "process {p} invokes again while its invocation at line {line} is still open"
                    ),
                ))
            }
            (OpType::Invoke, Some(ProcState::Crashed { line })) => {
                return Err(self.err(
                    op,
                    format!(
                        "process {p} invokes again after its operation ended with info at line {line}; \
                         a crashed process must continue under a new process id"
                    ),
                ))
            }
            (kind, None) => {
                return Err(self.err(
                    op,
                    format!("{kind} completion for process {p}, which has no open invocation"),
                ))
            }
            (kind, Some(ProcState::Crashed { line })) => {
                return Err(self.err(
                    op,
                    format!(
                        "{kind} completion for process {p}, whose operation already ended with info at line {line}"
                    ),
                ))
            }
            (kind, Some(ProcState::Open { f, line })) => {
                if *f != op.f {
                    return Err(self.err(
                        op,
                        format!(
                            "{kind} completion of {:?} for process {p}, but its open invocation at line {line} is {f:?}",
                            op.f
                        ),
                    ));
                }
                if kind == OpType::Info {
                    self.procs.insert(p, ProcState::Crashed { line: op.line });
                } else {
                    self.procs.remove(&p);
                }
            }
        }
        Ok(())
    }
}

/// Pairs a validated history's client events into operations, in invocation order. In a
/// history of completions only, each completion is an operation whose invocation is taken
/// to be the completion itself.
pub(super) fn pair(ops: &[Op], completions_only: bool) -> Vec<Operation> {
    let mut out: Vec<Operation> = Vec::new();
    if completions_only {
        for (i, op) in ops.iter().enumerate() {
            let Process::Client(p) = op.process else {
                continue;
            };
            out.push(Operation {
                process: p,
                f: op.f.clone(),
                key: op.key.clone(),
                invoke: i,
                complete: Some(i),
                outcome: match op.kind {
                    OpType::Ok => Outcome::Ok,
                    OpType::Fail => Outcome::Fail,
                    _ => Outcome::Info,
                },
            });
        }
        return out;
    }
    let mut open: FxHashMap<u64, usize> = FxHashMap::default();
    for (i, op) in ops.iter().enumerate() {
        let Process::Client(p) = op.process else {
            continue;
        };
        if op.kind == OpType::Invoke {
            open.insert(p, out.len());
            out.push(Operation {
                process: p,
                f: op.f.clone(),
                key: op.key.clone(),
                invoke: i,
                complete: None,
                outcome: Outcome::Info,
            });
        } else if let Some(slot) = open.remove(&p) {
            let o = &mut out[slot];
            o.complete = Some(i);
            o.outcome = match op.kind {
                OpType::Ok => Outcome::Ok,
                OpType::Fail => Outcome::Fail,
                _ => Outcome::Info,
            };
            if o.key.is_none() {
                o.key = op.key.clone();
            }
        }
    }
    out
}
