//! Generated list-append histories, for tests and benchmarks: a seeded simulation of
//! clients running transactions against a strictly serializable store, plus hand-made
//! anomalies that can be spliced into any history.
//!
//! The simulated store applies each transaction atomically at the moment it completes,
//! which lies within its invocation-completion interval, so histories are strict
//! serializable by construction while clients still overlap.

use crate::history::{History, Op, OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::sync::Arc;

/// Shape of a generated history.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Transactions to run.
    pub txns: usize,
    /// Clients running at once.
    pub concurrency: usize,
    /// Keys in use at a time; a key is retired once it has `max_writes_per_key` appends
    /// and a fresh one takes its place, which keeps reads short (as Elle's generator).
    pub active_keys: usize,
    pub max_writes_per_key: usize,
    /// Micro-ops per transaction: 1 to this many.
    pub max_txn_len: usize,
    /// Chance that a micro-op is a read.
    pub read_ratio: f64,
    /// Chance that a transaction fails (and is not applied).
    pub fail_ratio: f64,
    /// Chance that a transaction's outcome is unknown (`info`; applied or not, evenly).
    pub info_ratio: f64,
    pub store: Store,
    pub seed: u64,
}

/// How the simulated store runs transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Store {
    /// Atomically at completion: strict serializable.
    #[default]
    StrictSerializable,
    /// Reads from a snapshot taken at invocation, appends added to the then-current lists
    /// at completion, with no conflict check: snapshot isolation without
    /// first-committer-wins. Shows lost updates and write skew, which read committed
    /// allows; never dirty or intermediate reads, nor ww / wr cycles.
    StaleSnapshot,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            txns: 1000,
            concurrency: 8,
            active_keys: 8,
            max_writes_per_key: 32,
            max_txn_len: 4,
            read_ratio: 0.5,
            fail_ratio: 0.05,
            info_ratio: 0.02,
            store: Store::StrictSerializable,
            seed: 0,
        }
    }
}

/// Builds histories event by event: useful for hand-written tests.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    ops: Vec<Op>,
}

fn event(kind: OpType, process: u64, value: Value, f: &Arc<str>) -> Op {
    Op {
        index: 0,
        kind,
        process: Process::Client(process),
        f: f.clone(),
        value,
        key: None,
        time: None,
        node: None,
        error: None,
        line: 0,
    }
}

