//! External clients: any executable, one process per history process, spoken to in
//! JSON Lines over its stdin and stdout (docs/client-protocol.md).
//!
//! faultline stays in charge of time and of the history: every operation gets an
//! answer within its timeout whatever the client does. A client that times out,
//! exits, or writes something that is not a completion makes the operation `info`
//! (its effect is unknown), and its process group is killed and reaped; the runner
//! opens a fresh client for the next process. Only the client itself can say `fail`.
//!
//! Each client runs in its own process group (we created it, so killing the group by
//! the child's PID only reaches processes the client started): a shell script's
//! `sleep` or a wrapper's child dies with it, and no pipe stays open behind it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_checkers::history::OpType;
use faultline_workloads::workload::WorkloadKind;
use serde_json::{json, Map, Value};

use crate::runner::{Client, ClientFactory, Completion, Invocation, OpenError};

/// The protocol version in `open` and FAULTLINE_PROTOCOL.
pub const PROTOCOL_VERSION: u64 = 1;
/// Longest line accepted from a client's stdout (a final set read is well below).
pub const MAX_LINE: usize = 16 << 20;
/// How long an error message waits for a dead client's stderr to be read to its end
/// (a stderr still held open by a grandchild that escaped the kill is not waited for).
const STDERR_DRAIN: Duration = Duration::from_millis(500);
/// Longest stderr line kept whole; the rest of a longer line is cut.
const MAX_STDERR_LINE: usize = 64 << 10;
/// `clients.log` stops growing here (a chatty client must not fill the disk).
const MAX_LOG_BYTES: u64 = 64 << 20;
/// How long a client may take to exit after `close` before it is killed.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// After stdout closes, how long to wait for the exit status before killing.
const EXIT_WAIT: Duration = Duration::from_millis(200);
/// How much of an offending line goes into an error message.
const QUOTE_CHARS: usize = 200;
/// Lines read ahead of the worker (one op at a time: more would be a misbehaving client).
const LINE_QUEUE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    #[error("--client-command is empty")]
    EmptyCommand,
    #[error("--client-command {0:?}: unbalanced quotes")]
    BadQuoting(String),
    #[error("--client-env {0:?}: expected KEY=VALUE with a non-empty KEY")]
    BadEnv(String),
}

