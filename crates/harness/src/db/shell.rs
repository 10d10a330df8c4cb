//! A database defined by shell commands (a suite file's `[db]` section): each
//! lifecycle step is a script run on the node as `sh -c SCRIPT` through the control
//! plane, with the node's place in the cluster in `FAULTLINE_*` variables.
//!
//! The scripts own the database's details; this module owns the order of the steps,
//! waiting for readiness within a bound, and errors that name the node, the step, the
//! command and what it printed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Db, DbContext, DbError};
use faultline_control::{Cmd, Control, Output, Remote};

/// Most of a failed command's output an error carries (its end: where the cause is).
const OUTPUT_EXCERPT: usize = 2000;

/// The lifecycle scripts; only `start` is required.
#[derive(Debug, Clone, Default)]
pub struct ShellCommands {
    pub install: Option<String>,
    pub start: String,
    pub ready: Option<String>,
    pub stop: Option<String>,
    pub kill: Option<String>,
    pub pause: Option<String>,
    pub resume: Option<String>,
    pub wipe: Option<String>,
    pub primaries: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ShellDb {
    pub name: String,
    pub commands: ShellCommands,
    /// Extra environment for every script (after the FAULTLINE_* variables).
    pub env: Vec<(String, String)>,
    /// (local path, path on the node), copied before `install`.
    pub uploads: Vec<(PathBuf, String)>,
    pub log_files: Vec<String>,
    /// How long setup polls `ready`.
    pub ready_timeout: Duration,
    /// Pause between two `ready` polls.
    pub ready_interval: Duration,
    /// How long any one script may run.
    pub command_timeout: Duration,
}

impl Default for ShellDb {
    fn default() -> Self {
        ShellDb {
            name: "shell".into(),
            commands: ShellCommands::default(),
            env: Vec::new(),
            uploads: Vec::new(),
            log_files: Vec::new(),
            ready_timeout: Duration::from_secs(60),
            ready_interval: Duration::from_millis(500),
            command_timeout: Duration::from_secs(60),
        }
    }
}

/// The last `max` bytes of `s`, trimmed, on a character boundary.
fn tail(s: &str, max: usize) -> &str {
    let s = s.trim();
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// A script for an error message: its first lines (the whole is in the suite file).
fn script_excerpt(script: &str) -> String {
    const MAX_LINES: usize = 3;
    let lines: Vec<&str> = script.trim().lines().collect();
    let mut s = lines[..lines.len().min(MAX_LINES)].join("\n");
    if lines.len() > MAX_LINES {
        s.push_str(&format!("\n... ({} more lines)", lines.len() - MAX_LINES));
    }
    if s.len() > 600 {
        let mut end = 600;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" ...");
    }
    s
}

/// stdout and stderr of a finished script, trimmed, for an error message.
fn output_text(out: &Output) -> String {
    let mut parts = Vec::new();
    let stdout = tail(&out.stdout, OUTPUT_EXCERPT);
    let stderr = tail(&out.stderr, OUTPUT_EXCERPT);
    if !stdout.is_empty() {
        parts.push(format!("stdout: {stdout}"));
    }
    if !stderr.is_empty() {
        parts.push(format!("stderr: {stderr}"));
    }
    if parts.is_empty() {
        "(no output)".into()
    } else {
        parts.join("\n")
    }
}

impl ShellDb {
    /// FAULTLINE_* variables describing `node`'s place in the cluster.
    pub fn node_env(ctx: &DbContext, node: &dyn Remote) -> Vec<(String, String)> {
        let me = node.node();
        let index = ctx
            .nodes
            .iter()
            .position(|n| n.name == me.name)
            .map(|i| i.to_string())
            .unwrap_or_default();
        let join = |f: fn(&faultline_control::Node) -> &str| {
            ctx.nodes.iter().map(f).collect::<Vec<_>>().join(" ")
        };
        let first = ctx.nodes.first();
        vec![
            ("FAULTLINE_NODE".into(), me.name.clone()),
            ("FAULTLINE_HOST".into(), me.host.clone()),
            ("FAULTLINE_NODE_INDEX".into(), index),
            ("FAULTLINE_NODES".into(), join(|n| &n.name)),
            ("FAULTLINE_HOSTS".into(), join(|n| &n.host)),
            (
                "FAULTLINE_FIRST_NODE".into(),
                first.map(|n| n.name.clone()).unwrap_or_default(),
            ),
            (
                "FAULTLINE_FIRST_HOST".into(),
                first.map(|n| n.host.clone()).unwrap_or_default(),
            ),
        ]
    }

