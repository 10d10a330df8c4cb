//! Stored runs read back: JUnit output of real runs (against the in-memory store, and a
//! store that loses acknowledged writes) validates against the JUnit XML schema CI
//! systems read and carries the checker's explanation as the failure text, and
//! `faultline check STORE_DIR` re-checks a run with exactly the checker that judged it.

use faultline::report::junit::{self, Suite};
use faultline::runner::{
    harness, memory::MemoryStore, Client, ClientFactory, Completion, Invocation, OpenError,
    RunConfig,
};
use faultline::store::{self, TestConfig};
use faultline_checkers::Validity;
use faultline_workloads::gen::SECOND;
use faultline_workloads::workload::build;
use faultline_workloads::workload::{WorkloadKind, WorkloadOptions};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// Acknowledges every add of an even element without storing it, and answers reads
/// with a register value nobody wrote.
struct Lossy(MemoryStore);
struct LossyClient(Box<dyn Client>);

impl ClientFactory for Lossy {
    fn open(&self, node: &str) -> Result<Box<dyn Client>, OpenError> {
        Ok(Box::new(LossyClient(self.0.open(node)?)))
    }
}

impl Client for LossyClient {
    fn invoke(&mut self, op: &Invocation) -> Completion {
        match (&*op.f, op.value.as_i64()) {
            ("add", Some(v)) if v % 2 == 0 => Completion::ok(op.value.clone()),
            ("read", _) if op.key.is_some() => Completion::ok(json!(-7)),
            _ => self.0.invoke(op),
        }
    }
}

fn run(base: &Path, kind: WorkloadKind, factory: Arc<dyn ClientFactory>) -> harness::TestOutcome {
    let opts = WorkloadOptions {
        concurrency: 4,
        time_limit: SECOND / 4,
        rate: 400.0,
        recovery_time: 0,
        final_time_limit: 2 * SECOND,
        ..WorkloadOptions::default()
    };
    let cfg = RunConfig::new(4, vec!["n1".into(), "n2".into()]);
    let name = format!("memory-{}", kind.name());
    harness::run_test(
        base,
        &name,
        kind,
        &opts,
        factory,
        &cfg,
        TestConfig {
            db: Some("memory".into()),
            ..TestConfig::default()
        },
    )
    .unwrap()
}

/// xmllint's verdict on `xml` against tests/data/junit.xsd; None when xmllint is not
/// installed (.ci/run-cluster-deps.sh installs it).
fn validate(dir: &Path, xml: &str) -> Option<Result<(), String>> {
    let file = dir.join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .ok()?;
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

#[test]
fn junit_of_valid_invalid_and_crashed_runs_validates_and_explains() {
    let base = tempfile::tempdir().unwrap();
    let good = run(
        base.path(),
        WorkloadKind::Register,
        Arc::new(MemoryStore::new()),
    );
    assert_eq!(good.valid, Validity::Valid);
    let lost = run(
        base.path(),
        WorkloadKind::Set,
        Arc::new(Lossy(MemoryStore::new())),
    );
    assert_eq!(lost.valid, Validity::Invalid);
    let stale = run(
        base.path(),
        WorkloadKind::Register,
        Arc::new(Lossy(MemoryStore::new())),
    );
    assert_eq!(stale.valid, Validity::Invalid);

    let suites = vec![
        Suite::from_store(&good.dir.dir).unwrap(),
        Suite::from_store(&lost.dir.dir).unwrap(),
        Suite::from_store(&stale.dir.dir).unwrap(),
        Suite::crashed(
            "memory-append",
            9,
            "database setup failed\nnode n1: refused",
        ),
    ];
    let xml = junit::render(&suites);
    assert!(
        xml.contains(r#"<testsuites name="faultline" tests="4" failures="2" errors="1""#),
        "{xml}"
    );
    // The failure texts are the checkers' explanations.
    assert!(xml.contains("(lost: 0, 2, 4"), "{xml}");
    // A linearizability failure's message is its one-sentence summary, with the key.
    assert!(xml.contains(r#"<failure message="key "#), "{xml}");
    assert!(xml.contains("can't read -7"), "{xml}");
    assert!(xml.contains("longest linearizable order found"), "{xml}");

    match validate(base.path(), &xml) {
        Some(r) => r.unwrap(),
        None => eprintln!("xmllint not installed: schema validation skipped"),
    }
}

#[test]
fn the_schema_check_can_fail() {
    // A testcase without its required name: xmllint must say no, or the test above
    // proves nothing.
    let dir = tempfile::tempdir().unwrap();
    let bad = r#"<?xml version="1.0"?><testsuites><testsuite name="x" tests="1"><testcase classname="y"/></testsuite></testsuites>"#;
    if let Some(r) = validate(dir.path(), bad) {
        assert!(r.is_err());
    }
}

#[test]
fn a_stored_run_rechecks_with_its_own_checker_and_verdict() {
    let base = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for kind in WorkloadKind::ALL {
        runs.push((kind, run(base.path(), kind, Arc::new(MemoryStore::new()))));
    }
    // Invalid runs too: a lost-adds set (Jepsen's set checker, not the linearizable set
    // model, must judge it), and a register and a counter that read values nobody wrote.
    for kind in [
        WorkloadKind::Set,
        WorkloadKind::Register,
        WorkloadKind::Counter,
    ] {
        runs.push((
            kind,
            run(base.path(), kind, Arc::new(Lossy(MemoryStore::new()))),
        ));
    }
    let mut verdicts = Vec::new();
    for (kind, o) in &runs {
        let test = store::read_test(&o.dir.dir).unwrap();
        let expected = build(*kind, &WorkloadOptions::default()).checker;
        assert_eq!(test.checker.as_ref(), Some(&expected), "{kind:?}");
        let results = store::read_results(&o.dir.dir).unwrap();
        assert_eq!(results.valid, o.valid, "{kind:?}");
        let report = results.workload.expect("the workload checker's report");
        // The report's checker tag is the spec's.
        let tag = serde_json::to_value(&expected).unwrap()["checker"].clone();
        assert_eq!(report.name(), tag, "{kind:?}");

        let (code, doc) = crate::common::recheck(&o.dir.dir);
        assert_eq!(code, Some(o.valid.exit_code()), "{kind:?}: {doc}");
        assert_eq!(
            doc["valid"],
            serde_json::to_value(o.valid).unwrap(),
            "{kind:?}: {doc}"
        );
        assert_eq!(doc["checker"], tag, "{kind:?}: {doc}");
        if let Some(m) = expected.consistency_model() {
            assert_eq!(doc["consistency_model"], m.name(), "{kind:?}: {doc}");
        }
        verdicts.push((*kind, o.valid));
    }
    assert!(verdicts.contains(&(WorkloadKind::Set, Validity::Invalid)));
    assert!(verdicts.contains(&(WorkloadKind::Append, Validity::Valid)));
    assert!(verdicts.contains(&(WorkloadKind::Counter, Validity::Invalid)));
}
