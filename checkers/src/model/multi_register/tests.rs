use super::*;
use crate::history::{History, Op, OpType, Process};
use crate::linear::{check, Options};
use crate::model::StartingAt;
use crate::Validity;
use serde_json::json;

fn txn(v: Value) -> Txn {
    MultiRegister
        .parse("txn", &v, Some(&v), Outcome::Ok)
        .expect("parses")
        .expect("constrains something")
}

fn state(v: Value) -> MultiState {
    MultiRegister.state_from_json(&v).expect("an object")
}

fn steps(s: &MultiState, t: &Txn) -> Vec<MultiState> {
    let mut next = Vec::new();
    MultiRegister.step(s, t, &mut next);
    next
}

#[test]
fn reads_must_match_and_see_the_transactions_own_writes() {
    let s = state(json!({"x": 0, "y": 0}));
    assert_eq!(
        steps(&s, &txn(json!([["read", "x", 0], ["read", "y", 0]]))),
        std::slice::from_ref(&s)
    );
    assert!(steps(&s, &txn(json!([["read", "x", 1]]))).is_empty());
    let t = txn(json!([
        ["write", "x", 2],
        ["read", "x", 2],
        ["r", "y", 0],
        ["w", "y", 3]
    ]));
    assert_eq!(steps(&s, &t), [state(json!({"x": 2, "y": 3}))]);
    // The read of 0 comes after the transaction's own write of 2.
    assert!(steps(&s, &txn(json!([["write", "x", 2], ["read", "x", 0]]))).is_empty());
}

#[test]
fn keys_nobody_wrote_hold_nil_and_nil_reads_are_always_legal() {
    let empty = MultiRegister.init();
    // Knossos: (get state k) is nil for an unknown key, so only a nil read fits it.
    assert!(steps(&empty, &txn(json!([["read", "z", 0]]))).is_empty());
    let unobserved = json!([["read", "x", null], ["read", "z", null]]);
    assert_eq!(
        MultiRegister
            .parse("txn", &unobserved, Some(&unobserved), Outcome::Ok)
            .unwrap(),
        None
    );
    // Nil reads are left out of a transaction that writes.
    let t = txn(json!([["read", "x", null], ["write", "x", 1]]));
    assert_eq!(t.0.len(), 1);
    // Writing nil unsets the key: the state is the one that never held it.
    let s = state(json!({"x": 1}));
    assert_eq!(steps(&s, &txn(json!([["write", "x", null]]))), [empty]);
}

#[test]
fn states_are_canonical() {
    let a = state(json!({"y": 2, "x": 1, "z": null}));
    let b = MultiState::new([
        (Arc::from("x"), Scalar::Int(1)),
        (Arc::from("y"), Scalar::Int(2)),
    ]);
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "{x 1, y 2}");
    assert_ne!(a, state(json!({"x": 1, "y": "2"})));
    // Non-string keys are compared by their text, as EDN map keys are read.
    let s = state(json!({"1": 5}));
    assert_eq!(steps(&s, &txn(json!([["read", 1, 5]]))).len(), 1);
}

#[test]
fn ok_transactions_are_read_from_their_completion_info_ones_from_their_invocation() {
    let inv = json!([["read", "x", null], ["write", "y", 1]]);
    let done = json!([["read", "x", 4], ["write", "y", 1]]);
    let ok = MultiRegister
        .parse("txn", &inv, Some(&done), Outcome::Ok)
        .unwrap()
        .unwrap();
    assert_eq!(ok.to_string(), "txn [read x 4, write y 1]");
    let info = MultiRegister
        .parse("txn", &inv, Some(&inv), Outcome::Info)
        .unwrap()
        .unwrap();
    assert_eq!(info.to_string(), "txn [write y 1]");
    // A completion without a value falls back on the invocation.
    let bare = MultiRegister
        .parse("txn", &inv, Some(&Value::Null), Outcome::Ok)
        .unwrap()
        .unwrap();
    assert_eq!(bare, info);
}

#[test]
fn malformed_operations_are_errors_that_say_what_is_wrong() {
    let m = MultiRegister;
    let err = |f: &str, v: Value| m.parse(f, &v, Some(&v), Outcome::Ok).unwrap_err();
    assert!(err("read", json!(1)).contains("no operation \"read\""));
    assert!(err("txn", json!(3)).contains("list of micro-ops"));
    assert!(err("txn", json!([["append", "x", 1]])).contains("unknown micro-op \"append\""));
    assert!(err("txn", json!([["read", "x"]])).contains("micro-op 0"));
    assert!(err("txn", json!([[1, "x", 1]])).contains("f must be a string"));
    assert!(m.state_from_json(&json!(0)).unwrap_err().contains("object"));
    assert!(m.state_from_json(&json!([["x", 0]])).is_err());
}

