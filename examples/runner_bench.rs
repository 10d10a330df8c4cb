//! The runner's own overhead: operations per second against the in-memory store.
//!
//! `cargo run --release --example runner_bench -- [workers] [seconds]` (default 100, 5).

use faultline::runner::{self, memory::MemoryStore, RunConfig};
use faultline_workloads::workload::{build, WorkloadKind, WorkloadOptions};
use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let secs: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let w = build(
        WorkloadKind::Register,
        &WorkloadOptions {
            concurrency: workers,
            time_limit: (secs * 1e9) as u64,
            rate: 0.0,
            ..WorkloadOptions::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.jsonl");
    let cfg = RunConfig::new(workers, (1..=5).map(|i| format!("n{i}")).collect());
    let s = runner::run(w.generator, Arc::new(MemoryStore::new()), &cfg, &path).expect("run");
    let ops = s.ok + s.fail + s.info;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{workers} workers, {:.1} s: {ops} ops, {:.0} ops/s ({} events, {:.1} MB of history)",
        s.elapsed_secs,
        ops as f64 / s.elapsed_secs,
        s.events,
        size as f64 / 1e6
    );
}
