//! Registers: a plain read/write register, a compare-and-set register, and the keyed
//! string store with append of the kv histories (checked one key at a time).

use super::scalar::{Scalar, Shown};
use super::{unknown_f, Model};
use crate::history::Outcome;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// A read that returned this value (`None`: the register was unset).
    Read(Option<Scalar>),
    Write(Scalar),
    /// Compare-and-set: if the register holds the first value, set it to the second.
    Cas(Scalar, Scalar),
}

impl fmt::Display for RegisterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterOp::Read(v) => write!(f, "read {}", Shown(v)),
            RegisterOp::Write(v) => write!(f, "write {v}"),
            RegisterOp::Cas(a, b) => write!(f, "cas {a} -> {b}"),
        }
    }
}

/// The value a register holds, `null` before the first write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegisterState(pub Option<Scalar>);

impl fmt::Display for RegisterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Shown(&self.0))
    }
}

/// A read/write register.
#[derive(Debug, Clone, Copy, Default)]
pub struct Register;

/// A register with compare-and-set (`cas` with value `[old, new]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CasRegister;

fn scalar_arg(f: &str, v: &Value) -> Result<Scalar, String> {
    Scalar::from_json(v).ok_or_else(|| format!("{f} needs a value, not null"))
}

fn parse_register(
    model: &str,
    allow_cas: bool,
    f: &str,
    invoke: &Value,
    result: Option<&Value>,
    outcome: Outcome,
) -> Result<Option<RegisterOp>, String> {
    match f {
        "read" => Ok(match outcome {
            // A read that crashed observed nothing we know of.
            Outcome::Info | Outcome::Fail => None,
            Outcome::Ok => Some(RegisterOp::Read(Scalar::from_json(
                result.unwrap_or(&Value::Null),
            ))),
        }),
        "write" => Ok(Some(RegisterOp::Write(scalar_arg(f, invoke)?))),
        "cas" if allow_cas => match invoke {
            Value::Array(pair) if pair.len() == 2 => Ok(Some(RegisterOp::Cas(
                scalar_arg(f, &pair[0])?,
                scalar_arg(f, &pair[1])?,
            ))),
            other => Err(format!("cas needs a value [old, new], not {other}")),
        },
        _ => Err(unknown_f(
            model,
            f,
            if allow_cas {
                "read, write and cas"
            } else {
                "read and write"
            },
        )),
    }
}

fn step_register(state: &RegisterState, op: &RegisterOp, next: &mut Vec<RegisterState>) {
    match op {
        RegisterOp::Read(v) => {
            if state.0 == *v {
                next.push(state.clone())
            }
        }
        RegisterOp::Write(v) => next.push(RegisterState(Some(v.clone()))),
        RegisterOp::Cas(old, new) => {
            if state.0.as_ref() == Some(old) {
                next.push(RegisterState(Some(new.clone())))
            }
        }
    }
}

fn explain_register(state: &RegisterState, op: &RegisterOp) -> String {
    match op {
        RegisterOp::Read(v) => format!("can't read {} from a register holding {state}", Shown(v)),
        RegisterOp::Cas(old, new) => {
            format!("can't cas {old} -> {new}: the register holds {state}, not {old}")
        }
        RegisterOp::Write(v) => format!("can't write {v}"),
    }
}

/// Keeps the indeterminate writes whose value some operation that matters observes; a
/// write nobody reads cannot change whether the reads that happened are explained. Cas
/// observes its old value, so the set of observed values grows to a fixed point.
fn relevant_register_writes(indeterminate: &[RegisterOp], determinate: &[RegisterOp]) -> Vec<bool> {
    let mut observed: FxHashSet<&Scalar> = FxHashSet::default();
    for op in determinate {
        match op {
            RegisterOp::Read(Some(v)) | RegisterOp::Cas(v, _) => {
                observed.insert(v);
            }
            _ => {}
        }
    }
    let mut keep = vec![false; indeterminate.len()];
    loop {
        let mut changed = false;
        for (i, op) in indeterminate.iter().enumerate() {
            if keep[i] {
                continue;
            }
            let written = match op {
                RegisterOp::Write(v) | RegisterOp::Cas(_, v) => v,
                RegisterOp::Read(_) => continue,
            };
            if observed.contains(written) {
                keep[i] = true;
                changed = true;
                if let RegisterOp::Cas(old, _) = op {
                    observed.insert(old);
                }
            }
        }
        if !changed {
            return keep;
        }
    }
}

