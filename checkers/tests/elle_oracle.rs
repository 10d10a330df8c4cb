//! The list-append checker against a brute-force oracle on small histories.
//!
//! Histories come from a serial execution of a few transactions over two keys (appends of
//! unique values, reads that return the whole list), run concurrently in the history so
//! that no real-time order constrains them, and then possibly mutated: one read with two
//! elements swapped, one read cut short, one element read twice, or one append moved to
//! another transaction. A last transaction reads every key, so every append is observed.
//!
//! The oracle tries every serial order of the transactions and asks whether one of them
//! returns exactly the values every read reported. With every version observed, Adya's
//! theorem makes the dependency graph's acyclicity equivalent to that, so the checker
//! must agree both ways: never invalid for a serializable history (no false alarm), and
//! never valid for one that is not (no missed anomaly).

use faultline_checkers::elle::{check_list_append, ConsistencyModel, ElleOptions};
use faultline_checkers::history::{read_jsonl, History};
use faultline_checkers::Validity;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
enum Mop {
    Append(usize, i64),
    Read(usize, Vec<i64>),
}

type Txn = Vec<Mop>;

const KEYS: usize = 2;

/// Runs `txns` serially in `order`, filling in what each read returns.
fn run(txns: &[Txn], order: &[usize]) -> Vec<Txn> {
    let mut lists = vec![Vec::new(); KEYS];
    let mut out = txns.to_vec();
    for &i in order {
        for m in &mut out[i] {
            match m {
                Mop::Append(k, v) => lists[*k].push(*v),
                Mop::Read(k, r) => *r = lists[*k].clone(),
            }
        }
    }
    out
}

/// Whether some serial order reproduces every read exactly.
fn serializable(txns: &[Txn]) -> bool {
    let mut order: Vec<usize> = (0..txns.len()).collect();
    permutations(&mut order, 0, &mut |o| run(txns, o) == txns)
}

fn permutations(xs: &mut [usize], k: usize, found: &mut impl FnMut(&[usize]) -> bool) -> bool {
    if k == xs.len() {
        return found(xs);
    }
    for i in k..xs.len() {
        xs.swap(k, i);
        if permutations(xs, k + 1, found) {
            return true;
        }
        xs.swap(k, i);
    }
    false
}

/// All txns invoked at once, then all completed ok: no real-time order.
fn history(txns: &[Txn]) -> History {
    let mops = |t: &Txn, with_reads: bool| -> Value {
        Value::Array(
            t.iter()
                .map(|m| match m {
                    Mop::Append(k, v) => json!(["append", k, v]),
                    Mop::Read(k, r) if with_reads => json!(["r", k, r]),
                    Mop::Read(k, _) => json!(["r", k, null]),
                })
                .collect(),
        )
    };
    let mut lines = Vec::new();
    for (p, t) in txns.iter().enumerate() {
        lines.push(json!({"type": "invoke", "process": p, "f": "txn", "value": mops(t, false)}));
    }
    for (p, t) in txns.iter().enumerate() {
        lines.push(json!({"type": "ok", "process": p, "f": "txn", "value": mops(t, true)}));
    }
    let text: String = lines
        .into_iter()
        .enumerate()
        .map(|(i, mut l)| {
            l["index"] = json!(i);
            l.to_string() + "\n"
        })
        .collect();
    read_jsonl(text.as_bytes(), "oracle.jsonl").expect("a well-formed history")
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    None,
    SwapInRead,
    CutRead,
    DuplicateInRead,
    MoveAppend,
}

