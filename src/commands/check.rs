//! `faultline check`: checks saved histories (JSON Lines or Jepsen EDN) offline.

use super::UsageError;
use clap::{Args, ValueEnum};
use faultline::report::junit::{self, Suite};
use faultline::store::{self, Results, StoreError, TestRecord};
use faultline_checkers::check::{
    check, CheckError, CheckReport, CheckerSpec, LinearModel, Options, RwInference,
};
use faultline_checkers::elle::{ConsistencyModel, UnknownModel};
use faultline_checkers::history::{self, Format, History, HistoryError, JsonlReader};
use faultline_checkers::linear::{Explanation, LinError, Progress};
use faultline_checkers::model::{infer_model, infer_txn_model};
use faultline_checkers::Validity;
use serde::Serialize;
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
    /// unique-ids and bank run Jepsen's checkers of those names (jepsen-set is Jepsen's
    /// set checker: adds against the final read; set is Knossos' linearizable set);
    /// a store folder is checked with the checker its test.json names
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(CheckerSpec::names()))]
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

fn parse_json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s)
        .map_err(|e| format!("not JSON ({e}); a string is written with its quotes, '\"a\"'"))
}

/// Why a file could not be checked: bad input, reported with exit code 254.
struct BadInput(String);

impl From<StoreError> for BadInput {
    fn from(e: StoreError) -> BadInput {
        BadInput(e.to_string())
    }
}

/// What an error about an operation adds when the model was guessed: that it was, which
/// models there are, and how to name one (the guess is the likeliest cause).
fn guess_hint(model: &str, txn: bool) -> String {
    let which = if txn {
        "for txn micro-ops [append k v] / [r k list] list-append, [w k v] / [r k v] \
         rw-register, Knossos' [write k v] / [read k v] multi-register (--model multi-register)"
            .to_string()
    } else {
        let others: Vec<&str> = CheckerSpec::names()
            .into_iter()
            .filter(|m| !TXN_MODELS.contains(m))
            .collect();
        format!("one of {}", others.join(", "))
    };
    format!(
        "\n  (the model {model} was guessed from the operations; name the model with \
         --model: {which})"
    )
}

/// The transactional models, told apart by their micro-ops.
const TXN_MODELS: &[&str] = &["list-append", "rw-register", "multi-register"];

/// The command line's checker options, each applied to the checker a file gets.
struct Overrides {
    consistency: Option<ConsistencyModel>,
    initial_value: Option<serde_json::Value>,
    inference: RwInference,
    bank_total: Option<i64>,
}

