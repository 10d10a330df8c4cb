//! `faultline check` as users run it: exit codes, messages naming file and line, JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("the faultline binary runs")
}

fn shared() -> PathBuf {
    match std::env::var_os("FAULTLINE_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn malformed_histories_exit_254_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let inv = r#"{"index":0,"type":"invoke","process":0,"f":"write","value":1}"#;
    let cases: &[(&str, String, &str)] = &[
        ("json.jsonl", format!("{inv}\n{{\"index\":1,\"type\":\"ok\""), "invalid JSON"),
        (
            "type.jsonl",
            format!("{inv}\n{{\"index\":1,\"type\":\"done\",\"process\":0,\"f\":\"write\",\"value\":1}}"),
            "unknown type",
        ),
        (
            "orphan.jsonl",
            r#"{"index":0,"type":"ok","process":4,"f":"read","value":1}"#.to_string(),
            "no open invocation",
        ),
        (
            "twice.jsonl",
            format!("{inv}\n{{\"index\":1,\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}}"),
            "still open",
        ),
        (
            "gap.jsonl",
            format!("{inv}\n{{\"index\":5,\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}}"),
            "not consecutive",
        ),
        (
            "missing.jsonl",
            format!("{inv}\n{{\"index\":1,\"type\":\"ok\",\"process\":0,\"value\":1}}"),
            "missing field `f`",
        ),
        (
            "after-info.jsonl",
            format!(
                "{inv}\n{{\"index\":1,\"type\":\"info\",\"process\":0,\"f\":\"write\",\"value\":1}}\n\
                 {{\"index\":2,\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}}"
            ),
            "after its operation ended with info",
        ),
        (
            "model.jsonl",
            "{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":null}\n\
             {\"index\":1,\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":null}"
                .to_string(),
            "needs a value",
        ),
        ("broken.edn", "{:index 0, :type :invoke, :process 0, :f :read, :value nil}\n{:index 1 :type".to_string(), ""),
    ];
    for (name, text, needle) in cases {
        let path = write(dir.path(), name, text);
        let out = faultline(&["check", &path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{name}: {stderr}");
        assert!(
            stderr.contains(name),
            "{name}: the message names the file: {stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{name}: expected {needle:?} in {stderr}"
        );
        if !name.ends_with(".edn") {
            let names_line = (1..=3).any(|l| stderr.contains(&format!(".jsonl:{l}:")));
            assert!(names_line, "{name}: names the line: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn bad_arguments_exit_254() {
    for args in [
        vec!["check", "--model", "no-such-model", "x.jsonl"],
        vec!["check", "--timeout", "-1", "x.jsonl"],
        vec!["check", "/no/such/file.jsonl"],
        vec!["check"],
        vec!["frobnicate"],
    ] {
        let out = faultline(&args);
        assert_eq!(
            out.status.code(),
            Some(254),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn verdicts_map_to_jepsen_exit_codes_and_json() {
    let etcd = shared().join("histories/etcd");
    let valid = etcd.join("etcd_002.jsonl");
    let invalid = etcd.join("etcd_000.jsonl");
    let out = faultline(&["check", valid.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let out = faultline(&[
        "check",
        "--json",
        valid.to_str().unwrap(),
        invalid.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "any invalid file makes the run invalid"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let docs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["valid"], true);
    assert_eq!(docs[1]["valid"], false);
    for d in &docs {
        for field in ["file", "model", "valid", "ops", "check_seconds"] {
            assert!(d.get(field).is_some(), "missing {field} in {d}");
        }
        assert_eq!(d["model"], "cas-register");
    }
    let e = &docs[1]["explanation"];
    assert!(e["op"]["process"].is_u64(), "{e}");
    assert!(!e["states"].as_array().unwrap().is_empty());
    assert!(e["summary"]
        .as_str()
        .unwrap()
        .contains("cannot be linearized"));
    // The same, on the terminal.
    let out = faultline(&["check", invalid.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("INVALID") && text.contains("concurrent with it"),
        "{text}"
    );
}

#[test]
fn edn_rendering_gets_the_same_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared().join("histories/etcd/etcd_000.jsonl");
    let h = faultline_checkers::history::read_file(&src, None).unwrap();
    let path = dir.path().join("history.edn");
    let mut f = std::fs::File::create(&path).unwrap();
    faultline_checkers::history::edn::write_edn(&h, &mut f).unwrap();
    drop(f);
    // A store folder stands for its history.
    let out = faultline(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key of the kv reference set that takes a search many seconds to refute: the check
/// must stop at the deadline and say unknown rather than run on.
#[test]
fn timeout_gives_unknown_and_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shared().join("histories/kv/c50-bad.jsonl")).unwrap();
    let mut out = String::new();
    let mut n = 0;
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["key"] == "0" {
            v["index"] = n.into();
            n += 1;
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    let path = write(dir.path(), "hard.jsonl", &out);
    let started = std::time::Instant::now();
    let res = faultline(&["check", "--json", "--timeout", "0.5", &path]);
    let elapsed = started.elapsed();
    assert_eq!(
        res.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    assert_eq!(doc["valid"], "unknown");
    assert!(
        doc["reason"].as_str().unwrap().contains("timed out"),
        "{doc}"
    );
    // Not a speed target (those live in the benchmarks): a sanity bound far above it.
    assert!(elapsed.as_secs() < 20, "took {elapsed:?}");
}

/// A store folder whose history was cut mid-line by a crash still checks: the partial
/// last line is left out with a warning. The same file given directly is malformed.
#[test]
fn a_store_folder_with_a_partial_last_line_checks() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let lines = [
        r#"{"index":0,"type":"invoke","process":0,"f":"write","value":1}"#,
        r#"{"index":1,"type":"ok","process":0,"f":"write","value":1}"#,
        r#"{"index":2,"type":"invoke","process":0,"f":"read","value":null}"#,
    ];
    let text = format!("{}\n{}", lines.join("\n"), r#"{"index":3,"type":"o"#);
    std::fs::write(run.join("history.jsonl"), &text).unwrap();
    std::fs::write(run.join("test.json"), r#"{"model":"cas-register"}"#).unwrap();
    let out = faultline(&["check", run.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("partial last line"), "{stderr}");
    let file = run.join("history.jsonl");
    let out = faultline(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(254));
}

#[test]
fn junit_names_each_file_with_its_explanation_or_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.jsonl", r#"{"index":0,"type":"bogus"}"#);
    let invalid = shared().join("histories/etcd/etcd_000.jsonl");
    let xml_path = dir.path().join("junit.xml");
    let out = faultline(&[
        "check",
        "--junit",
        xml_path.to_str().unwrap(),
        invalid.to_str().unwrap(),
        &bad,
    ]);
    // Unreadable input wins, as without --junit.
    assert_eq!(out.status.code(), Some(254));
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(
        xml.contains(r#"<testsuites name="faultline" tests="2" failures="1" errors="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="linearizable cas-register""#),
        "{xml}"
    );
    assert!(
        xml.contains("can't read 2 from a register holding"),
        "{xml}"
    );
    assert!(xml.contains("bad.jsonl:1: unknown type"), "{xml}");
}

/// The counter checker through the command line: a read below what was acknowledged is
/// invalid (exit 1, the explanation on the terminal and in JSON and JUnit); the same
/// history with a possible read is valid (exit 0).
#[test]
fn counter_model_judges_reads_against_the_adds() {
    let dir = tempfile::tempdir().unwrap();
    let history = |read: u64| {
        [
            r#"{"index":0,"type":"invoke","process":0,"f":"add","value":3}"#.to_string(),
            r#"{"index":1,"type":"ok","process":0,"f":"add","value":3}"#.to_string(),
            r#"{"index":2,"type":"invoke","process":1,"f":"read","value":null}"#.to_string(),
            format!(r#"{{"index":3,"type":"ok","process":1,"f":"read","value":{read}}}"#),
        ]
        .join("\n")
    };
    let bad = write(dir.path(), "bad.jsonl", &history(1));
    let good = write(dir.path(), "good.jsonl", &history(3));
    let out = faultline(&["check", "--model", "counter", &bad]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("INVALID") && text.contains("read 1, lower than the sum"),
        "{text}"
    );
    let xml = dir.path().join("junit.xml");
    let out = faultline(&[
        "check",
        "--json",
        "--model",
        "counter",
        "--junit",
        xml.to_str().unwrap(),
        &bad,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["model"], "counter");
    assert_eq!(doc["errors"][0]["lower"], 3);
    assert!(doc["explanation"].as_str().unwrap().contains("impossible"));
    let xml = std::fs::read_to_string(&xml).unwrap();
    assert!(
        xml.contains(r#"<testcase name="counter""#) && xml.contains("1 of 1 reads are impossible"),
        "{xml}"
    );
    let out = faultline(&["check", "--model", "counter", &good]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A negative add is bad input, named by file and line.
    let neg = write(
        dir.path(),
        "neg.jsonl",
        &history(3).replace("\"value\":3", "\"value\":-3"),
    );
    let out = faultline(&["check", "--model", "counter", &neg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{stderr}");
    assert!(stderr.contains("neg.jsonl:1"), "{stderr}");
}

/// Bank histories are recognised by their transfers; `--bank-total` sets the total.
#[test]
fn bank_model_is_guessed_and_takes_a_total() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bank.jsonl",
        &[
            r#"{"index":0,"type":"invoke","process":0,"f":"transfer","value":{"from":"a","to":"b","amount":3}}"#,
            r#"{"index":1,"type":"ok","process":0,"f":"transfer","value":{"from":"a","to":"b","amount":3}}"#,
            r#"{"index":2,"type":"invoke","process":1,"f":"read","value":null}"#,
            r#"{"index":3,"type":"ok","process":1,"f":"read","value":{"a":7,"b":3}}"#,
        ]
        .join("\n"),
    );
    let out = faultline(&["check", "--json", &path]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["model"].as_str(), doc["total_source"].as_str()),
        (Some("bank"), Some("first-read"))
    );
    let out = faultline(&["check", "--bank-total", "11", &path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("sums to 10, not 11"), "{text}");
}

#[test]
fn a_closed_pipe_ends_the_check_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = shared().join("histories/etcd");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("check")
        .args(&files)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `| head -1` does.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.contains("etcd_000"), "{first}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

/// A history of our own in the shape of Knossos' multi-register example (EDN, `:txn`
/// ops of `[:read k v]` / `[:write k v]` micro-ops, registers that start at 0).
const MULTI_REGISTER_EDN: &str = "\
; x and y start at 0
[{:type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]], :process 0}
{:type :invoke, :f :txn, :value [[:write :y 2]], :process 1}
{:type :ok, :f :txn, :value [[:read :x 0] [:read :y 0]], :process 0}
{:type :invoke, :f :txn, :value [[:write :x 2]], :process 2}
{:type :ok, :f :txn, :value [[:write :y 2]], :process 1}
{:type :info, :f :txn, :value [[:write :x 2]], :process 2}
{:type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]], :process 0}
{:type :ok, :f :txn, :value [[:read :x 2] [:read :y 2]], :process 0}]
";

#[test]
fn multi_register_histories_check_from_an_initial_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "multi.edn", MULTI_REGISTER_EDN);
    let zero = r#"{"x":0,"y":0}"#;
    for args in [
        vec![
            "check",
            "--model",
            "multi-register",
            "--initial-value",
            zero,
            &path,
        ],
        // Guessed from the micro-ops.
        vec!["check", "--initial-value", zero, &path],
    ] {
        let out = faultline(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}");
        assert!(
            stdout.contains("valid  (multi-register, 4 operations"),
            "{stdout}"
        );
    }
    // Unset registers cannot be read as 0.
    let out = faultline(&["check", "--model", "multi-register", &path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("can't read x 0 (micro-op 0): x holds null"),
        "{stdout}"
    );
}

#[test]
fn initial_values_that_do_not_fit_exit_254_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let multi = write(dir.path(), "multi.edn", MULTI_REGISTER_EDN);
    let reg = write(
        dir.path(),
        "reg.jsonl",
        "{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n\
         {\"index\":1,\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":0}\n",
    );
    let set = write(
        dir.path(),
        "set.jsonl",
        "{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":1}\n\
         {\"index\":1,\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1}\n",
    );
    for (args, needle) in [
        (
            vec!["--model", "multi-register", "--initial-value", "0", &multi],
            "object of keys",
        ),
        (vec!["--initial-value", "[1]", &multi], "object of keys"),
        (vec!["--initial-value", "{x", &multi], "not JSON"),
        (
            vec!["--model", "kv", "--initial-value", r#"{"a":"b"}"#, &reg],
            "one string",
        ),
        (vec!["--initial-value", "1", &set], "not set"),
        (
            vec!["--model", "list-append", "--initial-value", "1", &multi],
            "not list-append",
        ),
    ] {
        let out = faultline(&[&["check"], &args[..]].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {stderr}");
        assert!(stderr.contains("--initial-value"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: expected {needle:?} in {stderr}"
        );
    }
    // A register starts wherever it is told to.
    let out = faultline(&[
        "check",
        "--model",
        "cas-register",
        "--initial-value",
        "0",
        &reg,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = faultline(&["check", "--model", "cas-register", &reg]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_guessed_model_that_cannot_read_the_history_says_how_to_name_one() {
    let dir = tempfile::tempdir().unwrap();
    // An append makes the guess list-append, which has no "read" micro-op.
    let path = write(
        dir.path(),
        "mixed.edn",
        "{:type :invoke, :f :txn, :value [[:append :x 1]], :process 0}\n\
         {:type :ok, :f :txn, :value [[:append :x 1]], :process 0}\n\
         {:type :invoke, :f :txn, :value [[:read :x nil]], :process 1}\n\
         {:type :ok, :f :txn, :value [[:read :x 1]], :process 1}\n",
    );
    let out = faultline(&["check", &path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{stderr}");
    assert!(stderr.contains("unknown micro-op \"read\""), "{stderr}");
    assert!(stderr.contains("was guessed"), "{stderr}");
    assert!(stderr.contains("--model multi-register"), "{stderr}");
    // Named explicitly, the model is not a guess and the message stays short.
    let out = faultline(&["check", "--model", "list-append", &path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{stderr}");
    assert!(!stderr.contains("was guessed"), "{stderr}");
}

/// Our own history in the shape of Elle's published `si-without-g-single.edn`: sparse
/// indices, comments, and a G2-item cycle that snapshot isolation allows.
#[test]
fn elle_shaped_edn_is_judged_against_the_model_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "write-skew.edn",
        "; two txns each read what the other writes, and miss it\n\
         {:index 10, :type :invoke, :process 1, :f :txn, :value [[:r 5 nil] [:append 6 1]]}\n\
         {:index 11, :type :invoke, :process 2, :f :txn, :value [[:r 6 nil] [:append 5 1]]}\n\
         {:index 20, :type :ok, :process 1, :f :txn, :value [[:r 5 []] [:append 6 1]]}\n\
         {:index 21, :type :ok, :process 2, :f :txn, :value [[:r 6 []] [:append 5 1]]}\n\
         {:index 30, :type :invoke, :process 1, :f :txn, :value [[:r 5 nil] [:r 6 nil]]}\n\
         {:index 31, :type :ok, :process 1, :f :txn, :value [[:r 5 [1]] [:r 6 [1]]]}\n",
    );
    let out = faultline(&[
        "check",
        "--model",
        "list-append",
        "--consistency-model",
        "repeatable-read",
        &f,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("G2-item"), "{text}");
    let out = faultline(&[
        "check",
        "--model",
        "list-append",
        "--consistency-model",
        "snapshot-isolation",
        &f,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// rw-register's version-order assumptions, as Elle's options: without them a process
/// reading a key back to an older value is no anomaly; with --sequential-keys it is.
#[test]
fn rw_register_inference_options_reach_the_checker() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "rw.edn",
        "{:process 0, :type :ok, :value [[:w :x 1]]}\n\
         {:process 0, :type :ok, :value [[:w :x 2]]}\n\
         {:process 0, :type :ok, :value [[:r :x 1]]}\n",
    );
    let out = faultline(&[
        "check",
        "--model",
        "rw-register",
        "--consistency-model",
        "serializable",
        &f,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = faultline(&[
        "check",
        "--model",
        "rw-register",
        "--consistency-model",
        "serializable",
        "--sequential-keys",
        &f,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("cyclic-versions"), "{text}");
    // A read of a value nobody wrote: garbage unless the user says the database held it.
    let g = write(dir.path(), "garbage.edn", "{:process 0, :type :ok, :value [[:r :x 7] [:w :y 1]]}\n{:process 1, :type :ok, :value [[:r :y 1]]}\n");
    let out = faultline(&["check", "--model", "rw-register", &g]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = faultline(&[
        "check",
        "--model",
        "rw-register",
        "--allow-unwritten-reads",
        &g,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
