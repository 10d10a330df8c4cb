//! `faultline test --db postgres` end to end on a local cluster: Debian's PostgreSQL
//! server on the first node, list-append transactions from clients bound to every
//! node, and the Elle checker's verdict.
//!
//! (a) serializable, checked against serializable: valid.
//! (b) read committed, checked against serializable: invalid, with the cycles read
//!     committed allows (G-single read skew, G2-item write skew...) named and
//!     explained; `faultline check` on the stored run agrees (the model is stored).
//! (c) `faultline db` pause, resume, kill and start on the server.
//!
//! Needs root, iproute2, openssh-server and postgresql; without them it prints why and
//! passes. Its namespaces and subnet (`flpK`/10.86.K.0) differ from the other cluster
//! tests', so it can run beside them.

use crate::common::{faultline, step};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

fn skip_reason() -> Option<String> {
    if let Some(r) = crate::common::skip_reason(&[
        "/usr/lib/postgresql",
        "/usr/sbin/runuser",
        "/usr/sbin/start-stop-daemon",
    ]) {
        return Some(r);
    }
    let has_server = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().any(|e| e.path().join("bin/postgres").exists()))
        .unwrap_or(false);
    (!has_server).then(|| "no /usr/lib/postgresql/*/bin/postgres (install postgresql)".into())
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a postgres append test left: its exit code, stored folder, test.json and
/// results.json.
struct Run {
    code: Option<i32>,
    dir: PathBuf,
    test: Value,
    results: Value,
}

