//! The interpreter's bookkeeping, without threads or clocks: which threads are free, which
//! process each runs, the one operation held until it is due, and the retirement of a
//! process after `info`. The real runner and [`simulate`] both drive a [`Scheduler`], so
//! what the tests simulate is what runs.

use crate::gen::{Ctx, Event, Gen, GenOp, OpKind, Poll, Thread, ThreadSet};
use faultline_checkers::history::OpType;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// What the runner should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Journal the invocation and hand it to its thread now.
    Dispatch(GenOp),
    /// Log this message (not journaled).
    Log(String),
    /// The next operation is due at this time; wait for it or for a completion.
    WaitUntil(u64),
    /// Nothing to do until a completion arrives or time passes.
    Pending,
    /// The generator is exhausted and nothing is in flight.
    Done,
}

pub struct Scheduler {
    gen: Gen,
    clients: usize,
    processes: Vec<u64>,
    all: ThreadSet,
    free: ThreadSet,
    rng: ChaCha8Rng,
    held: Option<GenOp>,
    exhausted: bool,
    in_flight: usize,
}

impl Scheduler {
    /// `clients` worker threads (`0..clients`), plus the nemesis thread (`clients`) when
    /// `with_nemesis`.
    pub fn new(gen: Gen, clients: usize, with_nemesis: bool, seed: u64) -> Self {
        let n = clients + 1;
        let all = ThreadSet::range(n, 0..if with_nemesis { n } else { clients });
        Scheduler {
            gen,
            clients,
            processes: (0..n as u64).collect(),
            free: all.clone(),
            all,
            rng: ChaCha8Rng::seed_from_u64(seed),
            held: None,
            exhausted: false,
            in_flight: 0,
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn is_nemesis(&self, t: Thread) -> bool {
        t == self.clients
    }

    /// The process a thread currently runs.
    pub fn process(&self, t: Thread) -> u64 {
        self.processes[t]
    }

    /// Stop asking the generator (Ctrl-C, a deadline): only in-flight ops remain.
    pub fn stop(&mut self) {
        self.exhausted = true;
        self.held = None;
    }

    pub fn next(&mut self, now: u64) -> Next {
        if self.held.is_none() && !self.exhausted {
            let mut ctx = Ctx::new(
                now,
                self.clients,
                &self.processes,
                &self.all,
                &self.free,
                &mut self.rng,
            );
            match self.gen.op(&mut ctx) {
                Poll::Op(o) if o.kind == OpKind::Log => {
                    return Next::Log(match o.spec.value {
                        Value::String(s) => s,
                        v => v.to_string(),
                    })
                }
                Poll::Op(o) => {
                    // A generator that hands out a busy or unknown thread is a bug in
                    // it; refusing the op keeps one op per process (Jepsen's validate).
                    if !self.free.contains(o.thread) {
                        tracing_warn(&o);
                        return Next::Pending;
                    }
                    self.held = Some(o)
                }
                Poll::Pending => return Next::Pending,
                Poll::Exhausted => self.exhausted = true,
            }
        }
        match &self.held {
            Some(o) if o.time <= now => {
                let mut o = self.held.take().expect("held op");
                o.process = self.processes[o.thread];
                self.free.remove(o.thread);
                self.in_flight += 1;
                self.gen.update(&Event {
                    kind: OpType::Invoke,
                    thread: o.thread,
                    process: o.process,
                    f: &o.spec.f,
                    value: &o.spec.value,
                    time: now,
                });
                Next::Dispatch(o)
            }
            Some(o) => Next::WaitUntil(o.time),
            None if self.in_flight == 0 => Next::Done,
            None => Next::Pending,
        }
    }

    /// A completion of the op running on `thread`. After `info` a client thread goes on
    /// under a new process (old + concurrency): the old one may still take effect at any
    /// time, so it must never be reused.
    pub fn complete(&mut self, thread: Thread, kind: OpType, f: &str, value: &Value, now: u64) {
        let process = self.processes[thread];
        self.gen.update(&Event {
            kind,
            thread,
            process,
            f,
            value,
            time: now,
        });
        self.free.insert(thread);
        self.in_flight = self.in_flight.saturating_sub(1);
        if kind == OpType::Info && !self.is_nemesis(thread) {
            self.processes[thread] += self.clients as u64;
        }
    }
}

fn tracing_warn(o: &GenOp) {
    // No tracing dependency in this crate: a generator bug is reported on stderr once per
    // offending op; the runner goes on.
    eprintln!(
        "generator emitted an op for busy thread {}: {:?}; ignored",
        o.thread, o.spec
    );
}

/// One event of a simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    pub kind: Option<OpType>,
    pub thread: Thread,
    pub process: u64,
    pub time: u64,
    pub f: String,
    pub value: Value,
    pub key: Option<Value>,
}

/// Bounds of a simulated run.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub concurrency: usize,
    pub nemesis: bool,
    pub seed: u64,
    /// Stop after this many events (a guard against infinite generators).
    pub max_events: usize,
    /// Clock step when everything is pending and nothing is in flight.
    pub tick: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            concurrency: 2,
            nemesis: false,
            seed: 0,
            max_events: 10_000,
            tick: 1_000_000,
        }
    }
}

/// Runs a generator against a simulated clock: `complete(op)` says how each op ends and
/// how long it takes (ns). Returns invocations, completions and logs (`kind: None`), in
/// order. Deterministic for a seed.
pub fn simulate(
    gen: Gen,
    opts: &SimOptions,
    mut complete: impl FnMut(&GenOp) -> (OpType, Value, u64),
) -> Vec<SimEvent> {
    let mut s = Scheduler::new(gen, opts.concurrency, opts.nemesis, opts.seed);
    let mut now = 0u64;
    let mut seq = 0u64;
    // (done at, sequence, op, outcome)
    let mut flight: Vec<(u64, u64, GenOp, OpType, Value)> = Vec::new();
    let mut out = Vec::new();
    while out.len() < opts.max_events {
        // Completions that are due first, in time order.
        flight.sort_by_key(|f| (f.0, f.1));
        while flight.first().is_some_and(|f| f.0 <= now) {
            let (_, _, o, kind, value) = flight.remove(0);
            out.push(SimEvent {
                kind: Some(kind),
                thread: o.thread,
                process: o.process,
                time: now,
                f: o.spec.f.to_string(),
                value: value.clone(),
                key: o.spec.key.clone(),
            });
            s.complete(o.thread, kind, &o.spec.f, &value, now);
        }
        let next_done = flight.iter().map(|f| f.0).min();
        match s.next(now) {
            Next::Dispatch(o) => {
                let (kind, value, latency) = complete(&o);
                out.push(SimEvent {
                    kind: Some(OpType::Invoke),
                    thread: o.thread,
                    process: o.process,
                    time: now,
                    f: o.spec.f.to_string(),
                    value: o.spec.value.clone(),
                    key: o.spec.key.clone(),
                });
                seq += 1;
                flight.push((now + latency, seq, o, kind, value));
            }
            Next::Log(m) => out.push(SimEvent {
                kind: None,
                thread: 0,
                process: 0,
                time: now,
                f: "log".into(),
                value: Value::String(m),
                key: None,
            }),
            Next::WaitUntil(t) => now = next_done.map_or(t, |d| d.min(t)).max(now),
            Next::Pending => now = next_done.map_or(now + opts.tick, |d| d.min(now + opts.tick)),
            Next::Done => break,
        }
    }
    out
}
