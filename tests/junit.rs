//! JUnit output of real runs (against the in-memory store, and a store that loses
//! acknowledged writes) validates against the JUnit XML schema CI systems read, and
//! carries the checker's explanation as the failure text.

use faultline::report::junit::{self, Suite};
use faultline::runner::{
    harness, memory::MemoryStore, Client, ClientFactory, Completion, Invocation, RunConfig,
};
use faultline_checkers::Validity;
use faultline_workloads::gen::SECOND;
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
    fn open(&self, node: &str) -> Result<Box<dyn Client>, String> {
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
        json!({"db": "memory"}),
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
    assert!(xml.contains("lost element(s): 0, 2,"), "{xml}");
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
