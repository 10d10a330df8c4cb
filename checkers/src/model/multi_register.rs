//! Knossos' multi-register: registers named by keys, read and written together by
//! transactions (`txn` with micro-ops `[read k v]` and `[write k v]`).
//!
//! The semantics are Knossos': micro-ops apply in order (a read sees the transaction's
//! own earlier writes), a read of `v` must find the key holding `v`, a read of `nil`
//! is always legal (the value was not observed), and a key nobody wrote holds `nil`.

use super::scalar::{Scalar, Shown};
use super::{unknown_f, Model};
use crate::history::Outcome;
use rustc_hash::{FxHashSet, FxHasher};
use serde_json::Value;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A key, as text: a string as it is, any other value as its JSON text, the way EDN map
/// keys are read (`{1 :a}` has key `"1"`), so an initial value's object keys and the
/// keys in micro-ops agree.
pub type RegKey = Arc<str>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MicroOp {
    /// A read that observed this value. Reads of `nil` constrain nothing and are dropped
    /// when parsed.
    Read(RegKey, Scalar),
    /// A write; `None` writes `nil`, which leaves the key as if never written.
    Write(RegKey, Option<Scalar>),
}

impl fmt::Display for MicroOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MicroOp::Read(k, v) => write!(f, "read {k} {v}"),
            MicroOp::Write(k, v) => write!(f, "write {k} {}", Shown(v)),
        }
    }
}

/// A transaction's micro-ops, shared: the search clones operations freely.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Txn(pub Arc<[MicroOp]>);

impl fmt::Display for Txn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("txn [")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("]")
    }
}

/// What every register holds: the keys that hold a value, sorted, and a hash computed
/// once. Unset keys are left out, so equal contents are equal states and the search
/// interns them once.
#[derive(Debug, Clone)]
pub struct MultiState {
    regs: Arc<[(RegKey, Scalar)]>,
    hash: u64,
}

impl MultiState {
    /// From pairs sorted by key, without duplicates.
    fn from_sorted(regs: Vec<(RegKey, Scalar)>) -> MultiState {
        let mut h = FxHasher::default();
        regs.hash(&mut h);
        MultiState {
            hash: h.finish(),
            regs: regs.into(),
        }
    }

    /// The state holding these values (a key given twice keeps the last).
    pub fn new(values: impl IntoIterator<Item = (RegKey, Scalar)>) -> MultiState {
        let mut regs: Vec<(RegKey, Scalar)> = Vec::new();
        for (k, v) in values {
            set(&mut regs, &k, Some(v));
        }
        MultiState::from_sorted(regs)
    }

    pub fn get(&self, key: &str) -> Option<&Scalar> {
        get(&self.regs, key)
    }
}

fn get<'a>(regs: &'a [(RegKey, Scalar)], key: &str) -> Option<&'a Scalar> {
    regs.binary_search_by(|(k, _)| (**k).cmp(key))
        .ok()
        .map(|i| &regs[i].1)
}

/// Writes `value` to `key` in a sorted list of pairs; `None` unsets it.
fn set(regs: &mut Vec<(RegKey, Scalar)>, key: &RegKey, value: Option<Scalar>) {
    match (regs.binary_search_by(|(k, _)| (**k).cmp(key)), value) {
        (Ok(i), Some(v)) => regs[i].1 = v,
        (Ok(i), None) => {
            regs.remove(i);
        }
        (Err(i), Some(v)) => regs.insert(i, (key.clone(), v)),
        (Err(_), None) => {}
    }
}

impl PartialEq for MultiState {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.regs == other.regs
    }
}

impl Eq for MultiState {}

impl Hash for MultiState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash)
    }
}

impl fmt::Display for MultiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.regs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k} {v}")?;
        }
        f.write_str("}")
    }
}

/// Registers named by keys, read and written by transactions; starts with every key
/// unset (see [`super::StartingAt`] for Knossos' `(multi-register {:x 0 :y 0})`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MultiRegister;

