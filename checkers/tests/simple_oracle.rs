//! The simple checkers (counter, total-queue, unique-ids, bank) against oracles written
//! straight from their definitions, pairwise and by brute force, on small random
//! histories with every outcome (ok, fail, info, never completed).

use faultline_checkers::history::{read_jsonl, History, Outcome};
use faultline_checkers::simple::{bank, counter, queue, unique_ids};
use faultline_checkers::Validity;
use proptest::prelude::*;
use serde_json::{json, Value};

/// One step of a random history: the slot (a client thread) acts; `a`, `b` are small
/// numbers that become the value.
#[derive(Debug, Clone)]
struct Step {
    slot: usize,
    r: u8,
    a: i64,
    b: i64,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..3usize, any::<u8>(), -1..5i64, -1..5i64).prop_map(|(slot, r, a, b)| Step {
            slot,
            r,
            a,
            b,
        }),
        0..28,
    )
}

/// Turns steps into a well-formed history: an idle slot invokes one of `fs` (with
/// `invoke_value`), an open one completes ok, fail or info (with `ok_value` for an ok).
/// After info the slot continues as a new process, as Jepsen's do.
fn build(
    steps: &[Step],
    fs: &[&str],
    invoke_value: impl Fn(&str, &Step) -> Value,
    ok_value: impl Fn(&str, &Value, &Step) -> Value,
) -> History {
    let mut process = [0u64, 1, 2];
    let mut next = 3;
    let mut open: [Option<(String, Value)>; 3] = [None, None, None];
    let mut lines = Vec::new();
    let mut ev = |p: u64, t: &str, f: &str, v: &Value| {
        let i = lines.len();
        lines.push(json!({"index": i, "type": t, "process": p, "f": f, "value": v}).to_string());
    };
    for s in steps {
        let p = process[s.slot];
        match open[s.slot].take() {
            None => {
                let f = fs[s.r as usize % fs.len()];
                let v = invoke_value(f, s);
                ev(p, "invoke", f, &v);
                open[s.slot] = Some((f.to_string(), v));
            }
            Some((f, v)) => match s.r % 3 {
                0 => ev(p, "ok", &f, &ok_value(&f, &v, s)),
                1 => ev(p, "fail", &f, &v),
                _ => {
                    ev(p, "info", &f, &v);
                    process[s.slot] = next;
                    next += 1;
                }
            },
        }
    }
    let text = lines.join("\n");
    read_jsonl(text.as_bytes(), "random.jsonl").expect("a well-formed random history")
}

