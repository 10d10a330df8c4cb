//! End-to-end tests of the control plane, the local cluster and etcd, on real
//! network namespaces and real sshd. They need root, iproute2 and
//! openssh-server (and etcd-server + etcd-client for the etcd part); without
//! them they print why and pass, so a developer's `cargo test` still works. The
//! CI runs them as root with `.ci/run-cluster-deps.sh` packages installed.
//!
//! They use their own namespace prefixes and subnets (`fltK`/10.78.K.0 and
//! `flcK`/10.79.K.0, K from the test process id, so two test runs do not
//! collide), distinct from a developer's manual cluster (`fl`/10.77.0.0), and a
//! cluster directory under a temp dir. Within a run they go one at a time.

use crate::common::{run_id, ClusterGuard};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline::cluster::{self, ClusterSpec, ClusterState};
use faultline::control::local::LocalRemote;
use faultline::control::ssh::SshOptions;
use faultline::control::{Cmd, Control, ControlError, Node, Remote};
use faultline::db::{self, etcd::Etcd, Db, DbContext};

/// One cluster test at a time.
fn lock() -> std::sync::MutexGuard<'static, ()> {
    crate::common::serial()
}

fn skip_reason(need_etcd: bool) -> Option<String> {
    crate::common::skip_reason(if need_etcd {
        &["/usr/bin/etcd", "/usr/bin/etcdctl"]
    } else {
        &[]
    })
}

