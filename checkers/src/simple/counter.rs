//! Jepsen's `counter` checker: a counter that only grows, by `add` of a non-negative
//! amount, and `read`s of its value.
//!
//! A read of an ok completion must lie between two bounds: at least the sum of the ok
//! adds that completed before the read was invoked (they certainly happened before it),
//! at most the sum of the adds that may have happened (ok or info) invoked before the
//! read completed. Failed adds did not happen. The counter starts at 0; keys are ignored
//! (the whole history is one counter).

use super::{bad_value, LISTED};
use crate::history::{History, HistoryError, Outcome, Process};
use crate::Validity;
use serde::{Deserialize, Serialize};

/// A read outside its bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRead {
    /// The read's completion event.
    pub index: u64,
    pub process: u64,
    #[serde(with = "super::wide")]
    pub value: i128,
    /// The least value the counter may have had.
    #[serde(with = "super::wide")]
    pub lower: i128,
    /// The greatest value the counter may have had.
    #[serde(with = "super::wide")]
    pub upper: i128,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterReport {
    pub valid: Validity,
    /// Ok reads checked.
    pub read_count: usize,
    /// Adds that may have happened (ok or info).
    pub add_count: usize,
    pub error_count: usize,
    /// The first bad reads, in history order (at most `LISTED`).
    pub errors: Vec<BadRead>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

impl CounterReport {
    /// Lines for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.explanation {
            s.push_str(&format!("  {e}\n"));
        }
        for (i, b) in self.errors.iter().enumerate() {
            if i == 5 {
                s.push_str(&format!("  ... and {} more\n", self.error_count - 5));
                break;
            }
            s.push_str(&format!(
                "  event {} (process {}): read {}, expected {}..={}\n",
                b.index, b.process, b.value, b.lower, b.upper
            ));
        }
        s
    }
}

/// What an add event contributes, once its amount is known.
fn amount(history: &History, i: usize) -> Result<i128, HistoryError> {
    let op = &history.ops[i];
    match op.value.as_i64() {
        Some(v) if v >= 0 => Ok(v as i128),
        _ => Err(bad_value(
            history,
            op,
            format!(
                "add of {}: the counter checker needs a non-negative integer",
                op.value
            ),
        )),
    }
}

