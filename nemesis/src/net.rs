//! Partitions as iptables rules in faultline's own chain.
//!
//! Every DROP rule lives in the chain [`CHAIN`], reached by one jump rule at
//! the top of INPUT. Healing deletes our jump rules and our chain and nothing
//! else: Jepsen's `iptables -F` wipes every rule of every other tool, which
//! is exactly what we must not do. Only INPUT is filtered (as Jepsen does):
//! dropping a peer's incoming packets already breaks TCP both ways, and the
//! controller's address is never in a grudge, so it keeps reaching every node.

use rand::RngCore;
use serde_json::json;

use crate::fault::{Fault, NemesisContext, Started};
use crate::grudge::{self, Grudge};
use crate::plan::Plan;
use crate::NemesisError;

/// The chain holding partition rules.
pub const CHAIN: &str = "FAULTLINE";

/// Adds `chain` to INPUT once, at the top. A fixed script with the chain as
/// a positional argument: nothing is pasted into the shell text.
const ENSURE_JUMP: &str =
    r#"iptables -w -C INPUT -j "$1" 2>/dev/null || iptables -w -I INPUT 1 -j "$1""#;

/// Deletes every jump to `$1` from INPUT and OUTPUT (bounded, in case someone
/// duplicated them), then flushes and deletes the chain if it exists.
const REMOVE_CHAIN: &str = r#"c="$1"
for base in INPUT OUTPUT; do
  i=0
  while [ "$i" -lt 64 ] && iptables -w -D "$base" -j "$c" 2>/dev/null; do i=$((i+1)); done
done
if iptables -w -n -L "$c" >/dev/null 2>&1; then
  iptables -w -F "$c" && iptables -w -X "$c"
fi"#;

/// Steps that create an empty `chain` jumped to from INPUT on `node`.
pub fn setup_chain(plan: &mut Plan, node: &str, chain: &str) {
    // -N fails when the chain exists (e.g. a second rule set): that is fine.
    plan.try_exec(node, ["iptables", "-w", "-N", chain]);
    plan.exec(node, ["iptables", "-w", "-F", chain]);
    plan.exec(node, ["sh", "-c", ENSURE_JUMP, "sh", chain]);
}

/// Steps that remove `chain` and every jump to it on `node`; a no-op when
/// there is none.
pub fn remove_chain(plan: &mut Plan, node: &str, chain: &str) {
    plan.exec(node, ["sh", "-c", REMOVE_CHAIN, "sh", chain]);
}

/// The plan that installs `grudge`, replacing any partition of ours.
pub fn grudge_plan(ctx: &NemesisContext, grudge: &Grudge) -> Result<Plan, NemesisError> {
    grudge::validate(&ctx.names(), grudge)?;
    let mut plan = Plan::new();
    for n in &ctx.nodes {
        remove_chain(&mut plan, &n.name, CHAIN);
        let Some(drops) = grudge.get(&n.name).filter(|d| !d.is_empty()) else {
            continue;
        };
        setup_chain(&mut plan, &n.name, CHAIN);
        for src in drops {
            let addr = &ctx.node(src)?.addr;
            plan.exec(
                &n.name,
                ["iptables", "-w", "-A", CHAIN, "-s", addr, "-j", "DROP"],
            );
        }
    }
    Ok(plan)
}

/// Which partition to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionSpec {
    /// One random node alone.
    One,
    /// This node alone.
    Node(String),
    /// A random minority against the majority.
    Halves,
    /// Every node sees a different majority.
    MajoritiesRing,
    /// Two halves joined by one node.
    Bridge,
    /// The DB's current primaries, each alone.
    Primaries,
    /// Exactly this grudge.
    Grudge(Grudge),
}

impl std::str::FromStr for PartitionSpec {
    type Err = NemesisError;
    /// `halves`, `one`, `majorities-ring`, `bridge`, `primaries`, or a node's name.
    fn from_str(s: &str) -> Result<Self, NemesisError> {
        Ok(match s.trim() {
            "halves" => PartitionSpec::Halves,
            "one" => PartitionSpec::One,
            "majorities-ring" => PartitionSpec::MajoritiesRing,
            "bridge" => PartitionSpec::Bridge,
            "primaries" => PartitionSpec::Primaries,
            "" => return Err(NemesisError::Invalid("an empty partition".into())),
            node => PartitionSpec::Node(node.to_string()),
        })
    }
}

impl std::fmt::Display for PartitionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartitionSpec::One => f.write_str("one"),
            PartitionSpec::Node(n) => f.write_str(n),
            PartitionSpec::Halves => f.write_str("halves"),
            PartitionSpec::MajoritiesRing => f.write_str("majorities-ring"),
            PartitionSpec::Bridge => f.write_str("bridge"),
            PartitionSpec::Primaries => f.write_str("primaries"),
            PartitionSpec::Grudge(_) => f.write_str("grudge"),
        }
    }
}

