//! Database automation, as Jepsen's DB protocols: set up and tear down a
//! database on each node, kill and restart it, pause and resume it, say where
//! its logs are and which nodes are primaries.
//!
//! Implementations talk to nodes only through [`Remote`], so they run the same
//! over SSH and on the local backend.

pub mod etcd;
pub mod postgres;
pub mod shell;

use std::path::{Path, PathBuf};
use std::time::Duration;

use faultline_control::{Cmd, Control, ControlError, Node, Remote};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("node {node}: {detail}")]
    Node { node: String, detail: String },
    #[error("node {node}: not healthy after {waited:?}: {detail}")]
    Unhealthy {
        node: String,
        waited: Duration,
        detail: String,
    },
    #[error("setup failed {attempts} time(s); last failures:\n{failures}")]
    Setup { attempts: u32, failures: String },
    #[error("{what} failed on {count} node(s):\n{failures}")]
    OnNodes {
        what: &'static str,
        count: usize,
        failures: String,
    },
    /// A shell DB's script (a suite file's `[db]` command) exited non-zero.
    #[error("node {node}: [db] {step} failed with {status}: {script}\n{output}")]
    Script {
        node: String,
        step: &'static str,
        script: String,
        status: String,
        output: String,
    },
    #[error("invalid DB option: {0}")]
    Invalid(String),
}

/// What a DB needs to know about the whole test while acting on one node.
#[derive(Debug, Clone)]
pub struct DbContext {
    /// Every node of the cluster, in order (the DB builds its membership from it).
    pub nodes: Vec<Node>,
}

/// Jepsen's `DB` + `Kill` + `Pause` + `LogFiles` + `Primary`.
pub trait Db: Send + Sync {
    fn name(&self) -> &str;
    /// Installs, configures and starts the DB on `node`, and waits until it is
    /// ready. Runs on every node at once.
    fn setup(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError>;
    /// Stops the DB and removes everything setup made, data included.
    fn teardown(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError>;
    /// Starts a stopped DB process (keeping its data).
    fn start(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError>;
    /// Waits (bounded) until a started DB serves requests on `node`. For DBs whose
    /// `start` already waits, nothing to do.
    fn await_ready(&self, _ctx: &DbContext, _node: &dyn Remote) -> Result<(), DbError> {
        Ok(())
    }
    /// SIGKILLs the DB process; succeeds if it was not running.
    fn kill(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError>;
    /// SIGSTOPs the DB process.
    fn pause(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError>;
    /// SIGCONTs the DB process.
    fn resume(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError>;
    /// Remote paths of log files worth downloading after a test.
    fn log_files(&self, ctx: &DbContext, node: &dyn Remote) -> Vec<String>;
    /// Best-effort list of the nodes currently acting as primary (leader).
    fn primaries(&self, _ctx: &DbContext, _control: &Control) -> Result<Vec<String>, DbError> {
        Ok(Vec::new())
    }
}

/// Whether `pid` runs on `node` as a live (not zombie) process named `comm`: a pidfile
/// may outlive its process, and the PID may have been reused by something else.
pub fn process_alive(node: &dyn Remote, pid: u32, comm: &str) -> Result<bool, DbError> {
    let stat = node.exec(&Cmd::new("cat").arg(format!("/proc/{pid}/stat")))?;
    if !stat.status.success() {
        return Ok(false);
    }
    // "PID (comm) STATE ...": comm may itself hold spaces or parentheses.
    let s = stat.stdout;
    let (Some(open), Some(close)) = (s.find('('), s.rfind(')')) else {
        return Ok(false);
    };
    if open >= close {
        return Ok(false);
    }
    let state = s[close + 1..].split_whitespace().next().unwrap_or("");
    Ok(&s[open + 1..close] == comm && state != "Z")
}

fn collect_failures<T>(results: Vec<(Node, Result<T, DbError>)>) -> Vec<String> {
    results
        .into_iter()
        .filter_map(|(n, r)| r.err().map(|e| format!("  {}: {e}", n.name)))
        .collect()
}

/// Sets the DB up on every node in parallel; if any node fails, tears down
/// everywhere and tries again, at most `attempts` times (Jepsen's `cycle!`
/// does 3).
pub fn setup_all(db: &dyn Db, control: &Control, attempts: u32) -> Result<(), DbError> {
    let ctx = DbContext {
        nodes: control.nodes(),
    };
    let attempts = attempts.max(1);
    let mut last = Vec::new();
    for attempt in 1..=attempts {
        tracing::info!(db = db.name(), attempt, "setting up");
        let failures = collect_failures(control.on_all(|r| db.setup(&ctx, r)));
        if failures.is_empty() {
            return Ok(());
        }
        for f in &failures {
            tracing::warn!(attempt, "setup failed: {}", f.trim());
        }
        last = failures;
        if let Err(e) = teardown_all(db, control) {
            tracing::warn!("teardown after failed setup: {e}");
        }
    }
    Err(DbError::Setup {
        attempts,
        failures: last.join("\n"),
    })
}

/// Tears the DB down on every node in parallel.
pub fn teardown_all(db: &dyn Db, control: &Control) -> Result<(), DbError> {
    on_all(control, "teardown", |ctx, r| db.teardown(ctx, r))
}

/// Runs one DB operation on every node (in parallel), failing with every
/// node's error.
pub fn on_all(
    control: &Control,
    what: &'static str,
    f: impl Fn(&DbContext, &dyn Remote) -> Result<(), DbError> + Sync,
) -> Result<(), DbError> {
    let ctx = DbContext {
        nodes: control.nodes(),
    };
    let failures = collect_failures(control.on_all(|r| f(&ctx, r)));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(DbError::OnNodes {
            what,
            count: failures.len(),
            failures: failures.join("\n"),
        })
    }
}

/// Downloads every node's log files into `dir/<node>/<file name>`; missing
/// files are skipped with a warning (a node that never started has none).
pub fn download_logs(db: &dyn Db, control: &Control, dir: &Path) -> Result<Vec<PathBuf>, DbError> {
    let ctx = DbContext {
        nodes: control.nodes(),
    };
    let results = control.on_all(|r| -> Result<Vec<PathBuf>, DbError> {
        let mut got = Vec::new();
        for remote in db.log_files(&ctx, r) {
            let exists = r.exec(&Cmd::new("test").arg("-e").arg(&remote))?;
            if !exists.status.success() {
                tracing::warn!(node = %r.node().name, file = %remote, "log file missing");
                continue;
            }
            let name = Path::new(&remote)
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "log".into());
            let local = dir.join(&r.node().name).join(name);
            r.download(&remote, &local)?;
            got.push(local);
        }
        Ok(got)
    });
    let mut all = Vec::new();
    let mut failures = Vec::new();
    for (n, r) in results {
        match r {
            Ok(v) => all.extend(v),
            Err(e) => failures.push(format!("  {}: {e}", n.name)),
        }
    }
    if failures.is_empty() {
        Ok(all)
    } else {
        Err(DbError::OnNodes {
            what: "log download",
            count: failures.len(),
            failures: failures.join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_control::local::LocalRemote;

    #[test]
    fn a_process_is_alive_only_under_its_own_name_and_until_reaped() {
        let node = LocalRemote::new(Node::new("n1", "127.0.0.1", 22), Duration::from_secs(5));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(process_alive(&node, pid, "sleep").unwrap());
        assert!(!process_alive(&node, pid, "etcd").unwrap());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!process_alive(&node, pid, "sleep").unwrap());
    }
}
