//! The control plane: "run this on node X", independent of how X is reached.
//!
//! DB automation and nemeses talk to [`Remote`] only. Two implementations exist:
//! [`ssh::SshRemote`] (real nodes, one pool of ssh2 sessions per node) and
//! [`local::LocalRemote`] (runs node commands on the controller itself, for
//! single-machine setups and for testing the layers above).

pub mod cmd;
pub mod local;
pub mod retry;
pub mod ssh;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use cmd::Cmd;

/// Longest stdout/stderr excerpt an error message carries; full output stays in
/// the [`Output`] for callers that want it.
const ERROR_EXCERPT: usize = 4096;

/// A node as the controller knows it: a logical name (n1, …) and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Node {
    pub fn new(name: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        Node {
            name: name.into(),
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name == self.host {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{} ({})", self.name, self.host)
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    /// Killed by a signal (name as reported, e.g. "KILL").
    Signal(String),
}

impl ExitStatus {
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Code(0))
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Control-plane errors. Every variant that concerns a node names it; command
/// errors carry the command line and what it printed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("node {node}: cannot connect to {addr} after {attempts} attempt(s) in {elapsed:.1?}: {detail} (check the node address, --ssh-port and that sshd runs there)")]
    Connect {
        node: String,
        addr: String,
        attempts: u32,
        elapsed: Duration,
        detail: String,
    },
    #[error("node {node}: SSH authentication failed for user {user}: {detail} (check --username, --password, --ssh-private-key)")]
    Auth {
        node: String,
        user: String,
        detail: String,
    },
    #[error("node {node}: host key verification failed: {detail}")]
    HostKey { node: String, detail: String },
    #[error("node {node}: SSH failure{}: {detail}", cmd_suffix(.cmd))]
    Ssh {
        node: String,
        cmd: Option<String>,
        detail: String,
    },
    #[error("node {node}: command timed out after {timeout:?}: {cmd}{}", output_excerpt(.stdout, .stderr))]
    Timeout {
        node: String,
        cmd: String,
        timeout: Duration,
        stdout: String,
        stderr: String,
    },
    #[error("node {node}: command failed with {status}: {cmd}{}", output_excerpt(.stdout, .stderr))]
    NonZeroExit {
        node: String,
        cmd: String,
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
    #[error("node {node}: {op} {local} <-> {remote} failed: {detail}")]
    Transfer {
        node: String,
        op: &'static str,
        local: PathBuf,
        remote: String,
        detail: String,
    },
    #[error("node {node}: no free SSH session within {waited:?}")]
    NoSession { node: String, waited: Duration },
    #[error("unknown node {0:?}")]
    UnknownNode(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("node {node}: {detail}")]
    Local { node: String, detail: String },
}

impl ControlError {
    /// The node this error is about, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            ControlError::Connect { node, .. }
            | ControlError::Auth { node, .. }
            | ControlError::HostKey { node, .. }
            | ControlError::Ssh { node, .. }
            | ControlError::Timeout { node, .. }
            | ControlError::NonZeroExit { node, .. }
            | ControlError::Transfer { node, .. }
            | ControlError::NoSession { node, .. }
            | ControlError::Local { node, .. } => Some(node),
            ControlError::UnknownNode(n) => Some(n),
            ControlError::InvalidArgument(_) => None,
        }
    }
}

fn cmd_suffix(cmd: &Option<String>) -> String {
    match cmd {
        Some(c) => format!(" running {c}"),
        None => String::new(),
    }
}

