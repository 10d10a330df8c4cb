//! A single value held by a register or a collection: cheap to hash and compare.

use serde_json::Value;
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scalar {
    Int(i64),
    Str(Arc<str>),
    Bool(bool),
    /// Any other JSON value (floats, arrays, objects), compared by its canonical text.
    Json(Arc<str>),
}

impl Scalar {
    /// `None` for JSON `null`.
    pub fn from_json(v: &Value) -> Option<Scalar> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Scalar::Int(i),
                None => Scalar::Json(Arc::from(n.to_string())),
            },
            Value::String(s) => Scalar::Str(Arc::from(s.as_str())),
            other => Scalar::Json(Arc::from(other.to_string())),
        })
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Json(j) => f.write_str(j),
        }
    }
}

/// Shows an optional scalar the way the history writes it: `null` when unset.
pub(crate) struct Shown<'a>(pub &'a Option<Scalar>);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "{s}"),
            None => f.write_str("null"),
        }
    }
}
