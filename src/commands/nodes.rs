//! How to reach the nodes ([`NodeOpts`], the same options on every command that
//! talks to nodes), and turning them into a connected [`Control`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use faultline::cluster::nodes_from_dir;
use faultline::control::ssh::SshOptions;
use faultline::control::{Control, Node};

use super::UsageError;
use clap::Args;

/// How to reach the nodes; the same options on every command that talks to nodes.
#[derive(Debug, Clone, Args)]
pub struct NodeOpts {
    /// Comma-separated node hostnames or addresses
    #[arg(long, value_delimiter = ',', value_name = "NODE_LIST")]
    pub nodes: Vec<String>,
    /// File with one node hostname or address per line
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// A cluster directory from `faultline cluster up`: its nodes, names and key
    #[arg(long, value_name = "DIR")]
    pub cluster: Option<PathBuf>,
    /// SSH user; commands run through sudo when it is not root
    #[arg(long, default_value = "root")]
    pub username: String,
    /// Password for SSH login and sudo
    #[arg(long, env = "FAULTLINE_SSH_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// SSH private key (default: the agent, then ~/.ssh/id_{ed25519,ecdsa,rsa})
    #[arg(long, value_name = "FILE")]
    pub ssh_private_key: Option<PathBuf>,
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
    /// Verify host keys against ~/.ssh/known_hosts (DIR/known_hosts with --cluster)
    #[arg(long)]
    pub strict_host_key_checking: bool,
    /// Seconds to connect to a node (retries included) before giving up on it
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub connect_timeout: f64,
    /// Run node commands on this machine instead of over SSH
    #[arg(long)]
    pub local: bool,
}

/// The node list from --cluster, --nodes and --nodes-file (merged, as Jepsen's
/// parse-nodes), in order, without duplicates.
pub fn resolve_nodes(opts: &NodeOpts) -> anyhow::Result<Vec<Node>> {
    let mut nodes: Vec<Node> = Vec::new();
    if let Some(dir) = &opts.cluster {
        nodes.extend(nodes_from_dir(dir, opts.ssh_port).map_err(|e| UsageError(e.to_string()))?);
    }
    for n in &opts.nodes {
        let n = n.trim();
        if !n.is_empty() {
            nodes.push(Node::new(n, n, opts.ssh_port));
        }
    }
    if let Some(file) = &opts.nodes_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| UsageError(format!("--nodes-file {}: {e}", file.display())))?;
        for l in text.lines().map(str::trim) {
            if !l.is_empty() && !l.starts_with('#') {
                nodes.push(Node::new(l, l, opts.ssh_port));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    nodes.retain(|n| seen.insert(n.host.clone()));
    if nodes.is_empty() {
        return Err(UsageError(
            "no nodes: give --cluster DIR, --nodes n1,n2,... or --nodes-file FILE".into(),
        )
        .into());
    }
    Ok(nodes)
}

pub fn ssh_options(opts: &NodeOpts) -> anyhow::Result<SshOptions> {
    if !(opts.connect_timeout.is_finite()
        && opts.connect_timeout > 0.0
        && opts.connect_timeout <= 3600.0)
    {
        return Err(
            UsageError("--connect-timeout must be between 0 and 3600 seconds".into()).into(),
        );
    }
    let mut o = SshOptions {
        username: opts.username.clone(),
        password: opts.password.clone(),
        private_key: opts.ssh_private_key.clone(),
        strict_host_key_checking: opts.strict_host_key_checking,
        connect_timeout: Duration::from_secs_f64(opts.connect_timeout),
        ..SshOptions::default()
    };
    if let Some(dir) = &opts.cluster {
        if o.private_key.is_none() {
            o.private_key = Some(dir.join("id_ed25519"));
        }
        let kh: PathBuf = dir.join("known_hosts");
        if kh.exists() {
            o.known_hosts = Some(kh);
        }
    }
    Ok(o)
}

/// Connects to every node (in parallel), or sets up the local backend.
pub fn connect(opts: &NodeOpts) -> anyhow::Result<Control> {
    let nodes = resolve_nodes(opts)?;
    if opts.local {
        return Ok(Control::local(&nodes, Duration::from_secs(120)));
    }
    let ssh = ssh_options(opts)?;
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    tracing::info!(nodes = ?names, user = %ssh.username, "connecting");
    Control::connect_ssh(&nodes, &ssh).context("connecting to the nodes")
}
