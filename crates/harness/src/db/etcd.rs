//! etcd, set up as jepsen-io/etcd does: one member per node under /opt/etcd,
//! started as a daemon with a pidfile and a log, cluster membership from the
//! node list, the data wiped on teardown.
//!
//! The binary is either the `etcd` already on the node (Debian's etcd-server)
//! or one installed from a release archive uploaded from the controller.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Db, DbContext, DbError};
use faultline_control::{Cmd, Control, Remote};

/// Everything etcd-related on a node lives here; teardown removes it.
pub const DIR: &str = "/opt/etcd";
const DATA_DIR: &str = "/opt/etcd/data";
const LOG_FILE: &str = "/opt/etcd/etcd.log";
const PID_FILE: &str = "/opt/etcd/etcd.pid";
const ARCHIVE_ON_NODE: &str = "/opt/etcd/etcd-release.tar.gz";

/// Where [`ClockLaunch`] puts the agent on each node.
pub use faultline_agent::{AGENT_DIR as LAUNCHER_DIR, AGENT_ON_NODE as LAUNCHER_ON_NODE};

/// Runs etcd under `faultline-agent clock-launch`, so that clock faults reach it
/// (etcd is a Go program: libfaketime cannot shift its clock).
#[derive(Debug, Clone)]
pub struct ClockLaunch {
    /// The `faultline-agent` binary on the controller, copied to every node at setup.
    pub binary: PathBuf,
    /// The offset file the clock nemesis rewrites on the nodes.
    pub offset_file: String,
}

#[derive(Debug, Clone)]
pub struct Etcd {
    /// A release archive (etcd-vX.Y.Z-linux-amd64.tar.gz) to install on every
    /// node; None uses the `etcd` and `etcdctl` on the node's PATH.
    pub archive: Option<PathBuf>,
    pub client_port: u16,
    pub peer_port: u16,
    /// How long setup and start wait for the member to be healthy.
    pub health_timeout: Duration,
    /// Start etcd under the clock launcher (for clock faults).
    pub clock: Option<ClockLaunch>,
}

impl Default for Etcd {
    fn default() -> Self {
        Etcd {
            archive: None,
            client_port: 2379,
            peer_port: 2380,
            health_timeout: Duration::from_secs(30),
            clock: None,
        }
    }
}

/// One member's view, from `etcdctl endpoint status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    pub member_id: u64,
    pub leader: u64,
    pub raft_term: u64,
    pub version: String,
}

impl MemberStatus {
    pub fn is_leader(&self) -> bool {
        self.member_id != 0 && self.member_id == self.leader
    }
}

#[derive(Deserialize)]
struct EpStatus {
    #[serde(rename = "Status")]
    status: EpStatusInner,
}

#[derive(Deserialize)]
struct EpStatusInner {
    header: EpHeader,
    leader: u64,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
struct EpHeader {
    member_id: u64,
    raft_term: u64,
}

/// Parses `etcdctl endpoint status -w json` output (one endpoint).
pub fn parse_endpoint_status(json: &str) -> Result<MemberStatus, String> {
    let v: Vec<EpStatus> =
        serde_json::from_str(json.trim()).map_err(|e| format!("bad endpoint status JSON: {e}"))?;
    let s = v
        .into_iter()
        .next()
        .ok_or_else(|| "empty endpoint status".to_string())?;
    Ok(MemberStatus {
        member_id: s.status.header.member_id,
        leader: s.status.leader,
        raft_term: s.status.header.raft_term,
        version: s.status.version,
    })
}

impl Etcd {
    fn etcd_bin(&self, node: &dyn Remote) -> Result<String, DbError> {
        if self.archive.is_some() {
            return Ok(format!("{DIR}/etcd"));
        }
        // start-stop-daemon needs an absolute path.
        let out = node.exec(&Cmd::new("sh").args(["-c", "command -v etcd"]))?;
        let path = out.stdout.trim().to_string();
        if !out.status.success() || !path.starts_with('/') {
            return Err(DbError::Node {
                node: node.node().name.clone(),
                detail: "no etcd binary on the node: install Debian's etcd-server or pass --etcd-archive".into(),
            });
        }
        Ok(path)
    }

    fn etcdctl(&self) -> String {
        if self.archive.is_some() {
            format!("{DIR}/etcdctl")
        } else {
            "etcdctl".into()
        }
    }

    fn client_url(&self, host: &str) -> String {
        format!("http://{host}:{}", self.client_port)
    }

    fn peer_url(&self, host: &str) -> String {
        format!("http://{host}:{}", self.peer_port)
    }

    /// Copies the launcher to the node unless an identical-size copy is there
    /// (the binary is large; setup runs often).
    fn install_launcher(&self, node: &dyn Remote) -> Result<(), DbError> {
        let Some(clock) = &self.clock else {
            return Ok(());
        };
        let local_len = std::fs::metadata(&clock.binary)
            .map_err(|e| DbError::Invalid(format!("{}: {e}", clock.binary.display())))?
            .len();
        let remote = node.exec(&Cmd::new("stat").args(["-c", "%s", LAUNCHER_ON_NODE]))?;
        if remote.status.success() && remote.stdout.trim() == local_len.to_string() {
            return Ok(());
        }
        node.run(&Cmd::new("mkdir").args(["-p", LAUNCHER_DIR]))?;
        node.upload(&clock.binary, LAUNCHER_ON_NODE)?;
        node.run(&Cmd::new("chmod").args(["755", LAUNCHER_ON_NODE]))?;
        Ok(())
    }

