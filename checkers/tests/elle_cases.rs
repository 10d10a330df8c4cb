//! Regression cases after the scenarios of Elle's own unit tests (`list_append_test.clj`,
//! `rw_register_test.clj`) and the small histories Elle publishes: the same histories, fed
//! end to end through our checker, with the outcome Elle's tests state.
//!
//! How Elle's expectations are carried over:
//! - Histories are EDN text in the shape Elle's tests build them: op maps without `:f`
//!   or `:process` or `:index` where Elle's helpers leave them out, completions alone
//!   where Elle's test has no invocations, invocation + completion where its `pair`
//!   helper makes both (the invocation's reads then read nil). Elle's string helper
//!   leaves a value-less read as `[:r :y]`, which Clojure reads exactly as
//!   `[:r :y nil]`; we write the latter.
//! - Elle's anomaly names, except that Elle spells item-only cycles `G-single-item` and
//!   `G-nonadjacent-item` (and their `-process` / `-realtime` variants). Our rw edges are
//!   all item edges and we name those cycles `G-single` / `G-nonadjacent`.
//! - Elle reports only the anomalies the model asked for forbids (plus
//!   empty-transaction-graph / cycle-search-timeout); our `anomaly_types` lists every
//!   anomaly found. So `types` is the whole set Elle finds in that history (taken from the
//!   Elle assertion that reports the most, with the same dependency edges), `includes` is
//!   used where Elle only states a filtered set, and `valid` is Elle's `:valid?` for the
//!   model that case checks.
//! - Elle's `:consistency-models nil, :anomalies [X]` has no counterpart in our options;
//!   such assertions map to the weakest model of ours that forbids X (G0: read
//!   uncommitted, G1 / dirty-update: read committed, G-single: snapshot isolation,
//!   internal: serializable). Assertions on `:anomalies [:G2]` alone have no model of
//!   ours that forbids G2 but allows G1, and are left out.
//! - `:not`: every model of Elle's `:not` that we also have must be in our `not` (ours is
//!   a sub-lattice of Elle's, so Elle's weakest ruled-out models are ours too); an empty
//!   `:not` must be empty here as well. Models we lack (consistent-view, update-atomic,
//!   read-atomic, strong-session-read-committed) are skipped.
//! - Elle's options `:sequential-keys?` / `:linearizable-keys?` are ours too; the cases
//!   that need them are in `mod sequential` at the end.
//! - Elle's rw-register tests read values no txn wrote (a register holding 0 before the
//!   test). Faultline calls that `garbage-read` unless `allow_unwritten_reads` is set
//!   (docs/elle.md says why), so the rw-register cases run with it set, as Elle reads
//!   them, and `garbage_read_is_reported_by_default` checks the default.
//! - When one edge is both ww and wr, faultline names the cycle by its ww reading (G0
//!   before G1c, G0 implying G1c); Elle's rw-register explainer prefers wr. The one case
//!   where that shows says so.

use faultline_checkers::elle::{
    check_list_append, check_rw_register, ConsistencyModel, ElleOptions, ElleReport,
};
use faultline_checkers::history::edn::read_edn;
use faultline_checkers::history::History;
use faultline_checkers::Validity;
use std::collections::BTreeSet;
use std::path::Path;

use ConsistencyModel::{
    ReadCommitted as RC, ReadUncommitted as RU, RepeatableRead as RR, Serializable as SER,
    SnapshotIsolation as SI, StrictSerializable as SSER, StrongSessionSnapshotIsolation as SSSI,
};
use Validity::{Invalid, Unknown, Valid};

fn edn(text: &str) -> History {
    read_edn(text, Path::new("elle-case.edn"))
        .unwrap_or_else(|e| panic!("the case's EDN does not read: {e}\n{text}"))
}

fn la(text: &str, model: ConsistencyModel) -> ElleReport {
    la_with(text, ElleOptions::for_model(model))
}

fn la_with(text: &str, opts: ElleOptions) -> ElleReport {
    check_list_append(&edn(text), &opts).unwrap_or_else(|e| panic!("check failed: {e}"))
}

fn rw(text: &str, model: ConsistencyModel) -> ElleReport {
    rw_with(text, ElleOptions::for_model(model))
}

fn rw_wfr(text: &str, model: ConsistencyModel) -> ElleReport {
    rw_with(
        text,
        ElleOptions {
            wfr_keys: true,
            ..ElleOptions::for_model(model)
        },
    )
}

/// As Elle reads rw-register histories: a value nobody wrote is a version of unknown
/// origin, not an anomaly.
fn rw_with(text: &str, opts: ElleOptions) -> ElleReport {
    let opts = ElleOptions {
        allow_unwritten_reads: true,
        ..opts
    };
    check_rw_register(&edn(text), &opts).unwrap_or_else(|e| panic!("check failed: {e}"))
}

/// faultline's default, stricter than Elle: with unique writes and a nil initial state, a
/// read of a value nobody wrote is corruption.
#[test]
fn garbage_read_is_reported_by_default() {
    let h = edn("{:process 0, :type :ok, :value [[:r :x 0] [:w :x 1]]}\n\
                 {:process 1, :type :ok, :value [[:r :x 1]]}");
    let r = check_rw_register(&h, &ElleOptions::for_model(RU)).unwrap();
    assert_eq!(r.valid, Invalid, "{}", r.to_text());
    assert!(r.anomaly_types.iter().any(|t| t == "garbage-read"));
    let a = &r.anomalies["garbage-read"][0];
    assert!(
        a.explanation.contains("--allow-unwritten-reads"),
        "{}",
        a.explanation
    );
    let allowed = ElleOptions {
        allow_unwritten_reads: true,
        ..ElleOptions::for_model(RU)
    };
    let r = check_rw_register(&h, &allowed).unwrap();
    assert_eq!(r.valid, Valid, "{}", r.to_text());
}

/// Collects every mismatch of one case, then fails once with all of them and our report.
struct Expect<'r> {
    r: &'r ElleReport,
    problems: Vec<String>,
}

fn expect(r: &ElleReport) -> Expect<'_> {
    Expect {
        r,
        problems: Vec::new(),
    }
}

