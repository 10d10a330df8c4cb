//! A local cluster on one Linux machine: N nodes, each a network namespace on a
//! private bridge with its own PID, mount and UTS namespaces, private
//! directories and an sshd reachable with a generated key.
//!
//! Layout of the cluster directory (everything here is made by `up` and removed
//! by `down`):
//! ```text
//! DIR/state.json      what was created (names, addresses, PIDs): `down` reads it
//! DIR/nodes           one node address per line (--nodes-file)
//! DIR/hosts           "address name" lines: how the controller names nodes
//! DIR/id_ed25519      the private key root@nodes accepts (--ssh-private-key)
//! DIR/known_hosts     the nodes' host keys (--strict-host-key-checking)
//! DIR/node/nI/        per node: sshd config and host key, node.log, and the
//!                     directories bind-mounted over /root, /tmp and /opt
//! ```
//! Nothing outside DIR is written: names resolve through DIR/hosts in the
//! controller, and each node's /etc/hosts and /etc/hostname are bind mounts in
//! its private mount namespace.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use faultline_control::local::LocalRemote;
use faultline_control::{Cmd, ControlError, Node, Remote};

const SSHD: &str = "/usr/sbin/sshd";
const STATE_FILE: &str = "state.json";
/// Time for every sshd to accept connections after the nodes start.
const SSHD_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Time for killed node processes to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_NODES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Unsupported(String),
    #[error("invalid cluster option: {0}")]
    Invalid(String),
    #[error(transparent)]
    Command(#[from] ControlError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("node {node}: {detail}")]
    Node { node: String, detail: String },
    #[error("{0}")]
    Conflict(String),
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError {
    let path = path.to_path_buf();
    move |source| ClusterError::Io { what, path, source }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub dir: PathBuf,
    pub nodes: usize,
    /// Prefix of every namespace and link name (`{prefix}-n1`, `{prefix}-br`, …).
    pub prefix: String,
    /// The /24 the bridge and nodes live in: bridge .1, node i at .(10+i).
    pub subnet: Ipv4Addr,
}

impl ClusterSpec {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ClusterSpec {
            dir: dir.into(),
            nodes: 5,
            prefix: "fl".into(),
            subnet: Ipv4Addr::new(10, 77, 0, 0),
        }
    }

    fn validate(&self) -> Result<(), ClusterError> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(ClusterError::Invalid(format!(
                "--nodes must be between 1 and {MAX_NODES}, not {}",
                self.nodes
            )));
        }
        validate_prefix(&self.prefix)?;
        let o = self.subnet.octets();
        if o[0] != 10 && !(o[0] == 172 && (16..32).contains(&o[1])) && !(o[0] == 192 && o[1] == 168)
        {
            return Err(ClusterError::Invalid(format!(
                "subnet {} is not private (10/8, 172.16/12 or 192.168/16)",
                self.subnet
            )));
        }
        Ok(())
    }
}

fn validate_prefix(prefix: &str) -> Result<(), ClusterError> {
    // Interface names are limited to 15 bytes: "{prefix}-v200" must fit.
    if prefix.is_empty()
        || prefix.len() > 8
        || !prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err(ClusterError::Invalid(format!(
            "prefix {prefix:?} must be 1-8 lowercase letters or digits"
        )));
    }
    Ok(())
}

/// What `up` made; persisted in DIR/state.json as it goes, so that `down` can
/// undo a half-finished `up` too.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterState {
    pub prefix: String,
    pub subnet: Ipv4Addr,
    pub bridge: String,
    pub nodes: Vec<NodeState>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeState {
    pub name: String,
    pub addr: Ipv4Addr,
    pub netns: String,
    pub veth: String,
    /// PID (in the controller's PID namespace) of the node's `unshare` process.
    pub pid: Option<i32>,
    /// Its start time (clock ticks since boot), so a recycled PID is never killed.
    pub start_time: Option<u64>,
}

impl ClusterState {
    fn plan(spec: &ClusterSpec) -> Self {
        let o = spec.subnet.octets();
        ClusterState {
            prefix: spec.prefix.clone(),
            subnet: spec.subnet,
            bridge: format!("{}-br", spec.prefix),
            nodes: (1..=spec.nodes)
                .map(|i| NodeState {
                    name: format!("n{i}"),
                    addr: Ipv4Addr::new(o[0], o[1], o[2], 10 + i as u8),
                    netns: format!("{}-n{i}", spec.prefix),
                    veth: format!("{}-v{i}", spec.prefix),
                    pid: None,
                    start_time: None,
                })
                .collect(),
        }
    }

