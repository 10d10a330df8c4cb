//! The example Python client (examples/clients/etcd_client.py) through `faultline test
//! --client-command` against etcd on a local cluster: the same verdict as the built-in
//! client, a history full of operations, and the command recorded in test.json.
//!
//! Needs root, iproute2, openssh-server, etcd-server and python3; without them it
//! prints why and passes. Namespaces `flxK`, subnet 10.89.K.0 (K from the process id),
//! apart from the other cluster tests'.

use crate::common::json;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        // The client command's path is relative to the repository.
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("FAULTLINE_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run faultline")
}

/// `faultline test` with `extra` arguments; returns the exit code, stdout and the run.
fn run(
    cluster: &str,
    store: &Path,
    workload: &str,
    extra: &[&str],
) -> (Option<i32>, String, std::path::PathBuf) {
    let mut args = vec![
        "test",
        "--workload",
        workload,
        "--cluster",
        cluster,
        "--time-limit",
        "4",
        "--store",
        store.to_str().unwrap(),
        "--seed",
        "11",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let out = faultline(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("faultline {args:?}:\n{stdout}");
    assert!(
        out.status.code().is_some(),
        "killed: stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let run = store.join(format!("etcd-{workload}/latest"));
    let run = std::fs::canonicalize(&run).unwrap_or(run);
    (out.status.code(), format!("{stdout}\n{stderr}"), run)
}

#[test]
fn the_python_example_client_agrees_with_the_built_in_one() {
    if let Some(reason) = crate::common::skip_reason(&["/usr/bin/etcd", "/usr/bin/python3"]) {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let _serial = crate::common::serial();
    let (_guard, _) = crate::common::up_cluster(&dir, "flx", 89, 3);
    let cluster_s = dir.to_str().unwrap();

    for workload in ["register", "set", "append", "counter"] {
        let builtin_store = tmp.path().join(format!("builtin-{workload}"));
        let (code, out, _) = run(cluster_s, &builtin_store, workload, &[]);
        assert_eq!(code, Some(0), "built-in client, {workload}: {out}");

        let store = tmp.path().join(format!("external-{workload}"));
        let (code, out, run) = run(
            cluster_s,
            &store,
            workload,
            &[
                "--client-command",
                "python3 examples/clients/etcd_client.py",
                "--client-env",
                "ETCD_PORT=2379",
            ],
        );
        // The same verdict as the built-in client: valid.
        assert_eq!(code, Some(0), "external client, {workload}: {out}");
        let results = json(&run.join("results.json"));
        assert_eq!(results["valid"], true, "{results}");
        let ok = results["stats"]["ok"].as_u64().unwrap_or(0);
        assert!(ok > 20, "few successful operations: {results}");
        let test = json(&run.join("test.json"));
        assert_eq!(
            test["client"],
            serde_json::json!({
                "argv": ["python3", "examples/clients/etcd_client.py"],
                "env": {"ETCD_PORT": "2379"},
            }),
            "{test}"
        );
        // No operation ended in a protocol error or a client crash.
        let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
        for line in history.lines() {
            assert!(
                !line.contains("protocol error") && !line.contains("died during"),
                "{line}"
            );
        }
        // Reads saw written values (the client really talks to etcd).
        let read_something = history.lines().any(|l| {
            let op: serde_json::Value = serde_json::from_str(l).unwrap();
            op["type"] == "ok"
                && match workload {
                    "register" => op["f"] == "read" && !op["value"].is_null(),
                    "set" => {
                        op["f"] == "read" && op["value"].as_array().is_some_and(|e| !e.is_empty())
                    }
                    "counter" => op["f"] == "read" && op["value"].as_i64().is_some_and(|n| n > 0),
                    _ => op["value"].as_array().is_some_and(|m| {
                        m.iter()
                            .any(|m| m[0] == "r" && m[2].as_array().is_some_and(|l| !l.is_empty()))
                    }),
                }
        });
        assert!(read_something, "no read saw a value");
    }
}
