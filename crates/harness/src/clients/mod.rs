//! Database clients: what the runner's workers use to run operations against a real
//! database.

pub mod etcd;
pub mod external;
pub mod postgres;
