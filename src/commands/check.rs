//! `faultline check`: checks saved histories (JSON Lines or Jepsen EDN) offline.

use super::UsageError;
use clap::{Args, ValueEnum};
use faultline::report::junit::{self, Suite};
use faultline_checkers::elle::{self, ConsistencyModel, ElleOptions, ElleReport, UnknownModel};
use faultline_checkers::history::{self, Format, History, HistoryError, JsonlReader};
use faultline_checkers::linear::{self, LinError, Options, Progress, Report};
use faultline_checkers::model::{infer_model, infer_txn_model};
use faultline_checkers::simple;
use faultline_checkers::Validity;
use serde_json::json;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Auto,
    Jsonl,
    Edn,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History files, or store folders holding history.jsonl / history.edn
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The model to check against (default: guessed from the operations). list-append
    /// and rw-register run the transactional (Elle-style) checker; counter, total-queue,
    /// unique-ids and bank run Jepsen's checkers of those names; multi-register is
    /// Knossos' (txn of [read k v] / [write k v] micro-ops, linearizable)
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(ALL_MODELS))]
    pub model: Option<String>,
    /// For register, cas-register, kv and multi-register: the state the object starts
    /// in, as JSON (default: null, unset): 0 for a register, a string for every key of
    /// kv, an object such as {"x":0,"y":0} for multi-register
    #[arg(long, value_name = "JSON", value_parser = parse_json)]
    pub initial_value: Option<serde_json::Value>,
    /// For list-append / rw-register: the consistency model the history must satisfy
    /// (read-committed, repeatable-read, snapshot-isolation, serializable,
    /// strict-serializable, ...); default: the one a store folder's test.json names,
    /// else strict-serializable
    #[arg(long, value_name = "MODEL")]
    pub consistency_model: Option<String>,
    /// For rw-register: infer that a txn's write to a key follows the version it read
    /// there (Elle's wfr-keys)
    #[arg(long)]
    pub wfr_keys: bool,
    /// For rw-register: assume each key is sequentially consistent, so each process
    /// sees its versions in order (Elle's sequential-keys)
    #[arg(long)]
    pub sequential_keys: bool,
    /// For rw-register: assume each key is linearizable, so versions follow real time
    /// (Elle's linearizable-keys)
    #[arg(long)]
    pub linearizable_keys: bool,
    /// For rw-register: a read of a value no txn wrote is no anomaly, as in Elle (the
    /// database held it before the test); by default it is a garbage-read
    #[arg(long)]
    pub allow_unwritten_reads: bool,
    /// For bank: the total every read must sum to (default: the first ok read's sum)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub bank_total: Option<i64>,
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// One JSON object per file on standard output
    #[arg(long)]
    pub json: bool,
    /// Give up on a file after this many seconds (its verdict is then unknown)
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Memory the search may use, in MB (default: 60% of available memory)
    #[arg(long, value_name = "MB")]
    pub memory_limit: Option<u64>,
    /// Also write the reports (plots, timeline, violation pages, index.html) into DIR;
    /// with several files, into DIR/<file name>. The verdict does not depend on them
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Also write the verdicts as JUnit XML (a suite per file, its explanation as the
    /// failure), for CI systems
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

const ALL_MODELS: &[&str] = &[
    "register",
    "cas-register",
    "kv",
    "set",
    "fifo-queue",
    "unordered-queue",
    "mutex",
    "multi-register",
    "list-append",
    "rw-register",
    "counter",
    "total-queue",
    "unique-ids",
    "bank",
];

/// The transactional models, told apart by their micro-ops.
const TXN_MODELS: &[&str] = &["list-append", "rw-register", "multi-register"];

/// The models `--initial-value` applies to.
const INITIAL_VALUE_MODELS: &[&str] = &["register", "cas-register", "kv", "multi-register"];

fn parse_json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s)
        .map_err(|e| format!("not JSON ({e}); a string is written with its quotes, '\"a\"'"))
}

/// Why a file could not be checked: bad input, reported with exit code 254.
struct BadInput(String);