impl Expect<'_> {
    fn got(&self) -> BTreeSet<&str> {
        self.r.anomaly_types.iter().map(String::as_str).collect()
    }

    fn valid(mut self, want: Validity) -> Self {
        if self.r.valid != want {
            self.problems
                .push(format!("valid: Elle {want:?}, ours {:?}", self.r.valid));
        }
        self
    }

    /// Exactly these anomaly types.
    fn types(mut self, want: &[&str]) -> Self {
        let want: BTreeSet<&str> = want.iter().copied().collect();
        let got = self.got();
        if got != want {
            let msg = format!("anomaly types: Elle {want:?}, ours {got:?}");
            self.problems.push(msg);
        }
        self
    }

    /// At least these anomaly types.
    fn includes(mut self, want: &[&str]) -> Self {
        let got = self.got();
        let missing: Vec<&str> = want.iter().copied().filter(|w| !got.contains(w)).collect();
        if !missing.is_empty() {
            let msg = format!("anomaly types: missing {missing:?}, ours {got:?}");
            self.problems.push(msg);
        }
        self
    }

    /// None of these anomaly types.
    fn excludes(mut self, bad: &[&str]) -> Self {
        let got = self.got();
        let extra: Vec<&str> = bad.iter().copied().filter(|b| got.contains(b)).collect();
        if !extra.is_empty() {
            let msg = format!("anomaly types: Elle finds none of {extra:?}, ours {got:?}");
            self.problems.push(msg);
        }
        self
    }

    /// How many anomalies of one type.
    fn count(mut self, kind: &str, n: usize) -> Self {
        let got = self.r.anomaly_counts.get(kind).copied().unwrap_or(0);
        if got != n {
            self.problems
                .push(format!("{kind} count: Elle {n}, ours {got}"));
        }
        self
    }

    /// Elle's `:not`, as far as our models go.
    fn not(mut self, elle_not: &[&str]) -> Self {
        let ours: BTreeSet<&str> = self.r.not.iter().map(|m| m.name()).collect();
        if elle_not.is_empty() && !ours.is_empty() {
            self.problems
                .push(format!("not: Elle rules out nothing, ours {ours:?}"));
        }
        for m in elle_not {
            if let Ok(model) = m.parse::<ConsistencyModel>() {
                if !ours.contains(model.name()) {
                    self.problems
                        .push(format!("not: Elle has {m}, ours {ours:?}"));
                }
            }
        }
        self
    }

    fn check(self) {
        if !self.problems.is_empty() {
            panic!(
                "{}\n--- our report ---\n{}",
                self.problems.join("\n"),
                self.r.to_text()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// list-append: Elle's checker-test and friends
// ---------------------------------------------------------------------------------------

// x is ordered t1, t2 but y t2, t1: a pure write cycle.
const LA_G0: &str = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 2] [:append :y 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2]] [:r :y [2 1]]]}
"#;

// Elle list_append_test: checker-test "G0" (asking for G1)
#[test]
fn la_g0_read_committed() {
    expect(&la(LA_G0, RC))
        .valid(Invalid)
        .types(&["G0"])
        .not(&["read-uncommitted"])
        .check();
}

// Elle list_append_test: checker-test "G0" (asking for G0)
#[test]
fn la_g0_read_uncommitted() {
    expect(&la(LA_G0, RU))
        .valid(Invalid)
        .types(&["G0"])
        .not(&["read-uncommitted"])
        .check();
}

// A read of an append whose txn failed; the only ok txn has no edges.
const LA_G1A: &str = r#"
{:process 0, :type :fail, :value [[:append :x 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1]]]}
"#;

// Elle list_append_test: checker-test "G1a" (read-uncommitted)
#[test]
fn la_g1a_read_uncommitted_is_unknown() {
    expect(&la(LA_G1A, RU))
        .valid(Unknown)
        .types(&["G1a", "empty-transaction-graph"])
        .not(&["read-committed"])
        .check();
}

// Elle list_append_test: checker-test "G1a" (read-committed)
#[test]
fn la_g1a_read_committed() {
    expect(&la(LA_G1A, RC))
        .valid(Invalid)
        .types(&["G1a", "empty-transaction-graph"])
        .not(&["read-committed"])
        .check();
}

// Elle list_append_test: checker-test "G1a" (repeatable-read)
#[test]
fn la_g1a_repeatable_read() {
    expect(&la(LA_G1A, RR))
        .valid(Invalid)
        .types(&["G1a", "empty-transaction-graph"])
        .not(&["read-committed"])
        .check();
}

// A read of t1's intermediate append; it also misses t1's final one: G-single too.
const LA_G1B: &str = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :x 1] [:append :x 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :x 2]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1]]]}
"#;

// Elle list_append_test: checker-test "G1b" (asking for G0)
#[test]
fn la_g1b_read_uncommitted_is_valid() {
    expect(&la(LA_G1B, RU))
        .valid(Valid)
        .types(&["G-single", "G1b"])
        .check();
}

// Elle list_append_test: checker-test "G1b" (asking for G1)
#[test]
fn la_g1b_read_committed() {
    expect(&la(LA_G1B, RC))
        .valid(Invalid)
        .types(&["G-single", "G1b"])
        .not(&["read-committed"])
        .check();
}

// Elle list_append_test: checker-test "G1b" (strict-serializable)
#[test]
fn la_g1b_strict_serializable() {
    expect(&la(LA_G1B, SSER))
        .valid(Invalid)
        .types(&["G-single", "G1b"])
        .not(&["read-committed"])
        .check();
}

// t2 appends to x after t1, but t1 read t2's append to y.
const LA_G1C: &str = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:r :y [1]]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 2] [:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2]] [:r :y [1]]]}
"#;

// Elle list_append_test: checker-test "G1c" (asking for G0)
#[test]
fn la_g1c_read_uncommitted_is_valid() {
    expect(&la(LA_G1C, RU)).valid(Valid).types(&["G1c"]).check();
}

// Elle list_append_test: checker-test "G1c" (asking for G1)
#[test]
fn la_g1c_read_committed() {
    expect(&la(LA_G1C, RC))
        .valid(Invalid)
        .types(&["G1c"])
        .not(&["read-committed"])
        .check();
}

// t2 appends to x after t1 but misses t1's append to y.
const LA_G_SINGLE: &str = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 2] [:r :y nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2]]]}
"#;

// Elle list_append_test: checker-test "G-single" (asking for G0)
#[test]
fn la_g_single_read_uncommitted_is_valid() {
    expect(&la(LA_G_SINGLE, RU))
        .valid(Valid)
        .types(&["G-single"])
        .check();
}

// Elle list_append_test: checker-test "G-single" (asking for G1)
#[test]
fn la_g_single_read_committed_is_valid() {
    expect(&la(LA_G_SINGLE, RC))
        .valid(Valid)
        .types(&["G-single"])
        .check();
}

// Elle list_append_test: checker-test "G-single" (asking for G-single)
#[test]
fn la_g_single_snapshot_isolation() {
    expect(&la(LA_G_SINGLE, SI))
        .valid(Invalid)
        .types(&["G-single"])
        .not(&["consistent-view", "repeatable-read"])
        .check();
}

// Each txn misses the other's append: two rw edges.
const LA_G2: &str = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:r :y nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :y 1] [:r :x nil]]}
"#;

// Elle list_append_test: checker-test "G2" (read-committed)
#[test]
fn la_g2_item_read_committed_is_valid() {
    expect(&la(LA_G2, RC))
        .valid(Valid)
        .types(&["G2-item"])
        .check();
}

// Elle list_append_test: checker-test "G2" (serializable)
#[test]
fn la_g2_item_serializable() {
    expect(&la(LA_G2, SER))
        .valid(Invalid)
        .types(&["G2-item"])
        .not(&["repeatable-read"])
        .check();
}

// Elle list_append_test: checker-test "G2" (repeatable-read)
#[test]
fn la_g2_item_repeatable_read() {
    expect(&la(LA_G2, RR))
        .valid(Invalid)
        .types(&["G2-item"])
        .not(&["repeatable-read"])
        .check();
}