/// A value cut short for an error message: a txn may be long.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

fn key_text(k: &Value) -> RegKey {
    match k {
        Value::String(s) => Arc::from(s.as_str()),
        other => Arc::from(other.to_string()),
    }
}

fn parse_mop(m: &Value) -> Result<Option<MicroOp>, String> {
    let parts = match m {
        Value::Array(p) if p.len() == 3 => p,
        _ => return Err("must be a list [f, key, value]".into()),
    };
    let key = key_text(&parts[1]);
    match parts[0].as_str() {
        // A read of nil did not observe the value: always legal, so it is left out.
        Some("read" | "r") => Ok(Scalar::from_json(&parts[2]).map(|v| MicroOp::Read(key, v))),
        Some("write" | "w") => Ok(Some(MicroOp::Write(key, Scalar::from_json(&parts[2])))),
        Some(other) => Err(format!(
            "unknown micro-op {other:?}: multi-register has \"read\" and \"write\" \
             (or \"r\" and \"w\")"
        )),
        None => Err("f must be a string".into()),
    }
}

/// Where a transaction stops in a state: the micro-op that cannot happen, and what the
/// key held then.
struct Stuck<'a> {
    index: usize,
    key: &'a str,
    wanted: &'a Scalar,
    held: Option<Scalar>,
}

/// Runs `txn` from `state`: the state it leaves (`None` if it changes nothing), or
/// where it gets stuck.
fn run<'a>(state: &MultiState, txn: &'a Txn) -> Result<Option<MultiState>, Stuck<'a>> {
    // Copied on the first write only: read-only transactions are most of a history.
    let mut written: Option<Vec<(RegKey, Scalar)>> = None;
    for (index, m) in txn.0.iter().enumerate() {
        match m {
            MicroOp::Read(k, v) => {
                let held = match &written {
                    Some(regs) => get(regs, k),
                    None => state.get(k),
                };
                if held != Some(v) {
                    return Err(Stuck {
                        index,
                        key: k,
                        wanted: v,
                        held: held.cloned(),
                    });
                }
            }
            MicroOp::Write(k, v) => {
                let regs = written.get_or_insert_with(|| state.regs.to_vec());
                set(regs, k, v.clone());
            }
        }
    }
    Ok(written.map(MultiState::from_sorted))
}

impl Model for MultiRegister {
    type State = MultiState;
    type Op = Txn;

