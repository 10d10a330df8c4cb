//! The records of a run folder: `test.json` and `results.json`, and the output document
//! of `faultline test --json`.
//!
//! Each record is read back by the code that needs it (never by string keys), and
//! older stores still read: fields added since have defaults, and the linearizability
//! `model` of stores written before `checker` named its model is read and resolved.

use faultline_checkers::check::{CheckReport, CheckerSpec, LinearModel, OpStats};
use faultline_checkers::elle::ConsistencyModel;
use faultline_checkers::Validity;
use faultline_workloads::workload::WorkloadKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `test.json`: what ran, written before anything runs, so that a run cut short still
/// says how to check its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRecord {
    #[serde(default)]
    pub name: String,
    /// `None` for a history checked from a file (`faultline check`'s own store folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadKind>,
    /// The checker that judged (or will judge) the history: `faultline check STORE_DIR`
    /// re-checks with exactly this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checker: Option<CheckerSpec>,
    /// Read only: stores written before `checker` carried its model had it here.
    #[serde(default, skip_serializing)]
    pub model: Option<String>,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub concurrency: usize,
    /// Node names, in node order.
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub time_limit_secs: f64,
    /// Operations per second asked for (0: as fast as the clients go).
    #[serde(default)]
    pub rate: f64,
    #[serde(default)]
    pub recovery_time_secs: f64,
    #[serde(default)]
    pub op_timeout_secs: f64,
    /// The run folder's timestamp.
    #[serde(default)]
    pub start_time: String,
    /// The `test` command's options (absent for runs made by the library directly).
    #[serde(flatten)]
    pub config: TestConfig,
}

impl TestRecord {
    /// The record of a history checked from a file: its name and checker, no run.
    pub fn for_file(name: String, checker: CheckerSpec) -> TestRecord {
        TestRecord {
            name,
            workload: None,
            checker: Some(checker),
            model: None,
            seed: 0,
            concurrency: 0,
            nodes: Vec::new(),
            time_limit_secs: 0.0,
            rate: 0.0,
            recovery_time_secs: 0.0,
            op_timeout_secs: 0.0,
            start_time: String::new(),
            config: TestConfig::default(),
        }
    }

    /// A run of a workload has a seed; a history checked from a file has none.
    pub fn seed(&self) -> Option<u64> {
        self.workload.map(|_| self.seed)
    }

    /// The checker for this run's history: the one recorded, else (older stores) the
    /// one its workload or its linearizability model names. `None` when nothing says.
    pub fn checker_spec(&self) -> Option<CheckerSpec> {
        if let Some(c) = &self.checker {
            return Some(c.clone());
        }
        if let Some(m) = self
            .model
            .as_deref()
            .and_then(|m| m.parse::<LinearModel>().ok())
        {
            return Some(CheckerSpec::linearizable(m));
        }
        let consistency_model = self
            .config
            .consistency_model
            .unwrap_or(ConsistencyModel::StrictSerializable);
        Some(self.workload?.checker(consistency_model))
    }
}

/// The `test` command's configuration of a run, as `test.json` records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command_line: Vec<String>,
    /// 0-based, of `test_count` (`--test-count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_count: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub serializable_reads: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub leave_db_running: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<Host>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<PathBuf>,
    /// The faults injected (`--nemesis`), by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nemesis: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nemesis_interval_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_patterns: Vec<String>,
    /// An external client program (`--client`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientRecord>,
    /// The suite file the run came from, whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suite: Option<SuiteSource>,
    /// The isolation level the postgres clients asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation: Option<String>,
    /// The model list-append histories are checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency_model: Option<ConsistencyModel>,
}

/// A node: its name and the address the controller reached it at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    pub host: String,
}

/// An external client program and its environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub argv: Vec<String>,
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

/// A suite file as it was when the run started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteSource {
    pub path: PathBuf,
    pub text: String,
}

/// What the runner did: counts of events and outcomes, and how long it took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub events: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    pub timeouts: u64,
    pub elapsed_secs: f64,
    /// Stopped from outside before the generator was exhausted.
    pub interrupted: bool,
}

/// `results.json`: the run's verdict, the workload checker's report, and the other
/// checkers' beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The run's verdict: the workload checker's, merged with every other checker's.
    pub valid: Validity,
    /// The workload checker's report; `None` when it could not run (see `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<CheckReport>,
    /// Why the history could not be checked (unreadable, or malformed for the checker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Jepsen's `stats` checker: outcomes per `f`. Reported, never part of the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<OpStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunSummary>,
    /// Jepsen's `log-file-pattern` checker over the nodes' logs (`--log-pattern`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_patterns: Option<LogCheck>,
}

impl Results {
    /// The results of a checked history: its verdict is the workload checker's, or
    /// unknown with the reason when the checker could not run.
    pub fn checked(report: Result<CheckReport, String>, stats: Option<OpStats>) -> Results {
        let (valid, workload, error) = match report {
            Ok(r) => (r.valid(), Some(r), None),
            Err(e) => (Validity::Unknown, None, Some(e)),
        };
        Results {
            valid,
            workload,
            error,
            stats,
            run: None,
            log_patterns: None,
        }
    }

    /// Adds the log checker's verdict to the run's.
    pub fn with_log_check(mut self, logs: LogCheck) -> Results {
        self.valid = self.valid.merge(logs.valid());
        self.log_patterns = Some(logs);
        self
    }

    /// The workload checker's verdict alone (`unknown` when it could not run).
    pub fn workload_valid(&self) -> Validity {
        self.workload
            .as_ref()
            .map_or(Validity::Unknown, CheckReport::valid)
    }
}

