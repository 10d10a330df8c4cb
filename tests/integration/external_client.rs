//! External clients (docs/client-protocol.md) driven by the runner, without a cluster:
//! misbehaving client scripts (crash mid-op, slow, garbage, never answering, wrong id,
//! failing to open) and the example shell client. The run always completes, every
//! invocation has a completion, the misbehaving ops are `info`, the good ones are what
//! the client said, and no client process is left behind.

use faultline::clients::external::{ExternalClients, ExternalContext, ExternalSpec};
use faultline::runner::{self, RunConfig};
use faultline_checkers::check::check;
use faultline_checkers::history::{read_file, History, OpType, Process};
use faultline_checkers::Validity;
use faultline_workloads::gen::{self, OpSpec, SECOND};
use faultline_workloads::workload::{build, WorkloadKind, WorkloadOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A register client whose behaviour depends on the value written:
/// 1 crashes mid-op, 2 answers after the timeout, 3 writes garbage, 4 never answers
/// (a child `sleep` holds its stdout), 5 answers with the wrong id, 6 writes an
/// object that is not a completion, 7 answers twice, 8 writes a 17 MB line; other
/// writes are ok, every cas fails ("cas mismatch"), reads return 0.
const MISBEHAVING: &str = r#"#!/bin/sh
echo "client $FAULTLINE_PROCESS on $FAULTLINE_NODE starts" >&2
while IFS= read -r line; do
    case "$line" in
    *'"type":"open"'*) echo '{"type":"ok"}'; continue ;;
    *'"type":"close"'*) exit 0 ;;
    esac
    id=$(printf '%s\n' "$line" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
    case "$line" in
    *'"f":"write"'*)
        v=$(printf '%s\n' "$line" | sed -n 's/.*"value":\([0-9]*\).*/\1/p')
        case "$v" in
        1) echo "crashing on purpose" >&2; exit 3 ;;
        2) sleep 2; echo "{\"type\":\"ok\",\"id\":$id}" ;;
        3) echo 'hello, this is not JSON' ;;
        4) sleep 1000 ;;
        5) echo "{\"type\":\"ok\",\"id\":$((id + 100))}" ;;
        6) echo '{"type":"open"}' ;;
        7) echo "{\"type\":\"ok\",\"id\":$id}"; echo "{\"type\":\"ok\",\"id\":$id}" ;;
        8) head -c 17000000 /dev/zero | tr '\0' a; echo ;;
        *) echo "{\"type\":\"ok\",\"id\":$id}" ;;
        esac ;;
    *'"f":"cas"'*) echo "{\"type\":\"fail\",\"id\":$id,\"error\":\"cas mismatch\"}" ;;
    *) echo "{\"type\":\"ok\",\"id\":$id,\"value\":0}" ;;
    esac
done
"#;

fn write_script(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn factory(
    argv: Vec<String>,
    env: Vec<(String, String)>,
    marker: &str,
    log: &Path,
) -> Arc<ExternalClients> {
    Arc::new(ExternalClients::new(
        ExternalSpec { argv, env },
        ExternalContext {
            nodes: vec![
                ("n1".into(), "127.0.0.1".into()),
                ("n2".into(), "127.0.0.2".into()),
            ],
            workload: WorkloadKind::Register,
            // Unique to the test: every client (and whatever it starts) carries it in
            // its environment, which is how leftovers are found.
            key_prefix: marker.to_string(),
            log_dir: Some(log.to_path_buf()),
            open_timeout: Duration::from_secs(5),
        },
    ))
}

fn unique_marker(test: &str) -> String {
    format!("/faultline-test/{test}/{}/", std::process::id())
}

/// Checks the history's shape: consecutive processes, one completion per invocation,
/// and no process coming back after `info`.
fn assert_complete(h: &History) {
    let mut open: BTreeMap<u64, bool> = BTreeMap::new();
    let mut retired = std::collections::BTreeSet::new();
    for op in &h.ops {
        let Process::Client(p) = op.process else {
            continue;
        };
        if op.kind == OpType::Invoke {
            assert!(!retired.contains(&p), "process {p} invoked after info");
            assert!(open.insert(p, true).is_none(), "process {p} invoked twice");
        } else {
            assert!(
                open.remove(&p).is_some(),
                "completion without invocation: {op:?}"
            );
            if op.kind == OpType::Info {
                retired.insert(p);
            }
        }
    }
    assert!(open.is_empty(), "invocations without completion: {open:?}");
}

/// PIDs of live processes (zombies included) whose parent is this process, or whose
/// environment carries `marker`.
fn leftovers(marker: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let needle = format!("FAULTLINE_KEY_PREFIX={marker}");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the ')'.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let child = fields.get(1) == Some(&me.as_str());
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let marked = environ.split(|b| *b == 0).any(|v| v == needle.as_bytes());
        if child || marked {
            found.push(format!("{name}: {}", stat.trim()));
        }
    }
    found
}