    fn install(&self, node: &dyn Remote) -> Result<(), DbError> {
        node.run(&Cmd::new("mkdir").args(["-p", DIR]))?;
        self.install_launcher(node)?;
        let Some(archive) = &self.archive else {
            self.etcd_bin(node)?;
            return Ok(());
        };
        node.upload(archive, ARCHIVE_ON_NODE)?;
        // Release archives hold one top-level directory (etcd-vX-linux-amd64/).
        node.run(&Cmd::new("tar").args([
            "-xzf",
            ARCHIVE_ON_NODE,
            "-C",
            DIR,
            "--strip-components=1",
            "--no-same-owner",
        ]))?;
        node.run(&Cmd::new("rm").args(["-f", ARCHIVE_ON_NODE]))?;
        let v = node.exec(&Cmd::new(format!("{DIR}/etcd")).arg("--version"))?;
        if !v.status.success() {
            return Err(DbError::Node {
                node: node.node().name.clone(),
                detail: format!(
                    "{} does not contain a working etcd (expected DIR/etcd at the archive's top level): {}",
                    archive.display(),
                    v.stderr.trim()
                ),
            });
        }
        Ok(())
    }

    /// The member's PID if its process is running (not a zombie).
    fn running_pid(&self, node: &dyn Remote) -> Result<Option<u32>, DbError> {
        let out = node.exec(&Cmd::new("cat").arg(PID_FILE))?;
        if !out.status.success() {
            return Ok(None);
        }
        let Ok(pid) = out.stdout.trim().parse::<u32>() else {
            return Ok(None);
        };
        // The PID must still be etcd's, not a reuse.
        if super::process_alive(node, pid, "etcd")? {
            Ok(Some(pid))
        } else {
            Ok(None)
        }
    }

    fn signal(&self, node: &dyn Remote, sig: &str) -> Result<Option<u32>, DbError> {
        let Some(pid) = self.running_pid(node)? else {
            return Ok(None);
        };
        node.run(&Cmd::new("kill").arg(format!("-{sig}")).arg(pid.to_string()))?;
        Ok(Some(pid))
    }

    /// This member's status as it reports it.
    pub fn member_status(&self, node: &dyn Remote) -> Result<MemberStatus, DbError> {
        let out = node.run(
            &Cmd::new(self.etcdctl())
                .arg(format!(
                    "--endpoints={}",
                    self.client_url(&node.node().host)
                ))
                .args(["--command-timeout=3s", "--dial-timeout=2s"])
                .args(["endpoint", "status", "-w", "json"])
                .env("ETCDCTL_API", "3")
                .timeout(Duration::from_secs(10)),
        )?;
        parse_endpoint_status(&out.stdout).map_err(|detail| DbError::Node {
            node: node.node().name.clone(),
            detail,
        })
    }

    /// Whether this member answers `endpoint health` (which needs a quorum).
    pub fn healthy(&self, node: &dyn Remote) -> Result<bool, DbError> {
        let out = node.exec(
            &Cmd::new(self.etcdctl())
                .arg(format!(
                    "--endpoints={}",
                    self.client_url(&node.node().host)
                ))
                .args(["--command-timeout=2s", "--dial-timeout=1s"])
                .args(["endpoint", "health"])
                .env("ETCDCTL_API", "3")
                .timeout(Duration::from_secs(10)),
        )?;
        Ok(out.status.success())
    }

