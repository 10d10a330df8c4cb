//! faultline's integration tests, as one binary (one link, one process; the cluster
//! tests take [`common::serial`] so that they still run one at a time).
//!
//! Tests that need a local cluster (network namespaces, sshd, etcd, PostgreSQL, Redis)
//! need root and the packages `.ci/run-cluster-deps.sh` installs; without them they
//! say why and pass without running.

mod check_cli;
mod ci_example;
mod clock;
mod cluster;
mod common;
mod etcd_client;
mod external_client;
mod external_client_e2e;
mod junit;
mod nemesis;
mod postgres_e2e;
mod redis_e2e;
mod report_serve;
mod runner;
mod suite_e2e;
mod test_cli;
mod test_e2e;
