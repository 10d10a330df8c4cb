//! faultline's library side: the control plane, the local cluster and DB
//! automation, shared by the `faultline` binary and its integration tests.

pub mod clients;
pub mod cluster;
pub mod control;
pub mod db;
pub mod runner;
pub mod store;
