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

use crate::history::History;
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

/// Checks a history against a model.
pub fn check<M: Model>(history: &History, model: &M, opts: &Options) -> Result<Report, LinError> {
    // The time limit covers everything from here, preparing the searches included.
    let deadline = opts.timeout.map(|t| Instant::now() + t);
    if history.ops.len() >= u32::MAX as usize {
        return Err(LinError::TooLong {
            file: history.source.clone(),
            events: history.ops.len(),
        });
    }
    // Linearizability is about real time: without invocations there is none.
    history.require_invocations("linearizability checking")?;
    let operations = history.operations();
    let groups = problem::split_by_key(&operations);
    let problems = groups
        .into_iter()
        .map(|(key, members)| problem::build(model, history, &operations, key, &members))
        .collect::<Result<Vec<_>, _>>()?;

    let budget = Budget {
        deadline,
        memory_limit: opts.memory_limit,
        memory: AtomicUsize::new(0),
        external: opts.cancel.clone(),
        found_violation: AtomicBool::new(false),
        progress: opts.progress.clone(),
    };
    if let Some(p) = &opts.progress {
        p.keys_total.store(problems.len(), Ordering::Relaxed);
    }
    let mut stats = SearchStats::default();
    // The least progress among keys left undecided, for the reason of an unknown.
    let mut stuck: Option<(u32, u32, Option<serde_json::Value>)> = None;
    let mut deepest: Option<Explanation> = None;

    // Keys are searched in rounds, each key for a slice of configurations that doubles
    // every round. A key that is hard to refute cannot then hold up one that is easy: a
    // violation anywhere is found about as soon as the cheapest one to find.
    let budget_ref = &budget;
    let mut searches: Vec<(usize, search::Search<'_, M>, Option<KeyOutcome>)> = problems
        .iter()
        .enumerate()
        .flat_map(|(i, pb)| {
            [search::Order::Call, search::Order::Return]
                .map(move |order| (i, search::Search::new(model, pb, budget_ref, order), None))
        })
        .collect();
    let mut outcomes: Vec<(usize, KeyOutcome)> = Vec::with_capacity(problems.len());
    let mut decided = vec![false; problems.len()];
    let mut slice = FIRST_SLICE;
    while !searches.is_empty() {
        let step = |(i, s, outcome): &mut (usize, search::Search<'_, M>, Option<KeyOutcome>)| {
            if budget.cancelled() {
                *outcome = Some(KeyOutcome::Aborted(search::Abort::Cancelled));
                return;
            }
            if s.order() == search::Order::Return && slice < SECOND_ORDER_FROM {
                // Most keys are decided at once in invocation order; the second order
                // joins only for keys that turn out hard.
                return;
            }
            *outcome = s.run(slice).map(|result| match result {
                search::SearchResult::Linearizable => KeyOutcome::Valid,
                search::SearchResult::NotLinearizable {
                    best_path,
                    best_states,
                    blame,
                } => {
                    budget.found_violation.store(true, Ordering::Relaxed);
                    KeyOutcome::Invalid(Box::new(explain::explain(
                        model,
                        history,
                        &operations,
                        &problems[*i],
                        &s.states,
                        &search::Deepest {
                            path: &best_path,
                            states: &best_states,
                            blame,
                        },
                    )))
                }
                search::SearchResult::Aborted(a) => KeyOutcome::Aborted(a),
            });
        };
        // A key is decided by the first of its two searches to finish; an aborted one
        // (limits are shared) leaves it unknown.
        // Waking the thread pool costs more than a small search: one active search (the
        // usual single-key history) runs here.
        let active = searches
            .iter()
            .filter(|(_, s, _)| s.order() == search::Order::Call || slice >= SECOND_ORDER_FROM)
            .count();
        if active > 1 {
            searches.par_iter_mut().for_each(step);
        } else {
            searches.iter_mut().for_each(step);
        }
        // A verdict beats its sibling's abort in the same round: a violation found by
        // one search cancels the other.
        let mut finished: Vec<usize> = (0..searches.len())
            .filter(|&j| searches[j].2.is_some())
            .collect();
        finished.sort_by_key(|&j| matches!(searches[j].2, Some(KeyOutcome::Aborted(_))));
        for j in finished {
            let (i, s, outcome) = &mut searches[j];
            let Some(o) = outcome.take() else { continue };
            if decided[*i] {
                continue;
            }
            decided[*i] = true;
            stats.add(&s.stats);
            if let Some(p) = &opts.progress {
                p.keys_done.fetch_add(1, Ordering::Relaxed);
            }
            if matches!(
                o,
                KeyOutcome::Aborted(search::Abort::Timeout | search::Abort::Memory)
            ) {
                let (d, c) = (s.stats.deepest, s.stats.completed);
                if stuck.as_ref().is_none_or(|(sd, sc, _)| d * sc < sd * c) {
                    stuck = Some((d, c, problems[*i].key.clone()));

                    deepest = (d < c).then(|| {
                        explain::explain(
                            model,
                            history,
                            &operations,
                            &problems[*i],
                            &s.states,
                            &s.deepest(),
                        )
                    });
                }
            }
            outcomes.push((*i, o));
        }
        searches.retain(|(i, _, _)| !decided[*i]);
        slice = slice.saturating_mul(2);
    }
    outcomes.sort_by_key(|(i, _)| *i);

    let mut valid = Validity::Valid;
    let mut failures = Vec::new();
    let mut decided = 0;
    let mut abort: Option<search::Abort> = None;
    for (_, o) in outcomes {
        match o {
            KeyOutcome::Valid => decided += 1,
            KeyOutcome::Invalid(e) => {
                decided += 1;
                valid = Validity::Invalid;
                failures.push(*e);
            }
            KeyOutcome::Aborted(a) => {
                valid = valid.merge(Validity::Unknown);
                // A timeout or memory stop says more than the cancellations it caused.
                if abort.is_none() || abort == Some(search::Abort::Cancelled) {
                    abort = Some(a);
                }
            }
        }
    }
    let keys = problems.len();
    let reason = (valid == Validity::Unknown).then(|| {
        let what = match abort {
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
        let progress = match &stuck {
            Some((d, c, key)) => format!(
                "; the search of {} got {d} of {c} completed operations into a linearization",
                key.as_ref()
                    .map_or("the history".to_string(), |k| format!("key {k}"))
            ),
            None => String::new(),
        };
        format!("{what}; {decided} of {keys} keys decided, none invalid{progress}")
    });
    Ok(Report {
        valid,
        model: model.name().to_string(),
        operations: operations.len(),
        keys,
        keys_decided: decided,
        reason,
        failures,
        deepest,
        stats,
    })
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