/// One line of a node's log that matched an error pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMatch {
    /// The log file, relative to the run folder (`n1/etcd.log`).
    pub file: String,
    /// 1-based.
    pub line: u64,
    pub pattern: String,
    pub text: String,
}

/// The node logs searched for the error patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogScan {
    pub valid: Validity,
    pub patterns: Vec<String>,
    pub files: usize,
    pub count: u64,
    pub matches: Vec<LogMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// The log checker's outcome: a scan, or why the logs could not be searched (then the
/// verdict is unknown: the patterns were asked for and nobody looked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogCheck {
    Scanned(LogScan),
    NotScanned { valid: Validity, reason: String },
}

impl LogCheck {
    pub fn not_scanned(reason: impl Into<String>) -> LogCheck {
        LogCheck::NotScanned {
            valid: Validity::Unknown,
            reason: reason.into(),
        }
    }

    pub fn valid(&self) -> Validity {
        match self {
            LogCheck::Scanned(s) => s.valid,
            LogCheck::NotScanned { valid, .. } => *valid,
        }
    }

    /// One sentence for a report: the first match, or why nobody looked.
    pub fn explanation(&self) -> Option<String> {
        match self {
            LogCheck::Scanned(s) => s.explanation.clone(),
            LogCheck::NotScanned { reason, .. } => Some(reason.clone()),
        }
    }
}

/// The document `faultline test --json` prints: the overall verdict and exit code, each
/// run with its store folder and its results, and each crash with its error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestsDocument {
    pub valid: Validity,
    pub exit_code: u8,
    pub runs: Vec<RunEntry>,
    pub crashed: Vec<CrashEntry>,
}

/// A run that was checked, whatever its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEntry {
    pub name: String,
    pub seed: u64,
    pub valid: Validity,
    /// The run's store folder.
    pub store: PathBuf,
    pub summary: RunSummary,
    /// The run's `results.json`; `None` if it could not be read back.
    pub results: Option<Results>,
}

/// A run that ended in an error before it could be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashEntry {
    pub name: String,
    pub seed: u64,
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::check::{check, Options};
    use serde_json::json;

    #[test]
    fn older_test_json_files_name_their_checker() {
        let old: TestRecord = serde_json::from_value(json!({
            "name": "etcd", "workload": "register", "model": "cas-register", "seed": 3,
            "checker": {"checker": "linearizable", "model": "cas-register"},
        }))
        .unwrap();
        assert_eq!(
            old.checker_spec(),
            Some(CheckerSpec::linearizable(LinearModel::CasRegister))
        );
        // A set run of before `checker` was typed: Jepsen's set checker, not the
        // linearizable set model.
        let set: TestRecord =
            serde_json::from_value(json!({"name": "s", "workload": "set", "model": null})).unwrap();
        assert_eq!(set.checker_spec(), Some(CheckerSpec::JepsenSet));
        let append: TestRecord = serde_json::from_value(
            json!({"name": "a", "workload": "append", "consistency_model": "serializable"}),
        )
        .unwrap();
        assert_eq!(
            append.checker_spec().unwrap().consistency_model(),
            Some(ConsistencyModel::Serializable)
        );
        let bare: TestRecord = serde_json::from_value(json!({"name": "x"})).unwrap();
        assert_eq!(bare.checker_spec(), None);
    }

    #[test]
    fn records_round_trip() {
        let t = TestRecord {
            name: "etcd".into(),
            workload: Some(WorkloadKind::Set),
            checker: Some(CheckerSpec::JepsenSet),
            model: None,
            seed: 7,
            concurrency: 5,
            nodes: vec!["n1".into()],
            time_limit_secs: 10.0,
            rate: 100.0,
            recovery_time_secs: 2.0,
            op_timeout_secs: 5.0,
            start_time: "20260101T000000.000Z".into(),
            config: TestConfig {
                db: Some("etcd".into()),
                hosts: vec![Host {
                    name: "n1".into(),
                    host: "10.0.0.1".into(),
                }],
                nemesis: vec!["partition".into()],
                ..TestConfig::default()
            },
        };
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<TestRecord>(&text).unwrap(), t);

        let h = faultline_checkers::history::read_jsonl(
            concat!(
                r#"{"index":0,"type":"invoke","process":0,"f":"add","value":1}"#,
                "\n",
                r#"{"index":1,"type":"ok","process":0,"f":"add","value":1}"#,
                "\n",
                r#"{"index":2,"type":"invoke","process":1,"f":"read","value":null}"#,
                "\n",
                r#"{"index":3,"type":"ok","process":1,"f":"read","value":[]}"#,
                "\n"
            )
            .as_bytes(),
            "h.jsonl",
        )
        .unwrap();
        let report = check(&CheckerSpec::JepsenSet, &h, &Options::default());
        let r = Results::checked(report.map_err(|e| e.to_string()), Some(OpStats::of(&h)))
            .with_log_check(LogCheck::not_scanned(
                "the node logs could not be downloaded",
            ));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.workload_valid(), Validity::Invalid);
        let text = serde_json::to_string(&r).unwrap();
        let back: Results = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let scan = LogCheck::Scanned(LogScan {
            valid: Validity::Valid,
            patterns: vec!["panic".into()],
            files: 1,
            count: 0,
            matches: vec![],
            explanation: None,
        });
        let text = serde_json::to_string(&scan).unwrap();
        assert_eq!(serde_json::from_str::<LogCheck>(&text).unwrap(), scan);
    }
}
