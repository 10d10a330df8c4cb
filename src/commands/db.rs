//! `faultline db ACTION --db etcd ...`: exercise DB automation by hand (and in
//! CI) until `faultline test` drives it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use faultline::control::{Control, Remote};
use faultline::db::etcd::{ClockLaunch, Etcd};
use faultline::db::postgres::Postgres;
use faultline::db::{self, Db, DbContext};
use faultline_nemesis::FaultKind;
use faultline_workloads::workload::WorkloadKind;

use super::nodes::NodeOpts;
use super::UsageError;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DbAction {
    /// Install, configure and start on every node; wait until healthy (3 tries)
    Setup,
    /// Stop and remove everything, data included
    Teardown,
    /// Start stopped members
    Start,
    /// SIGKILL members
    Kill,
    /// SIGSTOP members
    Pause,
    /// SIGCONT members
    Resume,
    /// Show each member's version, raft term and role, or that it does not answer
    Status,
    /// Print the current primaries (leader)
    Primaries,
    /// Download log files into --out
    Logs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DbKind {
    Etcd,
    /// The `[db]` shell commands of the --suite file
    Shell,
    /// One PostgreSQL server on the first node (Debian's postgresql package).
    Postgres,
}

#[derive(Debug, Args)]
pub struct DbArgs {
    pub action: DbAction,
    #[arg(long = "db", value_enum, default_value = "etcd")]
    pub db: DbKind,
    /// A suite file whose [db] commands `--db shell` runs
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    #[command(flatten)]
    pub nodes: NodeOpts,
    /// Only act on this node (repeatable; start/kill/pause/resume/status)
    #[arg(long = "on", value_name = "NODE")]
    pub on: Vec<String>,
    /// etcd release archive (.tar.gz) to install instead of the node's etcd
    #[arg(long, value_name = "PATH")]
    pub etcd_archive: Option<PathBuf>,
    /// Seconds to wait for a member to become healthy
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub health_timeout: f64,
    /// Run etcd under `faultline-agent clock-launch` (copied to the nodes at
    /// setup) so that clock faults reach it; give it to setup and start
    #[arg(long)]
    pub clock: bool,
    /// The offset file the launcher reads on the nodes
    #[arg(long, default_value = faultline_nemesis::clock::DEFAULT_OFFSET_FILE)]
    pub clock_offset_file: String,
    /// Where `logs` puts the files
    #[arg(long, default_value = "db-logs")]
    pub out: PathBuf,
}

/// The clock launcher setting shared by every command that may start etcd:
/// a restart without it would silently lose clock faults.
pub fn clock_launch(clock: bool, offset_file: &str) -> anyhow::Result<Option<ClockLaunch>> {
    if !clock {
        return Ok(None);
    }
    Ok(Some(ClockLaunch {
        binary: agent_binary()?,
        offset_file: offset_file.to_string(),
    }))
}

/// `faultline-agent` beside this binary (cargo builds both into one folder): the
/// program uploaded to the nodes for clock faults and packet delay.
pub fn agent_binary() -> anyhow::Result<std::path::PathBuf> {
    let me = std::env::current_exe().context("locating the faultline binary")?;
    let agent = me.with_file_name(faultline::agent::AGENT_FILE);
    if !agent.is_file() {
        anyhow::bail!(
            "{} not found beside {}: build both with `cargo build --release` (the clock \
             launcher and the packet delayer run it on the nodes)",
            agent.display(),
            me.display()
        );
    }
    Ok(agent)
}

/// Refuses faults a DB cannot take, rather than injecting nothing: clock faults reach
/// only a DB started under the clock launcher, which only etcd is.
pub fn refuse_faults(db: DbKind, faults: &[FaultKind]) -> Result<(), UsageError> {
    match db {
        DbKind::Etcd => Ok(()),
        DbKind::Postgres if faults.contains(&FaultKind::Clock) => Err(UsageError(
            "--nemesis clock: PostgreSQL does not run under the clock launcher (only etcd does)"
                .into(),
        )),
        DbKind::Postgres | DbKind::Shell => Ok(()),
    }
}

/// The workloads `test-all` runs against a DB when not told.
pub fn default_workloads(db: DbKind) -> Vec<WorkloadKind> {
    match db {
        DbKind::Etcd => WorkloadKind::ALL.to_vec(),
        DbKind::Postgres => vec![WorkloadKind::Append],
        // A suite's own client program may not know the counter: the three it always did.
        DbKind::Shell => vec![
            WorkloadKind::Register,
            WorkloadKind::Set,
            WorkloadKind::Append,
        ],
    }
}

pub fn run(args: DbArgs) -> anyhow::Result<u8> {
    check_args(&args)?;
    let clock = clock_launch(args.clock, &args.clock_offset_file)?;
    let etcd = Etcd {
        archive: args.etcd_archive.clone(),
        health_timeout: Duration::from_secs_f64(args.health_timeout),
        clock,
        ..Etcd::default()
    };
    let postgres = Postgres {
        health_timeout: Duration::from_secs_f64(args.health_timeout),
        ..Postgres::default()
    };
    if matches!(args.action, DbAction::Status) && matches!(args.db, DbKind::Shell) {
        return Err(UsageError(
            "status reports etcd members; for --db shell use `primaries`".into(),
        )
        .into());
    }
    let mut shell = None;
    let database = pick(args.db, &etcd, &postgres, args.suite.as_deref(), &mut shell)?;
    let control = super::nodes::connect(&args.nodes)?;
    for name in &args.on {
        control.on(name)?;
    }
    let on = Selected {
        args: &args,
        control: &control,
        database,
    };
    let start = Instant::now();
    match args.action {
        DbAction::Setup => {
            db::setup_all(database, &control, 3).context("db setup")?;
            println!(
                "{} set up and healthy on {} node(s) in {:.1}s",
                database.name(),
                control.nodes().len(),
                start.elapsed().as_secs_f64()
            );
        }
        DbAction::Teardown => {
            db::teardown_all(database, &control).context("db teardown")?;
            println!("{} torn down", database.name());
        }
        DbAction::Start => {
            on.each("start", |d, c, r| d.start(c, r))
                .context("db start")?;
            on.each("health", |d, c, r| d.await_ready(c, r))
                .context("waiting for health")?;
            println!("started");
        }
        DbAction::Kill => {
            on.each("kill", |d, c, r| d.kill(c, r)).context("db kill")?;
            println!("killed");
        }
        DbAction::Pause => {
            on.each("pause", |d, c, r| d.pause(c, r))
                .context("db pause")?;
            println!("paused");
        }
        DbAction::Resume => {
            on.each("resume", |d, c, r| d.resume(c, r))
                .context("db resume")?;
            println!("resumed");
        }
        DbAction::Primaries => {
            let ctx = DbContext {
                nodes: control.nodes(),
            };
            let p = database.primaries(&ctx, &control)?;
            println!("{}", p.join(" "));
        }
        DbAction::Logs => {
            let files = db::download_logs(database, &control, &args.out).context("db logs")?;
            for f in files {
                println!("{}", f.display());
            }
        }
        DbAction::Status => print_status(&on, &etcd),
    }
    Ok(0)
}

/// The options that are checked before any node is reached.
fn check_args(args: &DbArgs) -> Result<(), UsageError> {
    if !(args.health_timeout.is_finite()
        && args.health_timeout > 0.0
        && args.health_timeout <= 3600.0)
    {
        return Err(UsageError(
            "--health-timeout must be between 0 and 3600 seconds".into(),
        ));
    }
    if let Some(a) = &args.etcd_archive {
        if !a.is_file() {
            return Err(UsageError(format!(
                "--etcd-archive {}: no such file",
                a.display()
            )));
        }
    }
    Ok(())
}

/// The nodes an action applies to: those `--on` names, else all.
struct Selected<'a> {
    args: &'a DbArgs,
    control: &'a Control,
    database: &'a dyn Db,
}