    fn name(&self) -> &'static str {
        "multi-register"
    }

    fn init(&self) -> MultiState {
        MultiState::from_sorted(Vec::new())
    }

    /// An `ok` transaction is read from its completion, which holds the values its reads
    /// returned (from the invocation when the completion has no value); an indeterminate
    /// one from its invocation, as Knossos completes histories.
    fn parse(
        &self,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<Txn>, String> {
        if f != "txn" {
            return Err(unknown_f(self.name(), f, "txn"));
        }
        let value = match (outcome, result) {
            (Outcome::Ok, Some(r)) if !r.is_null() => r,
            _ => invoke,
        };
        let Value::Array(mops) = value else {
            return Err(format!(
                "a txn's value must be a list of micro-ops [f, key, value], not {}",
                short(value)
            ));
        };
        let mut parsed = Vec::with_capacity(mops.len());
        for (i, m) in mops.iter().enumerate() {
            match parse_mop(m) {
                Ok(Some(op)) => parsed.push(op),
                Ok(None) => {}
                Err(e) => return Err(format!("micro-op {i} {}: {e}", short(m))),
            }
        }
        // A transaction of unobserved reads changes nothing and constrains nothing.
        Ok((!parsed.is_empty()).then(|| Txn(parsed.into())))
    }

    fn step(&self, state: &MultiState, op: &Txn, next: &mut Vec<MultiState>) {
        match run(state, op) {
            Ok(Some(s)) => next.push(s),
            Ok(None) => next.push(state.clone()),
            Err(_) => {}
        }
    }

    fn explain(&self, state: &MultiState, op: &Txn) -> String {
        match run(state, op) {
            Err(s) => format!(
                "can't read {} {} (micro-op {}): {} holds {}",
                s.key,
                s.wanted,
                s.index,
                s.key,
                Shown(&s.held)
            ),
            Ok(_) => format!("{op} is not possible when the registers are {state}"),
        }
    }

    fn read_only(&self, op: &Txn) -> bool {
        op.0.iter().all(|m| matches!(m, MicroOp::Read(..)))
    }

    fn checks_reachability(&self) -> bool {
        true
    }

    /// Each read of a read-only transaction needs its key to hold the value now, or some
    /// operation that may come first to write it there.
    fn reachable(
        &self,
        state: &MultiState,
        read: &Txn,
        between: &mut dyn Iterator<Item = &Txn>,
    ) -> bool {
        let mut missing: Vec<(&str, &Scalar)> = read
            .0
            .iter()
            .filter_map(|m| match m {
                MicroOp::Read(k, v) if state.get(k) != Some(v) => Some((&**k, v)),
                _ => None,
            })
            .collect();
        for op in between {
            if missing.is_empty() {
                return true;
            }
            for m in op.0.iter() {
                if let MicroOp::Write(k, Some(w)) = m {
                    missing.retain(|(mk, mv)| !(*mk == &**k && *mv == w));
                }
            }
        }
        missing.is_empty()
    }

    /// Keeps the indeterminate transactions that write some value a read that matters
    /// returns; the reads of a kept one matter too, so this grows to a fixed point. A
    /// transaction whose writes nobody reads can be left out of any linearization that
    /// has it: until the key is written again no remaining read could see it.
    fn relevant_indeterminate(&self, indeterminate: &[Txn], determinate: &[Txn]) -> Vec<bool> {
        let mut observed: FxHashSet<(&str, &Scalar)> = FxHashSet::default();
        for t in determinate {
            observe(&mut observed, t);
        }
        let mut keep = vec![false; indeterminate.len()];
        loop {
            let mut changed = false;
            for (i, t) in indeterminate.iter().enumerate() {
                if keep[i] {
                    continue;
                }
                let seen = t.0.iter().any(
                    |m| matches!(m, MicroOp::Write(k, Some(v)) if observed.contains(&(&**k, v))),
                );
                if seen {
                    keep[i] = true;
                    changed = true;
                    observe(&mut observed, t);
                }
            }
            if !changed {
                return keep;
            }
        }
    }

    fn heap_size(&self, state: &MultiState) -> usize {
        // An Arc's allocation: two counters and the pairs.
        2 * std::mem::size_of::<usize>()
            + state.regs.len() * std::mem::size_of::<(RegKey, Scalar)>()
    }

    /// A JSON object of keys to values, like Knossos' `(multi-register {:x 0 :y 0})`; a
    /// key given `null` starts unset.
    fn state_from_json(&self, value: &Value) -> Result<MultiState, String> {
        let Value::Object(map) = value else {
            return Err(format!(
                "the multi-register model starts from an object of keys to values, \
                 such as {{\"x\": 0, \"y\": 0}}, not {}",
                short(value)
            ));
        };
        Ok(MultiState::new(map.iter().filter_map(|(k, v)| {
            Scalar::from_json(v).map(|v| (Arc::from(k.as_str()), v))
        })))
    }
}

/// Adds the (key, value) pairs `t` reads to `observed`.
fn observe<'a>(observed: &mut FxHashSet<(&'a str, &'a Scalar)>, t: &'a Txn) {
    for m in t.0.iter() {
        if let MicroOp::Read(k, v) = m {
            observed.insert((k, v));
        }
    }
}

#[cfg(test)]
mod tests;
