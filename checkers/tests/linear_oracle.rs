//! The linearizability search against a brute-force oracle on small random histories,
//! for every model, and against the simulator's histories that are valid by construction.

use faultline_checkers::history::{History, Op, OpType, Outcome, Process};
use faultline_checkers::linear::{check, Options, Tuning};
use faultline_checkers::model::*;
use faultline_checkers::sim::{simulate, SimConfig, SimModel};
use faultline_checkers::Validity;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;

/// One operation as the oracle sees it.
struct OracleOp<M: Model> {
    call: usize,
    /// `None` for an operation whose outcome is unknown: it may be left out.
    ret: Option<usize>,
    op: M::Op,
}

/// Tries every order of the operations that respects real time, every subset of the
/// indeterminate ones, and asks the model. Exponential, fine for a handful of operations.
fn oracle<M: Model>(model: &M, h: &History) -> bool {
    let mut ops: Vec<OracleOp<M>> = Vec::new();
    for o in h.operations() {
        if o.outcome == Outcome::Fail {
            continue;
        }
        let parsed = model
            .parse(
                &o.f,
                o.invoke_value(&h.ops),
                o.result_value(&h.ops),
                o.outcome,
            )
            .expect("generated operations parse");
        if let Some(op) = parsed {
            let ret = if o.outcome == Outcome::Ok {
                o.complete
            } else {
                None
            };
            ops.push(OracleOp {
                call: o.invoke,
                ret,
                op,
            });
        }
    }
    let mut done = vec![false; ops.len()];
    search(model, &ops, &mut done, model.init())
}

fn search<M: Model>(model: &M, ops: &[OracleOp<M>], done: &mut [bool], state: M::State) -> bool {
    if ops
        .iter()
        .zip(done.iter())
        .all(|(o, d)| *d || o.ret.is_none())
    {
        return true;
    }
    for i in 0..ops.len() {
        if done[i] {
            continue;
        }
        // Nothing still to place may have returned before this one was called.
        let blocked = ops
            .iter()
            .zip(done.iter())
            .any(|(o, d)| !*d && o.ret.is_some_and(|r| r < ops[i].call));
        if blocked {
            continue;
        }
        let mut next = Vec::new();
        model.step(&state, &ops[i].op, &mut next);
        for s in next {
            done[i] = true;
            let ok = search(model, ops, done, s);
            done[i] = false;
            if ok {
                return true;
            }
        }
    }
    false
}

/// What a random history step does.
#[derive(Debug, Clone)]
enum Action {
    /// Process slot `p` invokes operation kind `k` with argument `v`.
    Invoke { p: usize, k: usize, v: i64 },
    /// The open operation of process slot `p` completes: 0..=5 ok, 6 info, 7 fail.
    Complete { p: usize, how: u8, result: i64 },
}

fn actions() -> impl Strategy<Value = Vec<Action>> {
    let a = prop_oneof![
        (0..3usize, 0..3usize, 0..3i64).prop_map(|(p, k, v)| Action::Invoke { p, k, v }),
        (0..3usize, 0..8u8, -1..3i64).prop_map(|(p, how, result)| Action::Complete {
            p,
            how,
            result
        }),
    ];
    prop::collection::vec(a, 1..18)
}

