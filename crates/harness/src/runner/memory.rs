//! An in-memory, linearizable store and its client: for the runner's tests and for
//! measuring the runner's own overhead. Every operation takes effect under one mutex,
//! between its invocation and its completion.

use super::{Client, ClientFactory, Completion, Invocation, OpenError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    registers: HashMap<String, Value>,
    set: Vec<Value>,
    lists: HashMap<String, Vec<Value>>,
    counters: HashMap<String, i64>,
}

/// Registers (keyed), one set, lists (keyed) and counters, shared by all clients. A
/// string key names a counter (`add` with a key, and its `read`, which is 0 before any
/// add); the other workloads' keys are integers.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ClientFactory for MemoryStore {
    fn open(&self, _node: &str) -> Result<Box<dyn Client>, OpenError> {
        Ok(Box::new(MemoryClient {
            state: self.state.clone(),
        }))
    }
}

struct MemoryClient {
    state: Arc<Mutex<State>>,
}

fn key_of(op: &Invocation) -> String {
    op.key.as_ref().map(Value::to_string).unwrap_or_default()
}

impl Client for MemoryClient {
    fn invoke(&mut self, op: &Invocation) -> Completion {
        let Ok(mut s) = self.state.lock() else {
            return Completion::fail(op.value.clone(), "store poisoned");
        };
        let v = &op.value;
        let counter = op
            .key
            .as_ref()
            .filter(|k| k.is_string())
            .map(|_| key_of(op));
        match (&*op.f, counter) {
            ("read", Some(k)) => return Completion::ok(json!(s.counters.get(&k).unwrap_or(&0))),
            ("add", Some(k)) => {
                let Some(delta) = v.as_i64() else {
                    return Completion::fail(v.clone(), "add needs an integer");
                };
                *s.counters.entry(k).or_default() += delta;
                return Completion::ok(v.clone());
            }
            _ => {}
        }
        match &*op.f {
            "read" if op.key.is_none() && !s.set.is_empty() => Completion::ok(json!(s.set)),
            "read" => {
                let k = key_of(op);
                if op.key.is_none() {
                    return Completion::ok(json!(s.set));
                }
                Completion::ok(s.registers.get(&k).cloned().unwrap_or(Value::Null))
            }
            "write" => {
                s.registers.insert(key_of(op), v.clone());
                Completion::ok(v.clone())
            }
            "cas" => {
                let k = key_of(op);
                let (Some(old), Some(new)) = (v.get(0), v.get(1)) else {
                    return Completion::fail(v.clone(), "cas needs [old, new]");
                };
                if s.registers.get(&k).unwrap_or(&Value::Null) == old {
                    s.registers.insert(k, new.clone());
                    Completion::ok(v.clone())
                } else {
                    Completion::fail(v.clone(), "cas mismatch")
                }
            }
            "add" => {
                s.set.push(v.clone());
                Completion::ok(v.clone())
            }
            "txn" => {
                let Some(mops) = v.as_array() else {
                    return Completion::fail(v.clone(), "txn needs an array");
                };
                let mut out = Vec::with_capacity(mops.len());
                for m in mops {
                    let k = m.get(1).map(Value::to_string).unwrap_or_default();
                    match m.get(0).and_then(Value::as_str) {
                        Some("r") => {
                            let l = s.lists.get(&k).cloned();
                            out.push(json!(["r", m[1], l]));
                        }
                        Some("append") => {
                            s.lists
                                .entry(k)
                                .or_default()
                                .push(m.get(2).cloned().unwrap_or(Value::Null));
                            out.push(m.clone());
                        }
                        _ => return Completion::fail(v.clone(), "unknown micro-op"),
                    }
                }
                Completion::ok(Value::Array(out))
            }
            f => Completion::fail(v.clone(), format!("unknown operation {f}")),
        }
    }
}