/// What an error about an operation adds when the model was guessed: that it was, which
/// models there are, and how to name one (the guess is the likeliest cause).
fn guess_hint(model: &str, txn: bool) -> String {
    let which = if txn {
        "for txn micro-ops [append k v] / [r k list] list-append, [w k v] / [r k v] \
         rw-register, Knossos' [write k v] / [read k v] multi-register (--model multi-register)"
            .to_string()
    } else {
        let others: Vec<&str> = ALL_MODELS
            .iter()
            .copied()
            .filter(|m| !TXN_MODELS.contains(m))
            .collect();
        format!("one of {}", others.join(", "))
    };
    format!(
        "\n  (the model {model} was guessed from the operations; name the model with \
         --model: {which})"
    )
}

pub fn run(a: CheckArgs) -> anyhow::Result<u8> {
    let timeout = match a.timeout {
        Some(t) if !(t > 0.0 && t.is_finite()) => {
            return Err(UsageError(format!("--timeout must be a positive number, not {t}")).into())
        }
        t => t.map(Duration::from_secs_f64),
    };
    let memory_limit = match a.memory_limit {
        Some(0) => return Err(UsageError("--memory-limit must be at least 1 MB".into()).into()),
        Some(mb) => mb as usize * (1 << 20),
        None => default_memory_limit(),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        // A second Ctrl-C is not caught again: the default action ends the process.
        let _ = ctrlc::set_handler(move || cancel.store(true, Ordering::Relaxed));
    }
    let consistency: Option<ConsistencyModel> = a
        .consistency_model
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: UnknownModel| UsageError(e.to_string()))?;
    let format = match a.format {
        FormatArg::Auto => None,
        FormatArg::Jsonl => Some(Format::Jsonl),
        FormatArg::Edn => Some(Format::Edn),
    };

    let mut verdict = Validity::Valid;
    let mut bad_input = false;
    let mut suites = Vec::new();
    for file in &a.files {
        let started = Instant::now();
        let deadline = timeout.map(|t| started + t);
        match check_one(
            file,
            &a,
            consistency,
            format,
            deadline,
            memory_limit,
            &cancel,
        ) {
            Ok(outcome) => {
                verdict = verdict.merge(outcome.report.valid());
                print_outcome(&outcome, a.json);
                if a.junit.is_some() {
                    suites.push(junit_suite(&outcome));
                }
            }
            Err(BadInput(message)) => {
                bad_input = true;
                suites.push(Suite::unreadable(&file.display().to_string(), &message));
                if a.json {
                    println!(
                        "{}",
                        json!({"file": file, "valid": "unknown", "error": message})
                    );
                }
                eprintln!("error: {message}");
            }
        }
    }
    if let Some(path) = &a.junit {
        std::fs::write(path, junit::render(&suites))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(if bad_input {
        super::EXIT_BAD_ARGS
    } else {
        verdict.exit_code() as u8
    })
}

/// What a checker said about one file.
enum Checked {
    Linear(Box<Report>),
    Elle(Box<ElleReport>),
    /// One of Jepsen's simpler checkers (`simple::NAMES`).
    Simple(Box<SimpleChecked>),
}

/// A simple checker's verdict, its report as JSON and as text.
struct SimpleChecked {
    valid: Validity,
    /// Operations it looked at, as the summary line counts them (`12 reads`).
    counted: String,
    report: serde_json::Value,
    text: String,
}

/// Runs the simple checker `model` names; `None` if it names none.
fn check_simple(
    model: &str,
    history: &History,
    bank_total: Option<i64>,
) -> Option<Result<SimpleChecked, HistoryError>> {
    fn done<R: serde::Serialize>(
        valid: Validity,
        counted: String,
        r: &R,
        text: String,
    ) -> SimpleChecked {
        SimpleChecked {
            valid,
            counted,
            report: serde_json::to_value(r).unwrap_or_else(|e| json!({"error": e.to_string()})),
            text,
        }
    }
    Some(match model {
        "counter" => simple::counter::check_counter(history).map(|r| {
            let n = format!("{} reads, {} adds", r.read_count, r.add_count);
            done(r.valid, n, &r, r.to_text())
        }),
        "total-queue" => simple::queue::check_total_queue(history).map(|r| {
            let n = format!("{} enqueues, {} dequeued", r.attempt_count, r.ok_count);
            done(r.valid, n, &r, r.to_text())
        }),
        "unique-ids" => {
            let r = simple::unique_ids::check_unique_ids(history);
            let n = format!("{} ids", r.acknowledged_count);
            Ok(done(r.valid, n, &r, r.to_text()))
        }
        "bank" => simple::bank::check_bank(history, bank_total.map(i128::from)).map(|r| {
            let n = format!("{} reads", r.read_count);
            done(r.valid, n, &r, r.to_text())
        }),
        _ => return None,
    })
}