pub fn check_counter(history: &History) -> Result<CounterReport, HistoryError> {
    // The bounds of a read are the adds acknowledged before it was invoked.
    history.require_invocations("the counter checker")?;
    // Each event's role, from the paired operations: the sweep below then needs one pass.
    #[derive(Clone, Copy)]
    enum Role {
        None,
        /// An add that may have happened is invoked: raises the upper bound.
        AddInvoke(i128),
        /// An ok add completes: raises the lower bound.
        AddOk(i128),
        ReadInvoke,
        ReadOk,
    }
    let mut roles = vec![Role::None; history.ops.len()];
    let mut add_count = 0;
    for o in history.operations() {
        match &*o.f {
            "add" if o.outcome != Outcome::Fail => {
                let v = amount(history, o.invoke)?;
                add_count += 1;
                roles[o.invoke] = Role::AddInvoke(v);
                if let (Outcome::Ok, Some(c)) = (o.outcome, o.complete) {
                    roles[c] = Role::AddOk(v);
                }
            }
            "read" => {
                roles[o.invoke] = Role::ReadInvoke;
                if let (Outcome::Ok, Some(c)) = (o.outcome, o.complete) {
                    roles[c] = Role::ReadOk;
                }
            }
            _ => {}
        }
    }
    let (mut lower, mut upper) = (0i128, 0i128);
    // The lower bound of each open read, by process, taken when it was invoked.
    let mut open = rustc_hash::FxHashMap::<u64, i128>::default();
    let mut read_count = 0;
    let mut errors = Vec::new();
    let mut error_count = 0;
    for (i, role) in roles.iter().enumerate() {
        let op = &history.ops[i];
        let Process::Client(p) = op.process else {
            continue;
        };
        match *role {
            Role::None => {}
            Role::AddInvoke(v) => upper += v,
            Role::AddOk(v) => lower += v,
            Role::ReadInvoke => {
                open.insert(p, lower);
            }
            Role::ReadOk => {
                let low = open.remove(&p).unwrap_or(0);
                let value = match op.value.as_i64() {
                    Some(v) => v as i128,
                    None => {
                        return Err(bad_value(
                            history,
                            op,
                            format!("read of {}: a counter's value is an integer", op.value),
                        ))
                    }
                };
                read_count += 1;
                if value < low || value > upper {
                    error_count += 1;
                    if errors.len() < LISTED {
                        errors.push(BadRead {
                            index: op.index,
                            process: p,
                            value,
                            lower: low,
                            upper,
                        });
                    }
                }
            }
        }
    }
    let explanation = errors.first().map(|b| {
        let why = if b.value < b.lower {
            "lower than the sum of the adds acknowledged before it began"
        } else {
            "higher than the sum of every add that may have happened before it ended"
        };
        format!(
            "{error_count} of {read_count} reads are impossible; the first, by process {} at \
             event {}, read {}, {why} (possible values {}..={})",
            b.process, b.index, b.value, b.lower, b.upper
        )
    });
    Ok(CounterReport {
        valid: if error_count == 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        read_count,
        add_count,
        error_count,
        errors,
        explanation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simple::history;
    use serde_json::{json, Value};

    fn ev(
        p: u64,
        t: &'static str,
        f: &'static str,
        v: Value,
    ) -> (u64, &'static str, &'static str, Value) {
        (p, t, f, v)
    }

    #[test]
    fn reads_within_bounds_are_valid() {
        let h = history(&[
            ev(0, "invoke", "add", json!(2)),
            ev(1, "invoke", "read", Value::Null),
            ev(0, "ok", "add", json!(2)),
            // Concurrent with the add: 0 and 2 are both possible.
            ev(1, "ok", "read", json!(2)),
            ev(2, "invoke", "add", json!(5)),
            ev(2, "info", "add", json!(5)),
            ev(3, "invoke", "add", json!(7)),
            ev(3, "fail", "add", json!(7)),
            ev(1, "invoke", "read", Value::Null),
            // The info add may have happened; the failed one did not.
            ev(1, "ok", "read", json!(7)),
        ]);
        let r = check_counter(&h).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!((r.read_count, r.add_count, r.error_count), (2, 2, 0));
        assert!(r.explanation.is_none());
    }

    #[test]
    fn a_read_below_the_acknowledged_sum_is_invalid() {
        let h = history(&[
            ev(0, "invoke", "add", json!(3)),
            ev(0, "ok", "add", json!(3)),
            ev(1, "invoke", "read", Value::Null),
            ev(1, "ok", "read", json!(2)),
        ]);
        let r = check_counter(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.errors,
            vec![BadRead {
                index: 3,
                process: 1,
                value: 2,
                lower: 3,
                upper: 3
            }]
        );
        assert!(r.explanation.unwrap().contains("lower than"));
    }

    #[test]
    fn a_read_above_every_possible_add_is_invalid() {
        let h = history(&[
            ev(0, "invoke", "add", json!(3)),
            ev(0, "fail", "add", json!(3)),
            ev(1, "invoke", "read", Value::Null),
            ev(1, "ok", "read", json!(3)),
            // An add invoked after the read completed cannot explain it.
            ev(2, "invoke", "add", json!(3)),
            ev(2, "ok", "add", json!(3)),
        ]);
        let r = check_counter(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!((r.errors[0].lower, r.errors[0].upper), (0, 0));
        assert!(r.explanation.unwrap().contains("higher than"));
    }

    #[test]
    fn negative_adds_and_non_integer_reads_are_bad_input() {
        let h = history(&[
            ev(0, "invoke", "add", json!(-1)),
            ev(0, "ok", "add", json!(-1)),
        ]);
        let e = check_counter(&h).unwrap_err().to_string();
        assert!(
            e.contains("test.jsonl:1") && e.contains("non-negative"),
            "{e}"
        );
        let h = history(&[
            ev(0, "invoke", "read", Value::Null),
            ev(0, "ok", "read", json!("x")),
        ]);
        let e = check_counter(&h).unwrap_err().to_string();
        assert!(e.contains("test.jsonl:2"), "{e}");
    }
}