/// The partition fault.
#[derive(Debug, Clone)]
pub struct Partition {
    pub spec: PartitionSpec,
}

impl Partition {
    pub fn grudge(
        &self,
        ctx: &NemesisContext,
        rng: &mut dyn RngCore,
    ) -> Result<Grudge, NemesisError> {
        let nodes = ctx.names();
        match &self.spec {
            PartitionSpec::One => grudge::isolate_random(&nodes, rng),
            PartitionSpec::Node(n) => grudge::isolate(&nodes, n),
            PartitionSpec::Halves => grudge::random_halves(&nodes, rng),
            PartitionSpec::MajoritiesRing => grudge::majorities_ring(&nodes, rng),
            PartitionSpec::Bridge => {
                // Jepsen's bridge is positional; shuffle so that the bridge
                // node varies between runs.
                let mut shuffled = nodes.clone();
                rand::seq::SliceRandom::shuffle(shuffled.as_mut_slice(), rng);
                grudge::bridge(&shuffled)
            }
            PartitionSpec::Primaries => grudge::primaries(&nodes, &ctx.primaries),
            PartitionSpec::Grudge(g) => Ok(g.clone()),
        }
    }
}

impl Fault for Partition {
    fn start_f(&self) -> &'static str {
        "start-partition"
    }
    fn stop_f(&self) -> &'static str {
        "stop-partition"
    }
    fn start(&self, ctx: &NemesisContext, rng: &mut dyn RngCore) -> Result<Started, NemesisError> {
        let g = self.grudge(ctx, rng)?;
        let plan = grudge_plan(ctx, &g)?;
        Ok(Started {
            plan,
            value: json!({ "isolated": g }),
            nodes: g.keys().cloned().collect(),
        })
    }
    fn heal(&self, ctx: &NemesisContext, _started: Option<&Started>) -> Plan {
        // Always every node: a heal must not depend on our memory of what we did.
        let mut plan = Plan::new();
        for n in &ctx.nodes {
            remove_chain(&mut plan, &n.name, CHAIN);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::NodeInfo;
    use rand::SeedableRng;

    fn ctx() -> NemesisContext {
        NemesisContext {
            nodes: (1..=3)
                .map(|i| NodeInfo::new(format!("n{i}"), format!("10.0.0.{i}")))
                .collect(),
            ..NemesisContext::default()
        }
    }

    #[test]
    fn isolating_a_node_drops_in_our_chain_only() {
        let p = Partition {
            spec: PartitionSpec::Node("n1".into()),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let s = p.start(&ctx(), &mut rng).unwrap();
        let n1: Vec<String> = s
            .plan
            .commands_for("n1")
            .iter()
            .map(|a| a.join(" "))
            .collect();
        assert!(n1.contains(&"iptables -w -A FAULTLINE -s 10.0.0.2 -j DROP".to_string()));
        assert!(n1.contains(&"iptables -w -A FAULTLINE -s 10.0.0.3 -j DROP".to_string()));
        let n2: Vec<String> = s
            .plan
            .commands_for("n2")
            .iter()
            .map(|a| a.join(" "))
            .collect();
        assert!(n2.contains(&"iptables -w -A FAULTLINE -s 10.0.0.1 -j DROP".to_string()));
        assert!(!n2.iter().any(|c| c.contains("10.0.0.3")));
        assert_eq!(s.value["isolated"]["n1"], json!(["n2", "n3"]));
        // Never a flush of a built-in chain, never a bare -F or -X.
        for st in s.plan.steps.iter().chain(p.heal(&ctx(), None).steps.iter()) {
            if let crate::plan::Action::Exec { argv, .. } = &st.action {
                let line = argv.join(" ");
                assert!(
                    !line.contains("-F INPUT") && !line.ends_with("-F"),
                    "{line}"
                );
                if argv[0] == "iptables" && (argv.contains(&"-F".into())) {
                    assert!(argv.contains(&CHAIN.to_string()), "{line}");
                }
            }
        }
        let heal = p.heal(&ctx(), Some(&s));
        assert_eq!(heal.steps.len(), 3, "every node");
    }

    #[test]
    fn explicit_grudge_with_unknown_node_is_refused() {
        let mut g = Grudge::new();
        g.insert("n1".into(), ["n9".to_string()].into());
        let p = Partition {
            spec: PartitionSpec::Grudge(g),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert!(p.start(&ctx(), &mut rng).is_err());
    }
}