/// The last completed operation that observes each indeterminate write's value: a read
/// of it or a cas from it, or, through an indeterminate cas from it, whatever observes
/// that cas's value in turn.
fn last_register_observer(
    indeterminate: &[RegisterOp],
    determinate: &[RegisterOp],
) -> Vec<Option<usize>> {
    let mut last: FxHashMap<&Scalar, usize> = FxHashMap::default();
    for (i, op) in determinate.iter().enumerate() {
        if let RegisterOp::Read(Some(v)) | RegisterOp::Cas(v, _) = op {
            last.insert(v, i);
        }
    }
    // Indeterminate cas ops carry what observes their new value back to their old one.
    let edges: Vec<(&Scalar, &Scalar)> = indeterminate
        .iter()
        .filter_map(|op| match op {
            RegisterOp::Cas(old, new) => Some((old, new)),
            _ => None,
        })
        .collect();
    // At most one pass per edge is needed for the maxima to settle.
    for _ in 0..=edges.len() {
        let mut changed = false;
        for &(old, new) in &edges {
            if let Some(&l) = last.get(new) {
                let e = last.entry(old).or_insert(0);
                if l > *e {
                    *e = l;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    indeterminate
        .iter()
        .map(|op| match op {
            RegisterOp::Write(v) | RegisterOp::Cas(_, v) => Some(last.get(v).copied().unwrap_or(0)),
            RegisterOp::Read(_) => Some(0),
        })
        .collect()
}

/// A read of `v` can succeed later only if the register holds `v` now or some operation
/// that may come first puts `v` there.
fn register_reachable(
    state: &RegisterState,
    read: &RegisterOp,
    between: &mut dyn Iterator<Item = &RegisterOp>,
) -> bool {
    let RegisterOp::Read(v) = read else {
        return true;
    };
    if state.0 == *v {
        return true;
    }
    let Some(v) = v else {
        // Nothing writes "unset" back.
        return false;
    };
    for op in between {
        if let RegisterOp::Write(w) | RegisterOp::Cas(_, w) = op {
            if w == v {
                return true;
            }
        }
    }
    false
}

/// Writes of a value that no read returns and no cas expects.
fn unobserved_register_writes(ops: &[RegisterOp]) -> Vec<bool> {
    let mut observed: FxHashSet<&Scalar> = FxHashSet::default();
    for op in ops {
        match op {
            RegisterOp::Read(Some(v)) | RegisterOp::Cas(v, _) => {
                observed.insert(v);
            }
            _ => {}
        }
    }
    ops.iter()
        .map(|op| matches!(op, RegisterOp::Write(v) if !observed.contains(v)))
        .collect()
}

/// The two registers differ only in their name and in accepting cas.
macro_rules! register_model {
    ($ty:ident, $name:literal, $allow_cas:literal) => {
        impl Model for $ty {
            type State = RegisterState;
            type Op = RegisterOp;

            fn name(&self) -> &'static str {
                $name
            }

            fn init(&self) -> RegisterState {
                RegisterState(None)
            }

            fn parse(
                &self,
                f: &str,
                invoke: &Value,
                result: Option<&Value>,
                outcome: Outcome,
            ) -> Result<Option<RegisterOp>, String> {
                parse_register($name, $allow_cas, f, invoke, result, outcome)
            }

            /// A register that starts holding a value is never unset (nothing writes
            /// null), so a read of null cannot have seen it unset: as Knossos takes
            /// every read of nil, it did not observe the value, and constrains nothing.
            fn parse_from(
                &self,
                start: &RegisterState,
                f: &str,
                invoke: &Value,
                result: Option<&Value>,
                outcome: Outcome,
            ) -> Result<Option<RegisterOp>, String> {
                match parse_register($name, $allow_cas, f, invoke, result, outcome)? {
                    Some(RegisterOp::Read(None)) if start.0.is_some() => Ok(None),
                    op => Ok(op),
                }
            }

            fn step(&self, state: &RegisterState, op: &RegisterOp, next: &mut Vec<RegisterState>) {
                step_register(state, op, next)
            }

            fn explain(&self, state: &RegisterState, op: &RegisterOp) -> String {
                explain_register(state, op)
            }

            fn relevant_indeterminate(&self, ind: &[RegisterOp], det: &[RegisterOp]) -> Vec<bool> {
                relevant_register_writes(ind, det)
            }

            fn last_observer(&self, ind: &[RegisterOp], det: &[RegisterOp]) -> Vec<Option<usize>> {
                last_register_observer(ind, det)
            }

            fn read_only(&self, op: &RegisterOp) -> bool {
                matches!(op, RegisterOp::Read(_))
            }

            fn checks_reachability(&self) -> bool {
                true
            }

            fn unobserved(&self, ops: &[RegisterOp]) -> Vec<bool> {
                unobserved_register_writes(ops)
            }

            fn reachable(
                &self,
                state: &RegisterState,
                read: &RegisterOp,
                between: &mut dyn Iterator<Item = &RegisterOp>,
            ) -> bool {
                register_reachable(state, read, between)
            }

            fn blind(&self, op: &RegisterOp) -> bool {
                matches!(op, RegisterOp::Write(_))
            }

            /// Any value a write could put there; `null` is the usual unset start. A set
            /// start changes what a read of null means (see `parse_from`).
            fn state_from_json(&self, value: &Value) -> Result<RegisterState, String> {
                Ok(RegisterState(Scalar::from_json(value)))
            }
        }
    };
}

register_model!(Register, "register", false);
register_model!(CasRegister, "cas-register", true);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// A get that returned this string (`""`: nothing stored).
    Get(String),
    Put(String),
    Append(String),
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Get(v) => write!(f, "get {v:?}"),
            KvOp::Put(v) => write!(f, "put {v:?}"),
            KvOp::Append(v) => write!(f, "append {v:?}"),
        }
    }
}

