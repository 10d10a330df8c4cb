//! Sequential specifications of the objects a history is checked against.
//!
//! A model is a small pure type: an initial state and a step function. The search interns
//! states and operations to integer ids and memoizes transitions, so a model's cost is
//! paid once per distinct (state, operation) pair, and models can stay simple.

mod initial;
mod multi_register;
mod mutex;
mod queue;
mod register;
mod scalar;
mod set;

pub use initial::StartingAt;
pub use multi_register::{MicroOp, MultiRegister, MultiState, RegKey, Txn};
pub use mutex::{Mutex, MutexOp};
pub use queue::{FifoQueue, QueueOp, UnorderedQueue};
pub use register::{CasRegister, Kv, KvOp, KvState, Register, RegisterOp, RegisterState};
pub use scalar::Scalar;
pub use set::{Set, SetOp};

use crate::history::Outcome;
use serde_json::Value;
use std::fmt::{Debug, Display};
use std::hash::Hash;

/// A sequential object. Implement it to check histories of your own objects.
pub trait Model: Sync {
    /// A state of the object.
    type State: Clone + Eq + Hash + Debug + Display + Send;
    /// One operation as the model sees it: what was asked and, when known, what was
    /// observed. Two operations that are equal are interchangeable in the search.
    type Op: Clone + Eq + Hash + Debug + Display + Send + Sync;

    fn name(&self) -> &'static str;

    fn init(&self) -> Self::State;

    /// Interprets a client operation that completed `ok` (with `result`) or `info` (result
    /// unknown). `Ok(None)` drops an operation that can constrain nothing, such as a read
    /// that crashed. Errors say what is wrong with the operation; the caller adds where.
    /// Operations that failed never reach a model: they did not happen.
    fn parse(
        &self,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<Self::Op>, String>;

    /// As [`Model::parse`], for a check that starts from `start` rather than from
    /// [`Model::init`] (see [`StartingAt`]): what an operation means may depend on it.
    /// The default ignores it.
    fn parse_from(
        &self,
        start: &Self::State,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<Self::Op>, String> {
        let _ = start;
        self.parse(f, invoke, result, outcome)
    }

    /// Pushes onto `next` every state `op` can lead to from `state`: none when `op` is
    /// impossible there, more than one for a nondeterministic step.
    fn step(&self, state: &Self::State, op: &Self::Op, next: &mut Vec<Self::State>);

    /// Why `op` cannot be applied in `state`, in words, for explanations.
    fn explain(&self, state: &Self::State, op: &Self::Op) -> String {
        format!("{op} is not possible when the state is {state}")
    }

    /// For each indeterminate operation, the last of the completed operations whose
    /// observations its effect could be needed to explain, as a position in
    /// `determinate` (which is sorted by invocation); `None` when that cannot be told.
    /// Once every completed operation up to that position is linearized, the search
    /// forgets whether the indeterminate one was used: no linearization needs it any
    /// more. That keeps long histories with many indeterminate operations cheap. The
    /// default, `None` for all, is always safe.
    fn last_observer(
        &self,
        indeterminate: &[Self::Op],
        determinate: &[Self::Op],
    ) -> Vec<Option<usize>> {
        let _ = determinate;
        vec![None; indeterminate.len()]
    }

    /// True if `op` always succeeds and leaves a state that does not depend on the one
    /// before (a write). An indeterminate operation directly followed by a blind one was
    /// never observed, and a linearization without it is as good, so the search does not
    /// try that order. The default (false) is always safe.
    fn blind(&self, op: &Self::Op) -> bool {
        let _ = op;
        false
    }

    /// True if `op` never changes the state (a read). Such an operation, when it can be
    /// linearized now, is linearized now and no alternative is tried: it changes nothing,
    /// and placing it earlier only relaxes what must follow it. A big cut for read-heavy
    /// histories; the default (false) is always safe.
    fn read_only(&self, op: &Self::Op) -> bool {
        let _ = op;
        false
    }

    /// Whether [`Model::reachable`] can ever answer false: the search only looks ahead
    /// for models that can use it.
    fn checks_reachability(&self) -> bool {
        false
    }

    /// Can the read-only operation `read` still succeed once some of the operations in
    /// `between` have been applied to `state`, in some order? `between` holds every
    /// operation that may still be linearized before `read` (and nothing else may be).
    /// Answer false only when no subset, in no order, lets `read` succeed: the search
    /// then gives up on the configuration at once instead of trying every order of the
    /// operations in between first (appends that no read can agree with, say). Only
    /// asked when [`Model::checks_reachability`] says so; the default (true) is always
    /// safe.
    fn reachable(
        &self,
        state: &Self::State,
        read: &Self::Op,
        between: &mut dyn Iterator<Item = &Self::Op>,
    ) -> bool {
        let _ = (state, read, between);
        true
    }

    /// For each operation of a history, whether it is blind (see [`Model::blind`]) and
    /// no operation among `ops` can ever observe the state it leaves: a write of a value
    /// nobody reads. The search then only places it directly before another blind
    /// operation, which cuts the orders it must try. The default (none) is always safe.
    fn unobserved(&self, ops: &[Self::Op]) -> Vec<bool> {
        vec![false; ops.len()]
    }

    /// Bytes a state holds on the heap, for the memory limit (the search keeps every
    /// distinct state it meets). The default suits states without heap data.
    fn heap_size(&self, state: &Self::State) -> usize {
        let _ = state;
        0
    }

    /// Which indeterminate operations (`info`) may matter to the verdict, given those that
    /// completed. An operation left out must be one whose effect no linearization can
    /// depend on (a write whose value nobody reads); leaving such operations out can only
    /// shrink the search. The default keeps all.
    fn relevant_indeterminate(
        &self,
        indeterminate: &[Self::Op],
        determinate: &[Self::Op],
    ) -> Vec<bool> {
        let _ = determinate;
        vec![true; indeterminate.len()]
    }

    /// The state a JSON value describes, for a check that starts there instead of at
    /// [`Model::init`] (see [`StartingAt`]). Errors say why the value does not fit. The
    /// default: the model takes no initial value.
    fn state_from_json(&self, value: &Value) -> Result<Self::State, String> {
        let _ = value;
        Err(format!("the {} model takes no initial value", self.name()))
    }
}

/// Guesses the model from the operation names a history uses. Besides the linearizability
/// models it may name two of the simple checkers (`crate::simple`): `bank` for transfers,
/// `unique-ids` for generates. Counters (add and read) look like sets: name them.
pub fn infer_model<'a>(fs: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let mut seen = std::collections::BTreeSet::new();
    for f in fs {
        seen.insert(f.to_string());
    }
    let has = |f: &str| seen.contains(f);
    if has("transfer") {
        Some("bank")
    } else if has("generate") {
        Some("unique-ids")
    } else if has("get") || has("put") || has("append") {
        Some("kv")
    } else if has("cas") || has("write") {
        Some("cas-register")
    } else if has("enqueue") || has("dequeue") {
        Some("fifo-queue")
    } else if has("add") {
        Some("set")
    } else if has("acquire") || has("release") {
        Some("mutex")
    } else if has("read") {
        Some("cas-register")
    } else {
        None
    }
}

/// Guesses the model of a history of `txn` operations from their values' micro-op names:
/// `append` means `list-append`, `read` or `write` Knossos' `multi-register` (which also
/// takes `r` and `w`), `w` alone `rw-register`; reads alone (`r`) stay `list-append`, as
/// before there was a choice.
pub fn infer_txn_model<'a>(values: impl IntoIterator<Item = &'a Value>) -> &'static str {
    let (mut append, mut w, mut multi) = (false, false, false);
    for v in values {
        let Value::Array(mops) = v else { continue };
        for m in mops {
            match m.get(0).and_then(Value::as_str) {
                Some("append") => append = true,
                Some("w") => w = true,
                Some("read" | "write") => multi = true,
                _ => {}
            }
        }
    }
    // A history that mixes them fits no model; the one picked then says which micro-op
    // it does not know.
    if append {
        "list-append"
    } else if multi {
        "multi-register"
    } else if w {
        "rw-register"
    } else {
        "list-append"
    }
}

