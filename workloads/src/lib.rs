//! faultline's generators and workloads: what operations a test runs, when, and how its
//! history is checked. Pure and synchronous: no threads, no clocks, no I/O; the runner in
//! the `faultline` binary drives a [`sched::Scheduler`] with real time and real clients.

pub mod gen;
pub mod sched;
pub mod workload;

#[cfg(test)]
mod tests;
