//! Consistency models and the anomalies they forbid, after Elle's `consistency-model`
//! namespace (Adya's PL levels, Bailis, Cerone): which models a history rules out follows
//! from which anomalies it shows.
//!
//! Two small graphs carry the knowledge: anomaly implication (G0 implies G1c, a base cycle
//! implies its process variant, which implies its realtime variant, ...) and model
//! implication (strict serializable implies serializable, ...). Each model lists only the
//! anomalies it forbids beyond the models it implies.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Declares `ConsistencyModel` and `ConsistencyModel::ALL` from one list, so that the two
/// cannot drift apart: `ALL` holds every variant in declaration order, which is also the
/// order `Ord` sorts them in (and `known_models` lists them in).
macro_rules! consistency_models {
    ($($model:ident),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ConsistencyModel {
            $($model),+
        }

        impl ConsistencyModel {
            pub const ALL: [ConsistencyModel; [$(stringify!($model)),+].len()] =
                [$(ConsistencyModel::$model),+];
        }
    };
}

consistency_models![
    ReadUncommitted,
    ReadCommitted,
    CursorStability,
    RepeatableRead,
    SnapshotIsolation,
    Serializable,
    StrongSessionSnapshotIsolation,
    StrongSnapshotIsolation,
    StrongSessionSerializable,
    StrictSerializable,
];

use ConsistencyModel::*;

impl ConsistencyModel {
    pub fn name(self) -> &'static str {
        match self {
            ReadUncommitted => "read-uncommitted",
            ReadCommitted => "read-committed",
            CursorStability => "cursor-stability",
            RepeatableRead => "repeatable-read",
            SnapshotIsolation => "snapshot-isolation",
            Serializable => "serializable",
            StrongSessionSnapshotIsolation => "strong-session-snapshot-isolation",
            StrongSnapshotIsolation => "strong-snapshot-isolation",
            StrongSessionSerializable => "strong-session-serializable",
            StrictSerializable => "strict-serializable",
        }
    }

    /// Whether checking this model needs real-time edges in the dependency graph.
    pub fn needs_realtime(self) -> bool {
        matches!(self, StrictSerializable | StrongSnapshotIsolation)
    }

    /// Whether checking this model needs process-order edges.
    pub fn needs_process(self) -> bool {
        matches!(
            self,
            StrongSessionSerializable | StrongSessionSnapshotIsolation
        )
    }

    /// Models this one directly implies: a history satisfying `self` satisfies them.
    fn implies(self) -> &'static [ConsistencyModel] {
        match self {
            StrictSerializable => &[
                Serializable,
                StrongSnapshotIsolation,
                StrongSessionSerializable,
            ],
            StrongSessionSerializable => &[Serializable, StrongSessionSnapshotIsolation],
            StrongSnapshotIsolation => &[StrongSessionSnapshotIsolation],
            StrongSessionSnapshotIsolation => &[SnapshotIsolation],
            Serializable => &[RepeatableRead, SnapshotIsolation],
            // Adya: SI implies forward-consistent view, which implies cursor stability.
            SnapshotIsolation => &[CursorStability],
            RepeatableRead => &[CursorStability],
            CursorStability => &[ReadCommitted],
            ReadCommitted => &[ReadUncommitted],
            ReadUncommitted => &[],
        }
    }

    /// Anomalies this model forbids beyond those of the models it implies.
    fn direct_forbids(self) -> &'static [&'static str] {
        match self {
            // A version order must be total and only written values can be read, under
            // any model.
            ReadUncommitted => &[
                "G0",
                "duplicate-elements",
                "cyclic-versions",
                "garbage-read",
            ],
            ReadCommitted => &["G1"],
            CursorStability => &["lost-update"],
            RepeatableRead => &["G2-item"],
            // Generalized SI forbids every cycle whose rw edges are nonadjacent.
            SnapshotIsolation => &["internal", "G-nonadjacent"],
            Serializable => &["internal", "G2"],
            StrongSessionSnapshotIsolation => &["G1-process", "G-nonadjacent-process"],
            StrongSnapshotIsolation => &["G1-realtime", "G-nonadjacent-realtime"],
            StrongSessionSerializable => &["G1-process", "G2-process"],
            StrictSerializable => &["G1-realtime", "G2-realtime"],
        }
    }

    /// This model and every model it implies.
    fn implied_closure(self) -> BTreeSet<ConsistencyModel> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![self];
        while let Some(m) = todo.pop() {
            if seen.insert(m) {
                todo.extend_from_slice(m.implies());
            }
        }
        seen
    }

    /// Whether finding `anomaly` shows the history is not under this model.
    pub fn forbids(self, anomaly: &str) -> bool {
        let implied = implied_anomalies([anomaly]);
        self.implied_closure()
            .iter()
            .any(|m| m.direct_forbids().iter().any(|a| implied.contains(*a)))
    }
}

