//! Subcommand implementations (anyhow with context; exit codes as Jepsen's).

pub mod check;
pub mod cluster;
pub mod db;
pub mod exec;
pub mod heal;
mod local_cluster;
pub mod nemesis;
pub mod nodes;
pub mod serve;
pub mod sim;
pub mod suite;
pub mod test;
mod test_output;
pub mod txn_opts;

/// Invalid arguments or input.
pub const EXIT_BAD_ARGS: u8 = 254;
/// Anything else that went wrong.
pub const EXIT_INTERNAL: u8 = 255;

/// An error in what the user gave us (exit 254), as opposed to a failure (255).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

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
            || cause
                .downcast_ref::<faultline::test_run::NemesisRunError>()
                .is_some_and(|e| e.is_usage())
        {
            return EXIT_BAD_ARGS;
        }
    }
    EXIT_INTERNAL
}