/// No client process (or anything it started) remains: killed processes vanish from
/// /proc a moment after the SIGKILL, so wait a bounded while for that.
fn assert_no_leftovers(marker: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(marker);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < until, "processes left behind: {left:#?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn error_of(op: &faultline_checkers::history::Op) -> String {
    op.error
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn misbehaving_clients_make_info_and_the_run_completes() {
    // Counts this process's children: alone in a process of its own.
    if !crate::common::in_own_process(
        "external_client::misbehaving_clients_make_info_and_the_run_completes",
    ) {
        return;
    }
    let _serial = crate::common::serial();
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "misbehaving.sh", MISBEHAVING);
    let marker = unique_marker("misbehaving");
    let f = factory(vec!["sh".into(), script], vec![], &marker, dir.path());
    let mut cfg = RunConfig::new(2, vec!["n1".into(), "n2".into()]);
    cfg.op_timeout = Duration::from_millis(700);
    let write = |v: i64| gen::op(OpSpec::new("write", json!(v)).with_key(json!(0)));
    let g = gen::concat(vec![
        write(10),
        write(1),
        write(2),
        write(3),
        write(4),
        write(5),
        write(6),
        write(8),
        write(11),
        gen::op(OpSpec::new("cas", json!([0, 1])).with_key(json!(0))),
        gen::op(OpSpec::new("read", Value::Null).with_key(json!(0))),
    ]);
    let path = dir.path().join("history.jsonl");
    let s = runner::run(g, f, &cfg, &path).unwrap();
    let h = read_file(&path, None).unwrap();
    assert_complete(&h);
    assert_eq!(s.ok + s.fail + s.info, 11, "{s:?}");
    let completions: Vec<_> = h.ops.iter().filter(|o| o.kind != OpType::Invoke).collect();
    assert_eq!(completions.len(), 11);
    for op in &completions {
        let e = error_of(op);
        let want_info = match (op.f.as_ref(), op.value.as_i64()) {
            ("write", Some(1)) => Some("exit status 3"),
            ("write", Some(2)) | ("write", Some(4)) => Some("timeout"),
            ("write", Some(3)) => Some("not JSON"),
            ("write", Some(5)) => Some("a completion for id 10"),
            ("write", Some(6)) => Some("expected a completion"),
            ("write", Some(8)) => Some("a line longer than 16777216 bytes"),
            _ => None,
        };
        match want_info {
            Some(what) => {
                assert_eq!(op.kind, OpType::Info, "{op:?}");
                assert!(e.contains(what), "{what:?} not in {e:?}");
                assert!(e.contains("misbehaving.sh"), "the client is named: {e:?}");
            }
            None => match op.f.as_ref() {
                "write" => assert_eq!(op.kind, OpType::Ok, "{op:?}"),
                "cas" => {
                    assert_eq!(op.kind, OpType::Fail, "{op:?}");
                    assert_eq!(e, "cas mismatch");
                }
                _ => {
                    assert_eq!(op.kind, OpType::Ok, "{op:?}");
                    assert_eq!(op.value, json!(0));
                }
            },
        }
    }
    // The crash's last words are in its error and in clients.log.
    let crash = completions
        .iter()
        .find(|o| o.value == json!(1))
        .map(|o| error_of(o))
        .unwrap();
    assert!(crash.contains("crashing on purpose"), "{crash}");
    let log = std::fs::read_to_string(dir.path().join("clients.log")).unwrap();
    assert!(log.contains("crashing on purpose"), "{log}");
    assert!(log.contains("] client "), "{log}");
    assert_no_leftovers(&marker);
}

