//! A seeded simulator of a linearizable store, for property tests and benchmarks of the
//! checkers.
//!
//! A discrete-event simulation: `clients` workers each run one operation at a time. An
//! operation is invoked, takes effect at a linearization point strictly inside its interval,
//! and completes; the store's state only changes at linearization points, so with
//! `stale_read_prob = 0` every history is linearizable by construction. Events are emitted
//! in time order (ties in a fixed order), with consecutive indices and `time` in ns.
//!
//! - `info` ops time out: with probability 1/2 they take effect anyway, at a random point
//!   after their invocation that may fall after the process gave up. The process is then
//!   retired and its worker continues as process id + `clients`, Jepsen's rule.
//! - `fail` ops (a `fail_rate` share, plus every cas whose old value did not match, as etcd
//!   answers) had no effect.
//! - A stale read (probability `stale_read_prob` per read that would end `ok`) returns a
//!   value its key held some time before the read's invocation but at no point during the
//!   read's interval, so the history is very likely not linearizable. When no such value
//!   exists yet, the read stays honest.
//!
//! The same config and seed give the same history.

#[cfg(test)]
mod tests;

use crate::history::{History, Op, OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the simulated store is, with the value conventions of `HISTORY-FORMAT.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimModel {
    /// `read` / `write` of integers; `read` gives `null` while unset.
    Register,
    /// `read` / `write` / `cas` (`[old, new]`) of integers.
    CasRegister,
    /// `get` / `put` / `append` of strings, always keyed by a string key (as in
    /// `shared/histories/kv`); `get` gives `""` for nothing stored.
    Kv,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub model: SimModel,
    /// Operations (invocation + completion pairs); the history has twice as many events.
    pub ops: usize,
    /// Concurrent workers; 0 counts as 1.
    pub clients: usize,
    /// Keys, each an independent object; 0 counts as 1. Registers set `op.key` (an integer)
    /// only when there is more than one; kv always does.
    pub keys: usize,
    /// Written values are drawn from `0..values`; 0 makes every written value unique.
    pub values: u64,
    /// Share of operations that end `info`.
    pub info_rate: f64,
    /// Share of operations that end `fail` without effect (cas mismatches come on top).
    pub fail_rate: f64,
    /// Chance that a read which ends `ok` returns a stale value.
    pub stale_read_prob: f64,
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            model: SimModel::CasRegister,
            ops: 1000,
            clients: 5,
            keys: 1,
            values: 5,
            info_rate: 0.0,
            fail_rate: 0.0,
            stale_read_prob: 0.0,
            seed: 0,
        }
    }
}

/// Runs the simulation; see the module documentation.
pub fn simulate(cfg: &SimConfig) -> History {
    let mut sim = Sim::new(cfg);
    sim.run();
    History {
        ops: sim.out,
        source: PathBuf::from(format!("sim:{:?}:seed={}", cfg.model, cfg.seed)),
        completions_only: false,
    }
}

// Latencies in ns: short think times keep many operations concurrent.
const THINK_MAX: u64 = 50_000;
/// From invocation to linearization point, and from there to completion.
const STEP_MAX: u64 = 1_000_000;
/// When an `info` op gives up, after its invocation.
const TIMEOUT_MAX: u64 = 5_000_000;
/// When an `info` op that takes effect does, after its invocation: often after the timeout.
const LATE_EFFECT_MAX: u64 = 10_000_000;
/// How far back a stale read looks for a value: old values are what lagging replicas serve,
/// and the bound keeps each read cheap.
const STALE_SCAN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
    Get,
    Put,
    Append,
}

impl Kind {
    /// In declaration order, so `kind as usize` indexes it.
    const ALL: [Kind; 6] = [
        Kind::Read,
        Kind::Write,
        Kind::Cas,
        Kind::Get,
        Kind::Put,
        Kind::Append,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Cas => "cas",
            Kind::Get => "get",
            Kind::Put => "put",
            Kind::Append => "append",
        }
    }

    fn is_read(self) -> bool {
        matches!(self, Kind::Read | Kind::Get)
    }
}

/// How an operation will end, drawn at invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// `ok`, or `fail` for a cas that did not match.
    Normal,
    Fail,
    Info,
}

struct Pending {
    worker: usize,
    process: u64,
    kind: Kind,
    key: usize,
    arg: Value,
    fate: Fate,
    invoked: u64,
    stale: bool,
    /// Set at the linearization point: what a read saw, and whether a cas matched.
    seen: Value,
    matched: bool,
}

/// Ordered by (time, sequence number) in the queue, so ties are broken deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Invoke {
        worker: usize,
    },
    Linearize {
        op: usize,
    },
    Complete {
        op: usize,
    },
    /// A late effect of an `info` op.
    Effect {
        op: usize,
    },
}

struct Sim<'c> {
    cfg: &'c SimConfig,
    clients: usize,
    keys: usize,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Reverse<(u64, u64, Step)>>,
    seq: u64,
    pending: Vec<Pending>,
    /// Per key, each value it held and since when, in time order; starts with the initial
    /// value at time 0.
    versions: Vec<Vec<(u64, Value)>>,
    /// Each worker's current process id.
    processes: Vec<u64>,
    next_unique: u64,
    names: Vec<Arc<str>>,
    out: Vec<Op>,
}

/// A probability made safe for `random_bool`, which panics outside [0, 1].
fn prob(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

impl<'c> Sim<'c> {
    fn new(cfg: &'c SimConfig) -> Self {
        let clients = cfg.clients.max(1);
        let keys = cfg.keys.max(1);
        let initial = match cfg.model {
            SimModel::Kv => Value::String(String::new()),
            SimModel::Register | SimModel::CasRegister => Value::Null,
        };
        Sim {
            cfg,
            clients,
            keys,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            queue: BinaryHeap::new(),
            seq: 0,
            pending: Vec::with_capacity(cfg.ops),
            versions: vec![vec![(0, initial)]; keys],
            processes: (0..clients as u64).collect(),
            next_unique: 0,
            names: Kind::ALL.iter().map(|k| Arc::from(k.name())).collect(),
            out: Vec::with_capacity(cfg.ops.saturating_mul(2)),
        }
    }

    fn schedule(&mut self, time: u64, step: Step) {
        self.seq += 1;
        self.queue.push(Reverse((time, self.seq, step)));
    }

    fn run(&mut self) {
        for worker in 0..self.clients {
            let t = self.rng.random_range(1..=THINK_MAX);
            self.schedule(t, Step::Invoke { worker });
        }
        while let Some(Reverse((now, _, step))) = self.queue.pop() {
            match step {
                Step::Invoke { worker } => self.invoke(worker, now),
                Step::Linearize { op } | Step::Effect { op } => self.apply(op, now),
                Step::Complete { op } => self.complete(op, now),
            }
        }
    }

    fn invoke(&mut self, worker: usize, now: u64) {
        if self.pending.len() >= self.cfg.ops {
            return;
        }
        let kind = self.choose_kind();
        let key = self.rng.random_range(0..self.keys);
        let arg = self.argument(kind, key, worker);
        let info = prob(self.cfg.info_rate);
        let fail = prob(self.cfg.fail_rate);
        let u: f64 = self.rng.random();
        let fate = if u < info {
            Fate::Info
        } else if u < info + fail {
            Fate::Fail
        } else {
            Fate::Normal
        };
        let stale = kind.is_read()
            && fate == Fate::Normal
            && self.rng.random_bool(prob(self.cfg.stale_read_prob));
        let op = self.pending.len();
        let process = self.processes[worker];
        self.pending.push(Pending {
            worker,
            process,
            kind,
            key,
            arg: arg.clone(),
            fate,
            invoked: now,
            stale,
            seen: Value::Null,
            matched: false,
        });
        self.emit(op, OpType::Invoke, arg, None, now);
        match fate {
            Fate::Normal => {
                let at = now + self.rng.random_range(1..=STEP_MAX);
                self.schedule(at, Step::Linearize { op });
                let done = at + self.rng.random_range(1..=STEP_MAX);
                self.schedule(done, Step::Complete { op });
            }
            Fate::Fail => {
                let done = now + self.rng.random_range(2..=2 * STEP_MAX);
                self.schedule(done, Step::Complete { op });
            }
            Fate::Info => {
                let done = now + self.rng.random_range(1..=TIMEOUT_MAX);
                self.schedule(done, Step::Complete { op });
                if self.rng.random_bool(0.5) && !kind.is_read() {
                    let at = now + self.rng.random_range(1..=LATE_EFFECT_MAX);
                    self.schedule(at, Step::Effect { op });
                }
            }
        }
    }

    fn choose_kind(&mut self) -> Kind {
        let u: f64 = self.rng.random();
        match self.cfg.model {
            SimModel::Register if u < 0.5 => Kind::Read,
            SimModel::Register => Kind::Write,
            SimModel::CasRegister if u < 0.4 => Kind::Read,
            SimModel::CasRegister if u < 0.7 => Kind::Write,
            SimModel::CasRegister => Kind::Cas,
            // Puts as often as appends keep each key's string short: a put resets it.
            SimModel::Kv if u < 0.5 => Kind::Get,
            SimModel::Kv if u < 0.75 => Kind::Put,
            SimModel::Kv => Kind::Append,
        }
    }

    fn argument(&mut self, kind: Kind, key: usize, worker: usize) -> Value {
        match kind {
            Kind::Read | Kind::Get => Value::Null,
            Kind::Write => self.int(),
            Kind::Cas => {
                // Half the time the value the key holds now, so that many cas ops match.
                let current = &self.current(key);
                let old = if current.is_number() && self.rng.random_bool(0.5) {
                    current.clone()
                } else {
                    self.int()
                };
                Value::Array(vec![old, self.int()])
            }
            Kind::Put | Kind::Append => {
                let text = if self.cfg.values == 0 {
                    self.next_unique += 1;
                    format!("x {worker} {} y", self.next_unique - 1)
                } else {
                    format!("x {} y", self.rng.random_range(0..self.cfg.values))
                };
                Value::String(text)
            }
        }
    }

    fn int(&mut self) -> Value {
        if self.cfg.values == 0 {
            self.next_unique += 1;
            Value::from(self.next_unique - 1)
        } else {
            Value::from(self.rng.random_range(0..self.cfg.values))
        }
    }

    fn current(&self, key: usize) -> Value {
        self.versions[key]
            .last()
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    }

    /// The operation takes effect now.
    fn apply(&mut self, op: usize, now: u64) {
        let current = self.current(self.pending[op].key);
        let p = &mut self.pending[op];
        let new = match p.kind {
            Kind::Read | Kind::Get => {
                p.seen = current;
                None
            }
            Kind::Write | Kind::Put => Some(p.arg.clone()),
            Kind::Append => {
                let mut s = current.as_str().unwrap_or_default().to_string();
                s.push_str(p.arg.as_str().unwrap_or_default());
                Some(Value::String(s))
            }
            Kind::Cas => {
                let (old, new) = match &p.arg {
                    Value::Array(pair) if pair.len() == 2 => (&pair[0], &pair[1]),
                    _ => return,
                };
                p.matched = *old == current;
                p.matched.then(|| new.clone())
            }
        };
        if let Some(v) = new {
            let key = p.key;
            self.versions[key].push((now, v));
        }
    }

    fn complete(&mut self, op: usize, now: u64) {
        let stale = if self.pending[op].stale {
            self.stale_value(op)
        } else {
            None
        };
        let p = &self.pending[op];
        let (kind, value, error) = match p.fate {
            Fate::Normal if p.kind.is_read() => {
                (OpType::Ok, stale.unwrap_or_else(|| p.seen.clone()), None)
            }
            Fate::Normal if p.kind == Kind::Cas && !p.matched => {
                (OpType::Fail, p.arg.clone(), None)
            }
            Fate::Normal => (OpType::Ok, p.arg.clone(), None),
            Fate::Fail => (
                OpType::Fail,
                if p.kind.is_read() {
                    Value::Null
                } else {
                    p.arg.clone()
                },
                Some(Value::from("unavailable")),
            ),
            Fate::Info => (OpType::Info, p.arg.clone(), Some(Value::from("timeout"))),
        };
        let worker = p.worker;
        self.emit(op, kind, value, error, now);
        if kind == OpType::Info {
            // Jepsen's rule: a process whose outcome is unknown never acts again.
            self.processes[worker] += self.clients as u64;
        }
        let next = now + self.rng.random_range(1..=THINK_MAX);
        self.schedule(next, Step::Invoke { worker });
    }

    /// A value the read's key held before the read was invoked but at no point from then
    /// until now (its completion), if there is one.
    fn stale_value(&mut self, op: usize) -> Option<Value> {
        let p = &self.pending[op];
        let versions = &self.versions[p.key];
        // The version current at invocation: the last one set at or before it.
        let at_invoke = versions
            .partition_point(|(t, _)| *t <= p.invoked)
            .saturating_sub(1);
        let held = &versions[at_invoke..];
        let mut candidates: Vec<&Value> = Vec::new();
        for (_, v) in versions[..at_invoke].iter().rev().take(STALE_SCAN) {
            if !held.iter().any(|(_, h)| h == v) && !candidates.contains(&v) {
                candidates.push(v);
            }
        }
        if candidates.is_empty() {
            return None;
        }
        let pick = self.rng.random_range(0..candidates.len());
        Some(candidates[pick].clone())
    }

    fn emit(&mut self, op: usize, kind: OpType, value: Value, error: Option<Value>, now: u64) {
        let p = &self.pending[op];
        let key = match self.cfg.model {
            SimModel::Kv => Some(Value::String(p.key.to_string())),
            _ if self.keys > 1 => Some(Value::from(p.key)),
            _ => None,
        };
        let f = self.names[p.kind as usize].clone();
        self.out.push(Op {
            index: self.out.len() as u64,
            kind,
            process: Process::Client(p.process),
            f,
            value,
            key,
            time: i64::try_from(now).ok(),
            node: None,
            error,
            line: 0,
        });
    }
}
