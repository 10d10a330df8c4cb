//! `faultline heal`: repair a cluster after a controller died mid-fault.
//! Removes faultline's iptables chains and qdiscs and the clock offset
//! file, resumes paused DB
//! processes and, with --restart, starts killed members. It needs no memory
//! of what was broken, and touches nothing faultline did not add.

use anyhow::Context;
use clap::Args;
use faultline::db::etcd::Etcd;
use faultline::nemesis::{context, ControlExecutor};
use faultline_nemesis::nemesis::heal_everything_plan;
use faultline_nemesis::plan::{run_plan, OnFailure};

use super::db::DbKind;
use super::nodes::NodeOpts;
use super::UsageError;

#[derive(Debug, Args)]
pub struct HealArgs {
    #[command(flatten)]
    pub nodes: NodeOpts,
    /// The DB whose processes to resume (and restart with --restart)
    #[arg(long = "db", value_enum, default_value = "etcd")]
    pub db: DbKind,
    /// A suite file whose [db] commands `--db shell` runs
    #[arg(long, value_name = "FILE")]
    pub suite: Option<std::path::PathBuf>,
    /// Also start DB members that are not running (killed by a nemesis)
    #[arg(long)]
    pub restart: bool,
    /// With --restart: start etcd under the clock launcher (as `db setup --clock` did)
    #[arg(long)]
    pub clock: bool,
    /// The clock offset file of `faultline-agent clock-launch` on the nodes (removed)
    #[arg(long, default_value = faultline_nemesis::clock::DEFAULT_OFFSET_FILE)]
    pub clock_offset_file: String,
}

/// Node faults act on the node's own network stack: with --local that would
/// be the controller's, which faultline never touches.
pub fn refuse_local(opts: &NodeOpts) -> anyhow::Result<()> {
    if opts.local {
        return Err(UsageError(
            "--local runs node commands on this machine: faultline does not change this \
             machine's firewall, qdiscs or processes; use --cluster or SSH nodes"
                .into(),
        )
        .into());
    }
    Ok(())
}

pub fn run(args: HealArgs) -> anyhow::Result<u8> {
    refuse_local(&args.nodes)?;
    let control = super::nodes::connect(&args.nodes)?;
    let etcd = Etcd {
        clock: super::db::clock_launch(args.clock, &args.clock_offset_file)?,
        ..Etcd::default()
    };
    let postgres = faultline::db::postgres::Postgres::default();
    let mut shell = None;
    let db = super::db::pick(args.db, &etcd, &postgres, args.suite.as_deref(), &mut shell)?;
    let ctx = context(&control, None, false);
    let plan = heal_everything_plan(&ctx, &args.clock_offset_file, args.restart);
    let ex = ControlExecutor::new(&control, Some(db));
    run_plan("heal", &plan, &ex, OnFailure::Continue).context("heal")?;
    println!(
        "healed {} node(s): no faultline iptables chain, qdisc or clock offset left, {} resumed{}",
        ctx.nodes.len(),
        db.name(),
        if args.restart { " and started" } else { "" }
    );
    Ok(0)
}