#[test]
fn a_read_is_reachable_only_if_each_of_its_values_can_be_there() {
    let s = state(json!({"x": 0, "y": 0}));
    let read = txn(json!([["read", "x", 1], ["read", "y", 0]]));
    let reach = |between: &[Txn]| MultiRegister.reachable(&s, &read, &mut between.iter());
    assert!(!reach(&[]));
    assert!(!reach(&[txn(json!([["write", "y", 1]]))]));
    assert!(reach(&[txn(json!([["write", "y", 1], ["write", "x", 1]]))]));
    assert!(reach(&[txn(json!([["write", "x", 1]]))]));
}

#[test]
fn indeterminate_writes_nobody_reads_are_irrelevant() {
    let det = [
        txn(json!([["read", "x", 1]])),
        txn(json!([["read", "y", 3]])),
    ];
    let ind = [
        txn(json!([["write", "x", 1]])),
        txn(json!([["write", "x", 2]])),
        // Kept for y = 3; its read of z = 7 makes the write of z = 7 matter.
        txn(json!([["read", "z", 7], ["write", "y", 3]])),
        txn(json!([["write", "z", 7]])),
        txn(json!([["write", "y", 1], ["write", "x", 5]])),
    ];
    assert_eq!(
        MultiRegister.relevant_indeterminate(&ind, &det),
        [true, false, true, true, false]
    );
}

#[test]
fn explanations_name_the_micro_op_and_what_the_key_held() {
    let s = state(json!({"x": 0}));
    let t = txn(json!([["write", "y", 1], ["read", "x", 2]]));
    let e = MultiRegister.explain(&s, &t);
    assert!(e.contains("can't read x 2 (micro-op 1): x holds 0"), "{e}");
    let e = MultiRegister.explain(&MultiRegister.init(), &txn(json!([["read", "q", 1]])));
    assert!(e.contains("q holds null"), "{e}");
}

/// A history in the shape of Knossos' multi-register example: concurrent reads of both
/// registers and writes of one, over registers that start at 0.
fn knossos_like(final_read: i64) -> History {
    let events: Vec<(u64, OpType, Value)> = vec![
        (
            0,
            OpType::Invoke,
            json!([["read", "x", null], ["read", "y", null]]),
        ),
        (1, OpType::Invoke, json!([["write", "y", 2]])),
        (0, OpType::Ok, json!([["read", "x", 0], ["read", "y", 0]])),
        (2, OpType::Invoke, json!([["write", "x", 2]])),
        (1, OpType::Ok, json!([["write", "y", 2]])),
        (2, OpType::Info, json!([["write", "x", 2]])),
        (
            0,
            OpType::Invoke,
            json!([["read", "x", null], ["read", "y", null]]),
        ),
        (
            0,
            OpType::Ok,
            json!([["read", "x", final_read], ["read", "y", 2]]),
        ),
    ];
    let ops = events.into_iter().enumerate().map(|(i, (p, kind, value))| {
        Ok(Op {
            index: i as u64,
            kind,
            process: Process::Client(p),
            f: Arc::from("txn"),
            value,
            key: None,
            time: None,
            node: None,
            error: None,
            line: i as u64 + 1,
        })
    });
    History::from_ops("knossos-like", ops).expect("well formed")
}

#[test]
fn checks_histories_like_knossos_example_from_an_initial_value() {
    let zero = StartingAt::from_json(MultiRegister, &json!({"x": 0, "y": 0})).unwrap();
    let opts = Options::default();
    for (final_read, want) in [
        (0, Validity::Valid),
        (2, Validity::Valid),
        (1, Validity::Invalid),
    ] {
        let r = check(&knossos_like(final_read), &zero, &opts).unwrap();
        assert_eq!(r.valid, want, "final read of x = {final_read}");
        assert_eq!(r.model, "multi-register");
    }
    // Without the initial value the first read of 0 has no write to explain it.
    let r = check(&knossos_like(0), &MultiRegister, &opts).unwrap();
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.failures[0].summary.contains("holds null"),
        "{}",
        r.failures[0].summary
    );
}