    fn bridge_addr(&self) -> Ipv4Addr {
        let o = self.subnet.octets();
        Ipv4Addr::new(o[0], o[1], o[2], 1)
    }

    /// Nodes as the control plane sees them.
    pub fn control_nodes(&self) -> Vec<Node> {
        self.nodes
            .iter()
            .map(|n| Node::new(n.name.clone(), n.addr.to_string(), 22))
            .collect()
    }

    pub fn load(dir: &Path) -> Result<Option<Self>, ClusterError> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ClusterError::Invalid(format!("{} is not a cluster state: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("reading", &path)(e)),
        }
    }

    fn save(&self, dir: &Path) -> Result<(), ClusterError> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(".state.json.tmp");
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| ClusterError::Invalid(format!("serializing state: {e}")))?;
        std::fs::write(&tmp, json).map_err(io_err("writing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err("writing", &path))
    }
}

/// Fails unless we are root on Linux with the tools a cluster needs.
pub fn check_requirements() -> Result<(), ClusterError> {
    if !cfg!(target_os = "linux") {
        return Err(ClusterError::Unsupported(
            "the local cluster needs Linux (network, PID and mount namespaces)".into(),
        ));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ClusterError::Unsupported(
            "the local cluster needs root (it creates network namespaces and a bridge): run it with sudo".into(),
        ));
    }
    for (tool, pkg) in [
        ("/usr/sbin/ip", "iproute2"),
        ("/usr/bin/unshare", "util-linux"),
        (SSHD, "openssh-server"),
        ("/usr/bin/ssh-keygen", "openssh-client"),
    ] {
        if !Path::new(tool).exists() && which(tool).is_none() {
            return Err(ClusterError::Unsupported(format!(
                "{tool} is missing: install the Debian package {pkg}"
            )));
        }
    }
    Ok(())
}

fn which(tool: &str) -> Option<PathBuf> {
    let name = Path::new(tool).file_name()?;
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.exists())
    })
}

fn host() -> LocalRemote {
    LocalRemote::new(
        Node::new("controller", "localhost", 0),
        Duration::from_secs(30),
    )
}

fn run(cmd: Cmd) -> Result<String, ClusterError> {
    Ok(host().run_stdout(&cmd)?)
}

fn ip(args: &[&str]) -> Result<String, ClusterError> {
    run(Cmd::new("ip").args(args.iter().copied()))
}

fn netns_list() -> Result<Vec<String>, ClusterError> {
    // `ip netns list` prints "name (id: N)" for namespaces with an id.
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect())
}

fn link_names() -> Result<Vec<String>, ClusterError> {
    Ok(ip(&["-o", "link", "show"])?
        .lines()
        .filter_map(|l| {
            // "3: fl-v1@if2: <...>" → "fl-v1"
            let name = l.split(": ").nth(1)?;
            Some(name.split('@').next()?.to_string())
        })
        .collect())
}

