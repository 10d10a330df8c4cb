//! Turning findings into reports people can follow: transactions named and shown, each
//! cycle step justified in words ("T1 < T2, because T2 read key 5 = [1, 3] and saw T1's
//! append of 3"), and a cap on how many anomalies of a type are kept.

use super::cycles::FoundCycle;
use super::graph::rel;
use super::report::{Anomaly, Cycle, Step, TxnRef};
use super::txn::{KeyId, Txns, Val, Workload};
use crate::history::Outcome;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Anomalies found so far, at most `cap` kept per type, all counted.
pub(crate) struct Findings {
    cap: usize,
    pub map: BTreeMap<String, Vec<Anomaly>>,
    pub counts: BTreeMap<String, usize>,
}

impl Findings {
    pub(crate) fn new(cap: usize) -> Self {
        Findings {
            cap,
            map: BTreeMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// Counts one anomaly of `kind`; builds it (explanations cost) only if it is kept.
    pub(crate) fn add(&mut self, kind: &str, make: impl FnOnce() -> Anomaly) {
        let c = self.counts.entry(kind.to_string()).or_default();
        *c += 1;
        if *c <= self.cap {
            self.map.entry(kind.to_string()).or_default().push(make());
        }
    }
}

/// Why one transaction precedes another through the data: the analysis that drew the
/// edge finds it again from the transactions' micro-ops (cheaper than storing a reason
/// for each of millions of edges).
pub(crate) trait Witness {
    /// The key, the value, and a sentence completing "a < b, because ...", for a
    /// `ww`, `wr` or `rw` edge from `a` to `b`, named `an` and `bn`.
    fn why(&self, a: u32, b: u32, r: u8, an: &str, bn: &str) -> Option<(KeyId, Val, String)>;
}

/// What explanations need from the parsed history.
pub(crate) struct Ctx<'t> {
    pub t: &'t Txns,
    pub workload: Workload,
}

impl Ctx<'_> {
    pub(crate) fn txn_ref(&self, id: u32) -> TxnRef {
        let tx = &self.t.txns[id as usize];
        TxnRef {
            index: tx.index,
            line: tx.line,
            process: tx.process,
            kind: match tx.outcome {
                Outcome::Ok => "ok",
                Outcome::Fail => "fail",
                Outcome::Info => "info",
            }
            .to_string(),
            value: self.t.txn_json(tx, self.workload),
        }
    }

    /// "the txn at index 12 (process 3, line 13)".
    pub(crate) fn describe(&self, id: u32) -> String {
        let tx = &self.t.txns[id as usize];
        let state = match tx.outcome {
            Outcome::Ok => "",
            Outcome::Fail => ", failed",
            Outcome::Info => ", indeterminate",
        };
        format!(
            "the txn at index {} (process {}, line {}{state})",
            tx.index, tx.process, tx.line
        )
    }

    /// A txn in full, for the "Let:" part of an explanation.
    pub(crate) fn show_txn(&self, id: u32) -> String {
        let r = self.txn_ref(id);
        format!(
            "{{index {}, process {}, line {}, {}: {}}}",
            r.index, r.process, r.line, r.kind, r.value
        )
    }

    /// Long lists are cut to their ends: the tail is what matters for order.
    pub(crate) fn show_list(&self, xs: &[Val]) -> String {
        if xs.len() <= 8 {
            self.t.show_list(xs)
        } else {
            let tail = self.t.show_list(&xs[xs.len() - 4..]);
            format!("[{} elements: ..., {}", xs.len(), &tail[1..])
        }
    }

    /// A non-cycle anomaly.
    pub(crate) fn anomaly(
        &self,
        kind: &str,
        txns: &[u32],
        key: Option<KeyId>,
        value: Option<Val>,
        explanation: String,
    ) -> Anomaly {
        Anomaly {
            kind: kind.to_string(),
            txns: txns.iter().map(|&i| self.txn_ref(i)).collect(),
            key: key.map(|k| self.t.key_json(k)),
            value: value.map(|v| self.t.json(v)),
            cycle: None,
            explanation,
        }
    }

    /// A cycle, explained step by step in Elle's manner.
    pub(crate) fn cycle_anomaly(&self, w: &dyn Witness, c: &FoundCycle) -> Anomaly {
        let n = c.steps.len();
        let names: Vec<String> = (1..=n).map(|i| format!("T{i}")).collect();
        let mut text = String::from("Let:\n");
        for (i, &(id, _)) in c.steps.iter().enumerate() {
            let _ = writeln!(text, "  {} = {}", names[i], self.show_txn(id));
        }
        text.push_str("\nThen:\n");
        let mut steps = Vec::with_capacity(n);
        for (i, &(a, r)) in c.steps.iter().enumerate() {
            let j = (i + 1) % n;
            let b = c.steps[j].0;
            let (key, value, why) = self.why(w, a, b, r, &names[i], &names[j]);
            let line = if i + 1 == n {
                format!(
                    "However, {} < {}, because {why}: a contradiction!",
                    names[i], names[j]
                )
            } else {
                format!("{} < {}, because {why}.", names[i], names[j])
            };
            let _ = writeln!(text, "  - {line}");
            steps.push(Step {
                from: i,
                to: j,
                rel: rel::name(r).to_string(),
                key: key.map(|k| self.t.key_json(k)),
                value: value.map(|v| self.t.json(v)),
                explanation: line,
            });
        }
        let txns: Vec<TxnRef> = c.steps.iter().map(|&(id, _)| self.txn_ref(id)).collect();
        Anomaly {
            kind: c.class.clone(),
            txns: txns.clone(),
            key: None,
            value: None,
            cycle: Some(Cycle { txns, steps }),
            explanation: text,
        }
    }

    fn why(
        &self,
        w: &dyn Witness,
        a: u32,
        b: u32,
        r: u8,
        an: &str,
        bn: &str,
    ) -> (Option<KeyId>, Option<Val>, String) {
        let ta = &self.t.txns[a as usize];
        let tb = &self.t.txns[b as usize];
        match r {
            rel::PROCESS => (
                None,
                None,
                format!(
                    "process {} executed {an} (index {}) before {bn} (index {})",
                    ta.process, ta.index, tb.index
                ),
            ),
            rel::REALTIME => (
                None,
                None,
                format!(
                    "{an} completed (index {}) before {bn} was invoked (index {})",
                    ta.index, self.t.txns[b as usize].invoke
                ),
            ),
            _ => match w.why(a, b, r, an, bn) {
                Some((k, v, s)) => (Some(k), Some(v), s),
                // Only reachable if an analysis drew an edge it cannot justify.
                None => (None, None, format!("of a {} dependency", rel::name(r))),
            },
        }
    }
}