/// What to run: the command and the environment it gets on top of faultline's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl ExternalSpec {
    /// From the command line: `command` split as a POSIX shell would (no shell runs it),
    /// `env` items as `KEY=VALUE`.
    pub fn parse(command: &str, env: &[String]) -> Result<ExternalSpec, ExternalError> {
        let argv =
            shlex::split(command).ok_or_else(|| ExternalError::BadQuoting(command.into()))?;
        if argv.is_empty() {
            return Err(ExternalError::EmptyCommand);
        }
        let env = env
            .iter()
            .map(|item| match item.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(ExternalError::BadEnv(item.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ExternalSpec { argv, env })
    }

    /// The command as one shell-quoted line, for messages.
    pub fn command_line(&self) -> String {
        shlex::try_join(self.argv.iter().map(String::as_str))
            .unwrap_or_else(|_| self.argv.join(" "))
    }

    /// For `test.json`.
    pub fn describe(&self) -> faultline_store::ClientRecord {
        faultline_store::ClientRecord {
            argv: self.argv.clone(),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// What a client is told about the run.
#[derive(Debug, Clone)]
pub struct ExternalContext {
    /// (node name, host), in node order.
    pub nodes: Vec<(String, String)>,
    pub workload: WorkloadKind,
    /// Unique to the run; every key goes under it (the built-in etcd client's prefix).
    pub key_prefix: String,
    /// Where `clients.log` (the clients' stderr) goes; `None`: to tracing at debug level.
    pub log_dir: Option<PathBuf>,
    /// How long a client may take to start and answer `open`.
    pub open_timeout: Duration,
}

/// Starts external clients (a [`ClientFactory`]).
pub struct ExternalClients {
    spec: ExternalSpec,
    ctx: ExternalContext,
    command_line: String,
    log: Arc<ClientLog>,
}

impl ExternalClients {
    pub fn new(spec: ExternalSpec, ctx: ExternalContext) -> ExternalClients {
        let log = Arc::new(ClientLog::new(
            ctx.log_dir.as_ref().map(|d| d.join("clients.log")),
        ));
        ExternalClients {
            command_line: spec.command_line(),
            spec,
            ctx,
            log,
        }
    }

    fn start(&self, node: &str, process: Option<u64>) -> Result<ExternalClient, OpenError> {
        let host = self
            .ctx
            .nodes
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, h)| h.clone())
            .ok_or_else(|| OpenError::Misconfigured(format!("no host for node {node}")))?;
        let names: Vec<&str> = self.ctx.nodes.iter().map(|(n, _)| n.as_str()).collect();
        let hosts: Vec<&str> = self.ctx.nodes.iter().map(|(_, h)| h.as_str()).collect();
        let label = match process {
            Some(p) => format!("client `{}` (process {p}, node {node})", self.command_line),
            None => format!("client `{}` (node {node})", self.command_line),
        };
        let mut cmd = Command::new(&self.spec.argv[0]);
        cmd.args(&self.spec.argv[1..])
            .env("FAULTLINE_NODE", node)
            .env("FAULTLINE_HOST", &host)
            .env("FAULTLINE_NODES", names.join(" "))
            .env("FAULTLINE_HOSTS", hosts.join(" "))
            .env("FAULTLINE_WORKLOAD", self.ctx.workload.name())
            .env("FAULTLINE_KEY_PREFIX", &self.ctx.key_prefix)
            .env("FAULTLINE_PROTOCOL", PROTOCOL_VERSION.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so that killing it reaches whatever it started.
            .process_group(0);
        match process {
            Some(p) => cmd.env("FAULTLINE_PROCESS", p.to_string()),
            None => cmd.env_remove("FAULTLINE_PROCESS"),
        };
        cmd.envs(self.spec.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .spawn()
            .map_err(|e| OpenError::Misconfigured(format!("cannot start {label}: {e}")))?;
        let stdin = child.stdin.take();
        if let Some(s) = &stdin {
            set_nonblocking(s);
        }
        let (out, err) = (child.stdout.take(), child.stderr.take());
        let (tx, lines) = mpsc::sync_channel(LINE_QUEUE);
        // From here on, dropping `client` kills and reaps the process.
        let mut client = ExternalClient {
            child,
            reaped: None,
            stdin,
            lines,
            next_id: 0,
            process,
            label,
            last_stderr: Arc::new(Mutex::new(String::new())),
            stderr_reader: None,
        };
        if let Some(out) = out {
            spawn_reader(out, tx, &client.label).map_err(OpenError::Unavailable)?;
        }
        if let Some(err) = err {
            let prefix = match process {
                Some(p) => format!("[process {p} {node}] "),
                None => format!("[{node}] "),
            };
            let last = client.last_stderr.clone();
            client.stderr_reader = Some(
                spawn_stderr(err, prefix, self.log.clone(), last, &client.label)
                    .map_err(OpenError::Unavailable)?,
            );
        }
        let deadline = Instant::now() + self.ctx.open_timeout;
        let open = json!({
            "type": "open",
            "protocol": PROTOCOL_VERSION,
            "node": node,
            "host": host,
            "nodes": names,
            "hosts": hosts,
            "process": process,
            "workload": self.ctx.workload.name(),
            "key_prefix": self.ctx.key_prefix,
        });
        let answer = client
            .send(&open, deadline)
            .and_then(|()| client.receive(deadline));
        match answer {
            Ok(m) => match m.get("type").and_then(Value::as_str) {
                Some("ok") => Ok(client),
                Some("error") => Err(OpenError::Unavailable(format!(
                    "{} could not open: {}",
                    client.label,
                    error_text(m.get("error")).unwrap_or_else(|| "no reason given".into())
                ))),
                _ => Err(OpenError::Protocol(format!(
                    "protocol error from {}: expected {{\"type\":\"ok\"}} or {{\"type\":\"error\"}} in answer to open, got {}",
                    client.label,
                    quote(&Value::Object(m).to_string())
                ))),
            },
            Err(failure) => Err(OpenError::Unavailable(client.describe(failure, "open"))),
        }
        // On an error `client` drops here: killed and reaped.
    }
}

impl ClientFactory for ExternalClients {
    fn open(&self, node: &str) -> Result<Box<dyn Client>, OpenError> {
        Ok(Box::new(self.start(node, None)?))
    }

    fn open_process(&self, node: &str, process: u64) -> Result<Box<dyn Client>, OpenError> {
        Ok(Box::new(self.start(node, Some(process))?))
    }
}

/// One client process.
pub struct ExternalClient {
    child: Child,
    /// Set once the child is reaped: its PID (and group) may then belong to someone else.
    reaped: Option<ExitStatus>,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    next_id: u64,
    process: Option<u64>,
    label: String,
    last_stderr: Arc<Mutex<String>>,
    /// The stderr copier: finished once the client (and its group) is gone.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

/// What the stdout reader saw.
enum Line {
    Text(String),
    TooLong,
    NotUtf8,
    Closed,
    Error(String),
}

/// Why a client gave no usable answer.
enum Failure {
    Timeout,
    /// stdout closed (or stdin broke): the client is gone.
    Gone(String),
    Protocol(String),
}

impl ExternalClient {
    /// Writes one JSON line; our end of stdin is non-blocking, so a client that stops
    /// reading cannot hold us past `deadline`.
    fn send(&mut self, msg: &Value, deadline: Instant) -> Result<(), Failure> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(Failure::Gone("its stdin is closed".into()));
        };
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(b'\n');
        let mut at = 0;
        while at < bytes.len() {
            match stdin.write(&bytes[at..]) {
                Ok(0) => return Err(Failure::Gone("its stdin is closed".into())),
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(Failure::Timeout);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Gone(format!("writing to its stdin: {e}"))),
            }
        }
        Ok(())
    }

    /// The next non-blank line, parsed as a JSON object.
    fn receive(&mut self, deadline: Instant) -> Result<Map<String, Value>, Failure> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(l) => l,
                Err(RecvTimeoutError::Timeout) => return Err(Failure::Timeout),
                Err(RecvTimeoutError::Disconnected) => Line::Closed,
            };
            let text = match line {
                Line::Text(t) => t,
                Line::TooLong => {
                    return Err(Failure::Protocol(format!(
                        "a line longer than {MAX_LINE} bytes"
                    )))
                }
                Line::NotUtf8 => return Err(Failure::Protocol("a line that is not UTF-8".into())),
                Line::Closed => return Err(Failure::Gone("it closed its stdout".into())),
                Line::Error(e) => return Err(Failure::Gone(format!("reading its stdout: {e}"))),
            };
            if text.trim().is_empty() {
                continue;
            }
            return match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err(Failure::Protocol(format!(
                    "not a JSON object: {}",
                    quote(&text)
                ))),
                Err(e) => Err(Failure::Protocol(format!(
                    "not JSON ({e}): {}",
                    quote(&text)
                ))),
            };
        }
    }

    /// Whatever the client wrote since its last answer: a line now would be taken for
    /// the next operation's answer, so anything but blank lines is an error.
    fn unsolicited(&mut self) -> Result<(), Failure> {
        loop {
            match self.lines.try_recv() {
                Ok(Line::Text(t)) if t.trim().is_empty() => {}
                Ok(Line::Text(t)) => {
                    return Err(Failure::Protocol(format!(
                        "a line after its last answer, before this operation: {}",
                        quote(&t)
                    )))
                }
                Ok(Line::TooLong | Line::NotUtf8) => {
                    return Err(Failure::Protocol(
                        "an unreadable line after its last answer".into(),
                    ))
                }
                Ok(Line::Closed) | Err(mpsc::TryRecvError::Disconnected) => {
                    return Err(Failure::Gone("it closed its stdout".into()))
                }
                Ok(Line::Error(e)) => {
                    return Err(Failure::Gone(format!("reading its stdout: {e}")))
                }
                Err(mpsc::TryRecvError::Empty) => return Ok(()),
            }
        }
    }

    /// A failure as an error message, after the client is killed and reaped (so the
    /// message can say how it ended).
    fn describe(&mut self, failure: Failure, during: &str) -> String {
        let msg = match failure {
            Failure::Timeout => {
                self.kill();
                format!("timeout: {} gave no answer to {during} in time", self.label)
            }
            Failure::Gone(why) => {
                let status = self.wait_exit(EXIT_WAIT);
                format!(
                    "{} died during {during}: {why}; {}",
                    self.label,
                    status.map_or("exit status unknown".into(), |s| exit_text(&s))
                )
            }
            Failure::Protocol(what) => {
                self.kill();
                format!("protocol error from {} during {during}: {what}", self.label)
            }
        };
        // The client is reaped: its stderr has reached its end, or will as soon as the
        // copier reads what is left. Its last words are what the message needs.
        let drained = Instant::now() + STDERR_DRAIN;
        while self
            .stderr_reader
            .as_ref()
            .is_some_and(|t| !t.is_finished())
            && Instant::now() < drained
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let last = self
            .last_stderr
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        if last.is_empty() {
            msg
        } else {
            format!("{msg} (last stderr line: {last})")
        }
    }

    /// Gives the child `grace` to exit on its own, then kills its group; reaps it.
    fn wait_exit(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.reaped {
            return Some(s);
        }
        let until = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                // Exited (a zombie until now): its group may still hold its children.
                Ok(Some(status)) => {
                    self.kill_group();
                    self.reaped = Some(status);
                    return Some(status);
                }
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
                _ => return self.kill(),
            }
        }
    }

    /// SIGKILLs the client's process group and reaps the client.
    fn kill(&mut self) -> Option<ExitStatus> {
        if let Some(s) = self.reaped {
            return Some(s);
        }
        self.stdin = None;
        self.kill_group();
        match self.child.wait() {
            Ok(status) => {
                self.reaped = Some(status);
                Some(status)
            }
            Err(e) => {
                tracing::warn!("{}: waiting for it: {e}", self.label);
                None
            }
        }
    }

    fn kill_group(&self) {
        // Only while the child is not reaped: until then its PID, which is also the
        // group's id, cannot have been reused.
        if self.reaped.is_some() {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: plain syscall on a process group we created (see process_group(0)).
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }

    fn completion(
        &self,
        m: Map<String, Value>,
        id: u64,
        inv: &Invocation,
    ) -> Result<Completion, String> {
        let kind = match m.get("type").and_then(Value::as_str) {
            Some("ok") => OpType::Ok,
            Some("fail") => OpType::Fail,
            Some("info") => OpType::Info,
            _ => {
                return Err(format!(
                    "expected a completion (type ok, fail or info): {}",
                    quote(&Value::Object(m).to_string())
                ))
            }
        };
        match m.get("id") {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64() == Some(id) => {}
            Some(v) => {
                let v = v.to_string();
                return Err(format!(
                    "a completion for id {v} while operation {id} is open: {}",
                    quote(&Value::Object(m).to_string())
                ));
            }
        }
        Ok(Completion {
            kind,
            // Absent: the invocation's value (a write's ok); present, even null: the result.
            value: m.get("value").cloned().unwrap_or_else(|| inv.value.clone()),
            error: error_text(m.get("error")),
        })
    }
}

