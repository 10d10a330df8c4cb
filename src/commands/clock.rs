//! Node-side helpers of the nemesis: `faultline clock-launch --offset-file F
//! -- PROG ARGS` (clock faults, see `faultline::clock`) and `faultline
//! nfqueue-delay` (packet delay without netem, see `faultline::nfqueue`).

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

#[derive(Debug, Args)]
pub struct NfqueueDelayArgs {
    /// The NFQUEUE number the iptables rules send packets to
    #[arg(long)]
    pub queue: u16,
    #[arg(long, default_value_t = 50)]
    pub delay_ms: u64,
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
}

#[cfg(target_os = "linux")]
pub fn run_nfqueue(args: NfqueueDelayArgs) -> anyhow::Result<u8> {
    use std::time::Duration;
    faultline::nfqueue::run(
        args.queue,
        Duration::from_millis(args.delay_ms),
        Duration::from_millis(args.jitter_ms),
    )?;
    Ok(0)
}

#[cfg(not(target_os = "linux"))]
pub fn run_nfqueue(_args: NfqueueDelayArgs) -> anyhow::Result<u8> {
    Err(super::UsageError("nfqueue-delay works on Linux only".into()).into())
}
