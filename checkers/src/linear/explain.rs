//! The smallest useful story of a violation: the operation that cannot be placed, the
//! longest linearizable order found before it, what ran concurrently, and the states the
//! object could be in at that point.

use super::problem::Problem;
use super::search::{Deepest, Step};
use crate::history::{History, Operation, Outcome};
use crate::model::Model;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;
use std::ops::Index;

/// How many of the last linearized operations an explanation lists.
const TAIL: usize = 12;
/// How many concurrent operations it lists.
const MAX_CONCURRENT: usize = 24;

/// An operation, as reports show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpView {
    pub process: u64,
    pub f: String,
    /// The argument at invocation.
    pub value: Value,
    /// The completion's value, when it completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// `ok`, or `info` for an operation whose outcome is unknown.
    pub outcome: String,
    pub invoke_index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_time: Option<i64>,
    /// The operation as the model reads it, e.g. `read 3`.
    pub model_op: String,
}

/// One operation of a linearization and the state after it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepView {
    pub op: OpView,
    pub state: String,
}

/// Why a key's history is not linearizable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Explanation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// One sentence.
    pub summary: String,
    /// The operation that could not be linearized: the earliest-returning one left over
    /// in the deepest configuration the search reached.
    pub op: OpView,
    /// The last completed operation of the longest linearizable order found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_ok: Option<OpView>,
    /// How many operations that order has.
    pub linearized_count: usize,
    /// Its last operations, with the state after each.
    pub linearized_tail: Vec<StepView>,
    /// Operations whose interval overlaps the failing one's.
    pub concurrent: Vec<OpView>,
    /// States the object could be in once that order was applied.
    pub states: Vec<String>,
    /// For each of those states, why the operation does not fit.
    pub reasons: Vec<String>,
}

fn view<M: Model>(history: &History, op: &Operation, model_op: &M::Op) -> OpView {
    let inv = &history.ops[op.invoke];
    let comp = op.complete.map(|c| &history.ops[c]);
    OpView {
        process: op.process,
        f: op.f.to_string(),
        value: inv.value.clone(),
        result: comp.map(|c| c.value.clone()),
        outcome: match op.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
        .to_string(),
        invoke_index: inv.index,
        complete_index: comp.map(|c| c.index),
        invoke_time: inv.time,
        complete_time: comp.and_then(|c| c.time),
        model_op: model_op.to_string(),
    }
}

pub(super) fn explain<M: Model>(
    model: &M,
    history: &History,
    operations: &[Operation],
    pb: &Problem<M>,
    states: &impl Index<usize, Output = M::State>,
    deepest: &Deepest<'_>,
) -> Explanation {
    let Deepest {
        path: best_path,
        states: best_states,
        blame,
    } = *deepest;
    let views = Views {
        history,
        operations,
        pb,
        states,
    };
    let failing = failing_op(pb, best_path, blame);
    let fe = pb.det[failing];
    let fop = &pb.classes[fe.class as usize];
    let op = views.op(fe.op, fe.class);

    let previous_ok = best_path
        .iter()
        .rev()
        .find(|s| matches!(s, Step::Det { .. }))
        .map(|s| views.step(s).op);
    let tail_start = best_path.len().saturating_sub(TAIL);
    let linearized_tail = best_path[tail_start..]
        .iter()
        .map(|s| views.step(s))
        .collect();
    let concurrent = views.concurrent_with(failing);
    let reasons = reasons(model, states, best_states, fop);
    let summary = format!(
        "process {}'s {} (events {}..{}) cannot be linearized: {}",
        op.process,
        fop,
        op.invoke_index,
        op.complete_index.unwrap_or(op.invoke_index),
        reasons.first().cloned().unwrap_or_default()
    );
    Explanation {
        key: pb.key.clone(),
        summary,
        op,
        previous_ok,
        linearized_count: best_path.len(),
        linearized_tail,
        concurrent,
        states: best_states
            .iter()
            .map(|&s| states[s as usize].to_string())
            .collect(),
        reasons,
    }
}

/// The position in `pb.det` of the operation to blame for a refutation whose deepest
/// configuration is `best_path`.
fn failing_op<M: Model>(pb: &Problem<M>, best_path: &[Step], blame: Option<u32>) -> usize {
    let mut linearized = vec![false; pb.det.len()];
    for s in best_path {
        if let Step::Det { i, .. } = s {
            linearized[*i as usize] = true;
        }
    }
    // The search only gives up on a configuration when no order works, and the
    // operation that returns first among those left is the one nothing could precede,
    // unless the search named a read that can no longer succeed whatever comes first.
    blame.map(|g| g as usize).unwrap_or_else(|| {
        (0..pb.det.len())
            .filter(|&i| !linearized[i])
            .min_by_key(|&i| pb.det[i].ret)
            .expect("a refuted history leaves a completed operation unlinearized")
    })
}