impl Checked {
    fn valid(&self) -> Validity {
        match self {
            Checked::Linear(r) => r.valid,
            Checked::Elle(r) => r.valid,
            Checked::Simple(r) => r.valid,
        }
    }
}

struct Outcome {
    file: PathBuf,
    model: String,
    events: usize,
    read_seconds: f64,
    check_seconds: f64,
    report: Checked,
}

/// What a store folder's test.json says about checking it.
#[derive(Default)]
struct Stored {
    model: Option<String>,
    /// The transactional checker's model the test ran with (`faultline test
    /// --consistency-model`, or what `--isolation` promises).
    consistency: Option<ConsistencyModel>,
}

/// A store folder stands for the history in it; its test.json may name the model.
fn locate(path: &Path) -> Result<(PathBuf, Stored), BadInput> {
    if !path.is_dir() {
        return Ok((path.to_path_buf(), Stored::default()));
    }
    let test = std::fs::read_to_string(path.join("test.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    let field = |name: &str| {
        test.as_ref()
            .and_then(|v| v.get(name).and_then(|m| m.as_str()).map(str::to_string))
    };
    let consistency = match field("consistency_model") {
        Some(m) => Some(m.parse().map_err(|e: UnknownModel| {
            BadInput(format!(
                "{}: consistency_model: {e}",
                path.join("test.json").display()
            ))
        })?),
        None => None,
    };
    let stored = Stored {
        model: field("model"),
        consistency,
    };
    for name in ["history.jsonl", "history.edn"] {
        let p = path.join(name);
        if p.is_file() {
            return Ok((p, stored));
        }
    }
    Err(BadInput(format!(
        "{}: a folder without history.jsonl or history.edn",
        path.display()
    )))
}

fn check_one(
    path: &Path,
    a: &CheckArgs,
    consistency: Option<ConsistencyModel>,
    format: Option<Format>,
    deadline: Option<Instant>,
    memory_limit: usize,
    cancel: &Arc<AtomicBool>,
) -> Result<Outcome, BadInput> {
    let (file, stored) = locate(path)?;
    let stored_model = stored.model;
    let consistency = consistency
        .or(stored.consistency)
        .unwrap_or(ConsistencyModel::StrictSerializable);
    let t0 = Instant::now();
    let from_store = path.is_dir();
    let history = match read(&file, format, deadline, from_store) {
        Ok(h) => h,
        Err(e) if e.to_string().contains(READ_TIMEOUT) => {
            // Not bad input: the limit came first. The verdict is unknown, as for a
            // search that ran out of time.
            return Ok(Outcome {
                file,
                model: a.model.clone().or(stored_model).unwrap_or_default(),
                events: 0,
                read_seconds: t0.elapsed().as_secs_f64(),
                check_seconds: 0.0,
                report: Checked::Linear(Box::new(Report {
                    valid: Validity::Unknown,
                    model: String::new(),
                    operations: 0,
                    keys: 0,
                    keys_decided: 0,
                    reason: Some(e.to_string()),
                    failures: Vec::new(),
                    deepest: None,
                    stats: Default::default(),
                })),
            });
        }
        Err(e) => return Err(BadInput(e.to_string())),
    };
    let read_seconds = t0.elapsed().as_secs_f64();
    let txns = history
        .ops
        .iter()
        .filter(|o| o.process.is_client() && &*o.f == "txn");
    let is_txn = txns.clone().next().is_some();
    let given = a.model.clone().or(stored_model);
    let guessed = given.is_none();
    let model = match given {
        Some(m) => m,
        None if is_txn => infer_txn_model(txns.map(|o| &o.value)).to_string(),
        None => {
            let mut fs = history
                .ops
                .iter()
                .filter(|o| o.process.is_client())
                .map(|o| &*o.f);
            infer_model(&mut fs).unwrap_or("cas-register").to_string()
        }
    };
    // A guess that cannot read the history is likelier than a broken history.
    let hint = |message: String| {
        if guessed {
            message + &guess_hint(&model, is_txn)
        } else {
            message
        }
    };
    if a.initial_value.is_some() && !INITIAL_VALUE_MODELS.contains(&model.as_str()) {
        return Err(BadInput(format!(
            "--initial-value applies to the {} models, not {model}",
            INITIAL_VALUE_MODELS.join(", ")
        )));
    }
    // The transactional and the simple checkers: one pass, no progress display.
    let t1 = Instant::now();
    let quick = if model == "list-append" || model == "rw-register" {
        let opts = ElleOptions {
            wfr_keys: a.wfr_keys,
            sequential_keys: a.sequential_keys,
            linearizable_keys: a.linearizable_keys,
            allow_unwritten_reads: a.allow_unwritten_reads,
            ..ElleOptions::for_model(consistency)
        };
        let report = if model == "list-append" {
            elle::check_list_append(&history, &opts)
        } else {
            elle::check_rw_register(&history, &opts)
        };
        Some(
            report
                .map(|r| Checked::Elle(Box::new(r)))
                .map_err(|e| BadInput(hint(e.to_string())))?,
        )
    } else {
        check_simple(&model, &history, a.bank_total)
            .map(|r| r.map(|c| Checked::Simple(Box::new(c))))
            .transpose()
            .map_err(|e| BadInput(hint(e.to_string())))?
    };
    if let Some(report) = quick {
        let outcome = Outcome {
            file,
            model,
            events: history.len(),
            read_seconds,
            check_seconds: t1.elapsed().as_secs_f64(),
            report,
        };
        write_report(a, &history, &outcome);
        free_later(history);
        return Ok(outcome);
    }
    let progress = Arc::new(Progress::default());
    let opts = Options {
        timeout: deadline.map(|d| d.saturating_duration_since(Instant::now())),
        memory_limit: Some(memory_limit),
        cancel: Some(cancel.clone()),
        progress: Some(progress.clone()),
    };
    let t1 = Instant::now();
    let display = ProgressDisplay::start(file.display().to_string(), progress);
    let result = linear::check_named_from(&model, &history, &opts, a.initial_value.as_ref())
        .ok_or_else(|| BadInput(format!("unknown model {model:?}")))?;
    let check_seconds = t1.elapsed().as_secs_f64();
    drop(display);
    let report = result.map_err(|e| match e {
        LinError::BadInitialValue { message, .. } => BadInput(format!(
            "--initial-value {}: {message}",
            a.initial_value
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default()
        )),
        e => BadInput(hint(e.to_string())),
    })?;
    let outcome = Outcome {
        file,
        model,
        events: history.len(),
        read_seconds,
        check_seconds,
        report: Checked::Linear(Box::new(report)),
    };
    write_report(a, &history, &outcome);
    free_later(history);
    Ok(outcome)
}

/// `--report DIR`: the pages a run gets, for a history checked offline. Failures are
/// logged by the report module; they never change the verdict or the exit code.
fn write_report(a: &CheckArgs, history: &History, o: &Outcome) {
    let Some(dir) = &a.report else { return };
    let dir = if a.files.len() > 1 {
        dir.join(o.file.file_name().unwrap_or_default())
    } else {
        dir.clone()
    };
    let (mut results, linear, elle) = match &o.report {
        Checked::Linear(r) => (serde_json::to_value(&**r), Some(&**r), None),
        Checked::Elle(r) => (serde_json::to_value(&**r), None, Some(&**r)),
        Checked::Simple(r) => (Ok(r.report.clone()), None, None),
    };
    if let Ok(serde_json::Value::Object(m)) = &mut results {
        m.insert("file".into(), json!(o.file));
        m.insert("model".into(), json!(o.model));
        m.insert("events".into(), json!(o.events));
    }
    let results =
        results.unwrap_or_else(|e| json!({"valid": o.report.valid(), "error": e.to_string()}));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(&results).unwrap_or_default() + "\n",
        )
    }) {
        eprintln!("warning: {}: results.json not written: {e}", dir.display());
    }
    let errors = faultline::report::write_reports(&dir, history, &results, linear, elle);
    for e in &errors {
        eprintln!("warning: report {e}");
    }
    eprintln!("reports in {}/index.html", dir.display());
}

