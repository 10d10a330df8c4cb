//! The store: one folder per run, `store/<test-name>/<timestamp>/`, and the typed
//! records written into it.
//!
//! A run folder holds `history.jsonl` (the format of `HISTORY-FORMAT.md`), `test.json`
//! ([`TestRecord`]: the configuration, and the checker that judges the history),
//! `results.json` ([`Results`]: the verdict and every checker's report), the nodes' logs
//! under `<node>/`, and the report pages. Every file faultline writes and reads back is
//! one of these types, so the writer and the readers (`faultline check` of a store
//! folder, JUnit, the pages, `serve`) cannot disagree on a field.

mod records;
mod run_dir;

pub use records::*;
pub use run_dir::{sanitize, timestamp, RunDir};

use std::path::{Path, PathBuf};

/// A store file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not the record it should be (written by hand, cut short, or by a
    /// faultline too old to know this record).
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Reads a record from a JSON file, naming the file in any error.
pub fn read_record<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| StoreError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// `test.json` of the run in `dir`.
pub fn read_test(dir: &Path) -> Result<TestRecord, StoreError> {
    read_record(&dir.join(TEST_FILE))
}

/// `results.json` of the run in `dir`.
pub fn read_results(dir: &Path) -> Result<Results, StoreError> {
    read_record(&dir.join(RESULTS_FILE))
}

/// The verdict alone from `results.json` of the run in `dir` (for listings: the
/// reports are not built).
pub fn read_verdict(dir: &Path) -> Result<faultline_checkers::Validity, StoreError> {
    #[derive(serde::Deserialize)]
    struct Verdict {
        valid: faultline_checkers::Validity,
    }
    read_record::<Verdict>(&dir.join(RESULTS_FILE)).map(|v| v.valid)
}

/// The run's configuration.
pub const TEST_FILE: &str = "test.json";
/// The run's verdict and reports.
pub const RESULTS_FILE: &str = "results.json";
/// The run's history.
pub const HISTORY_FILE: &str = "history.jsonl";
