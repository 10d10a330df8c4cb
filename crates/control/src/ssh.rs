//! [`Remote`] over SSH with the `ssh2` crate (libssh2).
//!
//! Each node has a small pool of SSH connections, one command at a time per
//! connection. One connection per concurrent command keeps libssh2's per-session
//! state machines single-threaded (libssh2 is not safe for two threads driving
//! one session's non-blocking calls), and a command that hangs cannot stall the
//! others. Commands run in non-blocking mode so that stdin, stdout and stderr
//! are serviced together and the per-command deadline is enforced by us, not by
//! a per-call libssh2 timeout. File transfers use SFTP in blocking mode with a
//! per-call timeout.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, CheckResult, ErrorCode, KnownHostFileKind, OpenFlags, OpenType};

use super::retry::{retry, Backoff};
use super::{Cmd, ControlError, ExitStatus, Node, Output, Remote};

/// Most bytes of stdout (and of stderr) kept per command; the rest is drained
/// and dropped so a runaway command cannot exhaust the controller's memory.
pub const MAX_CAPTURE: usize = 64 << 20;
/// libssh2's "would block" return code.
const LIBSSH2_ERROR_EAGAIN: i32 = -37;
/// Bounded directory recursion for transfers.
const MAX_DEPTH: usize = 64;

/// How to reach and log into nodes; the defaults are Jepsen's (root, port 22).
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub username: String,
    /// Used for password login when no key works, and for sudo.
    pub password: Option<String>,
    pub private_key: Option<PathBuf>,
    /// Verify host keys against `known_hosts` (default ~/.ssh/known_hosts).
    pub strict_host_key_checking: bool,
    pub known_hosts: Option<PathBuf>,
    /// Total time to open one connection, retries included.
    pub connect_timeout: Duration,
    /// Most connection attempts within `connect_timeout`.
    pub connect_attempts: u32,
    /// Default per-command timeout (a [`Cmd`] may set its own).
    pub command_timeout: Duration,
    /// Timeout of each blocking SFTP call.
    pub transfer_timeout: Duration,
    /// Most concurrent connections per node (sshd's default MaxStartups is 10:10).
    pub max_sessions: usize,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            username: "root".into(),
            password: None,
            private_key: None,
            strict_host_key_checking: false,
            known_hosts: None,
            connect_timeout: Duration::from_secs(10),
            connect_attempts: 5,
            command_timeout: Duration::from_secs(120),
            transfer_timeout: Duration::from_secs(60),
            max_sessions: 8,
        }
    }
}

/// Why a connection attempt failed; only `Transient` is worth retrying.
#[derive(Debug)]
enum ConnectError {
    Transient(String),
    Auth(String),
    HostKey(String),
}

struct Conn {
    sess: ssh2::Session,
    fd: RawFd,
}

struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

pub struct SshRemote {
    node: Node,
    opts: Arc<SshOptions>,
    pool: Mutex<Pool>,
    freed: Condvar,
}

/// A connection checked out of the pool; returned on drop unless marked broken.
struct Lease<'a> {
    remote: &'a SshRemote,
    conn: Option<Conn>,
    broken: bool,
}

impl Lease<'_> {
    fn conn(&self) -> &Conn {
        // Invariant: `conn` is Some until drop.
        self.conn
            .as_ref()
            .expect("lease holds a connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self.remote.lock_pool();
        match self.conn.take() {
            Some(c) if !self.broken => pool.idle.push(c),
            _ => pool.open = pool.open.saturating_sub(1),
        }
        self.remote.freed.notify_one();
    }
}