/// Every operation: (f, invocation index, completion index, outcome, invoke value,
/// completion value).
fn ops(h: &History) -> Vec<(String, usize, Option<usize>, Outcome, Value, Value)> {
    h.operations()
        .iter()
        .map(|o| {
            (
                o.f.to_string(),
                o.invoke,
                o.complete,
                o.outcome,
                o.invoke_value(&h.ops).clone(),
                o.result_value(&h.ops).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

fn verdict(ok: bool) -> Validity {
    if ok {
        Validity::Valid
    } else {
        Validity::Invalid
    }
}

/// Removes one occurrence of each of `take` from `from`, where present.
fn bag_minus(from: &[Value], take: &[Value]) -> Vec<Value> {
    let mut rest = from.to_vec();
    for t in take {
        if let Some(i) = rest.iter().position(|r| r == t) {
            rest.remove(i);
        }
    }
    rest
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// For each ok read, by definition: every ok add completed before it was invoked
    /// counts for the lower bound, every ok or info add invoked before it completed for
    /// the upper; the read is bad outside them.
    #[test]
    fn counter_matches_its_definition(s in steps()) {
        let h = build(
            &s,
            &["add", "read"],
            |f, s| if f == "add" { json!(s.a.max(0)) } else { Value::Null },
            |f, v, s| if f == "add" { v.clone() } else { json!(s.a + s.b) },
        );
        let all = ops(&h);
        let mut bad = Vec::new();
        for (f, ri, rc, out, _, rv) in &all {
            if f != "read" || *out != Outcome::Ok {
                continue;
            }
            let rc = rc.unwrap();
            let lower: i64 = all
                .iter()
                .filter(|(f, _, c, o, _, _)| f == "add" && *o == Outcome::Ok && c.unwrap() < *ri)
                .map(|a| a.4.as_i64().unwrap())
                .sum();
            let upper: i64 = all
                .iter()
                .filter(|(f, i, _, o, _, _)| f == "add" && *o != Outcome::Fail && *i < rc)
                .map(|a| a.4.as_i64().unwrap())
                .sum();
            let v = rv.as_i64().unwrap();
            if v < lower || v > upper {
                bad.push((h.ops[rc].index, v as i128, lower as i128, upper as i128));
            }
        }
        // The checker lists bad reads in the order they completed.
        bad.sort();
        let r = counter::check_counter(&h).unwrap();
        let got: Vec<_> = r.errors.iter().map(|b| (b.index, b.value, b.lower, b.upper)).collect();
        prop_assert_eq!(got, bad.clone());
        prop_assert_eq!(r.valid, verdict(bad.is_empty()));
        prop_assert_eq!(r.explanation.is_some(), !bad.is_empty());
    }

    /// Lost: acknowledged enqueues left after striking out each value that came out;
    /// unexpected: values out that were never attempted; duplicated: values out beyond
    /// their attempts.
    #[test]
    fn total_queue_matches_its_definition(s in steps()) {
        let h = build(
            &s,
            &["enqueue", "enqueue", "dequeue", "drain"],
            |f, s| if f == "enqueue" { json!(s.a) } else { Value::Null },
            |f, v, s| match f {
                "enqueue" => v.clone(),
                "dequeue" if s.a < 0 => Value::Null,
                "dequeue" => json!(s.a),
                _ => json!([s.a, s.b]),
            },
        );
        let all = ops(&h);
        let enq = |want: &dyn Fn(Outcome) -> bool| -> Vec<Value> {
            all.iter()
                .filter(|o| o.0 == "enqueue" && want(o.3))
                .map(|o| o.4.clone())
                .collect()
        };
        let attempts = enq(&|o| o != Outcome::Fail);
        let acked = enq(&|o| o == Outcome::Ok);
        let mut out = Vec::new();
        for o in all.iter().filter(|o| o.3 == Outcome::Ok) {
            match o.0.as_str() {
                "dequeue" if !o.5.is_null() => out.push(o.5.clone()),
                "drain" => out.extend(o.5.as_array().unwrap().iter().cloned()),
                _ => {}
            }
        }
        let lost = bag_minus(&acked, &out);
        let unexpected: Vec<Value> = out.iter().filter(|v| !attempts.contains(v)).cloned().collect();
        let duplicated = bag_minus(&bag_minus(&out, &attempts), &unexpected);
        let r = queue::check_total_queue(&h).unwrap();
        prop_assert_eq!(r.lost_count, lost.len());
        prop_assert_eq!(r.unexpected_count, unexpected.len());
        prop_assert_eq!(r.duplicated_count, duplicated.len());
        prop_assert_eq!((r.attempt_count, r.acknowledged_count, r.ok_count), (attempts.len(), acked.len(), out.len()));
        for v in &r.lost {
            prop_assert!(lost.contains(v));
        }
        prop_assert_eq!(r.valid, verdict(lost.is_empty() && unexpected.is_empty()));
    }

    /// Pairwise: an id is duplicated when another ok generate returned it too.
    #[test]
    fn unique_ids_matches_its_definition(s in steps()) {
        let h = build(&s, &["generate"], |_, _| Value::Null, |_, _, s| json!(s.a * 5 + s.b));
        let ids: Vec<Value> = ops(&h)
            .into_iter()
            .filter(|o| o.3 == Outcome::Ok)
            .map(|o| o.5)
            .collect();
        let mut dup: Vec<&Value> = Vec::new();
        for (i, a) in ids.iter().enumerate() {
            if ids.iter().enumerate().any(|(j, b)| i != j && a == b) && !dup.contains(&a) {
                dup.push(a);
            }
        }
        let r = unique_ids::check_unique_ids(&h);
        prop_assert_eq!(r.duplicated_count, dup.len());
        prop_assert_eq!(r.acknowledged_count, ids.len());
        prop_assert_eq!(r.valid, verdict(dup.is_empty()));
        for d in &r.duplicated {
            prop_assert_eq!(d.count, ids.iter().filter(|i| **i == d.id).count());
        }
    }

    /// Every ok read sums to the total (given, or the first read's) and has no negative
    /// balance.
    #[test]
    fn bank_matches_its_definition(s in steps(), given in prop::option::of(0..8i64)) {
        let h = build(
            &s,
            &["transfer", "read", "read"],
            |f, s| if f == "transfer" { json!({"from": "x", "to": "y", "amount": s.a}) } else { Value::Null },
            |f, v, s| if f == "read" { json!({"x": s.a, "y": s.b}) } else { v.clone() },
        );
        let reads: Vec<(i64, i64)> = ops(&h)
            .into_iter()
            .filter(|o| o.0 == "read" && o.3 == Outcome::Ok)
            .map(|o| (o.5["x"].as_i64().unwrap(), o.5["y"].as_i64().unwrap()))
            .collect();
        let total = given.or(reads.first().map(|(x, y)| x + y));
        let wrong = reads.iter().filter(|(x, y)| Some(x + y) != total).count();
        let negative = reads.iter().filter(|(x, y)| *x < 0 || *y < 0).count();
        let r = bank::check_bank(&h, given.map(i128::from)).unwrap();
        prop_assert_eq!((r.read_count, r.wrong_total_count, r.negative_count), (reads.len(), wrong, negative));
        prop_assert_eq!(r.expected_total, total.map(i128::from));
        prop_assert_eq!(r.valid, verdict(wrong + negative == 0));
    }
}

/// A real counter, each operation taking effect at one moment between its invocation and
/// its completion (or, for info, perhaps never; a fail never): the checker must never
/// find a fault in it. Independent of the bounds the checker computes.
fn true_counter_history(steps: &[Step]) -> History {
    let mut counter = 0i64;
    let mut process = [0u64, 1, 2];
    let mut next = 3;
    // Per slot: the open operation (f, amount, applied, the value read).
    let mut open: [Option<(&str, i64, bool, i64)>; 3] = [None; 3];
    let mut lines = Vec::new();
    let mut ev = |p: u64, t: &str, f: &str, v: Value| {
        let i = lines.len();
        lines.push(json!({"index": i, "type": t, "process": p, "f": f, "value": v}).to_string());
    };
    for s in steps {
        let p = process[s.slot];
        match open[s.slot] {
            None => {
                let (f, v) = if s.r % 2 == 0 {
                    ("add", json!(s.a.max(0)))
                } else {
                    ("read", Value::Null)
                };
                ev(p, "invoke", f, v);
                open[s.slot] = Some((f, s.a.max(0), false, 0));
            }
            Some((f, amount, false, _)) if s.r % 4 != 0 => {
                // Takes effect now, silently.
                if f == "add" {
                    counter += amount;
                }
                open[s.slot] = Some((f, amount, true, counter));
            }
            Some((f, amount, applied, read)) => {
                open[s.slot] = None;
                let crashed = s.b == 0;
                let (t, v) = match (applied, crashed, f) {
                    (_, true, _) => ("info", Value::Null),
                    (false, false, _) => ("fail", Value::Null),
                    (true, false, "add") => ("ok", json!(amount)),
                    (true, false, _) => ("ok", json!(read)),
                };
                let v = if f == "add" { json!(amount) } else { v };
                ev(p, t, f, v);
                if crashed {
                    process[s.slot] = next;
                    next += 1;
                }
            }
        }
    }
    read_jsonl(lines.join("\n").as_bytes(), "true.jsonl").expect("a well-formed history")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn a_real_counter_is_always_valid(s in steps()) {
        let h = true_counter_history(&s);
        let r = counter::check_counter(&h).unwrap();
        prop_assert_eq!(r.valid, Validity::Valid, "{:?}", r);
    }
}