/// Reads a history; JSON Lines stop at the deadline (the check then reports unknown).
///
/// In a store folder, a `history.jsonl` that does not end with a newline was cut short
/// by a crash of the controller (the runner only ever writes whole lines, but the
/// kernel may complete only part of a write when the process is killed): its partial
/// last line is left out, with a warning, rather than making the whole run unreadable.
/// What a read cut short by the deadline says; the check then answers unknown.
const READ_TIMEOUT: &str = "timed out while reading the history";

/// Frees a large history on another thread, so that a deadline is not spent on it.
fn free_later(history: History) {
    if history.len() > 100_000 {
        std::thread::spawn(move || drop(history));
    }
}

fn read(
    file: &Path,
    format: Option<Format>,
    deadline: Option<Instant>,
    from_store: bool,
) -> Result<History, HistoryError> {
    let io = |source| HistoryError::Io {
        file: file.to_path_buf(),
        source,
    };
    let format = match format {
        Some(f) => f,
        None => {
            use std::io::BufRead;
            let mut r = BufReader::new(File::open(file).map_err(io)?);
            let head = r.fill_buf().map_err(io)?.to_vec();
            Format::detect(file, &head).ok_or_else(|| HistoryError::Whole {
                file: file.to_path_buf(),
                message: "cannot tell the format (neither JSON Lines nor EDN); use --format".into(),
            })?
        }
    };
    if format == Format::Jsonl && (deadline.is_some() || from_store) {
        use std::io::Read;
        let whole = if from_store {
            whole_lines_len(file).map_err(io)?
        } else {
            u64::MAX
        };
        let reader = BufReader::with_capacity(1 << 20, File::open(file).map_err(io)?.take(whole));
        let mut n = 0u64;
        let mut cut = false;
        let ops = JsonlReader::new(reader, file).take_while(|_| {
            n += 1;
            let go_on = n % 4096 != 0 || deadline.is_none_or(|d| Instant::now() < d);
            cut |= !go_on;
            go_on
        });
        let history = History::from_ops(file, ops)?;
        if cut {
            let events = history.len();
            free_later(history);
            return Err(HistoryError::Whole {
                file: file.to_path_buf(),
                message: format!("{READ_TIMEOUT} after {events} events"),
            });
        }
        return Ok(history);
    }
    history::read_file(file, Some(format))
}

