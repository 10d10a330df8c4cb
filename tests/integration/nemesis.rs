//! End-to-end nemesis tests on a local cluster (network namespaces + sshd):
//! partitions really cut traffic between nodes, heal restores it, leaves
//! other tools' rules alone and leaves no chain of ours. They need root,
//! iproute2, iptables and openssh-server; without them they print why and
//! pass.
//!
//! Own namespace prefix and subnet (`flnK`/10.83.K.0, K from the process id)
//! so they run beside cluster.rs and a developer's cluster. iptables
//! only ever runs inside the test's node namespaces (over SSH to the nodes).

use std::path::Path;
use std::time::Duration;

use faultline::cluster;
use faultline::control::ssh::SshOptions;
use faultline::control::{Cmd, Control, Remote};
use faultline::nemesis::{context, ControlExecutor};
use faultline_nemesis::nemesis::heal_everything_plan;
use faultline_nemesis::net::{Partition, PartitionSpec};
use faultline_nemesis::packet::{Behavior, PacketFault};
use faultline_nemesis::plan::{run_plan, OnFailure};
use faultline_nemesis::process::Target;
use faultline_nemesis::Fault;
use rand::SeedableRng;

const BIN: &str = env!("CARGO_BIN_EXE_faultline");
/// What goes to the nodes: the clock launcher and the packet delayer.
const AGENT: &str = env!("CARGO_BIN_EXE_faultline-agent");

/// One cluster at a time (the machine has 2 cores).
fn lock() -> std::sync::MutexGuard<'static, ()> {
    crate::common::serial()
}

