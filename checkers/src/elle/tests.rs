//! Hand-written histories for every anomaly class, and property tests over generated ones.

use super::gen::{self, Builder, GenOptions, Inject, Store};
use super::*;
use crate::history::OpType::{Fail, Info, Ok as OkT};
use proptest::prelude::*;
use serde_json::{json, Value};

fn opts(model: ConsistencyModel) -> ElleOptions {
    ElleOptions::for_model(model)
}

fn la(h: &History, model: ConsistencyModel) -> ElleReport {
    check_list_append(h, &opts(model)).expect("well-formed history")
}

fn rw(h: &History, model: ConsistencyModel, wfr: bool) -> ElleReport {
    let o = ElleOptions {
        wfr_keys: wfr,
        ..opts(model)
    };
    check_rw_register(h, &o).expect("well-formed history")
}

fn types(r: &ElleReport) -> Vec<&str> {
    r.anomaly_types.iter().map(String::as_str).collect()
}

/// The anomaly types apart from `empty-transaction-graph`, which must be there exactly
/// when no edge was inferred (as Elle: a two-txn G1a history has no edge, the failed
/// writer being no node of the graph).
fn types_of_data(r: &ElleReport) -> Vec<&str> {
    let empty = r
        .anomaly_types
        .iter()
        .any(|t| t == "empty-transaction-graph");
    assert_eq!(empty, r.edge_count == 0, "{}", r.to_text());
    types(r)
        .into_iter()
        .filter(|t| *t != "empty-transaction-graph")
        .collect()
}

fn sorted<'a>(xs: &[&'a str]) -> Vec<&'a str> {
    let mut v = xs.to_vec();
    v.sort_unstable();
    v
}

/// Each hand-made anomaly alone, with integer keys.
fn hand(what: Inject) -> History {
    let keys = [json!(1), json!(2), json!(3), json!(4)];
    Builder::new()
        .concurrent(&what.txns([&keys[0], &keys[1], &keys[2], &keys[3]], 0))
        .history()
}

#[test]
fn elle_every_hand_written_list_append_anomaly_is_found_exactly() {
    for what in Inject::ALL {
        let r = la(&hand(what), ConsistencyModel::Serializable);
        assert_eq!(
            types_of_data(&r),
            sorted(what.expected()),
            "{what:?}\n{}",
            r.to_text()
        );
        assert_eq!(r.valid, Validity::Invalid, "{what:?}");
        for kind in what.expected() {
            let a = &r.anomalies[*kind][0];
            assert!(!a.explanation.is_empty());
        }
    }
}

#[test]
fn elle_valid_list_append_history_has_no_anomalies() {
    let h = Builder::new()
        .txn(0, OkT, json!([["append", 1, 1], ["r", 1, [1]]]))
        .txn(
            1,
            OkT,
            json!([["r", 1, [1]], ["append", 1, 2], ["append", 2, 1]]),
        )
        .concurrent(&[
            (0, OkT, json!([["r", 1, [1, 2]], ["r", 2, [1]]])),
            (1, Fail, json!([["append", 2, 5]])),
            (2, Info, json!([["append", 2, 6]])),
        ])
        .txn(3, OkT, json!([["r", 2, [1, 6]], ["r", 3, null]]))
        .history();
    for m in ConsistencyModel::ALL {
        let r = la(&h, m);
        assert_eq!(r.valid, Validity::Valid, "{m}: {}", r.to_text());
        assert!(r.not.is_empty() && r.anomaly_types.is_empty());
    }
}