/// A serial execution of `shape` (per txn: per micro-op, read or append and the key) in
/// `order`, plus a final read of every key, then mutated at `at`.
fn build(shape: &[Vec<(bool, usize)>], order: &[usize], mutation: Mutation, at: usize) -> Vec<Txn> {
    let mut next = 0;
    let mut txns: Vec<Txn> = shape
        .iter()
        .map(|t| {
            t.iter()
                .map(|&(read, k)| {
                    if read {
                        Mop::Read(k, Vec::new())
                    } else {
                        next += 1;
                        Mop::Append(k, next)
                    }
                })
                .collect()
        })
        .collect();
    txns.push((0..KEYS).map(|k| Mop::Read(k, Vec::new())).collect());
    let mut order = order.to_vec();
    order.push(txns.len() - 1);
    let mut txns = run(&txns, &order);
    let reads: Vec<(usize, usize)> = txns
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            t.iter()
                .enumerate()
                .filter(|(_, m)| matches!(m, Mop::Read(_, r) if !r.is_empty()))
                .map(move |(j, _)| (i, j))
        })
        .collect();
    let appends: Vec<(usize, usize)> = txns
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            t.iter()
                .enumerate()
                .filter(|(_, m)| matches!(m, Mop::Append(..)))
                .map(move |(j, _)| (i, j))
        })
        .collect();
    match mutation {
        Mutation::None => {}
        Mutation::SwapInRead | Mutation::CutRead | Mutation::DuplicateInRead => {
            if let Some(&(i, j)) = reads.get(at % reads.len().max(1)) {
                if let Mop::Read(_, r) = &mut txns[i][j] {
                    match mutation {
                        Mutation::SwapInRead if r.len() >= 2 => {
                            let n = r.len();
                            r.swap(at % (n - 1), at % (n - 1) + 1);
                        }
                        Mutation::CutRead => {
                            r.pop();
                        }
                        Mutation::DuplicateInRead => {
                            let e = r[at % r.len()];
                            r.push(e);
                        }
                        _ => {}
                    }
                }
            }
        }
        Mutation::MoveAppend => {
            if let Some(&(i, j)) = appends.get(at % appends.len().max(1)) {
                let m = txns[i].remove(j);
                let to = (i + 1 + at) % txns.len();
                txns[to].insert(0, m);
            }
        }
    }
    txns
}

fn shape_strategy() -> impl Strategy<Value = Vec<Vec<(bool, usize)>>> {
    prop::collection::vec(
        prop::collection::vec((any::<bool>(), 0..KEYS), 1..=3),
        1..=5,
    )
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::None),
        Just(Mutation::SwapInRead),
        Just(Mutation::CutRead),
        Just(Mutation::DuplicateInRead),
        Just(Mutation::MoveAppend),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn list_append_serializable_iff_a_serial_order_exists(
        (shape, order) in shape_strategy().prop_flat_map(|s| {
            let n = s.len();
            (Just(s), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        }),
        mutation in mutation_strategy(),
        at in 0usize..16,
    ) {
        let txns = build(&shape, &order, mutation, at);
        let h = history(&txns);
        let r = check_list_append(&h, &ElleOptions::for_model(ConsistencyModel::Serializable))
            .expect("a well-formed history");
        let oracle = serializable(&txns);
        let why = format!("{txns:?}\noracle serializable: {oracle}\n{}", r.to_text());
        match r.valid {
            Validity::Valid => prop_assert!(oracle, "valid, but no serial order exists\n{why}"),
            Validity::Invalid => prop_assert!(!oracle, "invalid, but a serial order exists\n{why}"),
            Validity::Unknown => {
                // Only when nothing orders any two txns (no append at all).
                prop_assert_eq!(&r.anomaly_types, &vec!["empty-transaction-graph".to_string()], "{}", why);
                prop_assert!(oracle, "{}", why);
            }
        }
    }
}

/// The oracle itself can fail: a read that no serial order gives is caught.
#[test]
fn the_oracle_rejects_a_lost_append() {
    let txns = vec![
        vec![Mop::Append(0, 1)],
        vec![Mop::Read(0, vec![1]), Mop::Append(0, 2)],
        vec![Mop::Read(0, vec![1, 2]), Mop::Read(1, vec![])],
    ];
    assert!(serializable(&txns));
    let lost = vec![
        vec![Mop::Read(0, vec![]), Mop::Append(0, 1)],
        vec![Mop::Read(0, vec![]), Mop::Append(0, 2)],
        vec![Mop::Read(0, vec![1, 2]), Mop::Read(1, vec![])],
    ];
    assert!(!serializable(&lost));
    let r = check_list_append(
        &history(&lost),
        &ElleOptions::for_model(ConsistencyModel::Serializable),
    )
    .unwrap();
    assert_eq!(r.valid, Validity::Invalid, "{}", r.to_text());
}
