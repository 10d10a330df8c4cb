//! The fault interface and what faults know about the cluster.

use rand::RngCore;
use serde_json::Value;

use crate::plan::Plan;
use crate::NemesisError;

/// A node: its logical name and the address other nodes see its packets
/// come from (what iptables matches on; a name works too, iptables resolves it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub addr: String,
}

impl NodeInfo {
    pub fn new(name: impl Into<String>, addr: impl Into<String>) -> Self {
        NodeInfo {
            name: name.into(),
            addr: addr.into(),
        }
    }
}

/// What a fault needs to know about the cluster when it starts.
#[derive(Debug, Clone, Default)]
pub struct NemesisContext {
    /// Every node, in order.
    pub nodes: Vec<NodeInfo>,
    /// The DB's current primaries (leaders), by node name; may be empty.
    pub primaries: Vec<String>,
    /// Whether `tc netem` works on the nodes (see [`crate::packet::probe_netem`]).
    pub netem: bool,
}

impl NemesisContext {
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    pub fn node(&self, name: &str) -> Result<&NodeInfo, NemesisError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| NemesisError::Invalid(format!("unknown node {name:?}")))
    }
}

/// A started fault: the plan that produces it, and what goes in the history.
#[derive(Debug, Clone)]
pub struct Started {
    pub plan: Plan,
    /// The history value of the start event (the grudge, the nodes...).
    pub value: Value,
    /// The nodes affected, so that healing can be limited to them.
    pub nodes: Vec<String>,
}

/// One kind of fault: a start plan (possibly random) and a heal plan.
pub trait Fault: Send + Sync {
    /// The history `f` of the start and stop events, e.g. `start-partition`.
    fn start_f(&self) -> &'static str;
    fn stop_f(&self) -> &'static str;
    /// Decides what to break (using `rng` for random targets) and how.
    fn start(&self, ctx: &NemesisContext, rng: &mut dyn RngCore) -> Result<Started, NemesisError>;
    /// Undoes the fault. With `started`, only what it did; without, every
    /// trace of this kind of fault on every node (after a controller crash).
    /// Heal plans must be safe to run when nothing is broken.
    fn heal(&self, ctx: &NemesisContext, started: Option<&Started>) -> Plan;
}
