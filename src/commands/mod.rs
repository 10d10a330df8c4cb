//! Subcommand implementations (anyhow with context; exit codes as Jepsen's).

pub mod check;
pub mod cluster;
pub mod db;
pub mod exec;
pub mod heal;
pub mod nemesis;
pub mod nodes;
pub mod serve;
pub mod sim;
pub mod suite;
pub mod test;
mod test_output;
pub mod txn_opts;

use crate::cli::Command;

/// Invalid arguments or input.
pub const EXIT_BAD_ARGS: u8 = 254;
/// Anything else that went wrong.
pub const EXIT_INTERNAL: u8 = 255;

/// An error in what the user gave us (exit 254), as opposed to a failure (255).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `matches` tells which options were typed (a suite file yields to those).
pub fn run(cmd: Command, matches: &clap::ArgMatches) -> anyhow::Result<u8> {
    match cmd {
        Command::Check(a) => check::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Cluster(a) => cluster::run(a),
        Command::Db(a) => db::run(a),
        Command::Exec(a) => exec::run(a),
        Command::Test(a) => test::run(a, &suite::Given::of(matches, "test")),
        Command::TestAll(a) => test::run_all(a, &suite::Given::of(matches, "test-all")),
        Command::Heal(a) => heal::run(a),
        Command::Nemesis(a) => nemesis::run(a),
        Command::Serve(a) => serve::run(a),
    }
}

pub fn exit_code_for(e: &anyhow::Error) -> u8 {
    use faultline::cluster::ClusterError;
    use faultline::control::ControlError;
    for cause in e.chain() {
        if cause.is::<UsageError>()
            || matches!(
                cause.downcast_ref::<ClusterError>(),
                Some(ClusterError::Invalid(_) | ClusterError::Unsupported(_))
            )
            || matches!(
                cause.downcast_ref::<ControlError>(),
                Some(ControlError::InvalidArgument(_) | ControlError::UnknownNode(_))
            )
        {
            return EXIT_BAD_ARGS;
        }
    }
    EXIT_INTERNAL
}