/// The string stored under one key, with a hash kept up to date as it grows: appends
/// make long strings, and the search hashes every new state, so rehashing the whole
/// string each time would cost as much as the rest of the search.
#[derive(Debug, Clone)]
pub struct KvState {
    value: String,
    hash: u64,
}

impl KvState {
    pub fn new(value: String) -> KvState {
        let hash = extend_hash(HASH_SEED, &value);
        KvState { value, hash }
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    fn appended(&self, suffix: &str) -> KvState {
        let mut value = String::with_capacity(self.value.len() + suffix.len());
        value.push_str(&self.value);
        value.push_str(suffix);
        KvState {
            value,
            hash: extend_hash(self.hash, suffix),
        }
    }
}

const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// A hash over the bytes in order, so that hash(a + b) = extend_hash(hash(a), b).
fn extend_hash(mut h: u64, s: &str) -> u64 {
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl PartialEq for KvState {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.value == other.value
    }
}

impl Eq for KvState {}

impl std::hash::Hash for KvState {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash)
    }
}

impl fmt::Display for KvState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.value)
    }
}

/// A key/value store of strings with get, put and append, checked per key (the history's
/// `key` field splits it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Kv;

fn kv_string(f: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("{f} needs a string value, not {other}")),
    }
}

impl Model for Kv {
    type State = KvState;
    type Op = KvOp;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::new(String::new())
    }

    fn parse(
        &self,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<KvOp>, String> {
        match f {
            "get" | "read" => Ok(match outcome {
                Outcome::Ok => Some(KvOp::Get(kv_string(f, result.unwrap_or(&Value::Null))?)),
                _ => None,
            }),
            "put" | "write" => Ok(Some(KvOp::Put(kv_string(f, invoke)?))),
            "append" => Ok(Some(KvOp::Append(kv_string(f, invoke)?))),
            _ => Err(unknown_f(self.name(), f, "get, put and append")),
        }
    }

    fn step(&self, state: &KvState, op: &KvOp, next: &mut Vec<KvState>) {
        match op {
            KvOp::Get(v) => {
                if state.value == *v {
                    next.push(state.clone())
                }
            }
            KvOp::Put(v) => next.push(KvState::new(v.clone())),
            KvOp::Append(v) => next.push(state.appended(v)),
        }
    }

    fn read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }

    fn checks_reachability(&self) -> bool {
        true
    }

    /// A put is observed by any get that starts with what it stored (appends may have
    /// followed it).
    fn unobserved(&self, ops: &[KvOp]) -> Vec<bool> {
        let gets: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                KvOp::Get(v) => Some(v.as_str()),
                _ => None,
            })
            .collect();
        ops.iter()
            .map(|op| match op {
                KvOp::Put(p) => !gets.iter().any(|g| g.starts_with(p.as_str())),
                _ => false,
            })
            .collect()
    }

    /// Appends only make the string longer: a get can still see `v` only if what is
    /// stored now is where `v` starts, or a put that may come first stores a start of it.
    fn reachable(
        &self,
        state: &KvState,
        read: &KvOp,
        between: &mut dyn Iterator<Item = &KvOp>,
    ) -> bool {
        let KvOp::Get(v) = read else {
            return true;
        };
        if v.starts_with(state.value.as_str()) {
            return true;
        }
        for op in between {
            if matches!(op, KvOp::Put(p) if v.starts_with(p.as_str())) {
                return true;
            }
        }
        false
    }

    fn blind(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Put(_))
    }

    fn heap_size(&self, state: &KvState) -> usize {
        state.value.capacity()
    }

    fn explain(&self, state: &KvState, op: &KvOp) -> String {
        match op {
            KvOp::Get(v) => format!("can't get {v:?}: the key holds {state}"),
            other => format!("{other} is not possible when the key holds {state}"),
        }
    }

    /// One string every key starts with: the model sees one key at a time and cannot
    /// tell them apart, as Jepsen's independent checker gives each key the same model.
    fn state_from_json(&self, value: &Value) -> Result<KvState, String> {
        kv_string("", value).map(KvState::new).map_err(|_| {
            format!("the kv model starts every key from one string (such as \"\"), not {value}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps<M: Model>(m: &M, s: &M::State, op: &M::Op) -> Vec<M::State> {
        let mut v = Vec::new();
        m.step(s, op, &mut v);
        v
    }

    fn reach<M: Model>(m: &M, s: &M::State, read: &M::Op, between: &[M::Op]) -> bool {
        m.reachable(s, read, &mut between.iter())
    }

    #[test]
    fn a_read_is_reachable_only_through_what_may_come_first() {
        let sc = |v: i64| Scalar::from_json(&json!(v)).unwrap();
        let holds = |v: i64| RegisterState(Some(sc(v)));
        let read = RegisterOp::Read(Some(sc(2)));
        assert!(reach(&CasRegister, &holds(2), &read, &[]));
        assert!(!reach(&CasRegister, &holds(1), &read, &[]));
        assert!(!reach(
            &CasRegister,
            &holds(1),
            &read,
            &[RegisterOp::Write(sc(3))]
        ));
        assert!(reach(
            &CasRegister,
            &holds(1),
            &read,
            &[RegisterOp::Write(sc(2))]
        ));
        assert!(reach(
            &CasRegister,
            &holds(1),
            &read,
            &[RegisterOp::Cas(sc(5), sc(2))]
        ));
        // Nothing makes a register unset again.
        let unset = RegisterOp::Read(None);
        assert!(!reach(
            &Register,
            &holds(1),
            &unset,
            &[RegisterOp::Write(sc(1))]
        ));
        assert!(reach(&Register, &RegisterState(None), &unset, &[]));

        let kv = |s: &str| KvState::new(s.to_string());
        let get = KvOp::Get("ab".into());
        assert!(reach(&Kv, &kv("a"), &get, &[]));
        assert!(reach(&Kv, &kv(""), &get, &[]));
        assert!(!reach(&Kv, &kv("b"), &get, &[KvOp::Append("b".into())]));
        assert!(!reach(&Kv, &kv("b"), &get, &[KvOp::Put("x".into())]));
        assert!(reach(&Kv, &kv("b"), &get, &[KvOp::Put("a".into())]));
        assert!(reach(&Kv, &kv("b"), &get, &[KvOp::Put("".into())]));
    }

    #[test]
    fn cas_register_semantics() {
        let m = CasRegister;
        let s0 = m.init();
        let w = m
            .parse("write", &json!(3), Some(&json!(3)), Outcome::Ok)
            .unwrap()
            .unwrap();
        let s1 = steps(&m, &s0, &w).pop().unwrap();
        assert_eq!(s1, RegisterState(Some(Scalar::Int(3))));
        let cas = m
            .parse("cas", &json!([3, 4]), None, Outcome::Info)
            .unwrap()
            .unwrap();
        assert_eq!(
            steps(&m, &s1, &cas),
            vec![RegisterState(Some(Scalar::Int(4)))]
        );
        assert!(steps(&m, &s0, &cas).is_empty());
        let read_null = m
            .parse("read", &json!(null), Some(&json!(null)), Outcome::Ok)
            .unwrap()
            .unwrap();
        assert_eq!(steps(&m, &s0, &read_null), vec![s0.clone()]);
        assert!(steps(&m, &s1, &read_null).is_empty());
        // A crashed read constrains nothing and is dropped.
        assert_eq!(
            m.parse("read", &json!(null), None, Outcome::Info).unwrap(),
            None
        );
        assert!(m.parse("cas", &json!(3), None, Outcome::Ok).is_err());
        assert!(Register
            .parse("cas", &json!([1, 2]), None, Outcome::Ok)
            .is_err());
        assert!(m
            .parse("frob", &json!(1), None, Outcome::Ok)
            .unwrap_err()
            .contains("frob"));
    }

    #[test]
    fn unread_indeterminate_writes_are_irrelevant() {
        use RegisterOp::*;
        let i = |v| Scalar::Int(v);
        let ind = vec![
            Write(i(1)),
            Write(i(2)),
            Cas(i(7), i(3)),
            Write(i(7)),
            Cas(i(8), i(9)),
        ];
        let det = vec![Read(Some(i(2))), Read(Some(i(3)))];
        // 2 is read; 3 is read and comes from cas 7->3, which makes the write of 7 matter.
        assert_eq!(
            relevant_register_writes(&ind, &det),
            vec![false, true, true, true, false]
        );
    }

    #[test]
    fn observers_follow_indeterminate_cas_chains() {
        use RegisterOp::*;
        let i = |v| Scalar::Int(v);
        let det = vec![
            Read(Some(i(1))),
            Read(Some(i(3))),
            Cas(i(1), i(2)),
            Read(Some(i(9))),
        ];
        // write 1 is observed up to position 2 (the cas from 1); write 7 only through the
        // indeterminate cas 7 -> 3, whose value is read at position 1.
        let ind = vec![Write(i(1)), Write(i(7)), Cas(i(7), i(3)), Write(i(5))];
        assert_eq!(
            last_register_observer(&ind, &det),
            vec![Some(2), Some(1), Some(1), Some(0)]
        );
    }

    #[test]
    fn kv_state_hash_follows_appends() {
        let a = KvState::new("x 1 0 y".into()).appended("x 2 0 y");
        let b = KvState::new("x 1 0 yx 2 0 y".into());
        assert_eq!(a, b);
        let mut v = Vec::new();
        Kv.step(
            &KvState::new("ab".into()),
            &KvOp::Append("c".into()),
            &mut v,
        );
        assert_eq!(v[0].value(), "abc");
        assert_ne!(KvState::new("ab".into()), KvState::new("ba".into()));
    }

    #[test]
    fn kv_appends() {
        let m = Kv;
        let a = m
            .parse("append", &json!("x 1 0 y"), None, Outcome::Info)
            .unwrap()
            .unwrap();
        let s = steps(&m, &m.init(), &a).pop().unwrap();
        let g = m
            .parse("get", &json!(null), Some(&json!("x 1 0 y")), Outcome::Ok)
            .unwrap()
            .unwrap();
        assert_eq!(steps(&m, &s, &g).len(), 1);
        assert!(steps(&m, &m.init(), &g).is_empty());
    }
}