impl Client for ExternalClient {
    fn invoke(&mut self, op: &Invocation) -> Completion {
        if self.reaped.is_some() {
            return Completion::info(op.value.clone(), format!("{} is gone", self.label));
        }
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({
            "type": "invoke",
            "id": id,
            "process": self.process,
            "f": &*op.f,
            "value": op.value,
            "timeout_ms": u64::try_from(op.timeout.as_millis()).unwrap_or(u64::MAX),
        });
        if let Some(k) = &op.key {
            msg["key"] = k.clone();
        }
        let deadline = Instant::now() + op.timeout;
        let answer = self
            .unsolicited()
            .and_then(|()| self.send(&msg, deadline))
            .and_then(|()| self.receive(deadline));
        let failure = match answer {
            Ok(m) => match self.completion(m, id, op) {
                Ok(c) => return c,
                Err(what) => Failure::Protocol(what),
            },
            Err(f) => f,
        };
        let during = format!("{} (id {id})", op.f);
        let msg = self.describe(failure, &during);
        tracing::debug!("{msg}");
        Completion::info(op.value.clone(), msg)
    }

    fn close(&mut self) {
        if self.reaped.is_some() {
            return;
        }
        let _ = self.send(
            &json!({"type": "close"}),
            Instant::now() + Duration::from_millis(100),
        );
        // EOF on stdin: a client reading in a loop ends there.
        self.stdin = None;
        self.wait_exit(CLOSE_GRACE);
    }
}

