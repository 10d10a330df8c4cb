//! examples/ci/faultline-ci.sh, the body of the sample CI jobs, as a CI runner calls
//! it: it brings up a local cluster, runs the example etcd suite, leaves junit.xml,
//! results.json and the store folder, exits with faultline's code, and always takes
//! the cluster down.
//!
//! Needs root, iproute2, openssh-server, etcd-server and python3; without them it says
//! why and passes. Namespaces `flciK`, subnet 10.96.K.0 (K from the process id).

use crate::common::run_id;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn the_sample_ci_job_runs_a_suite_and_keeps_its_artifacts() {
    let _serial = crate::common::serial();
    if let Some(reason) =
        crate::common::skip_reason(&["/usr/bin/etcd", "/usr/bin/python3", "/usr/bin/bash"])
    {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("ci-out");
    let prefix = format!("flci{}", run_id());
    let out = Command::new("bash")
        .arg(root.join("examples/ci/faultline-ci.sh"))
        .arg(root.join("examples/suites/etcd.toml"))
        .args(["--time-limit", "4", "--seed", "3"])
        .current_dir(root)
        .env("FAULTLINE", env!("CARGO_BIN_EXE_faultline"))
        .env("OUT", &out_dir)
        .env("NODES", "3")
        .env("PREFIX", &prefix)
        .env("SUBNET", format!("10.96.{}.0", run_id()))
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");

    // results.json is the --json document: one run, valid, with its store folder.
    let text = std::fs::read_to_string(out_dir.join("results.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(doc["valid"], true, "{doc}");
    assert_eq!(doc["exit_code"], 0, "{doc}");
    let store = doc["runs"][0]["store"].as_str().expect("store folder");
    assert!(Path::new(store).join("history.jsonl").is_file(), "{store}");
    assert!(
        Path::new(store).starts_with(out_dir.join("store")),
        "{store}"
    );

    let xml = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert!(
        xml.contains(r#"tests="1" failures="0" errors="0""#),
        "{xml}"
    );

    // The trap took the cluster down: no namespace of ours is left.
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(
        !ns.lines().any(|l| l.starts_with(&format!("{prefix}-"))),
        "left behind: {ns}"
    );
}
