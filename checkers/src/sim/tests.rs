use super::*;
use crate::history::edn::{read_edn, write_edn};
use crate::history::{read_jsonl, write_jsonl, Outcome};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

fn cfg(model: SimModel) -> SimConfig {
    SimConfig {
        model,
        ..SimConfig::default()
    }
}

fn valid(h: &History) -> Result<(), String> {
    History::from_ops("sim", h.ops.iter().cloned().map(Ok))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn initial(model: SimModel) -> Value {
    match model {
        SimModel::Kv => Value::from(""),
        _ => Value::Null,
    }
}

/// The state after `f` with argument `arg` on `state`, if `f` can take effect there and,
/// for a read, see `result`.
fn step(state: &Value, f: &str, arg: &Value, result: Option<&Value>) -> Option<Value> {
    match f {
        "read" | "get" => (result == Some(state)).then(|| state.clone()),
        "write" | "put" => Some(arg.clone()),
        "append" => Some(Value::from(format!("{}{}", state.as_str()?, arg.as_str()?))),
        "cas" => (arg.get(0)? == state).then(|| arg[1].clone()),
        other => panic!("unexpected f {other}"),
    }
}

struct Entry {
    f: Arc<str>,
    arg: Value,
    result: Option<Value>,
    call: usize,
    /// `usize::MAX` for an info op: it may take effect any time after `call`, or never.
    ret: usize,
}

/// A brute-force linearizability check with Knossos's semantics (fail ops never happened),
/// key by key, for histories of up to 64 operations per key.
fn linearizable(model: SimModel, h: &History) -> bool {
    let mut by_key: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for o in h.operations() {
        let key = o.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
        let entry = match o.outcome {
            Outcome::Fail => continue,
            Outcome::Info if matches!(&*o.f, "read" | "get") => continue,
            Outcome::Info => Entry {
                f: o.f.clone(),
                arg: o.invoke_value(&h.ops).clone(),
                result: None,
                call: o.invoke,
                ret: usize::MAX,
            },
            Outcome::Ok => Entry {
                f: o.f.clone(),
                arg: o.invoke_value(&h.ops).clone(),
                result: o.result_value(&h.ops).cloned(),
                call: o.invoke,
                ret: o.complete.expect("ok ops complete"),
            },
        };
        by_key.entry(key).or_default().push(entry);
    }
    by_key.values().all(|entries| {
        assert!(
            entries.len() <= 64,
            "too many ops for the brute-force check"
        );
        search(entries, 0, initial(model), &mut HashSet::new())
    })
}

fn search(entries: &[Entry], done: u64, state: Value, seen: &mut HashSet<(u64, String)>) -> bool {
    let open = |i: usize| done & (1 << i) == 0;
    let required = (0..entries.len()).filter(|&i| open(i) && entries[i].ret != usize::MAX);
    let Some(first_return) = required.map(|i| entries[i].ret).min() else {
        return true;
    };
    if !seen.insert((done, state.to_string())) {
        return false;
    }
    (0..entries.len())
        .filter(|&i| open(i) && entries[i].call < first_return)
        .any(|i| {
            let e = &entries[i];
            step(&state, &e.f, &e.arg, e.result.as_ref())
                .is_some_and(|next| search(entries, done | (1 << i), next, seen))
        })
}

#[test]
fn same_seed_same_history() {
    for model in [SimModel::Register, SimModel::CasRegister, SimModel::Kv] {
        let c = SimConfig {
            info_rate: 0.1,
            fail_rate: 0.1,
            stale_read_prob: 0.2,
            keys: 3,
            seed: 42,
            ..cfg(model)
        };
        let a = simulate(&c);
        assert_eq!(a.ops, simulate(&c).ops);
        let other = simulate(&SimConfig { seed: 43, ..c });
        assert_ne!(a.ops, other.ops);
    }
}

#[test]
fn event_structure() {
    let c = SimConfig {
        ops: 3000,
        clients: 7,
        info_rate: 0.05,
        fail_rate: 0.05,
        ..cfg(SimModel::CasRegister)
    };
    let h = simulate(&c);
    valid(&h).unwrap();
    assert_eq!(h.len(), 6000);
    let operations = h.operations();
    assert_eq!(operations.len(), 3000);
    assert!(operations.iter().all(|o| o.complete.is_some()));
    let times: Vec<i64> = h.ops.iter().map(|o| o.time.expect("time")).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
    assert!(times[0] > 0);
    // Worker w runs processes w, w + 7, w + 14, ...: a new one after each info.
    let mut next_process: Vec<u64> = (0..7).collect();
    for o in &operations {
        let worker = (o.process % 7) as usize;
        assert_eq!(o.process, next_process[worker]);
        if o.outcome == Outcome::Info {
            next_process[worker] += 7;
        }
    }
    assert!(next_process.iter().any(|&p| p >= 7), "some info ops");
    // At most `clients` operations open at once.
    let mut open = 0usize;
    for op in &h.ops {
        if op.kind == OpType::Invoke {
            open += 1;
            assert!(open <= 7);
        } else {
            open -= 1;
        }
    }
}

#[test]
fn rates_are_roughly_as_configured() {
    let c = SimConfig {
        ops: 20_000,
        info_rate: 0.1,
        fail_rate: 0.05,
        ..cfg(SimModel::Register)
    };
    let operations = simulate(&c).operations();
    let share =
        |outcome| operations.iter().filter(|o| o.outcome == outcome).count() as f64 / 20_000.0;
    assert!(
        (0.09..0.11).contains(&share(Outcome::Info)),
        "{}",
        share(Outcome::Info)
    );
    assert!(
        (0.04..0.06).contains(&share(Outcome::Fail)),
        "{}",
        share(Outcome::Fail)
    );
    // Without failures configured, a plain register never fails.
    let clean = simulate(&SimConfig {
        info_rate: 0.0,
        fail_rate: 0.0,
        ..c
    });
    assert!(clean
        .ops
        .iter()
        .all(|o| o.kind != OpType::Fail && o.kind != OpType::Info));
}

/// One client: the history is sequential, so replaying it on the model checks every result.
/// Returns how many reads disagreed with the model.
fn replay_sequential(model: SimModel, h: &History) -> usize {
    let mut state: BTreeMap<String, Value> = BTreeMap::new();
    let mut stale = 0;
    for o in h.operations() {
        let key = o.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
        let current = state.entry(key).or_insert_with(|| initial(model));
        let arg = o.invoke_value(&h.ops);
        let result = o.result_value(&h.ops).expect("completed");
        match (&*o.f, o.outcome) {
            ("read" | "get", Outcome::Ok) => stale += usize::from(result != current),
            ("cas", Outcome::Ok) => {
                assert_eq!(arg[0], *current, "cas ok only when old matches");
                *current = arg[1].clone();
            }
            ("cas", Outcome::Fail) => assert_ne!(arg[0], *current, "cas fails on mismatch"),
            (f, Outcome::Ok) => *current = step(current, f, arg, None).expect("a write"),
            (f, outcome) => panic!("unexpected {f} {outcome:?} without failures configured"),
        }
    }
    stale
}

#[test]
fn sequential_histories_follow_the_model() {
    for model in [SimModel::Register, SimModel::CasRegister, SimModel::Kv] {
        for values in [0, 3] {
            let c = SimConfig {
                ops: 2000,
                clients: 1,
                keys: 3,
                values,
                ..cfg(model)
            };
            let h = simulate(&c);
            valid(&h).unwrap();
            assert_eq!(replay_sequential(model, &h), 0, "{model:?}");
            if model == SimModel::CasRegister {
                let cas = |outcome| {
                    h.operations()
                        .iter()
                        .filter(|o| &*o.f == "cas" && o.outcome == outcome)
                        .count()
                };
                assert!(
                    cas(Outcome::Ok) > 50 && cas(Outcome::Fail) > 50,
                    "both cas outcomes"
                );
            }
        }
    }
}

#[test]
fn stale_reads_return_old_values() {
    for model in [SimModel::Register, SimModel::CasRegister, SimModel::Kv] {
        let c = SimConfig {
            ops: 2000,
            clients: 1,
            values: 0,
            stale_read_prob: 1.0,
            ..cfg(model)
        };
        let h = simulate(&c);
        valid(&h).unwrap();
        let reads = h
            .operations()
            .iter()
            .filter(|o| matches!(&*o.f, "read" | "get"))
            .count();
        // Every read but those before the first write is stale.
        let stale = replay_sequential(model, &h);
        assert!(stale > reads * 9 / 10, "{model:?}: {stale} of {reads}");
    }
}

#[test]
fn keys_and_value_shapes() {
    let single = simulate(&SimConfig {
        keys: 1,
        ..cfg(SimModel::Register)
    });
    assert!(single.ops.iter().all(|o| o.key.is_none()));
    let keyed = simulate(&SimConfig {
        keys: 4,
        ..cfg(SimModel::CasRegister)
    });
    let keys: HashSet<u64> = keyed
        .ops
        .iter()
        .map(|o| o.key.as_ref().and_then(Value::as_u64).expect("integer key"))
        .collect();
    assert_eq!(keys, (0..4).collect());
    for o in keyed.ops.iter().filter(|o| &*o.f == "cas") {
        assert!(matches!(&o.value, Value::Array(p) if p.len() == 2 && p[0].is_u64()));
    }
    let kv = simulate(&SimConfig {
        keys: 1,
        ..cfg(SimModel::Kv)
    });
    for o in &kv.ops {
        assert_eq!(o.key, Some(Value::from("0")));
        let f = &*o.f;
        assert!(["get", "put", "append"].contains(&f));
        if !(f == "get" && o.kind == OpType::Invoke) {
            assert!(o.value.is_string(), "{o:?}");
        }
    }
    // Unique values: no value is written twice.
    let unique = simulate(&SimConfig {
        values: 0,
        ..cfg(SimModel::Register)
    });
    let writes: Vec<&Value> = unique
        .ops
        .iter()
        .filter(|o| &*o.f == "write" && o.kind == OpType::Invoke)
        .map(|o| &o.value)
        .collect();
    let distinct: HashSet<String> = writes.iter().map(|v| v.to_string()).collect();
    assert_eq!(distinct.len(), writes.len());
}

#[test]
fn odd_configs_do_not_panic() {
    let h = simulate(&SimConfig {
        ops: 0,
        ..SimConfig::default()
    });
    assert!(h.is_empty());
    let h = simulate(&SimConfig {
        ops: 50,
        clients: 0,
        keys: 0,
        info_rate: f64::NAN,
        fail_rate: 7.0,
        stale_read_prob: -1.0,
        ..SimConfig::default()
    });
    valid(&h).unwrap();
    assert_eq!(h.len(), 100);
    assert!(
        h.ops.iter().all(|o| o.kind != OpType::Ok),
        "fail_rate 7 means all fail"
    );
}

#[test]
fn simulated_histories_round_trip_through_files() {
    for (model, keys) in [
        (SimModel::Register, 1),
        (SimModel::CasRegister, 3),
        (SimModel::Kv, 5),
    ] {
        let h = simulate(&SimConfig {
            ops: 500,
            keys,
            info_rate: 0.05,
            fail_rate: 0.05,
            ..cfg(model)
        });
        let mut jsonl = Vec::new();
        write_jsonl(&h, &mut jsonl).unwrap();
        let back = read_jsonl(&jsonl[..], "sim.jsonl").unwrap();
        let strip = |ops: &[Op]| -> Vec<Op> {
            ops.iter()
                .map(|o| Op {
                    line: 0,
                    ..o.clone()
                })
                .collect()
        };
        assert_eq!(strip(&back.ops), h.ops);
        let mut edn = Vec::new();
        write_edn(&h, &mut edn).unwrap();
        let back = read_edn(std::str::from_utf8(&edn).unwrap(), Path::new("sim.edn")).unwrap();
        assert_eq!(strip(&back.ops), h.ops, "{model:?}");
    }
}

#[test]
fn brute_force_checker_catches_a_stale_read() {
    // Guards the checker the properties below rely on: it must be able to say no.
    let text = "{:type :invoke, :process 0, :f :write, :value 1}
{:type :ok, :process 0, :f :write, :value 1}
{:type :invoke, :process 0, :f :write, :value 2}
{:type :ok, :process 0, :f :write, :value 2}
{:type :invoke, :process 1, :f :read, :value nil}
{:type :ok, :process 1, :f :read, :value 1}";
    let h = read_edn(text, Path::new("t.edn")).unwrap();
    assert!(!linearizable(SimModel::Register, &h));
    let fixed = text.replace(":read, :value 1}", ":read, :value 2}");
    let h = read_edn(&fixed, Path::new("t.edn")).unwrap();
    assert!(linearizable(SimModel::Register, &h));
}

#[test]
fn stale_reads_make_histories_not_linearizable() {
    for model in [SimModel::Register, SimModel::CasRegister, SimModel::Kv] {
        let bad = (0..40)
            .filter(|&seed| {
                let h = simulate(&SimConfig {
                    ops: 16,
                    clients: 3,
                    values: 0,
                    stale_read_prob: 1.0,
                    seed,
                    ..cfg(model)
                });
                !linearizable(model, &h)
            })
            .count();
        assert!(bad >= 30, "{model:?}: only {bad} of 40 not linearizable");
    }
}

fn model() -> impl Strategy<Value = SimModel> {
    prop_oneof![
        Just(SimModel::Register),
        Just(SimModel::CasRegister),
        Just(SimModel::Kv)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn histories_without_stale_reads_are_linearizable(
        model in model(),
        seed in any::<u64>(),
        clients in 1usize..5,
        keys in 1usize..3,
        values in 0u64..4,
        info_rate in 0.0f64..0.3,
        fail_rate in 0.0f64..0.2,
    ) {
        let c = SimConfig {
            model, ops: 18, clients, keys, values, info_rate, fail_rate,
            stale_read_prob: 0.0, seed,
        };
        let h = simulate(&c);
        prop_assert!(valid(&h).is_ok(), "{:?}", valid(&h));
        prop_assert!(linearizable(model, &h), "{:?}", c);
    }

    #[test]
    fn larger_histories_are_valid(
        model in model(),
        seed in any::<u64>(),
        clients in 1usize..20,
        keys in 1usize..6,
        info_rate in 0.0f64..0.5,
        fail_rate in 0.0f64..0.5,
        stale_read_prob in 0.0f64..1.0,
    ) {
        let c = SimConfig {
            model, ops: 400, clients, keys, values: 5, info_rate, fail_rate,
            stale_read_prob, seed,
        };
        let h = simulate(&c);
        prop_assert!(valid(&h).is_ok(), "{:?}", valid(&h));
        prop_assert_eq!(h.len(), 800);
    }
}
