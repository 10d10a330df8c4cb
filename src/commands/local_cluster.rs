//! A test given no nodes runs on a throwaway local cluster: brought up before the
//! test, taken down after it, on an error, on a panic (the guard's drop) and on a
//! second Ctrl-C (the handler tears it down before exiting). A cluster folder the
//! machine already has is never touched: the throwaway one has its own folder, name
//! prefix and subnet.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use faultline::cluster::{self, ClusterSpec};

use super::test::TestOpts;
use super::UsageError;

/// The throwaway cluster of this process, for the Ctrl-C handler.
static ACTIVE: Mutex<Option<(PathBuf, String)>> = Mutex::new(None);

/// A local cluster this process brought up, taken down when dropped unless kept.
pub struct Throwaway {
    dir: PathBuf,
    prefix: String,
    keep: bool,
}

/// Whether the options name no nodes at all (the command line and any suite file).
pub fn needed(o: &TestOpts) -> bool {
    let n = &o.nodes;
    n.nodes.iter().all(|s| s.trim().is_empty())
        && n.nodes_file.is_none()
        && n.cluster.is_none()
        && !n.local
}

/// `--local-nodes` within what a local cluster can hold.
pub fn check_size(o: &TestOpts) -> Result<(), UsageError> {
    if o.local_nodes == 0 || o.local_nodes > 200 {
        return Err(UsageError(format!(
            "--local-nodes must be between 1 and 200, not {}",
            o.local_nodes
        )));
    }
    Ok(())
}

/// Brings up a throwaway cluster of `--local-nodes` nodes when no nodes are given,
/// and points `o` at it. Anywhere a local cluster cannot run, says what to pass.
pub fn start_if_needed(o: &mut TestOpts) -> anyhow::Result<Option<Throwaway>> {
    if !needed(o) {
        return Ok(None);
    }
    if let Err(e) = cluster::check_requirements() {
        return Err(UsageError(format!(
            "no nodes given (--nodes, --nodes-file, --cluster DIR or a suite's [nodes]), and \
             no throwaway local cluster here: {e}"
        ))
        .into());
    }
    check_size(o)?;
    let id = std::process::id();
    let spec = ClusterSpec {
        dir: std::env::temp_dir().join(format!("faultline-cluster-{id}")),
        nodes: o.local_nodes,
        // Distinct from `cluster up`'s defaults (fl, 10.77.0.0) and from the tests'.
        prefix: format!("ft{}", id % 100_000),
        subnet: Ipv4Addr::new(10, 99, (id % 250) as u8, 0),
    };
    eprintln!(
        "no nodes given: bringing up a throwaway local cluster of {} nodes in {}",
        spec.nodes,
        spec.dir.display()
    );
    let guard = Throwaway {
        dir: spec.dir.clone(),
        prefix: spec.prefix.clone(),
        keep: o.keep_cluster,
    };
    *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((spec.dir.clone(), spec.prefix.clone()));
    cluster::up(&spec).context("bringing up the throwaway local cluster")?;
    o.nodes.cluster = Some(spec.dir);
    Ok(Some(guard))
}

/// Takes down the throwaway cluster, if any (for the second Ctrl-C, which exits at
/// once and so runs no drop).
pub fn tear_down_active() {
    let active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((dir, prefix)) = active {
        remove(&dir, &prefix);
    }
}

fn remove(dir: &std::path::Path, prefix: &str) {
    match cluster::down(dir, Some(prefix)) {
        // `down` removes what it made; anything else left in the folder goes too.
        Ok(_) => match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!("removing {}: {e}", dir.display())
            }
            _ => {}
        },
        Err(e) => eprintln!(
            "taking down the throwaway cluster failed: {e}; run `faultline cluster down --dir {} --prefix {prefix}`",
            dir.display()
        ),
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if self.keep {
            ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).take();
            eprintln!(
                "kept the local cluster in {d}: reuse it with --cluster {d}; remove it with \
                 `faultline cluster down --dir {d} --prefix {p}`",
                d = self.dir.display(),
                p = self.prefix
            );
            return;
        }
        eprintln!("taking down the throwaway local cluster");
        tear_down_active();
    }
}
