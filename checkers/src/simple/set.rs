//! Jepsen's `set` checker: adds of unique elements, judged against the last successful
//! read of the whole set. An acknowledged add missing from that read is lost; an element
//! no add attempted is unexpected; an add of unknown outcome that the read shows is
//! recovered (it took effect).

use super::{bad_value, LISTED};
use crate::history::{History, HistoryError, OpType};
use crate::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// The set checker's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetReport {
    pub valid: Validity,
    pub attempt_count: usize,
    pub acknowledged_count: usize,
    /// Elements in the final read.
    pub ok_count: usize,
    pub lost_count: usize,
    /// Acknowledged adds missing from the final read (at most `LISTED`).
    pub lost: Vec<i64>,
    pub unexpected_count: usize,
    /// Elements read that no add ever attempted (at most `LISTED`).
    pub unexpected: Vec<i64>,
    pub recovered_count: usize,
    /// Adds of unknown outcome that the final read shows took effect (at most `LISTED`).
    pub recovered: Vec<i64>,
    /// Why the verdict is unknown, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When invalid: what went wrong, in one sentence (the lists above can be long).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

impl SetReport {
    /// Lines for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for line in [&self.reason, &self.explanation].into_iter().flatten() {
            s.push_str(&format!("  {line}\n"));
        }
        if self.recovered_count > 0 {
            s.push_str(&format!(
                "  {} adds of unknown outcome took effect ({})\n",
                self.recovered_count,
                runs(&self.recovered)
            ));
        }
        s
    }
}

/// At most this many element runs are named in an explanation.
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
fn explain(acked: usize, read: usize, lost: &[i64], unexpected: &[i64]) -> Option<String> {
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

/// The first `LISTED` of a sorted list, and its length.
fn listed(all: Vec<i64>) -> (usize, Vec<i64>) {
    let n = all.len();
    (n, all.into_iter().take(LISTED).collect())
}

/// Compares the adds with the last successful read; no successful read leaves the
/// verdict unknown. An add of a non-integer, or a read of something other than a list of
/// integers, is bad input naming its line.
pub fn check_set(history: &History) -> Result<SetReport, HistoryError> {
    let mut attempted = BTreeSet::new();
    let mut acked = BTreeSet::new();
    let mut final_read: Option<BTreeSet<i64>> = None;
    for operation in history.operations() {
        let inv = &history.ops[operation.invoke];
        let done = operation.complete.map(|i| &history.ops[i]);
        match &*inv.f {
            "add" => {
                let Some(e) = inv.value.as_i64() else {
                    let message = format!("add of {}: the set checker needs integers", inv.value);
                    return Err(bad_value(history, inv, message));
                };
                attempted.insert(e);
                if done.is_some_and(|d| d.kind == OpType::Ok) {
                    acked.insert(e);
                }
            }
            "read" => {
                let Some(d) = done.filter(|d| d.kind == OpType::Ok) else {
                    continue;
                };
                let elements = d.value.as_array().and_then(|a| {
                    a.iter()
                        .map(Value::as_i64)
                        .collect::<Option<BTreeSet<i64>>>()
                });
                match elements {
                    Some(read) => final_read = Some(read),
                    None => {
                        let message = format!(
                            "read of {}: the set checker needs a list of integers",
                            d.value
                        );
                        return Err(bad_value(history, d, message));
                    }
                }
            }
            _ => {}
        }
    }
    let Some(read) = final_read else {
        return Ok(SetReport {
            valid: Validity::Unknown,
            attempt_count: attempted.len(),
            acknowledged_count: acked.len(),
            ok_count: 0,
            lost_count: 0,
            lost: vec![],
            unexpected_count: 0,
            unexpected: vec![],
            recovered_count: 0,
            recovered: vec![],
            reason: Some("no read succeeded: nothing to compare the adds with".into()),
            explanation: None,
        });
    };
    let lost: Vec<i64> = acked.difference(&read).copied().collect();
    let unexpected: Vec<i64> = read.difference(&attempted).copied().collect();
    let recovered: Vec<i64> = read
        .iter()
        .filter(|e| attempted.contains(e) && !acked.contains(e))
        .copied()
        .collect();
    let valid = if lost.is_empty() && unexpected.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    let explanation = explain(acked.len(), read.len(), &lost, &unexpected);
    let (lost_count, lost) = listed(lost);
    let (unexpected_count, unexpected) = listed(unexpected);
    let (recovered_count, recovered) = listed(recovered);
    Ok(SetReport {
        valid,
        attempt_count: attempted.len(),
        acknowledged_count: acked.len(),
        ok_count: read.len(),
        lost_count,
        lost,
        unexpected_count,
        unexpected,
        recovered_count,
        recovered,
        reason: None,
        explanation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simple::history;
    use serde_json::json;

    /// Adds of `(element, acknowledged)` by one process each, then a final read.
    fn set_history(adds: &[(i64, bool)], read: Value) -> History {
        let mut events = Vec::new();
        for (p, &(e, acked)) in adds.iter().enumerate() {
            events.push((p as u64, "invoke", "add", json!(e)));
            events.push((p as u64, if acked { "ok" } else { "info" }, "add", json!(e)));
        }
        events.push((1000, "invoke", "read", Value::Null));
        events.push((1000, "ok", "read", read));
        history(&events)
    }

    #[test]
    fn lost_and_unexpected_elements_are_explained() {
        let adds: Vec<(i64, bool)> = (0..8).map(|e| (e, e != 6)).collect();
        // 2, 3 and 5 were acknowledged and are gone; 6 was never acknowledged.
        let r = check_set(&set_history(&adds, json!([0, 1, 4, 7]))).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.lost, vec![2, 3, 5]);
        let why = r.explanation.expect("an explanation");
        assert!(why.contains("3 of 7 acknowledged adds"), "{why}");
        assert!(why.contains("lost: 2..3, 5"), "{why}");

        let r = check_set(&set_history(&adds, json!([0, 1, 2, 3, 4, 5, 7, 99]))).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        let why = r.explanation.expect("an explanation");
        assert!(why.contains("no add ever attempted (99)"), "{why}");

        let r = check_set(&set_history(&adds, json!([0, 1, 2, 3, 4, 5, 6, 7]))).unwrap();
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.recovered, vec![6]);
        assert!(r.explanation.is_none());
        assert!(r.to_text().contains("took effect (6)"), "{}", r.to_text());
    }

    #[test]
    fn no_successful_read_is_unknown_and_bad_values_name_their_line() {
        let h = history(&[(0, "invoke", "add", json!(1)), (0, "ok", "add", json!(1))]);
        assert_eq!(check_set(&h).unwrap().valid, Validity::Unknown);
        let h = history(&[
            (0, "invoke", "read", Value::Null),
            (0, "ok", "read", json!({"a": 1})),
        ]);
        let e = check_set(&h).unwrap_err().to_string();
        assert!(e.contains("test.jsonl:2"), "{e}");
        assert!(e.contains("list of integers"), "{e}");
    }

    #[test]
    fn lists_are_bounded_and_counts_complete() {
        let adds: Vec<(i64, bool)> = (0..500).map(|e| (e, true)).collect();
        let r = check_set(&set_history(&adds, json!([]))).unwrap();
        assert_eq!(r.lost_count, 500);
        assert_eq!(r.lost.len(), LISTED);
    }
}
