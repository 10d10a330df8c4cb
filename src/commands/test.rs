//! `faultline test` and `faultline test-all`: set the database up on the nodes, run a
//! workload against it with concurrent clients, check the history, keep everything in
//! the store, tear the database down. Exit codes as Jepsen's: 0 valid, 1 invalid,
//! 2 unknown, 254 bad arguments, 255 anything else.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use faultline::clients::etcd::EtcdClients;
use faultline::clients::external::{ExternalClients, ExternalContext, ExternalSpec};
use faultline::clients::postgres::{Isolation, PostgresClients};
use faultline::control::{Cmd, Control, Node};
use faultline::db::{self, etcd::Etcd, postgres::Postgres, Db};
use faultline::runner::harness;
use faultline::runner::{ClientFactory, Progress, RunConfig, RunSummary};
use faultline::store::RunDir;
use faultline::store::{Host, LogCheck, SuiteSource, TestConfig};
use faultline::test_run::{FaultSchedule, Ran, TestRun};
use faultline_checkers::Validity;
use faultline_nemesis::nemesis::NemesisOptions;
use faultline_nemesis::net::PartitionSpec;
use faultline_nemesis::packet::Behavior;
use faultline_nemesis::process::Target;
use faultline_nemesis::{FaultKind, FaultList};
use faultline_workloads::gen::SECOND;
use faultline_workloads::workload::{WorkloadKind, WorkloadOptions};
use regex::Regex;

use super::db::DbKind;
use super::nodes::NodeOpts;
use super::suite::{self, Given};
use super::test_output::{self, Checked, Crashed};
use super::txn_opts::{self, TxnOpts};
use super::UsageError;
use crate::logging;

/// Options shared by `test` and `test-all`.
#[derive(Debug, Args)]
pub struct TestOpts {
    /// A suite file (TOML, docs/suite-files.md) with the test's settings; options given
    /// on the command line override it
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// The --suite file once loaded (suite::apply).
    #[arg(skip)]
    pub loaded_suite: Option<Arc<faultline::suite::Suite>>,
    /// etcd, or shell: the [db] commands of the --suite file (its default when it has one)
    #[arg(long = "db", value_enum, default_value = "etcd")]
    pub db: DbKind,
    #[command(flatten)]
    pub nodes: NodeOpts,
    /// Seconds of workload (the main phase)
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub time_limit: f64,
    /// Client threads: a number, or "3n" for three per node
    #[arg(long, default_value = "10", value_name = "N|Kn")]
    pub concurrency: String,
    /// Operations per second, all clients together (0: as fast as they go)
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Random seed for the generators (default: random, printed and stored)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run each test this many times (each with seed + i)
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub test_count: u32,
    /// Leave the database running after the test (its data stays too)
    #[arg(long)]
    pub leave_db_running: bool,
    /// With no nodes given: the throwaway local cluster's size
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub local_nodes: usize,
    /// With no nodes given: leave the throwaway local cluster up (it says how to reuse it)
    #[arg(long)]
    pub keep_cluster: bool,
    /// Register reads use etcd's serializable (possibly stale, local) reads
    #[arg(long)]
    pub serializable_reads: bool,
    /// Where runs are stored: DIR/<test>/<timestamp>/
    #[arg(long, default_value = "store", value_name = "DIR")]
    pub store: PathBuf,
    /// Seconds before a client gives up on an operation (it becomes info)
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub op_timeout: f64,
    /// Seconds to let the cluster recover before final reads
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub recovery_time: f64,
    /// etcd release archive (.tar.gz) to install instead of the node's etcd
    #[arg(long, value_name = "PATH")]
    pub etcd_archive: Option<PathBuf>,
    /// No live progress line
    #[arg(long)]
    pub no_progress: bool,
    /// Faults to inject, any of partition,kill,pause,clock,packet (default: none)
    #[arg(long, default_value = "", value_name = "LIST")]
    pub nemesis: FaultList,
    /// Seconds between nemesis steps: a fault starts, holds this long, stops, and
    /// the cluster gets this long before the next one
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub nemesis_interval: f64,
    /// Which partition: halves, one, majorities-ring, bridge, primaries, or a node name
    #[arg(long, default_value = "halves", value_name = "SPEC")]
    pub partition: PartitionSpec,
    /// Whose DB the kill fault kills: one, minority, majority, all, primaries, or n1,n2,...
    #[arg(long, default_value = "minority", value_name = "TARGET")]
    pub kill_target: Target,
    /// Whose DB the pause fault pauses (as --kill-target)
    #[arg(long, default_value = "minority", value_name = "TARGET")]
    pub pause_target: Target,
    /// Whose clock the clock fault shifts (as --kill-target)
    #[arg(long, default_value = "minority", value_name = "TARGET")]
    pub clock_target: Target,
    /// Whose traffic the packet fault disturbs (as --kill-target)
    #[arg(long, default_value = "all", value_name = "TARGET")]
    pub packet_target: Target,
    /// What the packet fault does: any of loss, rate, delay, duplicate, reorder,
    /// corrupt (what this kernel cannot do is refused, never skipped)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "loss",
        value_name = "LIST"
    )]
    pub packet: Vec<Behavior>,
    /// A regular expression for errors in the downloaded node logs (repeatable), e.g.
    /// "panic:": any matching line makes the run invalid (Jepsen's log-file-pattern)
    #[arg(long, value_name = "REGEX")]
    pub log_pattern: Vec<String>,
    /// Run operations through this external client instead of the built-in one, e.g.
    /// "python3 examples/clients/etcd_client.py" (split like a shell line; see
    /// docs/client-protocol.md)
    #[arg(long, value_name = "CMD ARGS...")]
    pub client_command: Option<String>,
    /// Environment for the external client (repeatable)
    #[arg(long, value_name = "KEY=VALUE")]
    pub client_env: Vec<String>,
    /// postgres: the transactions' isolation level (default: serializable)
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub isolation: Option<Isolation>,
    /// append: the consistency model the history is checked against (default: what
    /// --isolation promises; strict-serializable for etcd)
    #[arg(long, value_name = "MODEL")]
    pub consistency_model: Option<String>,
    /// Also write the results as JUnit XML (a suite per run, a case per checker)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the results document (every run's results.json) as JSON on standard
    /// output; the human-readable lines go to standard error
    #[arg(long)]
    pub json: bool,
}

