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

/// One event. Field meanings follow Jepsen's op maps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    pub index: u64,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub process: Process,
    pub f: Arc<str>,
    pub value: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// The line of the source file this event was read from (1-based), for messages; 0 if
    /// the event was not read from a file.
    #[serde(skip)]
    pub line: u64,
}

impl Op {
    /// The event as one line of the JSON Lines history format.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("an op always serializes")
    }
}

/// A short human form of a value: `null` as `nil` is Jepsen's habit, we keep JSON's.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}
