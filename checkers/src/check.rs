//! One entry point for every checker: a [`CheckerSpec`] names the checker and its
//! options, [`check`] runs it, and a [`CheckReport`] is what it found. The test harness
//! and `faultline check` both go through here, and a run's `test.json` stores the spec,
//! so re-checking a stored run uses exactly the checker that judged it.

use crate::elle::{self, ConsistencyModel, ElleError, ElleOptions, ElleReport};
use crate::history::{History, HistoryError, OpType};
use crate::linear::{self, LinError};
use crate::simple::bank::BankReport;
use crate::simple::counter::CounterReport;
use crate::simple::queue::QueueReport;
use crate::simple::set::SetReport;
use crate::simple::unique_ids::UniqueIdsReport;
use crate::simple::{self};
use crate::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use crate::linear::Options;

/// The linearizability models (Knossos' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinearModel {
    Register,
    CasRegister,
    Kv,
    Set,
    FifoQueue,
    UnorderedQueue,
    Mutex,
    MultiRegister,
}

impl LinearModel {
    pub const ALL: [LinearModel; 8] = [
        LinearModel::Register,
        LinearModel::CasRegister,
        LinearModel::Kv,
        LinearModel::Set,
        LinearModel::FifoQueue,
        LinearModel::UnorderedQueue,
        LinearModel::Mutex,
        LinearModel::MultiRegister,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LinearModel::Register => "register",
            LinearModel::CasRegister => "cas-register",
            LinearModel::Kv => "kv",
            LinearModel::Set => "set",
            LinearModel::FifoQueue => "fifo-queue",
            LinearModel::UnorderedQueue => "unordered-queue",
            LinearModel::Mutex => "mutex",
            LinearModel::MultiRegister => "multi-register",
        }
    }

    /// Whether the model can start from a given state (`--initial-value`).
    pub fn takes_initial_value(self) -> bool {
        matches!(
            self,
            LinearModel::Register
                | LinearModel::CasRegister
                | LinearModel::Kv
                | LinearModel::MultiRegister
        )
    }
}

impl fmt::Display for LinearModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LinearModel {
    type Err = UnknownChecker;
    fn from_str(s: &str) -> Result<Self, UnknownChecker> {
        LinearModel::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownChecker(s.to_string()))
    }
}

/// A name that is neither a model nor a checker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model or checker {0:?}; known: {known}", known = CheckerSpec::names().join(", "))]
pub struct UnknownChecker(pub String);

/// Which checker judges a history, with the options that change its verdict. Stored in
/// a run's `test.json` as `{"checker": "linearizable", "model": "cas-register"}` and
/// the like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "checker", rename_all = "kebab-case")]
pub enum CheckerSpec {
    /// Linearizability against a model, per key.
    Linearizable {
        model: LinearModel,
        /// The state the object starts in (`Model::state_from_json`); none: the model's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initial_value: Option<Value>,
    },
    /// Elle's list-append checker.
    ListAppend { consistency_model: ConsistencyModel },
    /// Elle's rw-register checker and its version-order inference options.
    RwRegister {
        consistency_model: ConsistencyModel,
        #[serde(default)]
        inference: RwInference,
    },
    /// Jepsen's `set` checker: adds against the final read.
    #[serde(alias = "set")]
    JepsenSet,
    /// Jepsen's `counter`.
    Counter,
    /// Jepsen's `total-queue`.
    TotalQueue,
    /// Jepsen's `unique-ids`.
    UniqueIds,
    /// Jepsen's `bank`: every read sums to `total` (default: the first ok read's sum).
    Bank {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<i64>,
    },
}

/// rw-register's optional sources of version order (Elle's options of the same names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RwInference {
    pub wfr_keys: bool,
    pub sequential_keys: bool,
    pub linearizable_keys: bool,
    pub allow_unwritten_reads: bool,
}

/// The names of the checkers that are not linearizability models, as `--model` takes them.
const OTHER_NAMES: [&str; 7] = [
    "list-append",
    "rw-register",
    "jepsen-set",
    "counter",
    "total-queue",
    "unique-ids",
    "bank",
];

