//! Jepsen's `bank` checker: `transfer`s move money between accounts, so every ok `read`
//! (its value a map of account to balance) must add up to the same total, and no balance
//! may be negative. Transfers themselves are not checked: only what reads saw.
//!
//! The expected total is given by the caller (`faultline check --bank-total`), else it is
//! the sum of the first ok read: then a history whose first read is already wrong is
//! judged against that wrong total, and the later, correct reads are reported instead.

use super::{bad_value, LISTED};
use crate::history::{History, HistoryError, Outcome};
use crate::Validity;
use serde::{Deserialize, Serialize};

/// What was wrong with one read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadBankRead {
    /// The read's completion event.
    pub index: u64,
    pub process: u64,
    #[serde(with = "super::wide")]
    pub total: i128,
    /// Accounts with a negative balance, and the balance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub negative: Vec<(String, i64)>,
}

/// Where the expected total came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TotalSource {
    Given,
    FirstRead,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankReport {
    pub valid: Validity,
    pub read_count: usize,
    /// `None` when no read succeeded (and none was given).
    #[serde(with = "super::wide::option")]
    pub expected_total: Option<i128>,
    pub total_source: TotalSource,
    /// Reads whose total is not the expected one.
    pub wrong_total_count: usize,
    /// Reads with a negative balance.
    pub negative_count: usize,
    /// The first bad reads (at most `LISTED`).
    pub errors: Vec<BadBankRead>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

impl BankReport {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.explanation {
            s.push_str(&format!("  {e}\n"));
        }
        for b in self.errors.iter().take(5) {
            s.push_str(&format!(
                "  event {} (process {}): total {}",
                b.index, b.process, b.total
            ));
            for (a, v) in &b.negative {
                s.push_str(&format!(", account {a} at {v}"));
            }
            s.push('\n');
        }
        s
    }
}

pub fn check_bank(history: &History, total: Option<i128>) -> Result<BankReport, HistoryError> {
    let total_source = if total.is_some() {
        TotalSource::Given
    } else {
        TotalSource::FirstRead
    };
    let mut expected = total;
    let mut read_count = 0;
    let (mut wrong_total_count, mut negative_count) = (0, 0);
    let mut errors = Vec::new();
    let mut first: Option<String> = None;
    for o in history.operations() {
        if &*o.f != "read" || o.outcome != Outcome::Ok {
            continue;
        }
        let Some(c) = o.complete else { continue };
        let op = &history.ops[c];
        let Some(map) = op.value.as_object() else {
            return Err(bad_value(
                history,
                op,
                format!(
                    "bank read of {}: expected a map of account to balance",
                    op.value
                ),
            ));
        };
        let mut sum = 0i128;
        let mut negative = Vec::new();
        for (account, balance) in map {
            let Some(b) = balance.as_i64() else {
                return Err(bad_value(
                    history,
                    op,
                    format!("bank read: account {account} has balance {balance}, not an integer"),
                ));
            };
            sum += b as i128;
            if b < 0 {
                negative.push((account.clone(), b));
            }
        }
        read_count += 1;
        let expected = *expected.get_or_insert(sum);
        let wrong = sum != expected;
        wrong_total_count += wrong as usize;
        negative_count += !negative.is_empty() as usize;
        if wrong || !negative.is_empty() {
            if first.is_none() {
                first = Some(if wrong {
                    format!(
                        "a read by process {} at event {} sums to {sum}, not {expected}",
                        o.process, op.index
                    )
                } else {
                    format!(
                        "a read by process {} at event {} shows account {} at {}",
                        o.process, op.index, negative[0].0, negative[0].1
                    )
                });
            }
            if errors.len() < LISTED {
                errors.push(BadBankRead {
                    index: op.index,
                    process: o.process,
                    total: sum,
                    negative,
                });
            }
        }
    }
    let bad = wrong_total_count + negative_count > 0;
    let explanation = first.map(|f| {
        format!(
            "{wrong_total_count} of {read_count} reads have the wrong total and \
             {negative_count} a negative balance: money was created, destroyed or \
             overdrawn; first, {f}"
        )
    });
    Ok(BankReport {
        valid: if bad {
            Validity::Invalid
        } else {
            Validity::Valid
        },
        read_count,
        expected_total: expected,
        total_source,
        wrong_total_count,
        negative_count,
        errors,
        explanation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simple::history;
    use serde_json::{json, Value};

    fn reads(values: &[Value]) -> History {
        let mut ev = vec![
            (
                0,
                "invoke",
                "transfer",
                json!({"from": "a", "to": "b", "amount": 5}),
            ),
            (
                0,
                "ok",
                "transfer",
                json!({"from": "a", "to": "b", "amount": 5}),
            ),
        ];
        for v in values {
            ev.push((1, "invoke", "read", Value::Null));
            ev.push((1, "ok", "read", v.clone()));
        }
        history(&ev)
    }

    #[test]
    fn constant_totals_are_valid() {
        let h = reads(&[json!({"a": 10, "b": 0}), json!({"a": 5, "b": 5})]);
        let r = check_bank(&h, None).unwrap();
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!((r.read_count, r.expected_total), (2, Some(10)));
        assert_eq!(r.total_source, TotalSource::FirstRead);
        assert_eq!(check_bank(&h, Some(10)).unwrap().valid, Validity::Valid);
    }

    #[test]
    fn a_wrong_total_is_invalid() {
        let h = reads(&[json!({"a": 10, "b": 0}), json!({"a": 10, "b": 5})]);
        let r = check_bank(&h, None).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!((r.wrong_total_count, r.negative_count), (1, 0));
        assert_eq!(r.errors[0].total, 15);
        assert!(r.explanation.unwrap().contains("sums to 15, not 10"));
        // Against a given total, the first read is wrong too.
        let r = check_bank(&h, Some(15)).unwrap();
        assert_eq!((r.wrong_total_count, r.errors[0].index), (1, 3));
    }

    #[test]
    fn a_negative_balance_is_invalid_even_with_the_right_total() {
        let h = reads(&[json!({"a": 12, "b": -2})]);
        let r = check_bank(&h, Some(10)).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.errors[0].negative, vec![("b".to_string(), -2)]);
        assert!(r.explanation.unwrap().contains("account b at -2"));
    }

    #[test]
    fn malformed_reads_are_bad_input() {
        for v in [json!([1, 2]), json!({"a": "x"})] {
            let e = check_bank(&reads(&[v]), None).unwrap_err().to_string();
            assert!(e.contains("test.jsonl:4"), "{e}");
        }
    }
}
