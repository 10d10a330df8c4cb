//! Generator tests on a simulated clock: no sleeping, deterministic for a seed.

use crate::gen::*;
use crate::sched::{simulate, SimEvent, SimOptions};
use faultline_checkers::history::OpType;
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

fn spec(f: &str) -> OpSpec {
    OpSpec::new(f, Value::Null)
}

fn ok_after(latency: u64) -> impl FnMut(&GenOp) -> (OpType, Value, u64) {
    move |o| (OpType::Ok, o.spec.value.clone(), latency)
}

fn run(gen: Gen, concurrency: usize, latency: u64) -> Vec<SimEvent> {
    simulate(
        gen,
        &SimOptions {
            concurrency,
            ..SimOptions::default()
        },
        ok_after(latency),
    )
}

fn invokes(h: &[SimEvent]) -> Vec<&SimEvent> {
    h.iter()
        .filter(|e| e.kind == Some(OpType::Invoke))
        .collect()
}

fn fs(h: &[SimEvent]) -> Vec<String> {
    invokes(h).iter().map(|e| e.f.clone()).collect()
}

fn counter() -> Gen {
    let mut i = 0;
    from_fn(move |_, _| {
        i += 1;
        Some(OpSpec::new("w", json!(i)))
    })
}

#[test]
fn once_limit_and_op() {
    assert_eq!(fs(&run(op(spec("a")), 2, MS)), ["a"]);
    assert_eq!(fs(&run(once(counter()), 2, MS)).len(), 1);
    let h = run(limit(5, counter()), 2, MS);
    let vals: Vec<_> = invokes(&h).iter().map(|e| e.value.clone()).collect();
    assert_eq!(vals, (1..=5).map(|i| json!(i)).collect::<Vec<_>>());
    // Every invocation completes.
    assert_eq!(h.len(), 10);
}

#[test]
fn one_op_per_thread_at_a_time() {
    let h = run(limit(100, counter()), 3, 5 * MS);
    let mut busy = [false; 3];
    for e in &h {
        match e.kind {
            Some(OpType::Invoke) => {
                assert!(!busy[e.thread], "thread {} double-booked", e.thread);
                busy[e.thread] = true;
            }
            Some(_) => busy[e.thread] = false,
            None => {}
        }
    }
    // With 3 threads and 5 ms per op, 100 ops take about 100/3 * 5 ms.
    let end = h.last().unwrap().time;
    assert!((165 * MS..=175 * MS).contains(&end), "{end}");
}

