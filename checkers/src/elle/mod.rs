//! Elle-style transactional checking (Kingsbury & Alvaro, VLDB 2020): list-append and
//! rw-register histories are checked in near-linear time by inferring the order of
//! versions from what reads reveal, building the transaction dependency graph (ww, wr,
//! rw, and optionally process and real-time order) and looking for cycles in it.
//!
//! The pipeline: [`txn`] parses `txn` operations; [`list_append`] or [`rw_register`]
//! infers version orders, reports non-cycle anomalies and draws data edges; [`graph`]
//! builds the petgraph graph; [`cycles`] finds and classifies cycles; [`explain`] puts
//! them in words; [`model`] decides which consistency models the anomalies rule out.

mod cycles;
mod error;
mod explain;
pub mod gen;
mod graph;
mod list_append;
mod model;
mod render;
mod report;
mod rw_register;
mod txn;

#[cfg(test)]
mod tests;

pub use error::ElleError;
pub use model::{ConsistencyModel, UnknownModel};
pub use report::{Anomaly, Cycle, ElleReport, Step, TxnRef};

use crate::history::History;
use crate::Validity;
use explain::{Ctx, Findings, Witness};
use graph::Edges;
use txn::{Txns, Workload};

/// How to check.
#[derive(Debug, Clone)]
pub struct ElleOptions {
    /// The model the history must satisfy; `valid` is about this one.
    pub consistency_model: ConsistencyModel,
    /// Add real-time edges (a txn completed before another was invoked). Always on for
    /// models that need them (strict serializable, strong snapshot isolation).
    pub realtime: bool,
    /// Add process-order edges. Always on for the strong-session models.
    pub process: bool,
    /// Cycles kept per anomaly class (each strongly connected component gives at most one
    /// per class).
    pub max_cycles_per_class: usize,
    /// Anomalies of any other type kept per type; all are counted.
    pub max_anomalies_per_type: usize,
    /// Edge visits the cycle search may make in all. Reaching it leaves
    /// `search_exhausted` set: cycles of some classes may be missing.
    pub max_search_steps: usize,
    /// rw-register only: infer that a txn's write to a key follows the version it read of
    /// that key (Elle's `:wfr-keys?`). Sound for databases that never install a write
    /// under an older version than the one its txn read; off by default as in Elle.
    pub wfr_keys: bool,
    /// rw-register only: assume each key is sequentially consistent, so each process
    /// sees its versions in order (Elle's `:sequential-keys?`).
    pub sequential_keys: bool,
    /// rw-register only: assume each key is linearizable, so versions follow real time
    /// (Elle's `:linearizable-keys?`).
    pub linearizable_keys: bool,
    /// rw-register only: a read of a value no txn wrote is no anomaly, as in Elle (the
    /// database was loaded before the test). Off by default: with unique writes and a
    /// nil initial state such a read is corruption (`garbage-read`).
    pub allow_unwritten_reads: bool,
}

impl Default for ElleOptions {
    fn default() -> Self {
        ElleOptions {
            consistency_model: ConsistencyModel::StrictSerializable,
            realtime: false,
            process: false,
            max_cycles_per_class: 16,
            max_anomalies_per_type: 16,
            max_search_steps: 50_000_000,
            wfr_keys: false,
            sequential_keys: false,
            linearizable_keys: false,
            allow_unwritten_reads: false,
        }
    }
}

impl ElleOptions {
    /// Defaults for checking `model`.
    pub fn for_model(model: ConsistencyModel) -> Self {
        ElleOptions {
            consistency_model: model,
            ..ElleOptions::default()
        }
    }

    fn realtime_edges(&self) -> bool {
        self.realtime || self.consistency_model.needs_realtime()
    }

    fn process_edges(&self) -> bool {
        self.process || self.consistency_model.needs_process()
    }
}

/// Checks a list-append history (`["append", k, v]`, `["r", k, [...]]`).
pub fn check_list_append(h: &History, opts: &ElleOptions) -> Result<ElleReport, ElleError> {
    let t = Txns::parse(h, Workload::ListAppend)?;
    let ctx = Ctx {
        t: &t,
        workload: Workload::ListAppend,
    };
    let mut f = Findings::new(opts.max_anomalies_per_type);
    let mut edges = Edges::default();
    // See `list_append::find_longest` for why this depends on the model.
    let own_appends = opts.consistency_model.forbids("G-single");
    let la = list_append::analyze(&t, &ctx, own_appends, &mut f, &mut edges)?;
    Ok(finish(&ctx, &la, f, edges, opts, false))
}