impl Drop for ExternalClient {
    fn drop(&mut self) {
        // Not closed (an error path): no grace.
        self.kill();
    }
}

/// Reads stdout lines of at most [`MAX_LINE`] bytes into `tx`, until EOF.
fn spawn_reader(
    out: std::process::ChildStdout,
    tx: SyncSender<Line>,
    label: &str,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name("client-stdout".into())
        .spawn(move || {
            let mut r = BufReader::new(out);
            loop {
                let mut buf = Vec::new();
                let line = match r
                    .by_ref()
                    .take(MAX_LINE as u64 + 1)
                    .read_until(b'\n', &mut buf)
                {
                    Ok(0) => Line::Closed,
                    Ok(_) if buf.len() > MAX_LINE => Line::TooLong,
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                        }
                        match String::from_utf8(buf) {
                            Ok(s) => Line::Text(s),
                            Err(_) => Line::NotUtf8,
                        }
                    }
                    Err(e) => Line::Error(e.to_string()),
                };
                let last = !matches!(line, Line::Text(_) | Line::NotUtf8);
                // The receiver gone (client dropped): nobody listens any more.
                if tx.send(line).is_err() || last {
                    return;
                }
            }
        })
        .map(drop)
        .map_err(|e| format!("{label}: cannot start its stdout reader: {e}"))
}

