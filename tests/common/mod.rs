//! Helpers shared by the integration tests that build a local cluster (root only).
// Each test binary uses a different subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use faultline::cluster;

/// Distinguishes this test run's namespaces and subnets from another run's.
pub fn run_id() -> u8 {
    (std::process::id() % 200) as u8
}

/// Why a cluster test cannot run here: not root, or a tool (the cluster's own, plus
/// `extra`) missing. `None` when it can.
pub fn skip_reason(extra: &[&str]) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    let base = [
        "/usr/sbin/ip",
        "/usr/sbin/sshd",
        "/usr/bin/ssh-keygen",
        "/usr/bin/unshare",
    ];
    for t in base.iter().chain(extra) {
        if !Path::new(t).exists() {
            return Some(format!("{t} missing (run .ci/run-cluster-deps.sh)"));
        }
    }
    None
}

/// Tears the cluster down (killing what runs on it) even when an assertion fails.
pub struct ClusterGuard {
    pub dir: PathBuf,
    pub prefix: String,
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if let Err(e) = cluster::down(&self.dir, Some(&self.prefix)) {
            eprintln!("cleanup of {}: {e}", self.dir.display());
        }
    }
}
