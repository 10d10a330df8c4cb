//! One test, end to end on the controller side: a store folder, the run, the check, the
//! results. The database setup and teardown are the caller's (the `test` command).

use super::{run, ClientFactory, RunConfig, RunError, RunSummary};
use crate::store::RunDir;
use faultline_checkers::history::read_file;
use faultline_checkers::Validity;
use faultline_workloads::check::check;
use faultline_workloads::workload::{build, WorkloadKind, WorkloadOptions};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("store: {0}")]
    Store(#[from] std::io::Error),
    #[error(transparent)]
    Run(#[from] RunError),
}

pub struct TestOutcome {
    pub dir: RunDir,
    pub valid: Validity,
    pub summary: RunSummary,
}

/// Runs `workload` with `factory`'s clients and stores everything under `base`.
/// `config` is merged into `test.json` (command line, nodes, db options...).
pub fn run_test(
    base: &Path,
    name: &str,
    kind: WorkloadKind,
    opts: &WorkloadOptions,
    factory: Arc<dyn ClientFactory>,
    cfg: &RunConfig,
    config: Value,
) -> Result<TestOutcome, HarnessError> {
    let dir = RunDir::create(base, name)?;
    let w = build(kind, opts);
    let mut test = json!({
        "name": name,
        "workload": kind,
        "checker": w.checker,
        "model": w.model(),
        "seed": cfg.seed,
        "concurrency": cfg.concurrency,
        "nodes": cfg.nodes,
        "time_limit_secs": opts.time_limit as f64 / 1e9,
        "rate": opts.rate,
        "op_timeout_secs": cfg.op_timeout.as_secs_f64(),
        "start_time": dir.stamp,
    });
    if let (Some(t), Value::Object(extra)) = (test.as_object_mut(), config) {
        t.extend(extra);
    }
    dir.write_json("test.json", &test)?;
    let history = dir.path("history.jsonl");
    tracing::info!(dir = %dir.dir.display(), "running {name}");
    let summary = run(w.generator, factory, cfg, &history)?;
    let (valid, results) = match read_file(&history, None) {
        Ok(h) => {
            let o = check(w.checker, &h, &Default::default());
            (o.valid, o.results)
        }
        // The history is on disk either way; an unreadable one cannot be judged.
        Err(e) => (
            Validity::Unknown,
            json!({"valid": "unknown", "error": e.to_string()}),
        ),
    };
    let mut results = results;
    if let Some(r) = results.as_object_mut() {
        r.insert(
            "run".into(),
            serde_json::to_value(&summary).unwrap_or(Value::Null),
        );
    }
    dir.write_json("results.json", &results)?;
    dir.update_links()?;
    Ok(TestOutcome {
        dir,
        valid,
        summary,
    })
}
