//! The nemesis crate's plans carried out over the control plane and the DB
//! automation.

use std::time::Duration;

use faultline_nemesis::fault::{NemesisContext, NodeInfo};
use faultline_nemesis::plan::{DbOp, ExecError, ExecOutput, Executor};

use crate::db::{Db, DbContext};
use faultline_control::{Cmd, Control, ControlError, ExitStatus};

/// Longest a single nemesis command may take on a node (iptables waits for
/// the xtables lock with -w; tc and sh scripts are quick).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs plan steps on the nodes of `control`; DB steps through `db`.
pub struct ControlExecutor<'a> {
    pub control: &'a Control,
    /// Without a DB, DB steps fail (naming the operation).
    pub db: Option<&'a dyn Db>,
}

impl<'a> ControlExecutor<'a> {
    pub fn new(control: &'a Control, db: Option<&'a dyn Db>) -> Self {
        ControlExecutor { control, db }
    }

    fn db_ctx(&self) -> DbContext {
        DbContext {
            nodes: self.control.nodes(),
        }
    }
}

impl Executor for ControlExecutor<'_> {
    fn exec(&self, node: &str, argv: &[String]) -> Result<ExecOutput, ExecError> {
        let (prog, rest) = argv
            .split_first()
            .ok_or_else(|| ExecError::Invalid("empty command".into()))?;
        let remote = self.control.on(node).map_err(unknown_node)?;
        let cmd = Cmd::new(prog.clone())
            .args(rest.iter().cloned())
            .timeout(STEP_TIMEOUT);
        let out = remote
            .exec(&cmd)
            .map_err(|e| ExecError::Unreachable(e.to_string()))?;
        tracing::debug!(node, cmd = %cmd, status = %out.status, "nemesis step");
        Ok(ExecOutput {
            success: out.status == ExitStatus::Code(0),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    fn db(&self, node: &str, op: DbOp) -> Result<(), ExecError> {
        let db = self
            .db
            .ok_or_else(|| ExecError::Invalid(format!("db {op}: no DB given")))?;
        let remote = self.control.on(node).map_err(unknown_node)?;
        let ctx = self.db_ctx();
        let r = match op {
            DbOp::Kill => db.kill(&ctx, remote.as_ref()),
            DbOp::Start => db.start(&ctx, remote.as_ref()),
            DbOp::Pause => db.pause(&ctx, remote.as_ref()),
            DbOp::Resume => db.resume(&ctx, remote.as_ref()),
        };
        r.map_err(|e| ExecError::Db(e.to_string()))
    }
}

/// A node the control plane does not know is the plan's caller's mistake; any other
/// failure to reach it is the node's.
fn unknown_node(e: ControlError) -> ExecError {
    match e {
        ControlError::UnknownNode(_) | ControlError::InvalidArgument(_) => {
            ExecError::Invalid(e.to_string())
        }
        e => ExecError::Unreachable(e.to_string()),
    }
}

/// What faults need to know: nodes (name and address), the DB's primaries
/// (best effort: an unhealthy cluster has none) and whether netem works
/// (probed on the first node; the nodes share a kernel model).
pub fn context(control: &Control, db: Option<&dyn Db>, probe: bool) -> NemesisContext {
    let nodes: Vec<NodeInfo> = control
        .nodes()
        .into_iter()
        .map(|n| NodeInfo::new(n.name, n.host))
        .collect();
    let primaries = match db {
        Some(db) => {
            let ctx = DbContext {
                nodes: control.nodes(),
            };
            db.primaries(&ctx, control).unwrap_or_else(|e| {
                tracing::warn!("no primaries known: {e}");
                Vec::new()
            })
        }
        None => Vec::new(),
    };
    let netem = probe
        && nodes.first().is_some_and(|n| {
            let ex = ControlExecutor::new(control, None);
            faultline_nemesis::packet::probe_netem(&ex, &n.name).unwrap_or_else(|e| {
                tracing::warn!("netem probe: {e}");
                false
            })
        });
    NemesisContext {
        nodes,
        primaries,
        netem,
    }
}