// t2 misses t1's append of 2, although t1 completed before t2 was invoked.
const LA_STRONG_SI: &str = r#"
{:process 0, :index 0, :type :invoke, :value [[:append :x 1]]}
{:process 0, :index 1, :type :ok, :value [[:append :x 1]]}
{:process 1, :index 2, :type :invoke, :value [[:append :x 2]]}
{:process 1, :index 3, :type :ok, :value [[:append :x 2]]}
{:process 2, :index 4, :type :invoke, :value [[:r :x nil]]}
{:process 2, :index 5, :type :ok, :value [[:r :x [1]]]}
{:process 3, :index 6, :type :invoke, :value [[:r :x nil]]}
{:process 3, :index 7, :type :ok, :value [[:r :x [1 2]]]}
"#;

// Elle list_append_test: checker-test "Strong SI violation" (serializable)
#[test]
fn la_strong_si_violation_serializable_is_valid() {
    expect(&la(LA_STRONG_SI, SER)).valid(Valid).check();
}

// Elle list_append_test: checker-test "Strong SI violation" (strict-serializable)
#[test]
fn la_strong_si_violation_strict_serializable() {
    expect(&la(LA_STRONG_SI, SSER))
        .valid(Invalid)
        .types(&["G-single-realtime"])
        .not(&["strong-snapshot-isolation"])
        .check();
}

// The same, but the txn that misses the append runs on the appending process.
const LA_STRONG_SESSION_SI: &str = r#"
{:process 0, :index 0, :type :invoke, :value [[:append :x 1]]}
{:process 0, :index 1, :type :ok, :value [[:append :x 1]]}
{:process 1, :index 2, :type :invoke, :value [[:append :x 2]]}
{:process 1, :index 3, :type :ok, :value [[:append :x 2]]}
{:process 1, :index 4, :type :invoke, :value [[:r :x nil]]}
{:process 1, :index 5, :type :ok, :value [[:r :x [1]]]}
{:process 2, :index 6, :type :invoke, :value [[:r :x nil]]}
{:process 2, :index 7, :type :ok, :value [[:r :x [1 2]]]}
"#;

// Elle list_append_test: checker-test "Strong Session SI violation" (serializable)
#[test]
fn la_strong_session_si_violation_serializable_is_valid() {
    expect(&la(LA_STRONG_SESSION_SI, SER)).valid(Valid).check();
}

// Elle list_append_test: checker-test "Strong Session SI violation"
#[test]
fn la_strong_session_si_violation() {
    expect(&la(LA_STRONG_SESSION_SI, SSSI))
        .valid(Invalid)
        .types(&["G-single-process"])
        .not(&["strong-session-snapshot-isolation"])
        .check();
}

// rw, wr, rw, then process order closes the cycle (Elle issue 17).
const LA_G_NONADJACENT_PROCESS: &str = r#"
{:process 0, :index 0, :type :invoke, :value [[:r :x nil] [:r :z nil]]}
{:process 0, :index 1, :type :ok, :value [[:r :x nil] [:r :z [1]]]}
{:process 1, :index 2, :type :invoke, :value [[:append :x 1]]}
{:process 1, :index 3, :type :ok, :value [[:append :x 1]]}
{:process 1, :index 4, :type :invoke, :value [[:r :z nil]]}
{:process 1, :index 5, :type :ok, :value [[:r :z nil]]}
{:process 2, :index 6, :type :invoke, :value [[:append :z 1]]}
{:process 2, :index 7, :type :ok, :value [[:append :z 1]]}
"#;

// Elle list_append_test: checker-test "G-nonadjacent-process" (serializable)
#[test]
fn la_g_nonadjacent_process_serializable_is_valid() {
    expect(&la(LA_G_NONADJACENT_PROCESS, SER))
        .valid(Valid)
        .check();
}

// Elle list_append_test: checker-test "G-nonadjacent-process"
#[test]
fn la_g_nonadjacent_process() {
    expect(&la(LA_G_NONADJACENT_PROCESS, SSSI))
        .valid(Invalid)
        .types(&["G-nonadjacent-process"])
        .not(&["strong-session-snapshot-isolation"])
        .check();
}

// Elle list_append_test: checker-test "contradictory read orders" (asking for G1)
#[test]
fn la_contradictory_read_orders() {
    let h = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:r :y [1]]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 3] [:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 3]]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2 3]]]}
"#;
    expect(&la(h, RC))
        .valid(Invalid)
        .types(&["G1c", "incompatible-order"])
        .not(&["read-committed"])
        .check();
}

// Elle list_append_test: checker-test "dirty update" / "none" (asking for dirty-update)
#[test]
fn la_dirty_update_none() {
    let h = r#"
{:time 0, :process 0, :type :fail, :f :txn, :value [[:append :x 1]]}
"#;
    expect(&la(h, RC))
        .valid(Unknown)
        .types(&["empty-transaction-graph"])
        .not(&[])
        .check();
}

// Elle list_append_test: checker-test "dirty update" / "direct" (asking for dirty-update)
#[test]
fn la_dirty_update_direct() {
    let h = r#"
{:time 0, :process 0, :type :fail, :f :txn, :value [[:append :x 1]]}
{:time 0, :process 1, :type :ok, :f :txn, :value [[:append :x 2]]}
{:time 0, :process 2, :type :ok, :f :txn, :value [[:r :x [1 2]]]}
"#;
    expect(&la(h, RC))
        .valid(Invalid)
        .includes(&["dirty-update"])
        .not(&["read-committed"])
        .check();
}

// Elle list_append_test: checker-test "dirty update" / "indirect" (asking for dirty-update)
#[test]
fn la_dirty_update_indirect() {
    let h = r#"
{:time 0, :process 0, :type :fail, :f :txn, :value [[:append :x 1]]}
{:time 0, :process 1, :type :info, :f :txn, :value [[:append :x 2]]}
{:time 0, :process 2, :type :ok, :f :txn, :value [[:append :x 3]]}
{:time 0, :process 3, :type :ok, :f :txn, :value [[:r :x [1 2 3]]]}
"#;
    expect(&la(h, RC))
        .valid(Invalid)
        .includes(&["dirty-update"])
        .not(&["read-committed"])
        .check();
}

// Elle list_append_test: checker-test "duplicated elements" (read-committed). Elle's
// test notes that the read [1 2 1] also makes a G-single, which read-committed hides.
#[test]
fn la_duplicated_elements() {
    let h = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:r :y [1]]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 2] [:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2 1]]]}
"#;
    expect(&la(h, RC))
        .valid(Invalid)
        .types(&["G1c", "G-single", "duplicate-elements"])
        .not(&["read-uncommitted"])
        .check();
}

// Elle list_append_test: checker-test "internal consistency violation" (asking for
// internal). Elle's test notes the G0 in it too.
#[test]
fn la_internal_consistency_violation() {
    let h = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :x 2] [:append :x 4]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 3] [:r :x [1 2 3 4]]]}
"#;
    expect(&la(h, SER))
        .valid(Invalid)
        .types(&["G0", "internal"])
        .not(&["read-uncommitted"])
        .check();
}

