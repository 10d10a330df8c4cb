//! `faultline test` end to end on a local cluster: etcd set up on real nodes (network
//! namespaces + sshd), a workload run through the binary, the verdict, the store folder,
//! and a controller SIGKILLed mid-run leaving a history `faultline check` reads.
//!
//! Needs root, iproute2, openssh-server and etcd-server; without them it prints why and
//! passes. Its namespaces and subnet (`fleK`/10.80.K.0, K from the process id) differ
//! from cluster.rs's and from a manual cluster's, so it can run beside them.

use crate::common::{faultline, json, step};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn skip_reason() -> Option<String> {
    crate::common::skip_reason(&["/usr/bin/etcd", "/usr/bin/etcdctl"])
}

/// Runs `faultline test` and checks its exit code, verdict and store folder.
fn test_run(
    cluster: &str,
    store: &Path,
    workload: &str,
    secs: &str,
    nodes: &[String],
    t0: Instant,
) {
    let store_s = store.to_str().unwrap();
    let out = faultline(&[
        "test",
        "--db",
        "etcd",
        "--workload",
        workload,
        "--cluster",
        cluster,
        "--time-limit",
        secs,
        "--store",
        store_s,
        "--seed",
        "7",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    step(
        &format!("faultline test --workload {workload}: {}", stdout.trim()),
        t0,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("valid"), "{stdout}");

    let run = store.join(format!("etcd-{workload}/latest"));
    assert!(run.join("history.jsonl").is_file());
    let results = json(&run.join("results.json"));
    assert_eq!(results["valid"], true, "{results}");
    let ok = results["stats"]["ok"].as_u64().unwrap_or(0);
    assert!(ok > 20, "few successful operations: {results}");
    let test = json(&run.join("test.json"));
    assert_eq!(test["seed"], 7);
    assert_eq!(test["workload"], workload);
    let cmdline = test["command_line"].as_array().expect("command line");
    assert!(cmdline.iter().any(|a| a == "--time-limit"), "{test}");
    if workload == "register" {
        assert_eq!(test["checker"]["model"], "cas-register");
        // The report hook ran after results.json.
        for page in ["index.html", "timeline.html"] {
            assert!(
                run.join(page).is_file(),
                "{page} missing in {}",
                run.display()
            );
        }
    }
    let log = std::fs::read_to_string(run.join("faultline.log")).unwrap();
    assert!(log.contains("setting up"), "{log}");
    for n in nodes {
        let etcd_log = run.join(n).join("etcd.log");
        assert!(
            std::fs::metadata(&etcd_log)
                .map(|m| m.len() > 0)
                .unwrap_or(false),
            "{} missing or empty",
            etcd_log.display()
        );
    }
    // The stored run re-checks the same (the model comes from test.json).
    let again = faultline(&["check", run.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

/// Waits (bounded) until `history` has a couple of kB (the run is going), applies
/// `signal` to the child, and waits for it to exit; returns its output.
fn wait_for_history(
    history: &Path,
    child: &mut Option<std::process::Child>,
    signal: impl Fn(&std::process::Child),
) -> Output {
    let mut c = child.take().expect("a child");
    let deadline = Instant::now() + Duration::from_secs(40);
    while std::fs::metadata(history).map(|m| m.len()).unwrap_or(0) < 2000 {
        if Instant::now() > deadline {
            let _ = c.kill();
            let _ = c.wait();
            panic!("no history after 40 s");
        }
        if let Ok(Some(status)) = c.try_wait() {
            panic!("faultline test exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    signal(&c);
    // The child must finish on its own (bounded): in-flight ops, teardown, check.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        match c.try_wait() {
            Ok(Some(_)) => break,
            _ if Instant::now() > deadline => {
                let _ = c.kill();
                let _ = c.wait();
                panic!("faultline test did not exit within 40 s of the signal");
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let out = c.wait_with_output().expect("child output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("  exit {:?}: {}", out.status.code(), stdout.trim());
    out
}

#[test]
fn faultline_test_end_to_end_on_a_local_cluster() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let _serial = crate::common::serial();
    let (_guard, state) = crate::common::up_cluster(&dir, "fle", 80, 3);
    let nodes: Vec<String> = (1..=state.nodes.len()).map(|i| format!("n{i}")).collect();
    step("cluster up", t0);
    let cluster_s = dir.to_str().unwrap();
    let store = tmp.path().join("store");

    // --- register, 20 s: valid, exit 0, a complete store folder ---
    test_run(cluster_s, &store, "register", "20", &nodes, t0);
    // --- set, shorter ---
    test_run(cluster_s, &store, "set", "6", &nodes, t0);

    // --- append (Elle list-append), short ---
    test_run(cluster_s, &store, "append", "4", &nodes, t0);

    // --- Ctrl-C (SIGINT): stops cleanly, tears down, checks and stores ---
    let int_store = tmp.path().join("int-store");
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--workload",
            "register",
            "--cluster",
            cluster_s,
            "--time-limit",
            "60",
        ])
        .arg("--store")
        .arg(&int_store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start faultline test");
    let out = wait_for_history(
        &int_store.join("latest/history.jsonl"),
        &mut Some(child),
        |c| {
            // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
        },
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let run = int_store.join("latest");
    let results = json(&run.join("results.json"));
    assert_eq!(results["run"]["interrupted"], true, "{results}");
    assert_eq!(results["valid"], true, "{results}");
    // Torn down: no member answers.
    let st = faultline(&["db", "status", "--cluster", cluster_s]);
    let st_out = String::from_utf8_lossy(&st.stdout);
    assert!(!st_out.contains("LEADER"), "{st_out}");
    step("Ctrl-C: stopped, checked, stored, torn down", t0);

    // --- SIGKILL of the controller mid-run: the history survives and checks ---
    let kill_store = tmp.path().join("kill-store");
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--workload",
            "register",
            "--cluster",
            cluster_s,
            "--time-limit",
            "60",
        ])
        .arg("--store")
        .arg(&kill_store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start faultline test");
    wait_for_history(
        &kill_store.join("latest/history.jsonl"),
        &mut Some(child),
        |c| {
            // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
        },
    );
    step("controller SIGKILLed mid-run", t0);
    let run = kill_store.join("latest");
    let check = faultline(&["check", run.to_str().unwrap()]);
    let code = check.status.code();
    step(&format!("faultline check after SIGKILL: exit {code:?}"), t0);
    assert!(
        matches!(code, Some(0..=2)),
        "exit {code:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // The controller never tore etcd down: do it now (the cluster guard would kill it
    // anyway, but this exercises teardown after a crash).
    let td = faultline(&["db", "teardown", "--cluster", cluster_s]);
    assert_eq!(
        td.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&td.stderr)
    );
    step("done", t0);
    assert!(
        t0.elapsed() < Duration::from_secs(120),
        "took {:?}",
        t0.elapsed()
    );
}

/// `faultline test --nemesis ...` on its own cluster (prefix `flw`, subnet 10.81.K.0,
/// so it runs beside the test above); returns the exit code, the run's folder and
/// standard output.
fn nemesis_run(
    cluster: &str,
    store: &Path,
    extra: &[&str],
    t0: Instant,
) -> (Option<i32>, PathBuf, String) {
    let mut args = vec![
        "test",
        "--workload",
        "register",
        "--cluster",
        cluster,
        "--store",
        store.to_str().unwrap(),
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let out = faultline(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    step(
        &format!(
            "faultline test {extra:?}: exit {:?}: {}",
            out.status.code(),
            stdout.trim()
        ),
        t0,
    );
    (
        out.status.code(),
        store.join("etcd-register/latest"),
        stdout.into_owned(),
    )
}

/// The nemesis's events are in the history (process "nemesis"), and nothing it added
/// is left on any node.
fn assert_nemesis_cleaned(cluster: &str, run: &Path, first_f: &str) {
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.contains(&format!("\"process\":\"nemesis\",\"f\":\"{first_f}\"")),
        "no {first_f} nemesis event in the history"
    );
    assert!(
        history.contains("\"f\":\"heal\""),
        "no final heal in the history"
    );
    let rules = faultline(&["exec", "--cluster", cluster, "--", "iptables", "-S"]);
    let text = String::from_utf8_lossy(&rules.stdout);
    assert_eq!(rules.status.code(), Some(0), "{text}");
    assert!(
        !text.contains("FAULTLINE"),
        "a FAULTLINE chain remains:\n{text}"
    );
}

#[test]
fn faultline_test_with_a_nemesis_on_a_local_cluster() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let _serial = crate::common::serial();
    let (_guard, _) = crate::common::up_cluster(&dir, "flw", 81, 3);
    step("cluster up", t0);
    let cluster_s = dir.to_str().unwrap();

    // (a) n3 alone for 3 s out of every 6 while the clients on n1 and n2 write the
    // same key (all ten threads share a key) and the clients on n3 keep making
    // serializable reads, which n3 answers from its own stale copy: not
    // linearizable, every time. The short op timeout matters: without it n3's
    // clients sit in writes that cannot commit for the whole partition and make
    // hardly any reads.
    let store = tmp.path().join("store-a");
    let junit = tmp.path().join("ci/junit.xml");
    let (code, run, stdout) = nemesis_run(
        cluster_s,
        &store,
        &[
            "--json",
            "--junit",
            junit.to_str().unwrap(),
            // Matches what every etcd logs: the log-file-pattern checker's own case.
            "--log-pattern",
            "(?i)etcd",
            "--serializable-reads",
            "--nemesis",
            "partition",
            "--partition",
            "n3",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "12",
            "--rate",
            "200",
            "--op-timeout",
            "0.5",
            "--seed",
            "11",
        ],
        t0,
    );
    let results = json(&run.join("results.json"));
    assert_eq!(code, Some(1), "{results}");
    assert_eq!(results["valid"], false, "{results}");
    let failures = results["workload"]["failures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!failures.is_empty(), "no explanation: {results}");
    // What a CI job reads: the JSON document alone on stdout, and the JUnit file with
    // the explanation as the failure.
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert_eq!(doc["valid"], false, "{doc}");
    assert_eq!(doc["exit_code"], 1, "{doc}");
    assert_eq!(doc["runs"][0]["results"]["valid"], false, "{doc}");
    assert_eq!(results["log_patterns"]["valid"], false, "{results}");
    assert!(results["log_patterns"]["count"].as_u64().unwrap_or(0) > 0);
    let xml = std::fs::read_to_string(&junit).expect("junit file");
    // Two checkers failed: the workload's and the log patterns'.
    assert!(xml.contains(r#"tests="2" failures="2""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="log-file-pattern""#),
        "{xml}"
    );
    assert!(xml.contains("cannot be linearized"), "{xml}");
    assert_nemesis_cleaned(cluster_s, &run, "start-partition");
    step("(a) stale serializable reads under a partition: exit 1", t0);

    // (b) linearizable reads through partitions, kills and pauses: valid.
    let store = tmp.path().join("store-b");
    let (code, run, _) = nemesis_run(
        cluster_s,
        &store,
        &[
            "--nemesis",
            "partition,kill,pause",
            "--nemesis-interval",
            "2",
            // Nothing like this in a healthy etcd's log.
            "--log-pattern",
            "panic:|fatal error:",
            "--time-limit",
            "14",
            "--recovery-time",
            "5",
            // This seed's schedule has a partition, a pause and a kill.
            "--seed",
            "2",
        ],
        t0,
    );
    let results = json(&run.join("results.json"));
    assert_eq!(code, Some(0), "{results}");
    assert_eq!(results["valid"], true, "{results}");
    assert_eq!(results["log_patterns"]["valid"], true, "{results}");
    assert!(results["log_patterns"]["files"].as_u64().unwrap_or(0) >= 3);
    for f in ["pause", "kill"] {
        let event = format!("\"process\":\"nemesis\",\"f\":\"{f}\"");
        let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
        assert!(history.contains(&event), "no {f} nemesis event");
    }
    assert_nemesis_cleaned(cluster_s, &run, "start-partition");
    step(
        "(b) linearizable reads under partition,kill,pause: exit 0",
        t0,
    );
    assert!(
        t0.elapsed() < Duration::from_secs(120),
        "took {:?}",
        t0.elapsed()
    );
}

/// What a throwaway cluster could leave behind: namespaces, links, cluster folders.
fn host_network_and_folders() -> (String, String, Vec<PathBuf>) {
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    // Link lines carry counters that change; their names do not.
    let names: Vec<String> = String::from_utf8_lossy(&links.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_string()))
        .collect();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("faultline-cluster-"))
        })
        .collect();
    folders.sort();
    (
        String::from_utf8_lossy(&ns.stdout).into_owned(),
        names.join(" "),
        folders,
    )
}

#[test]
fn a_test_without_nodes_runs_on_a_throwaway_cluster_and_leaves_nothing() {
    if let Some(r) = skip_reason() {
        eprintln!("SKIPPED: {r}");
        return;
    }
    let _serial = crate::common::serial();
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let before = host_network_and_folders();
    let store = tmp.path().join("store");
    let out = faultline(&[
        "test",
        "--db",
        "etcd",
        "--workload",
        "register",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "3",
        "--time-limit",
        "10",
        "--local-nodes",
        "3",
        "--no-progress",
        "--store",
        store.to_str().unwrap(),
    ]);
    step("throwaway cluster run", t0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("throwaway local cluster"), "{stderr}");
    let results = json(&store.join("latest/results.json"));
    assert_eq!(results["valid"], true, "{results}");
    assert_eq!(host_network_and_folders(), before, "left behind");

    // Ctrl-C mid-run: the run stops, is checked, and the cluster still goes.
    let int_store = tmp.path().join("int-store");
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--workload", "register", "--local-nodes", "3"])
        .args(["--time-limit", "60", "--no-progress", "--store"])
        .arg(&int_store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start faultline test");
    let out = wait_for_history(
        &int_store.join("latest/history.jsonl"),
        &mut Some(child),
        |c| {
            // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
        },
    );
    step("interrupted throwaway run", t0);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        host_network_and_folders(),
        before,
        "left behind after Ctrl-C"
    );
}
