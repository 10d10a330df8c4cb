//! The object a test runner drives: start and stop faults by kind, get
//! history events, and heal everything at the end, on errors and on signals.

use std::collections::BTreeMap;
use std::sync::Arc;

use faultline_checkers::history::{Op, OpType, Process};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::clock::{self, ClockAction, ClockFault};
use crate::fault::{Fault, NemesisContext, Started};
use crate::net::{Partition, PartitionSpec};
use crate::packet::{self, Behavior, PacketFault};
use crate::plan::{run_plan, DbOp, Executor, OnFailure, Plan};
use crate::process::{ProcessFault, ProcessFaultKind, Target};
use crate::schedule::{FaultKind, Phase};
use crate::NemesisError;

/// A nemesis history event (`process: "nemesis"`, type `info` as Jepsen's).
pub fn nemesis_op(index: u64, kind: OpType, f: &str, value: Value, time_ns: i64) -> Op {
    Op {
        index,
        kind,
        process: Process::nemesis(),
        f: Arc::from(f),
        value,
        key: None,
        time: Some(time_ns),
        node: None,
        error: None,
        line: 0,
    }
}

/// How each fault kind targets (defaults: what Jepsen's etcd suite uses).
#[derive(Debug, Clone)]
pub struct NemesisOptions {
    pub partition: PartitionSpec,
    pub kill: Target,
    pub pause: Target,
    pub packet_target: Target,
    pub packet: Vec<Behavior>,
    /// The faultline binary on the nodes, for packet delay without netem.
    pub packet_delayer: Option<String>,
    pub clock: Target,
    /// The offset file of `faultline-agent clock-launch` on the nodes.
    pub clock_offset_file: String,
    pub seed: u64,
}

impl Default for NemesisOptions {
    fn default() -> Self {
        NemesisOptions {
            partition: PartitionSpec::Halves,
            kill: Target::Minority,
            pause: Target::Minority,
            packet_target: Target::All,
            packet: vec![Behavior::Loss { percent: 20.0 }],
            packet_delayer: None,
            clock: Target::Minority,
            clock_offset_file: clock::DEFAULT_OFFSET_FILE.into(),
            seed: 0,
        }
    }
}

/// Faults by kind, what is currently broken, and a seeded RNG for targets.
pub struct Nemesis {
    faults: BTreeMap<FaultKind, Box<dyn Fault>>,
    active: BTreeMap<FaultKind, Started>,
    rng: ChaCha8Rng,
}

/// The result of a start or stop: the `f` and the completion's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub f: &'static str,
    pub value: Value,
}

impl Nemesis {
    pub fn new(kinds: &[FaultKind], opts: &NemesisOptions) -> Self {
        let mut faults: BTreeMap<FaultKind, Box<dyn Fault>> = BTreeMap::new();
        for k in kinds {
            let f: Box<dyn Fault> = match k {
                FaultKind::Partition => Box::new(Partition {
                    spec: opts.partition.clone(),
                }),
                FaultKind::Kill => Box::new(ProcessFault {
                    kind: ProcessFaultKind::Kill,
                    target: opts.kill.clone(),
                }),
                FaultKind::Pause => Box::new(ProcessFault {
                    kind: ProcessFaultKind::Pause,
                    target: opts.pause.clone(),
                }),
                FaultKind::Clock => Box::new(ClockFault {
                    action: ClockAction::Bump { delta_ms: None },
                    target: opts.clock.clone(),
                    offset_file: opts.clock_offset_file.clone(),
                }),
                FaultKind::Packet => Box::new(PacketFault {
                    target: opts.packet_target.clone(),
                    behaviors: opts.packet.clone(),
                    delayer: opts.packet_delayer.clone(),
                }),
            };
            faults.insert(*k, f);
        }
        Nemesis {
            faults,
            active: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
        }
    }

    fn fault(&self, kind: FaultKind) -> Result<&dyn Fault, NemesisError> {
        self.faults
            .get(&kind)
            .map(|f| f.as_ref())
            .ok_or_else(|| NemesisError::Invalid(format!("{} is not enabled", kind.name())))
    }

    /// Starts `kind`: decides targets, runs the plan, remembers it. On a
    /// failed plan the fault may be half-applied: it stays recorded as
    /// active so that stop/heal cleans it.
    pub fn start(
        &mut self,
        kind: FaultKind,
        ctx: &NemesisContext,
        ex: &dyn Executor,
    ) -> Result<Outcome, NemesisError> {
        let f = kind.f(Phase::Start);
        let fault = self
            .faults
            .get(&kind)
            .ok_or_else(|| NemesisError::Invalid(format!("{} is not enabled", kind.name())))?;
        let started = fault.start(ctx, &mut self.rng)?;
        tracing::info!(fault = f, value = %started.value, "nemesis start");
        let value = started.value.clone();
        let plan = started.plan.clone();
        self.active.insert(kind, started);
        run_plan(f, &plan, ex, OnFailure::StopNode)?;
        Ok(Outcome { f, value })
    }

