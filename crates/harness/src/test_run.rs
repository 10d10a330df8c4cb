//! One test run's live part: the clients run the workload's generator while the
//! nemesis follows its fault schedule on another thread, and every fault is healed when
//! the schedule ends, when the run stops early, on Ctrl-C, and on a panic.

use crate::nemesis::{context, ControlExecutor};
use crate::runner::harness::{self, HarnessError};
use crate::runner::{ClientFactory, NamedEvent, RunConfig, RunSummary};
use faultline_checkers::history::OpType;
use faultline_control::Control;
use faultline_nemesis::fault::NemesisContext;
use faultline_nemesis::nemesis::{Nemesis, NemesisOptions};
use faultline_nemesis::net::PartitionSpec;
use faultline_nemesis::{FaultKind, NemesisError, Phase, Schedule};
use faultline_store::RunDir;
use faultline_workloads::gen::Gen;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::Db;

/// The faults of a run and how often they change.
#[derive(Debug, Clone)]
pub struct FaultSchedule {
    pub faults: Vec<FaultKind>,
    pub interval: Duration,
    pub options: NemesisOptions,
}

/// Why the nemesis could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum NemesisRunError {
    /// The schedule asked for is impossible (the user's options).
    #[error("the fault schedule: {0}")]
    Schedule(NemesisError),
    /// A fault could not be healed: the cluster may still be broken.
    #[error("heal: {0}")]
    Heal(NemesisError),
    #[error("the nemesis thread panicked")]
    Panicked,
}

impl NemesisRunError {
    /// Whether the user's options are at fault (exit 254), not the cluster.
    pub fn is_usage(&self) -> bool {
        matches!(self, NemesisRunError::Schedule(_))
    }
}

/// What a run left: the runner's summary, and whether the faults were all healed.
pub struct Ran {
    pub summary: Result<RunSummary, HarnessError>,
    pub healed: Result<(), NemesisRunError>,
}

/// A workload against a database, with its faults.
pub struct TestRun<'a> {
    pub control: &'a Control,
    pub db: &'a dyn Db,
    pub faults: &'a FaultSchedule,
    pub seed: u64,
    pub time_limit: Duration,
    /// Ctrl-C: stop generating, heal, finish the operations in flight.
    pub stop: &'a AtomicBool,
    /// The faults in force, by name, for a progress display.
    pub faults_now: Arc<Mutex<String>>,
}

impl TestRun<'_> {
    /// Runs `generator` with `clients` into `dir`'s history while the nemesis runs;
    /// the nemesis's events go into the same history. Returns once both are done.
    pub fn run(
        &self,
        dir: &RunDir,
        generator: Gen,
        clients: Arc<dyn ClientFactory>,
        mut cfg: RunConfig,
    ) -> Ran {
        let (events_tx, events_rx) = mpsc::channel();
        cfg.events = Some(Mutex::new(events_rx));
        // The nemesis thread ends (and heals) when its time is up, on Ctrl-C, or when
        // the run ends early; the scope joins it either way.
        let clients_done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let nemesis = (!self.faults.faults.is_empty()).then(|| {
                let job = NemesisJob {
                    run: self,
                    done: &clients_done,
                    generator_done: cfg.generator_done.clone(),
                    events: events_tx,
                };
                scope.spawn(move || job.run())
            });
            let summary = harness::execute(dir, generator, clients, &cfg);
            clients_done.store(true, Ordering::SeqCst);
            let healed = match nemesis.map(|h| h.join()) {
                None => Ok(()),
                Some(Ok(r)) => r,
                // The guard healed while unwinding; the panic is a bug to report.
                Some(Err(_)) => Err(NemesisRunError::Panicked),
            };
            Ran { summary, healed }
        })
    }
}

/// The nemesis side of a run: a [`Schedule`] of faults over the control plane, its
/// events into the run's history.
struct NemesisJob<'a> {
    run: &'a TestRun<'a>,
    /// The clients are done (or failed).
    done: &'a AtomicBool,
    /// The generator is exhausted: heal now (the runner waits for our events).
    generator_done: Arc<AtomicBool>,
    events: mpsc::Sender<NamedEvent>,
}

