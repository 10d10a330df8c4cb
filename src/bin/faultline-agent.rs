//! `faultline-agent`: the node-side helpers (see the `faultline-agent` crate). Built
//! beside `faultline`, which uploads it to the nodes that need it.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The delayer's warnings go to its log file on the node (stderr, redirected).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FAULTLINE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = faultline_agent::AgentCli::parse();
    match faultline_agent::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline-agent: {e}");
            ExitCode::from(255)
        }
    }
}