    fn command(&self, ctx: &DbContext, node: &dyn Remote, script: &str, timeout: Duration) -> Cmd {
        let mut cmd = Cmd::new("sh")
            .args(["-c", script])
            .stdin_null()
            .timeout(timeout);
        for (k, v) in Self::node_env(ctx, node)
            .into_iter()
            .chain(self.env.clone())
        {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    /// Runs one step's script; fails naming the node, the step, the script and its
    /// output unless it exits 0.
    fn step(
        &self,
        ctx: &DbContext,
        node: &dyn Remote,
        step: &'static str,
        script: &str,
    ) -> Result<Output, DbError> {
        tracing::debug!(node = %node.node().name, step, "db script");
        let out = node.exec(&self.command(ctx, node, script, self.command_timeout))?;
        if out.status.success() {
            return Ok(out);
        }
        Err(DbError::Script {
            node: node.node().name.clone(),
            step,
            script: script_excerpt(script),
            status: out.status.to_string(),
            output: output_text(&out),
        })
    }

    fn optional(
        &self,
        ctx: &DbContext,
        node: &dyn Remote,
        step: &'static str,
        script: &Option<String>,
    ) -> Result<(), DbError> {
        match script {
            Some(s) => self.step(ctx, node, step, s).map(drop),
            None => Ok(()),
        }
    }

    fn required<'a>(
        &self,
        step: &'static str,
        script: &'a Option<String>,
    ) -> Result<&'a str, DbError> {
        script
            .as_deref()
            .ok_or_else(|| DbError::Invalid(format!("{}: [db] has no `{step}` command", self.name)))
    }

    fn upload(&self, node: &dyn Remote) -> Result<(), DbError> {
        for (from, to) in &self.uploads {
            if let Some(parent) = std::path::Path::new(to).parent() {
                if parent != std::path::Path::new("/") && !parent.as_os_str().is_empty() {
                    node.run(&Cmd::new("mkdir").arg("-p").arg(parent.to_string_lossy()))?;
                }
            }
            node.upload(from, to)?;
        }
        Ok(())
    }

    /// Polls `ready` until it exits 0 or `ready_timeout` has passed.
    fn poll_ready(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let Some(script) = &self.commands.ready else {
            return Ok(());
        };
        let start = Instant::now();
        let deadline = start + self.ready_timeout;
        // Bounded by the deadline; the count is a second bound should a clock misbehave.
        let max_polls = (self.ready_timeout.as_millis() / self.ready_interval.as_millis().max(1))
            .saturating_add(2)
            .min(1_000_000);
        let mut last = String::from("never ran");
        for _ in 0..max_polls {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let timeout = self
                .command_timeout
                .min(deadline - now)
                .max(Duration::from_millis(100));
            match node.exec(&self.command(ctx, node, script, timeout)) {
                Ok(out) if out.status.success() => {
                    tracing::info!(node = %node.node().name, elapsed = ?start.elapsed(), "{} ready", self.name);
                    return Ok(());
                }
                Ok(out) => last = format!("{}; {}", out.status, output_text(&out)),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(self.ready_interval);
        }
        Err(DbError::Unhealthy {
            node: node.node().name.clone(),
            waited: self.ready_timeout,
            detail: format!(
                "[db] ready `{}` never exited 0; last: {last}",
                script.trim()
            ),
        })
    }
}

impl Db for ShellDb {
    fn await_ready(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        self.poll_ready(ctx, node)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn setup(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        self.upload(node)?;
        self.optional(ctx, node, "install", &self.commands.install)?;
        self.step(ctx, node, "start", &self.commands.start)?;
        self.await_ready(ctx, node)
    }

    /// resume (a paused daemon ignores stop), stop or else kill, wipe: every step runs
    /// even if one before failed, and the first failure is returned.
    fn teardown(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let c = &self.commands;
        let halt = if c.stop.is_some() {
            ("stop", &c.stop)
        } else {
            ("kill", &c.kill)
        };
        let mut first = None;
        for (step, script) in [("resume", &c.resume), halt, ("wipe", &c.wipe)] {
            if let Err(e) = self.optional(ctx, node, step, script) {
                tracing::warn!("teardown: {e}");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn start(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        self.step(ctx, node, "start", &self.commands.start)
            .map(drop)
    }

    fn kill(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let script = self.required("kill", &self.commands.kill)?;
        self.step(ctx, node, "kill", script).map(drop)
    }

    fn pause(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let script = self.required("pause", &self.commands.pause)?;
        self.step(ctx, node, "pause", script).map(drop)
    }

    fn resume(&self, ctx: &DbContext, node: &dyn Remote) -> Result<(), DbError> {
        let script = self.required("resume", &self.commands.resume)?;
        self.step(ctx, node, "resume", script).map(drop)
    }

    fn log_files(&self, _ctx: &DbContext, _node: &dyn Remote) -> Vec<String> {
        self.log_files.clone()
    }

    /// Every node whose `primaries` script exits 0; a node that cannot be asked
    /// (unreachable, timed out) is not counted, as with etcd.
    fn primaries(&self, ctx: &DbContext, control: &Control) -> Result<Vec<String>, DbError> {
        let Some(script) = &self.commands.primaries else {
            return Ok(Vec::new());
        };
        let answers =
            control.on_all(|r| r.exec(&self.command(ctx, r, script, self.command_timeout)));
        Ok(answers
            .into_iter()
            .filter_map(|(node, out)| match out {
                Ok(o) if o.status.success() => Some(node.name),
                Ok(_) => None,
                Err(e) => {
                    tracing::debug!(node = %node.name, "primaries: {e}");
                    None
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
