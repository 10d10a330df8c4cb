//! Sequential specifications of the objects a history is checked against.
//!
//! A model is a small pure type: an initial state and a step function. The search interns
//! states and operations to integer ids and memoizes transitions, so a model's cost is
//! paid once per distinct (state, operation) pair, and models can stay simple.

mod mutex;
mod queue;
mod register;
mod scalar;
mod set;

pub use mutex::{Mutex, MutexOp};
pub use queue::{FifoQueue, QueueOp, UnorderedQueue};
pub use register::{CasRegister, Kv, KvOp, Register, RegisterOp};
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
}

/// The models faultline knows by name, for the command line.
pub const MODEL_NAMES: &[&str] = &[
    "register",
    "cas-register",
    "kv",
    "set",
    "fifo-queue",
    "unordered-queue",
    "mutex",
];

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

/// The shape of every model's "wrong f" error.
pub(crate) fn unknown_f(model: &str, f: &str, expected: &str) -> String {
    format!("the {model} model has no operation {f:?} (it knows {expected})")
}
