//! `faultline test --suite` end to end: the shipped examples/suites/etcd.toml (etcd as
//! shell commands, the Python example client) on a local cluster, a variant with the
//! built-in client under kill and pause faults given on the command line, and the
//! suite's DB driven by `faultline db --db shell`.
//!
//! Needs root, iproute2, openssh-server, etcd-server and python3; without them the
//! cluster test prints why and passes. Namespaces `flsK`, subnet 10.88.K.0 (K from the
//! process id), apart from the other cluster tests. The bad-file test runs anywhere.

use crate::common::{faultline, json};
use std::path::{Path, PathBuf};
use std::process::Output;

fn example_suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/suites/etcd.toml")
}

fn assert_exit(out: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

#[test]
fn etcd_suite_on_a_local_cluster() {
    if let Some(reason) =
        crate::common::skip_reason(&["/usr/bin/etcd", "/usr/bin/etcdctl", "/usr/bin/python3"])
    {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let _serial = crate::common::serial();
    let (_guard, _) = crate::common::up_cluster(&dir, "fls", 88, 3);
    let cluster_s = dir.to_str().unwrap();
    let store = tmp.path().join("store");
    let store_s = store.to_str().unwrap();
    let suite = example_suite();
    let suite_s = suite.to_str().unwrap();

    // --- The shipped suite, as the README shows it ---
    let out = faultline(&[
        "test",
        "--suite",
        suite_s,
        "--cluster",
        cluster_s,
        "--time-limit",
        "5",
        "--store",
        store_s,
        "--no-progress",
    ]);
    let stdout = assert_exit(&out, 0);
    assert!(stdout.contains("etcd-suite-register: valid"), "{stdout}");
    let run = store.join("etcd-suite-register/latest");
    let results = json(&run.join("results.json"));
    assert_eq!(results["valid"], true, "{results}");
    assert!(
        results["stats"]["ok"].as_u64().unwrap_or(0) > 10,
        "{results}"
    );
    let test = json(&run.join("test.json"));
    assert_eq!(test["db"], "etcd", "{test}");
    assert_eq!(
        test["suite"]["text"].as_str(),
        Some(std::fs::read_to_string(&suite).unwrap().as_str()),
        "the suite's text is stored"
    );
    assert_eq!(test["client"]["argv"][0], "python3", "{test}");
    assert_eq!(test["client"]["env"]["ETCD_PORT"], "2379", "{test}");
    crate::common::assert_recheck_agrees(&run, "linearizable");
    for n in ["n1", "n2", "n3"] {
        let log = run.join(n).join("etcd.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            text.contains(&format!("starting etcd member {n}")),
            "{}: {text:.300}",
            log.display()
        );
    }
    // Torn down: the suite's primaries script finds no leader.
    let p = faultline(&[
        "db",
        "primaries",
        "--db",
        "shell",
        "--suite",
        suite_s,
        "--cluster",
        cluster_s,
    ]);
    assert_eq!(assert_exit(&p, 0).trim(), "");

    // --- The built-in client, faults and workload from the command line ---
    let text = std::fs::read_to_string(&suite).unwrap();
    let start = text.find("[client]").expect("[client] in the suite");
    let end = text.find("[workload]").expect("[workload] in the suite");
    let variant = format!(
        "{}[client]\nbuiltin = \"etcd\"\nport = 2379\n\n{}",
        &text[..start],
        &text[end..]
    );
    let variant_path = tmp.path().join("etcd-builtin.toml");
    std::fs::write(&variant_path, variant).unwrap();
    let out = faultline(&[
        "test",
        "--suite",
        variant_path.to_str().unwrap(),
        "--cluster",
        cluster_s,
        "--time-limit",
        "12",
        "--workload",
        "set",
        "--nemesis",
        "kill,pause",
        "--nemesis-interval",
        "2",
        // The schedule follows the seed: this one starts a pause, a kill and a pause
        // (a random one had neither a kill nor a pause in about one run in four).
        "--seed",
        "11002470335281382654",
        "--store",
        store_s,
        "--no-progress",
    ]);
    let stdout = assert_exit(&out, 0);
    assert!(stdout.contains("etcd-suite-set: valid"), "{stdout}");
    let run = store.join("etcd-suite-set/latest");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    // The suite's kill and pause scripts ran as the nemesis's faults.
    assert!(history.contains("\"f\":\"kill\""), "no kill in the history");
    assert!(
        history.contains("\"f\":\"pause\""),
        "no pause in the history"
    );
    let test = json(&run.join("test.json"));
    assert!(test["client"].is_null(), "built-in client: {test}");

    // --- db setup / primaries / kill / teardown through the suite's scripts ---
    let db = |action: &str| {
        faultline(&[
            "db",
            action,
            "--db",
            "shell",
            "--suite",
            suite_s,
            "--cluster",
            cluster_s,
        ])
    };
    assert_exit(&db("setup"), 0);
    let leader = assert_exit(&db("primaries"), 0);
    assert_eq!(leader.split_whitespace().count(), 1, "one leader: {leader}");
    assert_exit(&db("kill"), 0);
    assert_eq!(assert_exit(&db("primaries"), 0).trim(), "", "all killed");
    assert_exit(&db("teardown"), 0);
}

#[test]
fn a_bad_suite_file_is_rejected_naming_the_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.toml");
    std::fs::write(&path, "[db]\nstart = \"true\"\n\n[run]\ntime_limt = 5\n").unwrap();
    let out = faultline(&[
        "test",
        "--suite",
        path.to_str().unwrap(),
        "--local",
        "--nodes",
        "a",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{stderr}");
    assert!(stderr.contains("bad.toml:5:1: run.time_limt"), "{stderr}");

    // --db shell without a suite, or with one without [db]: bad arguments too.
    let out = faultline(&["test", "--db", "shell", "--local", "--nodes", "a"]);
    assert_eq!(out.status.code(), Some(254));
    std::fs::write(&path, "[run]\nrate = 1\n").unwrap();
    let out = faultline(&[
        "test",
        "--suite",
        path.to_str().unwrap(),
        "--db",
        "shell",
        "--local",
        "--nodes",
        "a",
    ]);
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [db]"));
}