// Elle list_append_test: unobserved-write-test (serializable). x shows 1 before 2; y
// shows 2 without 1, so 1 came after 2 there. Elle's test runs all five txns
// concurrently on process 0, which jepsen.history itself rejects as a double invoke once
// it pairs ops; processes play no part under serializable, so here each has its own.
#[test]
fn la_unobserved_write() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :x 1] [:append :y 1]]}
{:time 0, :process 1, :type :invoke, :f :txn, :value [[:append :x 2] [:append :y 2]]}
{:time 0, :process 2, :type :invoke, :f :txn, :value [[:append :x 3] [:append :y 3]]}
{:time 0, :process 3, :type :invoke, :f :txn, :value [[:r :x nil]]}
{:time 0, :process 4, :type :invoke, :f :txn, :value [[:r :y nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :y 1]]}
{:time 0, :process 1, :type :ok, :f :txn, :value [[:append :x 2] [:append :y 2]]}
{:time 0, :process 2, :type :ok, :f :txn, :value [[:append :x 3] [:append :y 3]]}
{:time 0, :process 3, :type :ok, :f :txn, :value [[:r :x [1 2]]]}
{:time 0, :process 4, :type :ok, :f :txn, :value [[:r :y [2]]]}
"#;
    expect(&la(h, SER))
        .valid(Invalid)
        .types(&["G-single", "G0"])
        .not(&["read-uncommitted"])
        .check();
}

const LA_RR: &str = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x nil] [:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :y nil] [:append :x 1]]}
"#;

// Elle list_append_test: repeatable-read-test (read-committed)
#[test]
fn la_repeatable_read_test_read_committed_is_valid() {
    expect(&la(LA_RR, RC))
        .valid(Valid)
        .types(&["G2-item"])
        .check();
}

// Elle list_append_test: repeatable-read-test (repeatable-read)
#[test]
fn la_repeatable_read_test_repeatable_read() {
    expect(&la(LA_RR, RR))
        .valid(Invalid)
        .types(&["G2-item"])
        .not(&["repeatable-read"])
        .check();
}

// Elle list_append_test: G-nonadjacent-test, first history (default: strict-serializable)
#[test]
fn la_g_nonadjacent() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :x 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1]] [:r :y nil]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :y 1]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :y nil] [:r :x nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :y [1]] [:r :x nil]]}
"#;
    expect(&la(h, SSER))
        .valid(Invalid)
        .types(&["G-nonadjacent"])
        .not(&["snapshot-isolation", "repeatable-read"])
        .check();
}

// Elle list_append_test: G-nonadjacent-test, second history (snapshot-isolation)
#[test]
fn la_g_nonadjacent_adjacent_rw_edges_snapshot_isolation_is_valid() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [5]] [:append :y 1]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :y nil] [:append :z 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :y nil] [:append :z 2]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :z nil] [:append :t 3]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :z nil] [:append :t 3]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :t nil] [:append :u 4]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :t [3]] [:append :u 4]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :u nil] [:append :x 5]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :u nil] [:append :x 5]]}
"#;
    expect(&la(h, SI)).valid(Valid).check();
}

// Elle list_append_test: lost-update-test (default: strict-serializable)
#[test]
fn la_lost_update() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :x 0]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 0]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:append :x 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [0]] [:append :x 1]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:append :x 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [0]] [:append :x 2]]}
"#;
    expect(&la(h, SSER))
        .valid(Invalid)
        .types(&["G2-item", "lost-update"])
        .not(&["update-atomic", "cursor-stability"])
        .check();
}

// Elle list_append_test: lost-update-test / "one txn, double write"
#[test]
fn la_lost_update_one_txn_double_write_is_valid() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:append :x 1] [:append :x 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x nil] [:append :x 1] [:append :x 2]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2]]]}
"#;
    expect(&la(h, SSER)).valid(Valid).check();
}

// Elle list_append_test: wr-process-test (strong-session-snapshot-isolation; Elle issue
// 21). The invocations' reads are two-element micro-ops, as Elle's test writes them.
#[test]
fn la_wr_process_g1c_process() {
    let h = r#"
{:process 1, :type :invoke, :f :txn, :value [[:r :x] [:append :y 1]], :index 0}
{:process 1, :type :ok, :f :txn, :value [[:r :x [1]] [:append :y 1]], :index 1}
{:process 2, :type :invoke, :f :txn, :value [[:r :y]], :index 2}
{:process 2, :type :ok, :f :txn, :value [[:r :y [1]]], :index 3}
{:process 2, :type :invoke, :f :txn, :value [[:append :x 1]], :index 4}
{:process 2, :type :ok, :f :txn, :value [[:append :x 1]], :index 5}
"#;
    expect(&la(h, SSSI))
        .valid(Invalid)
        .types(&["G1c-process"])
        .not(&["strong-session-read-committed"])
        .check();
}

// Elle list_append_test: rr-g-single-item-test (repeatable-read)
#[test]
fn la_rr_g_single_item() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :x 1] [:append :y 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :y 1]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1]] [:r :y nil]]}
"#;
    expect(&la(h, RR))
        .valid(Invalid)
        .types(&["G-single"])
        .not(&["consistent-view", "repeatable-read"])
        .check();
}

// Elle list_append_test: rr-g-nonadjacent-item-test (repeatable-read)
#[test]
fn la_rr_g_nonadjacent_item() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :x 1] [:append :t 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :t 1]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1]] [:r :y nil]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :y 1] [:append :z 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :y 1] [:append :z 2]]}
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :z nil] [:r :t nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :z [2]] [:r :t nil]]}
"#;
    expect(&la(h, RR))
        .valid(Invalid)
        .types(&["G-nonadjacent"])
        .not(&["repeatable-read", "snapshot-isolation"])
        .check();
}

// Elle list_append_test: future-read-test (read-committed). A txn reads the element it
// appends later.
#[test]
fn la_future_read() {
    let h = r#"
{:process 0, :type :invoke, :f :txn, :value [[:r :x [1]] [:append :x 1]]}
{:process 0, :type :ok, :f :txn, :value [[:r :x [1]] [:append :x 1]]}
"#;
    expect(&la(h, RC))
        .valid(Invalid)
        .types(&["empty-transaction-graph", "future-read"])
        .not(&["read-committed"])
        .check();
}

// Elle list_append_test: graph-test "G2: anti-dependency cycle" (Elle checks it with its
// bare graph analyzer, which fails on any cycle; the cycle is two rw edges).
#[test]
fn la_graph_g2_anti_dependency_cycle() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :x nil] [:append :y 1]]}
{:process 0, :type :ok, :value [[:r :y nil] [:append :x 1]]}
{:process 0, :type :ok, :value [[:r :x [1]] [:r :y [1]]]}
"#;
    expect(&la(h, SER))
        .valid(Invalid)
        .includes(&["G2-item"])
        .check();
}

