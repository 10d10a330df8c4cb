//! Linearizability checking: is there a total order of the operations, consistent with
//! their real-time order, that the model accepts?
//!
//! The history is split per key (P-compositionality: a history is linearizable iff each
//! key's is) and the keys are searched in parallel; the first violation stops the rest.
//! Every search runs under a shared budget (deadline, memory, cancellation) that it looks
//! at from inside its loop, so a limit is honoured within milliseconds.

mod explain;
mod problem;
mod search;

pub use explain::{Explanation, OpView, StepView};

use crate::history::{History, Operation};
use crate::model::Model;
use crate::Validity;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LinError {
    /// An operation the model cannot interpret.
    #[error("{file}:{line}: {message}")]
    BadOperation {
        file: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{file}: the history has {events} events; at most {max} can be checked", max = u32::MAX)]
    TooLong { file: PathBuf, events: usize },
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    /// An initial state the model cannot start from (`Model::state_from_json`).
    #[error("the initial value does not fit: {message}")]
    BadInitialValue { model: String, message: String },
}

/// Limits of a check. All optional; a check without limits runs until it decides.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub timeout: Option<Duration>,
    /// Bytes the search's tables may take (memo, states, transitions), all keys together.
    pub memory_limit: Option<usize>,
    /// Set from outside (Ctrl-C, a caller's own deadline) to stop the check: it returns
    /// `unknown` promptly.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Counters a caller may watch to show progress.
    pub progress: Option<Arc<Progress>>,
    /// How the search spends its effort (never what it answers).
    pub tuning: Tuning,
}

/// Knobs of the search that change how fast it decides, never what it decides: the
/// oracle tests turn them to exercise every rule on small histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Configurations a search enters before it starts watching reads for being
    /// doomed (a read no order of the pending writes can satisfy). Most histories are
    /// decided sooner, and for them making the tables would cost more than the whole
    /// search; 1 uses the rule from the start.
    pub doomed_reads_after: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            doomed_reads_after: 2048,
        }
    }
}

/// Live counters of a running check.
#[derive(Debug, Default)]
pub struct Progress {
    pub keys_total: AtomicUsize,
    pub keys_done: AtomicUsize,
    pub memory_bytes: AtomicUsize,
}

/// What every search of one check shares.
pub(crate) struct Budget {
    deadline: Option<Instant>,
    memory_limit: Option<usize>,
    memory: AtomicUsize,
    external: Option<Arc<AtomicBool>>,
    /// Set when some key turned out invalid: the others need not finish.
    found_violation: AtomicBool,
    progress: Option<Arc<Progress>>,
    pub(crate) tuning: Tuning,
}

