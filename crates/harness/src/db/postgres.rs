//! PostgreSQL: one server on the first node, every client talks to it (as Jepsen's
//! single-node postgres tests do). Debian's server binaries
//! (`/usr/lib/postgresql/<version>/bin`), run as the `postgres` user with a data
//! directory under /opt/postgres (node-private on the local cluster), listening on the
//! node's address with `trust` authentication for the subnets it is directly
//! connected to. The other nodes run nothing: every operation there is a no-op.
//!
//! Kill and pause act on the postmaster and its children (the backends serving the
//! clients): SIGKILL of the postmaster alone would leave backends holding shared
//! memory, and a restarted server would refuse to start.

use std::time::{Duration, Instant};

use super::{Db, DbContext, DbError};
use faultline_control::{Cmd, Control, Node, Remote};

/// Everything PostgreSQL-related on the server node lives here; teardown removes it.
pub const DIR: &str = "/opt/postgres";
const DATA_DIR: &str = "/opt/postgres/data";
const LOG_FILE: &str = "/opt/postgres/postgres.log";
/// The postmaster writes its PID on the first line of this file.
const PID_FILE: &str = "/opt/postgres/data/postmaster.pid";
/// Debian installs each major version's server binaries under here.
const VERSIONS_DIR: &str = "/usr/lib/postgresql";
/// initdb refuses to run as root; the server runs as the user Debian's package made.
pub const USER: &str = "postgres";
/// The database and role the clients use (initdb makes both).
pub const DATABASE: &str = "postgres";
/// Before giving up on a postmaster that has not written its pid file yet.
const START_GRACE: Duration = Duration::from_secs(5);
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Postgres {
    pub port: u16,
    /// How long setup and start wait for the server to accept connections.
    pub health_timeout: Duration,
    /// Server connection slots: the clients plus a margin (the default 100 is short
    /// for a test with many clients).
    pub max_connections: u32,
}

impl Default for Postgres {
    fn default() -> Self {
        Postgres {
            port: 5432,
            health_timeout: Duration::from_secs(30),
            max_connections: 300,
        }
    }
}

/// The node the server runs on: the first one.
pub fn server_node(nodes: &[Node]) -> Option<&Node> {
    nodes.first()
}

/// The newest major version among the names of `/usr/lib/postgresql`'s entries
/// (`15`, `16`, `9.6`...), compared numerically.
pub fn newest_version(listing: &str) -> Option<String> {
    let parse = |s: &str| -> Option<Vec<u32>> { s.split('.').map(|p| p.parse().ok()).collect() };
    listing
        .split_whitespace()
        .filter_map(|name| parse(name).map(|v| (v, name)))
        .max()
        .map(|(_, name)| name.to_string())
}

/// The settings appended to postgresql.conf. A deadlock (appends to two keys in
/// opposite orders) is found after deadlock_timeout; the default 1 s would stall
/// both transactions, and the test's throughput, that long. `host` goes between single quotes, so
/// it must not contain one (an address or a host name never does).
pub fn server_settings(host: &str, port: u16, max_connections: u32) -> Result<String, DbError> {
    if host.is_empty() || host.contains(['\'', '\\', '\n']) {
        return Err(DbError::Invalid(format!(
            "cannot listen on host {host:?}: not an address or host name"
        )));
    }
    Ok(format!(
        "# faultline\n\
         listen_addresses = '{host}'\n\
         port = {port}\n\
         unix_socket_directories = '{DIR}'\n\
         max_connections = {max_connections}\n\
         logging_collector = off\n\
         deadlock_timeout = 100ms\n\
         log_line_prefix = '%m [%p] %q%u@%d '\n"
    ))
}

/// pg_hba.conf: any user from the subnets the server is directly connected to (the
/// local cluster's bridge, where the controller is) without a password, as the
/// local socket already allows. Nothing else can connect.
const HBA_LINE: &str = "host all all samenet trust";

impl Postgres {
    fn is_server(ctx: &DbContext, node: &dyn Remote) -> bool {
        server_node(&ctx.nodes).is_some_and(|n| n.name == node.node().name)
    }

    /// `/usr/lib/postgresql/<newest version>/bin`.
    fn bin_dir(&self, node: &dyn Remote) -> Result<String, DbError> {
        let out = node.exec(&Cmd::new("ls").arg("-1").arg(VERSIONS_DIR))?;
        let version = out
            .status
            .success()
            .then(|| newest_version(&out.stdout))
            .flatten()
            .ok_or_else(|| DbError::Node {
                node: node.node().name.clone(),
                detail: format!(
                    "no PostgreSQL server under {VERSIONS_DIR}: install Debian's postgresql package"
                ),
            })?;
        Ok(format!("{VERSIONS_DIR}/{version}/bin"))
    }

    fn as_postgres(program: String) -> Cmd {
        Cmd::new("runuser").args(["-u", USER, "--"]).arg(program)
    }