impl CheckerSpec {
    /// Every name [`CheckerSpec::named`] takes: the linearizability models, then the others.
    pub fn names() -> Vec<&'static str> {
        LinearModel::ALL
            .iter()
            .map(|m| m.name())
            .chain(OTHER_NAMES)
            .collect()
    }

    /// The checker of this name with default options (strict serializability for the
    /// transactional ones).
    pub fn named(name: &str) -> Result<CheckerSpec, UnknownChecker> {
        let strict = ConsistencyModel::StrictSerializable;
        Ok(match name {
            "list-append" => CheckerSpec::ListAppend {
                consistency_model: strict,
            },
            "rw-register" => CheckerSpec::RwRegister {
                consistency_model: strict,
                inference: RwInference::default(),
            },
            "jepsen-set" => CheckerSpec::JepsenSet,
            "counter" => CheckerSpec::Counter,
            "total-queue" => CheckerSpec::TotalQueue,
            "unique-ids" => CheckerSpec::UniqueIds,
            "bank" => CheckerSpec::Bank { total: None },
            other => CheckerSpec::Linearizable {
                model: other.parse()?,
                initial_value: None,
            },
        })
    }

    pub fn linearizable(model: LinearModel) -> CheckerSpec {
        CheckerSpec::Linearizable {
            model,
            initial_value: None,
        }
    }

    /// Its name, as [`CheckerSpec::named`] takes it: the model's for linearizability.
    pub fn name(&self) -> &'static str {
        match self {
            CheckerSpec::Linearizable { model, .. } => model.name(),
            CheckerSpec::ListAppend { .. } => "list-append",
            CheckerSpec::RwRegister { .. } => "rw-register",
            CheckerSpec::JepsenSet => "jepsen-set",
            CheckerSpec::Counter => "counter",
            CheckerSpec::TotalQueue => "total-queue",
            CheckerSpec::UniqueIds => "unique-ids",
            CheckerSpec::Bank { .. } => "bank",
        }
    }

    /// The consistency model of a transactional checker.
    pub fn consistency_model(&self) -> Option<ConsistencyModel> {
        match self {
            CheckerSpec::ListAppend { consistency_model }
            | CheckerSpec::RwRegister {
                consistency_model, ..
            } => Some(*consistency_model),
            _ => None,
        }
    }

    /// Sets the consistency model of a transactional checker; false for the others.
    pub fn set_consistency_model(&mut self, model: ConsistencyModel) -> bool {
        match self {
            CheckerSpec::ListAppend { consistency_model }
            | CheckerSpec::RwRegister {
                consistency_model, ..
            } => {
                *consistency_model = model;
                true
            }
            _ => false,
        }
    }

    /// Whether the checker reads real time from the history: it cannot check a history
    /// of completions only.
    pub fn is_linearizability(&self) -> bool {
        matches!(self, CheckerSpec::Linearizable { .. })
    }
}

impl fmt::Display for CheckerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckerSpec::Linearizable { model, .. } => write!(f, "linearizable {model}"),
            CheckerSpec::ListAppend { consistency_model }
            | CheckerSpec::RwRegister {
                consistency_model, ..
            } => write!(f, "{} {consistency_model}", self.name()),
            _ => f.write_str(self.name()),
        }
    }
}

/// Why a checker could not judge a history: the history does not fit it. Every variant
/// names the file (and the line, where there is one).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Linear(#[from] LinError),
    #[error(transparent)]
    Elle(#[from] ElleError),
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// What a checker found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "checker", rename_all = "kebab-case")]
// One report per check, moved rarely: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum CheckReport {
    Linearizable(linear::Report),
    ListAppend(ElleReport),
    RwRegister(ElleReport),
    #[serde(alias = "set")]
    JepsenSet(SetReport),
    Counter(CounterReport),
    TotalQueue(QueueReport),
    UniqueIds(UniqueIdsReport),
    Bank(BankReport),
}

impl CheckReport {
    pub fn valid(&self) -> Validity {
        match self {
            CheckReport::Linearizable(r) => r.valid,
            CheckReport::ListAppend(r) | CheckReport::RwRegister(r) => r.valid,
            CheckReport::JepsenSet(r) => r.valid,
            CheckReport::Counter(r) => r.valid,
            CheckReport::TotalQueue(r) => r.valid,
            CheckReport::UniqueIds(r) => r.valid,
            CheckReport::Bank(r) => r.valid,
        }
    }

    pub fn linear(&self) -> Option<&linear::Report> {
        match self {
            CheckReport::Linearizable(r) => Some(r),
            _ => None,
        }
    }