/// Copies stderr lines to the clients' log, keeping the last one for error messages.
fn spawn_stderr(
    err: std::process::ChildStderr,
    prefix: String,
    log: Arc<ClientLog>,
    last: Arc<Mutex<String>>,
    label: &str,
) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name("client-stderr".into())
        .spawn(move || {
            let mut r = BufReader::new(err);
            loop {
                let mut buf = Vec::new();
                match r
                    .by_ref()
                    .take(MAX_STDERR_LINE as u64)
                    .read_until(b'\n', &mut buf)
                {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&buf);
                        let text = text.trim_end_matches(['\n', '\r']);
                        if let Ok(mut l) = last.lock() {
                            *l = truncate(text, QUOTE_CHARS).to_string();
                        }
                        log.write(&prefix, text);
                    }
                }
            }
        })
        .map_err(|e| format!("{label}: cannot start its stderr reader: {e}"))
}

/// `clients.log`: every client's stderr, one file for the run, bounded.
struct ClientLog {
    path: Option<PathBuf>,
    state: Mutex<LogState>,
}

#[derive(Default)]
struct LogState {
    file: Option<File>,
    /// The file could not be opened: use tracing.
    failed: bool,
    written: u64,
    full: bool,
}

impl ClientLog {
    fn new(path: Option<PathBuf>) -> ClientLog {
        ClientLog {
            path,
            state: Mutex::new(LogState::default()),
        }
    }

