//! Why an Elle check could not run: the history does not follow the txn format or breaks
//! an assumption the inference relies on. Every error names the history line.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ElleError {
    /// A txn operation whose value is not a list of well-formed micro-ops.
    #[error("{file}:{line}: operation {index}: {message}")]
    Malformed {
        file: PathBuf,
        line: u64,
        index: u64,
        message: String,
    },
    /// Two writes of the same value to the same key. Elle's inference recovers which
    /// transaction wrote what from the value alone, so values must be unique per key.
    #[error(
        "{file}:{line}: {value} is written to key {key} again (first at line {first_line}); \
         list-append and rw-register need every written value to be unique per key"
    )]
    DuplicateWrite {
        file: PathBuf,
        line: u64,
        first_line: u64,
        key: String,
        value: String,
    },
}

impl ElleError {
    /// The history line the error is about.
    pub fn line(&self) -> u64 {
        match self {
            ElleError::Malformed { line, .. } | ElleError::DuplicateWrite { line, .. } => *line,
        }
    }
}
