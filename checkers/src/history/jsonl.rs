//! Streaming reader of the JSON Lines history format: one event per line, read and
//! validated one line at a time so that a history is held in memory once.

use super::error::HistoryError;
use super::op::{Op, OpType, Process};
use super::Interner;
use serde::Deserialize;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The fields as they stand on a line, before validation.
#[derive(Deserialize)]
struct RawOp {
    index: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    process: Option<Value>,
    f: Option<Value>,
    // `value` is required but may be null: a missing one is told apart by `has_value`.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    key: Option<Value>,
    time: Option<Value>,
    node: Option<Value>,
    error: Option<Value>,
}

/// Maps a present field (even `null`) to `Some`, so a missing `value` can be reported.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Reads events from a JSON Lines source, one per non-blank line.
pub struct JsonlReader<R> {
    input: R,
    file: PathBuf,
    line_no: u64,
    buf: String,
    interner: Interner,
}

impl<R: BufRead> JsonlReader<R> {
    pub fn new(input: R, file: impl AsRef<Path>) -> Self {
        JsonlReader {
            input,
            file: file.as_ref().to_path_buf(),
            line_no: 0,
            buf: String::new(),
            interner: Interner::default(),
        }
    }

    fn err(&self, message: impl Into<String>) -> HistoryError {
        HistoryError::invalid(&self.file, self.line_no, message)
    }

    fn parse_line(&mut self) -> Result<Op, HistoryError> {
        let raw: RawOp = serde_json::from_str(self.buf.trim_end())
            .map_err(|e| self.err(format!("invalid JSON: {e}")))?;
        let index = match raw.index {
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
            Some(other) => {
                return Err(self.err(format!(
                    "`index` must be a non-negative integer, not {other}"
                )))
            }
            None => return Err(self.err("missing field `index`")),
        };
        let kind = match raw.kind {
            Some(Value::String(s)) => OpType::parse(&s).ok_or_else(|| {
                self.err(format!(
                    "unknown type {s:?}: expected \"invoke\", \"ok\", \"fail\" or \"info\""
                ))
            })?,
            Some(other) => return Err(self.err(format!("`type` must be a string, not {other}"))),
            None => return Err(self.err("missing field `type`")),
        };
        let process = match raw.process {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(p) => Process::Client(p),
                None => {
                    return Err(self.err(format!(
                        "`process` must be a non-negative integer or \"nemesis\", not {n}"
                    )))
                }
            },
            Some(Value::String(s)) => Process::Named(self.interner.intern(&s)),
            Some(other) => {
                return Err(self.err(format!(
                    "`process` must be a non-negative integer or \"nemesis\", not {other}"
                )))
            }
            None => return Err(self.err("missing field `process`")),
        };
        let f = match raw.f {
            Some(Value::String(s)) => self.interner.intern(&s),
            Some(other) => return Err(self.err(format!("`f` must be a string, not {other}"))),
            None => return Err(self.err("missing field `f`")),
        };
        let value = raw.value.ok_or_else(|| self.err("missing field `value`"))?;
        let time = match raw.time {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(other) => return Err(self.err(format!("`time` must be an integer, not {other}"))),
        };
        let node = match raw.node {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
        };
        Ok(Op {
            index,
            kind,
            process,
            f,
            value,
            key: raw.key.filter(|k| !k.is_null()),
            time,
            node,
            error: raw.error.filter(|e| !e.is_null()),
            line: self.line_no,
        })
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Op, HistoryError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line_no += 1;
            match self.input.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) if self.buf.trim().is_empty() => continue,
                Ok(_) => return Some(self.parse_line()),
                Err(e) => {
                    let msg = if e.kind() == std::io::ErrorKind::InvalidData {
                        "not valid UTF-8".to_string()
                    } else {
                        format!("read error: {e}")
                    };
                    return Some(Err(self.err(msg)));
                }
            }
        }
    }
}
