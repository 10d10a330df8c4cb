//! Errors of reading and validating histories. Every one names where it happened.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HistoryError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line (or an EDN form starting on that line) is malformed or breaks the format.
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{file}: {message}")]
    Whole { file: PathBuf, message: String },
}

impl HistoryError {
    pub fn invalid(file: impl Into<PathBuf>, line: u64, message: impl Into<String>) -> Self {
        HistoryError::Invalid {
            file: file.into(),
            line,
            message: message.into(),
        }
    }

    /// The line the error is about, when it is about one.
    pub fn line(&self) -> Option<u64> {
        match self {
            HistoryError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }
}