/// The length of `file` up to and including its last newline, warning when a partial
/// line follows it.
fn whole_lines_len(file: &Path) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(file)?;
    let len = f.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            let whole = start + i as u64 + 1;
            if whole < len {
                eprintln!(
                    "warning: {}: ignoring a partial last line ({} bytes): the run was cut short",
                    file.display(),
                    len - whole
                );
            }
            return Ok(whole);
        }
        end = start;
    }
    // Not one newline: at most one partial line.
    if len > 0 {
        eprintln!(
            "warning: {}: ignoring a partial last line ({len} bytes): the run was cut short",
            file.display()
        );
    }
    Ok(0)
}

fn default_memory_limit() -> usize {
    let available_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
    });
    match available_kb {
        Some(kb) => kb / 10 * 6 * 1024,
        None => 4 << 30,
    }
}

/// The file's verdict as a JUnit suite, built the way `faultline test` builds one from
/// a run's results, so both explain a failure in the same words.
fn junit_suite(o: &Outcome) -> Suite {
    let (checker, report) = match &o.report {
        Checked::Linear(r) => ("linearizable", serde_json::to_value(r)),
        Checked::Elle(r) => ("elle", serde_json::to_value(r)),
        Checked::Simple(r) => (o.model.as_str(), Ok(r.report.clone())),
    };
    let report = report.unwrap_or_else(|e| json!({ "error": e.to_string() }));
    // A simple checker is named by its model alone (`counter`), as Jepsen names it.
    let checker = match &o.report {
        Checked::Simple(_) => json!({ "checker": checker }),
        _ => json!({ "checker": checker, "model": o.model }),
    };
    let test = json!({ "name": o.file, "checker": checker });
    let results = json!({
        "valid": o.report.valid(),
        "workload": report,
        "run": {"elapsed_secs": o.check_seconds},
    });
    Suite::from_results(&test, &results, &o.file.display().to_string())
}