impl Budget {
    pub(crate) fn add_memory(&self, bytes: usize) {
        if bytes > 0 {
            let now = self.memory.fetch_add(bytes, Ordering::Relaxed) + bytes;
            if let Some(p) = &self.progress {
                p.memory_bytes.store(now, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn release_memory(&self, bytes: usize) {
        self.memory.fetch_sub(bytes, Ordering::Relaxed);
    }

    pub(crate) fn over_memory(&self) -> bool {
        self.memory_limit
            .is_some_and(|l| self.memory.load(Ordering::Relaxed) > l)
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.found_violation.load(Ordering::Relaxed)
            || self
                .external
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// Counts of the work a check did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchStats {
    /// Configurations the searches entered.
    pub configurations: u64,
    /// Distinct configurations remembered.
    pub memo_entries: u64,
    /// Distinct model states met.
    pub model_states: u64,
}

impl SearchStats {
    fn add(&mut self, s: &search::Stats) {
        self.configurations += s.configurations;
        self.memo_entries += s.memo_entries;
        self.model_states += s.states;
    }
}

/// Configurations each key may search in the first round; later rounds double it.
const FIRST_SLICE: u64 = 4096;
/// The round from which a key is also searched in return order (after about 60,000
/// configurations in invocation order).
const SECOND_ORDER_FROM: u64 = 65536;

/// The outcome of a linearizability check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub valid: Validity,
    pub model: String,
    /// Client operations (invocations) in the history.
    pub operations: usize,
    pub keys: usize,
    /// Keys whose search finished with a verdict.
    pub keys_decided: usize,
    /// Why the verdict is unknown, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One explanation per key found not linearizable.
    pub failures: Vec<Explanation>,
    /// When the verdict is unknown: how far the search of the hardest undecided key got,
    /// told like a violation (the operation it could not yet place, what came before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deepest: Option<Explanation>,
    pub stats: SearchStats,
}

impl Report {
    /// The report for a terminal, after the summary line: why the verdict is unknown and
    /// how far the search got, or the first violations explained.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(reason) = &self.reason {
            s += &format!("  {reason}\n");
        }
        if let Some(d) = &self.deepest {
            s += "  where it stood:\n";
            s += &d.to_text();
        }
        for (i, f) in self.failures.iter().enumerate() {
            if i == 3 {
                s += &format!(
                    "  ... and {} more keys not linearizable\n",
                    self.failures.len() - 3
                );
                break;
            }
            s += &f.to_text();
        }
        s
    }
}

enum KeyOutcome {
    Valid,
    Invalid(Box<Explanation>),
    Aborted(search::Abort),
}

/// One key's search in one order, and what it ended with in the current round.
type Slot<'a, M> = (usize, search::Search<'a, M>, Option<KeyOutcome>);

/// Checks a history against a model.
pub fn check<M: Model>(history: &History, model: &M, opts: &Options) -> Result<Report, LinError> {
    // The time limit covers everything from here, preparing the searches included.
    let deadline = opts.timeout.map(|t| Instant::now() + t);
    let operations = operations_of(history)?;
    let groups = problem::split_by_key(&operations);
    let problems = groups
        .into_iter()
        .map(|(key, members)| problem::build(model, history, &operations, key, &members))
        .collect::<Result<Vec<_>, _>>()?;

    let budget = Budget::new(deadline, opts);
    if let Some(p) = &opts.progress {
        p.keys_total.store(problems.len(), Ordering::Relaxed);
    }
    let ctx = Ctx {
        model,
        history,
        operations: &operations,
        problems: &problems,
        budget: &budget,
    };
    let settled = ctx.search_all(opts.progress.as_deref());
    let tally = Tally::of(settled.outcomes);
    let keys = problems.len();
    let reason = (tally.valid == Validity::Unknown)
        .then(|| unknown_reason(opts, &tally, settled.stuck.as_ref(), keys));
    Ok(Report {
        valid: tally.valid,
        model: model.name().to_string(),
        operations: operations.len(),
        keys,
        keys_decided: tally.decided,
        reason,
        failures: tally.failures,
        deepest: settled.deepest,
        stats: settled.stats,
    })
}

/// The history's operations, once it is known the search can index its events (as
/// `u32`) and that it has invocations: linearizability is about real time, and without
/// invocations there is none.
fn operations_of(history: &History) -> Result<Vec<Operation>, LinError> {
    if history.ops.len() >= u32::MAX as usize {
        return Err(LinError::TooLong {
            file: history.source.clone(),
            events: history.ops.len(),
        });
    }
    history.require_invocations("linearizability checking")?;
    Ok(history.operations())
}

impl Budget {
    /// The budget of a check that started now, with `opts`' limits.
    fn new(deadline: Option<Instant>, opts: &Options) -> Self {
        Budget {
            deadline,
            memory_limit: opts.memory_limit,
            memory: AtomicUsize::new(0),
            external: opts.cancel.clone(),
            found_violation: AtomicBool::new(false),
            progress: opts.progress.clone(),
            tuning: opts.tuning,
        }
    }
}

/// Whether a search in `order` runs in the round of `slice` configurations. Most keys
/// are decided at once in invocation order; the second order joins only for keys that
/// turn out hard.
#[inline]
fn joins_round(order: search::Order, slice: u64) -> bool {
    order == search::Order::Call || slice >= SECOND_ORDER_FROM
}

/// What the searches of one check share, borrowed for the whole check: bundled so that
/// the round driver and the explanations need not pass six arguments around.
struct Ctx<'a, M: Model> {
    model: &'a M,
    history: &'a History,
    operations: &'a [Operation],
    problems: &'a [problem::Problem<M>],
    budget: &'a Budget,
}

impl<'a, M: Model> Ctx<'a, M> {
    /// Searches every key to a verdict or an abort.
    ///
    /// Keys are searched in rounds, each key for a slice of configurations that doubles
    /// every round. A key that is hard to refute cannot then hold up one that is easy: a
    /// violation anywhere is found about as soon as the cheapest one to find.
    fn search_all(&self, progress: Option<&Progress>) -> Settled {
        let mut searches: Vec<Slot<'a, M>> = self
            .problems
            .iter()
            .enumerate()
            .flat_map(|(i, pb)| {
                [search::Order::Call, search::Order::Return].map(move |order| {
                    (
                        i,
                        search::Search::new(self.model, pb, self.budget, order),
                        None,
                    )
                })
            })
            .collect();
        let mut settled = Settled::new(self.problems.len());
        let mut slice = FIRST_SLICE;
        while !searches.is_empty() {
            self.run_round(&mut searches, slice);
            settled.take_finished(self, &mut searches, progress);
            searches.retain(|(i, _, _)| !settled.decided[*i]);
            slice = slice.saturating_mul(2);
        }
        settled.outcomes.sort_by_key(|(i, _)| *i);
        settled
    }