/// Builds a well-formed history: `mk(kind, arg)` gives (f, invoke value) and
/// `result(kind, arg, r)` the value an ok completion returns.
fn build(
    actions: &[Action],
    mk: impl Fn(usize, i64) -> (&'static str, Value),
    result: impl Fn(usize, i64, i64) -> Value,
) -> History {
    let mut ops: Vec<Op> = Vec::new();
    // Per slot: the current process id and its open operation (kind, arg).
    let mut proc_id = [0u64, 1, 2];
    let mut open: [Option<(usize, i64)>; 3] = [None; 3];
    let mut ops_count = 0;
    for a in actions {
        let (p, kind, f, value, pid) = match *a {
            Action::Invoke { p, k, v } if open[p].is_none() && ops_count < 7 => {
                open[p] = Some((k, v));
                ops_count += 1;
                let (f, value) = mk(k, v);
                (p, OpType::Invoke, f, value, proc_id[p])
            }
            Action::Complete { p, how, result: r } => {
                let Some((k, v)) = open[p].take() else {
                    continue;
                };
                let (f, inv) = mk(k, v);
                let pid = proc_id[p];
                match how {
                    0..=5 => (p, OpType::Ok, f, result(k, v, r), pid),
                    6 => {
                        proc_id[p] += 3;
                        (p, OpType::Info, f, inv, pid)
                    }
                    _ => (p, OpType::Fail, f, inv, pid),
                }
            }
            _ => continue,
        };
        let _ = p;
        ops.push(Op {
            index: ops.len() as u64,
            kind,
            process: Process::Client(pid),
            f: Arc::from(f),
            value,
            key: None,
            time: None,
            node: None,
            error: None,
            line: ops.len() as u64 + 1,
        });
    }
    History::from_ops("generated", ops.into_iter().map(Ok)).expect("well-formed by construction")
}

/// The production search, and the same search with the doomed-read rule from the first
/// configuration (small histories are decided before it would start), both agree with
/// the oracle.
fn agree<M: Model>(model: &M, h: &History) -> Result<(), TestCaseError> {
    let want = oracle(model, h);
    let eager = Options {
        tuning: Tuning {
            doomed_reads_after: 1,
        },
        ..Options::default()
    };
    for opts in [Options::default(), eager] {
        let got = check(h, model, &opts).expect("checkable").valid;
        let lines: Vec<String> = h.ops.iter().map(|o| o.to_json_line()).collect();
        prop_assert_eq!(
            got,
            if want {
                Validity::Valid
            } else {
                Validity::Invalid
            },
            "{} history ({:?}):\n{}",
            model.name(),
            opts.tuning,
            lines.join("\n")
        );
    }
    Ok(())
}

fn null_or(r: i64) -> Value {
    if r < 0 {
        Value::Null
    } else {
        json!(r)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn cas_register_agrees_with_oracle(acts in actions()) {
        let h = build(
            &acts,
            |k, v| match k {
                0 => ("read", Value::Null),
                1 => ("write", json!(v)),
                _ => ("cas", json!([v, (v + 1) % 3])),
            },
            |k, v, r| match k {
                0 => null_or(r),
                1 => json!(v),
                _ => json!([v, (v + 1) % 3]),
            },
        );
        agree(&CasRegister, &h)?;
        // The same history without cas is a plain register history.
        if !h.ops.iter().any(|o| &*o.f == "cas") {
            agree(&Register, &h)?;
        }
    }

    #[test]
    fn kv_agrees_with_oracle(acts in actions()) {
        let h = build(
            &acts,
            |k, v| match k {
                0 => ("get", Value::Null),
                1 => ("put", json!(v.to_string())),
                _ => ("append", json!(v.to_string())),
            },
            |k, v, r| match k {
                // Reads return short strings of digits, often what appends made.
                0 => json!(if r < 0 { String::new() } else { format!("{}{}", v, r) }),
                _ => json!(v.to_string()),
            },
        );
        agree(&Kv, &h)?;
    }

    #[test]
    fn set_agrees_with_oracle(acts in actions()) {
        let h = build(
            &acts,
            |k, v| if k == 0 { ("read", Value::Null) } else { ("add", json!(v)) },
            |k, v, r| {
                if k == 0 {
                    let mut els: Vec<i64> = (0..=r.max(-1)).filter(|e| (e + v) % 2 == 0).collect();
                    els.dedup();
                    json!(els)
                } else {
                    json!(v)
                }
            },
        );
        agree(&Set, &h)?;
    }

    #[test]
    fn queues_agree_with_oracle(acts in actions()) {
        let h = build(
            &acts,
            |k, v| if k == 0 { ("dequeue", Value::Null) } else { ("enqueue", json!(v)) },
            |k, v, r| if k == 0 { json!(r.max(0)) } else { json!(v) },
        );
        agree(&FifoQueue, &h)?;
        agree(&UnorderedQueue, &h)?;
    }

    #[test]
    fn multi_register_agrees_with_oracle(acts in actions(), from_zero in any::<bool>()) {
        let h = multi_register_history(&acts);
        if from_zero {
            let m = StartingAt::from_json(MultiRegister, &json!({"x": 0, "y": 0})).unwrap();
            agree(&m, &h)?;
        } else {
            agree(&MultiRegister, &h)?;
        }
    }

    #[test]
    fn registers_from_an_initial_value_agree_with_oracle(acts in actions()) {
        let h = build(
            &acts,
            |k, v| match k {
                0 => ("read", Value::Null),
                1 => ("write", json!(v)),
                _ => ("cas", json!([v, (v + 1) % 3])),
            },
            |k, v, r| match k {
                0 => null_or(r),
                1 => json!(v),
                _ => json!([v, (v + 1) % 3]),
            },
        );
        agree(&StartingAt::from_json(CasRegister, &json!(0)).unwrap(), &h)?;
    }

    #[test]
    fn mutex_agrees_with_oracle(acts in actions()) {
        let h = build(
            &acts,
            |k, _| if k == 0 { ("acquire", Value::Null) } else { ("release", Value::Null) },
            |_, _, _| Value::Null,
        );
        agree(&Mutex, &h)?;
    }
}

/// Knossos-style multi-register transactions over keys x and y: reads of both (some
/// unobserved, `nil`), blind writes in the short micro-op names, and a read of y that
/// writes both keys.
fn multi_register_history(acts: &[Action]) -> History {
    let nil_or = |r: i64| if r < 0 { Value::Null } else { json!(r) };
    build(
        acts,
        |k, v| match k {
            0 => ("txn", json!([["read", "x", null], ["read", "y", null]])),
            1 => ("txn", json!([["w", "x", v]])),
            _ => (
                "txn",
                json!([
                    ["read", "y", null],
                    ["write", "y", v],
                    ["write", "x", (v + 1) % 3]
                ]),
            ),
        },
        move |k, v, r| match k {
            0 => json!([["read", "x", nil_or(r)], ["r", "y", nil_or((r + v) % 3)]]),
            1 => json!([["w", "x", v]]),
            _ => json!([
                ["read", "y", nil_or(r)],
                ["write", "y", v],
                ["write", "x", (v + 1) % 3]
            ]),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Simulated stores are linearizable by construction, indeterminate operations and
    /// failures included: the checker must never call them invalid.
    #[test]
    fn simulated_linearizable_histories_are_valid(
        seed in 0u64..1_000_000,
        clients in 1usize..12,
        info in 0.0f64..0.1,
        values in 0u64..6,
        kv in any::<bool>(),
    ) {
        let cfg = SimConfig {
            model: if kv { SimModel::Kv } else { SimModel::CasRegister },
            ops: 300,
            clients,
            keys: if kv { 3 } else { 1 },
            values,
            info_rate: info,
            fail_rate: 0.05,
            stale_read_prob: 0.0,
            seed,
        };
        let h = simulate(&cfg);
        let r = if kv {
            check(&h, &Kv, &Options::default())
        } else {
            check(&h, &CasRegister, &Options::default())
        }
        .unwrap();
        prop_assert_eq!(r.valid, Validity::Valid, "{:?}: {:?}", cfg, r.failures.first().map(|f| &f.summary));
    }
}

/// The generated histories are worth testing against: both verdicts are common.
#[test]
fn generated_histories_cover_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..500 {
        let acts = actions().new_tree(&mut runner).unwrap().current();
        let h = build(
            &acts,
            |k, v| match k {
                0 => ("read", Value::Null),
                1 => ("write", json!(v)),
                _ => ("cas", json!([v, (v + 1) % 3])),
            },
            |k, v, r| match k {
                0 => null_or(r),
                1 => json!(v),
                _ => json!([v, (v + 1) % 3]),
            },
        );
        if oracle(&CasRegister, &h) {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid > 50 && invalid > 50,
        "valid {valid}, invalid {invalid}"
    );
}

/// The multi-register histories are worth testing against too.
#[test]
fn generated_multi_register_histories_cover_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]),
    );
    let zero = StartingAt::from_json(MultiRegister, &json!({"x": 0, "y": 0})).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..500 {
        let acts = actions().new_tree(&mut runner).unwrap().current();
        let h = multi_register_history(&acts);
        for ok in [oracle(&MultiRegister, &h), oracle(&zero, &h)] {
            if ok {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
    }
    assert!(
        valid > 100 && invalid > 100,
        "valid {valid}, invalid {invalid}"
    );
}
