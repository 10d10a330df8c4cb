//! faultline's library side: the control plane, the local cluster and DB
//! automation, shared by the `faultline` binary and its integration tests.

pub mod clients;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod clock;
pub mod cluster;
pub mod control;
pub mod db;
pub mod logscan;
pub mod nemesis;
#[cfg(target_os = "linux")]
pub mod nfqueue;
pub mod report;
pub mod runner;
pub mod serve;
pub use faultline_store as store;
pub mod suite;