#[test]
fn clients_that_cannot_open_fail_their_op_and_the_run_goes_on() {
    // Counts this process's children: alone in a process of its own.
    if !crate::common::in_own_process(
        "external_client::clients_that_cannot_open_fail_their_op_and_the_run_goes_on",
    ) {
        return;
    }
    let _serial = crate::common::serial();
    let dir = tempfile::tempdir().unwrap();
    // Refuses to open on node n2, works on n1. Then: a command that does not exist,
    // one that exits at once, one that answers open with garbage and hangs.
    let script = write_script(
        dir.path(),
        "picky.sh",
        r#"#!/bin/sh
read -r open
if [ "$FAULTLINE_NODE" = n2 ]; then
    echo '{"type":"error","error":"n2 is not for me"}'
    exit 0
fi
echo '{"type":"ok"}'
while IFS= read -r line; do
    case "$line" in *'"type":"close"'*) exit 0 ;; esac
    echo '{"type":"ok"}'
done
"#,
    );
    let marker = unique_marker("open");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["sh".into(), script], "n2 is not for me"),
        (
            vec![dir.path().join("no-such-client").to_str().unwrap().into()],
            "cannot start",
        ),
        (
            vec!["sh".into(), "-c".into(), "exit 7".into()],
            "exit status 7",
        ),
        (
            vec![
                "sh".into(),
                "-c".into(),
                "read -r x; echo 'ok?'; sleep 1000".into(),
            ],
            "not JSON",
        ),
    ];
    for (argv, reason) in cases {
        let f = factory(argv.clone(), vec![], &marker, dir.path());
        let cfg = RunConfig::new(2, vec!["n1".into(), "n2".into()]);
        let g = gen::limit(
            6,
            gen::repeat(gen::op(OpSpec::new("write", json!(1)).with_key(json!(0)))),
        );
        let path = dir.path().join("history.jsonl");
        let s = runner::run(g, f, &cfg, &path).unwrap();
        let h = read_file(&path, None).unwrap();
        assert_complete(&h);
        assert_eq!(s.ok + s.fail + s.info, 6, "{argv:?}: {s:?}");
        let refused: Vec<_> = h
            .ops
            .iter()
            .filter(|o| o.kind == OpType::Fail)
            .map(error_of)
            .collect();
        assert!(!refused.is_empty(), "{argv:?}");
        for e in &refused {
            assert!(e.starts_with("no-client"), "{e}");
            assert!(e.contains(reason), "{reason:?} not in {e:?}");
        }
        // The picky client works on n1; the others nowhere.
        for op in h.ops.iter().filter(|o| o.kind != OpType::Invoke) {
            let on_n1 = op.node.as_deref() == Some("n1");
            let works = reason == "n2 is not for me" && on_n1;
            assert_eq!(
                op.kind,
                if works { OpType::Ok } else { OpType::Fail },
                "{op:?}"
            );
        }
        std::fs::remove_file(&path).unwrap();
    }
    assert_no_leftovers(&marker);
}

