//! Jepsen's `total-queue` checker: every acknowledged `enqueue` must come out of the
//! queue (a `dequeue`, or a `drain` returning a list), and nothing may come out that was
//! never put in. Order is not checked (that is the `fifo-queue` model's job).
//!
//! Multiset accounting, with Jepsen's meaning of outcomes: a failed enqueue did not
//! happen (a value it alone could explain is unexpected), an `info` enqueue may have
//! happened (if its value comes out it is `recovered`). An ok dequeue of `null` found the
//! queue empty. Valid iff nothing is lost and nothing is unexpected; duplicates (a value
//! out more often than it went in) are reported but, as in Jepsen, do not decide.

use super::{bad_value, LISTED};
use crate::history::{History, HistoryError, Outcome};
use crate::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    pub valid: Validity,
    /// Enqueues that may have happened (ok or info).
    pub attempt_count: usize,
    /// Ok enqueues.
    pub acknowledged_count: usize,
    /// Values that came out (ok dequeues of a value, and each element of ok drains).
    pub ok_count: usize,
    /// Acknowledged enqueues never dequeued; counts are of the multiset, the lists name
    /// distinct values (at most `LISTED`).
    pub lost_count: usize,
    pub lost: Vec<Value>,
    /// Dequeued values no enqueue (ok or info) ever put in.
    pub unexpected_count: usize,
    pub unexpected: Vec<Value>,
    /// Dequeued more often than enqueued (beyond the unexpected ones).
    pub duplicated_count: usize,
    pub duplicated: Vec<Value>,
    /// Info enqueues whose values were dequeued: they did happen.
    pub recovered_count: usize,
    pub recovered: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

impl QueueReport {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.explanation {
            s.push_str(&format!("  {e}\n"));
        }
        for (name, n, list) in [
            ("lost", self.lost_count, &self.lost),
            ("unexpected", self.unexpected_count, &self.unexpected),
            ("duplicated", self.duplicated_count, &self.duplicated),
            ("recovered", self.recovered_count, &self.recovered),
        ] {
            if n > 0 {
                s.push_str(&format!("  {name} ({n}): {}\n", show(list)));
            }
        }
        s
    }
}

fn show(values: &[Value]) -> String {
    let mut parts: Vec<String> = values.iter().take(10).map(Value::to_string).collect();
    if values.len() > 10 {
        parts.push("...".into());
    }
    parts.join(", ")
}

/// A multiset of JSON values, keyed by their canonical text.
#[derive(Default)]
struct Bag(BTreeMap<String, (Value, usize)>);

impl Bag {
    fn add(&mut self, v: &Value) {
        self.0.entry(v.to_string()).or_insert((v.clone(), 0)).1 += 1;
    }
    fn count(&self, v: &str) -> usize {
        self.0.get(v).map_or(0, |e| e.1)
    }
    fn total(&self) -> usize {
        self.0.values().map(|e| e.1).sum()
    }
    /// `self - other` per value, as (total count, the first distinct values).
    fn minus(&self, other: impl Fn(&str) -> usize) -> (usize, Vec<Value>) {
        let mut n = 0;
        let mut listed = Vec::new();
        for (k, (v, c)) in &self.0 {
            let d = c.saturating_sub(other(k));
            if d > 0 {
                n += d;
                if listed.len() < LISTED {
                    listed.push(v.clone());
                }
            }
        }
        (n, listed)
    }
}

