//! The runner against the in-memory store and against misbehaving clients.

use faultline::runner::{
    self, memory::MemoryStore, Client, ClientFactory, Completion, Invocation, OpenError, RunConfig,
};
use faultline_checkers::check::check;
use faultline_checkers::history::{read_file, OpType, Process};
use faultline_checkers::Validity;
use faultline_workloads::gen::{self, OpSpec, SECOND};
use faultline_workloads::workload::{build, WorkloadKind, WorkloadOptions};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn every_workload_passes_against_the_memory_store() {
    for kind in WorkloadKind::ALL {
        let w = build(
            kind,
            &WorkloadOptions {
                concurrency: 6,
                time_limit: SECOND / 2,
                rate: 2000.0,
                ops_per_key: 50,
                threads_per_key: 3,
                recovery_time: 0,
                ..WorkloadOptions::default()
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let cfg = RunConfig::new(6, vec!["n1".into(), "n2".into(), "n3".into()]);
        let s = runner::run(w.generator, Arc::new(MemoryStore::new()), &cfg, &path).unwrap();
        assert!(s.ok > 100, "{kind:?}: {s:?}");
        let h = read_file(&path, None).unwrap();
        assert_eq!(h.len() as u64, s.events);
        // Worker i is bound to node i mod n.
        for op in &h.ops {
            if let Process::Client(p) = op.process {
                let node = format!("n{}", (p % 6) % 3 + 1);
                assert_eq!(op.node.as_deref(), Some(node.as_str()));
            }
        }
        let r = check(&w.checker, &h, &Default::default()).unwrap();
        assert_eq!(r.valid(), Validity::Valid, "{kind:?}: {}", r.to_text());
    }
}

/// Hangs on `write`, answers `info` on `cas`, fails on open for node "bad".
struct Flaky;
struct FlakyClient;

impl ClientFactory for Flaky {
    fn open(&self, node: &str) -> Result<Box<dyn Client>, OpenError> {
        if node == "bad" {
            return Err(OpenError::Unavailable("connection refused".into()));
        }
        Ok(Box::new(FlakyClient))
    }
}

impl Client for FlakyClient {
    fn invoke(&mut self, op: &Invocation) -> Completion {
        match &*op.f {
            "write" => {
                std::thread::sleep(Duration::from_secs(3));
                Completion::ok(op.value.clone())
            }
            "cas" => Completion::info(op.value.clone(), "connection reset"),
            _ => Completion::ok(op.value.clone()),
        }
    }
}

#[test]
fn timeouts_infos_and_open_failures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let mut cfg = RunConfig::new(2, vec!["good".into(), "bad".into()]);
    cfg.op_timeout = Duration::from_millis(100);
    let g = gen::concat(vec![
        gen::op(OpSpec::new("write", Value::from(1))),
        gen::limit(4, gen::repeat(gen::op(OpSpec::new("cas", Value::Null)))),
        gen::limit(4, gen::repeat(gen::op(OpSpec::new("read", Value::Null)))),
    ]);
    let s = runner::run(g, Arc::new(Flaky), &cfg, &path).unwrap();
    let h = read_file(&path, None).unwrap();
    // The write hangs past the timeout unless it landed on the node that cannot open.
    let write_node = h
        .ops
        .iter()
        .find(|o| o.f.as_ref() == "write")
        .unwrap()
        .node
        .clone();
    let expected = u64::from(write_node.as_deref() == Some("good"));
    assert_eq!(s.timeouts, expected);
    let mut seen = std::collections::BTreeSet::new();
    for op in &h.ops {
        let Process::Client(p) = op.process else {
            panic!()
        };
        if op.kind == OpType::Invoke {
            // A process never comes back after info.
            assert!(
                seen.insert(p)
                    || h.ops
                        .iter()
                        .filter(|o| o.process == op.process && o.kind == OpType::Info)
                        .count()
                        == 0
            );
        }
        if op.node.as_deref() == Some("bad") && op.kind != OpType::Invoke {
            assert_eq!(op.kind, OpType::Fail);
            assert!(op
                .error
                .as_ref()
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("no-client"));
        }
        if op.f.as_ref() == "write" && op.kind != OpType::Invoke && expected == 1 {
            assert_eq!(op.kind, OpType::Info);
        }
    }
    assert_eq!(s.ok + s.fail + s.info, 9);
}

#[test]
fn stop_flag_ends_the_run_with_a_complete_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let cfg = RunConfig::new(4, vec!["n1".into()]);
    let stop = cfg.stop.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let g = gen::clients(gen::rate(
        500.0,
        gen::repeat(gen::op(OpSpec::new("read", Value::Null))),
    ));
    let s = runner::run(g, Arc::new(MemoryStore::new()), &cfg, &path).unwrap();
    t.join().unwrap();
    assert!(s.interrupted);
    let h = read_file(&path, None).unwrap();
    // Every invocation completed.
    assert_eq!(
        h.ops.iter().filter(|o| o.kind == OpType::Invoke).count() as u64 * 2,
        s.events
    );
}

