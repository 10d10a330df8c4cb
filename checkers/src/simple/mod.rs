//! Jepsen's simpler checkers, one per module: `set`, `counter`, `total-queue`,
//! `unique-ids` and `bank`. Each reads a validated history and returns a serializable report with a
//! verdict and, when invalid, a one-sentence explanation. A value of the wrong shape is
//! bad input: a `HistoryError` naming the file and line, never a guess.

pub mod bank;
pub mod counter;
pub mod queue;
pub mod set;
pub mod unique_ids;
mod wide;

use crate::history::{History, HistoryError, Op};

/// At most this many items (bad reads, lost elements, duplicated ids) are listed in a
/// report; the counts next to them are always complete. Bounds a report's size.
pub const LISTED: usize = 100;

/// An error about one event of the history, naming its file and line.
fn bad_value(history: &History, op: &Op, message: String) -> HistoryError {
    HistoryError::invalid(&history.source, op.line, message)
}

/// A history from `(process, type, f, value)` events, through the JSON Lines reader.
#[cfg(test)]
pub(crate) fn history(events: &[(u64, &str, &str, serde_json::Value)]) -> History {
    let text: String = events
        .iter()
        .enumerate()
        .map(|(i, (p, t, f, v))| {
            serde_json::json!({"index": i, "type": t, "process": p, "f": f, "value": v}).to_string()
                + "\n"
        })
        .collect();
    crate::history::read_jsonl(text.as_bytes(), "test.jsonl").expect("a well-formed history")
}
