//! One event of a history, as `HISTORY-FORMAT.md` defines it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// What an event says about its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// A call starts.
    Invoke,
    /// It completed and took effect.
    Ok,
    /// It completed and certainly did not take effect.
    Fail,
    /// Outcome unknown: it may take effect at any time after its invocation, or never.
    Info,
}

impl OpType {
    pub fn parse(s: &str) -> Option<OpType> {
        match s {
            "invoke" => Some(OpType::Invoke),
            "ok" => Some(OpType::Ok),
            "fail" => Some(OpType::Fail),
            "info" => Some(OpType::Info),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who issued an event: a logical client process, or a named actor such as the nemesis.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    /// `"nemesis"` in the standard format; Jepsen histories may name others. Models ignore them.
    Named(Arc<str>),
}

impl Process {
    pub fn nemesis() -> Process {
        Process::Named(Arc::from("nemesis"))
    }

    pub fn is_client(&self) -> bool {
        matches!(self, Process::Client(_))
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Named(n) => f.write_str(n),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Named(n) => s.serialize_str(n),
        }
    }
}

/// One event. Field meanings follow Jepsen's op maps. It is written as [`OpRef`]
/// writes it, so the field names and their order are defined once, there.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub index: u64,
    pub kind: OpType,
    pub process: Process,
    pub f: Arc<str>,
    pub value: Value,
    pub key: Option<Value>,
    pub time: Option<i64>,
    pub node: Option<String>,
    pub error: Option<Value>,
    /// The line of the source file this event was read from (1-based), for messages; 0 if
    /// the event was not read from a file.
    pub line: u64,
}

impl Op {
    /// The event as one line of the JSON Lines history format.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("an op always serializes")
    }

    /// The event borrowed, as a writer of histories serializes it.
    pub fn view(&self) -> OpRef<'_> {
        OpRef {
            index: self.index,
            kind: self.kind,
            process: match &self.process {
                Process::Client(p) => ProcessRef::Client(*p),
                Process::Named(n) => ProcessRef::Named(n),
            },
            f: &self.f,
            value: &self.value,
            key: self.key.as_ref(),
            time: self.time,
            node: self.node.as_deref(),
            error: self.error.as_ref().map(ErrorRef::Value),
        }
    }
}

impl Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(s)
    }
}

/// One event of the JSON Lines history format, borrowed: what the runner writes (two
/// per operation, copying nothing) and what [`Op`] serializes through. The one
/// definition of the format's fields and their order.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OpRef<'a> {
    pub index: u64,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub process: ProcessRef<'a>,
    pub f: &'a str,
    pub value: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// None for the nemesis, which acts on many nodes (its value names them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRef<'a>>,
}

/// [`Process`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessRef<'a> {
    Client(u64),
    Named(&'a str),
}

impl Serialize for ProcessRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ProcessRef::Client(p) => s.serialize_u64(*p),
            ProcessRef::Named(n) => s.serialize_str(n),
        }
    }
}

/// An event's `error`: a client's message, or any JSON value a history carried.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum ErrorRef<'a> {
    Text(&'a str),
    Value(&'a Value),
}

/// A short human form of a value: `null` as `nil` is Jepsen's habit, we keep JSON's.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}