fn is_ours(prefix: &str, name: &str, kinds: &[char]) -> bool {
    let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    if rest == "br" {
        return kinds.contains(&'b');
    }
    let mut chars = rest.chars();
    match chars.next() {
        Some(k) if kinds.contains(&k) => {
            let num = chars.as_str();
            !num.is_empty() && num.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// Process state from /proc: (state char, start time), None if gone.
fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// Whether the recorded node process is still ours and running (not a zombie).
fn node_alive(n: &NodeState) -> bool {
    match (n.pid, n.start_time) {
        (Some(pid), Some(st)) => matches!(proc_stat(pid), Some((s, t)) if t == st && s != 'Z'),
        _ => false,
    }
}

fn sshd_answers(addr: Ipv4Addr, timeout: Duration) -> bool {
    let sa = SocketAddr::from((addr, 22));
    let Ok(mut s) = TcpStream::connect_timeout(&sa, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 4];
    matches!(s.read(&mut buf), Ok(4) if &buf == b"SSH-")
}

/// Brings the cluster up; a no-op when the same cluster is already up.
pub fn up(spec: &ClusterSpec) -> Result<ClusterState, ClusterError> {
    spec.validate()?;
    check_requirements()?;
    std::fs::create_dir_all(&spec.dir).map_err(io_err("creating", &spec.dir))?;
    let dir = spec
        .dir
        .canonicalize()
        .map_err(io_err("resolving", &spec.dir))?;

    if let Some(old) = ClusterState::load(&dir)? {
        let wanted = ClusterState::plan(spec);
        let same = old.prefix == wanted.prefix
            && old.subnet == wanted.subnet
            && old.nodes.len() == wanted.nodes.len();
        let healthy = old
            .nodes
            .iter()
            .all(|n| node_alive(n) && sshd_answers(n.addr, Duration::from_secs(1)));
        if same && healthy {
            tracing::info!(dir = %dir.display(), "cluster already up");
            return Ok(old);
        }
        tracing::info!(
            "replacing a stale or different cluster in {}",
            dir.display()
        );
        down_state(&dir, &old)?;
    }
    // Leftovers of a cluster with this prefix whose state file is gone: refuse
    // rather than guess whose they are.
    let stray: Vec<String> = netns_list()?
        .into_iter()
        .filter(|n| is_ours(&spec.prefix, n, &['n']))
        .chain(
            link_names()?
                .into_iter()
                .filter(|n| is_ours(&spec.prefix, n, &['b', 'v', 'p'])),
        )
        .collect();
    if !stray.is_empty() {
        return Err(ClusterError::Conflict(format!(
            "namespaces or links with prefix {:?} already exist ({}) but {} has no cluster state: \
             run `faultline cluster down --prefix {}` to remove them, or pick another --prefix and --subnet",
            spec.prefix,
            stray.join(", "),
            dir.display(),
            spec.prefix
        )));
    }

    let start = Instant::now();
    let mut state = ClusterState::plan(spec);
    state.save(&dir)?;
    match build(&dir, &mut state) {
        Ok(()) => {
            tracing::info!(
                nodes = state.nodes.len(),
                elapsed = ?start.elapsed(),
                "cluster up"
            );
            Ok(state)
        }
        Err(e) => {
            tracing::error!("cluster up failed, cleaning up: {e}");
            if let Err(e2) = down_state(&dir, &state).and_then(|_| remove_files(&dir)) {
                tracing::error!("cleanup after failed up: {e2}");
            }
            Err(e)
        }
    }
}

fn build(dir: &Path, state: &mut ClusterState) -> Result<(), ClusterError> {
    // Keys: one client key for the controller, one host key per node.
    let key = dir.join("id_ed25519");
    if !key.exists() {
        keygen(&key, "faultline-controller")?;
    }
    let pubkey = std::fs::read_to_string(dir.join("id_ed25519.pub"))
        .map_err(io_err("reading", &dir.join("id_ed25519.pub")))?;

    let hosts: String = std::iter::once("127.0.0.1\tlocalhost\n".to_string())
        .chain(
            state
                .nodes
                .iter()
                .map(|n| format!("{}\t{}\n", n.addr, n.name)),
        )
        .collect();

    // Network: a bridge with the controller's address, one veth per node.
    let br = state.bridge.clone();
    ip(&["link", "add", &br, "type", "bridge"])?;
    ip(&[
        "addr",
        "add",
        &format!("{}/24", state.bridge_addr()),
        "dev",
        &br,
    ])?;
    ip(&["link", "set", &br, "up"])?;

    let mut known_hosts = String::new();
    for n in &state.nodes {
        known_hosts.push_str(&node_files(dir, n, &hosts, &pubkey)?);
        node_network(state, n)?;
    }
    write(&dir.join("known_hosts"), &known_hosts)?;

    for i in 0..state.nodes.len() {
        let (pid, start_time) = spawn_node(dir, &state.nodes[i])?;
        state.nodes[i].pid = Some(pid);
        state.nodes[i].start_time = Some(start_time);
        state.save(dir)?;
    }
    await_sshds(dir, state)?;

    let nodes: String = state
        .nodes
        .iter()
        .map(|n| format!("{}\n", n.addr))
        .collect();
    write(&dir.join("nodes"), &nodes)?;
    let names: String = state
        .nodes
        .iter()
        .map(|n| format!("{} {}\n", n.addr, n.name))
        .collect();
    write(&dir.join("hosts"), &names)?;
    Ok(())
}

/// A node's folder: root, tmp and opt, its host key, hosts, hostname, the controller's
/// key and its sshd_config. Returns its `known_hosts` line.
fn node_files(
    dir: &Path,
    n: &NodeState,
    hosts: &str,
    pubkey: &str,
) -> Result<String, ClusterError> {
    let ndir = dir.join("node").join(&n.name);
    for sub in ["root", "tmp", "opt"] {
        std::fs::create_dir_all(ndir.join(sub)).map_err(io_err("creating", &ndir))?;
    }
    set_mode(&ndir.join("root"), 0o700)?;
    set_mode(&ndir.join("tmp"), 0o1777)?;
    let hk = ndir.join("ssh_host_ed25519_key");
    keygen(&hk, &n.name)?;
    let hpub = std::fs::read_to_string(ndir.join("ssh_host_ed25519_key.pub"))
        .map_err(io_err("reading", &hk))?;
    let mut parts = hpub.split_whitespace();
    let known = match (parts.next(), parts.next()) {
        (Some(kind), Some(b64)) => format!("{} {kind} {b64}\n", n.addr),
        _ => String::new(),
    };
    write(&ndir.join("hosts"), hosts)?;
    write(&ndir.join("hostname"), &format!("{}\n", n.name))?;
    write(&ndir.join("authorized_keys"), pubkey)?;
    write(&ndir.join("sshd_config"), &sshd_config(n))?;
    Ok(known)
}

/// The node's namespace, and its veth: one end on the bridge, the other its eth0.
fn node_network(state: &ClusterState, n: &NodeState) -> Result<(), ClusterError> {
    let peer = format!("{}-p{}", state.prefix, &n.name[1..]);
    ip(&["netns", "add", &n.netns])?;
    ip(&[
        "link", "add", &n.veth, "type", "veth", "peer", "name", &peer,
    ])?;
    ip(&["link", "set", &n.veth, "master", &state.bridge, "up"])?;
    ip(&["link", "set", &peer, "netns", &n.netns])?;
    ip(&["-n", &n.netns, "link", "set", &peer, "name", "eth0"])?;
    ip(&[
        "-n",
        &n.netns,
        "addr",
        "add",
        &format!("{}/24", n.addr),
        "dev",
        "eth0",
    ])?;
    ip(&["-n", &n.netns, "link", "set", "eth0", "up"])?;
    ip(&["-n", &n.netns, "link", "set", "lo", "up"])?;
    Ok(())
}

/// Waits for every sshd, bounded; a node that died says why in its log.
fn await_sshds(dir: &Path, state: &ClusterState) -> Result<(), ClusterError> {
    let deadline = Instant::now() + SSHD_READY_TIMEOUT;
    for n in &state.nodes {
        loop {
            if sshd_answers(n.addr, Duration::from_millis(500)) {
                break;
            }
            let log = dir.join("node").join(&n.name).join("node.log");
            if !node_alive(n) {
                return Err(ClusterError::Node {
                    node: n.name.clone(),
                    detail: format!(
                        "node process exited; {}: {}",
                        log.display(),
                        std::fs::read_to_string(&log).unwrap_or_default().trim()
                    ),
                });
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::Node {
                    node: n.name.clone(),
                    detail: format!(
                        "sshd on {}:22 not answering after {SSHD_READY_TIMEOUT:?}; see {}",
                        n.addr,
                        log.display()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

fn write(path: &Path, content: &str) -> Result<(), ClusterError> {
    std::fs::write(path, content).map_err(io_err("writing", path))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_err("chmod", path))
}

fn keygen(path: &Path, comment: &str) -> Result<(), ClusterError> {
    let p = path
        .to_str()
        .ok_or_else(|| ClusterError::Invalid(format!("non-UTF-8 path {}", path.display())))?;
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(format!("{p}.pub"));
    run(Cmd::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", p]))?;
    Ok(())
}

/// Where each node sees its own node directory (see NODE_INIT).
const NODE_DIR_INSIDE: &str = "/run/faultline-node";

fn sshd_config(n: &NodeState) -> String {
    format!(
        "# faultline local cluster node {name}\n\
         ListenAddress {addr}:22\n\
         HostKey {dir}/ssh_host_ed25519_key\n\
         PidFile none\n\
         UsePAM no\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         AuthorizedKeysFile .ssh/authorized_keys\n\
         StrictModes yes\n\
         UseDNS no\n\
         PrintMotd no\n\
         MaxStartups 200:30:400\n\
         MaxSessions 64\n\
         Subsystem sftp internal-sftp\n\
         LogLevel ERROR\n",
        name = n.name,
        addr = n.addr,
        dir = NODE_DIR_INSIDE,
    )
}

/// The script every node runs as PID 1 of its PID namespace before becoming
/// sshd. Arguments arrive as positional parameters, never pasted into it.
/// The mount namespace is private, so none of these mounts is visible outside.
const NODE_INIT: &str = r#"set -eu
ndir=$1; name=$2
# The node directory may live under /tmp or /root, which are about to be
# covered: pin it at a fixed path in the node's own /run first. sshd re-reads
# its config and host key on every connection, from there.
mount -t tmpfs -o mode=0755,size=64m tmpfs /run
mkdir -p /run/faultline-node
mount --bind "$ndir" /run/faultline-node
nd=/run/faultline-node
mount --bind "$nd/root" /root
mount --bind "$nd/tmp" /tmp
mount --bind "$nd/opt" /opt
mount -t tmpfs -o mode=1777,size=256m tmpfs /dev/shm
mount --bind "$nd/hosts" /etc/hosts
mount --bind "$nd/hostname" /etc/hostname
hostname "$name"
mkdir -p /run/sshd /run/lock /root/.ssh
chmod 0755 /run/sshd
chmod 0700 /root /root/.ssh
cp "$nd/authorized_keys" /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
cd /root
# sshd as PID 1 of the node: it reaps daemons orphaned inside the node.
exec /usr/sbin/sshd -D -e -f "$nd/sshd_config"
"#;

fn spawn_node(dir: &Path, n: &NodeState) -> Result<(i32, u64), ClusterError> {
    let ndir = dir.join("node").join(&n.name);
    let log_path = ndir.join("node.log");
    let log = std::fs::File::create(&log_path).map_err(io_err("creating", &log_path))?;
    let log2 = log.try_clone().map_err(io_err("creating", &log_path))?;
    let child = Command::new("ip")
        .args(["netns", "exec", &n.netns])
        .args([
            "unshare",
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            NODE_INIT,
            "faultline-node",
        ])
        .arg(&ndir)
        .arg(&n.name)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        // Own process group: a Ctrl-C on `faultline cluster up` must not take
        // the nodes down with it.
        .process_group(0)
        .spawn()
        .map_err(|e| ClusterError::Node {
            node: n.name.clone(),
            detail: format!("cannot start the node process: {e}"),
        })?;
    let pid = child.id() as i32;
    // `ip netns exec` execs unshare in place, so this PID is unshare's. The
    // Child handle is dropped without waiting: the node outlives `up`; `down`
    // reaps it when it is our child, and otherwise init inherits it.
    drop(child);
    let (_, start) = proc_stat(pid).ok_or_else(|| ClusterError::Node {
        node: n.name.clone(),
        detail: "node process exited at once; see node.log".into(),
    })?;
    Ok((pid, start))
}

/// What `down` removed.
#[derive(Debug, Default)]
pub struct DownReport {
    pub killed: Vec<i32>,
    pub namespaces: Vec<String>,
    pub links: Vec<String>,
    pub removed_dir: bool,
}

/// Tears the cluster down: processes, namespaces, links, then files. Works
/// from DIR/state.json when present, and also sweeps namespaces and links with
/// `prefix` (a crashed `up` may have left some behind).
pub fn down(dir: &Path, prefix: Option<&str>) -> Result<DownReport, ClusterError> {
    check_requirements()?;
    let state = if dir.exists() {
        ClusterState::load(dir)?
    } else {
        None
    };
    let mut report = match &state {
        Some(s) => down_state(dir, s)?,
        None => DownReport::default(),
    };
    let prefix = prefix
        .map(str::to_string)
        .or_else(|| state.as_ref().map(|s| s.prefix.clone()));
    if let Some(prefix) = prefix {
        validate_prefix(&prefix)?;
        let r = sweep(&prefix)?;
        report.killed.extend(r.killed);
        report.namespaces.extend(r.namespaces);
        report.links.extend(r.links);
    }
    report.removed_dir = remove_files(dir)?;
    Ok(report)
}

fn down_state(dir: &Path, state: &ClusterState) -> Result<DownReport, ClusterError> {
    let mut report = DownReport::default();
    for n in &state.nodes {
        if let (Some(pid), Some(st)) = (n.pid, n.start_time) {
            if kill_node_process(pid, st) {
                report.killed.push(pid);
            }
        }
    }
    let r = sweep_named(
        &state
            .nodes
            .iter()
            .map(|n| n.netns.clone())
            .collect::<Vec<_>>(),
        &state
            .nodes
            .iter()
            .map(|n| n.veth.clone())
            .chain(std::iter::once(state.bridge.clone()))
            .collect::<Vec<_>>(),
    )?;
    report.killed.extend(r.killed);
    report.namespaces = r.namespaces;
    report.links = r.links;
    let _ = dir;
    Ok(report)
}

/// Stops a node: SIGKILL to its PID 1 (the child of our `unshare`), which takes
/// the whole PID namespace down and lets `unshare` exit and be reaped normally;
/// SIGKILL to `unshare` itself only if that did not work (its --kill-child then
/// kills the node). Acts only if the PID still belongs to the process we
/// started, and waits, bounded, until it is gone.
fn kill_node_process(pid: i32, start_time: u64) -> bool {
    match proc_stat(pid) {
        Some((s, t)) if t == start_time && s != 'Z' => {}
        Some((_, t)) if t == start_time => {
            reap(pid);
            return false;
        }
        _ => return false,
    }
    let still_running = || matches!(proc_stat(pid), Some((s, t)) if t == start_time && s != 'Z');
    let wait_gone = |limit: Duration| {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            reap(pid);
            if !still_running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    };
    for child in children(pid) {
        // SAFETY: plain syscall on the direct child of our verified node process.
        unsafe {
            libc::kill(child, libc::SIGKILL);
        }
    }
    if !wait_gone(Duration::from_secs(3)) {
        // SAFETY: as above, on the verified node process itself.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        wait_gone(KILL_TIMEOUT);
    }
    reap(pid);
    true
}

/// Direct children of `pid` (from /proc; empty if unknown).
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}

/// Collects the exit status when the process is our child (no-op otherwise).
fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid on a specific PID with WNOHANG; fails harmlessly with
    // ECHILD when it is not our child.
    unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG);
    }
}

fn sweep(prefix: &str) -> Result<DownReport, ClusterError> {
    let ns: Vec<String> = netns_list()?
        .into_iter()
        .filter(|n| is_ours(prefix, n, &['n']))
        .collect();
    let mut links: Vec<String> = link_names()?
        .into_iter()
        .filter(|n| is_ours(prefix, n, &['v', 'p']))
        .collect();
    links.push(format!("{prefix}-br"));
    sweep_named(&ns, &links)
}

/// Kills every process inside the given namespaces, then deletes the host-side
/// links explicitly (orphaned TCP sockets can keep a deleted namespace and its
/// veth alive for many seconds) and the namespaces.
fn sweep_named(namespaces: &[String], links: &[String]) -> Result<DownReport, ClusterError> {
    let mut report = DownReport::default();
    let existing_ns = netns_list()?;
    for ns in namespaces.iter().filter(|n| existing_ns.contains(n)) {
        // Only processes whose network namespace is ours: never anything else.
        for _round in 0..50 {
            let pids: Vec<i32> = ip(&["netns", "pids", ns])
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .filter(|p: &i32| proc_stat(*p).is_some_and(|(s, _)| s != 'Z'))
                .collect();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                // SAFETY: plain syscall on a PID inside our own namespace.
                unsafe {
                    libc::kill(p, libc::SIGKILL);
                }
                reap(p);
                report.killed.push(p);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let existing_links = link_names()?;
    for l in links.iter().filter(|l| existing_links.contains(l)) {
        ip(&["link", "del", l])?;
        report.links.push(l.clone());
    }
    for ns in namespaces.iter().filter(|n| existing_ns.contains(n)) {
        ip(&["netns", "del", ns])?;
        report.namespaces.push(ns.clone());
    }
    report.killed.sort_unstable();
    report.killed.dedup();
    Ok(report)
}

/// Removes the files `up` made, then DIR itself if nothing else is in it.
fn remove_files(dir: &Path) -> Result<bool, ClusterError> {
    if !dir.exists() {
        return Ok(false);
    }
    let node_dir = dir.join("node");
    if node_dir.exists() {
        std::fs::remove_dir_all(&node_dir).map_err(io_err("removing", &node_dir))?;
    }
    for f in [
        STATE_FILE,
        ".state.json.tmp",
        "nodes",
        "hosts",
        "id_ed25519",
        "id_ed25519.pub",
        "known_hosts",
    ] {
        let p = dir.join(f);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &p)(e)),
        }
    }
    Ok(std::fs::remove_dir(dir).is_ok())
}

/// One node's condition as `status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub addr: Ipv4Addr,
    pub netns: bool,
    pub process: bool,
    pub sshd: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub dir: PathBuf,
    pub prefix: String,
    pub bridge: bool,
    pub nodes: Vec<NodeStatus>,
}

impl ClusterStatus {
    pub fn all_up(&self) -> bool {
        self.bridge
            && !self.nodes.is_empty()
            && self.nodes.iter().all(|n| n.netns && n.process && n.sshd)
    }
}

/// Reports what is up; None when DIR holds no cluster.
pub fn status(dir: &Path) -> Result<Option<ClusterStatus>, ClusterError> {
    let Some(state) = ClusterState::load(dir)? else {
        return Ok(None);
    };
    let ns = netns_list().unwrap_or_default();
    let links = link_names().unwrap_or_default();
    let nodes = state
        .nodes
        .iter()
        .map(|n| NodeStatus {
            name: n.name.clone(),
            addr: n.addr,
            netns: ns.contains(&n.netns),
            process: node_alive(n),
            sshd: sshd_answers(n.addr, Duration::from_millis(500)),
        })
        .collect();
    Ok(Some(ClusterStatus {
        dir: dir.to_path_buf(),
        prefix: state.prefix.clone(),
        bridge: links.contains(&state.bridge),
        nodes,
    }))
}

/// Reads DIR/hosts ("address name" lines) into nodes; falls back to DIR/nodes.
pub fn nodes_from_dir(dir: &Path, port: u16) -> Result<Vec<Node>, ClusterError> {
    let hosts = dir.join("hosts");
    if let Ok(text) = std::fs::read_to_string(&hosts) {
        let mut nodes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(addr), Some(name)) => nodes.push(Node::new(name, addr, port)),
                _ => {
                    return Err(ClusterError::Invalid(format!(
                        "{}:{}: expected \"ADDRESS NAME\"",
                        hosts.display(),
                        i + 1
                    )))
                }
            }
        }
        return Ok(nodes);
    }
    let path = dir.join("nodes");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ClusterError::Invalid(format!(
            "{} is not a cluster directory (no hosts or nodes file: {e}); run `faultline cluster up --dir {}` first",
            dir.display(),
            dir.display()
        ))
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|h| Node::new(h, h, port))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_recognised_strictly() {
        assert!(is_ours("fl", "fl-n1", &['n']));
        assert!(is_ours("fl", "fl-n12", &['n']));
        assert!(!is_ours("fl", "fl-n", &['n']));
        assert!(!is_ours("fl", "fl-nx", &['n']));
        assert!(!is_ours("fl", "flt-n1", &['n']));
        assert!(!is_ours("fl", "eth0", &['v']));
        assert!(is_ours("fl", "fl-br", &['b']));
        assert!(!is_ours("fl", "fl-br", &['v']));
    }

    #[test]
    fn plan_and_validation() {
        let mut spec = ClusterSpec::new("/tmp/x");
        let st = ClusterState::plan(&spec);
        assert_eq!(st.nodes[4].addr, Ipv4Addr::new(10, 77, 0, 15));
        assert_eq!(st.nodes[0].netns, "fl-n1");
        spec.prefix = "Bad!".into();
        assert!(spec.validate().is_err());
        spec.prefix = "fl".into();
        spec.subnet = Ipv4Addr::new(8, 8, 8, 0);
        assert!(spec.validate().is_err());
        spec.subnet = Ipv4Addr::new(10, 77, 0, 0);
        spec.nodes = 0;
        assert!(spec.validate().is_err());
    }

    #[test]
    fn proc_stat_of_self() {
        let (s, t) = proc_stat(std::process::id() as i32).unwrap();
        assert!(s == 'R' || s == 'S');
        assert!(t > 0);
    }
}