impl Overrides {
    fn of(a: &CheckArgs) -> Result<Overrides, UsageError> {
        Ok(Overrides {
            consistency: a
                .consistency_model
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e: UnknownModel| UsageError(e.to_string()))?,
            initial_value: a.initial_value.clone(),
            inference: RwInference {
                wfr_keys: a.wfr_keys,
                sequential_keys: a.sequential_keys,
                linearizable_keys: a.linearizable_keys,
                allow_unwritten_reads: a.allow_unwritten_reads,
            },
            bank_total: a.bank_total,
        })
    }

    /// `spec` with the options given on the command line; an option the checker does not
    /// take is bad input, not silently ignored.
    fn apply(&self, mut spec: CheckerSpec) -> Result<CheckerSpec, BadInput> {
        if let Some(m) = self.consistency {
            // A consistency model for a checker that has none is harmless when it came
            // with several files of different kinds; it only applies where it can.
            spec.set_consistency_model(m);
        }
        if let Some(v) = &self.initial_value {
            match &mut spec {
                CheckerSpec::Linearizable {
                    model,
                    initial_value,
                } if model.takes_initial_value() => *initial_value = Some(v.clone()),
                other => {
                    let takes: Vec<&str> = LinearModel::ALL
                        .iter()
                        .filter(|m| m.takes_initial_value())
                        .map(|m| m.name())
                        .collect();
                    return Err(BadInput(format!(
                        "--initial-value applies to the {} models, not {}",
                        takes.join(", "),
                        other.name()
                    )));
                }
            }
        }
        if let CheckerSpec::RwRegister { inference, .. } = &mut spec {
            let given = self.inference;
            inference.wfr_keys |= given.wfr_keys;
            inference.sequential_keys |= given.sequential_keys;
            inference.linearizable_keys |= given.linearizable_keys;
            inference.allow_unwritten_reads |= given.allow_unwritten_reads;
        }
        if let (CheckerSpec::Bank { total }, Some(t)) = (&mut spec, self.bank_total) {
            *total = Some(t);
        }
        Ok(spec)
    }
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
    let overrides = Overrides::of(&a)?;
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
        let limits = Limits {
            deadline: timeout.map(|t| started + t),
            memory_limit,
            cancel: cancel.clone(),
        };
        match check_one(file, &a, &overrides, format, &limits) {
            Ok(outcome) => {
                verdict = verdict.merge(outcome.valid());
                print_outcome(&outcome, a.json);
                if a.junit.is_some() {
                    suites.push(junit_suite(&outcome));
                }
            }
            Err(BadInput(message)) => {
                bad_input = true;
                suites.push(Suite::unreadable(&file.display().to_string(), &message));
                if a.json {
                    let doc = Unreadable {
                        file,
                        valid: Validity::Unknown,
                        error: &message,
                    };
                    println!("{}", serde_json::to_string(&doc)?);
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

/// The `--json` line of a file that could not be checked.
#[derive(Serialize)]
struct Unreadable<'a> {
    file: &'a Path,
    valid: Validity,
    error: &'a str,
}

/// How long and how much a check may take.
struct Limits {
    deadline: Option<Instant>,
    memory_limit: usize,
    cancel: Arc<AtomicBool>,
}

/// What the checker said about one file.
struct Outcome {
    file: PathBuf,
    spec: CheckerSpec,
    events: usize,
    read_seconds: f64,
    check_seconds: f64,
    /// The report; `Err` when no checker ran because the deadline came first.
    report: Result<CheckReport, String>,
}

impl Outcome {
    fn valid(&self) -> Validity {
        self.report
            .as_ref()
            .map_or(Validity::Unknown, CheckReport::valid)
    }

    fn results(&self, history: Option<&History>) -> Results {
        Results::checked(
            self.report.clone(),
            history.map(faultline_checkers::check::OpStats::of),
        )
    }
}

/// A store folder stands for the history in it; its test.json names the checker it was
/// judged with.
fn locate(path: &Path) -> Result<(PathBuf, Option<CheckerSpec>), BadInput> {
    if !path.is_dir() {
        return Ok((path.to_path_buf(), None));
    }
    let stored = if path.join(store::TEST_FILE).is_file() {
        store::read_test(path)?.checker_spec()
    } else {
        None
    };
    for name in [store::HISTORY_FILE, "history.edn"] {
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

/// The checker named on the command line, else the store folder's, else the one the
/// operations of `history` suggest (cas-register when there are none to go by); `true`
/// when guessed.
fn choose(
    a: &CheckArgs,
    stored: Option<CheckerSpec>,
    history: Option<&History>,
) -> Result<(CheckerSpec, bool), BadInput> {
    if let Some(name) = &a.model {
        let spec = CheckerSpec::named(name).map_err(|e| BadInput(e.to_string()))?;
        return Ok((spec, false));
    }
    if let Some(spec) = stored {
        return Ok((spec, false));
    }
    let Some(history) = history else {
        return Ok((CheckerSpec::linearizable(LinearModel::CasRegister), true));
    };
    let mut txns = history
        .ops
        .iter()
        .filter(|o| o.process.is_client() && &*o.f == "txn")
        .peekable();
    let name = if txns.peek().is_some() {
        infer_txn_model(txns.map(|o| &o.value))
    } else {
        let mut fs = history
            .ops
            .iter()
            .filter(|o| o.process.is_client())
            .map(|o| &*o.f);
        infer_model(&mut fs).unwrap_or("cas-register")
    };
    let spec = CheckerSpec::named(name).map_err(|e| BadInput(e.to_string()))?;
    Ok((spec, true))
}

fn check_one(
    path: &Path,
    a: &CheckArgs,
    overrides: &Overrides,
    format: Option<Format>,
    limits: &Limits,
) -> Result<Outcome, BadInput> {
    let (file, stored) = locate(path)?;
    let t0 = Instant::now();
    let from_store = path.is_dir();
    let history = match read(&file, format, limits.deadline, from_store) {
        Ok(h) => h,
        Err(e) if e.to_string().contains(READ_TIMEOUT) => {
            // Not bad input: the limit came first. The verdict is unknown, as for a
            // search that ran out of time.
            let (spec, _) = choose(a, stored, None)?;
            return Ok(Outcome {
                file,
                spec,
                events: 0,
                read_seconds: t0.elapsed().as_secs_f64(),
                check_seconds: 0.0,
                report: Err(e.to_string()),
            });
        }
        Err(e) => return Err(BadInput(e.to_string())),
    };
    let read_seconds = t0.elapsed().as_secs_f64();
    let (spec, guessed) = choose(a, stored, Some(&history))?;
    let spec = overrides.apply(spec)?;
    let is_txn = history
        .ops
        .iter()
        .any(|o| o.process.is_client() && &*o.f == "txn");
    // A guess that cannot read the history is likelier than a broken history.
    let hint = |message: String| {
        if guessed {
            message + &guess_hint(spec.name(), is_txn)
        } else {
            message
        }
    };
    let progress = Arc::new(Progress::default());
    let opts = Options {
        timeout: limits
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now())),
        memory_limit: Some(limits.memory_limit),
        cancel: Some(limits.cancel.clone()),
        progress: Some(progress.clone()),
        ..Options::default()
    };
    let t1 = Instant::now();
    // Only the linearizability search can take long enough to want a progress bar.
    let display = spec
        .is_linearizability()
        .then(|| ProgressDisplay::start(file.display().to_string(), progress));
    let report = check(&spec, &history, &opts);
    let check_seconds = t1.elapsed().as_secs_f64();
    drop(display);
    let report = report.map_err(|e| match e {
        CheckError::Linear(LinError::BadInitialValue { message, .. }) => BadInput(format!(
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
        spec,
        events: history.len(),
        read_seconds,
        check_seconds,
        report: Ok(report),
    };
    write_report(a, &history, &outcome);
    free_later(history);
    Ok(outcome)
}

/// `--report DIR`: the pages a run gets, and its `results.json`, for a history checked
/// offline. Failures are warned of; they never change the verdict or the exit code.
fn write_report(a: &CheckArgs, history: &History, o: &Outcome) {
    let Some(dir) = &a.report else { return };
    let dir = if a.files.len() > 1 {
        dir.join(o.file.file_name().unwrap_or_default())
    } else {
        dir.clone()
    };
    let results = o.results(Some(history));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(
            dir.join(store::RESULTS_FILE),
            serde_json::to_string_pretty(&results).unwrap_or_default() + "\n",
        )
    }) {
        eprintln!("warning: {}: results.json not written: {e}", dir.display());
    }
    for e in faultline::report::write_reports(&dir, history, &results) {
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
/// a run's records, so both explain a failure in the same words.
fn junit_suite(o: &Outcome) -> Suite {
    let test = TestRecord::for_file(o.file.display().to_string(), o.spec.clone());
    let mut suite = Suite::from_results(&test, &o.results(None), &o.file.display().to_string());
    suite.time_secs = o.check_seconds;
    for case in &mut suite.cases {
        case.time_secs = o.check_seconds;
    }
    suite
}

/// One `--json` line: the file's facts, then the checker's report.
#[derive(Serialize)]
struct JsonLine<'a> {
    file: &'a Path,
    /// The linearizability report names its model itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'static str>,
    events: usize,
    read_seconds: f64,
    check_seconds: f64,
    /// Operations (linearizability) or transactions (Elle) checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    ops: Option<usize>,
    /// The first violation, for a quick look (all are in `failures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a Explanation>,
    #[serde(flatten)]
    report: Reported<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Reported<'a> {
    Report(&'a CheckReport),
    Undecided { valid: Validity, reason: &'a str },
}

fn print_outcome(o: &Outcome, as_json: bool) {
    let model = o.spec.name();
    if as_json {
        let (report, ops, explanation) = match &o.report {
            Ok(r) => (
                Reported::Report(r),
                match r {
                    CheckReport::Linearizable(l) => Some(l.operations),
                    _ => r.elle().map(|e| e.txn_count),
                },
                r.linear().and_then(|l| l.failures.first()),
            ),
            Err(reason) => (
                Reported::Undecided {
                    valid: Validity::Unknown,
                    reason,
                },
                None,
                None,
            ),
        };
        let line = JsonLine {
            file: &o.file,
            model: (!matches!(o.report, Ok(CheckReport::Linearizable(_)))).then_some(model),
            events: o.events,
            read_seconds: o.read_seconds,
            check_seconds: o.check_seconds,
            ops,
            explanation,
            report,
        };
        match serde_json::to_string(&line) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: {}: the report as JSON: {e}", o.file.display()),
        }
        return;
    }
    match &o.report {
        Ok(r) => {
            println!(
                "{}: {}  ({model}, {}, checked in {:.3} s)",
                o.file.display(),
                r.valid(),
                r.counted(),
                o.check_seconds
            );
            print!("{}", r.to_text());
        }
        Err(reason) => {
            println!("{}: {}  ({model})", o.file.display(), Validity::Unknown);
            println!("  {reason}");
        }
    }
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
