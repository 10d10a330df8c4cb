//! `faultline nemesis start|stop --fault F`: one fault by hand.

use anyhow::Context;
use clap::{Args, ValueEnum};
use faultline::db::etcd::Etcd;
use faultline::nemesis::{context, ControlExecutor};
use std::time::Duration;

use faultline_nemesis::clock::{ClockAction, ClockFault};
use faultline_nemesis::grudge::Grudge;
use faultline_nemesis::net::{Partition, PartitionSpec};
use faultline_nemesis::packet::{Behavior, PacketFault};
use faultline_nemesis::plan::{run_plan, OnFailure};
use faultline_nemesis::process::{ProcessFault, ProcessFaultKind, Target};
use faultline_nemesis::Fault;
use rand::SeedableRng;

use super::db::DbKind;
use super::nodes::NodeOpts;
use super::UsageError;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NemesisAction {
    /// Break something
    Start,
    /// Heal that kind of fault on every node
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FaultName {
    /// One random node (or --node) alone
    PartitionOne,
    /// A random minority against the majority
    PartitionHalves,
    /// Every node sees a different majority
    PartitionRing,
    /// Two halves joined by one bridge node
    PartitionBridge,
    /// The DB's leader alone
    PartitionPrimaries,
    /// Exactly --grudge
    PartitionGrudge,
    /// SIGKILL the DB on --target nodes (stop: start them)
    Kill,
    /// SIGSTOP the DB on --target nodes (stop: SIGCONT)
    Pause,
    /// --packet behaviours on --target nodes
    Packet,
    /// Step the clock of processes under `faultline-agent clock-launch` by --delta-ms (random without)
    ClockBump,
    /// Flip it by --delta-ms every --period-ms for --duration-ms
    ClockStrobe,
    /// Back to the real time (stop: the same on every node)
    ClockReset,
}

#[derive(Debug, Args)]
pub struct NemesisArgs {
    pub action: NemesisAction,
    #[arg(long, value_enum)]
    pub fault: FaultName,
    #[command(flatten)]
    pub nodes: NodeOpts,
    #[arg(long = "db", value_enum, default_value = "etcd")]
    pub db: DbKind,
    /// A suite file whose [db] commands `--db shell` runs
    #[arg(long, value_name = "FILE")]
    pub suite: Option<std::path::PathBuf>,
    /// For partition-one: the node to isolate
    #[arg(long)]
    pub node: Option<String>,
    /// For partition-grudge: JSON {"n1": ["n2", "n3"], ...} (n1 drops n2's and n3's packets)
    #[arg(long)]
    pub grudge: Option<String>,
    /// For kill, pause and packet: one, minority, majority, all, primaries or n1,n2,...
    #[arg(long, default_value = "one")]
    pub target: String,
    /// For packet: loss, rate, delay, duplicate, reorder, corrupt (comma-separated)
    #[arg(long, default_value = "loss")]
    pub packet: String,
    /// For clock faults: the step in milliseconds (negative: back)
    #[arg(long, allow_hyphen_values = true)]
    pub delta_ms: Option<i64>,
    /// For clock-strobe
    #[arg(long, default_value_t = 100)]
    pub period_ms: u64,
    /// For clock-strobe
    #[arg(long, default_value_t = 5000)]
    pub duration_ms: u64,
    /// Restarts (stop of kill) start etcd under the clock launcher (as `db setup --clock`)
    #[arg(long)]
    pub clock: bool,
    /// For clock faults: the offset file `faultline-agent clock-launch` reads on the nodes
    #[arg(long, default_value = faultline_nemesis::clock::DEFAULT_OFFSET_FILE)]
    pub clock_offset_file: String,
    /// For packet delay without netem: the faultline-agent binary on the nodes
    /// (`db setup --clock` installs it at /opt/faultline/faultline-agent)
    #[arg(long, value_name = "PATH")]
    pub delayer: Option<String>,
    /// Seed for random choices
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn fault(args: &NemesisArgs) -> anyhow::Result<Box<dyn Fault>> {
    let bad = |e: faultline_nemesis::NemesisError| UsageError(e.to_string());
    let partition = |spec| -> Box<dyn Fault> { Box::new(Partition { spec }) };
    let target: Target = args.target.parse().map_err(bad)?;
    Ok(match args.fault {
        FaultName::PartitionOne => partition(match &args.node {
            Some(n) => PartitionSpec::Node(n.clone()),
            None => PartitionSpec::One,
        }),
        FaultName::PartitionHalves => partition(PartitionSpec::Halves),
        FaultName::PartitionRing => partition(PartitionSpec::MajoritiesRing),
        FaultName::PartitionBridge => partition(PartitionSpec::Bridge),
        FaultName::PartitionPrimaries => partition(PartitionSpec::Primaries),
        FaultName::PartitionGrudge => {
            let text = args
                .grudge
                .as_deref()
                .ok_or_else(|| UsageError("partition-grudge needs --grudge JSON".into()))?;
            let g: Grudge =
                serde_json::from_str(text).map_err(|e| UsageError(format!("--grudge: {e}")))?;
            partition(PartitionSpec::Grudge(g))
        }
        FaultName::Kill => Box::new(ProcessFault {
            kind: ProcessFaultKind::Kill,
            target,
        }),
        FaultName::Pause => Box::new(ProcessFault {
            kind: ProcessFaultKind::Pause,
            target,
        }),
        FaultName::ClockBump | FaultName::ClockStrobe | FaultName::ClockReset => {
            let action = match args.fault {
                FaultName::ClockBump => ClockAction::Bump {
                    delta_ms: args.delta_ms,
                },
                FaultName::ClockStrobe => ClockAction::Strobe {
                    delta_ms: args.delta_ms.unwrap_or(1000),
                    period: Duration::from_millis(args.period_ms),
                    duration: Duration::from_millis(args.duration_ms),
                },
                _ => ClockAction::Reset,
            };
            Box::new(ClockFault {
                action,
                target,
                offset_file: args.clock_offset_file.clone(),
            })
        }
        FaultName::Packet => Box::new(PacketFault {
            target,
            behaviors: args
                .packet
                .split(',')
                .map(|b| Behavior::default_for(b.trim()))
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            delayer: args.delayer.clone(),
        }),
    })
}

pub fn run(args: NemesisArgs) -> anyhow::Result<u8> {
    super::heal::refuse_local(&args.nodes)?;
    let fault = fault(&args)?;
    let control = super::nodes::connect(&args.nodes)?;
    let etcd = Etcd {
        clock: super::db::clock_launch(args.clock, &args.clock_offset_file)?,
        ..Etcd::default()
    };
    let postgres = faultline::db::postgres::Postgres::default();
    let mut shell = None;
    let db = super::db::pick(args.db, &etcd, &postgres, args.suite.as_deref(), &mut shell)?;
    let needs_primaries = args.fault == FaultName::PartitionPrimaries || args.target == "primaries";
    let probe = args.fault == FaultName::Packet;
    let ctx = context(&control, needs_primaries.then_some(db), probe);
    let ex = ControlExecutor::new(&control, Some(db));
    match args.action {
        NemesisAction::Start => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
            let started = fault
                .start(&ctx, &mut rng)
                .map_err(|e| UsageError(e.to_string()))?;
            run_plan(fault.start_f(), &started.plan, &ex, OnFailure::StopNode)
                .context(fault.start_f())?;
            println!("{} {}", fault.start_f(), started.value);
        }
        NemesisAction::Stop => {
            run_plan(
                fault.stop_f(),
                &fault.heal(&ctx, None),
                &ex,
                OnFailure::Continue,
            )
            .context(fault.stop_f())?;
            println!("{}", fault.stop_f());
        }
    }
    Ok(0)
}
