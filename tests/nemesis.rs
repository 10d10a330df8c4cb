//! End-to-end nemesis tests on a local cluster (network namespaces + sshd):
//! partitions really cut traffic between nodes, heal restores it, leaves
//! other tools' rules alone and leaves no chain of ours. They need root,
//! iproute2, iptables and openssh-server; without them they print why and
//! pass.
//!
//! Own namespace prefix and subnet (`flnK`/10.83.K.0, K from the process id)
//! so they run beside tests/cluster.rs and a developer's cluster. iptables
//! only ever runs inside the test's node namespaces (over SSH to the nodes).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use faultline::cluster::{self, ClusterSpec};
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

fn run_id() -> u8 {
    (std::process::id() % 200) as u8
}

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for t in [
        "/usr/sbin/ip",
        "/usr/sbin/sshd",
        "/usr/bin/ssh-keygen",
        "/usr/bin/unshare",
        "/usr/sbin/iptables",
        "/usr/sbin/tc",
    ] {
        if !Path::new(t).exists() {
            return Some(format!("{t} missing (run .ci/run-cluster-deps.sh)"));
        }
    }
    None
}

/// Tears the cluster down even when an assertion fails half-way.
struct ClusterGuard {
    dir: PathBuf,
    prefix: String,
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if let Err(e) = cluster::down(&self.dir, Some(&self.prefix)) {
            eprintln!("cleanup of {}: {e}", self.dir.display());
        }
    }
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
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let spec = ClusterSpec {
        dir: dir.clone(),
        nodes: 3,
        prefix: format!("fln{}", run_id()),
        subnet: Ipv4Addr::new(10, 83, run_id(), 0),
    };
    let _guard = ClusterGuard {
        dir: dir.clone(),
        prefix: spec.prefix.clone(),
    };
    cluster::up(&spec).expect("cluster up");
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
    };
    let p = packet.start(&ctx, &mut rng).unwrap();
    run_plan("packet", &p.plan, &ex, OnFailure::StopNode).unwrap();
    let n3 = control.on("n3").unwrap();
    assert!(iptables_rules(n3.as_ref()).contains("FAULTLINE-PKT"));
    if !ctx.netem {
        let delay = PacketFault {
            target: Target::All,
            behaviors: vec![Behavior::default_for("delay").unwrap()],
        };
        assert!(
            delay.start(&ctx, &mut rng).is_err(),
            "never silently nothing"
        );
    }

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
    }
    assert!(
        iptables_rules(n1.as_ref()).contains("not-faultline"),
        "a foreign rule survives heal"
    );
    // Healing a healed cluster is fine.
    run_plan("heal", &plan, &ex, OnFailure::Continue).unwrap();
}