// Elle list_append_test: graph-test "duplicate inserts attempts": two attempts to append
// the same element to one key are refused outright. (Elle's second op also carries
// `:process nil, :f nil`, which Clojure reads as absent keys; left out here.)
#[test]
fn la_duplicate_append_attempts_are_rejected() {
    let h = edn(r#"
{:index 0, :type :invoke, :process 0, :value [[:append :x 1] [:r :y nil]]}
{:index 1, :type :invoke, :process 1, :value [[:append :y 2] [:append :x 1]], :time -1}
"#);
    let r = check_list_append(&h, &ElleOptions::for_model(SSER));
    assert!(r.is_err(), "a duplicate append must be an error: {r:?}");
}

// --- Elle's function-level list-append tests, run through the whole check -------------

// Elle list_append_test: g1a-cases-test "valid and invalid reads": both reads see the
// failed append of 1.
#[test]
fn la_g1a_cases() {
    let h = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1]] [:append :x 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2]] [:r :y [3]]]}
{:process 0, :type :fail, :value [[:append :x 1]]}
"#;
    expect(&la(h, RC))
        .includes(&["G1a"])
        .count("G1a", 2)
        .check();
}

// Elle list_append_test: g1b-cases-test "valid and invalid reads": only [1] ends on
// an intermediate append.
#[test]
fn la_g1b_cases() {
    let h = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1]]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2]] [:r :y [3]]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :x 2]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [1 2 3]]]}
"#;
    expect(&la(h, RC))
        .includes(&["G1b"])
        .count("G1b", 1)
        .check();
}

// Elle list_append_test: g1b-cases-test "internal reads": reading one's own
// intermediate state is no G1b.
#[test]
fn la_g1b_internal_reads_are_not_g1b() {
    let h = r#"
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:r :x [1]] [:append :x 2]]}
"#;
    expect(&la(h, RC)).excludes(&["G1b"]).check();
}

// Elle list_append_test: internal-cases-test "good"
#[test]
fn la_internal_good() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :y [5 6]] [:append :x 3] [:r :x [1 2 3]] [:append :x 4] [:r :x [1 2 3 4]]]}
"#;
    expect(&la(h, SER)).excludes(&["internal"]).check();
}

// Elle list_append_test: internal-cases-test "read nil, then something"
#[test]
fn la_internal_read_nil_then_something() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:r :x nil]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x nil] [:r :x [2]]]}
"#;
    expect(&la(h, SER))
        .includes(&["internal"])
        .count("internal", 1)
        .check();
}

// Elle list_append_test: internal-cases-test "read-append-read" and "append-read". Elle's
// test puts these txns in one history, but each appends 3 to x, which a whole check (ours
// or Elle's) refuses as a duplicate append; internal consistency is judged txn by txn, so
// each txn is a history of its own here.
fn la_internal_alone(txn: &str) {
    let h = format!("{{:process 0, :type :ok, :value {txn}}}");
    expect(&la(&h, SER))
        .includes(&["internal"])
        .count("internal", 1)
        .check();
}

// Elle list_append_test: internal-cases-test "read-append-read": stale read
#[test]
fn la_internal_read_append_read_stale() {
    la_internal_alone("[[:r :x [1 2]] [:append :x 3] [:r :x [1 2]]]");
}

// Elle list_append_test: internal-cases-test "read-append-read": bad prefix
#[test]
fn la_internal_read_append_read_bad_prefix() {
    la_internal_alone("[[:r :x [1 2]] [:append :x 3] [:r :x [0 2 3]]]");
}

// Elle list_append_test: internal-cases-test "read-append-read": extension
#[test]
fn la_internal_read_append_read_extension() {
    la_internal_alone("[[:r :x [1 2]] [:append :x 3] [:r :x [1 2 3 4]]]");
}

// Elle list_append_test: internal-cases-test "read-append-read": short read
#[test]
fn la_internal_read_append_read_short_read() {
    la_internal_alone("[[:r :x [1 2]] [:append :x 3] [:r :x [1]]]");
}

// Elle list_append_test: internal-cases-test "append-read": disagreement (the read after
// the txn's own append must end with it)
#[test]
fn la_internal_append_read_disagreement() {
    la_internal_alone("[[:append :x 3] [:r :x [1 2 3 4]]]");
}

// Elle list_append_test: internal-cases-test "append-read": short read
#[test]
fn la_internal_append_read_short_read() {
    la_internal_alone("[[:append :x 3] [:r :x []]]");
}

// Elle list_append_test: internal-cases-test "FaunaDB example": an append, then a read
// that returns nothing.
#[test]
fn la_internal_faunadb_example() {
    let h = r#"
{:type :invoke, :f :txn, :value [[:append 0 6] [:r 0 nil]], :process 1, :index 20, :time 1}
{:type :ok, :f :txn, :value [[:append 0 6] [:r 0 nil]], :process 1, :index 21, :time 2}
"#;
    expect(&la(h, SER))
        .includes(&["internal"])
        .count("internal", 1)
        .check();
}

// Elle list_append_test: internal-cases-test "future read external"
#[test]
fn la_future_read_external() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:append :x 1]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:r :x [0 1 2]] [:append :x 1]]}
"#;
    expect(&la(h, SER))
        .includes(&["future-read"])
        .excludes(&["internal"])
        .check();
}

// Elle list_append_test: internal-cases-test "future read internal": the read [0 1]
// after appending 1 is fine by itself, but 0 is appended later by the same txn.
#[test]
fn la_future_read_internal() {
    let h = r#"
{:time 0, :process 0, :type :invoke, :f :txn, :value [[:append :x 1] [:r :x nil] [:append :x 0] [:append :x 3]]}
{:time 0, :process 0, :type :ok, :f :txn, :value [[:append :x 1] [:r :x [0 1]] [:append :x 0] [:append :x 3]]}
"#;
    expect(&la(h, SER))
        .includes(&["future-read"])
        .excludes(&["internal"])
        .check();
}

// --- Elle's published histories ---------------------------------------------------------

// Elle histories/si-without-g-single.edn: a G2-item that is no G-single (Elle
// list_append_test: intermediate-sequential-extension-test).
const SI_WITHOUT_G_SINGLE: &str = r#"
{:index 10, :time 0, :type :invoke, :process 2, :f :txn, :value [[:append 9 2]]}
{:index 11, :time 0, :type :ok, :process 2, :f :txn, :value [[:append 9 2]]}
{:index 20, :time 0, :type :invoke, :process 4, :f :txn, :value [[:append 8 1] [:r 9 nil]]}
{:index 21, :time 0, :type :ok, :process 4, :f :txn, :value [[:append 8 1] [:r 9 nil]]}
{:index 30, :time 0, :type :invoke, :process 7, :f :txn, :value [[:r 6 nil] [:r 8 nil] [:append 9 5]]}
{:index 31, :time 0, :type :ok, :process 7, :f :txn, :value [[:r 6 nil] [:r 8 nil] [:append 9 5]]}
{:index 40, :time 0, :type :invoke, :process 9, :f :txn, :value [[:append 6 2] [:r 9 nil]]}
{:index 41, :time 0, :type :ok, :process 9, :f :txn, :value [[:append 6 2] [:r 9 [2]]]}
"#;

#[test]
fn si_without_g_single_repeatable_read() {
    expect(&la(SI_WITHOUT_G_SINGLE, RR))
        .valid(Invalid)
        .types(&["G2-item"])
        .not(&["repeatable-read"])
        .check();
}

#[test]
fn si_without_g_single_snapshot_isolation_is_valid() {
    expect(&la(SI_WITHOUT_G_SINGLE, SI))
        .valid(Valid)
        .types(&["G2-item"])
        .check();
}