/// Runs a postgres append test.
fn pg_run(cluster: &str, store: &Path, extra: &[&str], t0: Instant) -> Run {
    let mut args = vec![
        "test",
        "--db",
        "postgres",
        "--workload",
        "append",
        "--cluster",
        cluster,
        "--store",
        store.to_str().unwrap(),
        "--no-progress",
        // As fast as they go, ten clients over the workload's three active keys:
        // plenty of concurrent transactions on the same rows.
        "--rate",
        "0",
        "--concurrency",
        "10",
        "--time-limit",
        "6",
    ];
    args.extend_from_slice(extra);
    let out = faultline(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    step(&format!("faultline test {extra:?}: {}", stdout.trim()), t0);
    let run = std::fs::read_dir(store)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}\nstdout:\n{stdout}\nstderr:\n{stderr}",
                store.display()
            )
        })
        .flatten()
        .map(|e| e.path().join("latest"))
        .find(|p| p.join("results.json").is_file())
        .unwrap_or_else(|| panic!("no stored run\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    // The server's log came back from n1, and only n1 ran a server.
    let log = run.join("n1").join("postgres.log");
    assert!(
        std::fs::metadata(&log)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "{} missing or empty",
        log.display()
    );
    assert!(!run.join("n2").exists(), "n2 has logs: it ran no server");
    Run {
        code: out.status.code(),
        test: json(&run.join("test.json")),
        results: json(&run.join("results.json")),
        dir: run,
    }
}

/// Whether the server on n1 accepts connections (pg_isready, run on n1).
fn accepting(cluster: &str, host: &str) -> bool {
    faultline(&[
        "exec",
        "--cluster",
        cluster,
        "--on",
        "n1",
        "--",
        "pg_isready",
        "-h",
        host,
        "-t",
        "2",
    ])
    .status
    .success()
}

fn db(cluster: &str, action: &str) {
    let out = faultline(&["db", action, "--db", "postgres", "--cluster", cluster]);
    assert!(
        out.status.success(),
        "faultline db {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the server's directory on n1 is gone (teardown ran).
fn torn_down(cluster: &str) -> bool {
    let out = faultline(&[
        "exec",
        "--cluster",
        cluster,
        "--on",
        "n1",
        "--",
        "test",
        "-e",
        "/opt/postgres",
    ]);
    !out.status.success()
}

#[test]
fn postgres_isolation_levels_on_a_local_cluster() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let _serial = crate::common::serial();
    let (_guard, _) = crate::common::up_cluster(&dir, "flp", 86, 3);
    step("cluster up", t0);
    let cluster_s = dir.to_str().unwrap();

    // (a) Serializable keeps its promise.
    let Run {
        code,
        dir: run,
        test,
        results,
    } = pg_run(
        cluster_s,
        &tmp.path().join("store-a"),
        &["--isolation", "serializable", "--seed", "7"],
        t0,
    );
    assert_eq!(code, Some(0), "{results}");
    assert_eq!(results["valid"], true, "{results}");
    assert_eq!(test["isolation"], "serializable");
    assert_eq!(test["consistency_model"], "serializable");
    assert_eq!(results["workload"]["consistency_model"], "serializable");
    let ok = results["stats"]["ok"].as_u64().unwrap_or(0);
    assert!(ok > 50, "few committed transactions: {}", results["stats"]);
    // Contention this high aborts many serializable transactions, some of them at
    // COMMIT: every one is a fail (the server rolled it back), never an info.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let aborted: Vec<Value> = history
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|op| op["error"].as_str().is_some_and(|e| e.contains("(40001)")))
        .collect();
    assert!(
        !aborted.is_empty(),
        "no serialization failure in the history"
    );
    for op in &aborted {
        assert_eq!(op["type"], "fail", "{op}");
    }
    assert!(torn_down(cluster_s), "/opt/postgres left on n1");

    // (b) Read committed, checked against serializable: the anomalies it allows.
    let Run {
        code,
        dir: run,
        test,
        results,
    } = pg_run(
        cluster_s,
        &tmp.path().join("store-b"),
        &[
            "--isolation",
            "read-committed",
            "--consistency-model",
            "serializable",
            "--seed",
            "8",
        ],
        t0,
    );
    let w = &results["workload"];
    assert_eq!(code, Some(1), "{w}");
    assert_eq!(results["valid"], false, "{w}");
    assert_eq!(test["isolation"], "read-committed");
    assert_eq!(w["consistency_model"], "serializable");
    let types: Vec<&str> = w["anomaly_types"]
        .as_array()
        .expect("anomaly types")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    step(&format!("read committed: {types:?}"), t0);
    let cycles: Vec<&str> = types
        .iter()
        .copied()
        .filter(|t| ["G-single", "G2-item", "G-nonadjacent", "G2"].contains(t))
        .collect();
    assert!(
        !cycles.is_empty(),
        "no read-committed cycle (G-single, G2-item...) found: {types:?}"
    );
    for t in &cycles {
        let found = w["anomalies"][t].as_array().expect("anomalies of a type");
        assert!(!found.is_empty(), "{t}: none kept");
        for a in found {
            let text = a["explanation"].as_str().unwrap_or("");
            assert!(text.contains("T1"), "{t} explained as {text:?}");
            assert!(
                a["cycle"]["steps"].as_array().is_some_and(|s| s.len() >= 2),
                "{a}"
            );
        }
    }
    // Serializable is ruled out; read committed itself is not.
    let not: Vec<&str> = w["not"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(w["also_not"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(not.contains(&"serializable"), "{not:?}");
    assert!(!not.contains(&"read-committed"), "{not:?}");
    assert!(torn_down(cluster_s), "/opt/postgres left on n1");
    // Re-checking the stored run uses the model it was checked against...
    let again = faultline(&["check", run.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{text}");
    assert!(text.contains("INVALID for serializable"), "{text}");
    // ... and read committed allows all of it: nothing read committed forbids.
    let rc = faultline(&[
        "check",
        run.to_str().unwrap(),
        "--consistency-model",
        "read-committed",
    ]);
    let text = String::from_utf8_lossy(&rc.stdout);
    assert_ne!(rc.status.code(), Some(1), "{text}");

    // (c) The DB automation: pause, resume, kill, start, teardown.
    let host = format!("10.86.{}.11", crate::common::run_id());
    db(cluster_s, "setup");
    assert!(accepting(cluster_s, &host));
    db(cluster_s, "pause");
    assert!(!accepting(cluster_s, &host), "answers while paused");
    db(cluster_s, "resume");
    assert!(accepting(cluster_s, &host), "not answering after resume");
    db(cluster_s, "kill");
    assert!(!accepting(cluster_s, &host), "answers after kill");
    db(cluster_s, "start");
    assert!(accepting(cluster_s, &host), "not answering after start");
    db(cluster_s, "teardown");
    assert!(torn_down(cluster_s), "/opt/postgres left on n1");
    step("done", t0);
}
