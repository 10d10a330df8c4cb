//! faultline's checkers: the history model and its readers, the models, and every checker.
//!
//! Pure and synchronous: no async runtime, no network, no global state. Parallelism (per
//! key) is data parallelism inside a call, bounded by the caller's deadline and memory limit.

pub mod check;
pub mod elle;
pub mod history;
pub mod sim;
pub mod verdict;

pub use verdict::Validity;
pub mod linear;
pub mod model;
pub mod simple;
