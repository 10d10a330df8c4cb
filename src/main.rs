use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod logging;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
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
    match commands::run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = commands::exit_code_for(&e);
            tracing::error!("{e:#}");
            ExitCode::from(code)
        }
    }
}