#[test]
fn elle_cycle_explanations_and_graphs() {
    let r = la(&hand(Inject::GSingle), ConsistencyModel::Serializable);
    let a = &r.anomalies["G-single"][0];
    let c = a.cycle.as_ref().expect("a cycle");
    assert_eq!(c.txns.len(), 2);
    let rels: Vec<&str> = c.steps.iter().map(|s| s.rel.as_str()).collect();
    assert!(rels.contains(&"rw") && rels.contains(&"wr"), "{rels:?}");
    assert!(
        a.explanation.contains("a contradiction!"),
        "{}",
        a.explanation
    );
    assert!(
        a.explanation.contains("did not yet include"),
        "{}",
        a.explanation
    );
    assert_eq!(
        r.not,
        vec![
            ConsistencyModel::RepeatableRead,
            ConsistencyModel::SnapshotIsolation
        ]
    );
    let graphs = r.cycle_graphs();
    assert_eq!(graphs.len(), 1);
    let (name, dot, svg) = &graphs[0];
    assert_eq!(name, "G-single-0");
    assert!(dot.starts_with("digraph") && dot.contains("T1 -> T2"));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.matches("<circle").count() == 2);
    let text = r.to_text();
    assert!(
        text.contains("INVALID") && text.contains("G-single #0"),
        "{text}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["valid"], json!(false));
    assert_eq!(json["anomaly_types"], json!(["G-single"]));
}

#[test]
fn elle_weaker_models_allow_what_they_allow() {
    // Write skew is fine under read committed and snapshot isolation...
    let h = hand(Inject::G2Item);
    assert_eq!(
        la(&h, ConsistencyModel::ReadCommitted).valid,
        Validity::Valid
    );
    assert_eq!(
        la(&h, ConsistencyModel::SnapshotIsolation).valid,
        Validity::Valid
    );
    assert_eq!(
        la(&h, ConsistencyModel::RepeatableRead).valid,
        Validity::Invalid
    );
    // ... G0 never is.
    assert_eq!(
        la(&hand(Inject::G0), ConsistencyModel::ReadUncommitted).valid,
        Validity::Invalid
    );
    // Read skew is fine under read committed, not under snapshot isolation.
    let h = hand(Inject::GSingle);
    assert_eq!(
        la(&h, ConsistencyModel::ReadCommitted).valid,
        Validity::Valid
    );
    assert_eq!(
        la(&h, ConsistencyModel::SnapshotIsolation).valid,
        Validity::Invalid
    );
    // G-nonadjacent: snapshot isolation forbids it.
    let h = hand(Inject::GNonadjacent);
    assert_eq!(
        la(&h, ConsistencyModel::SnapshotIsolation).valid,
        Validity::Invalid
    );
}

#[test]
fn elle_realtime_and_process_variants() {
    // T1 appends and completes; T2 starts later yet misses it: stale read.
    let h = Builder::new()
        .txn(0, OkT, json!([["append", 1, 1]]))
        .concurrent(&[
            (1, OkT, json!([["r", 1, []]])),
            (2, OkT, json!([["r", 1, [1]]])),
        ])
        .history();
    let r = la(&h, ConsistencyModel::Serializable);
    assert_eq!(r.valid, Validity::Valid, "{}", r.to_text());
    let r = la(&h, ConsistencyModel::StrictSerializable);
    assert_eq!(types(&r), ["G-single-realtime"], "{}", r.to_text());
    assert_eq!(r.valid, Validity::Invalid);
    assert!(r.anomalies["G-single-realtime"][0]
        .explanation
        .contains("completed (index 1) before"));
    // The same on one process: a session violation.
    let h = Builder::new()
        .txn(0, OkT, json!([["append", 1, 1]]))
        .concurrent(&[
            (0, OkT, json!([["r", 1, []]])),
            (2, OkT, json!([["r", 1, [1]]])),
        ])
        .history();
    let r = la(&h, ConsistencyModel::StrongSessionSerializable);
    assert_eq!(types(&r), ["G-single-process"], "{}", r.to_text());
    assert_eq!(r.valid, Validity::Invalid);
    let r = la(&h, ConsistencyModel::StrictSerializable);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.to_text());
}

