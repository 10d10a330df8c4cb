//! Suite files: a whole test (nodes, the database as shell commands, the client, the
//! workload, the nemesis and the limits) in one TOML file, for `faultline test --suite`.
//!
//! Loading reads the file, deserializes it into [`schema::SuiteFile`] (unknown keys and
//! wrong types are errors) and validates the values; every error names the file, the
//! line and column, and the key (docs/suite-files.md).

pub mod schema;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use faultline_nemesis::packet::Behavior;
use faultline_nemesis::process::Target;
use faultline_nemesis::FaultKind;
use faultline_workloads::workload::WorkloadKind;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::db::shell::{ShellCommands, ShellDb};
pub use schema::SuiteFile;

/// The longest suite file we read: it is configuration, not data.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Longest accepted duration: a year, as the CLI's limits.
const MAX_SECONDS: f64 = 366.0 * 86_400.0;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{path}: cannot read the suite file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the suite file is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    /// A problem with one key (or, for syntax errors, one place) of the file.
    #[error("{}:{line}:{column}: {}{message}", .path.display(), key_prefix(.key))]
    At {
        path: PathBuf,
        line: usize,
        column: usize,
        /// Dotted path of the key, e.g. `db.upload[0].from`; empty when the error is
        /// about the file's syntax rather than a key.
        key: String,
        message: String,
    },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

impl SuiteError {
    /// The offending key's dotted path, if the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            SuiteError::At { key, .. } if !key.is_empty() => Some(key),
            _ => None,
        }
    }

    /// The 1-based line the error points at, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            SuiteError::At { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// A loaded, validated suite file.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The path as given.
    pub path: PathBuf,
    /// The folder relative paths in the file are relative to.
    pub dir: PathBuf,
    /// The file's text, kept for the run's test.json.
    pub text: String,
    pub file: SuiteFile,
}

/// One segment of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn key(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Builds key paths: `k("db").k("upload").i(0).k("from")`.
#[derive(Debug, Clone, Default)]
struct KeyPath(Vec<Seg>);

impl KeyPath {
    fn k(&self, name: &str) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Key(name.to_string()));
        KeyPath(v)
    }
    fn i(&self, index: usize) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Index(index));
        KeyPath(v)
    }
}

fn kp(name: &str) -> KeyPath {
    KeyPath::default().k(name)
}

