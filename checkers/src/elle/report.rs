//! What an Elle check reports: anomalies grouped by type, each explained in words, the
//! verdict for the consistency model checked, and which models the history rules out.

use super::model::ConsistencyModel;
use super::render;
use crate::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A transaction as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnRef {
    /// History index of its completion (of its invocation when it never completed).
    pub index: u64,
    /// Source line of that event.
    pub line: u64,
    pub process: u64,
    /// `ok`, `fail` or `info`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its micro-ops as reported.
    pub value: Value,
}

/// One edge of a cycle and why it is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Positions in [`Cycle::txns`].
    pub from: usize,
    pub to: usize,
    /// `ww`, `wr`, `rw`, `process` or `realtime`.
    pub rel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// "T1 < T2, because ...".
    pub explanation: String,
}

/// A dependency cycle: `txns[0] -> txns[1] -> ... -> txns[0]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cycle {
    pub txns: Vec<TxnRef>,
    pub steps: Vec<Step>,
}

/// One anomaly found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    #[serde(rename = "type")]
    pub kind: String,
    /// The transactions involved, the reading one first where there is one.
    pub txns: Vec<TxnRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The value (element, version) at stake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle: Option<Cycle>,
    /// In words a person can follow.
    pub explanation: String,
}

/// The result of an Elle check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElleReport {
    /// `false` iff an anomaly the checked model forbids was found; `"unknown"` if only
    /// anomalies it allows were found, or the search could not finish.
    pub valid: Validity,
    pub consistency_model: ConsistencyModel,
    /// Every anomaly type found, sorted.
    pub anomaly_types: Vec<String>,
    /// Up to `max_anomalies_per_type` anomalies of each type.
    pub anomalies: BTreeMap<String, Vec<Anomaly>>,
    /// How many of each type were found, including those not kept.
    pub anomaly_counts: BTreeMap<String, usize>,
    /// The weakest models the history rules out.
    pub not: Vec<ConsistencyModel>,
    /// Stronger models ruled out with them.
    pub also_not: Vec<ConsistencyModel>,
    /// Transactions analysed.
    pub txn_count: usize,
    /// Client operations that were not `txn`s, left out.
    pub skipped_ops: usize,
    /// Edges of the dependency graph (ordered pairs of transactions), a sign of how much
    /// the inference could see.
    pub edge_count: usize,
    /// Strongly connected components of the dependency graph with a cycle.
    pub scc_count: usize,
    /// Whether the cycle search hit its step budget somewhere: some cycles may be missing.
    pub search_exhausted: bool,
}

impl ElleReport {
    /// A report for the terminal: the verdict, then each anomaly explained.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} for {} ({} transactions)",
            self.valid, self.consistency_model, self.txn_count
        );
        if self.anomaly_types.is_empty() {
            let _ = writeln!(s, "No anomalies found.");
        } else {
            let _ = writeln!(s, "Anomaly types: {}", self.anomaly_types.join(", "));
        }
        if !self.not.is_empty() {
            let _ = writeln!(s, "Not: {}", names(&self.not));
        }
        if !self.also_not.is_empty() {
            let _ = writeln!(s, "Also not: {}", names(&self.also_not));
        }
        if self.search_exhausted {
            let _ = writeln!(
                s,
                "The cycle search hit its step budget: some cycles may not be reported."
            );
        }
        for (kind, list) in &self.anomalies {
            let total = self.anomaly_counts.get(kind).copied().unwrap_or(list.len());
            let _ = writeln!(s, "\n== {kind} ({total} found) ==");
            for (i, a) in list.iter().enumerate() {
                let _ = writeln!(s, "\n{kind} #{i}\n{}", a.explanation);
            }
            if total > list.len() {
                let _ = writeln!(s, "\n... and {} more.", total - list.len());
            }
        }
        s
    }

    /// Each cycle reported as a small graph: `(name, DOT text, SVG text)`, the name fit
    /// for a file name (`G-single-0`). The caller writes the files.
    pub fn cycle_graphs(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (kind, list) in &self.anomalies {
            for (i, a) in list.iter().enumerate() {
                if let Some(c) = &a.cycle {
                    let name = format!("{kind}-{i}");
                    out.push((name.clone(), render::dot(&name, c), render::svg(&name, c)));
                }
            }
        }
        out
    }
}

fn names(ms: &[ConsistencyModel]) -> String {
    let v: Vec<&str> = ms.iter().map(|m| m.name()).collect();
    v.join(", ")
}
