//! The checker each workload needs, and the set checker.

use faultline_checkers::elle::{self, ConsistencyModel, ElleOptions};
use faultline_checkers::history::{History, OpType};
use faultline_checkers::linear;
use faultline_checkers::Validity;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How a workload's history is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "checker", rename_all = "kebab-case")]
pub enum CheckerKind {
    /// Linearizability against a named model (per key).
    Linearizable { model: &'static str },
    /// Lost, unexpected and recovered elements of a set against its final read.
    Set,
    /// Elle's list-append checker against a consistency model (strict serializability
    /// unless the test asks for another, e.g. the isolation level a database promises).
    ListAppend { consistency_model: ConsistencyModel },
}

/// A verdict and the checker's report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub valid: Validity,
    pub results: Value,
    /// The linearizability checker's report, for the HTML pages (already in `results`).
    #[serde(skip)]
    pub linear: Option<linear::Report>,
    /// Elle's report, for the HTML pages (already in `results`).
    #[serde(skip)]
    pub elle: Option<elle::ElleReport>,
}

/// Checks a history. A checker that cannot run (a malformed history) gives `unknown`
/// with the reason, never a panic: the history is still on disk for a later look.
pub fn check(kind: CheckerKind, history: &History, opts: &linear::Options) -> CheckOutcome {
    let stats = stats(history);
    let mut linear_report = None;
    let mut elle_report = None;
    let (valid, workload) = match kind {
        CheckerKind::Linearizable { model } => match linear::check_named(model, history, opts) {
            Some(Ok(r)) => {
                let v = (r.valid, serde_json::to_value(&r).unwrap_or(Value::Null));
                linear_report = Some(r);
                v
            }
            Some(Err(e)) => (Validity::Unknown, json!({ "error": e.to_string() })),
            None => (
                Validity::Unknown,
                json!({ "error": format!("unknown model {model:?}") }),
            ),
        },
        CheckerKind::Set => {
            let r = check_set(history);
            (r.valid, serde_json::to_value(&r).unwrap_or(Value::Null))
        }
        CheckerKind::ListAppend { consistency_model } => {
            let o = ElleOptions::for_model(consistency_model);
            match elle::check_list_append(history, &o) {
                Ok(r) => {
                    let v = (r.valid, serde_json::to_value(&r).unwrap_or(Value::Null));
                    elle_report = Some(r);
                    v
                }
                Err(e) => (Validity::Unknown, json!({ "error": e.to_string() })),
            }
        }
    };
    // The stats checker (Jepsen's `stats`): an f that never succeeded is suspicious, but
    // like Jepsen's we only report it; the workload checker decides validity.
    CheckOutcome {
        valid,
        results: json!({ "valid": valid, "workload": workload, "stats": stats }),
        linear: linear_report,
        elle: elle_report,
    }
}

/// Counts of ok / fail / info per `f`.
pub fn stats(history: &History) -> Value {
    let mut per_f: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for op in &history.ops {
        if !op.process.is_client() {
            continue;
        }
        let i = match op.kind {
            OpType::Ok => 0,
            OpType::Fail => 1,
            OpType::Info => 2,
            OpType::Invoke => continue,
        };
        per_f.entry(op.f.to_string()).or_default()[i] += 1;
    }
    let by_f: BTreeMap<_, _> = per_f
        .iter()
        .map(|(f, c)| (f.clone(), json!({"ok": c[0], "fail": c[1], "info": c[2]})))
        .collect();
    let total = per_f.values().fold([0u64; 3], |mut a, c| {
        a.iter_mut().zip(c).for_each(|(a, c)| *a += c);
        a
    });
    json!({"ok": total[0], "fail": total[1], "info": total[2], "by_f": by_f})
}