fn excerpt(s: &str) -> &str {
    let s = s.trim_end();
    if s.len() <= ERROR_EXCERPT {
        return s;
    }
    let mut start = s.len() - ERROR_EXCERPT;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn output_excerpt(stdout: &str, stderr: &str) -> String {
    let mut s = String::new();
    if !stdout.trim().is_empty() {
        s.push_str("\n  stdout: ");
        s.push_str(&excerpt(stdout).replace('\n', "\n          "));
    }
    if !stderr.trim().is_empty() {
        s.push_str("\n  stderr: ");
        s.push_str(&excerpt(stderr).replace('\n', "\n          "));
    }
    s
}

/// Runs commands on one node and moves files to and from it.
pub trait Remote: Send + Sync {
    fn node(&self) -> &Node;

    /// Runs `cmd` and returns its output whatever its exit status. Errors only when
    /// the command could not be run to completion (transport, timeout).
    fn exec(&self, cmd: &Cmd) -> Result<Output, ControlError>;

    /// Copies a local file or directory tree to exactly `remote` on the node.
    fn upload(&self, local: &Path, remote: &str) -> Result<(), ControlError>;

    /// Copies a file or directory tree at `remote` on the node to exactly `local`.
    fn download(&self, remote: &str, local: &Path) -> Result<(), ControlError>;

    /// Runs `cmd` and fails unless it exits 0; the error names the node, the
    /// command and its output.
    fn run(&self, cmd: &Cmd) -> Result<Output, ControlError> {
        let out = self.exec(cmd)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(ControlError::NonZeroExit {
                node: self.node().name.clone(),
                cmd: cmd.to_string(),
                status: out.status,
                stdout: out.stdout,
                stderr: out.stderr,
            })
        }
    }

    /// Like [`Remote::run`], returning stdout without its trailing newline.
    fn run_stdout(&self, cmd: &Cmd) -> Result<String, ControlError> {
        let mut out = self.run(cmd)?.stdout;
        while out.ends_with('\n') {
            out.pop();
        }
        Ok(out)
    }
}

/// Every node of a test, each behind its [`Remote`].
#[derive(Clone)]
pub struct Control {
    remotes: Vec<Arc<dyn Remote>>,
}

impl Control {
    pub fn from_remotes(remotes: Vec<Arc<dyn Remote>>) -> Self {
        Control { remotes }
    }

    /// Connects to every node over SSH, in parallel. Fails naming every node that
    /// could not be reached, once each node's connect timeout has run out.
    pub fn connect_ssh(nodes: &[Node], opts: &ssh::SshOptions) -> Result<Self, ControlError> {
        let opts = Arc::new(opts.clone());
        let results = parallel(nodes, |n| ssh::SshRemote::connect(n.clone(), opts.clone()));
        let mut remotes: Vec<Arc<dyn Remote>> = Vec::with_capacity(nodes.len());
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(r) => remotes.push(Arc::new(r)),
                Err(e) => errors.push(e),
            }
        }
        match errors.len() {
            0 => Ok(Control { remotes }),
            1 => Err(errors.remove(0)),
            _ => {
                let first = errors.remove(0);
                tracing::error!("{first}");
                for e in &errors {
                    tracing::error!("{e}");
                }
                Err(first)
            }
        }
    }

    /// Runs node commands on the controller itself.
    pub fn local(nodes: &[Node], default_timeout: Duration) -> Self {
        Control {
            remotes: nodes
                .iter()
                .map(|n| Arc::new(local::LocalRemote::new(n.clone(), default_timeout)) as _)
                .collect(),
        }
    }

    pub fn nodes(&self) -> Vec<Node> {
        self.remotes.iter().map(|r| r.node().clone()).collect()
    }

    pub fn remotes(&self) -> &[Arc<dyn Remote>] {
        &self.remotes
    }

    /// The remote for the node named `name` (or whose host is `name`).
    pub fn on(&self, name: &str) -> Result<&Arc<dyn Remote>, ControlError> {
        self.remotes
            .iter()
            .find(|r| r.node().name == name)
            .or_else(|| self.remotes.iter().find(|r| r.node().host == name))
            .ok_or_else(|| ControlError::UnknownNode(name.to_string()))
    }

    /// Runs `f` on every node in parallel (one thread per node, as Jepsen's
    /// `with-all-nodes`) and returns the results in node order.
    pub fn on_all<T, E, F>(&self, f: F) -> Vec<(Node, Result<T, E>)>
    where
        T: Send,
        E: Send,
        F: Fn(&dyn Remote) -> Result<T, E> + Sync,
    {
        let results = parallel(&self.remotes, |r| f(r.as_ref()));
        self.remotes
            .iter()
            .map(|r| r.node().clone())
            .zip(results)
            .collect()
    }
}

/// Maps `f` over `items` with one scoped thread per item; results in input order.
pub fn parallel<I, T, F>(items: &[I], f: F) -> Vec<T>
where
    I: Sync,
    T: Send,
    F: Fn(&I) -> T + Sync,
{
    if items.len() == 1 {
        return vec![f(&items[0])];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = items.iter().map(|i| s.spawn(|| f(i))).collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(v) => v,
                // A panic in one node's closure is a bug; keep its message.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}
