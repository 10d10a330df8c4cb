//! `faultline clock-launch --offset-file F -- PROG ARGS`: the node-side half
//! of clock faults (see `faultline::clock`).

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct ClockLaunchArgs {
    /// File holding the offset in nanoseconds (signed; missing = 0)
    #[arg(long, value_name = "FILE")]
    pub offset_file: PathBuf,
    /// The program and its arguments
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]")]
    pub command: Vec<String>,
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub fn run(args: ClockLaunchArgs) -> anyhow::Result<u8> {
    // Returns only on failure; on success this process is now the program.
    match faultline::clock::launch(&args.offset_file, &args.command) {
        Ok(never) => match never {},
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub fn run(_args: ClockLaunchArgs) -> anyhow::Result<u8> {
    Err(super::UsageError("clock-launch works on Linux x86_64 only".into()).into())
}
