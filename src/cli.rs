//! Command-line interface (clap derive).

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "faultline", version, about = "A Jepsen-style test harness")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check saved histories (JSON Lines or Jepsen EDN) for linearizability
    Check(crate::commands::check::CheckArgs),
    /// Write a simulated history (seeded), for tests, benchmarks and demos
    Sim(crate::commands::sim::SimArgs),
    /// Manage a local cluster of nodes in network namespaces (root, Linux)
    Cluster(crate::commands::cluster::ClusterArgs),
    /// Set up, break and inspect a database on the nodes
    Db(crate::commands::db::DbArgs),
    /// Run one command on nodes (a quick check that the control plane works)
    Exec(crate::commands::exec::ExecArgs),
    /// Run a workload against a database on the nodes, check it and store the run
    Test(crate::commands::test::TestArgs),
    /// Run every workload (or --workloads) as `test` does, with a summary table
    TestAll(crate::commands::test::TestAllArgs),
    /// Remove every fault faultline left on the nodes (after a crashed run)
    Heal(crate::commands::heal::HealArgs),
    /// Start or stop one fault by hand
    Nemesis(crate::commands::nemesis::NemesisArgs),
    /// Browse the runs of a store folder in a web browser (plots, timelines, violations)
    Serve(crate::commands::serve::ServeArgs),
}

impl Command {
    /// Runs the command; `matches` tells which options were typed (a suite file yields
    /// to those).
    pub fn run(self, matches: &clap::ArgMatches) -> anyhow::Result<u8> {
        use crate::commands::*;
        match self {
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
}
