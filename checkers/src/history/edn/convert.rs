//! EDN values to JSON values, the form every op field is kept in.
//!
//! EDN is richer than JSON, so some information is dropped on purpose, always in a way that
//! keeps distinct values of one history distinct (checkers only compare values for equality):
//! - keywords, symbols and chars become strings (`:ok` -> `"ok"`, `:foo/bar` -> `"foo/bar"`);
//! - lists and sets become arrays (a set in EDN's own order of its elements);
//! - map keys become strings: the name of a keyword, a string as is, anything else as its
//!   JSON text (`{1 :a}` -> `{"1": "a"}`);
//! - tagged values become the value they tag (`#inst "2024-..."` -> the string,
//!   `#jepsen.history.Op{...}` -> the map); a namespaced map `#:ns{:a 1}` gets its keys
//!   qualified (`"ns/a"`), as Clojure reads it;
//! - integers outside both i64 and u64 (`N` big ints) become their decimal text as a string,
//!   because our JSON numbers are 64-bit: a distinct big int stays a distinct value;
//! - ratios and `M` decimals become floats; an infinite or NaN float becomes the string
//!   Clojure prints for it (`"##Inf"`, `"##-Inf"`, `"##NaN"`).

use clojure_reader::edn::Edn;
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted in a value, as serde_json's own reader limits it: conversion
/// and dropping of JSON values recurse, and a hostile file must not overflow the stack.
pub(super) const MAX_DEPTH: usize = 128;

pub(super) fn to_json(e: &Edn) -> Result<Value, String> {
    convert(e, 0)
}

fn convert(e: &Edn, depth: usize) -> Result<Value, String> {
    Ok(match e {
        Edn::Nil => Value::Null,
        Edn::Bool(b) => Value::Bool(*b),
        Edn::Int(i) => Value::from(*i),
        Edn::BigInt(b) => {
            if let Ok(i) = i64::try_from(b) {
                Value::from(i)
            } else if let Ok(u) = u64::try_from(b) {
                Value::from(u)
            } else {
                Value::String(b.to_string())
            }
        }
        Edn::Double(d) => float(d.0),
        Edn::Rational((n, d)) => float(*n as f64 / *d as f64),
        Edn::BigDec(d) => {
            let text = d.to_string();
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => float(f),
                _ => Value::String(text),
            }
        }
        Edn::Char(c) => Value::String(c.to_string()),
        Edn::Key(s) | Edn::Symbol(s) | Edn::Str(s) => Value::String(s.to_string()),
        Edn::Vector(items) | Edn::List(items) => {
            let depth = deeper(depth)?;
            Value::Array(
                items
                    .iter()
                    .map(|i| convert(i, depth))
                    .collect::<Result<_, _>>()?,
            )
        }
        Edn::Set(items) => {
            let depth = deeper(depth)?;
            Value::Array(
                items
                    .iter()
                    .map(|i| convert(i, depth))
                    .collect::<Result<_, _>>()?,
            )
        }
        Edn::Map(_) => map(e, None, depth)?,
        Edn::Tagged(tag, inner) => match (tag.strip_prefix(':'), inner.as_ref()) {
            (Some(ns), Edn::Map(_)) => map(inner, Some(ns), depth)?,
            _ => convert(inner, deeper(depth)?)?,
        },
        // `Edn` is non-exhaustive: a future kind of value is reported, not guessed at.
        _ => return Err("a kind of EDN value this reader does not support".into()),
    })
}

fn deeper(depth: usize) -> Result<usize, String> {
    if depth >= MAX_DEPTH {
        Err(format!("value nested more than {MAX_DEPTH} levels deep"))
    } else {
        Ok(depth + 1)
    }
}

fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("##NaN".into()),
        None if f > 0.0 => Value::String("##Inf".into()),
        None => Value::String("##-Inf".into()),
    }
}

/// `ns` qualifies the unqualified keyword keys of a namespaced map.
fn map(e: &Edn, ns: Option<&str>, depth: usize) -> Result<Value, String> {
    let Edn::Map(entries) = e else {
        return Err("expected a map".into());
    };
    let depth = deeper(depth)?;
    let mut out = Map::new();
    for (k, v) in entries {
        let key = match (k, ns) {
            (Edn::Key(name), Some(ns)) if !name.contains('/') => format!("{ns}/{name}"),
            _ => key_name(k, depth)?,
        };
        if out.insert(key, convert(v, depth)?).is_some() {
            // Distinct EDN keys that read as one JSON key (`:a` and `"a"`): keeping either
            // would silently lose data.
            return Err(format!(
                "map has two keys that both read as {:?}",
                key_name(k, depth)?
            ));
        }
    }
    Ok(Value::Object(out))
}

/// The JSON object key for an EDN map key.
pub(super) fn key_name(k: &Edn, depth: usize) -> Result<String, String> {
    match k {
        Edn::Key(s) | Edn::Symbol(s) | Edn::Str(s) => Ok(s.to_string()),
        other => Ok(convert(other, depth)?.to_string()),
    }
}

/// A short description of a value for error messages: scalars as their EDN text (cut
/// short), compound values by kind, so a message never prints a huge or deep value.
pub(super) fn describe(e: &Edn) -> String {
    match e {
        Edn::Vector(_) => "a vector".into(),
        Edn::List(_) => "a list".into(),
        Edn::Set(_) => "a set".into(),
        Edn::Map(_) => "a map".into(),
        // Not the tagged value itself: tags may nest without bound.
        Edn::Tagged(tag, _) => format!("a value tagged #{tag}"),
        scalar => {
            let text = scalar.to_string();
            if text.chars().count() > 60 {
                let cut: String = text.chars().take(57).collect();
                format!("{cut}...")
            } else {
                text
            }
        }
    }
}
