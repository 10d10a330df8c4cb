//! `faultline exec`: run one command on nodes and print what it printed.

use std::time::Duration;

use clap::Args;
use faultline::control::Cmd;

use super::nodes::NodeOpts;
use super::UsageError;

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub nodes: NodeOpts,
    /// Only on this node (repeatable; default all)
    #[arg(long = "on", value_name = "NODE")]
    pub on: Vec<String>,
    /// Per-command timeout in seconds
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// The program and its arguments (each passed as one word, quoted for you)
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]")]
    pub command: Vec<String>,
}

/// Prints each node's output; exits 0 when the command succeeded everywhere,
/// 1 when it failed on some node.
pub fn run(args: ExecArgs) -> anyhow::Result<u8> {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86400.0) {
        return Err(UsageError("--timeout must be between 0 and 86400 seconds".into()).into());
    }
    let control = super::nodes::connect(&args.nodes)?;
    let (prog, rest) = args
        .command
        .split_first()
        .ok_or_else(|| UsageError("no command given".into()))?;
    let cmd = Cmd::new(prog.clone())
        .args(rest.iter().cloned())
        .timeout(Duration::from_secs_f64(args.timeout));
    for name in &args.on {
        control.on(name)?;
    }
    let results = control.on_all(|r| {
        if !args.on.is_empty()
            && !args
                .on
                .iter()
                .any(|o| *o == r.node().name || *o == r.node().host)
        {
            return Ok(None);
        }
        r.run(&cmd).map(Some)
    });
    let mut failed = false;
    for (node, res) in results {
        match res {
            Ok(None) => {}
            Ok(Some(out)) => {
                for line in out.stdout.lines() {
                    println!("{}: {line}", node.name);
                }
                for line in out.stderr.lines() {
                    eprintln!("{}: {line}", node.name);
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("{e}");
            }
        }
    }
    Ok(u8::from(failed))
}