#[test]
fn a_stored_run_is_complete_and_rechecks_with_faultline_check() {
    use faultline::runner::harness::run_test;
    let base = tempfile::tempdir().unwrap();
    let opts = WorkloadOptions {
        concurrency: 4,
        time_limit: SECOND / 2,
        rate: 500.0,
        ops_per_key: 40,
        threads_per_key: 2,
        ..WorkloadOptions::default()
    };
    let mut cfg = RunConfig::new(4, vec!["n1".into(), "n2".into()]);
    cfg.seed = 42;
    let o = run_test(
        base.path(),
        "memory register",
        WorkloadKind::Register,
        &opts,
        Arc::new(MemoryStore::new()),
        &cfg,
        faultline::store::TestConfig {
            command_line: vec!["faultline".into(), "test".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(o.valid, Validity::Valid);
    let latest = base.path().join("latest");
    for f in ["history.jsonl", "test.json", "results.json"] {
        assert!(latest.join(f).exists(), "{f}");
    }
    let test: Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["checker"]["checker"], "linearizable");
    assert_eq!(test["checker"]["model"], "cas-register");
    assert_eq!(test["seed"], 42);
    assert_eq!(test["command_line"][1], "test");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["valid"], true);
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("check")
        .arg(&latest)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    assert!(base
        .path()
        .join("memory register/latest/history.jsonl")
        .exists());
}

/// Counts opens and closes, and checks that no client is ever used by two operations at
/// once or after it was closed.
struct Counting {
    opens: std::sync::atomic::AtomicU64,
    closes: Arc<std::sync::atomic::AtomicU64>,
}

struct CountingClient {
    node: String,
    busy: std::sync::atomic::AtomicBool,
    closed: bool,
    closes: Arc<std::sync::atomic::AtomicU64>,
}

impl ClientFactory for Counting {
    fn open(&self, node: &str) -> Result<Box<dyn Client>, OpenError> {
        self.opens.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(CountingClient {
            node: node.to_string(),
            busy: Default::default(),
            closed: false,
            closes: self.closes.clone(),
        }))
    }
}

impl Client for CountingClient {
    fn invoke(&mut self, op: &Invocation) -> Completion {
        use std::sync::atomic::Ordering::SeqCst;
        assert!(!self.closed, "used after close");
        assert!(
            !self.busy.swap(true, SeqCst),
            "used by two operations at once"
        );
        std::thread::sleep(Duration::from_micros(200));
        self.busy.store(false, SeqCst);
        // Every fifth write is indeterminate: its process is retired.
        match (&*op.f, op.value.as_u64()) {
            ("write", Some(v)) if v % 5 == 0 => Completion::info(op.value.clone(), "lost"),
            _ => Completion::ok(Value::from(self.node.clone())),
        }
    }
    fn close(&mut self) {
        assert!(!self.closed, "closed twice");
        self.closed = true;
        self.closes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn clients_are_reused_per_process_and_reopened_after_info() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let cfg = RunConfig::new(8, vec!["n1".into(), "n2".into(), "n3".into()]);
    let mut i = 0u64;
    let g = gen::clients(gen::limit(
        2000,
        gen::from_fn(move |_, _| {
            i += 1;
            Some(OpSpec::new("write", Value::from(i)))
        }),
    ));
    let factory = Arc::new(Counting {
        opens: Default::default(),
        closes: Default::default(),
    });
    let s = runner::run(g, factory.clone(), &cfg, &path).unwrap();
    assert_eq!(s.ok + s.info, 2000, "{s:?}");
    let h = read_file(&path, None).unwrap();
    // One client per process.
    let processes: std::collections::BTreeSet<_> =
        h.ops.iter().map(|o| o.process.clone()).collect();
    assert_eq!(factory.opens.load(SeqCst), processes.len() as u64);
    // (A process retired by the last operations of its thread has no successor.)
    let n = processes.len() as u64;
    assert!(
        n <= 8 + s.info && n + 8 >= 8 + s.info,
        "{n} processes, {s:?}"
    );
    // Every client was closed by the end (after info, or when the run ended).
    assert_eq!(factory.closes.load(SeqCst), factory.opens.load(SeqCst));
    // Each op ran on its thread's node.
    for op in h.ops.iter().filter(|o| o.kind == OpType::Ok) {
        assert_eq!(op.value.as_str(), op.node.as_deref());
    }
}

struct Slow;
struct SlowClient;

impl ClientFactory for Slow {
    fn open(&self, _node: &str) -> Result<Box<dyn Client>, OpenError> {
        Ok(Box::new(SlowClient))
    }
}

impl Client for SlowClient {
    fn invoke(&mut self, op: &Invocation) -> Completion {
        std::thread::sleep(Duration::from_millis(50));
        Completion::ok(op.value.clone())
    }
}

/// Blocking clients still run `concurrency` operations at once.
#[test]
fn slow_clients_run_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let cfg = RunConfig::new(20, vec!["n1".into()]);
    let g = gen::clients(gen::time_limit(
        SECOND,
        gen::repeat(gen::op(OpSpec::new("read", Value::Null))),
    ));
    let s = runner::run(g, Arc::new(Slow), &cfg, &path).unwrap();
    // 20 at a time for 1 s at 50 ms each: about 400 (one at a time would be 20).
    assert!(s.ok >= 250, "{s:?}");
}