    /// Gives every search still running a slice of `slice` configurations.
    fn run_round(&self, searches: &mut [Slot<'a, M>], slice: u64) {
        let step = |slot: &mut Slot<'a, M>| self.step(slot, slice);
        // Waking the thread pool costs more than a small search: one active search (the
        // usual single-key history) runs here.
        let active = searches
            .iter()
            .filter(|(_, s, _)| joins_round(s.order(), slice))
            .count();
        if active > 1 {
            searches.par_iter_mut().for_each(step);
        } else {
            searches.iter_mut().for_each(step);
        }
    }

    /// One search's turn in a round: its outcome, if it reached one.
    #[inline]
    fn step(&self, (i, s, outcome): &mut Slot<'a, M>, slice: u64) {
        if self.budget.cancelled() {
            *outcome = Some(KeyOutcome::Aborted(search::Abort::Cancelled));
            return;
        }
        if !joins_round(s.order(), slice) {
            return;
        }
        *outcome = s.run(slice).map(|result| self.outcome_of(*i, s, result));
    }

    /// What a finished search says about key `i`. A violation stops the other keys'
    /// searches: one is enough for the verdict.
    fn outcome_of(
        &self,
        i: usize,
        s: &search::Search<'a, M>,
        result: search::SearchResult,
    ) -> KeyOutcome {
        match result {
            search::SearchResult::Linearizable => KeyOutcome::Valid,
            search::SearchResult::NotLinearizable {
                best_path,
                best_states,
                blame,
            } => {
                self.budget.found_violation.store(true, Ordering::Relaxed);
                KeyOutcome::Invalid(Box::new(self.explain(
                    i,
                    s,
                    &search::Deepest {
                        path: &best_path,
                        states: &best_states,
                        blame,
                    },
                )))
            }
            search::SearchResult::Aborted(a) => KeyOutcome::Aborted(a),
        }
    }

    /// Key `i`'s story as far as `deepest` goes, told from search `s`'s states.
    fn explain(
        &self,
        i: usize,
        s: &search::Search<'a, M>,
        deepest: &search::Deepest<'_>,
    ) -> Explanation {
        explain::explain(
            self.model,
            self.history,
            self.operations,
            &self.problems[i],
            &s.states,
            deepest,
        )
    }
}

/// The least progress among keys left undecided by a limit, for the reason of an
/// unknown: `deepest` of `completed` operations linearized, on `key`.
struct Stuck {
    deepest: u32,
    completed: u32,
    key: Option<serde_json::Value>,
}

/// What the rounds have settled so far.
struct Settled {
    /// Per key decided: its outcome; sorted by key once the rounds are over.
    outcomes: Vec<(usize, KeyOutcome)>,
    decided: Vec<bool>,
    stats: SearchStats,
    stuck: Option<Stuck>,
    /// How far the search of the `stuck` key got, told like a violation.
    deepest: Option<Explanation>,
}

impl Settled {
    fn new(keys: usize) -> Self {
        Settled {
            outcomes: Vec::with_capacity(keys),
            decided: vec![false; keys],
            stats: SearchStats::default(),
            stuck: None,
            deepest: None,
        }
    }

    /// Takes the outcomes a round produced. A key is decided by the first of its two
    /// searches to finish; an aborted one (limits are shared) leaves it unknown.
    fn take_finished<'a, M: Model>(
        &mut self,
        ctx: &Ctx<'a, M>,
        searches: &mut [Slot<'a, M>],
        progress: Option<&Progress>,
    ) {
        // A verdict beats its sibling's abort in the same round: a violation found by
        // one search cancels the other.
        let mut finished: Vec<usize> = (0..searches.len())
            .filter(|&j| searches[j].2.is_some())
            .collect();
        finished.sort_by_key(|&j| matches!(searches[j].2, Some(KeyOutcome::Aborted(_))));
        for j in finished {
            let (i, s, outcome) = &mut searches[j];
            let Some(o) = outcome.take() else { continue };
            if self.decided[*i] {
                continue;
            }
            self.decided[*i] = true;
            self.stats.add(&s.stats);
            if let Some(p) = progress {
                p.keys_done.fetch_add(1, Ordering::Relaxed);
            }
            if matches!(
                o,
                KeyOutcome::Aborted(search::Abort::Timeout | search::Abort::Memory)
            ) {
                self.note_stuck(ctx, *i, s);
            }
            self.outcomes.push((*i, o));
        }
    }

    /// Keeps key `i` as the `stuck` one if its search, stopped by a limit, got least far
    /// (as a fraction of its completed operations) of those so far.
    fn note_stuck<'a, M: Model>(&mut self, ctx: &Ctx<'a, M>, i: usize, s: &search::Search<'a, M>) {
        let (d, c) = (s.stats.deepest, s.stats.completed);
        if self
            .stuck
            .as_ref()
            .is_none_or(|st| d * st.completed < st.deepest * c)
        {
            self.stuck = Some(Stuck {
                deepest: d,
                completed: c,
                key: ctx.problems[i].key.clone(),
            });
            self.deepest = (d < c).then(|| ctx.explain(i, s, &s.deepest()));
        }
    }
}