/// examples/clients/echo_register.sh: the protocol in POSIX shell, a register in files.
#[test]
fn the_shell_example_client_gives_a_valid_verdict() {
    // Counts this process's children: alone in a process of its own.
    if !crate::common::in_own_process(
        "external_client::the_shell_example_client_gives_a_valid_verdict",
    ) {
        return;
    }
    let _serial = crate::common::serial();
    let dir = tempfile::tempdir().unwrap();
    let registers = dir.path().join("registers");
    let marker = unique_marker("echo");
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/clients/echo_register.sh"
    );
    let f = factory(
        vec!["sh".into(), example.into()],
        vec![(
            "ECHO_REGISTER_DIR".into(),
            registers.to_str().unwrap().into(),
        )],
        &marker,
        dir.path(),
    );
    let w = build(
        WorkloadKind::Register,
        &WorkloadOptions {
            concurrency: 4,
            time_limit: SECOND,
            rate: 200.0,
            ops_per_key: 40,
            threads_per_key: 2,
            recovery_time: 0,
            ..WorkloadOptions::default()
        },
    );
    let cfg = RunConfig::new(4, vec!["n1".into(), "n2".into()]);
    let path = dir.path().join("history.jsonl");
    let s = runner::run(w.generator, f, &cfg, &path).unwrap();
    let h = read_file(&path, None).unwrap();
    assert_complete(&h);
    assert!(
        s.ok > 20,
        "{s:?} {}",
        std::fs::read_to_string(&path).unwrap()
    );
    let r = check(&w.checker, &h, &Default::default()).unwrap();
    assert_eq!(r.valid(), Validity::Valid, "{}", r.to_text());
    // The registers really are in the files.
    assert!(std::fs::read_dir(&registers).unwrap().count() > 0);
    assert_no_leftovers(&marker);
}

/// `--client-command` / `--client-env` mistakes exit 254 before any node is contacted
/// (192.0.2.1 is TEST-NET-1).
#[test]
fn bad_client_arguments_exit_254() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--client-command", "sh -c 'unbalanced"],
            "unbalanced quotes",
        ),
        (&["--client-command", "   "], "empty"),
        (
            &["--client-command", "sh x.sh", "--client-env", "NOEQUALS"],
            "KEY=VALUE",
        ),
        (&["--client-env", "A=b"], "--client-command"),
    ];
    for (extra, message) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(["test", "--nodes", "192.0.2.1"])
            .args(*extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{extra:?}: {stderr}");
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
}

/// A client that answers twice: the extra line is never taken for the next
/// operation's answer; that operation is `info` and a fresh client takes over.
#[test]
fn a_second_answer_is_a_protocol_error_for_the_next_operation() {
    // Counts this process's children: alone in a process of its own.
    if !crate::common::in_own_process(
        "external_client::a_second_answer_is_a_protocol_error_for_the_next_operation",
    ) {
        return;
    }
    let _serial = crate::common::serial();
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "misbehaving.sh", MISBEHAVING);
    let marker = unique_marker("twice");
    let f = factory(vec!["sh".into(), script], vec![], &marker, dir.path());
    let cfg = RunConfig::new(1, vec!["n1".into()]);
    let write = |v: i64| gen::op(OpSpec::new("write", json!(v)).with_key(json!(0)));
    let g = gen::concat(vec![
        write(7),
        write(12),
        gen::op(OpSpec::new("read", Value::Null).with_key(json!(0))),
    ]);
    let path = dir.path().join("history.jsonl");
    runner::run(g, f, &cfg, &path).unwrap();
    let h = read_file(&path, None).unwrap();
    assert_complete(&h);
    let done: Vec<_> = h.ops.iter().filter(|o| o.kind != OpType::Invoke).collect();
    assert_eq!(done.len(), 3);
    assert_eq!(done[0].kind, OpType::Ok, "{:?}", done[0]);
    assert_eq!(done[1].kind, OpType::Info, "{:?}", done[1]);
    assert!(
        error_of(done[1]).contains("protocol error"),
        "{:?}",
        done[1]
    );
    assert_eq!(done[2].kind, OpType::Ok, "{:?}", done[2]);
    assert_ne!(done[1].process, done[2].process);
    assert_no_leftovers(&marker);
}