#[test]
fn elle_rw_register_anomalies() {
    use ConsistencyModel::Serializable as S;
    type Case = (
        Vec<(u64, crate::history::OpType, Value)>,
        bool,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            vec![
                (0, Fail, json!([["w", 1, 1]])),
                (1, OkT, json!([["r", 1, 1]])),
            ],
            false,
            vec!["G1a"],
        ),
        (
            vec![
                (0, OkT, json!([["w", 1, 1], ["w", 1, 2]])),
                (1, OkT, json!([["r", 1, 1]])),
            ],
            false,
            vec!["G1b"],
        ),
        (
            vec![(0, OkT, json!([["w", 1, 1], ["r", 1, null]]))],
            false,
            vec!["internal"],
        ),
        (
            vec![(0, OkT, json!([["r", 1, 5]]))],
            false,
            vec!["garbage-read"],
        ),
        (
            vec![
                (0, OkT, json!([["w", 1, 1], ["r", 2, 1]])),
                (1, OkT, json!([["w", 2, 1], ["r", 1, 1]])),
            ],
            false,
            vec!["G1c"],
        ),
        (
            vec![
                (0, OkT, json!([["w", 1, 1], ["w", 2, 1]])),
                (1, OkT, json!([["r", 1, 1], ["r", 2, null]])),
            ],
            false,
            vec!["G-single"],
        ),
        (
            vec![
                (0, OkT, json!([["r", 1, null], ["w", 2, 1]])),
                (1, OkT, json!([["r", 2, null], ["w", 1, 1]])),
            ],
            false,
            vec!["G2-item"],
        ),
        (
            vec![
                (0, OkT, json!([["r", 2, 2], ["w", 2, 1], ["w", 1, 1]])),
                (1, OkT, json!([["r", 1, 1], ["w", 1, 2], ["w", 2, 2]])),
            ],
            true,
            vec!["G0"],
        ),
        (
            vec![
                (0, OkT, json!([["r", 1, 1], ["w", 1, 2]])),
                (1, OkT, json!([["r", 1, 2], ["w", 1, 1]])),
            ],
            true,
            vec!["G1c", "cyclic-versions"],
        ),
        // Valid: reads see committed, final writes.
        (
            vec![
                (0, OkT, json!([["r", 1, null], ["w", 1, 1]])),
                (1, Info, json!([["w", 1, 2]])),
            ],
            true,
            vec![],
        ),
    ];
    for (txns, wfr, want) in cases {
        let h = Builder::new().concurrent(&txns).history();
        let r = rw(&h, S, wfr);
        assert_eq!(types_of_data(&r), want, "{txns:?}\n{}", r.to_text());
    }
}

#[test]
fn elle_rw_register_sequential_valid() {
    let h = Builder::new()
        .txn(0, OkT, json!([["r", 1, null], ["w", 1, 1]]))
        .txn(1, OkT, json!([["r", 1, 1], ["w", 1, 2], ["r", 1, 2]]))
        .txn(0, OkT, json!([["r", 1, 2], ["r", "k", null]]))
        .history();
    for wfr in [false, true] {
        let r = rw(&h, ConsistencyModel::StrictSerializable, wfr);
        assert_eq!(r.valid, Validity::Valid, "{}", r.to_text());
    }
}

#[test]
fn elle_malformed_micro_ops_are_errors_naming_the_line() {
    let bad = [
        json!("x"),
        json!([["append", 1]]),
        json!([["append", 1, 2.5]]),
        json!([["put", 1, 2]]),
        json!([["r", [1], [1]]]),
        json!([["r", 1, 5]]),
        json!([[7, 1, 2]]),
    ];
    for v in bad {
        let h = Builder::new()
            .txn(0, OkT, json!([["append", 1, 1]]))
            .txn(0, OkT, v.clone())
            .history();
        match check_list_append(&h, &ElleOptions::default()) {
            Err(e @ ElleError::Malformed { .. }) => {
                assert_eq!(e.line(), 4, "{v}: {e}");
            }
            other => panic!("{v}: {other:?}"),
        }
    }
    let h = Builder::new()
        .txn(0, OkT, json!([["append", 1, 1]]))
        .txn(1, OkT, json!([["append", 1, 1]]))
        .history();
    assert!(matches!(
        check_list_append(&h, &ElleOptions::default()),
        Err(ElleError::DuplicateWrite {
            line: 4,
            first_line: 2,
            ..
        })
    ));
    // A list-append micro-op is not a register one.
    let h = Builder::new()
        .txn(0, OkT, json!([["append", 1, 1]]))
        .history();
    assert!(check_rw_register(&h, &ElleOptions::default()).is_err());
}