impl Selected<'_> {
    fn includes(&self, r: &dyn Remote) -> bool {
        let on = &self.args.on;
        on.is_empty()
            || on
                .iter()
                .any(|o| *o == r.node().name || *o == r.node().host)
    }

    /// Runs `f` on every selected node, in parallel.
    fn each(
        &self,
        what: &'static str,
        f: fn(&dyn Db, &DbContext, &dyn Remote) -> Result<(), db::DbError>,
    ) -> Result<(), db::DbError> {
        db::on_all(self.control, what, |ctx, r| {
            if self.includes(r) {
                f(self.database, ctx, r)
            } else {
                Ok(())
            }
        })
    }
}

/// `db status`: each selected etcd member's version, id, term and leadership.
fn print_status(on: &Selected<'_>, etcd: &Etcd) {
    let results = on.control.on_all(|r| -> anyhow::Result<String> {
        if !on.includes(r) {
            return Ok(String::new());
        }
        if matches!(on.args.db, DbKind::Postgres) {
            return Ok("status is for etcd; try `faultline db primaries --db postgres`".into());
        }
        Ok(match etcd.member_status(r) {
            Ok(s) => format!(
                "etcd {} member {:x} term {}{}",
                s.version,
                s.member_id,
                s.raft_term,
                if s.is_leader() { " LEADER" } else { "" }
            ),
            Err(e) => format!("not answering ({})", first_line(&e.to_string())),
        })
    });
    for (n, r) in results {
        match r {
            Ok(s) if s.is_empty() => {}
            Ok(s) => println!("{}: {s}", n.name),
            Err(e) => println!("{}: error: {e:#}", n.name),
        }
    }
}

/// The DB `kind` names: etcd and PostgreSQL as the caller configured them, a shell DB
/// loaded from the `--suite` file into `shell` (which must outlive the answer).
pub fn pick<'a>(
    kind: DbKind,
    etcd: &'a Etcd,
    postgres: &'a Postgres,
    suite: Option<&std::path::Path>,
    shell: &'a mut Option<db::shell::ShellDb>,
) -> anyhow::Result<&'a dyn Db> {
    Ok(match kind {
        DbKind::Etcd => etcd,
        DbKind::Postgres => postgres,
        DbKind::Shell => shell.insert(shell_db(suite)?),
    })
}

/// `--db shell`: the [db] of the `--suite` file.
pub fn shell_db(suite: Option<&std::path::Path>) -> anyhow::Result<db::shell::ShellDb> {
    let suite = suite.map(super::suite::load).transpose()?;
    super::suite::shell_db(suite.as_ref())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