impl fmt::Display for ConsistencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ConsistencyModel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// By any name [`FromStr`] takes.
impl<'de> Deserialize<'de> for ConsistencyModel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown consistency model {0:?}; known: {known}", known = known_models())]
pub struct UnknownModel(pub String);

fn known_models() -> String {
    let names: Vec<&str> = ConsistencyModel::ALL.iter().map(|m| m.name()).collect();
    names.join(", ")
}

impl FromStr for ConsistencyModel {
    type Err = UnknownModel;

    /// Elle's names, its Adya aliases (PL-1, PL-2, PL-2.99, PL-3, PL-SI, PL-SS) and
    /// underscores for dashes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().trim_start_matches(':').replace('_', "-");
        let m = match norm.to_ascii_lowercase().as_str() {
            "read-uncommitted" | "pl-1" => ReadUncommitted,
            "read-committed" | "pl-2" => ReadCommitted,
            "cursor-stability" | "pl-cs" => CursorStability,
            "repeatable-read" | "pl-2.99" => RepeatableRead,
            "snapshot-isolation" | "si" | "pl-si" => SnapshotIsolation,
            "serializable" | "conflict-serializable" | "pl-3" => Serializable,
            "strong-session-snapshot-isolation" => StrongSessionSnapshotIsolation,
            "strong-snapshot-isolation" => StrongSnapshotIsolation,
            "strong-session-serializable" => StrongSessionSerializable,
            "strict-serializable" | "strong-serializable" | "pl-ss" => StrictSerializable,
            _ => return Err(UnknownModel(s.to_string())),
        };
        Ok(m)
    }
}

/// Anomalies that finding `anomaly` also shows.
fn implies_anomalies(anomaly: &str) -> Vec<String> {
    let (base, variant) = split_variant(anomaly);
    let mut out: Vec<String> = Vec::new();
    // A cycle that needs no process edge is trivially a process cycle, and processes are
    // single-threaded, so a process cycle is a realtime cycle.
    match variant {
        "" if is_cycle_base(base) => out.push(format!("{base}-process")),
        "-process" => out.push(format!("{base}-realtime")),
        _ => {}
    }
    let same_variant: &[&str] = match base {
        "G0" => &["G1c"],
        "G1c" => &["G1"],
        "G-single" => &["G-nonadjacent"],
        // Our rw edges are all on items, never predicates.
        "G-nonadjacent" => &["G2-item"],
        "G2-item" => &["G2"],
        _ => &[],
    };
    out.extend(same_variant.iter().map(|b| format!("{b}{variant}")));
    if variant.is_empty() {
        let plain: &[&str] = match base {
            "G1a" | "G1b" => &["G1"],
            // Both mean some read saw state no committed history produces.
            "incompatible-order" | "dirty-update" => &["G1a"],
            // Seeing one's own later write: as Elle, a cycle of the txn with itself.
            "future-read" => &["G1c"],
            // Bailis: lost update is an item anti-dependency cycle.
            "lost-update" => &["G2-item"],
            _ => &[],
        };
        out.extend(plain.iter().map(|s| s.to_string()));
    }
    out
}