// Elle histories/paper-example.edn: the G-single of figures 2 and 3 of the Elle paper
// (T1 misses T2's append of 8 to 255, T3 sees it, T1 appends to 256 after T3).
const PAPER_EXAMPLE: &str = r#"
{:index 0 :type :invoke :value [[:append 253 1] [:append 253 3] [:append 253 4] [:append 255 2] [:append 255 3] [:append 255 4] [:append 255 5] [:append 256 1] [:append 256 2]]}
{:index 1 :type :ok :value [[:append 253 1] [:append 253 3] [:append 253 4] [:append 255 2] [:append 255 3] [:append 255 4] [:append 255 5] [:append 256 1] [:append 256 2]]}
{:index 2 :type :invoke, :value [[:append 255 8] [:r 253 nil]]}
{:index 3 :type :ok, :value [[:append 255 8] [:r 253 [1 3 4]]]}
{:index 4 :type :invoke, :value [[:append 256 4] [:r 255 nil] [:r 256 nil] [:r 253 nil]]}
{:index 5 :type :ok, :value [[:append 256 4] [:r 255 [2 3 4 5 8]] [:r 256 [1 2 4]] [:r 253 [1 3 4]]]}
{:index 6 :type :invoke, :value [[:append 250 10] [:r 253 nil] [:r 255 nil] [:append 256 3]]}
{:index 7 :type :ok :value [[:append 250 10] [:r 253 [1 3 4]] [:r 255 [2 3 4 5]] [:append 256 3]]}
"#;

#[test]
fn paper_example_serializable() {
    expect(&la(PAPER_EXAMPLE, SER))
        .valid(Invalid)
        .types(&["G-single"])
        .not(&["consistent-view", "repeatable-read"])
        .check();
}

#[test]
fn paper_example_strict_serializable() {
    expect(&la(PAPER_EXAMPLE, SSER))
        .valid(Invalid)
        .includes(&["G-single"])
        .check();
}

// Elle README, "Demo": the G1c it walks through, checked for serializability.
#[test]
fn readme_demo_g1c() {
    let h = r#"
{:process 0, :type :ok, :value [[:append :x 1] [:r :y [1]]]}
{:process 1, :type :ok, :value [[:append :x 2] [:append :y 1]]}
{:process 2, :type :ok, :value [[:r :x [1 2]]]}
"#;
    expect(&la(h, SER))
        .valid(Invalid)
        .types(&["G1c"])
        .not(&["read-committed"])
        .check();
}

// ---------------------------------------------------------------------------------------
// rw-register: Elle's checker-test and friends
// ---------------------------------------------------------------------------------------

// Elle rw_register_test: checker-test "G0", first half (asking for G0): two writers that
// never complete, nothing to order them by.
#[test]
fn rw_g0_without_reads_is_unknown() {
    let h = r#"
{:process 0, :type :invoke, :value [[:w :x 1] [:w :y 2]]}
{:process 1, :type :invoke, :value [[:w :x 2] [:w :y 1]]}
"#;
    expect(&rw(h, RU))
        .valid(Unknown)
        .types(&["empty-transaction-graph"])
        .not(&[])
        .check();
}

// Elle rw_register_test: checker-test "G1a" (asking for G1)
#[test]
fn rw_g1a() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :x 1]]}
{:process 0, :type :fail, :value [[:w :x 1]]}
"#;
    expect(&rw(h, RC))
        .valid(Invalid)
        .types(&["G1a", "empty-transaction-graph"])
        .not(&["read-committed"])
        .check();
}

const RW_G1B: &str = r#"
{:process 0, :type :ok, :value [[:w :x 1] [:w :x 2]]}
{:process 0, :type :ok, :value [[:r :x 1]]}
"#;

// Elle rw_register_test: checker-test "G1b" (asking for G0)
#[test]
fn rw_g1b_read_uncommitted_is_unknown() {
    expect(&rw(RW_G1B, RU))
        .valid(Unknown)
        .types(&["G1b", "empty-transaction-graph"])
        .not(&["read-committed"])
        .check();
}

// Elle rw_register_test: checker-test "G1b" (asking for G1)
#[test]
fn rw_g1b_read_committed() {
    expect(&rw(RW_G1B, RC))
        .valid(Invalid)
        .types(&["G1b", "empty-transaction-graph"])
        .not(&["read-committed"])
        .check();
}

// Elle rw_register_test: checker-test "G1b" (repeatable-read)
#[test]
fn rw_g1b_repeatable_read() {
    expect(&rw(RW_G1B, RR))
        .valid(Invalid)
        .types(&["G1b", "empty-transaction-graph"])
        .not(&["read-committed"])
        .check();
}

// Elle rw_register_test: checker-test "G-single transaction-order", without the
// commit order (an option we do not have): nothing orders y's versions.
#[test]
fn rw_g_single_without_transaction_order_is_valid() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :x nil] [:w :y 2]]}
{:process 0, :type :ok, :value [[:w :x 3] [:w :y 4]]}
"#;
    expect(&rw(h, SER)).valid(Valid).check();
}

// Elle rw_register_test: checker-test "G2-item transaction-order", without the commit
// order.
#[test]
fn rw_g2_item_without_transaction_order_is_valid() {
    let h = r#"
{:process 0, :type :ok, :value [[:w :x 1] [:w :y 2] [:w :z 3]]}
{:process 0, :type :ok, :value [[:r :x 1] [:w :y 5]]}
{:process 0, :type :ok, :value [[:r :z 3] [:w :x 4]]}
{:process 0, :type :ok, :value [[:w :z 7] [:w :y 8]]}
"#;
    expect(&rw(h, SER)).valid(Valid).check();
}

// Each txn reads what the other wrote.
const RW_G1C: &str = r#"
{:process 0, :type :ok, :value [[:w :x 1] [:r :y 1]]}
{:process 0, :type :ok, :value [[:w :y 1] [:r :x 1]]}
"#;

// Elle rw_register_test: checker-test "G1c" (read-uncommitted)
#[test]
fn rw_g1c_read_uncommitted_is_valid() {
    expect(&rw(RW_G1C, RU)).valid(Valid).types(&["G1c"]).check();
}

// Elle rw_register_test: checker-test "G1c" (read-committed)
#[test]
fn rw_g1c_read_committed() {
    expect(&rw(RW_G1C, RC))
        .valid(Invalid)
        .types(&["G1c"])
        .not(&["read-committed"])
        .check();
}

// Elle rw_register_test: checker-test "G1c" (serializable)
#[test]
fn rw_g1c_serializable() {
    expect(&rw(RW_G1C, SER))
        .valid(Invalid)
        .types(&["G1c"])
        .not(&["read-committed"])
        .check();
}

// Elle rw_register_test: checker-test "internal" (asking for internal)
#[test]
fn rw_internal() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :x 1] [:r :x 2]]}
"#;
    expect(&rw(h, SER))
        .valid(Invalid)
        .types(&["empty-transaction-graph", "internal"])
        .not(&["read-atomic"])
        .check();
}

