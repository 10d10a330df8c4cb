//! Process faults through the DB automation: kill then restart, pause then
//! resume, on targeted nodes.

use rand::seq::SliceRandom;
use rand::RngCore;
use serde_json::json;

use crate::fault::{Fault, NemesisContext, Started};
use crate::grudge::majority;
use crate::plan::{DbOp, Plan};
use crate::NemesisError;

/// Which nodes a process fault hits (Jepsen's node specs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    One,
    /// A random set smaller than a majority (at least one node).
    Minority,
    /// A random majority.
    Majority,
    All,
    /// The DB's current primaries.
    Primaries,
    /// Exactly these nodes.
    Nodes(Vec<String>),
}

impl std::str::FromStr for Target {
    type Err = NemesisError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "one" => Target::One,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            "all" => Target::All,
            "primaries" => Target::Primaries,
            other if !other.is_empty() => {
                Target::Nodes(other.split(',').map(|s| s.trim().to_string()).collect())
            }
            _ => return Err(NemesisError::Invalid("empty target".into())),
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::One => f.write_str("one"),
            Target::Minority => f.write_str("minority"),
            Target::Majority => f.write_str("majority"),
            Target::All => f.write_str("all"),
            Target::Primaries => f.write_str("primaries"),
            Target::Nodes(n) => f.write_str(&n.join(",")),
        }
    }
}

/// The nodes `target` picks (in cluster order).
pub fn select(
    target: &Target,
    ctx: &NemesisContext,
    rng: &mut dyn RngCore,
) -> Result<Vec<String>, NemesisError> {
    let mut nodes = ctx.names();
    if nodes.is_empty() {
        return Err(NemesisError::Invalid("no nodes".into()));
    }
    let n = nodes.len();
    let count = match target {
        Target::One => 1,
        Target::Minority => (majority(n) - 1).max(1),
        Target::Majority => majority(n),
        Target::All => n,
        Target::Primaries => {
            if ctx.primaries.is_empty() {
                return Err(NemesisError::Invalid(
                    "no primary known: the DB reported no leader".into(),
                ));
            }
            for p in &ctx.primaries {
                ctx.node(p)?;
            }
            return Ok(ctx.primaries.clone());
        }
        Target::Nodes(list) => {
            for p in list {
                ctx.node(p)?;
            }
            return Ok(list.clone());
        }
    };
    nodes.shuffle(rng);
    nodes.truncate(count.min(n));
    let order = ctx.names();
    nodes.sort_by_key(|x| order.iter().position(|o| o == x));
    Ok(nodes)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessFaultKind {
    /// SIGKILL, healed by restarting.
    Kill,
    /// SIGSTOP, healed by SIGCONT.
    Pause,
}

/// Kill or pause the DB on targeted nodes.
#[derive(Debug, Clone)]
pub struct ProcessFault {
    pub kind: ProcessFaultKind,
    pub target: Target,
}

impl ProcessFault {
    fn ops(&self) -> (DbOp, DbOp) {
        match self.kind {
            ProcessFaultKind::Kill => (DbOp::Kill, DbOp::Start),
            ProcessFaultKind::Pause => (DbOp::Pause, DbOp::Resume),
        }
    }
}

impl Fault for ProcessFault {
    fn start_f(&self) -> &'static str {
        match self.kind {
            ProcessFaultKind::Kill => "kill",
            ProcessFaultKind::Pause => "pause",
        }
    }
    fn stop_f(&self) -> &'static str {
        match self.kind {
            ProcessFaultKind::Kill => "start",
            ProcessFaultKind::Pause => "resume",
        }
    }
    fn start(&self, ctx: &NemesisContext, rng: &mut dyn RngCore) -> Result<Started, NemesisError> {
        let nodes = select(&self.target, ctx, rng)?;
        let mut plan = Plan::new();
        for n in &nodes {
            plan.db(n, self.ops().0);
        }
        Ok(Started {
            plan,
            value: json!(nodes),
            nodes,
        })
    }
    fn heal(&self, ctx: &NemesisContext, _started: Option<&Started>) -> Plan {
        // Every node: starting a running DB and resuming a running process
        // are no-ops, and a node may have been hit by an earlier, lost start.
        let mut plan = Plan::new();
        for n in &ctx.nodes {
            plan.db(&n.name, self.ops().1);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::NodeInfo;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ctx(n: usize) -> NemesisContext {
        NemesisContext {
            nodes: (1..=n)
                .map(|i| NodeInfo::new(format!("n{i}"), format!("10.0.0.{i}")))
                .collect(),
            primaries: vec!["n2".into()],
            netem: false,
        }
    }

    #[test]
    fn targets_have_the_right_sizes() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n in 1..=7 {
            let c = ctx(n);
            let sel = |t: Target, rng: &mut ChaCha8Rng| select(&t, &c, rng).unwrap();
            assert_eq!(sel(Target::One, &mut rng).len(), 1);
            assert_eq!(sel(Target::All, &mut rng).len(), n);
            assert_eq!(sel(Target::Majority, &mut rng).len(), majority(n).min(n));
            let m = sel(Target::Minority, &mut rng).len();
            assert!(m >= 1 && (n == 1 || m < majority(n)), "n={n} m={m}");
        }
        assert_eq!(
            select(&Target::Primaries, &ctx(5), &mut rng).unwrap(),
            ["n2"]
        );
        let mut c = ctx(5);
        c.primaries.clear();
        assert!(select(&Target::Primaries, &c, &mut rng).is_err());
        assert!(select(&"n9".parse().unwrap(), &c, &mut rng).is_err());
    }

    #[test]
    fn kill_then_restart_everywhere() {
        let f = ProcessFault {
            kind: ProcessFaultKind::Kill,
            target: Target::Nodes(vec!["n3".into()]),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let s = f.start(&ctx(3), &mut rng).unwrap();
        assert_eq!(s.plan.steps.len(), 1);
        assert_eq!(s.plan.steps[0].action, crate::plan::Action::Db(DbOp::Kill));
        let h = f.heal(&ctx(3), Some(&s));
        assert_eq!(h.steps.len(), 3);
        assert!(h
            .steps
            .iter()
            .all(|s| s.action == crate::plan::Action::Db(DbOp::Start)));
    }
}
