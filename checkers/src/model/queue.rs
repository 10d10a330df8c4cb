//! Queues: FIFO, and unordered (a multiset: any element may come out next).

use super::scalar::Scalar;
use super::{unknown_f, Model};
use crate::history::Outcome;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueueOp {
    Enqueue(Scalar),
    /// A dequeue that returned this element; `None` when it crashed (outcome unknown).
    Dequeue(Option<Scalar>),
}

impl fmt::Display for QueueOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueOp::Enqueue(v) => write!(f, "enqueue {v}"),
            QueueOp::Dequeue(Some(v)) => write!(f, "dequeue {v}"),
            QueueOp::Dequeue(None) => write!(f, "dequeue (result unknown)"),
        }
    }
}

fn parse_queue(
    model: &str,
    f: &str,
    invoke: &Value,
    result: Option<&Value>,
    outcome: Outcome,
) -> Result<Option<QueueOp>, String> {
    match f {
        "enqueue" => Scalar::from_json(invoke)
            .map(|v| Some(QueueOp::Enqueue(v)))
            .ok_or_else(|| "enqueue needs an element, not null".to_string()),
        "dequeue" => match outcome {
            Outcome::Ok => match result.and_then(Scalar::from_json) {
                Some(v) => Ok(Some(QueueOp::Dequeue(Some(v)))),
                None => Err("an ok dequeue returns the element it took, not null".into()),
            },
            // It may have taken an element: the search tries every one, or none.
            _ => Ok(Some(QueueOp::Dequeue(None))),
        },
        _ => Err(unknown_f(model, f, "enqueue and dequeue")),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FifoState(pub VecDeque<Scalar>);

impl fmt::Display for FifoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(|v| v.to_string()).collect();
        write!(f, "[{}]", items.join(" "))
    }
}

/// A first-in first-out queue.
#[derive(Debug, Clone, Copy, Default)]
pub struct FifoQueue;

impl Model for FifoQueue {
    type State = FifoState;
    type Op = QueueOp;

    fn name(&self) -> &'static str {
        "fifo-queue"
    }

    fn init(&self) -> FifoState {
        FifoState::default()
    }

    fn parse(
        &self,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<QueueOp>, String> {
        parse_queue(self.name(), f, invoke, result, outcome)
    }

    fn heap_size(&self, state: &FifoState) -> usize {
        state.0.capacity() * 32
    }

    fn step(&self, state: &FifoState, op: &QueueOp, next: &mut Vec<FifoState>) {
        match op {
            QueueOp::Enqueue(v) => {
                let mut q = state.0.clone();
                q.push_back(v.clone());
                next.push(FifoState(q));
            }
            QueueOp::Dequeue(want) => {
                if let Some(head) = state.0.front() {
                    if want.as_ref().is_none_or(|w| w == head) {
                        let mut q = state.0.clone();
                        q.pop_front();
                        next.push(FifoState(q));
                    }
                }
            }
        }
    }

    fn explain(&self, state: &FifoState, op: &QueueOp) -> String {
        match (op, state.0.front()) {
            (QueueOp::Dequeue(Some(v)), Some(h)) => {
                format!("can't dequeue {v}: the head of the queue {state} is {h}")
            }
            (QueueOp::Dequeue(Some(v)), None) => format!("can't dequeue {v}: the queue is empty"),
            (other, _) => format!("{other} is not possible from {state}"),
        }
    }
}

/// Elements and how many of each.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Multiset(pub BTreeMap<Scalar, u32>);

impl fmt::Display for Multiset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        for (v, n) in &self.0 {
            for _ in 0..*n {
                items.push(v.to_string());
            }
        }
        write!(f, "{{{}}}", items.join(" "))
    }
}

/// A queue that may hand out its elements in any order.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnorderedQueue;

fn take(state: &Multiset, v: &Scalar) -> Multiset {
    let mut m = state.0.clone();
    match m.get_mut(v) {
        Some(n) if *n > 1 => *n -= 1,
        _ => {
            m.remove(v);
        }
    }
    Multiset(m)
}

impl Model for UnorderedQueue {
    type State = Multiset;
    type Op = QueueOp;

    fn name(&self) -> &'static str {
        "unordered-queue"
    }

    fn init(&self) -> Multiset {
        Multiset::default()
    }

    fn parse(
        &self,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<QueueOp>, String> {
        parse_queue(self.name(), f, invoke, result, outcome)
    }

    fn heap_size(&self, state: &Multiset) -> usize {
        state.0.len() * 64
    }

    fn step(&self, state: &Multiset, op: &QueueOp, next: &mut Vec<Multiset>) {
        match op {
            QueueOp::Enqueue(v) => {
                let mut m = state.0.clone();
                *m.entry(v.clone()).or_insert(0) += 1;
                next.push(Multiset(m));
            }
            QueueOp::Dequeue(Some(v)) => {
                if state.0.contains_key(v) {
                    next.push(take(state, v));
                }
            }
            QueueOp::Dequeue(None) => {
                for v in state.0.keys() {
                    next.push(take(state, v));
                }
            }
        }
    }

    fn explain(&self, state: &Multiset, op: &QueueOp) -> String {
        match op {
            QueueOp::Dequeue(Some(v)) => format!("can't dequeue {v}: the queue holds {state}"),
            other => format!("{other} is not possible from {state}"),
        }
    }
}