    fn write(&self, prefix: &str, text: &str) {
        let Some(path) = &self.path else {
            tracing::debug!("client stderr {prefix}{text}");
            return;
        };
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.full {
            return;
        }
        if s.file.is_none() && !s.failed {
            match OpenOptions::new().create(true).append(true).open(path) {
                Ok(f) => s.file = Some(f),
                Err(e) => {
                    tracing::warn!("{}: {e}; client stderr goes to the log", path.display());
                    s.failed = true;
                }
            }
        }
        let line = format!("{prefix}{text}\n");
        let written = s.written;
        let Some(f) = s.file.as_mut() else {
            tracing::debug!("client stderr {prefix}{text}");
            return;
        };
        let (line, full) = if written + line.len() as u64 > MAX_LOG_BYTES {
            (
                format!(
                    "[faultline] {MAX_LOG_BYTES} bytes written; further client stderr is dropped\n"
                ),
                true,
            )
        } else {
            (line, false)
        };
        if let Err(e) = f.write_all(line.as_bytes()) {
            tracing::warn!("{}: {e}", path.display());
        }
        s.written += line.len() as u64;
        s.full = full;
    }
}

fn set_nonblocking(stdin: &ChildStdin) {
    let fd = stdin.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own for the duration of the call.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

fn error_text(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

fn exit_text(s: &ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => s.to_string(),
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A line for an error message: at most [`QUOTE_CHARS`] characters, control
/// characters escaped, in backquotes.
fn quote(s: &str) -> String {
    let t = truncate(s, QUOTE_CHARS);
    let shown: String = t
        .chars()
        .flat_map(|c| {
            let esc: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            esc
        })
        .collect();
    if t.len() < s.len() {
        format!("`{shown}...` ({} bytes in all)", s.len())
    } else {
        format!("`{shown}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_from_the_command_line() {
        let s = ExternalSpec::parse(
            "python3 'my client.py' --x=1",
            &["A=b=c".into(), "EMPTY=".into()],
        )
        .unwrap();
        assert_eq!(s.argv, ["python3", "my client.py", "--x=1"]);
        assert_eq!(
            s.env,
            [("A".into(), "b=c".into()), ("EMPTY".into(), String::new())]
        );
        assert_eq!(s.command_line(), "python3 'my client.py' '--x=1'");
        assert_eq!(
            s.describe(),
            serde_json::from_value::<faultline_store::ClientRecord>(
                json!({"argv": ["python3", "my client.py", "--x=1"], "env": {"A": "b=c", "EMPTY": ""}})
            )
            .unwrap()
        );
        assert!(matches!(
            ExternalSpec::parse("  ", &[]),
            Err(ExternalError::EmptyCommand)
        ));
        assert!(matches!(
            ExternalSpec::parse("sh -c 'oops", &[]),
            Err(ExternalError::BadQuoting(_))
        ));
        for bad in ["NOEQUALS", "=v"] {
            assert!(matches!(
                ExternalSpec::parse("x", &[bad.into()]),
                Err(ExternalError::BadEnv(_))
            ));
        }
    }

    #[test]
    fn offending_lines_are_quoted_short_and_printable() {
        assert_eq!(quote("a\tb"), "`a\\tb`");
        let long = "x".repeat(1000);
        let q = quote(&long);
        assert!(q.starts_with(&format!("`{}...`", "x".repeat(QUOTE_CHARS))));
        assert!(q.ends_with("(1000 bytes in all)"));
    }
}
