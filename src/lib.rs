//! faultline's crates under one name, for the `faultline` binary and the integration
//! tests (and for a program that embeds faultline). Each module is a crate of its own;
//! the dependencies point one way, from this CLI down to the pure checkers:
//!
//! - [`checkers`], [`workloads`], [`nemesis_plans`]: pure (histories and checkers,
//!   generators, faults as plans of node commands);
//! - [`store`]: the run folders and their typed records;
//! - [`control`]: commands on nodes, over SSH or locally; [`cluster`]: the local
//!   cluster of network namespaces;
//! - [`report`]: plots, pages, JUnit and `serve`;
//! - the harness: [`db`], [`clients`], [`runner`], [`nemesis`] (the executor), [`suite`],
//!   [`logscan`];
//! - [`clock`] and [`nfqueue`]: the node-side agent's parts.

pub use faultline_checkers as checkers;
pub use faultline_cluster as cluster;
pub use faultline_control as control;
pub use faultline_harness::{clients, db, logscan, nemesis, runner, suite, test_run};
pub use faultline_nemesis as nemesis_plans;
pub use faultline_report as report;
pub use faultline_report::serve;
pub use faultline_store as store;
pub use faultline_workloads as workloads;

pub use faultline_agent as agent;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use faultline_agent::clock;
#[cfg(target_os = "linux")]
pub use faultline_agent::nfqueue;
