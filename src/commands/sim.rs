//! `faultline sim`: writes a seeded, simulated history, for tests, benchmarks and demos.

use super::UsageError;
use anyhow::Context;
use clap::{Args, ValueEnum};
use faultline_checkers::history::{edn::write_edn, write_jsonl};
use faultline_checkers::sim::{simulate, SimConfig, SimModel};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimModelArg {
    Register,
    CasRegister,
    Kv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimFormat {
    Jsonl,
    Edn,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The simulated object
    #[arg(long, value_enum, default_value = "cas-register")]
    pub model: SimModelArg,
    /// Operations (each an invocation and a completion)
    #[arg(long, default_value_t = 1000)]
    pub ops: usize,
    /// Concurrent client processes
    #[arg(long, default_value_t = 5)]
    pub clients: usize,
    /// Independent keys
    #[arg(long, default_value_t = 1)]
    pub keys: usize,
    /// Written values are drawn from 0..VALUES; 0 makes every written value unique
    #[arg(long, default_value_t = 5)]
    pub values: u64,
    /// Share of operations whose outcome is unknown (info)
    #[arg(long, default_value_t = 0.0)]
    pub info_rate: f64,
    /// Share of operations that fail without effect
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Chance that a read returns a stale value (0 gives a linearizable history)
    #[arg(long, default_value_t = 0.0)]
    pub stale_read_prob: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: SimFormat,
    /// Where to write the history (default: standard output)
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn run(a: SimArgs) -> anyhow::Result<u8> {
    for (name, p) in [
        ("--info-rate", a.info_rate),
        ("--fail-rate", a.fail_rate),
        ("--stale-read-prob", a.stale_read_prob),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(UsageError(format!("{name} must be between 0 and 1, not {p}")).into());
        }
    }
    if a.info_rate + a.fail_rate > 1.0 {
        return Err(UsageError("--info-rate plus --fail-rate exceeds 1".into()).into());
    }
    let cfg = SimConfig {
        model: match a.model {
            SimModelArg::Register => SimModel::Register,
            SimModelArg::CasRegister => SimModel::CasRegister,
            SimModelArg::Kv => SimModel::Kv,
        },
        ops: a.ops,
        clients: a.clients,
        keys: a.keys,
        values: a.values,
        info_rate: a.info_rate,
        fail_rate: a.fail_rate,
        stale_read_prob: a.stale_read_prob,
        seed: a.seed,
    };
    let history = simulate(&cfg);
    let out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(out);
    match a.format {
        SimFormat::Jsonl => write_jsonl(&history, &mut out),
        SimFormat::Edn => write_edn(&history, &mut out),
    }
    .and_then(|_| out.flush())
    .context("cannot write the history")?;
    Ok(0)
}