fn is_cycle_base(base: &str) -> bool {
    matches!(
        base,
        "G0" | "G1c" | "G1" | "G-single" | "G-nonadjacent" | "G2-item" | "G2"
    )
}

/// `"G0-realtime"` to `("G0", "-realtime")`.
fn split_variant(anomaly: &str) -> (&str, &str) {
    for v in ["-process", "-realtime"] {
        if let Some(b) = anomaly.strip_suffix(v) {
            return (b, v);
        }
    }
    (anomaly, "")
}

/// The anomalies given and every anomaly they imply.
pub(crate) fn implied_anomalies<'a>(found: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = found.into_iter().map(String::from).collect();
    while let Some(a) = todo.pop() {
        if !seen.contains(&a) {
            todo.extend(implies_anomalies(&a));
            seen.insert(a);
        }
    }
    seen
}

/// Which models the anomalies rule out: the weakest ones (`not`) and the stronger ones
/// they take with them (`also_not`), like Elle's `:not` and `:also-not`.
pub(crate) fn ruled_out<'a>(
    found: impl IntoIterator<Item = &'a str>,
) -> (Vec<ConsistencyModel>, Vec<ConsistencyModel>) {
    let implied = implied_anomalies(found);
    let impossible: BTreeSet<ConsistencyModel> = ConsistencyModel::ALL
        .into_iter()
        .filter(|m| {
            m.implied_closure()
                .iter()
                .any(|w| w.direct_forbids().iter().any(|a| implied.contains(*a)))
        })
        .collect();
    let (not, also_not) = impossible.iter().partition(|m| {
        // Weakest: implies no other impossible model.
        !m.implied_closure()
            .iter()
            .any(|w| w != *m && impossible.contains(w))
    });
    (not, also_not)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elle_model_lattice() {
        assert!(ReadUncommitted.forbids("G0"));
        assert!(!ReadUncommitted.forbids("G1c"));
        assert!(ReadCommitted.forbids("G1c"));
        assert!(ReadCommitted.forbids("dirty-update"));
        assert!(!ReadCommitted.forbids("G-single"));
        assert!(RepeatableRead.forbids("G-single"));
        assert!(RepeatableRead.forbids("lost-update"));
        assert!(SnapshotIsolation.forbids("G-single"));
        assert!(SnapshotIsolation.forbids("lost-update"));
        assert!(!SnapshotIsolation.forbids("G2-item"));
        assert!(Serializable.forbids("G2-item"));
        assert!(!Serializable.forbids("G0-realtime"));
        assert!(!Serializable.forbids("G-single-process"));
        assert!(StrictSerializable.forbids("G-single-realtime"));
        assert!(StrictSerializable.forbids("G0-process"));
        assert!(StrongSessionSerializable.forbids("G2-item-process"));
        assert!(!StrongSessionSerializable.forbids("G2-item-realtime"));
        assert_eq!("PL-3".parse::<ConsistencyModel>(), Ok(Serializable));
        assert!("linearizable".parse::<ConsistencyModel>().is_err());
    }

    #[test]
    fn elle_ruled_out_boundary() {
        let (not, also) = ruled_out(["G2-item"]);
        assert_eq!(not, vec![RepeatableRead]);
        assert!(also.contains(&Serializable) && also.contains(&StrictSerializable));
        assert!(!also.contains(&SnapshotIsolation));
        let (not, _) = ruled_out(["G-single"]);
        assert_eq!(not, vec![RepeatableRead, SnapshotIsolation]);
        let (not, _) = ruled_out(["G0"]);
        assert_eq!(not, vec![ReadUncommitted]);
        let (not, _) = ruled_out(["G2-item-realtime"]);
        assert_eq!(not, vec![StrictSerializable]);
    }
}