// Elle rw_register_test: checker-test "initial state" (serializable). t1 read x before
// any write (so before t2's) but y from t2. Elle's test runs both txns concurrently on
// process 0 (a double invoke for jepsen.history); here t2 has its own process.
#[test]
fn rw_initial_state_g_single() {
    let h = r#"
{:process 0, :type :invoke, :value [[:r :x nil] [:r :y nil]]}
{:process 1, :type :invoke, :value [[:w :y 1] [:w :x 2]]}
{:process 1, :type :ok, :value [[:w :y 1] [:w :x 2]]}
{:process 0, :type :ok, :value [[:r :x nil] [:r :y 1]]}
"#;
    expect(&rw(h, SER))
        .valid(Invalid)
        .types(&["G-single"])
        .not(&["consistent-view", "repeatable-read"])
        .check();
}

// t1 read y = 1 and overwrote it with 2; t2 read t1's x but the older y.
const RW_WFR: &str = r#"
{:process 0, :type :ok, :value [[:r :y 1] [:w :x 1] [:w :y 2]]}
{:process 0, :type :ok, :value [[:r :x 1] [:r :y 1]]}
"#;

// Elle rw_register_test: checker-test "wfr", without wfr-keys (serializable)
#[test]
fn rw_wfr_off_is_valid() {
    expect(&rw(RW_WFR, SER)).valid(Valid).check();
}

// Elle rw_register_test: checker-test "wfr", with wfr-keys (serializable)
#[test]
fn rw_wfr_g_single() {
    expect(&rw_wfr(RW_WFR, SER))
        .valid(Invalid)
        .types(&["G-single"])
        .not(&["consistent-view", "repeatable-read"])
        .check();
}

// Elle rw_register_test: lost-update-test (default: strict-serializable)
#[test]
fn rw_lost_update() {
    let h = r#"
{:process 0, :type :invoke, :value [[:r :x nil] [:w :x 1]]}
{:process 0, :type :ok, :value [[:r :x 0] [:w :x 1]]}
{:process 1, :type :invoke, :value [[:r :x nil] [:w :x 2]]}
{:process 1, :type :ok, :value [[:r :x 0] [:w :x 2]]}
"#;
    expect(&rw(h, SSER))
        .valid(Invalid)
        .types(&["lost-update"])
        .not(&["update-atomic", "cursor-stability"])
        .check();
}

// Elle rw_register_test: wr-graph-test "chain on one register" (Elle's bare wr analyzer
// fails on the wr cycle)
#[test]
fn rw_wr_chain_on_one_register() {
    let h = r#"
{:process 0, :type :invoke, :f :txn, :value [[:r :x 0] [:w :x 1]]}
{:process 0, :type :ok, :f :txn, :value [[:r :x 0] [:w :x 1]]}
{:process 0, :type :invoke, :f :txn, :value [[:r :x 1] [:w :x 0]]}
{:process 0, :type :ok, :f :txn, :value [[:r :x 1] [:w :x 0]]}
"#;
    expect(&rw(h, RC))
        .valid(Invalid)
        .types(&["G1c"])
        .not(&["read-committed"])
        .check();
}

// Elle rw_register_test: wr-graph-test "chain across two registers"
#[test]
fn rw_wr_chain_across_two_registers() {
    let h = r#"
{:process 0, :type :invoke, :f :txn, :value [[:r :x 0] [:w :y 1]]}
{:process 0, :type :ok, :f :txn, :value [[:r :x 0] [:w :y 1]]}
{:process 0, :type :invoke, :f :txn, :value [[:r :y 1] [:w :x 0]]}
{:process 0, :type :ok, :f :txn, :value [[:r :y 1] [:w :x 0]]}
"#;
    expect(&rw(h, RC))
        .valid(Invalid)
        .types(&["G1c"])
        .not(&["read-committed"])
        .check();
}

// Elle rw_register_test: wr-graph-test "write skew": no wr conflict, so Elle's bare wr
// analyzer finds no cycle. Through the whole check nothing read committed forbids turns
// up either, but nothing links the two txns at all (no one wrote 0, no one read nil), so
// Elle's check reports an empty transaction graph: unknown.
#[test]
fn rw_write_skew_read_committed_is_unknown() {
    let h = r#"
{:process 0, :type :invoke, :f :txn, :value [[:r :x 0] [:r :y 0] [:w :x 1]]}
{:process 0, :type :ok, :f :txn, :value [[:r :x 0] [:r :y 0] [:w :x 1]]}
{:process 0, :type :invoke, :f :txn, :value [[:r :x 0] [:r :y 0] [:w :y 1]]}
{:process 0, :type :ok, :f :txn, :value [[:r :x 0] [:r :y 0] [:w :y 1]]}
"#;
    expect(&rw(h, RC))
        .valid(Unknown)
        .types(&["empty-transaction-graph"])
        .check();
}

// --- Elle's function-level rw-register tests, run through the whole check -------------

// Elle rw_register_test: internal-cases-test "good"
#[test]
fn rw_internal_good() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :y 2] [:w :x 2] [:r :x 2] [:w :x 1] [:r :x 1]]}
"#;
    expect(&rw(h, SER)).excludes(&["internal"]).check();
}

// Elle rw_register_test: internal-cases-test "stale"
#[test]
fn rw_internal_stale() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :x 1] [:w :x 2] [:r :x 1]]}
"#;
    expect(&rw(h, SER))
        .includes(&["internal"])
        .count("internal", 1)
        .check();
}

// Elle rw_register_test: internal-cases-test "nil read"
#[test]
fn rw_internal_nil_read() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :x nil] [:r :x 2]]}
"#;
    expect(&rw(h, SER))
        .includes(&["internal"])
        .count("internal", 1)
        .check();
}

// Elle rw_register_test: g1a-cases-test "good"
#[test]
fn rw_g1a_good() {
    let h = r#"
{:process 0, :type :ok, :value [[:w :x 1]]}
{:process 0, :type :ok, :value [[:r :x 1]]}
"#;
    expect(&rw(h, RC)).excludes(&["G1a"]).check();
}

// Elle rw_register_test: g1a-cases-test "bad"
#[test]
fn rw_g1a_bad() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :x 2]]}
{:process 0, :type :fail, :value [[:w :x 2]]}
"#;
    expect(&rw(h, RC))
        .includes(&["G1a"])
        .count("G1a", 1)
        .check();
}

// Elle rw_register_test: g1b-cases-test "good"
#[test]
fn rw_g1b_good() {
    let h = r#"
{:process 0, :type :ok, :value [[:w :x 1] [:w :x 2]]}
{:process 0, :type :ok, :value [[:r :x nil] [:r :x 2]]}
"#;
    expect(&rw(h, RC)).excludes(&["G1b"]).check();
}

// Elle rw_register_test: g1b-cases-test "bad"
#[test]
fn rw_g1b_bad() {
    let h = r#"
{:process 0, :type :ok, :value [[:r :x 2]]}
{:process 0, :type :ok, :value [[:w :x 2] [:w :x 1]]}
"#;
    expect(&rw(h, RC))
        .includes(&["G1b"])
        .count("G1b", 1)
        .check();
}

// ---------------------------------------------------------------------------------------
// Cases that need Elle's :sequential-keys? / :linearizable-keys?
// ---------------------------------------------------------------------------------------

mod sequential {
    use super::*;

    fn rw_opts(text: &str, opts: ElleOptions) -> ElleReport {
        rw_with(text, opts)
    }

