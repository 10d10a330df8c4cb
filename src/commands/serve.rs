//! `faultline serve`: browse a store folder's runs in a web browser.

use super::UsageError;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store folder
    #[arg(long, default_value = "store", value_name = "DIR")]
    pub store: PathBuf,
    /// Address to listen on. Loopback by default: the store holds logs and
    /// configurations that should not be published by accident
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub bind: String,
}

pub fn run(a: ServeArgs) -> anyhow::Result<u8> {
    let addr: SocketAddr = a
        .bind
        .parse()
        .map_err(|e| UsageError(format!("--bind {}: {e}", a.bind)))?;
    if !a.store.is_dir() {
        return Err(UsageError(format!("--store {}: not a folder", a.store.display())).into());
    }
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "serving {} on {addr}, reachable from other machines",
            a.store.display()
        );
    }
    faultline::serve::serve_until_ctrl_c(&a.store, addr, |local| {
        eprintln!(
            "serving {} on http://{local}/ (Ctrl-C to stop)",
            a.store.display()
        )
    })?;
    Ok(0)
}