/// What the keys' outcomes add up to.
struct Tally {
    valid: Validity,
    failures: Vec<Explanation>,
    decided: usize,
    /// The abort that best says why the verdict is unknown, if it is.
    abort: Option<search::Abort>,
}

impl Tally {
    fn of(outcomes: Vec<(usize, KeyOutcome)>) -> Self {
        let mut t = Tally {
            valid: Validity::Valid,
            failures: Vec::new(),
            decided: 0,
            abort: None,
        };
        for (_, o) in outcomes {
            match o {
                KeyOutcome::Valid => t.decided += 1,
                KeyOutcome::Invalid(e) => {
                    t.decided += 1;
                    t.valid = Validity::Invalid;
                    t.failures.push(*e);
                }
                KeyOutcome::Aborted(a) => {
                    t.valid = t.valid.merge(Validity::Unknown);
                    // A timeout or memory stop says more than the cancellations it caused.
                    if t.abort.is_none() || t.abort == Some(search::Abort::Cancelled) {
                        t.abort = Some(a);
                    }
                }
            }
        }
        t
    }
}

/// Why the verdict is unknown: the limit that stopped the check, how many of the `keys`
/// were decided, and how far the hardest undecided one got.
fn unknown_reason(opts: &Options, tally: &Tally, stuck: Option<&Stuck>, keys: usize) -> String {
    let what = match tally.abort {
        Some(search::Abort::Timeout) => format!(
            "timed out after {:.1} s",
            opts.timeout.unwrap_or_default().as_secs_f64()
        ),
        Some(search::Abort::Memory) => format!(
            "reached the memory limit of {} MB",
            opts.memory_limit.unwrap_or_default() / (1 << 20)
        ),
        _ => "cancelled".to_string(),
    };
    let progress = match stuck {
        Some(Stuck {
            deepest: d,
            completed: c,
            key,
        }) => format!(
            "; the search of {} got {d} of {c} completed operations into a linearization",
            key.as_ref()
                .map_or("the history".to_string(), |k| format!("key {k}"))
        ),
        None => String::new(),
    };
    let decided = tally.decided;
    format!("{what}; {decided} of {keys} keys decided, none invalid{progress}")
}

/// Checks a history against one of the models faultline knows by name
/// (`crate::check::LinearModel`). `None` if the name is not one of them.
pub fn check_named(
    name: &str,
    history: &History,
    opts: &Options,
) -> Option<Result<Report, LinError>> {
    check_named_from(name, history, opts, None)
}

/// As [`check_model`], the model given by name.
pub fn check_named_from(
    name: &str,
    history: &History,
    opts: &Options,
    initial: Option<&serde_json::Value>,
) -> Option<Result<Report, LinError>> {
    let model = name.parse().ok()?;
    Some(check_model(model, history, opts, initial))
}

/// Checks a history against one of the models faultline knows, starting from the state
/// `initial` describes (JSON, as `Model::state_from_json` reads it) instead of the
/// model's own initial state when given.
pub fn check_model(
    model: crate::check::LinearModel,
    history: &History,
    opts: &Options,
    initial: Option<&serde_json::Value>,
) -> Result<Report, LinError> {
    use crate::check::LinearModel as L;
    use crate::model::*;
    match model {
        L::Register => check_from(history, Register, opts, initial),
        L::CasRegister => check_from(history, CasRegister, opts, initial),
        L::Kv => check_from(history, Kv, opts, initial),
        L::Set => check_from(history, Set, opts, initial),
        L::FifoQueue => check_from(history, FifoQueue, opts, initial),
        L::UnorderedQueue => check_from(history, UnorderedQueue, opts, initial),
        L::Mutex => check_from(history, Mutex, opts, initial),
        L::MultiRegister => check_from(history, MultiRegister, opts, initial),
    }
}

/// Every named model runs wrapped, with or without an initial value, so that each is
/// compiled into one search, not two.
fn check_from<M: Model>(
    history: &History,
    model: M,
    opts: &Options,
    initial: Option<&serde_json::Value>,
) -> Result<Report, LinError>
where
    M::State: Sync,
{
    let model = match initial {
        None => crate::model::StartingAt::from_init(model),
        Some(v) => {
            let name = model.name();
            crate::model::StartingAt::from_json(model, v).map_err(|message| {
                LinError::BadInitialValue {
                    model: name.to_string(),
                    message,
                }
            })?
        }
    };
    check(history, &model, opts)
}
