//! The etcd clients against a real, single-member etcd on loopback (no root needed):
//! every workload runs through the runner and its history checks valid. Skipped, saying
//! why, when there is no `etcd` binary (.ci/run-cluster-deps.sh installs it).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline::clients::etcd::EtcdClients;
use faultline::runner::{self, ClientFactory, RunConfig};
use faultline_checkers::check::{check, CheckReport};
use faultline_checkers::history::read_file;
use faultline_checkers::Validity;
use faultline_workloads::gen::SECOND;
use faultline_workloads::workload::{build, WorkloadKind, WorkloadOptions};

const ETCD: &str = "/usr/bin/etcd";

/// An etcd we started; killed (by its PID) and reaped when dropped.
struct LocalEtcd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_etcd() -> LocalEtcd {
    let dir = tempfile::tempdir().unwrap();
    let (client, peer) = (free_port(), free_port());
    let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
    let child = Command::new(ETCD)
        .args(["--name", "t1", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!(
            "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
        ))
        .arg(format!("--initial-cluster=t1=http://127.0.0.1:{peer}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start etcd");
    let etcd = LocalEtcd {
        child,
        port: client,
        _dir: dir,
    };
    // Ready when a range answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    let agent = ureq_probe();
    while Instant::now() < deadline {
        if agent(client) {
            return etcd;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(etcd._dir.path().join("etcd.log")).unwrap_or_default();
    panic!("etcd did not come up on port {client}:\n{log}");
}

/// Whether `/v3/kv/range` answers on a port, through the clients themselves.
fn ureq_probe() -> impl Fn(u16) -> bool {
    |port| {
        let f = EtcdClients::new(
            &[("n1".into(), "127.0.0.1".into())],
            port,
            WorkloadKind::Register,
            "/probe/",
            false,
        );
        let Ok(mut c) = f.open("n1") else {
            return false;
        };
        let op = runner::Invocation {
            f: "read".into(),
            value: serde_json::Value::Null,
            key: Some(serde_json::json!(0)),
            timeout: Duration::from_secs(1),
        };
        c.invoke(&op).kind == faultline_checkers::history::OpType::Ok
    }
}

#[test]
fn every_workload_is_valid_against_a_real_etcd() {
    let _serial = crate::common::serial();
    if !Path::new(ETCD).exists() {
        eprintln!("SKIPPED: {ETCD} missing (run .ci/run-cluster-deps.sh)");
        return;
    }
    let etcd = start_etcd();
    for kind in WorkloadKind::ALL {
        for serializable in [false, true] {
            if serializable && kind != WorkloadKind::Register {
                continue;
            }
            let opts = WorkloadOptions {
                concurrency: 6,
                time_limit: SECOND,
                rate: 300.0,
                ops_per_key: 40,
                threads_per_key: 3,
                recovery_time: 0,
                final_time_limit: 5 * SECOND,
                ..WorkloadOptions::default()
            };
            let w = build(kind, &opts);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("history.jsonl");
            let cfg = RunConfig::new(6, vec!["n1".into()]);
            let prefix = format!("/t/{}-{serializable}/", kind.name());
            let clients = EtcdClients::new(
                &[("n1".into(), "127.0.0.1".into())],
                etcd.port,
                kind,
                prefix,
                serializable,
            );
            let s = runner::run(w.generator, Arc::new(clients), &cfg, &path).unwrap();
            eprintln!("{kind:?} serializable={serializable}: {s:?}");
            assert!(s.ok > 50, "{kind:?}: {s:?}");
            assert_eq!(s.info, 0, "{kind:?}: {s:?}");
            let h = read_file(&path, None).unwrap();
            let r = check(&w.checker, &h, &Default::default()).unwrap();
            assert_eq!(r.valid(), Validity::Valid, "{kind:?}: {}", r.to_text());
            if let CheckReport::JepsenSet(set) = &r {
                assert!(set.ok_count > 50, "{}", r.to_text());
            }
        }
    }
}
