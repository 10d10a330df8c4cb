//! Turns a history into search problems: one per key (P-compositionality), each with its
//! operations interned to model-operation classes, completed operations sorted by
//! invocation, and interchangeable indeterminate operations grouped.

use super::LinError;
use crate::history::{History, Operation, Outcome};
use crate::model::Model;
use rustc_hash::FxHashMap;
use serde_json::Value;

/// An operation that completed `ok`: it must be linearized between `call` and `ret`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// Event positions in the history.
    pub call: u32,
    pub ret: u32,
    /// The model operation class.
    pub class: u32,
    /// Index into the history's operations, for reports.
    pub op: u32,
}

/// Indeterminate operations with the same model operation: any one can stand in for
/// another, so the search only counts how many it has used, earliest invocation first.
#[derive(Debug, Clone)]
pub(crate) struct InfoClass {
    pub class: u32,
    /// Once the first this many completed operations (in invocation order) are
    /// linearized, whether this class was used no longer matters (`Model::last_observer`).
    pub live_until: u32,
    /// Invocation positions, ascending.
    pub calls: Vec<u32>,
    pub ops: Vec<u32>,
}

pub(crate) struct Problem<M: Model> {
    pub key: Option<Value>,
    pub classes: Vec<M::Op>,
    /// Completed operations sorted by invocation.
    pub det: Vec<Entry>,
    pub info: Vec<InfoClass>,
}

/// The key an operation belongs to, as comparable text.
fn key_text(k: &Value) -> String {
    k.to_string()
}

/// Splits operations by key. Operations without a key, in a history where others have
/// one, concern every key (as in Jepsen's independent checker).
pub(crate) fn split_by_key(ops: &[Operation]) -> Vec<(Option<Value>, Vec<u32>)> {
    let mut groups: Vec<(Option<Value>, Vec<u32>)> = Vec::new();
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    let mut unkeyed: Vec<u32> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match &op.key {
            Some(k) => {
                let slot = *index.entry(key_text(k)).or_insert_with(|| {
                    groups.push((Some(k.clone()), Vec::new()));
                    groups.len() - 1
                });
                groups[slot].1.push(i as u32);
            }
            None => unkeyed.push(i as u32),
        }
    }
    if groups.is_empty() {
        return vec![(None, unkeyed)];
    }
    if !unkeyed.is_empty() {
        for (_, g) in &mut groups {
            g.extend_from_slice(&unkeyed);
            g.sort_unstable();
        }
    }
    groups
}

pub(crate) fn build<M: Model>(
    model: &M,
    history: &History,
    ops: &[Operation],
    key: Option<Value>,
    members: &[u32],
) -> Result<Problem<M>, LinError> {
    let mut class_ids: FxHashMap<M::Op, u32> = FxHashMap::default();
    let mut classes: Vec<M::Op> = Vec::new();
    let mut det_ops: Vec<(u32, u32, M::Op, u32)> = Vec::new();
    let mut info_ops: Vec<(u32, M::Op, u32)> = Vec::new();
    for &i in members {
        let op = &ops[i as usize];
        if op.outcome == Outcome::Fail {
            continue;
        }
        let parsed = model
            .parse(
                &op.f,
                op.invoke_value(&history.ops),
                op.result_value(&history.ops),
                op.outcome,
            )
            .map_err(|message| LinError::BadOperation {
                file: history.source.clone(),
                line: history.ops[op.complete.unwrap_or(op.invoke)].line,
                message,
            })?;
        let Some(mop) = parsed else { continue };
        let call = op.invoke as u32;
        match (op.outcome, op.complete) {
            (Outcome::Ok, Some(c)) => det_ops.push((call, c as u32, mop, i)),
            _ => info_ops.push((call, mop, i)),
        }
    }
    det_ops.sort_by_key(|d| d.0);
    let det_models: Vec<M::Op> = det_ops.iter().map(|d| d.2.clone()).collect();
    let info_models: Vec<M::Op> = info_ops.iter().map(|d| d.1.clone()).collect();
    let keep = model.relevant_indeterminate(&info_models, &det_models);
    let last_observer = model.last_observer(&info_models, &det_models);

    let mut intern = |m: M::Op| -> u32 {
        if let Some(&c) = class_ids.get(&m) {
            return c;
        }
        let c = classes.len() as u32;
        classes.push(m.clone());
        class_ids.insert(m, c);
        c
    };
    let det: Vec<Entry> = det_ops
        .into_iter()
        .map(|(call, ret, m, op)| Entry {
            call,
            ret,
            class: intern(m),
            op,
        })
        .collect();
    // Sorted by invocation already; the search relies on it.
    debug_assert!(det.windows(2).all(|w| w[0].call < w[1].call));

    let mut info_by_class: FxHashMap<u32, usize> = FxHashMap::default();
    let mut info: Vec<InfoClass> = Vec::new();
    for (((call, m, op), keep), last) in info_ops.into_iter().zip(keep).zip(last_observer) {
        if !keep {
            continue;
        }
        // Equal operations have the same observers, so a class has one bound.
        let live_until = last.map_or(u32::MAX, |l| l as u32 + 1);
        let class = intern(m);
        let slot = *info_by_class.entry(class).or_insert_with(|| {
            info.push(InfoClass {
                class,
                live_until,
                calls: Vec::new(),
                ops: Vec::new(),
            });
            info.len() - 1
        });
        info[slot].calls.push(call);
        info[slot].ops.push(op);
    }
    for c in &mut info {
        // Operations were gathered in invocation order already; keep that invariant explicit.
        debug_assert!(c.calls.windows(2).all(|w| w[0] < w[1]));
    }
    // Classes whose first invocation comes early are tried first, as in call order.
    info.sort_by_key(|c| c.calls[0]);
    Ok(Problem {
        key,
        classes,
        det,
        info,
    })
}
