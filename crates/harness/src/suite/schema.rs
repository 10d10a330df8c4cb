//! The suite file's sections as serde structs (docs/suite-files.md documents every key).
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently
//! ignored setting; every setting is optional (except `[db] start`) so that the
//! command line can tell "the file said so" from "nobody said anything".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// The test's name: runs are stored as `<name>-<workload>`.
    pub name: Option<String>,
    pub nodes: Option<NodesSection>,
    pub db: Option<DbSection>,
    pub client: Option<ClientSection>,
    pub workload: Option<WorkloadSection>,
    pub nemesis: Option<NemesisSection>,
    pub run: Option<RunSection>,
}

/// Where the nodes are and how to reach them (the `--nodes`/`--cluster`/SSH options).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodesSection {
    /// A `faultline cluster up` folder, relative to the suite file.
    pub cluster: Option<String>,
    pub names: Option<Vec<String>>,
    /// A file with one node per line, relative to the suite file.
    pub file: Option<String>,
    pub username: Option<String>,
    pub ssh_port: Option<u16>,
    pub ssh_private_key: Option<String>,
    pub strict_host_key_checking: Option<bool>,
    pub connect_timeout: Option<f64>,
    pub local: Option<bool>,
}

/// A database made of shell commands run on every node.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DbSection {
    pub name: Option<String>,
    pub install: Option<String>,
    pub start: String,
    pub ready: Option<String>,
    pub ready_timeout: Option<f64>,
    pub stop: Option<String>,
    pub kill: Option<String>,
    pub pause: Option<String>,
    pub resume: Option<String>,
    pub wipe: Option<String>,
    pub primaries: Option<String>,
    #[serde(default)]
    pub log_files: Vec<String>,
    pub command_timeout: Option<f64>,
    #[serde(default)]
    pub upload: Vec<Upload>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A local file or folder copied to every node before `install`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// Relative to the suite file.
    pub from: String,
    /// Absolute path on the node.
    pub to: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    /// An external client: program and arguments (see docs/client-protocol.md).
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// One of faultline's own clients ("etcd").
    pub builtin: Option<String>,
    /// Built-in etcd client: the client port.
    pub port: Option<u16>,
    /// Built-in etcd client: serializable (local, possibly stale) reads.
    pub serializable_reads: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisSection {
    pub faults: Option<Vec<String>>,
    pub interval: Option<f64>,
    pub partition: Option<String>,
    /// Whom kill, pause, clock and packet faults hit: one, minority, majority, all,
    /// primaries or "n1,n3" (the CLI's --kill-target and so on).
    pub kill_target: Option<String>,
    pub pause_target: Option<String>,
    pub clock_target: Option<String>,
    pub packet_target: Option<String>,
    /// Packet behaviours: loss, rate, delay, duplicate, reorder, corrupt.
    pub packet: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub time_limit: Option<f64>,
    /// A number, or "Kn" for K per node; kept as the CLI's string form.
    #[serde(default, deserialize_with = "concurrency")]
    pub concurrency: Option<String>,
    pub rate: Option<f64>,
    pub op_timeout: Option<f64>,
    pub recovery_time: Option<f64>,
    pub seed: Option<u64>,
    pub test_count: Option<u32>,
    pub leave_db_running: Option<bool>,
}

/// `concurrency = 10` and `concurrency = "3n"` both read as the CLI's string.
fn concurrency<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number of clients or a string \"Kn\" (K per node)")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    d.deserialize_any(V)
}