    /// Stops `kind` (healing it on every node).
    pub fn stop(
        &mut self,
        kind: FaultKind,
        ctx: &NemesisContext,
        ex: &dyn Executor,
    ) -> Result<Outcome, NemesisError> {
        let f = kind.f(Phase::Stop);
        let fault = self.fault(kind)?;
        let plan = fault.heal(ctx, self.active.get(&kind));
        run_plan(f, &plan, ex, OnFailure::Continue)?;
        self.active.remove(&kind);
        tracing::info!(fault = f, "nemesis stop");
        let value = match kind {
            FaultKind::Partition => json!("network-healed"),
            FaultKind::Clock => json!({ "reset": ctx.names() }),
            FaultKind::Packet => json!("packets-healed"),
            FaultKind::Kill | FaultKind::Pause => json!(ctx.names()),
        };
        Ok(Outcome { f, value })
    }

    /// Heals every enabled fault (the final generator; also on errors and
    /// signals). Tries them all even when one fails.
    pub fn heal_all(
        &mut self,
        ctx: &NemesisContext,
        ex: &dyn Executor,
    ) -> Result<(), NemesisError> {
        let kinds: Vec<FaultKind> = self.faults.keys().copied().collect();
        let mut errors = Vec::new();
        for k in kinds {
            if let Err(e) = self.stop(k, ctx, ex) {
                errors.push(e.to_string());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(NemesisError::Plan {
                what: "heal".into(),
                count: errors.len(),
                failures: errors.join("\n"),
            })
        }
    }

    pub fn active(&self) -> impl Iterator<Item = FaultKind> + '_ {
        self.active.keys().copied()
    }
}

/// Everything `faultline heal` does, as a plan, without memory of what was
/// broken: our iptables chains and qdiscs go, clock offsets (the launcher's
/// file at `clock_offset_file`) are removed, paused DB processes resume, and
/// killed ones restart if `restart`.
pub fn heal_everything_plan(ctx: &NemesisContext, clock_offset_file: &str, restart: bool) -> Plan {
    let mut plan = Partition {
        spec: PartitionSpec::Halves,
    }
    .heal(ctx, None);
    plan.extend(packet::heal_plan(ctx));
    plan.extend(clock::reset_plan(ctx, clock_offset_file));
    for n in &ctx.nodes {
        plan.db(&n.name, DbOp::Resume);
        if restart {
            plan.db(&n.name, DbOp::Start);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::NodeInfo;
    use crate::plan::tests::Recorder;
    use crate::schedule::Schedule;
    use std::time::Duration;

    fn ctx() -> NemesisContext {
        NemesisContext {
            nodes: (1..=5)
                .map(|i| NodeInfo::new(format!("n{i}"), format!("10.0.0.{i}")))
                .collect(),
            primaries: vec!["n4".into()],
            netem: false,
        }
    }

    #[test]
    fn a_schedule_drives_the_nemesis_and_produces_events() {
        let kinds = FaultKind::parse_list("partition,kill,pause,packet").unwrap();
        let mut nem = Nemesis::new(&kinds, &NemesisOptions::default());
        let rec = Recorder::default();
        let mut history = Vec::new();
        for (i, step) in Schedule::new(kinds, Duration::from_secs(1), 3)
            .unwrap()
            .take(12)
            .enumerate()
        {
            let out = match step.phase {
                Phase::Start => nem.start(step.kind, &ctx(), &rec).unwrap(),
                Phase::Stop => nem.stop(step.kind, &ctx(), &rec).unwrap(),
            };
            history.push(nemesis_op(i as u64, OpType::Info, out.f, out.value, 0));
        }
        assert_eq!(nem.active().count(), 0);
        assert!(history.iter().all(|o| o.process == Process::nemesis()));
        let line = history[0].to_json_line();
        assert!(line.contains("\"process\":\"nemesis\""), "{line}");
        nem.heal_all(&ctx(), &rec).unwrap();
    }

    #[test]
    fn partition_events_record_the_grudge() {
        let mut nem = Nemesis::new(
            &[FaultKind::Partition],
            &NemesisOptions {
                partition: PartitionSpec::Primaries,
                ..NemesisOptions::default()
            },
        );
        let out = nem
            .start(FaultKind::Partition, &ctx(), &Recorder::default())
            .unwrap();
        assert_eq!(out.f, "start-partition");
        assert_eq!(out.value["isolated"]["n4"], json!(["n1", "n2", "n3", "n5"]));
        assert!(nem
            .start(FaultKind::Kill, &ctx(), &Recorder::default())
            .is_err());
    }

    #[test]
    fn heal_everything_resumes_and_optionally_restarts() {
        let p = heal_everything_plan(&ctx(), clock::DEFAULT_OFFSET_FILE, false);
        assert!(p
            .steps
            .iter()
            .any(|s| s.action == crate::plan::Action::Db(DbOp::Resume)));
        assert!(!p
            .steps
            .iter()
            .any(|s| s.action == crate::plan::Action::Db(DbOp::Start)));
        let p = heal_everything_plan(&ctx(), clock::DEFAULT_OFFSET_FILE, true);
        assert!(p
            .steps
            .iter()
            .any(|s| s.action == crate::plan::Action::Db(DbOp::Start)));
    }
}
