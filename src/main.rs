use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

mod cli;
mod commands;
mod logging;

fn main() -> ExitCode {
    // `faultline check ... | head`: a closed pipe ends the process quietly, as it does
    // any Unix tool, instead of a panic in println! (Rust ignores SIGPIPE by default).
    // SAFETY: called before any thread starts; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The matches too: they say which options were typed, which `--suite` needs.
    let parsed = cli::Cli::command()
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            // Jepsen's convention: help is success, anything else is bad usage.
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(commands::EXIT_BAD_ARGS),
            };
        }
    };
    logging::init();
    match cli.command.run(&matches) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = commands::exit_code_for(&e);
            tracing::error!("{e:#}");
            ExitCode::from(code)
        }
    }
}
