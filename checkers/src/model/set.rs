//! A set with add and read (a read returns every element).

use super::scalar::Scalar;
use super::{unknown_f, Model};
use crate::history::Outcome;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SetOp {
    Add(Scalar),
    /// A read that returned exactly these elements.
    Read(BTreeSet<Scalar>),
}

impl fmt::Display for SetOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetOp::Add(v) => write!(f, "add {v}"),
            SetOp::Read(s) => write!(f, "read {}", SetState(s.clone())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SetState(pub BTreeSet<Scalar>);

impl fmt::Display for SetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("#{")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str("}")
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Set;

impl Model for Set {
    type State = SetState;
    type Op = SetOp;

    fn name(&self) -> &'static str {
        "set"
    }

    fn init(&self) -> SetState {
        SetState::default()
    }

    fn parse(
        &self,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<SetOp>, String> {
        match f {
            "add" => Scalar::from_json(invoke)
                .map(|v| Some(SetOp::Add(v)))
                .ok_or_else(|| "add needs an element, not null".to_string()),
            "read" => match (outcome, result) {
                (Outcome::Ok, Some(Value::Array(items))) => Ok(Some(SetOp::Read(
                    items.iter().filter_map(Scalar::from_json).collect(),
                ))),
                (Outcome::Ok, other) => Err(format!(
                    "a set read returns an array of elements, not {}",
                    other.unwrap_or(&Value::Null)
                )),
                _ => Ok(None),
            },
            _ => Err(unknown_f(self.name(), f, "add and read")),
        }
    }

    fn heap_size(&self, state: &SetState) -> usize {
        state.0.len() * 48
    }

    fn read_only(&self, op: &SetOp) -> bool {
        matches!(op, SetOp::Read(_))
    }

    fn step(&self, state: &SetState, op: &SetOp, next: &mut Vec<SetState>) {
        match op {
            SetOp::Add(v) => {
                let mut s = state.0.clone();
                s.insert(v.clone());
                next.push(SetState(s));
            }
            SetOp::Read(r) => {
                if *r == state.0 {
                    next.push(state.clone())
                }
            }
        }
    }

    fn explain(&self, state: &SetState, op: &SetOp) -> String {
        match op {
            SetOp::Read(r) => {
                let missing: Vec<String> = state.0.difference(r).map(|v| v.to_string()).collect();
                let extra: Vec<String> = r.difference(&state.0).map(|v| v.to_string()).collect();
                format!(
                    "can't read that set from {state}: missing [{}], unexpected [{}]",
                    missing.join(" "),
                    extra.join(" ")
                )
            }
            other => format!("{other} is not possible from {state}"),
        }
    }
}
