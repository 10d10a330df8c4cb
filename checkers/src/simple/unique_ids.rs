//! Jepsen's `unique-ids` checker: every ok `generate` must return an id no other ok
//! `generate` returned. Failed and info generates returned nothing we could compare.

use super::LISTED;
use crate::history::{History, Outcome};
use crate::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An id returned more than once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duplicate {
    pub id: Value,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UniqueIdsReport {
    pub valid: Validity,
    /// Generates invoked.
    pub attempted_count: usize,
    /// Ok generates: ids returned.
    pub acknowledged_count: usize,
    /// Distinct ids returned more than once.
    pub duplicated_count: usize,
    /// The most duplicated ids, most first (at most `LISTED`).
    pub duplicated: Vec<Duplicate>,
    /// The least and greatest integer ids, when the ids are integers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<[i64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

impl UniqueIdsReport {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.explanation {
            s.push_str(&format!("  {e}\n"));
        }
        for d in self.duplicated.iter().take(10) {
            s.push_str(&format!("  id {} returned {} times\n", d.id, d.count));
        }
        s
    }
}

pub fn check_unique_ids(history: &History) -> UniqueIdsReport {
    let mut attempted_count = 0;
    let mut acknowledged_count = 0;
    // By canonical text: the id and how often it came back.
    let mut seen: BTreeMap<String, (Value, usize)> = BTreeMap::new();
    let mut range: Option<[i64; 2]> = None;
    let mut all_integers = true;
    for o in history.operations() {
        if &*o.f != "generate" {
            continue;
        }
        attempted_count += 1;
        if o.outcome != Outcome::Ok {
            continue;
        }
        let id = o.result_value(&history.ops).unwrap_or(&Value::Null);
        acknowledged_count += 1;
        match id.as_i64() {
            Some(i) => {
                range = Some(range.map_or([i, i], |[lo, hi]| [lo.min(i), hi.max(i)]));
            }
            None => all_integers = false,
        }
        seen.entry(id.to_string()).or_insert((id.clone(), 0)).1 += 1;
    }
    let mut duplicated: Vec<Duplicate> = seen
        .into_values()
        .filter(|(_, c)| *c > 1)
        .map(|(id, count)| Duplicate { id, count })
        .collect();
    // Most repeated first; stable, so ties keep the ids' order.
    duplicated.sort_by_key(|d| std::cmp::Reverse(d.count));
    let duplicated_count = duplicated.len();
    duplicated.truncate(LISTED);
    let explanation = duplicated.first().map(|d| {
        format!(
            "{duplicated_count} ids were returned by more than one generate among \
             {acknowledged_count} acknowledged; {} was returned {} times",
            d.id, d.count
        )
    });
    UniqueIdsReport {
        valid: if duplicated_count == 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        attempted_count,
        acknowledged_count,
        duplicated_count,
        duplicated,
        range: range.filter(|_| all_integers),
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simple::history;
    use serde_json::json;

    fn generates(ids: &[Value]) -> History {
        let mut ev = Vec::new();
        for (p, id) in ids.iter().enumerate() {
            ev.push((p as u64, "invoke", "generate", Value::Null));
            ev.push((p as u64, "ok", "generate", id.clone()));
        }
        ev.push((99, "invoke", "generate", Value::Null));
        ev.push((99, "info", "generate", Value::Null));
        history(&ev)
    }

    #[test]
    fn distinct_ids_are_valid() {
        let r = check_unique_ids(&generates(&[json!(5), json!(1), json!(3)]));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!((r.attempted_count, r.acknowledged_count), (4, 3));
        assert_eq!(r.range, Some([1, 5]));
    }

    #[test]
    fn duplicates_are_invalid_most_repeated_first() {
        let r = check_unique_ids(&generates(&[
            json!(1),
            json!(2),
            json!(2),
            json!(1),
            json!(2),
            json!(3),
        ]));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.duplicated_count, 2);
        assert_eq!(
            r.duplicated,
            vec![
                Duplicate {
                    id: json!(2),
                    count: 3
                },
                Duplicate {
                    id: json!(1),
                    count: 2
                }
            ]
        );
        assert!(r.explanation.unwrap().contains("2 was returned 3 times"));
    }

    #[test]
    fn string_ids_have_no_range() {
        let r = check_unique_ids(&generates(&[json!("a"), json!("a")]));
        assert_eq!((r.valid, r.range), (Validity::Invalid, None));
    }
}
