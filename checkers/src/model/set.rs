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

    fn checks_reachability(&self) -> bool {
        true
    }

    /// Nothing leaves a set: a read can still see `r` only if every element there now
    /// is in `r`, and every element of `r` missing now may still be added.
    fn reachable(
        &self,
        state: &SetState,
        read: &SetOp,
        between: &mut dyn Iterator<Item = &SetOp>,
    ) -> bool {
        let SetOp::Read(r) = read else {
            return true;
        };
        if !state.0.is_subset(r) {
            return false;
        }
        let mut missing = r.len() - state.0.len();
        if missing == 0 {
            return true;
        }
        let mut seen = BTreeSet::new();
        for op in between {
            if let SetOp::Add(v) = op {
                if r.contains(v) && !state.0.contains(v) && seen.insert(v) {
                    missing -= 1;
                    if missing == 0 {
                        return true;
                    }
                }
            }
        }
        false
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_read_is_reachable_only_when_nothing_must_leave_and_the_rest_may_come() {
        let sc = |v: i64| Scalar::from_json(&json!(v)).unwrap();
        let set = |vs: &[i64]| vs.iter().map(|&v| sc(v)).collect::<BTreeSet<_>>();
        let read = SetOp::Read(set(&[1, 2]));
        let reach = |state: &[i64], between: &[SetOp]| {
            Set.reachable(&SetState(set(state)), &read, &mut between.iter())
        };
        assert!(reach(&[1, 2], &[]));
        assert!(!reach(&[1, 3], &[SetOp::Add(sc(2))]));
        assert!(!reach(&[1], &[]));
        assert!(!reach(&[1], &[SetOp::Add(sc(3))]));
        assert!(reach(&[1], &[SetOp::Add(sc(3)), SetOp::Add(sc(2))]));
        assert!(!reach(&[], &[SetOp::Add(sc(1)), SetOp::Add(sc(1))]));
        assert!(reach(&[], &[SetOp::Add(sc(1)), SetOp::Add(sc(2))]));
    }
}