#[test]
fn elle_string_keys_and_values() {
    let h = Builder::new()
        .concurrent(&[
            (0, OkT, json!([["append", "x", "a"], ["append", "y", "a"]])),
            (1, OkT, json!([["r", "y", ["a"]], ["r", "x", []]])),
            (2, OkT, json!([["r", "x", ["a"]]])),
        ])
        .history();
    let r = la(&h, ConsistencyModel::Serializable);
    assert_eq!(types(&r), ["G-single"]);
    assert!(r.anomalies["G-single"][0].explanation.contains("key \"x\""));
}

#[test]
fn elle_empty_history_is_unknown() {
    let r = la(&Builder::new().history(), ConsistencyModel::Serializable);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(types(&r), ["empty-transaction-graph"]);
}

#[test]
fn elle_generated_history_is_valid_and_deterministic() {
    let o = GenOptions {
        txns: 3000,
        concurrency: 10,
        seed: 7,
        ..GenOptions::default()
    };
    let h = gen::list_append(&o);
    assert_eq!(h.ops.len(), 6000);
    assert_eq!(gen::list_append(&o).ops, h.ops);
    let r = la(&h, ConsistencyModel::StrictSerializable);
    assert_eq!(r.valid, Validity::Valid, "{}", r.to_text());
    // The dependencies we look at are there: valid is not vacuous.
    assert!(r.txn_count == 3000);
    assert!(r.edge_count > 3000, "{}", r.edge_count);
}

#[test]
fn elle_cycle_caps_bound_the_report() {
    let mut h = gen::list_append(&GenOptions {
        txns: 200,
        seed: 1,
        ..GenOptions::default()
    });
    for s in 0..5 {
        h = gen::inject(&h, Inject::G2Item, 100 + s);
    }
    let o = ElleOptions {
        max_cycles_per_class: 3,
        ..opts(ConsistencyModel::Serializable)
    };
    let r = check_list_append(&h, &o).unwrap();
    assert_eq!(r.anomalies["G2-item"].len(), 3);
    assert_eq!(r.scc_count, 5);
}

#[test]
fn elle_read_of_own_appends_on_a_stale_base() {
    // T1 appends 3 on top of [1] while T2's 2 commits first: T1's read [1, 3] is its own
    // append on a stale state. No order is broken (read committed allows it), but T1
    // missed T2's append and came after it: a G-single, as a lost update is.
    let h = Builder::new()
        .txn(0, OkT, json!([["append", 1, 1]]))
        .concurrent(&[
            (1, OkT, json!([["append", 1, 3], ["r", 1, [1, 3]]])),
            (2, OkT, json!([["append", 1, 2]])),
        ])
        .txn(3, OkT, json!([["r", 1, [1, 2, 3]]]))
        .history();
    let r = la(&h, ConsistencyModel::Serializable);
    assert_eq!(types(&r), ["G-single"], "{}", r.to_text());
    assert_eq!(
        la(&h, ConsistencyModel::ReadCommitted).valid,
        Validity::Valid
    );
}

#[test]
fn elle_stale_snapshot_store_shows_lost_updates_and_write_skew() {
    let h = gen::list_append(&GenOptions {
        txns: 2000,
        concurrency: 10,
        active_keys: 4,
        store: Store::StaleSnapshot,
        seed: 3,
        ..GenOptions::default()
    });
    let r = la(&h, ConsistencyModel::Serializable);
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.anomaly_types.iter().any(|t| t == "lost-update"),
        "{:?}",
        r.anomaly_types
    );
    let r = la(&h, ConsistencyModel::ReadCommitted);
    assert_eq!(r.valid, Validity::Valid, "{}", r.to_text());
    assert!(
        r.not.contains(&ConsistencyModel::CursorStability),
        "{:?}",
        r.not
    );
}

