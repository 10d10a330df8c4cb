//! faultline's test harness, on the controller: the database automation ([`db`]), the
//! clients that speak to a database ([`clients`]), the [`runner`] that drives a
//! workload's generator with real clients and time and writes the history, the
//! nemesis [`nemesis`] executor that applies fault plans to the nodes, suite files
//! ([`suite`]) and the node-log checker ([`logscan`]).
//!
//! It talks to nodes only through `faultline-control`, writes the store through
//! `faultline-store`, and judges histories with `faultline-checkers`.

pub mod clients;
pub mod db;
pub mod logscan;
pub mod nemesis;
pub mod runner;
pub mod suite;
pub mod test_run;