/// The shape of every model's "wrong f" error.
pub(crate) fn unknown_f(model: &str, f: &str, expected: &str) -> String {
    format!("the {model} model has no operation {f:?} (it knows {expected})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn txn_histories_are_told_apart_by_their_micro_ops() {
        let guess = |vs: &[Value]| infer_txn_model(vs.iter());
        assert_eq!(
            guess(&[json!([["append", "x", 1]]), json!([["r", "x", null]])]),
            "list-append"
        );
        assert_eq!(guess(&[json!([["r", "x", null]])]), "list-append");
        assert_eq!(
            guess(&[json!([["w", "x", 1]]), json!([["r", "x", 1]])]),
            "rw-register"
        );
        assert_eq!(
            guess(&[json!([["read", "x", null]]), json!([["write", "y", 2]])]),
            "multi-register"
        );
        // multi-register takes the short names too.
        assert_eq!(
            guess(&[json!([["w", "x", 1]]), json!([["read", "x", 1]])]),
            "multi-register"
        );
        assert_eq!(guess(&[json!(null), json!([1, 2])]), "list-append");
    }

    #[test]
    fn only_register_like_models_take_an_initial_value() {
        assert!(Set.state_from_json(&json!([])).unwrap_err().contains("set"));
        assert!(Mutex.state_from_json(&json!(false)).is_err());
        let s = CasRegister.state_from_json(&json!(0)).unwrap();
        assert_eq!(s, RegisterState(Some(scalar::Scalar::Int(0))));
        assert_eq!(
            Register.state_from_json(&json!(null)).unwrap(),
            Register.init()
        );
        assert_eq!(Kv.state_from_json(&json!("ab")).unwrap().value(), "ab");
        assert_eq!(Kv.state_from_json(&json!(7)).unwrap().value(), "7");
        assert!(Kv
            .state_from_json(&json!({"k": "a"}))
            .unwrap_err()
            .contains("one string"));
        let m = StartingAt::from_json(CasRegister, &json!(3)).unwrap();
        assert_eq!(m.init(), RegisterState(Some(scalar::Scalar::Int(3))));
        assert_eq!(m.name(), "cas-register");
    }

    #[test]
    fn a_register_that_starts_set_takes_reads_of_null_as_unobserved() {
        let from_zero = StartingAt::from_json(CasRegister, &json!(0)).unwrap();
        let unset = StartingAt::from_init(CasRegister);
        let read = |m: &StartingAt<CasRegister>, r: Value| {
            m.parse("read", &json!(null), Some(&r), Outcome::Ok)
                .unwrap()
        };
        assert_eq!(read(&from_zero, json!(null)), None);
        // Unset at the start, a read of null says the register was still unset.
        assert_eq!(read(&unset, json!(null)), Some(RegisterOp::Read(None)));
        assert_eq!(
            read(&from_zero, json!(1)),
            Some(RegisterOp::Read(Some(scalar::Scalar::Int(1))))
        );
    }
}