    // needs linearizable-keys
    // Elle rw_register_test: checker-test "Read read returns what was just been written"
    // (strict-serializable). Real time orders x: 1, then 2, then 1 again.
    #[test]
    fn rw_linearizable_keys_read_back_is_cyclic() {
        let h = r#"
{:process 0, :type :invoke, :value [[:w :x 1]]}
{:process 0, :type :ok, :value [[:w :x 1]]}
{:process 0, :type :invoke, :value [[:r :x nil]]}
{:process 0, :type :ok, :value [[:r :x 2]]}
{:process 0, :type :invoke, :value [[:r :x nil]]}
{:process 0, :type :ok, :value [[:r :x 1]]}
"#;
        let r = rw_opts(
            h,
            ElleOptions {
                linearizable_keys: true,
                ..ElleOptions::for_model(SSER)
            },
        );
        expect(&r)
            .valid(Invalid)
            .types(&["cyclic-versions"])
            .not(&["read-uncommitted"])
            .check();
    }

    // needs sequential-keys
    // Elle rw_register_test: checker-test "G0", second half (asking for G0): each
    // process read back the other's later write, so x goes 1, 2 and y 1, 2.
    #[test]
    fn rw_sequential_keys_g0() {
        let h = r#"
{:process 0, :type :invoke, :value [[:w :x 1] [:w :y 2]]}
{:process 0, :type :ok, :value [[:w :x 1] [:w :y 2]]}
{:process 1, :type :invoke, :value [[:w :x 2] [:w :y 1]]}
{:process 1, :type :ok, :value [[:w :x 2] [:w :y 1]]}
{:process 0, :type :invoke, :value [[:r :x nil]]}
{:process 0, :type :ok, :value [[:r :x 2]]}
{:process 1, :type :invoke, :value [[:r :y nil]]}
{:process 1, :type :ok, :value [[:r :y 2]]}
"#;
        let r = rw_opts(
            h,
            ElleOptions {
                sequential_keys: true,
                ..ElleOptions::for_model(RU)
            },
        );
        expect(&r)
            .valid(Invalid)
            .types(&["G0"])
            .not(&["read-uncommitted"])
            .check();
    }

    // needs linearizable-keys
    // Elle rw_register_test: checker-test "G2-item" (read-committed): a G2-item at
    // most, which read committed allows.
    #[test]
    fn rw_linearizable_keys_g2_item_read_committed_is_valid() {
        let h = r#"
{:process 0, :type :invoke, :value [[:r :x nil] [:r :y nil]]}
{:process 0, :type :ok, :value [[:r :x 1] [:r :y 1]]}
{:process 1, :type :invoke, :value [[:r :x nil] [:w :y 2]]}
{:process 2, :type :invoke, :value [[:r :y nil] [:w :x 2]]}
{:process 2, :type :ok, :value [[:r :y 1] [:w :x 2]]}
{:process 1, :type :ok, :value [[:r :x 1] [:w :y 2]]}
"#;
        let r = rw_opts(
            h,
            ElleOptions {
                linearizable_keys: true,
                ..ElleOptions::for_model(RC)
            },
        );
        expect(&r).valid(Valid).check();
    }

    // needs sequential-keys
    // Elle rw_register_test: checker-test "cyclic version order" (default:
    // strict-serializable): process 0 wrote 1, then 2, then read 1.
    #[test]
    fn rw_sequential_keys_cyclic_versions() {
        let h = r#"
{:process 0, :type :invoke, :value [[:w :x 1]]}
{:process 0, :type :ok, :value [[:w :x 1]]}
{:process 0, :type :invoke, :value [[:w :x 2]]}
{:process 0, :type :ok, :value [[:w :x 2]]}
{:process 0, :type :invoke, :value [[:r :x nil]]}
{:process 0, :type :ok, :value [[:r :x 1]]}
"#;
        let r = rw_opts(
            h,
            ElleOptions {
                sequential_keys: true,
                ..ElleOptions::for_model(SSER)
            },
        );
        expect(&r)
            .valid(Invalid)
            .types(&["cyclic-versions"])
            .not(&["read-uncommitted"])
            .check();
    }

    // needs linearizable-keys
    // Elle rw_register_test: scc-sort-bug-test (strong-serializable, wfr-keys,
    // linearizable-keys): real time puts x's 1 before nil, and 3 before 4 while wfr
    // puts 4 before 3.
    #[test]
    fn rw_scc_sort_bug() {
        let h = r#"
{:process 0, :type :invoke, :value [[:r :x nil]]}
{:process 0, :type :ok, :value [[:r :x 1]]}
{:process 0, :type :invoke, :value [[:r :x nil]]}
{:process 0, :type :ok, :value [[:r :x nil]]}
{:process 0, :type :invoke, :value [[:r :x nil] [:w :x 3]]}
{:process 0, :type :ok, :value [[:r :x 4] [:w :x 3]]}
{:process 0, :type :invoke, :value [[:w :x 4]]}
{:process 0, :type :ok, :value [[:w :x 4]]}
"#;
        let r = rw_opts(
            h,
            ElleOptions {
                wfr_keys: true,
                linearizable_keys: true,
                ..ElleOptions::for_model(SSER)
            },
        );
        // Elle: G1c-realtime. The edge from the writer of 4 to its reader is both ww
        // (wfr: 4 before 3) and wr; faultline names the cycle by the ww reading.
        expect(&r)
            .valid(Invalid)
            .types(&["G0-realtime", "cyclic-versions"])
            .not(&["read-uncommitted"])
            .check();
    }

    // needs linearizable-keys
    // Elle rw_register_test: cyclic-versions-bug-test (serializable): no version cycle
    // here, whatever order the history is walked in (sparse indices, empty txns).
    #[test]
    fn rw_linearizable_keys_no_false_cyclic_versions() {
        let h = r#"
{:index 1, :time 33189116, :type :invoke, :process 0, :f :txn, :value []}
{:index 2, :time 34621247, :type :ok, :process 0, :f :txn, :value []}
{:index 3, :time 36022782, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil]]}
{:index 4, :time 36230324, :type :invoke, :process 1, :f :txn, :value [[:w 1 4]]}
{:index 5, :time 36827540, :type :invoke, :process 2, :f :txn, :value []}
{:index 320, :time 37708797, :type :ok, :process 0, :f :txn, :value [[:r 1 nil]]}
{:index 322, :time 37894295, :type :ok, :process 1, :f :txn, :value [[:w 1 4]]}
{:index 323, :time 37992467, :type :ok, :process 2, :f :txn, :value []}
{:index 324, :time 38532405, :type :invoke, :process 0, :f :txn, :value []}
{:index 325, :time 39475568, :type :ok, :process 0, :f :txn, :value []}
{:index 326, :time 39956694, :type :invoke, :process 0, :f :txn, :value [[:r 1 nil]]}
{:index 327, :time 40746079, :type :ok, :process 0, :f :txn, :value [[:r 1 4]]}
"#;
        let r = rw_opts(
            h,
            ElleOptions {
                linearizable_keys: true,
                ..ElleOptions::for_model(SER)
            },
        );
        expect(&r).valid(Valid).check();
    }
}
