//! The only faultline code that runs on the nodes, as the small `faultline-agent`
//! binary the controller uploads (not the whole controller, with its SSH and OpenSSL):
//!
//! - `faultline-agent clock-launch --offset-file F -- PROG ARGS`: runs a program whose
//!   wall clock is shifted by the offset in a file ([`clock`]; Linux x86_64), for the
//!   clock faults;
//! - `faultline-agent nfqueue-delay --queue N --delay-ms D`: holds packets of an NFQUEUE
//!   ([`nfqueue`]; Linux), for packet delay on kernels without netem.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod clock;
#[cfg(target_os = "linux")]
pub mod nfqueue;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Where the controller installs the agent on a node.
pub const AGENT_ON_NODE: &str = "/opt/faultline/faultline-agent";
/// The folder it lives in (removed at teardown).
pub const AGENT_DIR: &str = "/opt/faultline";
/// The agent's file name, beside the `faultline` binary on the controller.
pub const AGENT_FILE: &str = "faultline-agent";

#[derive(Debug, Parser)]
#[command(
    name = "faultline-agent",
    version,
    about = "faultline's node-side helpers (uploaded to the nodes by the controller)"
)]
pub struct AgentCli {
    #[command(subcommand)]
    pub command: AgentCommand,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Run a program with its wall clock shifted by the offset in a file (Linux x86_64)
    ClockLaunch(ClockLaunchArgs),
    /// Delay packets of an NFQUEUE (packet delay without netem; Linux)
    NfqueueDelay(NfqueueDelayArgs),
}

#[derive(Debug, Args)]
pub struct ClockLaunchArgs {
    /// File holding the offset in nanoseconds (signed; missing = 0)
    #[arg(long, value_name = "FILE")]
    pub offset_file: PathBuf,
    /// The program and its arguments
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]")]
    pub command: Vec<String>,
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

/// Why the agent could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[error(transparent)]
    Clock(#[from] clock::ClockError),
    #[cfg(target_os = "linux")]
    #[error(transparent)]
    Nfqueue(#[from] nfqueue::NfqueueError),
    #[error("{0} is not available on this platform")]
    Unsupported(&'static str),
}

/// Runs one agent command. `clock-launch` returns only on failure: on success the
/// process has become the program.
pub fn run(command: AgentCommand) -> Result<(), AgentError> {
    match command {
        AgentCommand::ClockLaunch(a) => clock_launch(a),
        AgentCommand::NfqueueDelay(a) => nfqueue_delay(a),
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn clock_launch(a: ClockLaunchArgs) -> Result<(), AgentError> {
    match clock::launch(&a.offset_file, &a.command)? {}
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn clock_launch(_: ClockLaunchArgs) -> Result<(), AgentError> {
    Err(AgentError::Unsupported("clock-launch (Linux x86_64 only)"))
}

#[cfg(target_os = "linux")]
fn nfqueue_delay(a: NfqueueDelayArgs) -> Result<(), AgentError> {
    use std::time::Duration;
    nfqueue::run(
        a.queue,
        Duration::from_millis(a.delay_ms),
        Duration::from_millis(a.jitter_ms),
    )?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn nfqueue_delay(_: NfqueueDelayArgs) -> Result<(), AgentError> {
    Err(AgentError::Unsupported("nfqueue-delay (Linux only)"))
}
