//! One test, end to end on the controller side: a store folder, the run, the check, the
//! results. The database setup and teardown are the caller's (the `test` command).

use super::{run, ClientFactory, RunConfig, RunError, RunSummary};
use crate::store::RunDir;
use faultline_checkers::history::read_file;
use faultline_checkers::Validity;
use faultline_workloads::check::{check, CheckerKind};
use faultline_workloads::gen::Gen;
use faultline_workloads::workload::{build, Workload, WorkloadKind, WorkloadOptions};
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
    let w = prepare(&dir, kind, opts, cfg, config)?;
    let summary = execute(&dir, w.generator, factory, cfg)?;
    let valid = analyze(&dir, w.checker, &summary)?;
    Ok(TestOutcome {
        dir,
        valid,
        summary,
    })
}

/// Builds the workload and writes `test.json` (before anything runs, so that a run
/// cut short still says how to check its history).
pub fn prepare(
    dir: &RunDir,
    kind: WorkloadKind,
    opts: &WorkloadOptions,
    cfg: &RunConfig,
    config: Value,
) -> Result<Workload, HarnessError> {
    let w = build(kind, opts);
    let mut test = json!({
        "name": dir.name,
        "workload": kind,
        "checker": w.checker,
        "model": w.model(),
        "seed": cfg.seed,
        "concurrency": cfg.concurrency,
        "nodes": cfg.nodes,
        "time_limit_secs": opts.time_limit as f64 / 1e9,
        "rate": opts.rate,
        "recovery_time_secs": opts.recovery_time as f64 / 1e9,
        "op_timeout_secs": cfg.op_timeout.as_secs_f64(),
        "start_time": dir.stamp,
    });
    if let (Some(t), Value::Object(extra)) = (test.as_object_mut(), config) {
        t.extend(extra);
    }
    dir.write_json("test.json", &test)?;
    Ok(w)
}

/// Runs the generator, journaling to `history.jsonl`.
pub fn execute(
    dir: &RunDir,
    generator: Gen,
    factory: Arc<dyn ClientFactory>,
    cfg: &RunConfig,
) -> Result<RunSummary, HarnessError> {
    let history = dir.path("history.jsonl");
    tracing::info!(dir = %dir.dir.display(), "running {}", dir.name);
    Ok(run(generator, factory, cfg, &history)?)
}

/// Checks the stored history, writes `results.json` (with the run's summary) and points
/// the `latest` links at the run.
pub fn analyze(
    dir: &RunDir,
    checker: CheckerKind,
    summary: &RunSummary,
) -> Result<Validity, HarnessError> {
    analyze_with(dir, checker, summary, &[])
}

/// Another checker's verdict on the run (the node logs, say): its report goes into
/// `results.json` under `name`, and its verdict into the run's.
pub struct ExtraCheck {
    pub name: &'static str,
    pub valid: Validity,
    pub report: Value,
}

/// [`analyze`], with other checkers' verdicts beside the workload's.
pub fn analyze_with(
    dir: &RunDir,
    checker: CheckerKind,
    summary: &RunSummary,
    extra: &[ExtraCheck],
) -> Result<Validity, HarnessError> {
    let history = dir.path("history.jsonl");
    let (valid, results, checked) = match read_file(&history, None) {
        Ok(h) => {
            let o = check(checker, &h, &Default::default());
            (o.valid, o.results.clone(), Some((h, o)))
        }
        // The history is on disk either way; an unreadable one cannot be judged.
        Err(e) => (
            Validity::Unknown,
            json!({"valid": "unknown", "error": e.to_string()}),
            None,
        ),
    };
    let mut results = results;
    let valid = extra.iter().fold(valid, |v, e| v.merge(e.valid));
    if let Some(r) = results.as_object_mut() {
        r.insert(
            "run".into(),
            serde_json::to_value(summary).unwrap_or(Value::Null),
        );
        for e in extra {
            r.insert(e.name.into(), e.report.clone());
        }
        r.insert("valid".into(), json!(valid));
    }
    dir.write_json("results.json", &results)?;
    // The pages people look at. results.json is the truth: a page that cannot be
    // written is logged and listed in the index, and never changes the verdict.
    if let Some((h, o)) = &checked {
        let errors =
            crate::report::write_reports(&dir.dir, h, &results, o.linear.as_ref(), o.elle.as_ref());
        for e in &errors {
            tracing::warn!("report {e}");
        }
    }
    dir.update_links()?;
    Ok(valid)
}
