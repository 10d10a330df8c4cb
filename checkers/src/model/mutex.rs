//! A lock: acquire when free, release when held.

use super::{unknown_f, Model};
use crate::history::Outcome;
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MutexOp {
    Acquire,
    Release,
}

impl fmt::Display for MutexOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MutexOp::Acquire => "acquire",
            MutexOp::Release => "release",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Locked(pub bool);

impl fmt::Display for Locked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "locked" } else { "free" })
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Mutex;

impl Model for Mutex {
    type State = Locked;
    type Op = MutexOp;

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn init(&self) -> Locked {
        Locked(false)
    }

    fn parse(
        &self,
        f: &str,
        _invoke: &Value,
        _result: Option<&Value>,
        _outcome: Outcome,
    ) -> Result<Option<MutexOp>, String> {
        match f {
            "acquire" => Ok(Some(MutexOp::Acquire)),
            "release" => Ok(Some(MutexOp::Release)),
            _ => Err(unknown_f(self.name(), f, "acquire and release")),
        }
    }

    fn step(&self, state: &Locked, op: &MutexOp, next: &mut Vec<Locked>) {
        match (op, state.0) {
            (MutexOp::Acquire, false) => next.push(Locked(true)),
            (MutexOp::Release, true) => next.push(Locked(false)),
            _ => {}
        }
    }

    fn explain(&self, state: &Locked, op: &MutexOp) -> String {
        match op {
            MutexOp::Acquire => format!("can't acquire: the lock is {state}"),
            MutexOp::Release => format!("can't release: the lock is {state}"),
        }
    }
}