#[test]
fn elle_search_budget_bounds_work_and_still_reports_cycles() {
    // One hot key under a store without conflict checks: one huge component.
    let h = gen::list_append(&GenOptions {
        txns: 3000,
        concurrency: 20,
        active_keys: 1,
        max_writes_per_key: 1000,
        store: Store::StaleSnapshot,
        seed: 9,
        ..GenOptions::default()
    });
    let o = ElleOptions {
        max_search_steps: 50,
        ..opts(ConsistencyModel::StrictSerializable)
    };
    let r = check_list_append(&h, &o).unwrap();
    assert!(r.search_exhausted);
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.anomalies.values().flatten().any(|a| a.cycle.is_some()),
        "{}",
        r.to_text()
    );
    assert!(r.to_text().contains("step budget"));
    // With the default budget the same history is searched fully for each class.
    let r = la(&h, ConsistencyModel::StrictSerializable);
    assert!(r.anomaly_types.len() >= 2, "{:?}", r.anomaly_types);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn elle_prop_generated_serializable_histories_are_valid(
        seed in any::<u64>(),
        txns in 1usize..400,
        concurrency in 1usize..12,
        keys in 1usize..6,
        writes in 1usize..10,
    ) {
        let h = gen::list_append(&GenOptions {
            txns, concurrency, active_keys: keys, max_writes_per_key: writes, seed,
            fail_ratio: 0.1, info_ratio: 0.1, ..GenOptions::default()
        });
        for m in [
            ConsistencyModel::ReadUncommitted,
            ConsistencyModel::ReadCommitted,
            ConsistencyModel::SnapshotIsolation,
            ConsistencyModel::Serializable,
            ConsistencyModel::StrictSerializable,
        ] {
            let r = la(&h, m);
            // A history whose every transaction failed has nothing to check (Elle's
            // empty-transaction-graph: unknown, not an anomaly).
            prop_assert!(
                r.anomaly_types.iter().all(|t| t == "empty-transaction-graph"),
                "{m}: {}", r.to_text()
            );
        }
    }

    /// No false alarm below what the store guarantees: only anomalies read committed
    /// allows.
    #[test]
    fn elle_prop_stale_snapshot_histories_are_read_committed(
        seed in any::<u64>(),
        txns in 1usize..400,
        concurrency in 1usize..12,
        keys in 1usize..6,
    ) {
        let h = gen::list_append(&GenOptions {
            txns, concurrency, active_keys: keys, seed, store: Store::StaleSnapshot,
            fail_ratio: 0.1, info_ratio: 0.1, ..GenOptions::default()
        });
        let r = la(&h, ConsistencyModel::ReadCommitted);
        prop_assert!(r.valid != Validity::Invalid, "{}", r.to_text());
        for t in &r.anomaly_types {
            prop_assert!(
                ["lost-update", "G-single", "G-nonadjacent", "G2-item", "empty-transaction-graph"]
                    .contains(&t.as_str()),
                "{t}: {}", r.to_text()
            );
        }
    }

    #[test]
    fn elle_prop_injected_anomalies_are_found(
        seed in any::<u64>(),
        txns in 0usize..300,
        which in 0usize..Inject::ALL.len(),
    ) {
        let what = Inject::ALL[which];
        let h = gen::list_append(&GenOptions { txns, seed, ..GenOptions::default() });
        let h = gen::inject(&h, what, seed);
        let r = la(&h, ConsistencyModel::Serializable);
        for kind in what.expected() {
            prop_assert!(r.anomaly_types.iter().any(|t| t == kind), "{what:?}: {}", r.to_text());
        }
        prop_assert_eq!(r.valid, Validity::Invalid);
    }
}

/// The property tests' once-flaky case: a single transaction, which failed.
#[test]
fn elle_a_history_of_one_failed_transaction_is_unknown_not_an_anomaly() {
    let h = gen::list_append(&GenOptions {
        txns: 1,
        concurrency: 2,
        active_keys: 1,
        seed: 8850981360524512851,
        store: Store::StaleSnapshot,
        fail_ratio: 0.1,
        info_ratio: 0.1,
        ..GenOptions::default()
    });
    let r = la(&h, ConsistencyModel::ReadCommitted);
    assert_eq!(
        r.anomaly_types,
        ["empty-transaction-graph"],
        "{}",
        r.to_text()
    );
    assert!(r.valid != Validity::Invalid, "{}", r.to_text());
    assert!(
        r.anomaly_types
            .iter()
            .all(|t| t == "empty-transaction-graph"),
        "{}",
        r.to_text()
    );
}