/// A human-readable line: on standard output, or on standard error when standard
/// output carries the `--json` document.
macro_rules! say {
    ($o:expr, $($t:tt)*) => {
        if $o.json { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// register, set, append or counter
    #[arg(long, default_value = "register")]
    pub workload: String,
    #[command(flatten)]
    pub opts: TestOpts,
}

#[derive(Debug, Args)]
pub struct TestAllArgs {
    /// Workloads to run (default: all the database runs)
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub workloads: Vec<String>,
    #[command(flatten)]
    pub opts: TestOpts,
}

/// Set by Ctrl-C: stop generating, let operations in flight finish, then tear down,
/// check and store as usual.
fn stop_flag() -> Arc<AtomicBool> {
    static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    STOP.get_or_init(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let presses = AtomicU32::new(0);
        let r = ctrlc::set_handler(move || {
            if presses.fetch_add(1, Ordering::SeqCst) == 0 {
                flag.store(true, Ordering::SeqCst);
                eprintln!(
                    "\ninterrupted: finishing operations in flight, then teardown, check and store (Ctrl-C again to exit at once)"
                );
            } else {
                eprintln!("\nexiting at once: the database may still be running");
                super::local_cluster::tear_down_active();
                std::process::exit(130);
            }
        });
        if let Err(e) = r {
            tracing::warn!("no Ctrl-C handler: {e}");
        }
        stop
    })
    .clone()
}

/// Everything validated, ready to run tests.
struct Plan {
    concurrency: usize,
    seed: u64,
    time_limit: u64,
    recovery: u64,
    op_timeout: Duration,
    /// The faults, their interval, partition shape, targets and packet behaviours (the
    /// seed is per run).
    faults: FaultSchedule,
    /// `--log-pattern`s, compiled.
    log_patterns: Vec<Regex>,
    /// `--client-command`: an external client instead of the built-in one.
    client: Option<ExternalSpec>,
    txn: TxnOpts,
}

fn seconds(name: &str, v: f64, min: f64) -> anyhow::Result<f64> {
    if !(v.is_finite() && v >= min && v <= 366.0 * 86_400.0) {
        return Err(UsageError(format!(
            "--{name} must be a number of seconds >= {min}, not {v}"
        ))
        .into());
    }
    Ok(v)
}

/// "10" or "3n" (per node).
pub fn parse_concurrency(s: &str, nodes: usize) -> Result<usize, String> {
    let s = s.trim();
    let n = match s.strip_suffix('n') {
        Some(k) => k
            .parse::<usize>()
            .ok()
            .and_then(|k| k.checked_mul(nodes))
            .ok_or_else(|| format!("bad --concurrency {s:?}"))?,
        None => s
            .parse::<usize>()
            .map_err(|_| format!("bad --concurrency {s:?}: a number or Kn"))?,
    };
    if n == 0 || n > 10_000 {
        return Err(format!(
            "--concurrency must be between 1 and 10000, not {n}"
        ));
    }
    Ok(n)
}

fn plan(o: &TestOpts, nodes: usize, kinds: &[WorkloadKind]) -> anyhow::Result<Plan> {
    let time_limit = seconds("time-limit", o.time_limit, 0.0)?;
    let recovery = seconds("recovery-time", o.recovery_time, 0.0)?;
    let op_timeout = seconds("op-timeout", o.op_timeout, 0.001)?;
    if !(o.rate.is_finite() && o.rate >= 0.0) {
        return Err(UsageError(format!("--rate must be >= 0, not {}", o.rate)).into());
    }
    if o.test_count == 0 {
        return Err(UsageError("--test-count must be at least 1".into()).into());
    }
    if let Some(a) = &o.etcd_archive {
        if !a.is_file() {
            return Err(UsageError(format!("--etcd-archive {}: no such file", a.display())).into());
        }
    }
    let concurrency = parse_concurrency(&o.concurrency, nodes).map_err(UsageError)?;
    let faults = o.nemesis.0.clone();
    super::db::refuse_faults(o.db, &faults)?;
    let interval = seconds("nemesis-interval", o.nemesis_interval, 0.001)?;
    let nemesis = nemesis_options(o);
    let log_patterns = o
        .log_pattern
        .iter()
        .map(|p| Regex::new(p).map_err(|e| UsageError(format!("--log-pattern {p:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if o.client_command.is_none() && !o.client_env.is_empty() {
        return Err(UsageError(
            "--client-env needs --client-command (or a suite's [client] command)".into(),
        )
        .into());
    }
    let client = o
        .client_command
        .as_deref()
        .map(|c| ExternalSpec::parse(c, &o.client_env))
        .transpose()
        .map_err(|e| UsageError(e.to_string()))?;
    let txn = txn_opts::resolve(o.db, kinds, o.isolation, o.consistency_model.as_deref())?;
    Ok(Plan {
        client,
        txn,
        faults: FaultSchedule {
            faults,
            interval: Duration::from_secs_f64(interval),
            options: nemesis,
        },
        log_patterns,
        concurrency,
        seed: o.seed.unwrap_or_else(rand::random),
        time_limit: (time_limit * 1e9) as u64,
        recovery: (recovery * 1e9) as u64,
        op_timeout: Duration::from_secs_f64(op_timeout),
    })
}

/// The nemesis's settings from the command line (clap has parsed each one).
fn nemesis_options(o: &TestOpts) -> NemesisOptions {
    NemesisOptions {
        partition: o.partition.clone(),
        kill: o.kill_target.clone(),
        pause: o.pause_target.clone(),
        clock: o.clock_target.clone(),
        packet_target: o.packet_target.clone(),
        packet: o.packet.clone(),
        ..NemesisOptions::default()
    }
}

fn parse_workload(s: &str) -> anyhow::Result<WorkloadKind> {
    s.parse().map_err(|e: String| UsageError(e).into())
}

pub fn run(mut a: TestArgs, given: &Given) -> anyhow::Result<u8> {
    suite::apply(&mut a.opts, Some(&mut a.workload), given)?;
    let kind = parse_workload(&a.workload)?;
    let _cluster = throwaway_cluster(&mut a.opts, &[kind])?;
    run_matrix(&a.opts, &[kind], false)
}

pub fn run_all(mut a: TestAllArgs, given: &Given) -> anyhow::Result<u8> {
    suite::apply(&mut a.opts, None, given)?;
    let kinds = if a.workloads.is_empty() {
        super::db::default_workloads(a.opts.db)
    } else {
        a.workloads
            .iter()
            .map(|w| parse_workload(w))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let _cluster = throwaway_cluster(&mut a.opts, &kinds)?;
    run_matrix(&a.opts, &kinds, true)
}

/// With no nodes given, a throwaway local cluster, once the options are known to be
/// good (a bad one is refused before any cluster is made).
fn throwaway_cluster(
    o: &mut TestOpts,
    kinds: &[WorkloadKind],
) -> anyhow::Result<Option<super::local_cluster::Throwaway>> {
    if super::local_cluster::needed(o) {
        super::local_cluster::check_size(o)?;
        plan(o, o.local_nodes, kinds)?;
    }
    super::local_cluster::start_if_needed(o)
}

fn run_matrix(o: &TestOpts, kinds: &[WorkloadKind], table: bool) -> anyhow::Result<u8> {
    let nodes = super::nodes::resolve_nodes(&o.nodes)?;
    let plan = plan(o, nodes.len(), kinds)?;
    let stop = stop_flag();
    let control = super::nodes::connect(&o.nodes)?;
    preflight(&control, &plan.faults.faults)?;
    // Clock faults only reach etcd under the clock launcher (docs/nemesis.md).
    let clock = super::db::clock_launch(
        plan.faults.faults.contains(&FaultKind::Clock),
        faultline_nemesis::clock::DEFAULT_OFFSET_FILE,
    )?;
    let mut etcd = Etcd {
        archive: o.etcd_archive.clone(),
        clock,
        ..Etcd::default()
    };
    if let Some(port) = suite::etcd_client_port(o) {
        etcd.client_port = port;
    }
    let postgres = Postgres::default();
    let shell;
    let database: &dyn Db = match o.db {
        DbKind::Etcd => &etcd,
        DbKind::Postgres => &postgres,
        DbKind::Shell => {
            let suite = o.loaded_suite.as_deref();
            shell = suite::shell_db(suite)?;
            if let Some(s) = suite {
                s.check_faults(&plan.faults.faults).map_err(UsageError)?;
            }
            &shell
        }
    };
    let mut rows: Vec<Checked> = Vec::new();
    let mut crashed: Vec<Crashed> = Vec::new();
    'outer: for &kind in kinds {
        for i in 0..o.test_count {
            if stop.load(Ordering::SeqCst) {
                break 'outer;
            }
            let seed = plan.seed.wrapping_add(i as u64);
            let dbs = Dbs {
                database,
                etcd: &etcd,
                postgres: &postgres,
            };
            // One test: its error is the command's. A matrix goes on with the next test
            // (as Jepsen's test-all) and reports the crash at the end.
            let one = OneRun {
                o,
                plan: &plan,
                control: &control,
                dbs: &dbs,
                stop: &stop,
                kind,
                seed,
                index: i,
            };
            match run_one(one) {
                Ok(row) => rows.push(row),
                Err(e) => {
                    let crash = Crashed {
                        name: format!("{}-{}", test_name(o, database), kind.name()),
                        seed,
                        error: format!("{e:#}"),
                    };
                    if !table {
                        // The CI outputs still say what happened; the error is the
                        // command's.
                        let _ = ci_outputs(o, &rows, &[crash], super::EXIT_INTERNAL);
                        return Err(e);
                    }
                    eprintln!("{} (seed {seed}) crashed: {e:#}", crash.name);
                    crashed.push(crash);
                }
            }
        }
    }
    let verdict: Validity = rows.iter().map(|r| r.valid).collect();
    if table && (!rows.is_empty() || !crashed.is_empty()) {
        print_table(o, &rows, &crashed, verdict);
    }
    if !rows.is_empty() {
        say!(
            o,
            "look at the runs: faultline serve --store {}",
            o.store.display()
        );
    }
    if stop.load(Ordering::SeqCst) {
        eprintln!(
            "interrupted; stored runs: {}",
            rows.iter()
                .map(|r| r.dir.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let code = if crashed.is_empty() {
        verdict.exit_code() as u8
    } else {
        super::EXIT_INTERNAL
    };
    ci_outputs(o, &rows, &crashed, code)?;
    Ok(code)
}

/// `test-all`'s summary: a row per run, then the crashes and the overall verdict.
fn print_table(o: &TestOpts, rows: &[Checked], crashed: &[Crashed], verdict: Validity) {
    say!(
        o,
        "\n{:<20} {:>20} {:>8} {:>8} {:>6} {:>6}  verdict",
        "test",
        "seed",
        "ops",
        "ok",
        "fail",
        "info"
    );
    for r in rows {
        let s = &r.summary;
        say!(
            o,
            "{:<20} {:>20} {:>8} {:>8} {:>6} {:>6}  {}",
            r.name,
            r.seed,
            s.ok + s.fail + s.info,
            s.ok,
            s.fail,
            s.info,
            r.valid
        );
    }
    for c in crashed {
        // The table gets the first line; the whole error is above and in the run's
        // faultline.log.
        let first = c.error.lines().next().unwrap_or("");
        say!(o, "CRASHED: {} (seed {}): {first}", c.name, c.seed);
    }
    if crashed.is_empty() {
        say!(o, "overall: {verdict}");
    } else {
        say!(
            o,
            "overall: {} test(s) crashed; the others: {verdict}",
            crashed.len()
        );
    }
}

/// A node tool a fault needs: the tool, its Debian package, and the fault.
type NodeTool = (&'static str, &'static str, &'static str);

/// The node tools `faults` need.
fn tools_for(faults: &[FaultKind]) -> Vec<NodeTool> {
    let mut tools = Vec::new();
    if faults.contains(&FaultKind::Partition) {
        tools.push(("iptables", "iptables", "partition"));
    }
    if faults.contains(&FaultKind::Packet) {
        tools.push(("iptables", "iptables", "packet"));
        tools.push(("tc", "iproute2", "packet"));
    }
    tools
}

/// What a node's answer to the probe says is missing, as the error that fixes it.
fn missing_tool(node: &str, probe_output: &str, tools: &[NodeTool]) -> Option<String> {
    let missing = probe_output.split_whitespace().next()?;
    let (tool, package, fault) = tools.iter().find(|t| t.0 == missing)?;
    Some(format!(
        "node {node} has no `{tool}`, which --nemesis {fault} needs: install it there \
         (Debian: apt-get install {package}), or leave {fault} out of --nemesis"
    ))
}

/// The node tools the chosen faults need, checked before the database is set up: a
/// missing one is said with the package and the flag that avoids it, not found mid-run.
fn preflight(control: &Control, faults: &[FaultKind]) -> anyhow::Result<()> {
    let tools = tools_for(faults);
    if tools.is_empty() {
        return Ok(());
    }
    let script: Vec<String> = tools
        .iter()
        .map(|(t, _, _)| format!("command -v {t} >/dev/null 2>&1 || echo {t}"))
        .collect();
    let probe = Cmd::new("sh").args(["-c", &script.join("; ")]);
    for (node, r) in control.on_all(|r| r.exec(&probe)) {
        let out = r.with_context(|| format!("node {}: looking for the fault tools", node.name))?;
        if let Some(e) = missing_tool(&node.name, &out.stdout, &tools) {
            return Err(UsageError(e).into());
        }
    }
    Ok(())
}

/// `--junit` and `--json`, once every run is over.
fn ci_outputs(o: &TestOpts, rows: &[Checked], crashed: &[Crashed], code: u8) -> anyhow::Result<()> {
    if let Some(path) = &o.junit {
        test_output::write_junit(path, rows, crashed)?;
    }
    if o.json {
        let doc = test_output::results_document(rows, crashed, code);
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(())
}

/// One run of a matrix: the command's options and plan, the cluster and databases,
/// and which workload, seed and repetition this is.
#[derive(Clone, Copy)]
struct OneRun<'a> {
    o: &'a TestOpts,
    plan: &'a Plan,
    control: &'a Control,
    dbs: &'a Dbs<'a>,
    stop: &'a Arc<AtomicBool>,
    kind: WorkloadKind,
    seed: u64,
    index: u32,
}

fn run_one(r: OneRun<'_>) -> anyhow::Result<Checked> {
    let OneRun {
        o,
        plan,
        kind,
        seed,
        dbs,
        ..
    } = r;
    let name = match plan.txn.isolation {
        Some(i) => format!(
            "{}-{}-{}",
            test_name(o, dbs.database),
            kind.name(),
            i.name()
        ),
        None => format!("{}-{}", test_name(o, dbs.database), kind.name()),
    };
    let dir = RunDir::create(&o.store, &name)
        .with_context(|| format!("creating a run folder under {}", o.store.display()))?;
    if let Err(e) = logging::log_to_file(&dir.path("faultline.log")) {
        tracing::warn!("no faultline.log: {e}");
    }
    let result = run_in(r, &dir);
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    logging::close_file();
    let (valid, summary) = result?;
    let s = &summary;
    let ops = s.ok + s.fail + s.info;
    say!(
        o,
        "{name}: {valid}  ({ops} ops: {} ok, {} fail, {} info; {:.1} s, {:.1} ops/s{})",
        s.ok,
        s.fail,
        s.info,
        s.elapsed_secs,
        ops as f64 / s.elapsed_secs.max(1e-9),
        if s.interrupted { "; interrupted" } else { "" }
    );
    say!(o, "  stored in {}", dir.dir.display());
    Ok(Checked {
        name,
        seed,
        valid,
        summary,
        dir: dir.dir,
    })
}

fn run_in(r: OneRun<'_>, dir: &RunDir) -> anyhow::Result<(Validity, RunSummary)> {
    let OneRun {
        o,
        plan,
        control,
        dbs,
        stop,
        kind,
        seed,
        index,
    } = r;
    let database = dbs.database;
    let nodes = control.nodes();
    let opts = WorkloadOptions {
        concurrency: plan.concurrency,
        time_limit: plan.time_limit,
        rate: o.rate,
        recovery_time: plan.recovery,
        final_time_limit: 30 * SECOND,
        consistency_model: plan.txn.consistency_model,
        ..WorkloadOptions::default()
    };
    let mut cfg = RunConfig::new(
        plan.concurrency,
        nodes.iter().map(|n| n.name.clone()).collect(),
    );
    cfg.seed = seed;
    cfg.op_timeout = plan.op_timeout;
    cfg.stop = stop.clone();
    cfg.progress = Arc::new(Progress::default());
    let config = test_config(o, plan, database, &nodes, index);
    let w = harness::prepare(dir, kind, &opts, &cfg, config)?;
    tracing::info!(
        seed,
        concurrency = plan.concurrency,
        "test {} starts",
        dir.name
    );

    // A failed setup has already torn down (setup_all's retries): nothing to run.
    db::setup_all(database, control, 3).context("database setup")?;
    let clients = clients_for(o, plan, kind, control, dbs, dir)
        .inspect_err(|_| teardown_unless_kept(o, database, control))?;

    let faults_now = Arc::new(Mutex::new(String::from("none")));
    let bar =
        (!o.no_progress).then(|| ProgressLine::start(cfg.progress.clone(), faults_now.clone()));
    let run = TestRun {
        control,
        db: database,
        faults: &plan.faults,
        seed,
        time_limit: Duration::from_nanos(plan.time_limit),
        stop,
        faults_now,
    };
    let Ran {
        summary: ran,
        healed,
    } = run.run(dir, w.generator, clients, cfg);
    drop(bar);
    if let Err(e) = &healed {
        tracing::error!("nemesis: {e}");
    }

    // Logs and teardown whatever the run did: a failed run's logs matter most.
    let logs = match db::download_logs(database, control, &dir.dir) {
        Ok(files) => {
            tracing::info!("downloaded {} log file(s)", files.len());
            Some(files)
        }
        Err(e) => {
            tracing::warn!("log download: {e}");
            None
        }
    };
    teardown_unless_kept(o, database, control);
    let summary = ran.context("running the workload")?;
    // A cluster we could not heal is not one whose history we can trust to be the
    // database's fault alone.
    healed.context("healing the nemesis's faults")?;
    tracing::info!("checking the history");
    let logs = log_check(plan, dir, logs.as_deref());
    let valid = harness::analyze(dir, &w.checker, &summary, logs)?;
    Ok((valid, summary))
}

/// What `test.json` records of the `test` command's options.
fn test_config(
    o: &TestOpts,
    plan: &Plan,
    database: &dyn Db,
    nodes: &[Node],
    index: u32,
) -> TestConfig {
    TestConfig {
        db: Some(database.name().to_string()),
        command_line: std::env::args().collect(),
        test_index: Some(index),
        test_count: Some(o.test_count),
        serializable_reads: o.serializable_reads,
        leave_db_running: o.leave_db_running,
        hosts: nodes
            .iter()
            .map(|n| Host {
                name: n.name.clone(),
                host: n.host.clone(),
            })
            .collect(),
        store: Some(o.store.clone()),
        nemesis: plan
            .faults
            .faults
            .iter()
            .map(|k| k.name().to_string())
            .collect(),
        nemesis_interval_secs: Some(plan.faults.interval.as_secs_f64()),
        partition: Some(o.partition.to_string()),
        kill_target: Some(o.kill_target.to_string()),
        pause_target: Some(o.pause_target.to_string()),
        clock_target: Some(o.clock_target.to_string()),
        packet_target: Some(o.packet_target.to_string()),
        packet: Some(
            o.packet
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        log_patterns: o.log_pattern.clone(),
        client: plan.client.as_ref().map(ExternalSpec::describe),
        suite: o.loaded_suite.as_ref().map(|s| SuiteSource {
            path: s.path.clone(),
            text: s.text.clone(),
        }),
        isolation: plan.txn.isolation.map(|i| i.name().to_string()),
        consistency_model: Some(plan.txn.consistency_model),
    }
}

/// The run's clients: an external client program speaks for any database; otherwise
/// the database's own.
fn clients_for(
    o: &TestOpts,
    plan: &Plan,
    kind: WorkloadKind,
    control: &Control,
    dbs: &Dbs<'_>,
    dir: &RunDir,
) -> anyhow::Result<Arc<dyn ClientFactory>> {
    let nodes = control.nodes();
    let hosts: Vec<(String, String)> = nodes
        .iter()
        .map(|n| (n.name.clone(), n.host.clone()))
        .collect();
    let prefix = format!("/faultline/{}/{}/", dir.name, dir.stamp);
    Ok(match (&plan.client, plan.txn.isolation) {
        (Some(spec), _) => Arc::new(ExternalClients::new(
            spec.clone(),
            ExternalContext {
                nodes: hosts,
                workload: kind,
                key_prefix: prefix,
                log_dir: Some(dir.dir.clone()),
                open_timeout: plan.op_timeout,
            },
        )),
        (None, Some(isolation)) => Arc::new(
            PostgresClients::for_server(&nodes, dbs.postgres, kind, isolation, plan.op_timeout)
                .context("preparing the postgres clients")?,
        ),
        (None, None) => Arc::new(EtcdClients::new(
            &hosts,
            dbs.etcd.client_port,
            kind,
            prefix,
            o.serializable_reads,
        )),
    })
}

/// `--log-pattern` over the downloaded logs. Logs that could not be downloaded or read
/// leave the verdict unknown: the patterns were asked for and nobody looked.
fn log_check(plan: &Plan, dir: &RunDir, logs: Option<&[PathBuf]>) -> Option<LogCheck> {
    if plan.log_patterns.is_empty() {
        return None;
    }
    Some(match logs {
        Some(files) => match faultline::logscan::scan(&dir.dir, files, &plan.log_patterns) {
            Ok(scan) => LogCheck::Scanned(scan),
            Err(e) => LogCheck::not_scanned(e.to_string()),
        },
        None => LogCheck::not_scanned("the node logs could not be downloaded"),
    })
}

/// Runs are stored under the suite's name, else the database's.
fn test_name(o: &TestOpts, database: &dyn Db) -> String {
    match &o.loaded_suite {
        Some(s) => s.name(),
        None => database.name().to_string(),
    }
}

/// The databases a test may run against, and the one it does.
struct Dbs<'a> {
    database: &'a dyn Db,
    etcd: &'a Etcd,
    postgres: &'a Postgres,
}

fn teardown_unless_kept(o: &TestOpts, database: &dyn Db, control: &Control) {
    if o.leave_db_running {
        tracing::info!("leaving {} running", database.name());
    } else if let Err(e) = db::teardown_all(database, control) {
        tracing::warn!("teardown: {e}");
    }
}

/// The live progress line on standard error: elapsed, ops/s, ok / fail / info.
struct ProgressLine {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressLine {
    fn start(progress: Arc<Progress>, faults: Arc<Mutex<String>>) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        logging::set_bar(Some(bar.clone()));
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut last = (start, 0u64);
            while !flag.load(Ordering::Relaxed) {
                let now = Instant::now();
                let total = progress.completed();
                let dt = now.duration_since(last.0).as_secs_f64();
                if dt >= 1.0 {
                    // ops/s over the last second or so, not since the start.
                    let rate = (total - last.1) as f64 / dt;
                    last = (now, total);
                    let faults = faults.lock().map(|f| f.clone()).unwrap_or_default();
                    bar.set_message(format!(
                        "{rate:>7.0} ops/s  ok {}  fail {}  info {}  faults: {faults}",
                        progress.ok.load(Ordering::Relaxed),
                        progress.fail.load(Ordering::Relaxed),
                        progress.info.load(Ordering::Relaxed),
                    ));
                }
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        ProgressLine {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        logging::set_bar(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency() {
        assert_eq!(parse_concurrency("10", 5), Ok(10));
        assert_eq!(parse_concurrency("3n", 5), Ok(15));
        assert!(parse_concurrency("0", 5).is_err());
        assert!(parse_concurrency("xn", 5).is_err());
        assert!(parse_concurrency("-1", 5).is_err());
        assert!(parse_concurrency("99999999999999999999n", 5).is_err());
    }

    fn opts(args: &[&str]) -> TestOpts {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            o: TestOpts,
        }
        let argv = std::iter::once("faultline").chain(args.iter().copied());
        <Cli as clap::Parser>::try_parse_from(argv).unwrap().o
    }

    #[test]
    fn fault_targets_and_packet_behaviours_from_the_command_line() {
        let n = nemesis_options(&opts(&[]));
        assert_eq!(
            (n.kill, n.pause, n.packet_target),
            (Target::Minority, Target::Minority, Target::All)
        );
        let n = nemesis_options(&opts(&[
            "--kill-target",
            "primaries",
            "--pause-target",
            "n1,n3",
            "--clock-target",
            "all",
            "--packet",
            "loss,delay",
        ]));
        assert_eq!(n.kill, Target::Primaries);
        assert_eq!(n.pause, Target::Nodes(vec!["n1".into(), "n3".into()]));
        assert_eq!(n.clock, Target::All);
        assert_eq!(n.packet.len(), 2);
        let o = opts(&["--nemesis", "kill,partition,kill", "--partition", "n2"]);
        assert_eq!(o.nemesis.0, vec![FaultKind::Kill, FaultKind::Partition]);
        assert_eq!(o.partition, PartitionSpec::Node("n2".into()));
        // Errors name the option.
        let e = parse_err(&["--kill-target", ""]);
        assert!(e.contains("--kill-target"), "{e}");
        let e = parse_err(&["--packet", "loss,teleport"]);
        assert!(e.contains("--packet") && e.contains("teleport"), "{e}");
        let e = parse_err(&["--nemesis", "kill,flood"]);
        assert!(e.contains("--nemesis") && e.contains("flood"), "{e}");
    }

    #[test]
    fn a_missing_fault_tool_says_the_package_and_the_flag() {
        let tools = tools_for(&[FaultKind::Packet]);
        assert!(missing_tool("n2", "", &tools).is_none());
        let e = missing_tool("n2", "tc\n", &tools).unwrap();
        assert!(
            e.contains("node n2") && e.contains("apt-get install iproute2"),
            "{e}"
        );
        assert!(e.contains("--nemesis packet"), "{e}");
        assert!(tools_for(&[FaultKind::Kill]).is_empty());
    }

    fn parse_err(args: &[&str]) -> String {
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            o: TestOpts,
        }
        let argv = std::iter::once("faultline").chain(args.iter().copied());
        <Cli as clap::Parser>::try_parse_from(argv)
            .expect_err("a bad value")
            .to_string()
    }
}
