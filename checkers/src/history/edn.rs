//! Jepsen `history.edn`: a reader for what Jepsen store folders hold, and a writer in the
//! same style.
//!
//! A file is either a stream of top-level op maps (Jepsen writes one per line) or a single
//! top-level vector or list of them. Either way the ops are parsed one form at a time, so a
//! history of millions of ops never exists as one whole-file parse tree: only the current
//! op's tree is alive next to the ops already converted.
//!
//! Parsing uses the `clojure-reader` crate (with its `arbitrary-nums` feature, so `N` big
//! ints and `M` decimals read). Its known gaps, which give an error naming the line: string
//! escapes other than `\t \r \n \\ \"` (so no `\uXXXX`, `\b`, `\f`), unicode character
//! literals such as `\u0041`, and `##Inf` / `##NaN`. How EDN values become JSON values is
//! described in `convert`.

mod convert;
mod write;

#[cfg(test)]
mod tests;

pub use write::write_edn;

use super::error::HistoryError;
use super::op::{Op, OpType, Process};
use super::pairing::Validator;
use super::{History, Interner};
use clojure_reader::edn::{self as reader, Edn};
use clojure_reader::error::{Code, Error as EdnError};
use convert::{describe, to_json};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

/// Reads a Jepsen `history.edn` (see the module documentation for the accepted shapes) and
/// validates it as `History::from_ops` does.
///
/// Each op map needs `:type`; `:value` (nil when absent), `:index`, `:time`, `:node` and
/// `:error` are read when present, other keys are ignored. Elle's tests and published
/// files leave out more, and are read where the meaning is clear:
/// - no `:f`: a value that is a list of micro-ops (`[[:append :x 1] ...]`) is a `txn`;
///   anything else is an error;
/// - no `:process`: all such ops are one client process (as Jepsen groups a nil
///   process), numbered one past the largest process id in the file;
/// - no invocations at all: a history of completions only (see `History`);
/// - `:index` with gaps (a history filtered by hand): kept as is, and must increase.
///   When no op has an `:index`, events are numbered from 0 in file order; when some do,
///   all must.
///
/// Independent (keyed) histories are recognised and split into `key` and `value`; see
/// `split_independent` for the rule. `line` of each op is the line its form starts on.
pub fn read_edn(text: &str, path: &Path) -> Result<History, HistoryError> {
    let mut ops = Vec::new();
    let mut reader = Reader::new(text, path);
    reader.read_all(&mut ops)?;
    if reader.anonymous {
        name_anonymous_process(&mut ops);
    }
    split_independent(&mut ops);
    let mut clients = ops.iter().filter(|o| o.process.is_client()).peekable();
    let completions_only = clients.peek().is_some() && clients.all(|o| o.kind != OpType::Invoke);
    // The same validation as `History::from_ops`, run in place: going through `from_ops`
    // would move every op into a second vector, briefly holding both.
    let mut validator = Validator::lenient(path.to_path_buf(), completions_only);
    for (position, op) in ops.iter().enumerate() {
        validator.check(op, position)?;
    }
    Ok(History {
        ops,
        source: path.to_path_buf(),
        completions_only,
    })
}

/// Stands for "no `:process`" while reading; replaced before validation.
const ANONYMOUS: u64 = u64::MAX;