    /// Polls health until it succeeds or `health_timeout` runs out.
    pub fn await_healthy(&self, node: &dyn Remote) -> Result<(), DbError> {
        let start = Instant::now();
        let deadline = start + self.health_timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.healthy(node) {
                Ok(true) => {
                    tracing::info!(node = %node.node().name, elapsed = ?start.elapsed(), "etcd healthy");
                    return Ok(());
                }
                Ok(false) => last = "endpoint health failed".into(),
                Err(e) => last = e.to_string(),
            }
            if self.running_pid(node)?.is_none() {
                let tail = node
                    .exec(&Cmd::new("tail").args(["-n", "20", LOG_FILE]))
                    .map(|o| o.stdout)
                    .unwrap_or_default();
                return Err(DbError::Node {
                    node: node.node().name.clone(),
                    detail: format!("etcd exited; last lines of {LOG_FILE}:\n{tail}"),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(DbError::Unhealthy {
            node: node.node().name.clone(),
            waited: self.health_timeout,
            detail: last,
        })
    }
}

impl Db for Etcd {
    fn await_ready(&self, _ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        self.await_healthy(node)
    }

    fn name(&self) -> &str {
        "etcd"
    }

    fn setup(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        self.install(node)?;
        self.start(ctx, node)?;
        self.await_healthy(node)
    }

    fn teardown(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        self.resume(ctx, node)?;
        self.kill(ctx, node)?;
        node.run(&Cmd::new("rm").args(["-rf", DIR]))?;
        if self.clock.is_some() {
            node.run(&Cmd::new("rm").args(["-rf", LAUNCHER_DIR]))?;
        }
        Ok(())
    }

    fn start(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        if self.running_pid(node)?.is_some() {
            return Ok(());
        }
        let me = node.node();
        if !ctx.nodes.iter().any(|n| n.name == me.name) {
            return Err(DbError::Invalid(format!(
                "node {} is not in the cluster's node list",
                me.name
            )));
        }
        let bin = self.etcd_bin(node)?;
        let initial_cluster = ctx
            .nodes
            .iter()
            .map(|n| format!("{}={}", n.name, self.peer_url(&n.host)))
            .collect::<Vec<_>>()
            .join(",");
        node.run(&Cmd::new("mkdir").args(["-p", DIR]))?;
        node.run(
            &Cmd::new("echo")
                .arg(format!("faultline: starting etcd member {}", me.name))
                .stdout_append(LOG_FILE),
        )?;
        // start-stop-daemon detaches etcd; stdin from /dev/null and output to
        // the log, or the SSH channel would stay open as long as etcd runs.
        // On restart with an existing data dir, etcd ignores the
        // --initial-cluster* flags and rejoins with its stored membership.
        // Under the clock launcher, etcd keeps the launcher's PID (it execs
        // etcd), so the pidfile, kill and pause work unchanged.
        let daemon = Cmd::new("start-stop-daemon")
            .args(["--start", "--background", "--no-close", "--oknodo"])
            .args(["--make-pidfile", "--pidfile", PID_FILE]);
        let daemon = match &self.clock {
            None => daemon.args(["--chdir", DIR, "--exec", &bin, "--"]),
            Some(c) => daemon
                .args(["--chdir", DIR, "--exec", LAUNCHER_ON_NODE, "--"])
                .args(["clock-launch", "--offset-file", &c.offset_file, "--", &bin]),
        };
        node.run(
            &daemon
                .args(["--name", &me.name, "--data-dir", DATA_DIR])
                .arg("--listen-peer-urls")
                .arg(format!("http://0.0.0.0:{}", self.peer_port))
                .arg("--initial-advertise-peer-urls")
                .arg(self.peer_url(&me.host))
                .arg("--listen-client-urls")
                .arg(format!("http://0.0.0.0:{}", self.client_port))
                .arg("--advertise-client-urls")
                .arg(self.client_url(&me.host))
                .args(["--initial-cluster", &initial_cluster])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", "faultline"])
                .args(["--logger", "zap", "--log-outputs", "stderr"])
                .stdin_null()
                .stdout_append(LOG_FILE)
                .stderr_to_stdout()
                .timeout(Duration::from_secs(30)),
        )?;
        Ok(())
    }

    fn kill(&self, _ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let Some(pid) = self.signal(node, "KILL")? else {
            return Ok(());
        };
        // Bounded wait until the kernel has reaped it (the node's init reaps).
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.running_pid(node)? != Some(pid) {
                node.run(&Cmd::new("rm").args(["-f", PID_FILE]))?;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(DbError::Node {
            node: node.node().name.clone(),
            detail: format!("etcd (pid {pid}) still running 10s after SIGKILL"),
        })
    }

    fn pause(&self, _ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        self.signal(node, "STOP")?;
        Ok(())
    }

    fn resume(&self, _ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        self.signal(node, "CONT")?;
        Ok(())
    }

    fn log_files(&self, _ctx: &DbContext, _node: &dyn Remote) -> Vec<String> {
        vec![LOG_FILE.to_string()]
    }

    /// Asks every member; the leader is the member that says it is leader
    /// with the highest raft term (as jepsen-io/etcd does).
    fn primaries(&self, _ctx: &DbContext, control: &Control) -> Result<Vec<String>, DbError> {
        let statuses = control.on_all(|r| self.member_status(r));
        let leaders: Vec<(u64, String)> = statuses
            .into_iter()
            .filter_map(|(n, s)| match s {
                Ok(s) if s.is_leader() => Some((s.raft_term, n.name)),
                _ => None,
            })
            .collect();
        let Some(max) = leaders.iter().map(|(t, _)| *t).max() else {
            return Ok(Vec::new());
        };
        Ok(leaders
            .into_iter()
            .filter(|(t, _)| *t == max)
            .map(|(_, n)| n)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoint_status() {
        let json = r#"[{"Endpoint":"http://10.77.0.11:2379","Status":{"header":{"cluster_id":17237436991929493444,"member_id":9372538179322589801,"revision":1,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":9372538179322589801,"raftIndex":8,"raftTerm":2,"raftAppliedIndex":8,"dbSizeInUse":20480}}]"#;
        let s = parse_endpoint_status(json).unwrap();
        assert!(s.is_leader());
        assert_eq!(s.raft_term, 2);
        assert_eq!(s.version, "3.4.23");
        assert!(parse_endpoint_status("[]").is_err());
        assert!(parse_endpoint_status("garbage").is_err());
    }
}
