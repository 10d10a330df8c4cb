//! Histories: the events a test recorded, read from JSON Lines or Jepsen EDN, validated as
//! they are read, and paired into operations (an invocation with its completion).

mod error;
mod jsonl;
mod op;
mod pairing;

pub mod edn;

pub use error::HistoryError;
pub use jsonl::{write_jsonl, JsonlReader};
pub use op::{show_value, ErrorRef, Op, OpRef, OpType, Process, ProcessRef};
pub use pairing::{Operation, Outcome};

use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Shares one allocation between equal strings (`f` names, process names): a history of
/// millions of events repeats a handful of them.
#[derive(Default)]
pub struct Interner(FxHashMap<Box<str>, Arc<str>>);

impl Interner {
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(Box::from(s), a.clone());
        a
    }
}

/// How a history file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Edn,
}

impl Format {
    /// From the extension, else from the first non-blank character: JSON Lines start with
    /// `{"`, EDN with `{:`, `[`, `(`, `;` or `#`.
    pub fn detect(path: &Path, head: &[u8]) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl") | Some("json") | Some("ndjson") => return Some(Format::Jsonl),
            Some("edn") => return Some(Format::Edn),
            _ => {}
        }
        let text = String::from_utf8_lossy(head);
        let t = text.trim_start();
        if t.is_empty() {
            // An empty history is valid in either format.
            return Some(Format::Jsonl);
        }
        // `#`: Jepsen's newer histories start with a record, `#jepsen.history.Op{...}`.
        if t.starts_with('[') || t.starts_with('(') || t.starts_with(";") || t.starts_with('#') {
            return Some(Format::Edn);
        }
        if let Some(rest) = t.strip_prefix('{') {
            let rest = rest.trim_start();
            return Some(if rest.starts_with(':') {
                Format::Edn
            } else {
                Format::Jsonl
            });
        }
        None
    }
}

/// A validated history: events in order, each process with at most one operation open.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub ops: Vec<Op>,
    /// Where it was read from, for messages.
    pub source: PathBuf,
    /// The history holds completions only, no invocations (Elle's tests and histories
    /// cut down by hand look like that): each completion is an operation of its own whose
    /// invocation time is unknown. Only checkers that need no real-time order accept it.
    pub completions_only: bool,
}

impl History {
    /// Validates events one at a time (consecutive indices, completions that match an open
    /// invocation, no second invocation on an open process) and keeps them.
    pub fn from_ops(
        source: impl Into<PathBuf>,
        ops: impl IntoIterator<Item = Result<Op, HistoryError>>,
    ) -> Result<History, HistoryError> {
        let source = source.into();
        let mut checker = pairing::Validator::new(source.clone());
        let mut kept = Vec::new();
        for op in ops {
            let op = op?;
            checker.check(&op, kept.len())?;
            kept.push(op);
        }
        Ok(History {
            ops: kept,
            source,
            completions_only: false,
        })
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Every client operation: invocations paired with their completions, in invocation
    /// order. An invocation never completed counts as `info`. Nemesis events are left out.
    pub fn operations(&self) -> Vec<Operation> {
        pairing::pair(&self.ops, self.completions_only)
    }

    /// Refuses a history of completions only for a checker (`what`) that needs to know
    /// when operations were invoked: any verdict it gave would rest on made-up times.
    pub fn require_invocations(&self, what: &str) -> Result<(), HistoryError> {
        if self.completions_only {
            return Err(HistoryError::Whole {
                file: self.source.clone(),
                message: format!(
                    "the history has completions only, no invocations; {what} needs to know \
                     when each operation was invoked (the transactional checkers, list-append \
                     and rw-register, accept such histories)"
                ),
            });
        }
        Ok(())
    }

    /// Events of named processes (the nemesis), kept for reports.
    pub fn nemesis_events(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(|o| !o.process.is_client())
    }
}

/// Reads a JSON Lines history from any reader.
pub fn read_jsonl<R: BufRead>(input: R, source: impl AsRef<Path>) -> Result<History, HistoryError> {
    let source = source.as_ref();
    History::from_ops(source, JsonlReader::new(input, source))
}

/// Reads a history file, in the given format or the one detected.
pub fn read_file(path: &Path, format: Option<Format>) -> Result<History, HistoryError> {
    let io = |source| HistoryError::Io {
        file: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    let format = match format {
        Some(f) => f,
        None => {
            let head = reader.fill_buf().map_err(io)?.to_vec();
            Format::detect(path, &head).ok_or_else(|| HistoryError::Whole {
                file: path.to_path_buf(),
                message: "cannot tell the format (neither JSON Lines nor EDN); use --format".into(),
            })?
        }
    };
    match format {
        Format::Jsonl => read_jsonl(reader, path),
        Format::Edn => {
            let mut text = String::new();
            reader.read_to_string(&mut text).map_err(io)?;
            edn::read_edn(&text, path)
        }
    }
}