/// Gives the ops that had no `:process` one process id of their own, past every other.
fn name_anonymous_process(ops: &mut [Op]) {
    let id = ops
        .iter()
        .filter_map(|o| match o.process {
            Process::Client(p) if p != ANONYMOUS => Some(p + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    for o in ops {
        if o.process == Process::Client(ANONYMOUS) {
            o.process = Process::Client(id);
        }
    }
}

/// Whether a value has the shape of a transaction: a list of micro-ops `[f k v]`.
fn is_txn_value(v: &Value) -> bool {
    matches!(v, Value::Array(mops) if mops.iter().all(|m| {
        matches!(m, Value::Array(p) if !p.is_empty() && p.len() <= 3 && p[0].is_string())
    }))
}

/// Walks the text form by form, counting lines as it goes so each op knows where it starts.
struct Reader<'t> {
    text: &'t str,
    file: &'t Path,
    /// Byte offset of the next unread character.
    pos: usize,
    /// 1-based line of `pos`.
    line: u64,
    interner: Interner,
    /// Whether the ops read so far carry `:index`; `None` before the first op.
    indexed: Option<bool>,
    /// Whether some op had no `:process`.
    anonymous: bool,
}

impl<'t> Reader<'t> {
    fn new(text: &'t str, file: &'t Path) -> Self {
        Reader {
            text,
            file,
            // A byte-order mark is not EDN whitespace, but editors on some systems add one.
            pos: if text.starts_with('\u{feff}') { 3 } else { 0 },
            line: 1,
            interner: Interner::default(),
            indexed: None,
            anonymous: false,
        }
    }

    fn err(&self, line: u64, message: impl Into<String>) -> HistoryError {
        HistoryError::invalid(self.file, line, message)
    }

    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    /// The line of byte offset `offset` (at or after `pos`).
    fn line_at(&self, offset: usize) -> u64 {
        let end = offset.clamp(self.pos, self.text.len());
        self.line + newlines(&self.text.as_bytes()[self.pos..end])
    }

    fn advance_to(&mut self, offset: usize) {
        self.line = self.line_at(offset);
        self.pos = offset.min(self.text.len());
    }

    fn read_all(&mut self, ops: &mut Vec<Op>) -> Result<(), HistoryError> {
        if !self.skip()? {
            return Ok(());
        }
        let close = match self.rest().as_bytes().first() {
            Some(b'[') => ']',
            Some(b'(') => ')',
            _ => {
                // A stream of top-level op maps.
                loop {
                    let op = self.op(ops.len())?;
                    ops.push(op);
                    if !self.skip()? {
                        return Ok(());
                    }
                }
            }
        };
        // One top-level vector or list: step inside it and read its elements one by one.
        let open_line = self.line;
        self.advance_to(self.pos + 1);
        loop {
            if !self.skip()? {
                return Err(self.err(
                    open_line,
                    format!("the history's opening bracket is never closed with `{close}`"),
                ));
            }
            if self.rest().starts_with(close) {
                self.advance_to(self.pos + 1);
                break;
            }
            let op = self.op(ops.len())?;
            ops.push(op);
        }
        if self.skip()? {
            return Err(self.err(
                self.line,
                format!("unexpected text after the `{close}` that closes the history"),
            ));
        }
        Ok(())
    }

    /// Skips whitespace, commas, comments and discarded (`#_`) forms. Returns whether a
    /// form follows.
    fn skip(&mut self) -> Result<bool, HistoryError> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            self.advance_to(self.pos + (rest.len() - trimmed.len()));
            if trimmed.starts_with(';') {
                let end = trimmed.find('\n').unwrap_or(trimmed.len());
                self.advance_to(self.pos + end);
            } else if trimmed.starts_with("#_") {
                self.advance_to(self.pos + 2);
                self.form()?;
            } else {
                return Ok(!trimmed.is_empty());
            }
        }
    }

    /// Parses the one form at `pos`.
    fn form(&mut self) -> Result<Edn<'t>, HistoryError> {
        let text = self.text;
        match reader::read(&text[self.pos..]) {
            Ok((form, after)) => {
                self.advance_to(text.len() - after.len());
                Ok(form)
            }
            Err(e) => Err(self.syntax_error(&e)),
        }
    }

    fn syntax_error(&self, e: &EdnError) -> HistoryError {
        // Where the parser stopped, except for an unclosed form: its end is the end of the
        // file, and the useful line is where the form began.
        let line = match (&e.code, e.ptr) {
            (Code::UnexpectedEOF, _) | (_, None) => self.line,
            (_, Some(ptr)) => self.line_at(self.pos + ptr),
        };
        let what = match &e.code {
            Code::UnexpectedEOF => {
                "unexpected end of file: a form starting here is not closed".to_string()
            }
            Code::UnmatchedDelimiter(c) => format!("unmatched `{c}`"),
            Code::InvalidEscape => {
                "invalid string escape (supported: \\t \\r \\n \\\\ \\\")".to_string()
            }
            Code::InvalidChar => "invalid character literal".to_string(),
            Code::InvalidKeyword => "invalid keyword".to_string(),
            Code::InvalidNumber => "invalid number".to_string(),
            Code::InvalidRadix(_) => "invalid radix in a number".to_string(),
            Code::InvalidTag => "invalid tag".to_string(),
            Code::HashMapDuplicateKey => "a map has a duplicate key".to_string(),
            Code::SetDuplicateKey => "a set has a duplicate element".to_string(),
            other => format!("{other:?}"),
        };
        self.err(line, format!("malformed EDN: {what}"))
    }

    /// Reads the op whose form starts at `pos`; `position` is how many ops came before.
    fn op(&mut self, position: usize) -> Result<Op, HistoryError> {
        let line = self.line;
        let form = self.form()?;
        self.convert_op(&form, position, line)
            .map_err(|message| self.err(line, message))
    }

    fn convert_op(&mut self, form: &Edn, position: usize, line: u64) -> Result<Op, String> {
        // Records (`#jepsen.history.Op{...}`, `#knossos.op.Op{...}`) read as their map.
        let mut inner = form;
        while let Edn::Tagged(_, tagged) = inner {
            inner = tagged;
        }
        let Edn::Map(m) = inner else {
            return Err(format!("an op must be a map, not {}", describe(form)));
        };
        let kind = match field(m, "type") {
            Some(Edn::Key(s) | Edn::Str(s)) => OpType::parse(s).ok_or_else(|| {
                format!("unknown :type {s:?}: expected :invoke, :ok, :fail or :info")
            })?,
            Some(other) => {
                return Err(format!(
                    ":type must be a keyword such as :ok, not {}",
                    describe(other)
                ))
            }
            None => return Err("missing :type".into()),
        };
        let process = match field(m, "process") {
            Some(p @ (Edn::Int(_) | Edn::BigInt(_))) => match unsigned(p) {
                Some(p) => Process::Client(p),
                None => {
                    return Err(format!(
                        ":process must be a non-negative integer or a keyword such as \
                         :nemesis, not {}",
                        describe(p)
                    ))
                }
            },
            Some(Edn::Key(s) | Edn::Str(s) | Edn::Symbol(s)) => {
                Process::Named(self.interner.intern(s))
            }
            Some(other) => {
                return Err(format!(
                    ":process must be a non-negative integer or a keyword such as :nemesis, \
                     not {}",
                    describe(other)
                ))
            }
            None => {
                self.anonymous = true;
                Process::Client(ANONYMOUS)
            }
        };
        let value = match field(m, "value") {
            Some(v) => to_json(v).map_err(|e| format!(":value: {e}"))?,
            // Jepsen omits `:value` on some ops (often nemesis ones); it means nil.
            None => Value::Null,
        };
        let f = match field(m, "f") {
            Some(Edn::Key(s) | Edn::Str(s) | Edn::Symbol(s)) => self.interner.intern(s),
            Some(other) => {
                return Err(format!(
                    ":f must be a keyword or a string, not {}",
                    describe(other)
                ))
            }
            // Elle's tests write transactions without `:f`.
            None if is_txn_value(&value) => self.interner.intern("txn"),
            None => {
                return Err(
                    "missing :f (only an op whose value is a list of micro-ops may leave it \
                     out: it is then a txn)"
                        .into(),
                )
            }
        };
        let error = match present(m, "error") {
            Some(e) => Some(to_json(e).map_err(|e| format!(":error: {e}"))?),
            None => None,
        };
        let time = match present(m, "time") {
            Some(t) => Some(signed(t).ok_or_else(|| {
                format!(
                    ":time must be an integer (nanoseconds), not {}",
                    describe(t)
                )
            })?),
            None => None,
        };
        let node = match present(m, "node") {
            Some(Edn::Key(s) | Edn::Str(s) | Edn::Symbol(s)) => Some(s.to_string()),
            Some(other) => Some(
                to_json(other)
                    .map_err(|e| format!(":node: {e}"))?
                    .to_string(),
            ),
            None => None,
        };
        let index = match present(m, "index") {
            Some(i) => Some(unsigned(i).ok_or_else(|| {
                format!(":index must be a non-negative integer, not {}", describe(i))
            })?),
            None => None,
        };
        match (self.indexed, index.is_some()) {
            (None, has) => self.indexed = Some(has),
            (Some(true), false) => {
                return Err("this op has no :index, but the ops before it have one".into())
            }
            (Some(false), true) => {
                return Err("this op has an :index, but the ops before it have none".into())
            }
            _ => {}
        }
        Ok(Op {
            index: index.unwrap_or(position as u64),
            kind,
            process,
            f,
            value,
            key: None,
            time,
            node,
            error,
            line,
        })
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The value of keyword key `:name`.
fn field<'m, 'e>(m: &'m BTreeMap<Edn<'e>, Edn<'e>>, name: &'static str) -> Option<&'m Edn<'e>> {
    m.get(&Edn::Key(Cow::Borrowed(name)))
}

/// The value of `:name`, with nil counted as absent.
fn present<'m, 'e>(m: &'m BTreeMap<Edn<'e>, Edn<'e>>, name: &'static str) -> Option<&'m Edn<'e>> {
    field(m, name).filter(|v| !matches!(v, Edn::Nil))
}

fn unsigned(e: &Edn) -> Option<u64> {
    match e {
        Edn::Int(i) => u64::try_from(*i).ok(),
        Edn::BigInt(b) => u64::try_from(b).ok(),
        _ => None,
    }
}

fn signed(e: &Edn) -> Option<i64> {
    match e {
        Edn::Int(i) => Some(*i),
        Edn::BigInt(b) => i64::try_from(b).ok(),
        _ => None,
    }
}

/// Jepsen's independent workloads (`jepsen.independent`) write each client op's value as a
/// tuple `[k v]`, and nothing in the file says a history is one of them, so this guesses. A
/// history is taken as independent when
/// - it has at least one client op, and every client op's value is a 2-element array;
/// - no client op has `f` = `txn`: Elle's transactions are arrays of micro-ops, and one of
///   two micro-ops is a 2-element array too;
/// - some client op has an `f` other than `cas`: a plain cas register's values are
///   `[old new]` pairs, so a history of cas ops alone would look independent.
///
/// Then every client op gets `key = k` and `value = v`; nemesis ops are left alone. A plain
/// history whose every value happens to be a pair (say a register of pairs) is misread; no
/// standard Jepsen workload writes one. Returns whether it split.
fn split_independent(ops: &mut [Op]) -> bool {
    let mut clients = ops.iter().filter(|o| o.process.is_client()).peekable();
    if clients.peek().is_none() {
        return false;
    }
    let mut all_pairs = true;
    let mut txn = false;
    let mut not_cas = false;
    for op in clients {
        all_pairs &= matches!(&op.value, Value::Array(a) if a.len() == 2);
        txn |= &*op.f == "txn";
        not_cas |= &*op.f != "cas";
    }
    if !all_pairs || txn || !not_cas {
        return false;
    }
    for op in ops.iter_mut().filter(|o| o.process.is_client()) {
        if let Value::Array(pair) = &mut op.value {
            let v = pair.pop().unwrap_or(Value::Null);
            let k = pair.pop().unwrap_or(Value::Null);
            op.key = Some(k);
            op.value = v;
        }
    }
    true
}