impl NemesisJob<'_> {
    fn event(&self, kind: OpType, f: &str, value: Value, error: Option<String>) {
        // The runner may have returned (the receiver is gone): the event is in the log.
        let _ = self.events.send(NamedEvent {
            process: "nemesis",
            kind,
            f: f.to_string(),
            value,
            error,
        });
    }

    fn show_faults(&self, guard: &HealGuard<'_>) {
        let names: Vec<&str> = guard.nemesis.active().map(|k| k.name()).collect();
        let text = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(",")
        };
        if let Ok(mut f) = self.run.faults_now.lock() {
            *f = text;
        }
    }

    /// Sleeps until `until`, or less when the run stops; false if it stopped.
    fn sleep_until(&self, until: Instant) -> bool {
        loop {
            if self.run.stop.load(Ordering::SeqCst)
                || self.done.load(Ordering::SeqCst)
                || self.generator_done.load(Ordering::SeqCst)
            {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }

    fn run(self) -> Result<(), NemesisRunError> {
        let run = self.run;
        let plan = run.faults;
        let start = Instant::now();
        let end = start + run.time_limit;
        let opts = NemesisOptions {
            seed: run.seed,
            ..plan.options.clone()
        };
        let mut guard = HealGuard {
            nemesis: Nemesis::new(&plan.faults, &opts),
            ctx: context(run.control, Some(run.db), true),
            ex: ControlExecutor::new(run.control, Some(run.db)),
            healed: false,
        };
        let schedule = Schedule::new(plan.faults.clone(), plan.interval, run.seed)
            .map_err(NemesisRunError::Schedule)?;
        let mut at = start;
        for step in schedule {
            at += step.wait;
            // A fault started last holds until the time is up, not just until the
            // step after it would have been due.
            if !self.sleep_until(at.min(end)) || at >= end {
                break;
            }
            // Targets such as primaries need the current leader, asked again before
            // every start: a failover moves it (a Redis primary cut off by the last
            // partition is not the primary any more).
            let needs_primaries = step.kind != FaultKind::Partition
                || plan.options.partition == PartitionSpec::Primaries;
            if step.phase == Phase::Start && needs_primaries {
                guard.ctx.primaries = context(run.control, Some(run.db), false).primaries;
            }
            let f = step.kind.f(step.phase);
            self.event(OpType::Invoke, f, Value::Null, None);
            let r = match step.phase {
                Phase::Start => guard.nemesis.start(step.kind, &guard.ctx, &guard.ex),
                Phase::Stop => guard.nemesis.stop(step.kind, &guard.ctx, &guard.ex),
            };
            match r {
                Ok(outcome) => self.event(OpType::Info, outcome.f, outcome.value, None),
                Err(e) => {
                    // A half-applied fault stays active and is healed below.
                    tracing::warn!("nemesis {f}: {e}");
                    self.event(OpType::Info, f, Value::Null, Some(e.to_string()));
                }
            }
            self.show_faults(&guard);
        }
        tracing::info!("nemesis: healing everything");
        self.event(OpType::Invoke, "heal", Value::Null, None);
        let healed = guard.heal();
        self.event(
            OpType::Info,
            "heal",
            json!("healed"),
            healed.as_ref().err().map(|e| e.to_string()),
        );
        self.show_faults(&guard);
        healed.map_err(NemesisRunError::Heal)
    }
}

/// Heals every enabled fault when dropped unless [`HealGuard::heal`] ran: a panic or
/// an early return in the nemesis thread must not leave a partitioned cluster.
struct HealGuard<'a> {
    nemesis: Nemesis,
    ctx: NemesisContext,
    ex: ControlExecutor<'a>,
    healed: bool,
}

impl HealGuard<'_> {
    fn heal(&mut self) -> Result<(), NemesisError> {
        self.healed = true;
        self.nemesis.heal_all(&self.ctx, &self.ex)
    }
}

impl Drop for HealGuard<'_> {
    fn drop(&mut self) {
        if !self.healed {
            tracing::warn!("nemesis ended without healing: healing now");
            if let Err(e) = self.heal() {
                tracing::error!("heal: {e}");
            }
        }
    }
}