    /// The checker's name: its `checker` tag in JSON (`linearizable`, `jepsen-set`).
    pub fn name(&self) -> &'static str {
        match self {
            CheckReport::Linearizable(_) => "linearizable",
            CheckReport::ListAppend(_) => "list-append",
            CheckReport::RwRegister(_) => "rw-register",
            CheckReport::JepsenSet(_) => "jepsen-set",
            CheckReport::Counter(_) => "counter",
            CheckReport::TotalQueue(_) => "total-queue",
            CheckReport::UniqueIds(_) => "unique-ids",
            CheckReport::Bank(_) => "bank",
        }
    }

    pub fn elle(&self) -> Option<&ElleReport> {
        match self {
            CheckReport::ListAppend(r) | CheckReport::RwRegister(r) => Some(r),
            _ => None,
        }
    }

    /// What the checker looked at, for a summary line: `120 operations, 3 keys`.
    pub fn counted(&self) -> String {
        let plural = |n: usize, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        match self {
            CheckReport::Linearizable(r) => {
                format!("{} operations, {}", r.operations, plural(r.keys, "key"))
            }
            CheckReport::ListAppend(r) | CheckReport::RwRegister(r) => {
                format!("{} transactions", r.txn_count)
            }
            CheckReport::JepsenSet(r) => {
                format!("{} adds, {} elements read", r.attempt_count, r.ok_count)
            }
            CheckReport::Counter(r) => format!("{} reads, {} adds", r.read_count, r.add_count),
            CheckReport::TotalQueue(r) => {
                format!("{} enqueues, {} dequeued", r.attempt_count, r.ok_count)
            }
            CheckReport::UniqueIds(r) => format!("{} ids", r.acknowledged_count),
            CheckReport::Bank(r) => format!("{} reads", r.read_count),
        }
    }

    /// The report for a terminal, after the summary line.
    pub fn to_text(&self) -> String {
        match self {
            CheckReport::Linearizable(r) => r.to_text(),
            CheckReport::ListAppend(r) | CheckReport::RwRegister(r) => r.to_text(),
            CheckReport::JepsenSet(r) => r.to_text(),
            CheckReport::Counter(r) => r.to_text(),
            CheckReport::TotalQueue(r) => r.to_text(),
            CheckReport::UniqueIds(r) => r.to_text(),
            CheckReport::Bank(r) => r.to_text(),
        }
    }

    /// Why the verdict is not `valid`, in a sentence or two: the first violation's
    /// summary, the anomalies found, or why the checker could not decide.
    pub fn why(&self) -> Option<String> {
        if self.valid() == Validity::Valid {
            return None;
        }
        let simple = |explanation: &Option<String>, reason: Option<&String>| {
            explanation.clone().or_else(|| reason.cloned())
        };
        match self {
            CheckReport::Linearizable(r) => r
                .failures
                .first()
                .map(|f| match &f.key {
                    Some(k) => format!("key {k}: {}", f.summary),
                    None => f.summary.clone(),
                })
                .or_else(|| r.reason.clone()),
            CheckReport::ListAppend(r) | CheckReport::RwRegister(r) => {
                let mut s = format!("anomalies: {}", r.anomaly_types.join(", "));
                if !r.not.is_empty() {
                    let not: Vec<&str> = r.not.iter().map(|m| m.name()).collect();
                    s += &format!("; not {}", not.join(", "));
                }
                Some(s)
            }
            CheckReport::JepsenSet(r) => simple(&r.explanation, r.reason.as_ref()),
            CheckReport::Counter(r) => simple(&r.explanation, None),
            CheckReport::TotalQueue(r) => simple(&r.explanation, None),
            CheckReport::UniqueIds(r) => simple(&r.explanation, None),
            CheckReport::Bank(r) => simple(&r.explanation, None),
        }
    }
}

