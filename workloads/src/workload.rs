//! Workloads: the operations a test runs (as generators) and the checker each one needs.

use crate::gen::{self, Gen, OpSpec, SECOND};
use faultline_checkers::check::{CheckerSpec, LinearModel};
use faultline_checkers::elle::ConsistencyModel;
use rand::Rng;
use serde_json::{json, Value};
use std::str::FromStr;

/// The workloads faultline knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Independent cas-registers: read, write, cas; linearizability per key.
    Register,
    /// Adds of unique elements, then a final read: lost / unexpected / recovered elements.
    Set,
    /// Transactions of list appends and reads, for Elle's list-append checker.
    Append,
    /// Adds of small positive amounts to one counter, and reads: Jepsen's counter
    /// checker (each read between the adds acknowledged before it and those attempted).
    Counter,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 4] = [
        WorkloadKind::Register,
        WorkloadKind::Set,
        WorkloadKind::Append,
        WorkloadKind::Counter,
    ];

    /// The checker that judges this workload's histories; `consistency_model` is the
    /// one list-append is checked against (the others have none).
    pub fn checker(self, consistency_model: ConsistencyModel) -> CheckerSpec {
        match self {
            WorkloadKind::Register => CheckerSpec::linearizable(LinearModel::CasRegister),
            WorkloadKind::Set => CheckerSpec::JepsenSet,
            WorkloadKind::Append => CheckerSpec::ListAppend { consistency_model },
            WorkloadKind::Counter => CheckerSpec::Counter,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Set => "set",
            WorkloadKind::Append => "append",
            WorkloadKind::Counter => "counter",
        }
    }
}

impl FromStr for WorkloadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WorkloadKind::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| {
                format!("unknown workload {s:?} (known: register, set, append, counter)")
            })
    }
}

/// How a workload runs.
#[derive(Debug, Clone)]
pub struct WorkloadOptions {
    /// Client threads.
    pub concurrency: usize,
    /// Length of the main phase, ns.
    pub time_limit: u64,
    /// Total operations per second in the main phase; 0 = as fast as clients go.
    pub rate: f64,
    /// register: operations per key before its threads move to a fresh key (keeps each
    /// key's linearizability search small).
    pub ops_per_key: u64,
    /// register: threads sharing a key.
    pub threads_per_key: usize,
    /// append: keys in use at once, micro-ops per txn, appends per key before retiring it.
    pub key_count: usize,
    pub max_txn_len: usize,
    pub max_writes_per_key: u64,
    /// How long the final phase (final reads) may take, ns.
    pub final_time_limit: u64,
    /// Before the final reads: time for the cluster to recover once faults stop, ns.
    pub recovery_time: u64,
    /// append: the consistency model the history is checked against.
    pub consistency_model: ConsistencyModel,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            concurrency: 10,
            time_limit: 60 * SECOND,
            rate: 100.0,
            ops_per_key: 200,
            threads_per_key: 10,
            key_count: 3,
            max_txn_len: 4,
            max_writes_per_key: 32,
            final_time_limit: 30 * SECOND,
            recovery_time: 2 * SECOND,
            consistency_model: ConsistencyModel::StrictSerializable,
        }
    }
}

/// A workload ready to run: the whole generator (main phase and final phase) and how to
/// check the history it produces.
pub struct Workload {
    pub kind: WorkloadKind,
    pub generator: Gen,
    pub checker: CheckerSpec,
}

pub fn build(kind: WorkloadKind, opts: &WorkloadOptions) -> Workload {
    match kind {
        WorkloadKind::Register => register(opts),
        WorkloadKind::Set => set(opts),
        WorkloadKind::Append => append(opts),
        WorkloadKind::Counter => counter(opts),
    }
}

fn main_phase(opts: &WorkloadOptions, g: Gen) -> Gen {
    gen::clients(gen::time_limit(opts.time_limit, gen::rate(opts.rate, g)))
}

