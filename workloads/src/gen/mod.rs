//! Generators: what operations to run, on which thread, and when.
//!
//! The model is Jepsen's (`jepsen.generator`): a generator is asked for an operation with
//! a context (time, free threads, processes, a seeded random source) and answers with an
//! operation, [`Poll::Pending`] (nothing now; ask again later or after a completion), or
//! [`Poll::Exhausted`] (never anything again). It is told of every invocation and
//! completion through [`Generator::update`]. Unlike Jepsen's, generators here are mutable
//! values: an operation returned is taken, so a combinator that asks several children
//! and uses only one answer (the soonest) holds the others until they are due (see
//! [`Any`]). Generators never look at the real clock or sleep, so the same seed and the
//! same sequence of events give the same operations, which the tests check with a
//! simulated clock (`crate::sched::simulate`).

mod combinators;
mod ctx;

pub use combinators::*;
pub use ctx::{Ctx, Thread, ThreadSet};

use faultline_checkers::history::OpType;
use serde_json::Value;
use std::sync::Arc;

/// Nanoseconds per second, for durations given in seconds.
pub const SECOND: u64 = 1_000_000_000;

/// What a generator asks for, before a thread is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct OpSpec {
    pub f: Arc<str>,
    pub value: Value,
    /// For independent-key workloads: the key the operation acts on.
    pub key: Option<Value>,
}

impl OpSpec {
    pub fn new(f: &str, value: Value) -> Self {
        OpSpec {
            f: Arc::from(f),
            value,
            key: None,
        }
    }

    pub fn with_key(mut self, key: Value) -> Self {
        self.key = Some(key);
        self
    }
}

/// What kind of thing an emitted operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// A call a client (or the nemesis) makes; it goes in the history.
    Invoke,
    /// A message for the log (`log`); no thread runs it and it is not journaled.
    Log,
}

/// An operation a generator emits: what to do, on which thread, not before when.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOp {
    pub kind: OpKind,
    pub thread: Thread,
    pub process: u64,
    /// Not before this time (ns since the start); the runner waits until then.
    pub time: u64,
    pub spec: OpSpec,
}

/// An invocation or completion the runner reports to the generator.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: OpType,
    pub thread: Thread,
    pub process: u64,
    pub f: &'a str,
    pub value: &'a Value,
    pub time: u64,
}

/// A generator's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    Op(GenOp),
    /// Nothing right now (no free thread, waiting for time or for others).
    Pending,
    /// Nothing ever again.
    Exhausted,
}

/// See the module documentation.
pub trait Generator: Send {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll;
    /// An invocation or completion of any operation (combinators route them).
    fn update(&mut self, event: &Event<'_>) {
        let _ = event;
    }
    /// A copy in the same state (for `each_thread`, `repeat`, `cycle`).
    fn box_clone(&self) -> Gen;
}

/// A generator, boxed.
pub type Gen = Box<dyn Generator>;

impl Clone for Gen {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

impl Generator for Gen {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        (**self).op(ctx)
    }
    fn update(&mut self, event: &Event<'_>) {
        (**self).update(event)
    }
    fn box_clone(&self) -> Gen {
        (**self).box_clone()
    }
}

/// An operation for `spec` on a random free thread of `ctx`, due now; `Pending` if no
/// thread is free.
pub fn fill_in(ctx: &mut Ctx<'_>, spec: OpSpec) -> Poll {
    match ctx.some_free_thread() {
        Some(thread) => Poll::Op(GenOp {
            kind: OpKind::Invoke,
            thread,
            process: ctx.process(thread),
            time: ctx.time,
            spec,
        }),
        None => Poll::Pending,
    }
}