/// Checks a rw-register history (`["w", k, v]`, `["r", k, v-or-null]`).
pub fn check_rw_register(h: &History, opts: &ElleOptions) -> Result<ElleReport, ElleError> {
    let t = Txns::parse(h, Workload::RwRegister)?;
    let ctx = Ctx {
        t: &t,
        workload: Workload::RwRegister,
    };
    let mut f = Findings::new(opts.max_anomalies_per_type);
    let mut edges = Edges::default();
    let inference = rw_register::Inference {
        wfr: opts.wfr_keys,
        sequential: opts.sequential_keys,
        linearizable: opts.linearizable_keys,
        unwritten_reads: opts.allow_unwritten_reads,
    };
    let rw = rw_register::analyze(&t, &ctx, inference, &mut f, &mut edges)?;
    let truncated = rw.truncated;
    Ok(finish(&ctx, &rw, f, edges, opts, truncated))
}

/// Elle's rule: invalid if the model forbids an anomaly found; unknown if nothing it
/// forbids was found but the search could not be trusted to have seen everything (an
/// empty graph, a search cut short); otherwise valid, even when the history shows
/// anomalies the model allows (read committed allows G2).
fn verdict(model: ConsistencyModel, anomaly_types: &[String]) -> Validity {
    if anomaly_types.iter().any(|a| model.forbids(a)) {
        Validity::Invalid
    } else if anomaly_types.iter().any(|a| {
        matches!(
            a.as_str(),
            "empty-transaction-graph" | "cycle-search-timeout"
        )
    }) {
        Validity::Unknown
    } else {
        Validity::Valid
    }
}

/// Shared by both workloads: the graph, its cycles, the verdict.
fn finish(
    ctx: &Ctx<'_>,
    witness: &dyn Witness,
    mut f: Findings,
    mut edges: Edges,
    opts: &ElleOptions,
    truncated: bool,
) -> ElleReport {
    let t = ctx.t;
    let (process, realtime) = (opts.process_edges(), opts.realtime_edges());
    if process {
        graph::add_process_edges(t, &mut edges);
    }
    // Without invocations there is no real-time order to draw (as in Elle).
    let realtime = realtime && !t.completions_only;
    if realtime {
        graph::add_realtime_edges(t, &mut edges);
    }
    let g = graph::build(t.txns.len(), edges);
    let found = cycles::search(
        &g,
        &cycles::SearchOptions {
            process,
            realtime,
            max_per_class: opts.max_cycles_per_class,
            max_steps: opts.max_search_steps,
        },
    );
    for c in &found.cycles {
        f.add(&c.class, || ctx.cycle_anomaly(witness, c));
    }
    if g.edge_count() == 0 {
        // As Elle's :empty-transaction-graph: no transaction is ordered against any
        // other, so no cycle could be seen whatever the database did. Not a violation,
        // but no evidence of correctness either: the verdict is unknown, not valid.
        f.add("empty-transaction-graph", || Anomaly {
            kind: "empty-transaction-graph".into(),
            txns: Vec::new(),
            key: None,
            value: None,
            cycle: None,
            explanation: "No dependency was inferred between any two transactions (nothing \
                          completed ok, or no read observed another transaction's writes), \
                          so there is nothing to check."
                .into(),
        });
    }
    if found.exhausted || truncated {
        // As Elle's :cycle-search-timeout: a forbidden cycle may be missing.
        f.add("cycle-search-timeout", || Anomaly {
            kind: "cycle-search-timeout".into(),
            txns: Vec::new(),
            key: None,
            value: None,
            cycle: None,
            explanation: "The cycle search hit its step budget: cycles of some classes may \
                          not be reported."
                .into(),
        });
    }
    let anomaly_types: Vec<String> = f.counts.keys().cloned().collect();
    let model = opts.consistency_model;
    let valid = verdict(model, &anomaly_types);
    let (not, also_not) = model::ruled_out(anomaly_types.iter().map(String::as_str));
    ElleReport {
        valid,
        consistency_model: model,
        anomaly_types,
        anomalies: f.map,
        anomaly_counts: f.counts,
        not,
        also_not,
        txn_count: t.txns.len(),
        skipped_ops: t.skipped,
        edge_count: g.edge_count(),
        scc_count: found.scc_count,
        search_exhausted: found.exhausted || truncated,
    }
}
