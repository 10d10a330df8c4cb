//! `faultline db ...` (filled in with the etcd automation).

use clap::Args;

#[derive(Debug, Args)]
pub struct DbArgs {}

pub fn run(_args: DbArgs) -> anyhow::Result<u8> {
    Ok(0)
}
