//! Helpers shared by the integration tests that build a local cluster (root only).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use faultline::cluster::{self, ClusterSpec, ClusterState};
use std::net::Ipv4Addr;

/// One cluster test at a time: they share the machine's two cores, and a test that
/// times a fault must not be slowed by another's cluster. Every test that brings up a
/// cluster (or runs etcd or sshd) holds it for its whole run.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the test `name` (its full path in this binary, `module::test`) alone in a
/// process of its own, for a test that inspects its process's children: in the shared
/// test binary, other tests' children would be counted. Returns `true` in that process
/// (go on with the test), `false` in the caller once the lone run passed.
pub fn in_own_process(name: &str) -> bool {
    const VAR: &str = "FAULTLINE_TEST_ALONE";
    if std::env::var(VAR).as_deref() == Ok(name) {
        return true;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(VAR, name)
        .stdin(Stdio::null())
        .output()
        .expect("run the test binary");
    assert!(
        out.status.success(),
        "{name}, alone in its process:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run alone: {stdout}"
    );
    false
}

/// Distinguishes this test run's namespaces and subnets from another run's.
pub fn run_id() -> u8 {
    (std::process::id() % 200) as u8
}

/// Why a cluster test cannot run here: not root, or a tool (the cluster's own, plus
/// `extra`) missing. `None` when it can.
pub fn skip_reason(extra: &[&str]) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    let base = [
        "/usr/sbin/ip",
        "/usr/sbin/sshd",
        "/usr/bin/ssh-keygen",
        "/usr/bin/unshare",
    ];
    for t in base.iter().chain(extra) {
        if !Path::new(t).exists() {
            return Some(format!("{t} missing (run .ci/run-cluster-deps.sh)"));
        }
    }
    None
}

/// Tears the cluster down (killing what runs on it) even when an assertion fails.
pub struct ClusterGuard {
    pub dir: PathBuf,
    pub prefix: String,
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if let Err(e) = cluster::down(&self.dir, Some(&self.prefix)) {
            eprintln!("cleanup of {}: {e}", self.dir.display());
        }
    }
}

/// Brings up a local cluster of `nodes` nodes in `dir`, its namespaces named
/// `{prefix}{run_id}` and its subnet 10.`octet`.`run_id`.0, so each test file keeps to
/// its own; the guard takes it down however the test ends.
pub fn up_cluster(
    dir: &Path,
    prefix: &str,
    octet: u8,
    nodes: usize,
) -> (ClusterGuard, ClusterState) {
    let spec = ClusterSpec {
        dir: dir.to_path_buf(),
        nodes,
        prefix: format!("{prefix}{}", run_id()),
        subnet: Ipv4Addr::new(10, octet, run_id(), 0),
    };
    let guard = ClusterGuard {
        dir: dir.to_path_buf(),
        prefix: spec.prefix.clone(),
    };
    let state = cluster::up(&spec).expect("cluster up");
    (guard, state)
}

/// Runs this build's `faultline` with `args`, logging at info, no standard input.
pub fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .env("FAULTLINE_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run faultline")
}

/// A timestamped progress line on standard error (shown with --nocapture).
pub fn step(name: &str, t0: Instant) {
    eprintln!("[{:>6.2}s] {name}", t0.elapsed().as_secs_f64());
}

/// A JSON file of a run (results.json, test.json), or a panic naming it.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `faultline check --json DIR` of a stored run: its one JSON line.
pub fn recheck(dir: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check", "--json"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let doc = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}

/// A stored run re-checked from its folder gives the run's verdict, with the checker
/// its `test.json` names (`expected_checker`, the checker's tag in JSON).
pub fn assert_recheck_agrees(run: &Path, expected_checker: &str) {
    let results = json(&run.join("results.json"));
    let (code, doc) = recheck(run);
    assert_eq!(doc["valid"], results["valid"], "{doc}");
    assert_eq!(doc["checker"], expected_checker, "{doc}");
    let want = match &results["valid"] {
        serde_json::Value::Bool(true) => 0,
        serde_json::Value::Bool(false) => 1,
        _ => 2,
    };
    assert_eq!(code, Some(want), "{doc}");
}
