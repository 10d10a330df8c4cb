//! Writes a history as Jepsen writes `history.edn`: one op map per line.

use super::super::{History, Op, Process};
use serde_json::Value;
use std::io::{self, BufWriter, Write};

/// Writes one op map per line, in Jepsen's style:
/// `{:index 0, :type :invoke, :process 3, :f :read, :value nil}`, then `:time`, `:error` and
/// `:node` when present. Named processes and `f` names are keywords (`:nemesis`) when they
/// are valid keyword names, else strings. Keyed ops (`key` set) are written as Jepsen's
/// independent tuples, `:value [k v]`, which `read_edn` splits again.
///
/// JSON values map to EDN as: `null` -> `nil`, strings -> strings, arrays -> vectors,
/// objects -> maps whose keys are keywords when they are valid keyword names, else strings.
pub fn write_edn<W: Write>(history: &History, out: W) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    let mut line = String::new();
    for op in &history.ops {
        line.clear();
        op_line(op, &mut line);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

fn op_line(op: &Op, s: &mut String) {
    s.push_str("{:index ");
    s.push_str(&op.index.to_string());
    s.push_str(", :type :");
    s.push_str(op.kind.as_str());
    s.push_str(", :process ");
    match &op.process {
        Process::Client(p) => s.push_str(&p.to_string()),
        Process::Named(n) => name(n, s),
    }
    s.push_str(", :f ");
    name(&op.f, s);
    s.push_str(", :value ");
    match &op.key {
        Some(k) => {
            s.push('[');
            value(k, s);
            s.push(' ');
            value(&op.value, s);
            s.push(']');
        }
        None => value(&op.value, s),
    }
    if let Some(t) = op.time {
        s.push_str(", :time ");
        s.push_str(&t.to_string());
    }
    if let Some(e) = &op.error {
        s.push_str(", :error ");
        value(e, s);
    }
    if let Some(n) = &op.node {
        s.push_str(", :node ");
        string(n, s);
    }
    s.push('}');
}

/// A name as a keyword when it reads back as one, else as a string.
fn name(n: &str, s: &mut String) {
    if is_keyword_name(n) {
        s.push(':');
        s.push_str(n);
    } else {
        string(n, s);
    }
}

fn value(v: &Value, s: &mut String) {
    match v {
        Value::Null => s.push_str("nil"),
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        // serde_json prints integers as digits and floats with a `.` or an exponent
        // (`1.0`, `1e300`), which EDN reads back as the same integer or double.
        Value::Number(n) => s.push_str(&n.to_string()),
        Value::String(t) => string(t, s),
        Value::Array(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                value(item, s);
            }
            s.push(']');
        }
        Value::Object(entries) => {
            s.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                name(k, s);
                s.push(' ');
                value(item, s);
            }
            s.push('}');
        }
    }
}

/// Escapes as Clojure's `pr` does for the characters EDN readers agree on; other characters
/// (including other control characters) are written as they are, which EDN allows.
fn string(t: &str, s: &mut String) {
    s.push('"');
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c => s.push(c),
        }
    }
    s.push('"');
}

/// Whether `:n` is a plain EDN keyword that reads back as `n`: a conservative subset of
/// EDN's symbol grammar (optionally one `ns/name`), so that any EDN reader accepts it.
pub(super) fn is_keyword_name(n: &str) -> bool {
    fn part(p: &str) -> bool {
        let mut chars = p.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        let second = chars.clone().next();
        let start_ok = first.is_ascii_alphabetic() || "*+!-_?<>=.".contains(first);
        // `-1`, `+1` and `.5` would read as numbers.
        let not_number = !("-+.".contains(first) && second.is_some_and(|c| c.is_ascii_digit()));
        start_ok
            && not_number
            && chars.all(|c| c.is_ascii_alphanumeric() || "*+!-_?<>=.$%&#".contains(c))
    }
    match n.split_once('/') {
        Some((ns, local)) => part(ns) && part(local) && !local.contains('/'),
        None => part(n),
    }
}