fn print_outcome(o: &Outcome, as_json: bool) {
    match &o.report {
        Checked::Linear(r) => print_linear(o, r, as_json),
        Checked::Elle(r) => print_elle(o, r, as_json),
        Checked::Simple(r) => print_simple(o, r, as_json),
    }
}

fn print_linear(o: &Outcome, r: &Report, as_json: bool) {
    if as_json {
        let doc = json!({
            "file": o.file,
            "model": o.model,
            "valid": r.valid,
            "ops": r.operations,
            "events": o.events,
            "keys": r.keys,
            "keys_decided": r.keys_decided,
            "read_seconds": o.read_seconds,
            "check_seconds": o.check_seconds,
            "reason": r.reason,
            "explanation": r.failures.first(),
            "failures": r.failures,
            "deepest": r.deepest,
            "stats": r.stats,
        });
        println!("{doc}");
        return;
    }
    let keys = if r.keys == 1 {
        "1 key".to_string()
    } else {
        format!("{} keys", r.keys)
    };
    println!(
        "{}: {}  ({}, {} operations, {keys}, checked in {:.3} s)",
        o.file.display(),
        r.valid,
        o.model,
        r.operations,
        o.check_seconds
    );
    if let Some(reason) = &r.reason {
        println!("  {reason}");
    }
    if let Some(d) = &r.deepest {
        println!("  where it stood:");
        print!("{}", d.to_text());
    }
    for (i, f) in r.failures.iter().enumerate() {
        if i == 3 {
            println!(
                "  ... and {} more keys not linearizable",
                r.failures.len() - 3
            );
            break;
        }
        print!("{}", f.to_text());
    }
}

/// A checker's JSON report with what every `--json` line says about its file.
fn with_file_fields(mut doc: serde_json::Value, o: &Outcome) -> serde_json::Value {
    if let Some(m) = doc.as_object_mut() {
        m.insert("file".into(), json!(o.file));
        m.insert("model".into(), json!(o.model));
        m.insert("events".into(), json!(o.events));
        m.insert("read_seconds".into(), json!(o.read_seconds));
        m.insert("check_seconds".into(), json!(o.check_seconds));
    }
    doc
}

fn print_elle(o: &Outcome, r: &ElleReport, as_json: bool) {
    if as_json {
        let mut doc = serde_json::to_value(r).unwrap_or_else(|e| json!({"error": e.to_string()}));
        if let Some(m) = doc.as_object_mut() {
            m.insert("ops".into(), json!(r.txn_count));
        }
        println!("{}", with_file_fields(doc, o));
        return;
    }
    println!(
        "{}: {}  ({}, {} transactions, checked in {:.3} s)",
        o.file.display(),
        r.valid,
        o.model,
        r.txn_count,
        o.check_seconds
    );
    print!("{}", r.to_text());
}

fn print_simple(o: &Outcome, r: &SimpleChecked, as_json: bool) {
    if as_json {
        println!("{}", with_file_fields(r.report.clone(), o));
        return;
    }
    println!(
        "{}: {}  ({}, {}, checked in {:.3} s)",
        o.file.display(),
        r.valid,
        o.model,
        r.counted,
        o.check_seconds
    );
    print!("{}", r.text);
}

/// A progress bar on standard error, shown once a check has taken a second. Dropping it
/// wakes its thread at once (the channel closes), so it adds nothing to a short check.
struct ProgressDisplay {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressDisplay {
    fn start(label: String, progress: Arc<Progress>) -> Self {
        use std::sync::mpsc::RecvTimeoutError;
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if rx.recv_timeout(Duration::from_secs(1)) != Err(RecvTimeoutError::Timeout) {
                return;
            }
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} {msg} keys {pos}/{len}",
                )
                .expect("a valid template"),
            );
            while rx.recv_timeout(Duration::from_millis(100)) == Err(RecvTimeoutError::Timeout) {
                bar.set_length(progress.keys_total.load(Ordering::Relaxed) as u64);
                bar.set_position(progress.keys_done.load(Ordering::Relaxed) as u64);
                let mb = progress.memory_bytes.load(Ordering::Relaxed) >> 20;
                bar.set_message(format!("checking {label}: search memory {mb} MB,"));
                bar.tick();
            }
            bar.finish_and_clear();
        });
        ProgressDisplay {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