/// The invocation of a txn whose completion is `value`: reads not yet known.
pub fn invocation_of(value: &Value) -> Value {
    match value {
        Value::Array(mops) => Value::Array(
            mops.iter()
                .map(|m| match m.as_array() {
                    Some(p) if p.len() == 3 && p[0] == "r" => json!(["r", p[1], null]),
                    _ => m.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

impl Builder {
    pub fn new() -> Self {
        Builder::default()
    }

    pub fn invoke(&mut self, process: u64, value: Value) -> &mut Self {
        let f: Arc<str> = Arc::from("txn");
        self.ops.push(event(OpType::Invoke, process, value, &f));
        self
    }

    pub fn complete(&mut self, process: u64, kind: OpType, value: Value) -> &mut Self {
        let f: Arc<str> = Arc::from("txn");
        self.ops.push(event(kind, process, value, &f));
        self
    }

    /// One txn, invoked and completed before anything else happens.
    pub fn txn(&mut self, process: u64, kind: OpType, value: Value) -> &mut Self {
        self.invoke(process, invocation_of(&value));
        self.complete(process, kind, value)
    }

    /// Txns all running at once: every invocation, then every completion. No real-time
    /// order among them.
    pub fn concurrent(&mut self, txns: &[(u64, OpType, Value)]) -> &mut Self {
        for (p, _, v) in txns {
            self.invoke(*p, invocation_of(v));
        }
        for (p, k, v) in txns {
            self.complete(*p, *k, v.clone());
        }
        self
    }

    /// The events so far, numbered.
    pub fn ops(&self) -> Vec<Op> {
        number(self.ops.clone())
    }

    pub fn history(&self) -> History {
        History {
            ops: self.ops(),
            source: "generated".into(),
            completions_only: false,
        }
    }
}

/// Gives events consecutive indices and lines, as if read from a file.
fn number(mut ops: Vec<Op>) -> Vec<Op> {
    for (i, o) in ops.iter_mut().enumerate() {
        o.index = i as u64;
        o.line = i as u64 + 1;
    }
    ops
}

/// A client mid-transaction: its process and micro-ops (appends have their values).
struct Running {
    process: u64,
    mops: Vec<(bool, u64, u64)>, // (is_append, key, value)
    /// `Store::StaleSnapshot`: the lists of its keys at invocation.
    snapshot: Vec<(u64, Vec<u64>)>,
}

/// A strict serializable list-append history.
pub fn list_append(opts: &GenOptions) -> History {
    let mut sim = Sim::new(opts);
    let mut started = 0usize;
    loop {
        let busy = sim.slots.iter().filter(|s| s.is_some()).count();
        if started >= opts.txns && busy == 0 {
            break;
        }
        let s = sim.rng.random_range(0..sim.concurrency);
        sim.time += 1000;
        match sim.slots[s].take() {
            None if started < opts.txns => {
                started += 1;
                sim.invoke(s);
            }
            None => {}
            Some(run) => sim.complete(s, run),
        }
    }
    History {
        ops: number(sim.ops),
        source: "generated".into(),
        completions_only: false,
    }
}

/// Per key a transaction touches: the key, the list it sees (its own appends included,
/// whether or not it commits) and its own appends.
type TxnView = (u64, Vec<u64>, Vec<u64>);

/// The simulated store and its clients, as `list_append` runs them. Every random draw
/// goes through `rng` in a fixed order, so a seed always gives the same history.
struct Sim<'o> {
    opts: &'o GenOptions,
    rng: ChaCha8Rng,
    f: Arc<str>,
    concurrency: usize,
    active: usize,
    /// The keys in use, by place; a retired key's place goes to `next_key`.
    keys: Vec<u64>,
    next_key: u64,
    /// Per place: appends handed out so far (values are 1, 2, ... per key).
    allocated: Vec<u64>,
    /// Per key: the list the store holds.
    lists: Vec<Vec<u64>>,
    /// Per client: the transaction it is running, if any, and its current process id.
    slots: Vec<Option<Running>>,
    slot_process: Vec<u64>,
    next_process: u64,
    ops: Vec<Op>,
    time: i64,
}

impl<'o> Sim<'o> {
    fn new(opts: &'o GenOptions) -> Self {
        let concurrency = opts.concurrency.max(1);
        let active = opts.active_keys.max(1);
        Sim {
            opts,
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            f: Arc::from("txn"),
            concurrency,
            active,
            keys: (0..active as u64).collect(),
            next_key: active as u64,
            allocated: vec![0; active],
            lists: vec![Vec::new(); active],
            slots: (0..concurrency).map(|_| None).collect(),
            slot_process: (0..concurrency as u64).collect(),
            next_process: concurrency as u64,
            ops: Vec::with_capacity(opts.txns * 2),
            time: 0,
        }
    }

    /// Records an event at the current time.
    fn push(&mut self, kind: OpType, process: u64, value: Value) {
        let mut op = event(kind, process, value, &self.f);
        op.time = Some(self.time);
        self.ops.push(op);
    }

    /// Client `s` starts a new transaction.
    fn invoke(&mut self, s: usize) {
        let mops = self.draw_mops();
        let value = Value::Array(
            mops.iter()
                .map(|&(a, k, v)| {
                    if a {
                        json!(["append", k, v])
                    } else {
                        json!(["r", k, null])
                    }
                })
                .collect(),
        );
        self.push(OpType::Invoke, self.slot_process[s], value);
        let snapshot = self.snapshot_of(&mops);
        self.slots[s] = Some(Running {
            process: self.slot_process[s],
            mops,
            snapshot,
        });
    }

    /// A new transaction's micro-ops, over the keys in use; appends take each key's next
    /// value.
    fn draw_mops(&mut self) -> Vec<(bool, u64, u64)> {
        let n = self.rng.random_range(1..=self.opts.max_txn_len.max(1));
        let mut mops = Vec::with_capacity(n);
        for _ in 0..n {
            let ki = self.rng.random_range(0..self.active);
            let k = self.keys[ki] as usize;
            if self.rng.random_bool(self.opts.read_ratio.clamp(0.0, 1.0)) {
                mops.push((false, k as u64, 0));
            } else {
                self.allocated[ki] += 1;
                mops.push((true, k as u64, self.allocated[ki]));
                if self.allocated[ki] as usize >= self.opts.max_writes_per_key.max(1) {
                    // Retire: later txns use a fresh key in this place.
                    self.keys[ki] = self.next_key;
                    self.next_key += 1;
                    self.allocated[ki] = 0;
                }
            }
        }
        mops
    }

    /// `Store::StaleSnapshot`: the lists of the keys `mops` touch, as they are now.
    /// Otherwise nothing: the transaction reads the store at completion.
    fn snapshot_of(&mut self, mops: &[(bool, u64, u64)]) -> Vec<(u64, Vec<u64>)> {
        let mut snapshot: Vec<(u64, Vec<u64>)> = Vec::new();
        if self.opts.store == Store::StaleSnapshot {
            for &(_, k, _) in mops {
                if !snapshot.iter().any(|x| x.0 == k) {
                    snapshot.push((k, list_of(&mut self.lists, k).clone()));
                }
            }
        }
        snapshot
    }

    /// Client `s` completes transaction `run`: its outcome is drawn, its reads answered,
    /// and its appends applied if it took effect.
    fn complete(&mut self, s: usize, run: Running) {
        let (kind, apply) = self.draw_outcome();
        let (out, views) = self.execute(&run, kind);
        if apply {
            for (k, _, own) in views {
                list_of(&mut self.lists, k).extend(own);
            }
        }
        self.push(kind, run.process, Value::Array(out));
        if kind == OpType::Info {
            // A crashed client continues under a new process id.
            self.slot_process[s] = self.next_process;
            self.next_process += 1;
        }
    }

    /// A completion's type, and whether the transaction takes effect (an `info` one may
    /// or may not).
    fn draw_outcome(&mut self) -> (OpType, bool) {
        let roll: f64 = self.rng.random();
        if roll < self.opts.fail_ratio {
            (OpType::Fail, false)
        } else if roll < self.opts.fail_ratio + self.opts.info_ratio {
            (OpType::Info, self.rng.random_bool(0.5))
        } else {
            (OpType::Ok, true)
        }
    }

    /// Runs `run`'s micro-ops against its snapshot or the store: the completion's micro-ops
    /// (reads answered only when it completes `ok`) and what it saw and appended per key.
    fn execute(&mut self, run: &Running, kind: OpType) -> (Vec<Value>, Vec<TxnView>) {
        let mut out = Vec::with_capacity(run.mops.len());
        let mut views: Vec<TxnView> = Vec::new();
        for &(a, k, v) in &run.mops {
            let pos = match views.iter().position(|x| x.0 == k) {
                Some(p) => p,
                None => {
                    let view = match run.snapshot.iter().find(|x| x.0 == k) {
                        Some(snap) => snap.1.clone(),
                        None => list_of(&mut self.lists, k).clone(),
                    };
                    views.push((k, view, Vec::new()));
                    views.len() - 1
                }
            };
            if a {
                views[pos].1.push(v);
                views[pos].2.push(v);
                out.push(json!(["append", k, v]));
            } else if kind == OpType::Ok {
                out.push(json!(["r", k, views[pos].1]));
            } else {
                out.push(json!(["r", k, null]));
            }
        }
        (out, views)
    }
}

fn list_of(lists: &mut Vec<Vec<u64>>, k: u64) -> &mut Vec<u64> {
    let k = k as usize;
    if k >= lists.len() {
        lists.resize(k + 1, Vec::new());
    }
    &mut lists[k]
}

/// Anomalies that can be made by hand and spliced into a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inject {
    G0,
    G1a,
    G1b,
    G1c,
    GSingle,
    GNonadjacent,
    G2Item,
    LostUpdate,
    DirtyUpdate,
    DuplicateElements,
    IncompatibleOrder,
    Internal,
    GarbageRead,
}

impl Inject {
    pub const ALL: [Inject; 13] = [
        Inject::G0,
        Inject::G1a,
        Inject::G1b,
        Inject::G1c,
        Inject::GSingle,
        Inject::GNonadjacent,
        Inject::G2Item,
        Inject::LostUpdate,
        Inject::DirtyUpdate,
        Inject::DuplicateElements,
        Inject::IncompatibleOrder,
        Inject::Internal,
        Inject::GarbageRead,
    ];

    /// The anomaly types a check finds in the hand-made transactions alone. Some come in
    /// pairs: a dirty update is only seen through an aborted read, and two txns that
    /// both read and append one key form a G-single as well as a lost update.
    pub fn expected(self) -> &'static [&'static str] {
        match self {
            Inject::G0 => &["G0"],
            Inject::G1a => &["G1a"],
            // The rest of the writer's appends follow what the reader saw: the reader
            // also missed them (rw), a G-single with the wr edge, as Elle finds.
            Inject::G1b => &["G-single", "G1b"],
            Inject::G1c => &["G1c"],
            Inject::GSingle => &["G-single"],
            Inject::GNonadjacent => &["G-nonadjacent"],
            Inject::G2Item => &["G2-item"],
            Inject::LostUpdate => &["G-single", "lost-update"],
            Inject::DirtyUpdate => &["G1a", "dirty-update"],
            Inject::DuplicateElements => &["duplicate-elements"],
            Inject::IncompatibleOrder => &["incompatible-order"],
            Inject::Internal => &["internal"],
            Inject::GarbageRead => &["garbage-read"],
        }
    }

    /// The transactions `(process, outcome, completion value)`, run concurrently, over
    /// keys `k[0..4]` and processes from `p`.
    pub fn txns(self, k: [&Value; 4], p: u64) -> Vec<(u64, OpType, Value)> {
        use OpType::{Fail, Ok};
        let [a, b, c, d] = k;
        match self {
            Inject::G0 => vec![
                (p, Ok, json!([["append", a, 1], ["append", b, 1]])),
                (p + 1, Ok, json!([["append", a, 2], ["append", b, 2]])),
                (p + 2, Ok, json!([["r", a, [1, 2]], ["r", b, [2, 1]]])),
            ],
            Inject::G1a => vec![
                (p, Fail, json!([["append", a, 1]])),
                (p + 1, Ok, json!([["r", a, [1]]])),
            ],
            Inject::G1b => vec![
                (p, Ok, json!([["append", a, 1], ["append", a, 2]])),
                (p + 1, Ok, json!([["r", a, [1]]])),
            ],
            Inject::G1c => vec![
                (p, Ok, json!([["append", a, 1], ["r", b, [1]]])),
                (p + 1, Ok, json!([["append", b, 1], ["r", a, [1]]])),
            ],
            Inject::GSingle => vec![
                (p, Ok, json!([["append", a, 1], ["append", b, 1]])),
                (p + 1, Ok, json!([["r", b, [1]], ["r", a, []]])),
                (p + 2, Ok, json!([["r", a, [1]]])),
            ],
            Inject::GNonadjacent => vec![
                (p, Ok, json!([["r", a, []], ["r", d, [1]]])),
                (p + 1, Ok, json!([["append", a, 1], ["append", b, 1]])),
                (p + 2, Ok, json!([["r", b, [1]], ["r", c, []]])),
                (p + 3, Ok, json!([["append", c, 1], ["append", d, 1]])),
                (p + 4, Ok, json!([["r", a, [1]], ["r", c, [1]]])),
            ],
            Inject::G2Item => vec![
                (p, Ok, json!([["r", a, []], ["append", b, 1]])),
                (p + 1, Ok, json!([["r", b, []], ["append", a, 1]])),
                (p + 2, Ok, json!([["r", a, [1]], ["r", b, [1]]])),
            ],
            Inject::LostUpdate => vec![
                (p, Ok, json!([["r", a, []], ["append", a, 1]])),
                (p + 1, Ok, json!([["r", a, []], ["append", a, 2]])),
                (p + 2, Ok, json!([["r", a, [1, 2]]])),
            ],
            Inject::DirtyUpdate => vec![
                (p, Fail, json!([["append", a, 1]])),
                (p + 1, Ok, json!([["append", a, 2]])),
                (p + 2, Ok, json!([["r", a, [1, 2]]])),
            ],
            Inject::DuplicateElements => vec![
                (p, Ok, json!([["append", a, 1]])),
                (p + 1, Ok, json!([["r", a, [1, 1]]])),
            ],
            Inject::IncompatibleOrder => vec![
                (p, Ok, json!([["append", a, 1]])),
                (p + 1, Ok, json!([["append", a, 2]])),
                (p + 2, Ok, json!([["r", a, [1, 2]]])),
                (p + 3, Ok, json!([["r", a, [2, 1]]])),
            ],
            Inject::Internal => vec![(p, Ok, json!([["append", a, 1], ["r", a, []]]))],
            Inject::GarbageRead => vec![(p, Ok, json!([["r", a, [7]]]))],
        }
    }
}

/// `h` with the anomaly's transactions running somewhere in it (position drawn from
/// `seed`), on string keys and process ids no generated history uses.
pub fn inject(h: &History, what: Inject, seed: u64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let keys: Vec<Value> = (0..4)
        .map(|i| Value::from(format!("injected-{seed}-{i}")))
        .collect();
    let first_process = h
        .ops
        .iter()
        .filter_map(|o| match o.process {
            Process::Client(p) => Some(p + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        + 1_000_000;
    let block = Builder::new()
        .concurrent(&what.txns([&keys[0], &keys[1], &keys[2], &keys[3]], first_process))
        .ops();
    let at = rng.random_range(0..=h.ops.len());
    let mut ops = Vec::with_capacity(h.ops.len() + block.len());
    ops.extend_from_slice(&h.ops[..at]);
    ops.extend(block);
    ops.extend_from_slice(&h.ops[at..]);
    History {
        ops: number(ops),
        source: h.source.clone(),
        completions_only: h.completions_only,
    }
}
