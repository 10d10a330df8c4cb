//! `faultline cluster up|down|status`.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use faultline::cluster::{self, ClusterSpec};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub action: ClusterAction,
}

#[derive(Debug, Args, Clone)]
pub struct ClusterDir {
    /// Cluster directory (node list, key, state)
    #[arg(long, default_value = "cluster")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// Create N nodes n1..nN, each with its own network namespace and sshd
    Up {
        #[command(flatten)]
        dir: ClusterDir,
        /// Number of nodes
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Prefix of namespace and link names (change it to run two clusters)
        #[arg(long, default_value = "fl")]
        prefix: String,
        /// The private /24 to use: bridge at .1, node i at .(10+i)
        #[arg(long, default_value = "10.77.0.0")]
        subnet: Ipv4Addr,
    },
    /// Remove every namespace, link, process and file the cluster made
    Down {
        #[command(flatten)]
        dir: ClusterDir,
        /// Also sweep namespaces and links with this prefix (after a crash)
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Report what is up
    Status {
        #[command(flatten)]
        dir: ClusterDir,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: ClusterArgs) -> anyhow::Result<u8> {
    match args.action {
        ClusterAction::Up {
            dir,
            nodes,
            prefix,
            subnet,
        } => {
            let spec = ClusterSpec {
                dir: dir.dir.clone(),
                nodes,
                prefix,
                subnet,
            };
            let start = Instant::now();
            let was_up = matches!(cluster::status(&spec.dir), Ok(Some(st)) if st.all_up());
            let state = cluster::up(&spec).context("cluster up")?;
            let d = dir
                .dir
                .canonicalize()
                .with_context(|| format!("resolving {}", dir.dir.display()))?;
            if was_up {
                println!(
                    "cluster already up: {} nodes, directory {}",
                    state.nodes.len(),
                    d.display()
                );
            } else {
                println!(
                    "cluster up: {} nodes in {:.1}s, directory {}",
                    state.nodes.len(),
                    start.elapsed().as_secs_f64(),
                    d.display()
                );
            }
            for n in &state.nodes {
                println!("  {}  {}  (netns {})", n.name, n.addr, n.netns);
            }
            let first = &state.nodes[0];
            println!();
            println!("Point faultline at it with:");
            println!("  --cluster {}", d.display());
            println!(
                "  (or --nodes-file {0}/nodes --ssh-private-key {0}/id_ed25519)",
                d.display()
            );
            println!("Try:");
            println!("  faultline exec --cluster {} -- hostname", d.display());
            println!(
                "  ssh -i {0}/id_ed25519 -o UserKnownHostsFile={0}/known_hosts root@{1}",
                d.display(),
                first.addr
            );
            println!("Tear it down with:");
            println!("  faultline cluster down --dir {}", d.display());
            Ok(0)
        }
        ClusterAction::Down { dir, prefix } => {
            let r = cluster::down(&dir.dir, prefix.as_deref()).context("cluster down")?;
            println!(
                "cluster down: killed {} process(es), removed {} namespace(s), {} link(s){}",
                r.killed.len(),
                r.namespaces.len(),
                r.links.len(),
                if r.removed_dir {
                    format!(", removed {}", dir.dir.display())
                } else {
                    String::new()
                }
            );
            Ok(0)
        }
        ClusterAction::Status { dir, json } => {
            let st = cluster::status(&dir.dir).context("cluster status")?;
            match st {
                None => {
                    if json {
                        println!("null");
                    } else {
                        println!("no cluster in {}", dir.dir.display());
                    }
                }
                Some(st) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&st)?);
                    } else {
                        println!(
                            "cluster {} (prefix {}): {}",
                            st.dir.display(),
                            st.prefix,
                            if st.all_up() { "up" } else { "NOT fully up" }
                        );
                        println!("  bridge: {}", if st.bridge { "up" } else { "missing" });
                        for n in &st.nodes {
                            println!(
                                "  {} {}: netns {}, process {}, sshd {}",
                                n.name,
                                n.addr,
                                ok(n.netns),
                                ok(n.process),
                                ok(n.sshd)
                            );
                        }
                    }
                }
            }
            Ok(0)
        }
    }
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "DOWN"
    }
}
