//! The shell DB on the local backend: "nodes" are folders of one temp dir and the
//! daemon is a `sleep` with a pidfile, so the lifecycle is real but needs no root.

use std::sync::Arc;

use super::*;
use crate::db;
use faultline_control::local::LocalRemote;
use faultline_control::Node;

/// Each node's folder is $ROOT/$FAULTLINE_NODE; the daemon's pid is in its `pid` file.
const START: &str = r#"d="$ROOT/$FAULTLINE_NODE"; mkdir -p "$d"
if [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null; then exit 0; fi
sleep 120 </dev/null >/dev/null 2>&1 &
echo $! > "$d/pid"
echo "started $FAULTLINE_NODE" >> "$d/log""#;

fn db(root: &std::path::Path) -> ShellDb {
    let pid = r#""$(cat "$ROOT/$FAULTLINE_NODE/pid")""#;
    ShellDb {
        name: "sleepdb".into(),
        commands: ShellCommands {
            // Records its environment; copies an uploaded conf, proving uploads come first.
            install: Some(
                r#"d="$ROOT/$FAULTLINE_NODE"; mkdir -p "$d" && env | grep '^FAULTLINE_' | sort > "$d/env"
if [ -f "$d/conf" ]; then cp "$d/conf" "$d/conf.seen"; fi"#
                    .into(),
            ),
            start: START.into(),
            ready: Some(format!("kill -0 {pid}")),
            stop: None,
            kill: Some(
                r#"f="$ROOT/$FAULTLINE_NODE/pid"; [ -f "$f" ] || exit 0; kill -KILL "$(cat "$f")" 2>/dev/null; rm -f "$f""#
                    .into(),
            ),
            pause: Some(format!("kill -STOP {pid}")),
            resume: Some(r#"f="$ROOT/$FAULTLINE_NODE/pid"; [ -f "$f" ] || exit 0; kill -CONT "$(cat "$f")""#.into()),
            wipe: Some(r#"rm -rf "$ROOT/$FAULTLINE_NODE""#.into()),
            primaries: Some(r#"[ "$FAULTLINE_NODE_INDEX" = 0 ]"#.into()),
        },
        env: vec![("ROOT".into(), root.to_string_lossy().into_owned())],
        uploads: Vec::new(),
        log_files: Vec::new(),
        ready_timeout: Duration::from_secs(10),
        ready_interval: Duration::from_millis(50),
        command_timeout: Duration::from_secs(10),
    }
}

fn control(n: usize) -> Control {
    let nodes: Vec<Node> = (1..=n)
        .map(|i| Node::new(format!("n{i}"), format!("10.0.0.{i}"), 22))
        .collect();
    Control::from_remotes(
        nodes
            .into_iter()
            .map(|n| Arc::new(LocalRemote::new(n, Duration::from_secs(10))) as _)
            .collect(),
    )
}

fn pid(root: &std::path::Path, node: &str) -> Option<u32> {
    std::fs::read_to_string(root.join(node).join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The process state letter from /proc (R, S, T, Z...), None if it is gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim().chars().next()
}

fn ctx(c: &Control) -> DbContext {
    DbContext { nodes: c.nodes() }
}

#[test]
fn lifecycle_on_the_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("nodes");
    let conf = dir.path().join("conf.txt");
    std::fs::write(&conf, "hello").unwrap();
    let single = db(&root);
    let c = control(3);

    db::setup_all(&single, &c, 1).unwrap();
    for n in ["n1", "n2", "n3"] {
        let p = pid(&root, n).expect("a pid file");
        assert!(matches!(state(p), Some('S' | 'R')), "{n} runs");
    }
    let env = std::fs::read_to_string(root.join("n2/env")).unwrap();
    assert!(env.contains("FAULTLINE_NODE=n2\n"), "{env}");
    assert!(env.contains("FAULTLINE_HOST=10.0.0.2\n"), "{env}");
    assert!(env.contains("FAULTLINE_NODE_INDEX=1\n"), "{env}");
    assert!(env.contains("FAULTLINE_NODES=n1 n2 n3\n"), "{env}");
    assert!(
        env.contains("FAULTLINE_HOSTS=10.0.0.1 10.0.0.2 10.0.0.3\n"),
        "{env}"
    );
    assert!(env.contains("FAULTLINE_FIRST_NODE=n1\n"), "{env}");
    assert!(env.contains("FAULTLINE_FIRST_HOST=10.0.0.1\n"), "{env}");

    assert_eq!(
        single.primaries(&ctx(&c), &c).unwrap(),
        vec!["n1".to_string()]
    );

    let n2 = c.on("n2").unwrap();
    let p2 = pid(&root, "n2").unwrap();
    single.pause(&ctx(&c), n2.as_ref()).unwrap();
    assert_eq!(state(p2), Some('T'), "paused");
    single.resume(&ctx(&c), n2.as_ref()).unwrap();
    assert_ne!(state(p2), Some('T'), "resumed");
    single.kill(&ctx(&c), n2.as_ref()).unwrap();
    assert!(pid(&root, "n2").is_none());
    single.start(&ctx(&c), n2.as_ref()).unwrap();
    let p2b = pid(&root, "n2").unwrap();
    assert_ne!(p2, p2b, "a new process after the restart");

    let pids: Vec<u32> = ["n1", "n2", "n3"]
        .iter()
        .filter_map(|n| pid(&root, n))
        .collect();
    db::teardown_all(&single, &c).unwrap();
    for n in ["n1", "n2", "n3"] {
        assert!(!root.join(n).exists(), "{n} wiped");
    }
    for p in pids {
        assert!(!matches!(state(p), Some('S' | 'R' | 'T')), "{p} killed");
    }

    // Uploads land before install (install copies the uploaded file); the upload's
    // parent folders are created.
    let mut d = db(&root);
    d.uploads = vec![(conf, format!("{}/n1/conf", root.display()))];
    let one = control(1);
    db::setup_all(&d, &one, 1).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("n1/conf.seen")).unwrap(),
        "hello"
    );
    db::teardown_all(&d, &one).unwrap();
}

#[test]
fn failing_command_names_node_step_command_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = db(dir.path());
    d.commands.install = Some("echo 'no such package: kvdb' >&2; exit 3".into());
    let c = control(2);
    let e = d.setup(&ctx(&c), c.on("n2").unwrap().as_ref()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("node n2"), "{text}");
    assert!(text.contains("install"), "{text}");
    assert!(text.contains("exit 3"), "{text}");
    assert!(text.contains("exit status 3"), "{text}");
    assert!(text.contains("no such package: kvdb"), "{text}");
    // setup_all gives up after its attempts and tears down in between.
    let e = db::setup_all(&d, &c, 2).unwrap_err();
    assert!(e.to_string().contains("2 time(s)"), "{e}");
}

#[test]
fn ready_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = db(dir.path());
    d.commands.ready = Some("echo not yet; exit 1".into());
    d.ready_timeout = Duration::from_millis(300);
    let c = control(1);
    let r = c.on("n1").unwrap();
    let e = d.setup(&ctx(&c), r.as_ref()).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, DbError::Unhealthy { .. }), "{text}");
    assert!(text.contains("not yet"), "{text}");
    d.teardown(&ctx(&c), r.as_ref()).unwrap();
}

#[test]
fn missing_optional_commands() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = db(dir.path());
    d.commands.pause = None;
    d.commands.primaries = None;
    let c = control(1);
    let r = c.on("n1").unwrap();
    let e = d.pause(&ctx(&c), r.as_ref()).unwrap_err();
    assert!(e.to_string().contains("no `pause` command"), "{e}");
    assert!(d.primaries(&ctx(&c), &c).unwrap().is_empty());
}
