//! What `faultline test` leaves for a CI job besides its exit code: the results document
//! on standard output (`--json`) and a JUnit XML file (`--junit FILE`). Both are built
//! from the runs' store folders, so they say what the store says.

use std::path::{Path, PathBuf};

use anyhow::Context;
use faultline::report::junit::{self, Suite};
use faultline::runner::RunSummary;
use faultline::store::{CrashEntry, RunEntry, TestsDocument};
use faultline_checkers::Validity;

/// A run that was checked (whatever its verdict).
pub struct Checked {
    pub name: String,
    pub seed: u64,
    pub valid: Validity,
    pub summary: RunSummary,
    pub dir: PathBuf,
}

/// A run that ended in an error before it could be checked.
pub struct Crashed {
    pub name: String,
    pub seed: u64,
    pub error: String,
}

/// The document `--json` prints: the overall verdict and exit code, each run with its
/// store folder and its `results.json`, and each crash with its error.
pub fn results_document(runs: &[Checked], crashed: &[Crashed], exit_code: u8) -> TestsDocument {
    let verdict: Validity = runs.iter().map(|r| r.valid).collect();
    TestsDocument {
        valid: if crashed.is_empty() {
            verdict
        } else {
            Validity::Unknown
        },
        exit_code,
        runs: runs
            .iter()
            .map(|r| RunEntry {
                name: r.name.clone(),
                seed: r.seed,
                valid: r.valid,
                store: r.dir.clone(),
                summary: r.summary,
                results: faultline::store::read_results(&r.dir)
                    .inspect_err(|e| tracing::warn!("{e}"))
                    .ok(),
            })
            .collect(),
        crashed: crashed
            .iter()
            .map(|c| CrashEntry {
                name: c.name.clone(),
                seed: c.seed,
                error: c.error.clone(),
            })
            .collect(),
    }
}

/// Writes the JUnit file: a suite per run, crashes included.
pub fn write_junit(path: &Path, runs: &[Checked], crashed: &[Crashed]) -> anyhow::Result<()> {
    let mut suites = Vec::new();
    for r in runs {
        let suite = Suite::from_store(&r.dir)
            .with_context(|| format!("reading run {} for the JUnit file", r.dir.display()))?;
        suites.push(suite);
    }
    suites.extend(
        crashed
            .iter()
            .map(|c| Suite::crashed(&c.name, c.seed, &c.error)),
    );
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, junit::render(&suites))
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!("JUnit results in {}", path.display());
    Ok(())
}