    /// Makes the data directory unless a previous setup left one (start after kill
    /// keeps the data).
    fn install(&self, node: &dyn Remote, bin: &str) -> Result<(), DbError> {
        node.run(&Cmd::new("mkdir").args(["-p", DIR]))?;
        node.run(&Cmd::new("chown").arg(format!("{USER}:{USER}")).arg(DIR))?;
        let exists = node.exec(
            &Cmd::new("test")
                .arg("-e")
                .arg(format!("{DATA_DIR}/PG_VERSION")),
        )?;
        if exists.status.success() {
            return Ok(());
        }
        // --no-sync: a test database need not survive a host crash during setup.
        node.run(
            &Self::as_postgres(format!("{bin}/initdb"))
                .args(["-D", DATA_DIR, "--auth=trust", "--username", USER])
                .args(["--encoding=UTF8", "--locale=C", "--no-sync"])
                .stdin_null()
                .stdout_append(LOG_FILE)
                .stderr_to_stdout()
                .timeout(Duration::from_secs(120)),
        )?;
        let settings = server_settings(&node.node().host, self.port, self.max_connections)?;
        node.run(
            &Cmd::new("cat")
                .stdin(settings)
                .stdout_append(format!("{DATA_DIR}/postgresql.conf")),
        )?;
        node.run(
            &Cmd::new("echo")
                .arg(HBA_LINE)
                .stdout_append(format!("{DATA_DIR}/pg_hba.conf")),
        )?;
        Ok(())
    }

    /// The postmaster's PID if it is running (not a zombie, still postgres).
    fn running_pid(&self, node: &dyn Remote) -> Result<Option<u32>, DbError> {
        let out = node.exec(&Cmd::new("head").args(["-n", "1", PID_FILE]))?;
        if !out.status.success() {
            return Ok(None);
        }
        let Ok(pid) = out.stdout.trim().parse::<u32>() else {
            return Ok(None);
        };
        Ok(alive_postgres(node, pid)?.then_some(pid))
    }