macro_rules! skip_unless_ready {
    ($etcd:expr) => {
        if let Some(reason) = skip_reason($etcd) {
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
}

fn controller() -> LocalRemote {
    LocalRemote::new(
        Node::new("controller", "localhost", 0),
        Duration::from_secs(30),
    )
}

fn host_lines(args: &[&str]) -> Vec<String> {
    controller()
        .run_stdout(&Cmd::new(args[0]).args(args[1..].iter().copied()))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn our_namespaces(prefix: &str) -> Vec<String> {
    host_lines(&["ip", "netns", "list"])
        .into_iter()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .collect()
}

fn our_links(prefix: &str) -> Vec<String> {
    host_lines(&["ip", "-o", "link", "show"])
        .into_iter()
        .filter_map(|l| {
            l.split(": ")
                .nth(1)
                .map(|n| n.split('@').next().unwrap_or("").to_string())
        })
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .collect()
}

fn pids_in(ns: &str) -> Vec<i32> {
    host_lines(&["ip", "netns", "pids", ns])
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Whether a PID exists as a live (non-zombie) process.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

fn ssh_opts(dir: &Path) -> SshOptions {
    SshOptions {
        private_key: Some(dir.join("id_ed25519")),
        strict_host_key_checking: true,
        known_hosts: Some(dir.join("known_hosts")),
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(30),
        ..SshOptions::default()
    }
}

fn etcdctl(endpoints: &[String], args: &[&str], timeout: Duration) -> faultline::control::Output {
    controller()
        .exec(
            &Cmd::new("etcdctl")
                .arg(format!("--endpoints={}", endpoints.join(",")))
                .args(["--dial-timeout=1s", "--command-timeout=2s"])
                .args(args.iter().copied())
                .env("ETCDCTL_API", "3")
                .timeout(timeout),
        )
        .unwrap()
}

/// Writes `key=value` through `endpoints`, retrying (bounded) while the
/// cluster elects a leader; returns how long it took.
fn write_eventually(endpoints: &[String], key: &str, value: &str) -> Duration {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        let out = etcdctl(endpoints, &["put", key, value], Duration::from_secs(5));
        if out.status.success() {
            let got = etcdctl(
                endpoints,
                &["get", "--print-value-only", key],
                Duration::from_secs(5),
            );
            if got.status.success() && got.stdout.trim() == value {
                return start.elapsed();
            }
            last = format!("read back {:?}: {}", got.stdout, got.stderr);
        } else {
            last = out.stderr;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no successful write of {key} within 20s: {last}");
}

fn step(name: &str, start: Instant) {
    eprintln!("[{:>6.2}s] {name}", start.elapsed().as_secs_f64());
}

#[test]
fn cluster_ssh_and_etcd_end_to_end() {
    skip_unless_ready!(false);
    let _serial = lock();
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let spec = ClusterSpec {
        dir: dir.clone(),
        nodes: 5,
        prefix: format!("flt{}", run_id()),
        subnet: Ipv4Addr::new(10, 78, run_id(), 0),
    };
    let _guard = ClusterGuard {
        dir: dir.clone(),
        prefix: spec.prefix.clone(),
    };

    // --- cluster up, idempotent ---
    let up_start = Instant::now();
    let state = cluster::up(&spec).expect("cluster up");
    let up_time = up_start.elapsed();
    step(&format!("cluster up with 5 nodes in {up_time:?}"), t0);
    assert_eq!(state.nodes.len(), 5);
    assert!(up_time < Duration::from_secs(20));
    let again = cluster::up(&spec).expect("second cluster up");
    assert_eq!(again, state, "up on a running cluster changes nothing");
    let st = cluster::status(&dir).unwrap().unwrap();
    assert!(st.all_up(), "{st:?}");
    let nodes_file = std::fs::read_to_string(dir.join("nodes")).unwrap();
    assert_eq!(nodes_file.lines().count(), 5);
    assert!(dir.join("id_ed25519").exists());

    // --- every node over real SSH, in parallel, with its own hostname ---
    let nodes = cluster::nodes_from_dir(&dir, 22).unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["n1", "n2", "n3", "n4", "n5"]
    );
    let control = Control::connect_ssh(&nodes, &ssh_opts(&dir)).expect("ssh to every node");
    step("ssh sessions open (strict host key checking)", t0);
    for (node, r) in control.on_all(|r| r.run_stdout(&Cmd::new("hostname"))) {
        assert_eq!(r.unwrap(), node.name);
    }
    // Private PID namespace: the node's PID 1 is its sshd.
    for (_, r) in control.on_all(|r| r.run_stdout(&Cmd::new("cat").arg("/proc/1/comm"))) {
        assert_eq!(r.unwrap(), "sshd");
    }
    // The node sees its peers by name.
    let n1 = control.on("n1").unwrap();
    let hosts = n1
        .run_stdout(&Cmd::new("getent").args(["hosts", "n3"]))
        .unwrap();
    assert!(
        hosts.starts_with(&format!("10.78.{}.13", run_id())),
        "{hosts}"
    );

    // --- hostile arguments survive the remote shell ---
    let hostile = [
        "it's",
        "\"q\"",
        "$(touch /tmp/pwned)",
        "`id`",
        "a\nb",
        "; ls",
        "*",
        "",
        "\\",
    ];
    let out = n1
        .run(
            &Cmd::new("printf")
                .arg("%s\\0")
                .args(hostile)
                .env("X", "$(id)"),
        )
        .unwrap();
    let got: Vec<&str> = out.stdout.split('\0').collect();
    assert_eq!(&got[..hostile.len()], &hostile[..]);
    assert!(!n1
        .exec(&Cmd::new("test").args(["-e", "/tmp/pwned"]))
        .unwrap()
        .status
        .success());
    // stdin, cwd, env.
    let out = n1
        .run(
            &Cmd::new("sh")
                .args(["-c", "cat; pwd; echo \"$V\""])
                .stdin("from stdin\n")
                .cwd("/opt")
                .env("V", "it's env"),
        )
        .unwrap();
    assert_eq!(out.stdout, "from stdin\n/opt\nit's env\n");

    // --- a failing command names its node and its stderr ---
    let err = control
        .on("n3")
        .unwrap()
        .run(&Cmd::new("sh").args(["-c", "echo to-stdout; echo boom-on-stderr >&2; exit 7"]))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ControlError::NonZeroExit { .. }), "{msg}");
    assert!(msg.contains("node n3"), "{msg}");
    assert!(msg.contains("boom-on-stderr"), "{msg}");
    assert!(msg.contains("exit status 7"), "{msg}");

    // --- per-command timeout over SSH, and the node stays usable ---
    let t = Instant::now();
    let err = n1
        .exec(
            &Cmd::new("sleep")
                .arg("30")
                .timeout(Duration::from_millis(500)),
        )
        .unwrap_err();
    assert!(matches!(err, ControlError::Timeout { .. }), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(n1.run_stdout(&Cmd::new("echo").arg("ok")).unwrap(), "ok");

    // --- many commands at once over the per-node pools ---
    let control2 = control.clone();
    let t = Instant::now();
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let c = control2.clone();
            std::thread::spawn(move || {
                let r = c.remotes()[i % 5].clone();
                r.run_stdout(&Cmd::new("sh").args(["-c", "sleep 0.2; hostname"]))
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap().unwrap(), format!("n{}", i % 5 + 1));
    }
    step(&format!("40 concurrent commands in {:?}", t.elapsed()), t0);

    // --- connections dropped by the server are reopened transparently ---
    // Kill every sshd session process on n1 (from the host, by PID, inside our
    // namespace only): the pooled connections are dead; the next command
    // reconnects and succeeds.
    let n1_ns = &state.nodes[0].netns;
    let sessions: Vec<i32> = pids_in(n1_ns)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.starts_with("sshd: root"))
        })
        .collect();
    assert!(!sessions.is_empty(), "no sshd session processes on n1");
    for p in &sessions {
        // SAFETY: plain syscall on a PID inside our test namespace.
        unsafe {
            libc::kill(*p, libc::SIGKILL);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    assert_eq!(n1.run_stdout(&Cmd::new("hostname")).unwrap(), "n1");
    step(
        &format!(
            "killed {} server-side sessions on n1; reconnected in {:?}",
            sessions.len(),
            t.elapsed()
        ),
        t0,
    );

    // --- upload and download round trip: a file and a tree ---
    let local = tmp.path().join("payload");
    std::fs::create_dir_all(local.join("sub/deeper")).unwrap();
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(local.join("blob.bin"), &blob).unwrap();
    std::fs::write(local.join("sub/deeper/it's.txt"), "quoted name").unwrap();
    let n2 = control.on("n2").unwrap();
    n2.upload(&local.join("blob.bin"), "/tmp/up/blob.bin")
        .unwrap();
    let sum = n2
        .run_stdout(&Cmd::new("cksum").arg("/tmp/up/blob.bin"))
        .unwrap();
    assert!(sum.contains(&blob.len().to_string()), "{sum}");
    n2.upload(&local, "/root/tree").unwrap();
    let back = tmp.path().join("back");
    n2.download("/root/tree", &back).unwrap();
    assert_eq!(std::fs::read(back.join("blob.bin")).unwrap(), blob);
    assert_eq!(
        std::fs::read_to_string(back.join("sub/deeper/it's.txt")).unwrap(),
        "quoted name"
    );
    // Private directories: n1 does not see n2's files.
    assert!(!n1
        .exec(&Cmd::new("test").args(["-e", "/root/tree"]))
        .unwrap()
        .status
        .success());
    let err = n2
        .download("/nonexistent/file", &tmp.path().join("x"))
        .unwrap_err();
    assert!(err.to_string().contains("node n2"), "{err}");
    step("upload/download round trip", t0);

    // --- an unreachable node: a clear error naming it, within the timeout ---
    let mut with_ghost = nodes.clone();
    // An address on our own test bridge where nothing answers.
    with_ghost.push(Node::new("ghost", format!("10.78.{}.99", run_id()), 22));
    let t = Instant::now();
    let err = Control::connect_ssh(
        &with_ghost,
        &SshOptions {
            connect_timeout: Duration::from_secs(2),
            ..ssh_opts(&dir)
        },
    )
    .err()
    .expect("ghost node must fail");
    let waited = t.elapsed();
    assert!(err.to_string().contains("ghost"), "{err}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    step(
        &format!("unreachable node reported in {waited:?}: {err}"),
        t0,
    );

    // --- etcd on all five ---
    if let Some(reason) = skip_reason(true) {
        eprintln!("SKIPPED etcd part: {reason}");
        return;
    }
    etcd_part(&control, &state, t0);

    // --- cluster down leaves nothing behind ---
    let node_pids: Vec<i32> = state.nodes.iter().filter_map(|n| n.pid).collect();
    let mut inside: Vec<i32> = Vec::new();
    for n in &state.nodes {
        inside.extend(pids_in(&n.netns));
    }
    assert!(!inside.is_empty());
    drop(control);
    let report = cluster::down(&dir, None).expect("cluster down");
    assert_eq!(report.namespaces.len(), 5);
    assert!(our_namespaces(&spec.prefix).is_empty());
    assert!(our_links(&spec.prefix).is_empty());
    for p in node_pids.iter().chain(&inside) {
        assert!(!alive(*p), "process {p} survived cluster down");
    }
    assert!(!dir.exists(), "cluster dir left behind");
    assert!(cluster::status(&dir).unwrap().is_none());
    step("cluster down: nothing left", t0);
}

fn etcd_part(control: &Control, state: &ClusterState, t0: Instant) {
    let etcd = Etcd::default();
    let ctx = DbContext {
        nodes: control.nodes(),
    };
    let endpoints: Vec<String> = state
        .nodes
        .iter()
        .map(|n| format!("http://{}:2379", n.addr))
        .collect();
    let setup_start = Instant::now();
    db::setup_all(&etcd, control, 3).expect("etcd setup");
    step(
        &format!("etcd set up and healthy in {:?}", setup_start.elapsed()),
        t0,
    );

    // Healthy, checked by a client against every member.
    let health = etcdctl(&endpoints, &["endpoint", "health"], Duration::from_secs(15));
    assert!(health.status.success(), "{health:?}");
    assert_eq!(
        health.stdout.matches("is healthy").count() + health.stderr.matches("is healthy").count(),
        5,
        "{health:?}"
    );
    let members = etcdctl(
        &endpoints[..1],
        &["member", "list"],
        Duration::from_secs(10),
    );
    assert_eq!(members.stdout.lines().count(), 5, "{members:?}");
    write_eventually(&endpoints, "k0", "v0");

    // Primary = leader.
    let primaries = etcd.primaries(&ctx, control).unwrap();
    assert_eq!(primaries.len(), 1, "{primaries:?}");
    let leader = primaries[0].clone();
    step(&format!("leader is {leader}"), t0);

    // Kill the leader: the others keep accepting writes.
    let idx = |name: &str| state.nodes.iter().position(|n| n.name == name).unwrap();
    let others = |name: &str| -> Vec<String> {
        endpoints
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != idx(name))
            .map(|(_, e)| e.clone())
            .collect()
    };
    let leader_node = control.on(&leader).unwrap();
    etcd.kill(&ctx, leader_node.as_ref()).unwrap();
    assert!(!leader_node
        .exec(&Cmd::new("pgrep").args(["-x", "etcd"]))
        .unwrap()
        .status
        .success());
    let took = write_eventually(&others(&leader), "k1", "after-kill");
    step(&format!("write after killing {leader} took {took:?}"), t0);
    etcd.start(&ctx, leader_node.as_ref()).unwrap();
    etcd.await_healthy(leader_node.as_ref()).unwrap();
    step(&format!("{leader} restarted and healthy"), t0);

    // Pause a member (the current leader): the others keep accepting writes.
    let paused = etcd
        .primaries(&ctx, control)
        .unwrap()
        .into_iter()
        .next()
        .unwrap_or_else(|| "n2".into());
    let paused_node = control.on(&paused).unwrap();
    etcd.pause(&ctx, paused_node.as_ref()).unwrap();
    let stat = paused_node
        .run_stdout(&Cmd::new("sh").args(["-c", "cat /proc/$(cat /opt/etcd/etcd.pid)/stat"]))
        .unwrap();
    assert!(stat.contains(") T "), "not stopped: {stat}");
    let took = write_eventually(&others(&paused), "k2", "after-pause");
    step(&format!("write with {paused} paused took {took:?}"), t0);
    etcd.resume(&ctx, paused_node.as_ref()).unwrap();
    etcd.await_healthy(paused_node.as_ref()).unwrap();
    write_eventually(&endpoints, "k3", "all-back");

    // Logs come back to the controller.
    let logs_dir = tempfile::tempdir().unwrap();
    let files = db::download_logs(&etcd, control, logs_dir.path()).unwrap();
    assert_eq!(files.len(), 5);
    let log = std::fs::read_to_string(logs_dir.path().join("n1/etcd.log")).unwrap();
    assert!(log.contains("faultline: starting etcd member n1"), "{log}");

    // Teardown: no process, no data, nothing listening.
    db::teardown_all(&etcd, control).expect("etcd teardown");
    let seen: HashSet<bool> = control
        .on_all(|r| -> Result<bool, ControlError> {
            let running = r
                .exec(&Cmd::new("pgrep").args(["-x", "etcd"]))?
                .status
                .success();
            let data = r
                .exec(&Cmd::new("test").args(["-e", "/opt/etcd"]))?
                .status
                .success();
            Ok(running || data)
        })
        .into_iter()
        .map(|(_, r)| r.unwrap())
        .collect();
    assert_eq!(
        seen,
        HashSet::from([false]),
        "etcd process or data left behind"
    );
    let health = etcdctl(&endpoints, &["endpoint", "health"], Duration::from_secs(15));
    assert!(!health.status.success());
    step("etcd torn down: no process, no data", t0);

    // Installing from a release archive uploaded to every node (an archive
    // laid out as upstream's, built from the Debian binaries: no download).
    let arch_dir = tempfile::tempdir().unwrap();
    let top = arch_dir.path().join("etcd-v3.4.23-linux-amd64");
    std::fs::create_dir(&top).unwrap();
    for b in ["etcd", "etcdctl"] {
        std::fs::copy(format!("/usr/bin/{b}"), top.join(b)).unwrap();
    }
    let archive = arch_dir.path().join("etcd.tar.gz");
    controller()
        .run(
            &Cmd::new("tar")
                .arg("-czf")
                .arg(archive.to_str().unwrap())
                .args([
                    "-C",
                    arch_dir.path().to_str().unwrap(),
                    "etcd-v3.4.23-linux-amd64",
                ]),
        )
        .unwrap();
    let from_archive = Etcd {
        archive: Some(archive),
        ..Etcd::default()
    };
    let t = Instant::now();
    db::setup_all(&from_archive, control, 3).expect("etcd setup from archive");
    step(
        &format!("etcd from archive set up and healthy in {:?}", t.elapsed()),
        t0,
    );
    let exe = control
        .on("n3")
        .unwrap()
        .run_stdout(&Cmd::new("sh").args(["-c", "readlink /proc/$(cat /opt/etcd/etcd.pid)/exe"]))
        .unwrap();
    assert_eq!(exe, "/opt/etcd/etcd");
    write_eventually(&endpoints, "k4", "from-archive");
    db::teardown_all(&from_archive, control).expect("teardown");
    for (_, r) in control.on_all(|r| r.exec(&Cmd::new("test").args(["-e", "/opt/etcd"]))) {
        assert!(!r.unwrap().status.success(), "/opt/etcd left behind");
    }
}

/// The CLI end to end, plus recovery after a "crash" that lost the state file.
#[test]
fn cli_up_status_and_down_after_crash() {
    skip_unless_ready!(false);
    let _serial = lock();
    let t0 = Instant::now();
    let bin = env!("CARGO_BIN_EXE_faultline");
    // The node processes are children of the CLI, which exits at once. Become
    // their subreaper so they are reparented to this test and can be reaped
    // here, whatever the machine's init does with orphans.
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let dir_s = dir.to_str().unwrap();
    let prefix = format!("flc{}", run_id());
    let subnet = format!("10.79.{}.0", run_id());
    let _guard = ClusterGuard {
        dir: dir.clone(),
        prefix: prefix.clone(),
    };
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .env("FAULTLINE_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, out, err) = run(&[
        "cluster", "up", "--nodes", "2", "--dir", dir_s, "--prefix", &prefix, "--subnet", &subnet,
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("--cluster {dir_s}")), "{out}");
    let (code, out, _) = run(&["cluster", "status", "--dir", dir_s]);
    assert_eq!(code, Some(0));
    assert!(out.contains(": up"), "{out}");
    let (code, out, err) = run(&["exec", "--cluster", dir_s, "--", "hostname"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("n1: n1") && out.contains("n2: n2"), "{out}");
    let (code, _, err) = run(&[
        "exec",
        "--cluster",
        dir_s,
        "--on",
        "n2",
        "--",
        "sh",
        "-c",
        "echo bad >&2; exit 4",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("node n2") && err.contains("bad"), "{err}");
    // Bad input is exit 254, as Jepsen's.
    let (code, _, _) = run(&["cluster", "up", "--nodes", "0", "--dir", dir_s]);
    assert_eq!(code, Some(254));
    let (code, _, _) = run(&["exec", "--nodes-file", "/nonexistent", "--", "true"]);
    assert_eq!(code, Some(254));
    let (code, _, _) = run(&["no-such-command"]);
    assert_eq!(code, Some(254));

    // "Crash": the state file is gone. A new `up` refuses to guess; `down
    // --prefix` sweeps namespaces, links and the processes inside them.
    let state = ClusterState::load(&dir).unwrap().unwrap();
    let mut pids: Vec<i32> = state.nodes.iter().filter_map(|n| n.pid).collect();
    for n in &state.nodes {
        pids.extend(pids_in(&n.netns));
    }
    std::fs::remove_file(dir.join("state.json")).unwrap();
    let (code, _, err) = run(&[
        "cluster", "up", "--nodes", "2", "--dir", dir_s, "--prefix", &prefix, "--subnet", &subnet,
    ]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains(&format!("cluster down --prefix {prefix}")),
        "{err}"
    );
    let (code, out, err) = run(&["cluster", "down", "--dir", dir_s, "--prefix", &prefix]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(our_namespaces(&prefix).is_empty());
    assert!(our_links(&prefix).is_empty());
    for p in &pids {
        assert!(!alive(*p), "process {p} survived");
    }
    // Reparented to us (subreaper): reap them, then nothing at all is left.
    for p in &pids {
        let mut status = 0;
        // SAFETY: waitpid on a specific PID; ECHILD if it is not ours.
        unsafe {
            libc::waitpid(*p, &mut status, libc::WNOHANG);
        }
    }
    for p in &pids {
        assert!(
            !Path::new(&format!("/proc/{p}")).exists(),
            "process {p} left behind"
        );
    }
    assert!(!dir.exists());
    step("CLI up/status/exec/down-after-crash", t0);
}

/// `--local`: the control plane without SSH, and etcd's start/kill through it
/// would need a real node, so only the control plane is exercised here.
#[test]
fn local_backend_runs_on_the_controller() {
    let _serial = lock();
    let control = Control::local(&[Node::new("here", "localhost", 0)], Duration::from_secs(5));
    let r: Arc<dyn Remote> = control.on("here").unwrap().clone();
    assert_eq!(r.run_stdout(&Cmd::new("echo").arg("a b")).unwrap(), "a b");
}