/// Runs the checker `spec` names over `history`, within `opts`' limits (the
/// linearizability search honours them all; the others finish in one pass).
pub fn check(
    spec: &CheckerSpec,
    history: &History,
    opts: &Options,
) -> Result<CheckReport, CheckError> {
    Ok(match spec {
        CheckerSpec::Linearizable {
            model,
            initial_value,
        } => CheckReport::Linearizable(linear::check_model(
            *model,
            history,
            opts,
            initial_value.as_ref(),
        )?),
        CheckerSpec::ListAppend { consistency_model } => CheckReport::ListAppend(
            elle::check_list_append(history, &ElleOptions::for_model(*consistency_model))?,
        ),
        CheckerSpec::RwRegister {
            consistency_model,
            inference,
        } => {
            let o = ElleOptions {
                wfr_keys: inference.wfr_keys,
                sequential_keys: inference.sequential_keys,
                linearizable_keys: inference.linearizable_keys,
                allow_unwritten_reads: inference.allow_unwritten_reads,
                ..ElleOptions::for_model(*consistency_model)
            };
            CheckReport::RwRegister(elle::check_rw_register(history, &o)?)
        }
        CheckerSpec::JepsenSet => CheckReport::JepsenSet(simple::set::check_set(history)?),
        CheckerSpec::Counter => CheckReport::Counter(simple::counter::check_counter(history)?),
        CheckerSpec::TotalQueue => {
            CheckReport::TotalQueue(simple::queue::check_total_queue(history)?)
        }
        CheckerSpec::UniqueIds => {
            CheckReport::UniqueIds(simple::unique_ids::check_unique_ids(history))
        }
        CheckerSpec::Bank { total } => {
            CheckReport::Bank(simple::bank::check_bank(history, total.map(i128::from))?)
        }
    })
}

/// Counts of ok, fail and info completions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

/// Jepsen's `stats` checker: completions by outcome, in all and per `f`. An `f` that
/// never succeeded is suspicious, but as in Jepsen it only informs; the verdict is the
/// checker's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpStats {
    #[serde(flatten)]
    pub total: Counts,
    pub by_f: BTreeMap<String, Counts>,
}

impl OpStats {
    pub fn of(history: &History) -> OpStats {
        let mut s = OpStats::default();
        for op in history.ops.iter().filter(|o| o.process.is_client()) {
            let per_f = s.by_f.entry(op.f.to_string()).or_default();
            for c in [&mut s.total, per_f] {
                match op.kind {
                    OpType::Ok => c.ok += 1,
                    OpType::Fail => c.fail += 1,
                    OpType::Info => c.info += 1,
                    OpType::Invoke => {}
                }
            }
        }
        // An f seen only in invocations has no completions to count.
        s.by_f.retain(|_, c| *c != Counts::default());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_name_round_trips() {
        for name in CheckerSpec::names() {
            let spec = CheckerSpec::named(name).unwrap();
            assert_eq!(spec.name(), name);
            let text = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<CheckerSpec>(&text).unwrap(), spec);
        }
        let e = CheckerSpec::named("knossos").unwrap_err().to_string();
        assert!(e.contains("cas-register") && e.contains("bank"), "{e}");
    }

    #[test]
    fn stored_specs_of_earlier_runs_still_read() {
        let old = json!({"checker": "linearizable", "model": "cas-register"});
        assert_eq!(
            serde_json::from_value::<CheckerSpec>(old).unwrap(),
            CheckerSpec::linearizable(LinearModel::CasRegister)
        );
        let old = json!({"checker": "set"});
        assert_eq!(
            serde_json::from_value::<CheckerSpec>(old).unwrap(),
            CheckerSpec::JepsenSet
        );
        let old = json!({"checker": "list-append", "consistency_model": "serializable"});
        assert_eq!(
            serde_json::from_value::<CheckerSpec>(old)
                .unwrap()
                .consistency_model(),
            Some(ConsistencyModel::Serializable)
        );
    }

    #[test]
    fn reports_round_trip_through_json() {
        let h = crate::simple::history(&[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (1, "invoke", "read", Value::Null),
            (1, "ok", "read", json!([])),
        ]);
        let counter = crate::simple::history(&[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (1, "invoke", "read", Value::Null),
            (1, "ok", "read", json!(0)),
        ]);
        let opts = Options::default();
        for (spec, h) in [
            (CheckerSpec::JepsenSet, &h),
            (CheckerSpec::linearizable(LinearModel::Set), &h),
            (CheckerSpec::Counter, &counter),
        ] {
            let r = check(&spec, h, &opts).unwrap();
            assert_eq!(r.valid(), Validity::Invalid, "{spec}");
            let text = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<CheckReport>(&text).unwrap(), r);
            assert!(r.why().is_some(), "{spec}");
        }
        let stats = OpStats::of(&h);
        assert_eq!(stats.total.ok, 2);
        assert_eq!(stats.by_f["add"].ok, 1);
        let v = serde_json::to_value(&stats).unwrap();
        assert_eq!(v["ok"], 2);
        assert_eq!(serde_json::from_value::<OpStats>(v).unwrap(), stats);
    }
}