pub fn check_total_queue(history: &History) -> Result<QueueReport, HistoryError> {
    let mut attempts = Bag::default();
    let mut acked = Bag::default();
    let mut info = Bag::default();
    let mut out = Bag::default();
    for o in history.operations() {
        let done = o.complete.map(|c| &history.ops[c]);
        match (&*o.f, o.outcome) {
            ("enqueue", Outcome::Fail) => {}
            ("enqueue", outcome) => {
                let v = o.invoke_value(&history.ops);
                attempts.add(v);
                if outcome == Outcome::Ok {
                    acked.add(v);
                } else {
                    info.add(v);
                }
            }
            ("dequeue", Outcome::Ok) => {
                let v = o.result_value(&history.ops).unwrap_or(&Value::Null);
                if !v.is_null() {
                    out.add(v);
                }
            }
            ("drain", Outcome::Ok) => {
                let d = done.expect("an ok operation has a completion");
                match d.value.as_array() {
                    Some(vs) => vs.iter().for_each(|v| out.add(v)),
                    None => {
                        return Err(bad_value(
                            history,
                            d,
                            format!("drain returned {}: expected a list of values", d.value),
                        ))
                    }
                }
            }
            _ => {}
        }
    }
    let (lost_count, lost) = acked.minus(|k| out.count(k));
    // Values never attempted at all (every time they came out); as in Jepsen, a value
    // attempted but out more often than in is duplicated rather than unexpected.
    let (unexpected_count, unexpected) = out.minus(|k| {
        if attempts.count(k) == 0 {
            0
        } else {
            usize::MAX
        }
    });
    // Beyond the attempts, but not already unexpected: a value out more often than in.
    let (duplicated_count, duplicated) = out.minus(|k| {
        let a = attempts.count(k);
        if a == 0 {
            usize::MAX
        } else {
            a
        }
    });
    // Info enqueues that came out: out minus the acknowledged ones, at most the info ones.
    let mut recovered_count = 0;
    let mut recovered = Vec::new();
    for (k, (v, c)) in &info.0 {
        let r = (*c).min(out.count(k).saturating_sub(acked.count(k)));
        if r > 0 {
            recovered_count += r;
            if recovered.len() < LISTED {
                recovered.push(v.clone());
            }
        }
    }
    let mut parts = Vec::new();
    if lost_count > 0 {
        parts.push(format!(
            "{lost_count} of {} acknowledged enqueues never came out of the queue (first: {})",
            acked.total(),
            lost[0]
        ));
    }
    if unexpected_count > 0 {
        parts.push(format!(
            "{unexpected_count} dequeued values were never enqueued (first: {})",
            unexpected[0]
        ));
    }
    let valid = if parts.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    Ok(QueueReport {
        valid,
        attempt_count: attempts.total(),
        acknowledged_count: acked.total(),
        ok_count: out.total(),
        lost_count,
        lost,
        unexpected_count,
        unexpected,
        duplicated_count,
        duplicated,
        recovered_count,
        recovered,
        explanation: (!parts.is_empty()).then(|| parts.join("; ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simple::history;
    use serde_json::json;

    #[test]
    fn every_acknowledged_enqueue_out_is_valid_and_info_ones_recovered() {
        let h = history(&[
            (0, "invoke", "enqueue", json!(1)),
            (0, "ok", "enqueue", json!(1)),
            (1, "invoke", "enqueue", json!(2)),
            (1, "info", "enqueue", json!(2)),
            (2, "invoke", "enqueue", json!(3)),
            (2, "info", "enqueue", json!(3)),
            (0, "invoke", "dequeue", Value::Null),
            (0, "ok", "dequeue", json!(2)),
            (0, "invoke", "dequeue", Value::Null),
            (0, "ok", "dequeue", Value::Null),
            (0, "invoke", "drain", Value::Null),
            (0, "ok", "drain", json!([1])),
        ]);
        let r = check_total_queue(&h).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(
            (r.attempt_count, r.acknowledged_count, r.ok_count),
            (3, 1, 2)
        );
        assert_eq!(r.recovered, vec![json!(2)]);
        assert_eq!(r.lost_count + r.unexpected_count + r.duplicated_count, 0);
    }

    #[test]
    fn lost_unexpected_and_duplicated() {
        let h = history(&[
            (0, "invoke", "enqueue", json!(1)),
            (0, "ok", "enqueue", json!(1)),
            (0, "invoke", "enqueue", json!(2)),
            (0, "ok", "enqueue", json!(2)),
            (0, "invoke", "enqueue", json!(9)),
            (0, "fail", "enqueue", json!(9)),
            (1, "invoke", "drain", Value::Null),
            // 1 lost, 9 (a failed enqueue) unexpected, 2 out twice.
            (1, "ok", "drain", json!([2, 2, 9])),
        ]);
        let r = check_total_queue(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!((r.lost_count, r.lost.clone()), (1, vec![json!(1)]));
        assert_eq!(
            (r.unexpected_count, r.unexpected.clone()),
            (1, vec![json!(9)])
        );
        assert_eq!(
            (r.duplicated_count, r.duplicated.clone()),
            (1, vec![json!(2)])
        );
        let e = r.explanation.unwrap();
        assert!(
            e.contains("never came out") && e.contains("never enqueued"),
            "{e}"
        );
    }

    #[test]
    fn duplicates_alone_do_not_decide() {
        let h = history(&[
            (0, "invoke", "enqueue", json!("a")),
            (0, "ok", "enqueue", json!("a")),
            (1, "invoke", "drain", Value::Null),
            (1, "ok", "drain", json!(["a", "a"])),
        ]);
        let r = check_total_queue(&h).unwrap();
        assert_eq!((r.valid, r.duplicated_count), (Validity::Valid, 1));
    }

    #[test]
    fn a_drain_that_is_not_a_list_is_bad_input() {
        let h = history(&[
            (1, "invoke", "drain", Value::Null),
            (1, "ok", "drain", json!(3)),
        ]);
        let e = check_total_queue(&h).unwrap_err().to_string();
        assert!(e.contains("test.jsonl:2") && e.contains("list"), "{e}");
    }
}