    /// The postmaster's children: backends, checkpointer, walwriter...
    fn children(&self, node: &dyn Remote, pid: u32) -> Result<Vec<u32>, DbError> {
        let out = node.exec(&Cmd::new("pgrep").args(["-P", &pid.to_string()]))?;
        // pgrep exits 1 when nothing matched.
        Ok(out
            .stdout
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }

    fn signal(&self, node: &dyn Remote, sig: &str, pids: &[u32]) -> Result<(), DbError> {
        if pids.is_empty() {
            return Ok(());
        }
        // A process that exited meanwhile makes kill exit 1: that is fine.
        node.exec(
            &Cmd::new("kill")
                .arg(format!("-{sig}"))
                .args(pids.iter().map(u32::to_string)),
        )?;
        Ok(())
    }

    /// Whether the server accepts connections on the node's address.
    fn ready(&self, node: &dyn Remote, bin: &str) -> Result<bool, DbError> {
        let out = node.exec(
            &Cmd::new(format!("{bin}/pg_isready"))
                .args(["-h", &node.node().host, "-p", &self.port.to_string()])
                .args(["-d", DATABASE, "-U", USER, "-t", "2"])
                .timeout(Duration::from_secs(10)),
        )?;
        Ok(out.status.success())
    }

    fn log_tail(node: &dyn Remote) -> String {
        node.exec(&Cmd::new("tail").args(["-n", "20", LOG_FILE]))
            .map(|o| o.stdout)
            .unwrap_or_default()
    }

    /// Polls readiness until it succeeds or `health_timeout` runs out; fails at once
    /// when the postmaster has gone.
    fn await_ready(&self, node: &dyn Remote, bin: &str) -> Result<(), DbError> {
        let start = Instant::now();
        let deadline = start + self.health_timeout;
        while Instant::now() < deadline {
            if self.ready(node, bin)? {
                tracing::info!(node = %node.node().name, elapsed = ?start.elapsed(), "postgres ready");
                return Ok(());
            }
            if start.elapsed() > START_GRACE && self.running_pid(node)?.is_none() {
                return Err(DbError::Node {
                    node: node.node().name.clone(),
                    detail: format!(
                        "postgres exited; last lines of {LOG_FILE}:\n{}",
                        Self::log_tail(node)
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(DbError::Unhealthy {
            node: node.node().name.clone(),
            waited: self.health_timeout,
            detail: format!(
                "pg_isready never succeeded; last lines of {LOG_FILE}:\n{}",
                Self::log_tail(node)
            ),
        })
    }

    /// Starts the postmaster detached, as the postgres user; false if it was running.
    fn start_server(&self, node: &dyn Remote, bin: &str) -> Result<bool, DbError> {
        if self.running_pid(node)?.is_some() {
            return Ok(false);
        }
        node.run(
            &Cmd::new("echo")
                .arg(format!(
                    "faultline: starting postgres on {}",
                    node.node().name
                ))
                .stdout_append(LOG_FILE),
        )?;
        // start-stop-daemon detaches it (stdin from /dev/null, output to the log, or
        // the SSH channel would stay open). The postmaster writes its own pid file;
        // after a SIGKILL that file is stale, which the postmaster handles itself.
        let postgres = format!("{bin}/postgres");
        node.run(
            &Cmd::new("start-stop-daemon")
                .args(["--start", "--background", "--no-close", "--oknodo"])
                .args(["--chuid", USER, "--chdir", DIR])
                .args(["--pidfile", PID_FILE, "--exec", &postgres, "--"])
                .args(["-D", DATA_DIR])
                .stdin_null()
                .stdout_append(LOG_FILE)
                .stderr_to_stdout()
                .timeout(Duration::from_secs(30)),
        )?;
        Ok(true)
    }
}

/// Whether `pid` is a live postgres process: a PID reused by something else must not
/// be signalled.
fn alive_postgres(node: &dyn Remote, pid: u32) -> Result<bool, DbError> {
    super::process_alive(node, pid, "postgres")
}

impl Db for Postgres {
    fn name(&self) -> &str {
        "postgres"
    }

    fn setup(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        if !Self::is_server(ctx, node) {
            return Ok(());
        }
        let bin = self.bin_dir(node)?;
        self.install(node, &bin)?;
        self.start_server(node, &bin)?;
        self.await_ready(node, &bin)
    }

    fn teardown(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        if !Self::is_server(ctx, node) {
            return Ok(());
        }
        self.resume(ctx, node)?;
        self.kill(ctx, node)?;
        node.run(&Cmd::new("rm").args(["-rf", DIR]))?;
        Ok(())
    }

    fn start(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        if !Self::is_server(ctx, node) {
            return Ok(());
        }
        let bin = self.bin_dir(node)?;
        // A running server is left alone, even a paused one that cannot answer (the
        // nemesis heals a kill, by starting, before a pause, by resuming).
        if self.start_server(node, &bin)? {
            self.await_ready(node, &bin)?;
        }
        Ok(())
    }

    /// SIGKILLs the postmaster and every child, stopping the postmaster first so that
    /// it cannot fork a new backend in between.
    fn kill(&self, _ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let Some(pid) = self.running_pid(node)? else {
            return Ok(());
        };
        self.signal(node, "STOP", &[pid])?;
        let mut all = self.children(node, pid)?;
        all.push(pid);
        self.signal(node, "KILL", &all)?;
        // Bounded wait until the node's init has reaped them all.
        let deadline = Instant::now() + KILL_TIMEOUT;
        let mut left = all;
        while Instant::now() < deadline {
            let mut still = Vec::new();
            for p in left {
                if alive_postgres(node, p)? {
                    still.push(p);
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            left = still;
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(DbError::Node {
            node: node.node().name.clone(),
            detail: format!("postgres processes {left:?} still running 10s after SIGKILL"),
        })
    }

    /// SIGSTOPs the postmaster, then its children (a stopped postmaster forks none).
    fn pause(&self, _ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let Some(pid) = self.running_pid(node)? else {
            return Ok(());
        };
        self.signal(node, "STOP", &[pid])?;
        let kids = self.children(node, pid)?;
        self.signal(node, "STOP", &kids)
    }

    /// SIGCONTs the children, then the postmaster.
    fn resume(&self, _ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let Some(pid) = self.running_pid(node)? else {
            return Ok(());
        };
        let kids = self.children(node, pid)?;
        self.signal(node, "CONT", &kids)?;
        self.signal(node, "CONT", &[pid])
    }

    fn log_files(&self, ctx: &DbContext, node: &dyn Remote) -> Vec<String> {
        if Self::is_server(ctx, node) {
            vec![LOG_FILE.to_string()]
        } else {
            Vec::new()
        }
    }

    /// The one server is the primary.
    fn primaries(&self, ctx: &DbContext, _control: &Control) -> Result<Vec<String>, DbError> {
        Ok(server_node(&ctx.nodes)
            .map(|n| vec![n.name.clone()])
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_major_version() {
        assert_eq!(newest_version("15\n"), Some("15".into()));
        assert_eq!(newest_version("9.6\n15\n16\n"), Some("16".into()));
        assert_eq!(newest_version("9.6\n10\n"), Some("10".into()));
        assert_eq!(newest_version("README\n"), None);
        assert_eq!(newest_version(""), None);
    }

    #[test]
    fn settings_listen_on_the_node_only() {
        let s = server_settings("10.77.0.11", 5432, 300).unwrap();
        assert!(s.contains("listen_addresses = '10.77.0.11'\n"));
        assert!(s.contains("port = 5432\n"));
        assert!(s.contains(&format!("unix_socket_directories = '{DIR}'")));
        assert!(server_settings("a'b", 5432, 300).is_err());
        assert!(server_settings("", 5432, 300).is_err());
    }

    #[test]
    fn the_first_node_is_the_server() {
        let nodes = vec![
            Node::new("n1", "10.0.0.1", 22),
            Node::new("n2", "10.0.0.2", 22),
        ];
        assert_eq!(server_node(&nodes).unwrap().name, "n1");
        assert!(server_node(&[]).is_none());
    }
}