impl SshRemote {
    /// Opens the first connection to `node` (bounded by the connect timeout), so
    /// that an unreachable node is reported at start, by name.
    pub fn connect(node: Node, opts: Arc<SshOptions>) -> Result<Self, ControlError> {
        let remote = SshRemote {
            node,
            opts,
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        };
        let conn = remote.open_conn()?;
        let mut pool = remote.lock_pool();
        pool.idle.push(conn);
        pool.open = 1;
        drop(pool);
        Ok(remote)
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        // A panic while holding this lock leaves plain counters behind: usable.
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.node.host, self.node.port)
    }

    /// Opens one authenticated connection, retrying transient failures with
    /// backoff within the connect timeout.
    fn open_conn(&self) -> Result<Conn, ControlError> {
        let deadline = Instant::now() + self.opts.connect_timeout;
        let r = retry(
            self.opts.connect_attempts,
            deadline,
            Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
            |e| matches!(e, ConnectError::Transient(_)),
            |left| self.connect_once(left),
        );
        r.map_err(|e| match e.last {
            ConnectError::Transient(detail) => ControlError::Connect {
                node: self.node.name.clone(),
                addr: self.addr(),
                attempts: e.attempts,
                elapsed: e.elapsed,
                detail,
            },
            ConnectError::Auth(detail) => ControlError::Auth {
                node: self.node.name.clone(),
                user: self.opts.username.clone(),
                detail,
            },
            ConnectError::HostKey(detail) => ControlError::HostKey {
                node: self.node.name.clone(),
                detail,
            },
        })
    }

    fn connect_once(&self, left: Duration) -> Result<Conn, ConnectError> {
        if left.is_zero() {
            return Err(ConnectError::Transient("connect timeout".into()));
        }
        let addrs: Vec<_> = self
            .addr()
            .to_socket_addrs()
            .map_err(|e| ConnectError::Transient(format!("cannot resolve {}: {e}", self.addr())))?
            .collect();
        let addr = addrs
            .first()
            .ok_or_else(|| ConnectError::Transient(format!("{} has no address", self.addr())))?;
        let tcp = TcpStream::connect_timeout(addr, left)
            .map_err(|e| ConnectError::Transient(format!("TCP connect to {addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let fd = tcp.as_raw_fd();
        let mut sess = ssh2::Session::new()
            .map_err(|e| ConnectError::Transient(format!("libssh2 session: {e}")))?;
        sess.set_tcp_stream(tcp);
        // Bounds the handshake and authentication against a peer that accepts
        // TCP but never speaks SSH.
        sess.set_timeout(left.as_millis().clamp(1, u32::MAX as u128) as u32);
        sess.handshake()
            .map_err(|e| ConnectError::Transient(format!("SSH handshake: {e}")))?;
        self.check_host_key(&sess)?;
        self.authenticate(&sess)?;
        Ok(Conn { sess, fd })
    }

    fn check_host_key(&self, sess: &ssh2::Session) -> Result<(), ConnectError> {
        if !self.opts.strict_host_key_checking {
            return Ok(());
        }
        let path = match &self.opts.known_hosts {
            Some(p) => p.clone(),
            None => home_dir()
                .map(|h| h.join(".ssh/known_hosts"))
                .ok_or_else(|| ConnectError::HostKey("no HOME for ~/.ssh/known_hosts".into()))?,
        };
        let mut kh = sess
            .known_hosts()
            .map_err(|e| ConnectError::HostKey(e.to_string()))?;
        kh.read_file(&path, KnownHostFileKind::OpenSSH)
            .map_err(|e| ConnectError::HostKey(format!("reading {}: {e}", path.display())))?;
        let (key, _) = sess
            .host_key()
            .ok_or_else(|| ConnectError::HostKey("server sent no host key".into()))?;
        match kh.check_port(&self.node.host, self.node.port, key) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => Err(ConnectError::HostKey(format!(
                "host key for {} does NOT match {}",
                self.node.host,
                path.display()
            ))),
            CheckResult::NotFound => Err(ConnectError::HostKey(format!(
                "{} is not in {}",
                self.node.host,
                path.display()
            ))),
            CheckResult::Failure => Err(ConnectError::HostKey("known_hosts check failed".into())),
        }
    }

    fn authenticate(&self, sess: &ssh2::Session) -> Result<(), ConnectError> {
        let user = &self.opts.username;
        let mut tried = Vec::new();
        if let Some(key) = &self.opts.private_key {
            if !key.exists() {
                return Err(ConnectError::Auth(format!(
                    "private key {} does not exist",
                    key.display()
                )));
            }
            match sess.userauth_pubkey_file(user, None, key, None) {
                Ok(()) if sess.authenticated() => return Ok(()),
                r => tried.push(format!("key {}: {}", key.display(), err_text(r.err()))),
            }
        } else {
            match sess.userauth_agent(user) {
                Ok(()) if sess.authenticated() => return Ok(()),
                r => tried.push(format!("agent: {}", err_text(r.err()))),
            }
            for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
                let Some(path) = home_dir().map(|h| h.join(".ssh").join(name)) else {
                    break;
                };
                if path.exists() {
                    match sess.userauth_pubkey_file(user, None, &path, None) {
                        Ok(()) if sess.authenticated() => return Ok(()),
                        r => tried.push(format!("key {}: {}", path.display(), err_text(r.err()))),
                    }
                }
            }
        }
        if let Some(pw) = &self.opts.password {
            match sess.userauth_password(user, pw) {
                Ok(()) if sess.authenticated() => return Ok(()),
                r => tried.push(format!("password: {}", err_text(r.err()))),
            }
        }
        if tried.is_empty() {
            tried.push("no key or password to try".into());
        }
        // A dropped connection during auth (e.g. sshd's MaxStartups) is
        // transient; a rejected credential is not.
        if tried
            .iter()
            .any(|t| t.contains("Unable to send") || t.contains("socket"))
        {
            return Err(ConnectError::Transient(tried.join("; ")));
        }
        Err(ConnectError::Auth(tried.join("; ")))
    }

    /// Checks a connection out of the pool, opening one if the pool is not full.
    fn lease(&self) -> Result<Lease<'_>, ControlError> {
        let waited_max = self.opts.command_timeout + self.opts.connect_timeout;
        let deadline = Instant::now() + waited_max;
        let mut pool = self.lock_pool();
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(Lease {
                    remote: self,
                    conn: Some(conn),
                    broken: false,
                });
            }
            if pool.open < self.opts.max_sessions.max(1) {
                pool.open += 1;
                drop(pool);
                return match self.open_conn() {
                    Ok(conn) => Ok(Lease {
                        remote: self,
                        conn: Some(conn),
                        broken: false,
                    }),
                    Err(e) => {
                        let mut pool = self.lock_pool();
                        pool.open = pool.open.saturating_sub(1);
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ControlError::NoSession {
                    node: self.node.name.clone(),
                    waited: waited_max,
                });
            }
            pool = self
                .freed
                .wait_timeout(pool, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    fn discard_idle(&self) {
        let mut pool = self.lock_pool();
        let n = pool.idle.len();
        pool.idle.clear();
        pool.open = pool.open.saturating_sub(n);
        self.freed.notify_all();
    }

    fn needs_sudo(&self) -> bool {
        self.opts.username != "root"
    }

    /// The command line and stdin actually sent: wrapped in sudo when the login
    /// user is not root (password, if any, goes first on stdin, as Jepsen does).
    fn wrap(&self, cmd: &Cmd) -> Result<(String, Vec<u8>), ControlError> {
        let line = cmd.render()?;
        if !(self.needs_sudo() && cmd.wants_sudo()) {
            return Ok((line, cmd.get_stdin().to_vec()));
        }
        let mut sudo = Cmd::new("sudo");
        let mut stdin = Vec::new();
        match &self.opts.password {
            Some(pw) => {
                sudo = sudo.args(["-S", "-k", "-p", ""]);
                stdin.extend_from_slice(pw.as_bytes());
                stdin.push(b'\n');
            }
            None => sudo = sudo.arg("-n"),
        }
        let wrapped = sudo.args(["-u", "root", "--", "sh", "-c"]).arg(line);
        stdin.extend_from_slice(cmd.get_stdin());
        Ok((wrapped.render()?, stdin))
    }

    fn ssh_err(&self, cmd: Option<&str>, detail: impl Into<String>) -> ControlError {
        ControlError::Ssh {
            node: self.node.name.clone(),
            cmd: cmd.map(str::to_string),
            detail: detail.into(),
        }
    }

    fn sftp_transfer(
        &self,
        op: &'static str,
        local: &Path,
        remote: &str,
        f: impl Fn(&ssh2::Sftp) -> Result<(), String>,
    ) -> Result<(), ControlError> {
        let terr = |detail: String| ControlError::Transfer {
            node: self.node.name.clone(),
            op,
            local: local.to_path_buf(),
            remote: remote.to_string(),
            detail,
        };
        let mut lease = self.lease()?;
        let sess = &lease.conn().sess;
        sess.set_blocking(true);
        sess.set_timeout(
            self.opts
                .transfer_timeout
                .as_millis()
                .clamp(1, u32::MAX as u128) as u32,
        );
        let r = match sess.sftp() {
            Ok(sftp) => f(&sftp),
            Err(e) => Err(format!(
                "cannot start SFTP (is the sftp subsystem enabled?): {e}"
            )),
        };
        if r.is_err() {
            // The connection may be mid-transfer; do not reuse it.
            lease.broken = true;
        }
        r.map_err(terr)
    }

    fn staging_path(&self) -> String {
        format!("/tmp/faultline-stage-{:016x}", rand::random::<u64>())
    }
}

enum ExecError {
    /// Failed before the command was sent: safe to retry on a new connection.
    NotStarted(String),
    /// The connection failed while the command ran: it may or may not have run.
    Broken(String),
    Timeout {
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
}

fn is_eagain(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

/// Waits until the socket is ready in the direction libssh2 is blocked on, or
/// `deadline`, or a short slice (libssh2 may have buffered data to give).
fn wait_socket(conn: &Conn, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    let events = match conn.sess.block_directions() {
        BlockDirections::Inbound => libc::POLLIN,
        BlockDirections::Outbound => libc::POLLOUT,
        BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
        BlockDirections::None => libc::POLLIN,
    };
    let ms = left.min(Duration::from_millis(50)).as_millis() as libc::c_int;
    let mut pfd = libc::pollfd {
        fd: conn.fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, owned by this stack frame; fd lives as long as sess.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
    }
}

/// Repeats a non-blocking libssh2 call until it stops saying "would block".
fn nb<T>(
    conn: &Conn,
    deadline: Instant,
    mut f: impl FnMut() -> Result<T, ssh2::Error>,
) -> Result<Option<T>, ssh2::Error> {
    loop {
        match f() {
            Ok(v) => return Ok(Some(v)),
            Err(e) if is_eagain(&e) => {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                wait_socket(conn, deadline);
            }
            Err(e) => return Err(e),
        }
    }
}

fn push_capped(buf: &mut Vec<u8>, data: &[u8]) {
    let room = MAX_CAPTURE.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

/// Runs one command on a connection in non-blocking mode.
fn exec_on(conn: &Conn, line: &str, stdin: &[u8], deadline: Instant) -> Result<Output, ExecError> {
    let sess = &conn.sess;
    sess.set_blocking(false);
    let timeout = || ExecError::Timeout {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let mut ch = nb(conn, deadline, || sess.channel_session())
        .map_err(|e| ExecError::NotStarted(format!("opening a channel: {e}")))?
        .ok_or_else(timeout)?;
    nb(conn, deadline, || ch.exec(line))
        .map_err(|e| ExecError::Broken(format!("sending the command: {e}")))?
        .ok_or_else(timeout)?;

    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut written = 0;
    let mut eof_sent = false;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut progress = false;
        // Feed stdin as the window allows, interleaved with reading, so a
        // command that writes before it reads cannot deadlock us.
        if written < stdin.len() {
            match ch.write(&stdin[written..]) {
                Ok(n) => {
                    written += n;
                    progress |= n > 0;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // The command may exit without reading its stdin; that is its
                // business, the exit status will tell.
                Err(_) => written = stdin.len(),
            }
        } else if !eof_sent {
            match ch.send_eof() {
                Ok(()) => {
                    eof_sent = true;
                    progress = true;
                }
                Err(e) if is_eagain(&e) => {}
                Err(_) => eof_sent = true,
            }
        }
        for stream in [0, 1] {
            loop {
                let r = if stream == 0 {
                    ch.read(&mut buf)
                } else {
                    ch.stderr().read(&mut buf)
                };
                match r {
                    Ok(0) => break,
                    Ok(n) => {
                        progress = true;
                        let target = if stream == 0 {
                            &mut stdout
                        } else {
                            &mut stderr
                        };
                        push_capped(target, &buf[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(ExecError::Broken(format!("reading output: {e}"))),
                }
            }
        }
        if ch.eof() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = ch.close();
            return Err(ExecError::Timeout { stdout, stderr });
        }
        if !progress {
            wait_socket(conn, deadline);
        }
    }
    match nb(conn, deadline, || ch.wait_close()) {
        Ok(Some(())) => {}
        Ok(None) => return Err(ExecError::Timeout { stdout, stderr }),
        Err(e) => return Err(ExecError::Broken(format!("closing the channel: {e}"))),
    }
    let code = ch
        .exit_status()
        .map_err(|e| ExecError::Broken(format!("reading the exit status: {e}")))?;
    let status = match ch.exit_signal() {
        Ok(sig) => match sig.exit_signal {
            Some(s) if !s.is_empty() => ExitStatus::Signal(s),
            _ => ExitStatus::Code(code),
        },
        Err(_) => ExitStatus::Code(code),
    };
    Ok(Output {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

impl Remote for SshRemote {
    fn node(&self) -> &Node {
        &self.node
    }

    fn exec(&self, cmd: &Cmd) -> Result<Output, ControlError> {
        let (line, stdin) = self.wrap(cmd)?;
        let shown = cmd.to_string();
        let timeout = cmd.get_timeout().unwrap_or(self.opts.command_timeout);
        let deadline = Instant::now() + timeout;
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
        let max_attempts = self.opts.connect_attempts.max(1);
        let mut attempt = 0;
        tracing::debug!(node = %self.node.name, cmd = %shown, "exec");
        loop {
            attempt += 1;
            let mut lease = self.lease()?;
            match exec_on(lease.conn(), &line, &stdin, deadline) {
                Ok(out) => return Ok(out),
                Err(ExecError::NotStarted(detail)) => {
                    // Most likely a connection the server has dropped while it
                    // sat idle in the pool: reconnect and retry; the command
                    // never ran, so this is safe.
                    lease.broken = true;
                    drop(lease);
                    // When the server dropped one idle connection (sshd
                    // restarted, node rebooted) it dropped the others too:
                    // discard them all rather than burn an attempt on each.
                    self.discard_idle();
                    if attempt >= max_attempts || Instant::now() >= deadline {
                        return Err(self.ssh_err(Some(&shown), detail));
                    }
                    tracing::debug!(node = %self.node.name, %detail, "reconnecting");
                    let d = backoff
                        .next_delay()
                        .min(deadline.saturating_duration_since(Instant::now()));
                    std::thread::sleep(d);
                }
                Err(ExecError::Broken(detail)) => {
                    lease.broken = true;
                    return Err(self.ssh_err(
                        Some(&shown),
                        format!(
                            "connection lost while the command ran (it may or may not have taken effect): {detail}"
                        ),
                    ));
                }
                Err(ExecError::Timeout { stdout, stderr }) => {
                    // The channel is in an unknown state: drop the connection.
                    lease.broken = true;
                    return Err(ControlError::Timeout {
                        node: self.node.name.clone(),
                        cmd: shown,
                        timeout,
                        stdout: String::from_utf8_lossy(&stdout).into_owned(),
                        stderr: String::from_utf8_lossy(&stderr).into_owned(),
                    });
                }
            }
        }
    }

    fn upload(&self, local: &Path, remote: &str) -> Result<(), ControlError> {
        if !local.exists() {
            return Err(ControlError::Transfer {
                node: self.node.name.clone(),
                op: "upload",
                local: local.to_path_buf(),
                remote: remote.to_string(),
                detail: "local path does not exist".into(),
            });
        }
        let target = if self.needs_sudo() {
            self.staging_path()
        } else {
            remote.to_string()
        };
        if let Some(parent) = Path::new(&target).parent().and_then(|p| p.to_str()) {
            if !parent.is_empty() {
                self.run(&Cmd::new("mkdir").arg("-p").arg(parent).sudo(false))?;
            }
        }
        self.sftp_transfer("upload", local, remote, |sftp| {
            put_tree(sftp, local, Path::new(&target), 0)
        })?;
        if self.needs_sudo() {
            if let Some(parent) = Path::new(remote).parent().and_then(|p| p.to_str()) {
                if !parent.is_empty() {
                    self.run(&Cmd::new("mkdir").arg("-p").arg(parent))?;
                }
            }
            self.run(&Cmd::new("cp").args(["-rT", &target, remote]))?;
            self.run(&Cmd::new("rm").args(["-rf", &target]))?;
        }
        Ok(())
    }

    fn download(&self, remote: &str, local: &Path) -> Result<(), ControlError> {
        let source = if self.needs_sudo() {
            let stage = self.staging_path();
            self.run(&Cmd::new("cp").args(["-rT", remote, &stage]))?;
            self.run(&Cmd::new("chown").args(["-R", &self.opts.username, &stage]))?;
            stage
        } else {
            remote.to_string()
        };
        let r = self.sftp_transfer("download", local, remote, |sftp| {
            get_tree(sftp, Path::new(&source), local, 0)
        });
        if self.needs_sudo() {
            let _ = self.run(&Cmd::new("rm").args(["-rf", &source]));
        }
        r
    }
}

fn put_tree(sftp: &ssh2::Sftp, local: &Path, remote: &Path, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "tree deeper than {MAX_DEPTH} at {}",
            local.display()
        ));
    }
    let meta = std::fs::metadata(local).map_err(|e| format!("{}: {e}", local.display()))?;
    let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
    if meta.is_dir() {
        match sftp.stat(remote) {
            Ok(st) if st.is_dir() => {}
            _ => sftp
                .mkdir(remote, mode as i32)
                .map_err(|e| format!("mkdir {}: {e}", remote.display()))?,
        }
        let entries = std::fs::read_dir(local).map_err(|e| format!("{}: {e}", local.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", local.display()))?;
            put_tree(
                sftp,
                &entry.path(),
                &remote.join(entry.file_name()),
                depth + 1,
            )?;
        }
        Ok(())
    } else {
        let mut src =
            std::fs::File::open(local).map_err(|e| format!("{}: {e}", local.display()))?;
        let mut dst = sftp
            .open_mode(
                remote,
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                mode as i32,
                OpenType::File,
            )
            .map_err(|e| format!("creating {}: {e}", remote.display()))?;
        std::io::copy(&mut src, &mut dst)
            .map_err(|e| format!("writing {}: {e}", remote.display()))?;
        Ok(())
    }
}

fn get_tree(sftp: &ssh2::Sftp, remote: &Path, local: &Path, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "tree deeper than {MAX_DEPTH} at {}",
            remote.display()
        ));
    }
    let st = sftp
        .stat(remote)
        .map_err(|e| format!("stat {}: {e}", remote.display()))?;
    if st.is_dir() {
        std::fs::create_dir_all(local).map_err(|e| format!("{}: {e}", local.display()))?;
        let entries = sftp
            .readdir(remote)
            .map_err(|e| format!("readdir {}: {e}", remote.display()))?;
        for (path, _) in entries {
            let Some(name) = path.file_name() else {
                continue;
            };
            get_tree(sftp, &path, &local.join(name), depth + 1)?;
        }
        Ok(())
    } else if st.is_file() {
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let mut src = sftp
            .open(remote)
            .map_err(|e| format!("opening {}: {e}", remote.display()))?;
        let mut dst =
            std::fs::File::create(local).map_err(|e| format!("{}: {e}", local.display()))?;
        std::io::copy(&mut src, &mut dst)
            .map_err(|e| format!("reading {}: {e}", remote.display()))?;
        if let Some(perm) = st.perm {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(local, std::fs::Permissions::from_mode(perm & 0o7777));
        }
        Ok(())
    } else {
        // Sockets, devices, FIFOs: nothing sensible to copy.
        Ok(())
    }
}

fn err_text(e: Option<ssh2::Error>) -> String {
    match e {
        Some(e) => e.to_string(),
        None => "rejected".into(),
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn opts(timeout: Duration, attempts: u32) -> Arc<SshOptions> {
        Arc::new(SshOptions {
            connect_timeout: timeout,
            connect_attempts: attempts,
            private_key: Some(PathBuf::from("/nonexistent/key")),
            ..SshOptions::default()
        })
    }

    /// A port on loopback that refuses connections: retried with backoff, a
    /// bounded number of times, then an error naming the node.
    #[test]
    fn refused_connection_is_retried_then_named() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let start = Instant::now();
        let err = SshRemote::connect(
            Node::new("n-refused", "127.0.0.1", port),
            opts(Duration::from_secs(20), 4),
        )
        .err()
        .expect("connection must fail");
        let elapsed = start.elapsed();
        match &err {
            ControlError::Connect { attempts, .. } => assert_eq!(*attempts, 4),
            other => panic!("unexpected error {other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("n-refused"), "{msg}");
        assert!(msg.contains("refused"), "{msg}");
        // Three backoff sleeps of at least 50, 100, 200 ms (jitter >= 0.5).
        assert!(elapsed >= Duration::from_millis(350), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    }

    /// A peer that accepts TCP but never speaks SSH must not hang us: the
    /// error comes within the connect timeout and names the node.
    #[test]
    fn silent_peer_times_out_within_connect_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let start = Instant::now();
        let err = SshRemote::connect(
            Node::new("n-silent", "127.0.0.1", port),
            opts(Duration::from_millis(1500), 3),
        )
        .err()
        .expect("connection must fail");
        let elapsed = start.elapsed();
        drop(listener);
        let msg = err.to_string();
        assert!(msg.contains("n-silent"), "{msg}");
        assert!(elapsed < Duration::from_millis(3000), "{elapsed:?}: {msg}");
    }

    #[test]
    fn sudo_wrapping_quotes_the_whole_command() {
        let remote = SshRemote {
            node: Node::new("n1", "h", 22),
            opts: Arc::new(SshOptions {
                username: "admin".into(),
                password: Some("pw".into()),
                ..SshOptions::default()
            }),
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        };
        let (line, stdin) = remote
            .wrap(&Cmd::new("echo").arg("it's").stdin("x"))
            .unwrap();
        let words = shlex::split(&line).unwrap();
        assert_eq!(
            &words[..10],
            &["sudo", "-S", "-k", "-p", "", "-u", "root", "--", "sh", "-c"]
        );
        assert_eq!(shlex::split(&words[10]).unwrap(), vec!["echo", "it's"]);
        assert_eq!(stdin, b"pw\nx");
        let (line, _) = remote.wrap(&Cmd::new("id").sudo(false)).unwrap();
        assert_eq!(line, "id");
    }
}
