//! Transactions as the analyses see them: the `txn` operations of a history parsed once
//! into compact micro-ops. Keys and values are interned so that the hot loops compare and
//! hash small `Copy` values instead of JSON trees.

use super::error::ElleError;
use crate::history::{History, Outcome};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// A key or a written value: an integer, or an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Val {
    Int(i64),
    Str(u32),
}

/// Dense id of a key, an index into [`Txns::keys`].
pub(crate) type KeyId = u32;

/// Which micro-op names a workload accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    /// `["append", k, v]` and `["r", k, list-or-null]`.
    ListAppend,
    /// `["w", k, v]` and `["r", k, v-or-null]`.
    RwRegister,
}

/// What a read returned. Reads of transactions that did not complete `ok` are `Unknown`:
/// their results were never reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadVal {
    Unknown,
    /// rw-register: the key had no value.
    Nil,
    /// rw-register: the value read.
    One(Val),
    /// list-append: the list read, a range of [`Txns::elems`]. `null` reads as empty.
    List {
        start: u32,
        len: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mop {
    /// An append (list-append) or a write (rw-register).
    Write {
        key: KeyId,
        value: Val,
    },
    Read {
        key: KeyId,
        value: ReadVal,
    },
}

impl Mop {
    pub(crate) fn key(&self) -> KeyId {
        match *self {
            Mop::Write { key, .. } | Mop::Read { key, .. } => key,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Txn {
    /// History index of the completion, or of the invocation when it never completed:
    /// the number Jepsen users know an operation by.
    pub index: u64,
    /// Source line of that event.
    pub line: u64,
    pub process: u64,
    pub outcome: Outcome,
    /// Positions of the invocation and completion in `History::ops`, for real-time order.
    pub invoke: usize,
    pub complete: Option<usize>,
    mops: (u32, u32),
}

impl Txn {
    pub(crate) fn mop_range(&self) -> Range<usize> {
        self.mops.0 as usize..self.mops.1 as usize
    }

    pub(crate) fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.outcome == Outcome::Fail
    }
}

/// Every txn operation of a history, in invocation order.
#[derive(Debug, Default)]
pub(crate) struct Txns {
    pub txns: Vec<Txn>,
    pub mops: Vec<Mop>,
    pub elems: Vec<Val>,
    /// `KeyId` to key.
    pub keys: Vec<Val>,
    /// `Val::Str` id to string.
    pub strings: Vec<Arc<str>>,
    /// Where the history was read from, for error messages.
    pub source: PathBuf,
    /// Client operations that are not `txn`s, left out of the analysis.
    pub skipped: usize,
    /// The history had completions only: when each txn was invoked is unknown, so there
    /// is no real-time order.
    pub completions_only: bool,
    key_ids: FxHashMap<Val, KeyId>,
    string_ids: FxHashMap<Arc<str>, u32>,
}

impl Txns {
    pub(crate) fn parse(h: &History, workload: Workload) -> Result<Txns, ElleError> {
        let ops = h.operations();
        let mut t = Txns {
            source: h.source.clone(),
            completions_only: h.completions_only,
            ..Txns::default()
        };
        t.txns.reserve(ops.len());
        t.mops.reserve(ops.len() * 4);
        for op in &ops {
            if &*op.f != "txn" {
                t.skipped += 1;
                continue;
            }
            // An ok txn reports its reads in the completion; otherwise only what was
            // attempted is known, from the invocation.
            let at = match (op.outcome, op.complete) {
                (Outcome::Ok, Some(c)) => c,
                _ => op.invoke,
            };
            let event = &h.ops[at];
            let start = t.mops.len() as u32;
            t.parse_mops(&event.value, workload, op.outcome == Outcome::Ok)
                .map_err(|message| ElleError::Malformed {
                    file: h.source.clone(),
                    line: event.line,
                    index: event.index,
                    message,
                })?;
            let (index, line) = match op.complete {
                Some(c) => (h.ops[c].index, h.ops[c].line),
                None => (event.index, event.line),
            };
            t.txns.push(Txn {
                index,
                line,
                process: op.process,
                outcome: op.outcome,
                invoke: op.invoke,
                complete: op.complete,
                mops: (start, t.mops.len() as u32),
            });
        }
        Ok(t)
    }

    fn parse_mops(&mut self, v: &Value, workload: Workload, ok: bool) -> Result<(), String> {
        let Value::Array(mops) = v else {
            return Err(format!(
                "a txn's value must be a list of micro-ops, not {}",
                short(v)
            ));
        };
        for (i, m) in mops.iter().enumerate() {
            let mop = self
                .parse_mop(m, workload, ok)
                .map_err(|e| format!("micro-op {i} {}: {e}", short(m)))?;
            self.mops.push(mop);
        }
        Ok(())
    }

    fn parse_mop(&mut self, m: &Value, workload: Workload, ok: bool) -> Result<Mop, String> {
        let parts = match m {
            Value::Array(p) if p.len() == 3 => p,
            _ => return Err("must be a list [f, key, value]".into()),
        };
        let f = parts[0].as_str().ok_or("f must be a string")?;
        let key = self.val(&parts[1]).map_err(|e| format!("key {e}"))?;
        let key = self.key_id(key);
        match (workload, f) {
            (Workload::ListAppend, "append") | (Workload::RwRegister, "w") => {
                let value = self.val(&parts[2]).map_err(|e| format!("value {e}"))?;
                Ok(Mop::Write { key, value })
            }
            (_, "r") if !ok => Ok(Mop::Read {
                key,
                value: ReadVal::Unknown,
            }),
            (Workload::ListAppend, "r") => {
                let start = self.elems.len() as u32;
                match &parts[2] {
                    Value::Null => {}
                    Value::Array(xs) => {
                        for x in xs {
                            let e = self.val(x).map_err(|e| format!("element {e}"))?;
                            self.elems.push(e);
                        }
                    }
                    other => {
                        return Err(format!(
                            "a list-append read must return a list or null, not {}",
                            short(other)
                        ))
                    }
                }
                let len = self.elems.len() as u32 - start;
                Ok(Mop::Read {
                    key,
                    value: ReadVal::List { start, len },
                })
            }
            (Workload::RwRegister, "r") => {
                let value = match &parts[2] {
                    Value::Null => ReadVal::Nil,
                    x => ReadVal::One(self.val(x).map_err(|e| format!("value {e}"))?),
                };
                Ok(Mop::Read { key, value })
            }
            (Workload::ListAppend, other) => Err(format!(
                "unknown micro-op {other:?}: list-append has \"append\" and \"r\""
            )),
            (Workload::RwRegister, other) => Err(format!(
                "unknown micro-op {other:?}: rw-register has \"w\" and \"r\""
            )),
        }
    }

    fn val(&mut self, v: &Value) -> Result<Val, String> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .map(Val::Int)
                .ok_or_else(|| format!("{n} is not a 64-bit integer")),
            Value::String(s) => {
                if let Some(&id) = self.string_ids.get(s.as_str()) {
                    return Ok(Val::Str(id));
                }
                let id = self.strings.len() as u32;
                let a: Arc<str> = Arc::from(s.as_str());
                self.strings.push(a.clone());
                self.string_ids.insert(a, id);
                Ok(Val::Str(id))
            }
            other => Err(format!(
                "must be an integer or a string, not {}",
                short(other)
            )),
        }
    }

    fn key_id(&mut self, k: Val) -> KeyId {
        let next = self.keys.len() as KeyId;
        let id = *self.key_ids.entry(k).or_insert(next);
        if id == next {
            self.keys.push(k);
        }
        id
    }

    pub(crate) fn mops_of(&self, t: &Txn) -> &[Mop] {
        &self.mops[t.mop_range()]
    }

    pub(crate) fn list(&self, start: u32, len: u32) -> &[Val] {
        &self.elems[start as usize..(start + len) as usize]
    }

    /// A value as JSON, for reports.
    pub(crate) fn json(&self, v: Val) -> Value {
        match v {
            Val::Int(i) => Value::from(i),
            Val::Str(s) => Value::from(&*self.strings[s as usize]),
        }
    }

    /// A value as people read it in explanations.
    pub(crate) fn show(&self, v: Val) -> String {
        match v {
            Val::Int(i) => i.to_string(),
            Val::Str(s) => format!("{:?}", &*self.strings[s as usize]),
        }
    }

    pub(crate) fn show_key(&self, k: KeyId) -> String {
        self.show(self.keys[k as usize])
    }

    pub(crate) fn show_list(&self, xs: &[Val]) -> String {
        let parts: Vec<String> = xs.iter().map(|&x| self.show(x)).collect();
        format!("[{}]", parts.join(", "))
    }

    pub(crate) fn key_json(&self, k: KeyId) -> Value {
        self.json(self.keys[k as usize])
    }

    /// A txn's micro-ops as JSON, in the history's own shape.
    pub(crate) fn txn_json(&self, t: &Txn, workload: Workload) -> Value {
        let w = match workload {
            Workload::ListAppend => "append",
            Workload::RwRegister => "w",
        };
        Value::Array(
            self.mops_of(t)
                .iter()
                .map(|m| match *m {
                    Mop::Write { key, value } => {
                        Value::from(vec![Value::from(w), self.key_json(key), self.json(value)])
                    }
                    Mop::Read { key, value } => {
                        let v = match value {
                            ReadVal::Unknown | ReadVal::Nil => Value::Null,
                            ReadVal::One(x) => self.json(x),
                            ReadVal::List { start, len } => Value::Array(
                                self.list(start, len)
                                    .iter()
                                    .map(|&x| self.json(x))
                                    .collect(),
                            ),
                        };
                        Value::from(vec![Value::from("r"), self.key_json(key), v])
                    }
                })
                .collect(),
        )
    }
}

/// A JSON value cut short for error messages: a history line can be very long.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 80 {
        s
    } else {
        let cut = (0..=77).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        format!("{}...", &s[..cut])
    }
}
