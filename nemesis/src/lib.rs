//! The nemesis: faults described as *plans* — lists of (node, action) steps —
//! that a runner executes through whatever reaches the nodes (SSH in
//! faultline, a recording fake in tests). Nothing here talks to a network, so
//! every fault is unit-testable, and every fault has a heal plan that removes
//! only what faultline itself added.
//!
//! - [`grudge`]: partition shapes (who drops whose traffic);
//! - [`net`]: grudges as iptables rules in faultline's own chain;
//! - [`packet`]: loss, rate, delay... with `tc netem` or the fallbacks;
//! - [`process`]: kill/restart and pause/resume through the DB automation;
//! - [`clock`]: offsets for processes run under `faultline-agent clock-launch`;
//! - [`schedule`]: `--nemesis partition,kill,...` as start/stop pairs;
//! - [`nemesis`]: the object a test runner drives, producing history events.

pub mod clock;
pub mod fault;
pub mod grudge;
pub mod nemesis;
pub mod net;
pub mod packet;
pub mod plan;
pub mod process;
pub mod schedule;

pub use fault::{Fault, NemesisContext, NodeInfo, Started};
pub use nemesis::Nemesis;
pub use plan::{Action, DbOp, ExecError, ExecOutput, Executor, OnFailure, Plan, Step};
pub use schedule::{FaultKind, FaultList, Phase, Schedule};

/// Errors of the nemesis. Messages name the fault and the nodes.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    /// The request makes no sense for this cluster (bad node name, too few nodes...).
    #[error("invalid nemesis request: {0}")]
    Invalid(String),
    /// The fault cannot be produced on these nodes; never silently skipped.
    #[error("{fault} is unavailable: {reason}")]
    Unavailable { fault: String, reason: String },
    /// Steps of a plan failed (one line per failure, naming the node).
    #[error("{what} failed on {count} step(s):\n{failures}")]
    Plan {
        what: String,
        count: usize,
        failures: String,
    },
}
