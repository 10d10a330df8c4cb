//! One test, end to end on the controller side: a store folder, the run, the check, the
//! results. The database setup and teardown are the caller's (the `test` command).

use super::{run, ClientFactory, RunConfig, RunError, RunSummary};
use faultline_checkers::check::{check, CheckerSpec, OpStats};
use faultline_checkers::history::read_file;
use faultline_checkers::Validity;
use faultline_store::{self as store, LogCheck, Results, RunDir, TestConfig, TestRecord};
use faultline_workloads::gen::Gen;
use faultline_workloads::workload::{build, Workload, WorkloadKind, WorkloadOptions};
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
/// `config` goes into `test.json` (command line, nodes, db options...).
pub fn run_test(
    base: &Path,
    name: &str,
    kind: WorkloadKind,
    opts: &WorkloadOptions,
    factory: Arc<dyn ClientFactory>,
    cfg: &RunConfig,
    config: TestConfig,
) -> Result<TestOutcome, HarnessError> {
    let dir = RunDir::create(base, name)?;
    let w = prepare(&dir, kind, opts, cfg, config)?;
    let summary = execute(&dir, w.generator, factory, cfg)?;
    let valid = analyze(&dir, &w.checker, &summary, None)?;
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
    config: TestConfig,
) -> Result<Workload, HarnessError> {
    let w = build(kind, opts);
    let test = TestRecord {
        name: dir.name.clone(),
        workload: Some(kind),
        checker: Some(w.checker.clone()),
        model: None,
        seed: cfg.seed,
        concurrency: cfg.concurrency,
        nodes: cfg.nodes.clone(),
        time_limit_secs: opts.time_limit as f64 / 1e9,
        rate: opts.rate,
        recovery_time_secs: opts.recovery_time as f64 / 1e9,
        op_timeout_secs: cfg.op_timeout.as_secs_f64(),
        start_time: dir.stamp.clone(),
        config,
    };
    dir.write_json(store::TEST_FILE, &test)?;
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

/// Checks the stored history with the workload's checker, writes `results.json`
/// (with the run's summary and `logs`, the node-log checker's verdict when the run
/// asked for one) and the report pages, and points the `latest` links at the run.
pub fn analyze(
    dir: &RunDir,
    checker: &CheckerSpec,
    summary: &RunSummary,
    logs: Option<LogCheck>,
) -> Result<Validity, HarnessError> {
    let history = dir.path(store::HISTORY_FILE);
    let (mut results, history) = match read_file(&history, None) {
        Ok(h) => {
            let report = check(checker, &h, &Default::default());
            let stats = OpStats::of(&h);
            (
                Results::checked(report.map_err(|e| e.to_string()), Some(stats)),
                Some(h),
            )
        }
        // The history is on disk either way; an unreadable one cannot be judged.
        Err(e) => (Results::checked(Err(e.to_string()), None), None),
    };
    results.run = Some(*summary);
    if let Some(logs) = logs {
        results = results.with_log_check(logs);
    }
    dir.write_json(store::RESULTS_FILE, &results)?;
    // The pages people look at. results.json is the truth: a page that cannot be
    // written is logged and listed in the index, and never changes the verdict.
    if let Some(h) = &history {
        for e in faultline_report::write_reports(&dir.dir, h, &results) {
            tracing::warn!("report {e}");
        }
    }
    dir.update_links()?;
    Ok(results.valid)
}