/// The file's parsed document with spans, to point errors at lines.
struct Doc<'a> {
    path: &'a Path,
    text: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Doc<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Doc {
            path,
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
        (line, column)
    }

    fn error(&self, span: Option<Range<usize>>, key: String, message: String) -> SuiteError {
        let (line, column) = self.line_col(span.map_or(0, |s| s.start));
        SuiteError::At {
            path: self.path.to_path_buf(),
            line,
            column,
            key,
            message,
        }
    }

    /// The span of the value at `path` (of its key when the value has none), or of the
    /// nearest enclosing key that exists.
    fn span_of(&self, path: &[Seg]) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut table: &DeTable = root.get_ref();
        let mut array: Option<&Spanned<DeValue>> = None;
        let mut best = None;
        for seg in path {
            let value = match (seg, array) {
                (Seg::Key(k), None) => {
                    let (kk, v) = table.get_key_value(k.as_str())?;
                    best = Some(kk.span());
                    v
                }
                (Seg::Index(i), Some(a)) => a.get_ref().as_array()?.get(*i)?,
                _ => return best,
            };
            best = Some(value.span()).filter(|s| !s.is_empty()).or(best);
            array = None;
            match value.get_ref() {
                DeValue::Table(t) => table = t,
                DeValue::Array(_) => array = Some(value),
                _ => {}
            }
        }
        best
    }

    /// The dotted key whose key or value contains `offset` (the innermost one).
    fn key_at(&self, offset: usize) -> String {
        fn walk(table: &DeTable, offset: usize, path: &mut Vec<Seg>) {
            for (k, v) in table.iter() {
                if k.span().contains(&offset) {
                    path.push(Seg::Key(k.get_ref().to_string()));
                    return;
                }
                if v.span().contains(&offset) {
                    path.push(Seg::Key(k.get_ref().to_string()));
                    walk_value(v, offset, path);
                    return;
                }
            }
            // A table header ([db]) spans only the header: look inside every table.
            for (k, v) in table.iter() {
                if let DeValue::Table(t) = v.get_ref() {
                    let before = path.len();
                    path.push(Seg::Key(k.get_ref().to_string()));
                    walk(t, offset, path);
                    if path.len() > before + 1 {
                        return;
                    }
                    path.truncate(before);
                }
            }
        }
        fn walk_value(v: &Spanned<DeValue>, offset: usize, path: &mut Vec<Seg>) {
            match v.get_ref() {
                DeValue::Table(t) => walk(t, offset, path),
                DeValue::Array(a) => {
                    for (i, e) in a.iter().enumerate() {
                        if e.span().contains(&offset) {
                            path.push(Seg::Index(i));
                            walk_value(e, offset, path);
                            return;
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(root) = &self.root else {
            return String::new();
        };
        let mut path = Vec::new();
        walk(root.get_ref(), offset, &mut path);
        key(&path)
    }

    fn at(&self, path: &KeyPath, message: impl Into<String>) -> SuiteError {
        self.error(self.span_of(&path.0), key(&path.0), message.into())
    }
}

impl Suite {
    /// Reads and validates a suite file.
    pub fn load(path: &Path) -> Result<Suite, SuiteError> {
        let read = |source| SuiteError::Read {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_FILE_BYTES {
            return Err(SuiteError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Suite::parse(path, text)
    }

    /// Parses and validates `text` as the suite file at `path` (relative paths in it
    /// are relative to `path`'s folder).
    pub fn parse(path: &Path, text: String) -> Result<Suite, SuiteError> {
        let doc = Doc::new(path, &text);
        let file: SuiteFile = toml::from_str(&text).map_err(|e| {
            let key = e.span().map(|s| doc.key_at(s.start)).unwrap_or_default();
            doc.error(e.span(), key, plain_types(e.message().trim()))
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let suite = Suite {
            path: path.to_path_buf(),
            dir,
            file,
            text: String::new(),
        };
        suite.validate(&doc)?;
        Ok(Suite { text, ..suite })
    }

    /// The test's name: `name`, else `[db] name`, else the file's stem.
    pub fn name(&self) -> String {
        self.file
            .name
            .clone()
            .or_else(|| self.file.db.as_ref().and_then(|d| d.name.clone()))
            .unwrap_or_else(|| {
                self.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "suite".into())
            })
    }

    /// A path from the file, relative to the file's folder (absolute ones unchanged).
    pub fn resolve(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    /// The `[client] command`, its `./` and `../` elements made relative to the
    /// suite file's folder (so the suite works from any working directory).
    pub fn client_command(&self) -> Option<Vec<String>> {
        let cmd = self.file.client.as_ref()?.command.as_ref()?;
        Some(
            cmd.iter()
                .map(|a| {
                    if a.starts_with("./") || a.starts_with("../") {
                        self.resolve(a).to_string_lossy().into_owned()
                    } else {
                        a.clone()
                    }
                })
                .collect(),
        )
    }

    /// The `[db]` section as a database, if the file has one.
    pub fn shell_db(&self) -> Option<ShellDb> {
        let d = self.file.db.as_ref()?;
        Some(ShellDb {
            name: d.name.clone().unwrap_or_else(|| self.name()),
            commands: ShellCommands {
                install: d.install.clone(),
                start: d.start.clone(),
                ready: d.ready.clone(),
                stop: d.stop.clone(),
                kill: d.kill.clone(),
                pause: d.pause.clone(),
                resume: d.resume.clone(),
                wipe: d.wipe.clone(),
                primaries: d.primaries.clone(),
            },
            env: d.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            uploads: d
                .upload
                .iter()
                .map(|u| (self.resolve(&u.from), u.to.clone()))
                .collect(),
            log_files: d.log_files.clone(),
            ready_timeout: secs(d.ready_timeout, 60.0),
            command_timeout: secs(d.command_timeout, 60.0),
            ..ShellDb::default()
        })
    }

    /// Fails unless the `[db]` commands can carry out `faults` (a `kill` fault needs
    /// `kill` and `start`, `pause` needs `pause` and `resume`).
    pub fn check_faults(&self, faults: &[FaultKind]) -> Result<(), String> {
        let Some(d) = &self.file.db else {
            return Ok(());
        };
        for f in faults {
            let missing: &[(&str, bool)] = match f {
                FaultKind::Kill => &[("kill", d.kill.is_none())],
                FaultKind::Pause => &[("pause", d.pause.is_none()), ("resume", d.resume.is_none())],
                _ => &[],
            };
            if let Some((name, _)) = missing.iter().find(|(_, m)| *m) {
                return Err(format!(
                    "{}: the {} fault needs a `{name}` command in [db]",
                    self.path.display(),
                    f.name()
                ));
            }
        }
        Ok(())
    }

    fn validate(&self, doc: &Doc) -> Result<(), SuiteError> {
        let f = &self.file;
        if let Some(name) = &f.name {
            check_name(doc, &kp("name"), name)?;
        }
        if let Some(n) = &f.nodes {
            self.validate_nodes(doc, n)?;
        }
        if let Some(d) = &f.db {
            self.validate_db(doc, d)?;
        }
        if let Some(c) = &f.client {
            validate_client(doc, c)?;
        }
        if let Some(w) = f.workload.as_ref().and_then(|w| w.name.as_ref()) {
            w.parse::<WorkloadKind>()
                .map_err(|e| doc.at(&kp("workload").k("name"), e))?;
        }
        if let Some(n) = &f.nemesis {
            let p = kp("nemesis");
            let mut kinds = Vec::new();
            for (i, name) in n.faults.iter().flatten().enumerate() {
                let k = FaultKind::parse_list(name)
                    .ok()
                    .filter(|k| k.len() == 1 && !name.contains(','))
                    .ok_or_else(|| {
                        doc.at(
                            &p.k("faults").i(i),
                            format!(
                                "unknown fault {name:?} (partition, kill, pause, clock, packet)"
                            ),
                        )
                    })?;
                kinds.extend(k);
            }
            self.check_faults(&kinds)
                .map_err(|e| doc.at(&p.k("faults"), e))?;
            check_secs(doc, &p.k("interval"), n.interval, true)?;
            if n.partition.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(doc.at(&p.k("partition"), "must not be empty"));
            }
            for (key, target) in [
                ("kill_target", &n.kill_target),
                ("pause_target", &n.pause_target),
                ("clock_target", &n.clock_target),
                ("packet_target", &n.packet_target),
            ] {
                if let Some(t) = target {
                    t.parse::<Target>()
                        .map_err(|e| doc.at(&p.k(key), e.to_string()))?;
                }
            }
            for (i, b) in n.packet.iter().flatten().enumerate() {
                Behavior::default_for(b).map_err(|e| doc.at(&p.k("packet").i(i), e.to_string()))?;
            }
        }
        if let Some(r) = &f.run {
            let p = kp("run");
            check_secs(doc, &p.k("time_limit"), r.time_limit, false)?;
            check_secs(doc, &p.k("op_timeout"), r.op_timeout, true)?;
            check_secs(doc, &p.k("recovery_time"), r.recovery_time, false)?;
            if let Some(rate) = r.rate {
                if !(rate.is_finite() && rate >= 0.0) {
                    return Err(doc.at(&p.k("rate"), format!("must be >= 0, not {rate}")));
                }
            }
            if let Some(c) = &r.concurrency {
                check_concurrency(c).map_err(|e| doc.at(&p.k("concurrency"), e))?;
            }
            if r.test_count == Some(0) {
                return Err(doc.at(&p.k("test_count"), "must be at least 1"));
            }
        }
        Ok(())
    }

    fn validate_nodes(&self, doc: &Doc, n: &schema::NodesSection) -> Result<(), SuiteError> {
        let p = kp("nodes");
        if n.cluster.is_some() && (n.names.is_some() || n.file.is_some()) {
            return Err(doc.at(&p, "give one of cluster, names or file, not several"));
        }
        if n.names.is_some() && n.file.is_some() {
            return Err(doc.at(&p, "give one of names or file, not both"));
        }
        if let Some(names) = &n.names {
            if names.is_empty() {
                return Err(doc.at(&p.k("names"), "must list at least one node"));
            }
            for (i, name) in names.iter().enumerate() {
                if name.trim().is_empty() || name.contains(char::is_whitespace) {
                    return Err(doc.at(
                        &p.k("names").i(i),
                        format!("{name:?} is not a node name or address"),
                    ));
                }
            }
        }
        if let Some(u) = &n.username {
            check_name(doc, &p.k("username"), u)?;
        }
        check_secs(doc, &p.k("connect_timeout"), n.connect_timeout, true)
    }

    fn validate_db(&self, doc: &Doc, d: &schema::DbSection) -> Result<(), SuiteError> {
        let p = kp("db");
        if let Some(name) = &d.name {
            check_name(doc, &p.k("name"), name)?;
        }
        let commands = [
            ("install", d.install.as_ref()),
            ("start", Some(&d.start)),
            ("ready", d.ready.as_ref()),
            ("stop", d.stop.as_ref()),
            ("kill", d.kill.as_ref()),
            ("pause", d.pause.as_ref()),
            ("resume", d.resume.as_ref()),
            ("wipe", d.wipe.as_ref()),
            ("primaries", d.primaries.as_ref()),
        ];
        for (name, cmd) in commands {
            if cmd.is_some_and(|c| c.trim().is_empty()) {
                return Err(doc.at(&p.k(name), "an empty command (leave the key out instead)"));
            }
        }
        if d.pause.is_some() != d.resume.is_some() {
            let (has, lacks) = if d.pause.is_some() {
                ("pause", "resume")
            } else {
                ("resume", "pause")
            };
            return Err(doc.at(
                &p.k(has),
                format!("`{has}` needs `{lacks}` too (a paused node must be resumed)"),
            ));
        }
        check_secs(doc, &p.k("ready_timeout"), d.ready_timeout, true)?;
        check_secs(doc, &p.k("command_timeout"), d.command_timeout, true)?;
        for (i, f) in d.log_files.iter().enumerate() {
            if !f.starts_with('/') {
                return Err(doc.at(
                    &p.k("log_files").i(i),
                    format!("{f:?}: log files are absolute paths on the nodes"),
                ));
            }
        }
        for (i, u) in d.upload.iter().enumerate() {
            let at = p.k("upload").i(i);
            let from = self.resolve(&u.from);
            if !from.exists() {
                return Err(doc.at(
                    &at.k("from"),
                    format!(
                        "{}: no such file or folder (paths are relative to the suite file)",
                        from.display()
                    ),
                ));
            }
            if !u.to.starts_with('/') || u.to.trim_end_matches('/').is_empty() {
                return Err(doc.at(
                    &at.k("to"),
                    format!("{:?}: an absolute path on the nodes (not /)", u.to),
                ));
            }
        }
        check_env(doc, &p.k("env"), &d.env)
    }
}

fn validate_client(doc: &Doc, c: &schema::ClientSection) -> Result<(), SuiteError> {
    let p = kp("client");
    match (&c.command, &c.builtin) {
        (Some(_), Some(_)) => {
            return Err(doc.at(&p, "give either `command` or `builtin`, not both"));
        }
        (None, None) => {
            return Err(doc.at(&p, "give `command` (an external client) or `builtin`"));
        }
        (Some(cmd), None) => {
            if cmd.first().is_none_or(|c| c.trim().is_empty()) {
                return Err(doc.at(&p.k("command"), "must name a program to run"));
            }
            if c.port.is_some() || c.serializable_reads.is_some() {
                let k = if c.port.is_some() {
                    "port"
                } else {
                    "serializable_reads"
                };
                return Err(doc.at(&p.k(k), "only for `builtin = \"etcd\"`"));
            }
        }
        (None, Some(b)) => {
            if b != "etcd" {
                return Err(doc.at(
                    &p.k("builtin"),
                    format!("unknown built-in client {b:?} (etcd)"),
                ));
            }
            if !c.env.is_empty() {
                return Err(doc.at(&p.k("env"), "only for an external `command`"));
            }
            if c.port == Some(0) {
                return Err(doc.at(&p.k("port"), "must be a port number, not 0"));
            }
        }
    }
    check_env(doc, &p.k("env"), &c.env)
}

fn check_name(doc: &Doc, at: &KeyPath, name: &str) -> Result<(), SuiteError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(doc.at(
            at,
            format!("{name:?}: use 1-64 letters, digits, '-', '_' or '.'"),
        ))
    }
}

fn check_env(doc: &Doc, at: &KeyPath, env: &BTreeMap<String, String>) -> Result<(), SuiteError> {
    for (k, v) in env {
        let name_ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(doc.at(
                &at.k(k),
                format!("{k:?} is not an environment variable name"),
            ));
        }
        if v.contains('\0') {
            return Err(doc.at(&at.k(k), "a value with a NUL byte"));
        }
    }
    Ok(())
}

fn check_secs(doc: &Doc, at: &KeyPath, v: Option<f64>, positive: bool) -> Result<(), SuiteError> {
    let Some(v) = v else {
        return Ok(());
    };
    let ok = v.is_finite() && (0.0..=MAX_SECONDS).contains(&v) && (!positive || v > 0.0);
    if ok {
        Ok(())
    } else {
        let min = if positive { "> 0" } else { ">= 0" };
        Err(doc.at(
            at,
            format!("must be a number of seconds {min} (at most a year), not {v}"),
        ))
    }
}

/// "10" or "3n", as the CLI's --concurrency (the node count is not known yet).
fn check_concurrency(c: &str) -> Result<(), String> {
    let (digits, per_node) = match c.trim().strip_suffix('n') {
        Some(k) => (k, true),
        None => (c.trim(), false),
    };
    match digits.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(()),
        _ if per_node => Err(format!("{c:?}: expected Kn with K between 1 and 10000")),
        _ => Err(format!(
            "{c:?}: expected a number of clients between 1 and 10000, or \"Kn\" (K per node)"
        )),
    }
}

/// serde names Rust types ("expected f64"); a suite's author thinks in TOML's.
fn plain_types(message: &str) -> String {
    let mut m = message.to_string();
    for (rust, toml) in [
        ("expected f64", "expected a number"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u16", "expected an integer from 0 to 65535"),
        ("expected a boolean", "expected true or false"),
    ] {
        m = m.replace(rust, toml);
    }
    m
}

fn secs(v: Option<f64>, default: f64) -> Duration {
    Duration::from_secs_f64(v.unwrap_or(default))
}

#[cfg(test)]
mod tests;