#[test]
fn deterministic_for_a_seed() {
    let g = || {
        rate(
            1000.0,
            limit(200, mix(vec![counter(), repeat(op(spec("r")))])),
        )
    };
    let o = |seed| SimOptions {
        concurrency: 4,
        seed,
        ..SimOptions::default()
    };
    let a = simulate(g(), &o(7), ok_after(MS));
    let b = simulate(g(), &o(7), ok_after(MS));
    let c = simulate(g(), &o(8), ok_after(MS));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn mix_uses_every_generator() {
    let h = run(
        limit(
            300,
            mix(vec![
                repeat(op(spec("a"))),
                repeat(op(spec("b"))),
                repeat(op(spec("c"))),
            ]),
        ),
        2,
        MS,
    );
    let f = fs(&h);
    assert_eq!(f.len(), 300);
    for x in ["a", "b", "c"] {
        let n = f.iter().filter(|f| *f == x).count();
        assert!((60..=140).contains(&n), "{x}: {n}");
    }
    // Exhausted children drop out; mix ends when all have.
    assert_eq!(
        fs(&run(mix(vec![op(spec("a")), op(spec("b"))]), 2, MS)).len(),
        2
    );
}

#[test]
fn stagger_rate_and_delay() {
    // 100 Hz for 10 s of simulated time: about 1000 ops, spread out.
    let h = run(time_limit(10_000 * MS, rate(100.0, counter())), 10, MS);
    let n = invokes(&h).len();
    assert!((850..=1150).contains(&n), "{n}");
    // delay: exactly 50 ms apart.
    let h = run(limit(5, delay(50 * MS, counter())), 10, MS);
    let times: Vec<_> = invokes(&h).iter().map(|e| e.time).collect();
    assert_eq!(times, [0, 50 * MS, 100 * MS, 150 * MS, 200 * MS]);
}

#[test]
fn time_limit_and_sleep() {
    let h = run(time_limit(100 * MS, delay(10 * MS, counter())), 2, MS);
    assert_eq!(invokes(&h).len(), 10);
    assert!(invokes(&h).iter().all(|e| e.time < 100 * MS));
    let h = run(concat(vec![sleep(300 * MS), op(spec("after"))]), 2, MS);
    assert_eq!(invokes(&h)[0].time, 300 * MS);
}

#[test]
fn repeat_and_cycle() {
    // repeat re-emits without advancing the inner generator.
    let h = run(repeat_n(4, counter()), 2, MS);
    assert!(invokes(&h).iter().all(|e| e.value == json!(1)));
    assert_eq!(invokes(&h).len(), 4);
    // cycle restarts the inner generator from its initial state.
    let h = run(cycle_n(3, limit(2, counter())), 2, MS);
    let vals: Vec<_> = invokes(&h).iter().map(|e| e.value.clone()).collect();
    assert_eq!(vals, [1, 2, 1, 2, 1, 2].map(|i| json!(i)));
    // A cycle of nothing ends instead of spinning.
    assert!(run(cycle(concat(vec![])), 2, MS).is_empty());
}

#[test]
fn phases_synchronize_and_then() {
    // Slow ops in phase one: phase two must wait until all of them completed.
    let h = simulate(
        phases(vec![limit(4, counter()), op(spec("final"))]),
        &SimOptions {
            concurrency: 4,
            ..SimOptions::default()
        },
        |o| {
            let lat = if o.spec.value == json!(4) {
                90 * MS
            } else {
                MS
            };
            (OpType::Ok, Value::Null, lat)
        },
    );
    let fin = h.iter().find(|e| e.f == "final").unwrap();
    assert_eq!(fin.time, 90 * MS);
    let h = run(then(op(spec("b")), op(spec("a"))), 2, MS);
    assert_eq!(fs(&h), ["a", "b"]);
}

#[test]
fn each_thread_gives_every_thread_its_copy() {
    let h = run(each_thread(limit(2, counter())), 3, MS);
    let inv = invokes(&h);
    assert_eq!(inv.len(), 6);
    for t in 0..3 {
        let vals: Vec<_> = inv
            .iter()
            .filter(|e| e.thread == t)
            .map(|e| e.value.clone())
            .collect();
        assert_eq!(vals, [json!(1), json!(2)], "thread {t}");
    }
}

#[test]
fn reserve_dedicates_threads() {
    let g = limit(
        200,
        reserve(
            vec![(2, repeat(op(spec("read"))))],
            repeat(op(spec("write"))),
        ),
    );
    let h = run(g, 5, MS);
    for e in invokes(&h) {
        assert_eq!(e.f == "read", e.thread < 2, "{e:?}");
    }
    assert!(fs(&h).iter().any(|f| f == "write"));
}

#[test]
fn clients_and_nemesis_routing() {
    let g = time_limit(
        100 * MS,
        clients_and_nemesis(
            delay(MS, repeat(op(spec("c")))),
            delay(
                20 * MS,
                flip_flop(repeat(op(spec("start"))), repeat(op(spec("stop")))),
            ),
        ),
    );
    let h = simulate(
        g,
        &SimOptions {
            concurrency: 3,
            nemesis: true,
            ..SimOptions::default()
        },
        ok_after(MS / 2),
    );
    let inv = invokes(&h);
    let nem: Vec<_> = inv
        .iter()
        .filter(|e| e.thread == 3)
        .map(|e| e.f.as_str())
        .collect();
    assert_eq!(nem, ["start", "stop", "start", "stop", "start"]);
    assert!(inv.iter().filter(|e| e.thread < 3).all(|e| e.f == "c"));
    // Without a nemesis thread the nemesis side just waits; the clients are unaffected.
    let h = run(limit(3, clients(repeat(op(spec("c"))))), 2, MS);
    assert_eq!(fs(&h).len(), 3);
}

#[test]
fn until_ok_stops_at_the_first_ok() {
    let mut n = 0;
    let h = simulate(
        until_ok(repeat(op(spec("read")))),
        &SimOptions {
            concurrency: 1,
            ..SimOptions::default()
        },
        move |_| {
            n += 1;
            (
                if n < 4 { OpType::Fail } else { OpType::Ok },
                Value::Null,
                MS,
            )
        },
    );
    assert_eq!(invokes(&h).len(), 4);
}

#[test]
fn info_retires_the_process() {
    let h = simulate(
        limit(4, counter()),
        &SimOptions {
            concurrency: 1,
            ..SimOptions::default()
        },
        |_| (OpType::Info, Value::Null, MS),
    );
    let procs: Vec<_> = invokes(&h).iter().map(|e| e.process).collect();
    assert_eq!(procs, [0, 1, 2, 3]);
    let h = simulate(
        limit(3, counter()),
        &SimOptions {
            concurrency: 5,
            ..SimOptions::default()
        },
        |_| (OpType::Info, Value::Null, 10 * MS),
    );
    // Three threads, each used once: no retirement visible yet.
    let mut procs: Vec<_> = invokes(&h).iter().map(|e| e.process).collect();
    procs.sort();
    assert!(procs.iter().all(|&p| p < 5));
}

#[test]
fn process_ids_advance_by_concurrency() {
    // Two threads, every op info: each thread's processes go t, t+2, t+4, ...
    let h = simulate(
        limit(10, counter()),
        &SimOptions {
            concurrency: 2,
            ..SimOptions::default()
        },
        |_| (OpType::Info, Value::Null, MS),
    );
    for e in invokes(&h) {
        assert_eq!(e.process % 2, e.thread as u64);
    }
}

#[test]
fn log_map_filter_and_f_map() {
    let h = run(concat(vec![log("hello"), op(spec("a"))]), 1, MS);
    assert_eq!(h[0].kind, None);
    assert_eq!(h[0].value, json!("hello"));
    let h = run(
        map(
            |mut o| {
                o.spec.value = json!("x");
                o
            },
            limit(2, counter()),
        ),
        1,
        MS,
    );
    assert!(invokes(&h).iter().all(|e| e.value == json!("x")));
    let h = run(
        filter(
            |o| o.spec.value.as_i64().unwrap() % 2 == 0,
            limit(6, counter()),
        ),
        1,
        MS,
    );
    let vals: Vec<_> = invokes(&h).iter().map(|e| e.value.clone()).collect();
    assert_eq!(vals, [json!(2), json!(4), json!(6)]);
    let table = [("a".to_string(), "b".to_string())].into_iter().collect();
    assert_eq!(fs(&run(f_map(table, op(spec("a"))), 1, MS)), ["b"]);
}

#[test]
fn any_takes_the_soonest_and_shortest_any_ends_early() {
    let h = run(
        any(vec![
            limit(2, delay(30 * MS, repeat(op(spec("slow"))))),
            limit(3, delay(10 * MS, repeat(op(spec("fast"))))),
        ]),
        4,
        MS,
    );
    let got: Vec<_> = invokes(&h)
        .iter()
        .map(|e| (e.f.clone(), e.time / MS))
        .collect();
    assert_eq!(
        got,
        [
            ("slow", 0),
            ("fast", 0),
            ("fast", 10),
            ("fast", 20),
            ("slow", 30)
        ]
        .map(|(f, t)| (f.to_string(), t))
    );
    let h = run(
        shortest_any(vec![op(spec("one")), repeat(op(spec("many")))]),
        2,
        MS,
    );
    assert!(invokes(&h).len() <= 3);
}

/// Runs a workload against a perfect in-simulation store and checks the result.
fn check_workload(kind: crate::workload::WorkloadKind) -> faultline_checkers::Validity {
    use crate::workload::{build, WorkloadOptions};
    use faultline_checkers::history::{History, Op, Process};
    use std::collections::HashMap;
    let w = build(
        kind,
        &WorkloadOptions {
            concurrency: 4,
            time_limit: 2_000 * MS,
            rate: 200.0,
            ops_per_key: 50,
            threads_per_key: 2,
            ..WorkloadOptions::default()
        },
    );
    let mut regs: HashMap<String, Value> = HashMap::new();
    let mut set = Vec::new();
    let mut counter = 0i64;
    let mut lists: HashMap<String, Vec<Value>> = HashMap::new();
    // Effects apply at invocation: with completions after, that is linearizable.
    let h = simulate(
        w.generator,
        &SimOptions {
            concurrency: 4,
            max_events: 100_000,
            ..SimOptions::default()
        },
        |o| {
            let key = o
                .spec
                .key
                .as_ref()
                .map(|k| k.to_string())
                .unwrap_or_default();
            let v = &o.spec.value;
            let (t, out) = match &*o.spec.f {
                "read" if kind == crate::workload::WorkloadKind::Set => (OpType::Ok, json!(set)),
                "read" if kind == crate::workload::WorkloadKind::Counter => {
                    (OpType::Ok, json!(counter))
                }
                "add" if kind == crate::workload::WorkloadKind::Counter => {
                    counter += v.as_i64().unwrap();
                    (OpType::Ok, v.clone())
                }
                "read" => (OpType::Ok, regs.get(&key).cloned().unwrap_or(Value::Null)),
                "write" => {
                    regs.insert(key, v.clone());
                    (OpType::Ok, v.clone())
                }
                "cas" => {
                    let cur = regs.get(&key).cloned().unwrap_or(Value::Null);
                    if cur == v[0] {
                        regs.insert(key, v[1].clone());
                        (OpType::Ok, v.clone())
                    } else {
                        (OpType::Fail, v.clone())
                    }
                }
                "add" => {
                    set.push(v.clone());
                    (OpType::Ok, v.clone())
                }
                "txn" => {
                    let mut res = Vec::new();
                    for m in v.as_array().unwrap() {
                        let k = m[1].to_string();
                        if m[0] == "r" {
                            let l = lists.get(&k).cloned();
                            res.push(json!(["r", m[1], l]));
                        } else {
                            lists.entry(k).or_default().push(m[2].clone());
                            res.push(m.clone());
                        }
                    }
                    (OpType::Ok, Value::Array(res))
                }
                f => panic!("unexpected {f}"),
            };
            (t, out, 3 * MS)
        },
    );
    let ops = h
        .iter()
        .filter(|e| e.kind.is_some())
        .enumerate()
        .map(|(i, e)| {
            Ok(Op {
                index: i as u64,
                kind: e.kind.unwrap(),
                process: Process::Client(e.process),
                f: e.f.as_str().into(),
                value: e.value.clone(),
                key: e.key.clone(),
                time: Some(e.time as i64),
                node: None,
                error: None,
                line: 0,
            })
        });
    let history = History::from_ops("sim", ops).unwrap();
    assert!(history.len() > 100, "{}", history.len());
    faultline_checkers::check::check(&w.checker, &history, &Default::default())
        .map_or(faultline_checkers::Validity::Unknown, |r| r.valid())
}

#[test]
fn workloads_pass_against_a_perfect_store() {
    use crate::workload::WorkloadKind;
    for k in WorkloadKind::ALL {
        assert_eq!(
            check_workload(k),
            faultline_checkers::Validity::Valid,
            "{k:?}"
        );
    }
}