/// For each state in `best_states`, why `fop` does not fit there: the model's own words
/// when `fop` cannot follow that state at all, otherwise that what must come after it
/// cannot be ordered.
fn reasons<M: Model>(
    model: &M,
    states: &impl Index<usize, Output = M::State>,
    best_states: &[u32],
    fop: &M::Op,
) -> Vec<String> {
    let mut reasons = Vec::new();
    let mut scratch = Vec::new();
    for &s in best_states {
        let st = &states[s as usize];
        scratch.clear();
        model.step(st, fop, &mut scratch);
        reasons.push(if scratch.is_empty() {
            model.explain(st, fop)
        } else {
            format!(
                "from {st}, {fop} is possible, but then the operations that must follow it \
                 cannot all be ordered"
            )
        });
    }
    reasons
}

/// Turns a search problem's positions (operations, classes, state ids) back into views
/// of the history's operations, as reports show them.
struct Views<'a, M: Model, S> {
    history: &'a History,
    operations: &'a [Operation],
    pb: &'a Problem<M>,
    states: &'a S,
}

impl<M: Model, S: Index<usize, Output = M::State>> Views<'_, M, S> {
    /// Operation `op` of the history, read by the model as class `class`.
    fn op(&self, op: u32, class: u32) -> OpView {
        view::<M>(
            self.history,
            &self.operations[op as usize],
            &self.pb.classes[class as usize],
        )
    }

    /// One step of a linearization and the state it left.
    fn step(&self, s: &Step) -> StepView {
        let op = match *s {
            Step::Det { i, .. } => {
                let e = &self.pb.det[i as usize];
                self.op(e.op, e.class)
            }
            Step::Info { k, n, .. } => {
                let c = &self.pb.info[k as usize];
                self.op(c.ops[n as usize], c.class)
            }
        };
        StepView {
            op,
            state: self.states[s.state() as usize].to_string(),
        }
    }

    /// The operations whose interval overlaps that of `pb.det[failing]` (indeterminate
    /// ones never end), in invocation order, at most `MAX_CONCURRENT` of them.
    fn concurrent_with(&self, failing: usize) -> Vec<OpView> {
        let fe = self.pb.det[failing];
        let mut concurrent: Vec<(u32, OpView)> = Vec::new();
        for (i, e) in self.pb.det.iter().enumerate() {
            if i != failing && e.call < fe.ret && e.ret > fe.call {
                concurrent.push((e.call, self.op(e.op, e.class)));
            }
        }
        for c in &self.pb.info {
            for (n, &call) in c.calls.iter().enumerate() {
                if call < fe.ret {
                    concurrent.push((call, self.op(c.ops[n], c.class)));
                }
            }
        }
        concurrent.sort_by_key(|(call, _)| *call);
        // The ones nearest the failing operation matter most.
        if concurrent.len() > MAX_CONCURRENT {
            let drop = concurrent.len() - MAX_CONCURRENT;
            concurrent.drain(..drop);
        }
        concurrent.into_iter().map(|(_, v)| v).collect()
    }
}

fn describe(v: &OpView) -> String {
    let span = match v.complete_index {
        Some(c) => format!("{}..{}", v.invoke_index, c),
        None => format!("{}..", v.invoke_index),
    };
    format!(
        "process {:<4} {:<28} {:<4} events {span}",
        v.process, v.model_op, v.outcome
    )
}

impl Explanation {
    /// The explanation for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(k) = &self.key {
            let _ = writeln!(s, "key {k}:");
        }
        let _ = writeln!(s, "  {}", self.summary);
        let _ = writeln!(s, "  operation:   {}", describe(&self.op));
        let _ = writeln!(
            s,
            "  longest linearizable order found: {} operations, ending with",
            self.linearized_count
        );
        for step in &self.linearized_tail {
            let _ = writeln!(s, "    {}  -> {}", describe(&step.op), step.state);
        }
        let _ = writeln!(s, "  concurrent with it:");
        for c in &self.concurrent {
            let _ = writeln!(s, "    {}", describe(c));
        }
        let _ = writeln!(
            s,
            "  states possible at that point: {}",
            self.states.join(", ")
        );
        for r in &self.reasons {
            let _ = writeln!(s, "    - {r}");
        }
        s
    }
}