/// The set checker's report (Jepsen's `set`).
#[derive(Debug, Clone, Serialize)]
pub struct SetReport {
    pub valid: Validity,
    pub attempt_count: usize,
    pub acknowledged_count: usize,
    pub ok_count: usize,
    /// Acknowledged adds missing from the final read.
    pub lost: Vec<i64>,
    /// Elements read that no add ever attempted.
    pub unexpected: Vec<i64>,
    /// Adds of unknown outcome that the final read shows took effect.
    pub recovered: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When invalid: what went wrong, in one sentence (the lists above can be long).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// At most this many elements are named in an explanation.
const NAMED: usize = 10;

/// `3, 4, 5, 9` as `3..5, 9`, the first few runs only.
fn runs(elements: &[i64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < elements.len() && out.len() < NAMED {
        let start = elements[i];
        let mut end = start;
        while i + 1 < elements.len() && elements[i + 1] == end + 1 {
            i += 1;
            end = elements[i];
        }
        out.push(if end == start {
            start.to_string()
        } else {
            format!("{start}..{end}")
        });
        i += 1;
    }
    if i < elements.len() {
        out.push("...".into());
    }
    out.join(", ")
}

/// One sentence on the lost and unexpected elements; `None` when there are none.
fn explain_set(acked: usize, read: usize, lost: &[i64], unexpected: &[i64]) -> Option<String> {
    let mut parts = Vec::new();
    if !lost.is_empty() {
        parts.push(format!(
            "{} of {acked} acknowledged adds are missing from the final read of {read} elements \
             (lost: {}): the database confirmed these writes, then lost them",
            lost.len(),
            runs(lost)
        ));
    }
    if !unexpected.is_empty() {
        parts.push(format!(
            "the final read has {} elements that no add ever attempted ({})",
            unexpected.len(),
            runs(unexpected)
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Compares adds with the last successful read. No successful read: unknown.
pub fn check_set(history: &History) -> SetReport {
    let mut attempted = BTreeSet::new();
    let mut acked = BTreeSet::new();
    let mut final_read: Option<BTreeSet<i64>> = None;
    let mut bad = None;
    for operation in history.operations() {
        let inv = &history.ops[operation.invoke];
        let done = operation.complete.map(|i| &history.ops[i]);
        match &*inv.f {
            "add" => {
                let Some(e) = inv.value.as_i64() else {
                    bad = Some(format!("add of a non-integer {}", inv.value));
                    continue;
                };
                attempted.insert(e);
                if done.is_some_and(|d| d.kind == OpType::Ok) {
                    acked.insert(e);
                }
            }
            "read" => {
                if let Some(d) = done.filter(|d| d.kind == OpType::Ok) {
                    match d.value.as_array() {
                        Some(a) => {
                            final_read = Some(a.iter().filter_map(Value::as_i64).collect());
                        }
                        None => bad = Some(format!("a read of a non-array {}", d.value)),
                    }
                }
            }
            _ => {}
        }
    }
    let Some(read) = final_read else {
        return SetReport {
            valid: Validity::Unknown,
            attempt_count: attempted.len(),
            acknowledged_count: acked.len(),
            ok_count: 0,
            lost: vec![],
            unexpected: vec![],
            recovered: vec![],
            reason: Some(bad.unwrap_or_else(|| "no read succeeded".into())),
            explanation: None,
        };
    };
    let lost: Vec<i64> = acked.difference(&read).copied().collect();
    let unexpected: Vec<i64> = read.difference(&attempted).copied().collect();
    let recovered: Vec<i64> = read
        .iter()
        .filter(|e| attempted.contains(e) && !acked.contains(e))
        .copied()
        .collect();
    let valid = if lost.is_empty() && unexpected.is_empty() {
        if bad.is_some() {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    } else {
        Validity::Invalid
    };
    SetReport {
        valid,
        attempt_count: attempted.len(),
        acknowledged_count: acked.len(),
        ok_count: read.len(),
        explanation: explain_set(acked.len(), read.len(), &lost, &unexpected),
        lost,
        unexpected,
        recovered,
        reason: bad,
    }
}