/// Independent cas-registers. Threads are grouped `threads_per_key` to a key; a group
/// moves to a fresh key after `ops_per_key` operations, so keys are never shared between
/// groups and each key's history stays small enough to check.
pub fn register(opts: &WorkloadOptions) -> Workload {
    let tpk = opts.threads_per_key.max(1);
    let groups = opts.concurrency.max(1).div_ceil(tpk);
    let per_key = opts.ops_per_key.max(1);
    let mut counts = vec![0u64; groups];
    let g = gen::from_fn(move |ctx, thread| {
        let group = (thread / tpk).min(groups - 1);
        let key = group as u64 + groups as u64 * (counts[group] / per_key);
        counts[group] += 1;
        let spec = match ctx.rng.random_range(0..3) {
            0 => OpSpec::new("read", Value::Null),
            1 => OpSpec::new("write", json!(ctx.rng.random_range(0..5))),
            _ => OpSpec::new(
                "cas",
                json!([ctx.rng.random_range(0..5), ctx.rng.random_range(0..5)]),
            ),
        };
        Some(spec.with_key(json!(key)))
    });
    Workload {
        kind: WorkloadKind::Register,
        generator: main_phase(opts, g),
        checker: WorkloadKind::Register.checker(opts.consistency_model),
    }
}

/// Adds of unique integers, then reads until one succeeds.
pub fn set(opts: &WorkloadOptions) -> Workload {
    let mut next = 0u64;
    let adds = gen::from_fn(move |_, _| {
        next += 1;
        Some(OpSpec::new("add", json!(next - 1)))
    });
    let final_read = gen::clients(gen::time_limit(
        opts.final_time_limit,
        gen::until_ok(gen::delay(
            SECOND / 10,
            gen::repeat(gen::op(OpSpec::new("read", Value::Null))),
        )),
    ));
    Workload {
        kind: WorkloadKind::Set,
        generator: gen::phases(vec![
            main_phase(opts, adds),
            gen::log("recovering before the final read"),
            gen::sleep(opts.recovery_time),
            gen::log("final read"),
            final_read,
        ]),
        checker: WorkloadKind::Set.checker(opts.consistency_model),
    }
}

/// List-append transactions: 1..=max_txn_len micro-ops, each a read or an append of a
/// value unique to its key, over `key_count` active keys; a key is retired after
/// `max_writes_per_key` appends so lists stay short.
pub fn append(opts: &WorkloadOptions) -> Workload {
    let key_count = opts.key_count.max(1);
    let max_len = opts.max_txn_len.max(1);
    let max_writes = opts.max_writes_per_key.max(1);
    let mut active: Vec<(u64, u64)> = (0..key_count as u64).map(|k| (k, 0)).collect();
    let mut next_key = key_count as u64;
    let mut next_value = 0u64;
    let g = gen::from_fn(move |ctx, _| {
        let len = ctx.rng.random_range(1..=max_len);
        let mut mops = Vec::with_capacity(len);
        for _ in 0..len {
            let slot = ctx.rng.random_range(0..active.len());
            let key = active[slot].0;
            if ctx.rng.random_bool(0.5) {
                mops.push(json!(["r", key, null]));
            } else {
                next_value += 1;
                mops.push(json!(["append", key, next_value]));
                active[slot].1 += 1;
                if active[slot].1 >= max_writes {
                    active[slot] = (next_key, 0);
                    next_key += 1;
                }
            }
        }
        Some(OpSpec::new("txn", Value::Array(mops)))
    });
    Workload {
        kind: WorkloadKind::Append,
        generator: main_phase(opts, g),
        checker: WorkloadKind::Append.checker(opts.consistency_model),
    }
}

/// The one key the counter workload's operations name. A string, where the other
/// workloads' keys are integers, so an in-memory store can tell a counter (which reads
/// 0 before any add) from a register (which reads null).
pub const COUNTER_KEY: &str = "counter";

/// Adds of 1..=5 and reads of one counter, half and half (Jepsen's counter workload).
pub fn counter(opts: &WorkloadOptions) -> Workload {
    let g = gen::from_fn(move |ctx, _| {
        let spec = if ctx.rng.random_bool(0.5) {
            OpSpec::new("add", json!(ctx.rng.random_range(1..=5)))
        } else {
            OpSpec::new("read", Value::Null)
        };
        Some(spec.with_key(json!(COUNTER_KEY)))
    });
    Workload {
        kind: WorkloadKind::Counter,
        generator: main_phase(opts, g),
        checker: WorkloadKind::Counter.checker(opts.consistency_model),
    }
}
