//! Command-line interface (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "faultline", version, about = "A Jepsen-style test harness")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check saved histories (JSON Lines or Jepsen EDN) for linearizability
    Check(crate::commands::check::CheckArgs),
    /// Write a simulated history (seeded), for tests, benchmarks and demos
    Sim(crate::commands::sim::SimArgs),
    /// Manage a local cluster of nodes in network namespaces (root, Linux)
    Cluster(crate::commands::cluster::ClusterArgs),
    /// Set up, break and inspect a database on the nodes
    Db(crate::commands::db::DbArgs),
    /// Run one command on nodes (a quick check that the control plane works)
    Exec(crate::commands::exec::ExecArgs),
    /// Run a workload against a database on the nodes, check it and store the run
    Test(crate::commands::test::TestArgs),
    /// Run every workload (or --workloads) as `test` does, with a summary table
    TestAll(crate::commands::test::TestAllArgs),
    /// Remove every fault faultline left on the nodes (after a crashed run)
    Heal(crate::commands::heal::HealArgs),
    /// Start or stop one fault by hand
    Nemesis(crate::commands::nemesis::NemesisArgs),
    /// Browse the runs of a store folder in a web browser (plots, timelines, violations)
    Serve(crate::commands::serve::ServeArgs),
}

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