fn skip_reason() -> Option<String> {
    crate::common::skip_reason(&["/usr/sbin/iptables", "/usr/sbin/tc"])
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

/// Whether `from` can open a TCP connection to `to`'s sshd (bounded: 2 s).
fn can_connect(control: &Control, from: &str, to_addr: &str) -> bool {
    control
        .on(from)
        .unwrap()
        .exec(&Cmd::new("timeout").args([
            "2",
            "bash",
            "-c",
            "exec 3<>\"/dev/tcp/$1/22\"",
            "bash",
            to_addr,
        ]))
        .unwrap()
        .status
        .success()
}

/// Milliseconds a TCP connect from `from` to `to_addr`'s sshd takes (as
/// measured on the node).
fn connect_ms(control: &Control, from: &str, to_addr: &str) -> u64 {
    control
        .on(from)
        .unwrap()
        .run_stdout(&Cmd::new("bash").args([
            "-c",
            "s=$(date +%s%N); timeout 5 bash -c 'exec 3<>\"/dev/tcp/$1/22\"' bash \"$1\"; \
             e=$(date +%s%N); echo $(( (e - s) / 1000000 ))",
            "bash",
            to_addr,
        ]))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn iptables_rules(r: &dyn Remote) -> String {
    r.run_stdout(&Cmd::new("iptables").args(["-w", "-S"]))
        .unwrap()
}

#[test]
fn partition_blocks_traffic_and_heal_restores_it_keeping_foreign_rules() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let _serial = lock();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let (_guard, _) = crate::common::up_cluster(&dir, "fln", 83, 3);
    let nodes = cluster::nodes_from_dir(&dir, 22).unwrap();
    let control = Control::connect_ssh(&nodes, &ssh_opts(&dir)).expect("ssh");
    let addr = |name: &str| control.on(name).unwrap().node().host.clone();
    let ex = ControlExecutor::new(&control, None);
    let ctx = context(&control, None, true);
    assert!(can_connect(&control, "n2", &addr("n1")));

    // Someone else's rule, tagged with a comment, in INPUT.
    let n1 = control.on("n1").unwrap();
    n1.run(&Cmd::new("iptables").args([
        "-w",
        "-A",
        "INPUT",
        "-s",
        "192.0.2.9",
        "-m",
        "comment",
        "--comment",
        "not-faultline",
        "-j",
        "ACCEPT",
    ]))
    .unwrap();

    // Isolate n1.
    let part = Partition {
        spec: PartitionSpec::Node("n1".into()),
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let started = part.start(&ctx, &mut rng).unwrap();
    run_plan("partition", &started.plan, &ex, OnFailure::StopNode).unwrap();
    assert!(!can_connect(&control, "n2", &addr("n1")), "n2 -> n1 cut");
    assert!(!can_connect(&control, "n1", &addr("n3")), "n1 -> n3 cut");
    assert!(can_connect(&control, "n2", &addr("n3")), "same side works");
    // Starting again (a new grudge) replaces ours: still one jump rule.
    run_plan("partition", &started.plan, &ex, OnFailure::StopNode).unwrap();
    let rules = iptables_rules(n1.as_ref());
    assert_eq!(rules.matches("-A INPUT -j FAULTLINE").count(), 1, "{rules}");

    // A packet fault at the same time (loss + rate work without netem).
    let packet = PacketFault {
        target: Target::Nodes(vec!["n3".into()]),
        behaviors: vec![
            Behavior::Loss { percent: 10.0 },
            Behavior::Rate { kbit: 8000 },
        ],
        delayer: None,
    };
    let p = packet.start(&ctx, &mut rng).unwrap();
    run_plan("packet", &p.plan, &ex, OnFailure::StopNode).unwrap();
    let n3 = control.on("n3").unwrap();
    assert!(iptables_rules(n3.as_ref()).contains("FAULTLINE-PKT"));
    if !ctx.netem {
        let delay = PacketFault {
            target: Target::All,
            behaviors: vec![Behavior::default_for("delay").unwrap()],
            delayer: None,
        };
        assert!(
            delay.start(&ctx, &mut rng).is_err(),
            "never silently nothing"
        );
    }
    // Delay through the NFQUEUE delayer. The binary is uploaded to the node, as
    // `db setup --clock` does: the controller's path may be under /tmp, which is
    // private to each node.
    let n2 = control.on("n2").unwrap();
    n2.upload(Path::new(AGENT), "/opt/faultline/faultline-agent")
        .expect("upload the delayer");
    n2.run(&Cmd::new("chmod").args(["755", "/opt/faultline/faultline-agent"]))
        .expect("make the delayer executable");
    // The best of three: one SYN lost to a neighbour-table refresh costs a second.
    let before = (0..3)
        .map(|_| connect_ms(&control, "n3", &addr("n2")))
        .min()
        .unwrap_or(u64::MAX);
    let delay = PacketFault {
        target: Target::Nodes(vec!["n2".into()]),
        behaviors: vec![Behavior::Delay {
            ms: 300,
            jitter_ms: 0,
        }],
        delayer: Some("/opt/faultline/faultline-agent".into()),
    };
    let d = delay.start(&ctx, &mut rng).unwrap();
    run_plan("delay", &d.plan, &ex, OnFailure::StopNode).unwrap();
    let mut during = 0;
    // The delayer needs a moment to bind its queue (until then: bypass).
    for _ in 0..20 {
        during = connect_ms(&control, "n3", &addr("n2"));
        if during >= 300 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        during >= 300 && before < 200,
        "connect n3 -> n2: {before} ms before, {during} ms with 300 ms delay"
    );

    // Heal everything, as `faultline heal` does (no DB here).
    let plan = heal_everything_plan(&ctx, faultline_nemesis::clock::DEFAULT_OFFSET_FILE, false);
    let plan = faultline_nemesis::Plan {
        steps: plan
            .steps
            .into_iter()
            .filter(|s| !matches!(s.action, faultline_nemesis::Action::Db(_)))
            .collect(),
    };
    run_plan("heal", &plan, &ex, OnFailure::Continue).unwrap();
    assert!(can_connect(&control, "n2", &addr("n1")), "healed");
    assert!(can_connect(&control, "n1", &addr("n3")), "healed");
    for r in control.remotes() {
        let rules = iptables_rules(r.as_ref());
        assert!(!rules.contains("FAULTLINE"), "{}: {rules}", r.node());
        let qd = r
            .run_stdout(&Cmd::new("tc").args(["qdisc", "show"]))
            .unwrap();
        assert!(!qd.contains("fa17:"), "{}: {qd}", r.node());
        let delayer = r
            .exec(&Cmd::new("test").args(["-e", faultline_nemesis::packet::DELAYER_PIDFILE]))
            .unwrap();
        assert!(
            !delayer.status.success(),
            "{}: delayer pidfile left",
            r.node()
        );
    }
    assert!(
        iptables_rules(n1.as_ref()).contains("not-faultline"),
        "a foreign rule survives heal"
    );
    // Healing a healed cluster is fine.
    run_plan("heal", &plan, &ex, OnFailure::Continue).unwrap();
}

fn node_sh(control: &Control, node: &str, script: &str) -> String {
    control
        .on(node)
        .unwrap()
        .run_stdout(&Cmd::new("sh").args(["-c", script]))
        .unwrap()
}

/// The etcd member's process state letter (R, S, T...) or "" if not running.
fn etcd_state(control: &Control, node: &str) -> String {
    node_sh(
        control,
        node,
        "p=$(cat /opt/etcd/etcd.pid 2>/dev/null) && [ \"$(cat /proc/$p/comm 2>/dev/null)\" = etcd ] \
         && cut -d' ' -f3 /proc/$p/stat || true",
    )
}

fn utc_hour(t: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn host_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A controller crashed mid-fault (partition, paused member, killed member,
/// clock offset): `faultline heal --restart --clock` leaves nothing of ours,
/// and the clock offset had reached etcd (a Go program) on its node.
#[test]
fn heal_after_a_crash_mid_fault_with_etcd_under_the_clock_launcher() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    for t in ["/usr/bin/etcd", "/usr/bin/etcdctl"] {
        if !Path::new(t).exists() {
            eprintln!("SKIPPED: {t} missing");
            return;
        }
    }
    use faultline::db::etcd::{ClockLaunch, Etcd};
    use faultline::db::{self, Db, DbContext};
    use faultline_nemesis::clock::{ClockAction, ClockFault, DEFAULT_OFFSET_FILE};

    let _serial = lock();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let (_guard, _) = crate::common::up_cluster(&dir, "flm", 84, 3);
    let nodes = cluster::nodes_from_dir(&dir, 22).unwrap();
    let control = Control::connect_ssh(&nodes, &ssh_opts(&dir)).expect("ssh");
    let etcd = Etcd {
        clock: Some(ClockLaunch {
            binary: AGENT.into(),
            offset_file: DEFAULT_OFFSET_FILE.into(),
        }),
        ..Etcd::default()
    };
    db::setup_all(&etcd, &control, 2).expect("etcd setup under the launcher");
    let ex = ControlExecutor::new(&control, Some(&etcd as &dyn Db));
    let ctx = context(&control, Some(&etcd as &dyn Db), false);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);

    // Clock: n1 one hour ahead; etcd on n1 logs in shifted time.
    let clock = ClockFault {
        action: ClockAction::Bump {
            delta_ms: Some(3_600_000),
        },
        target: Target::Nodes(vec!["n1".into()]),
        offset_file: DEFAULT_OFFSET_FILE.into(),
    };
    let s = clock.start(&ctx, &mut rng).unwrap();
    run_plan("clock", &s.plan, &ex, OnFailure::StopNode).unwrap();
    let n1_addr = control.on("n1").unwrap().node().host.clone();
    let defrag = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints=http://{n1_addr}:2379"))
        .args(["--dial-timeout=2s", "--command-timeout=5s", "defrag"])
        .output()
        .unwrap();
    assert!(defrag.status.success(), "{defrag:?}");
    let line = node_sh(
        &control,
        "n1",
        "grep '\"msg\":\"finished defragment\"' /opt/etcd/etcd.log | tail -1",
    );
    let now = host_now();
    assert!(
        [utc_hour(now + 3600 - 30), utc_hour(now + 3600)]
            .iter()
            .any(|h| line.contains(&format!("\"ts\":\"{h}"))),
        "etcd on n1 logs an hour ahead: {line}"
    );

    // Partition, pause n2, kill n3: then "the controller dies".
    let part = Partition {
        spec: PartitionSpec::Halves,
    };
    let p = part.start(&ctx, &mut rng).unwrap();
    run_plan("partition", &p.plan, &ex, OnFailure::StopNode).unwrap();
    let dctx = DbContext {
        nodes: control.nodes(),
    };
    etcd.pause(&dctx, control.on("n2").unwrap().as_ref())
        .unwrap();
    etcd.kill(&dctx, control.on("n3").unwrap().as_ref())
        .unwrap();
    assert_eq!(etcd_state(&control, "n2"), "T");
    assert_eq!(etcd_state(&control, "n3"), "");

    // `faultline heal` from a fresh process.
    let out = std::process::Command::new(BIN)
        .args(["heal", "--restart", "--clock", "--cluster"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "heal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for n in ["n1", "n2", "n3"] {
        let rules = iptables_rules(control.on(n).unwrap().as_ref());
        assert!(!rules.contains("FAULTLINE"), "{n}: {rules}");
        assert_eq!(
            node_sh(
                &control,
                n,
                &format!("test -e {DEFAULT_OFFSET_FILE} && echo left || true")
            ),
            "",
            "{n}: offset file removed"
        );
        let st = etcd_state(&control, n);
        assert!(!st.is_empty() && st != "T", "{n}: etcd state {st:?}");
    }
    // The restarted member runs under the launcher again: its clock
    // supervisor is its child (the launcher forked it, then exec'd etcd).
    let sup = node_sh(
        &control,
        "n3",
        "pgrep -P \"$(cat /opt/etcd/etcd.pid)\" -x faultline-agent || true",
    );
    assert!(!sup.is_empty(), "no clock supervisor under etcd on n3");
    for n in ["n1", "n2"] {
        assert!(can_connect(&control, n, &addr_of(&control, "n3")));
    }
    db::teardown_all(&etcd, &control).unwrap();
}

fn addr_of(control: &Control, name: &str) -> String {
    control.on(name).unwrap().node().host.clone()
}
