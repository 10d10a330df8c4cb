//! The transaction dependency graph: one node per transaction (node index = txn id), one
//! edge per ordered pair, weighted by the set of relationships that order them.

use super::txn::Txns;
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::FxHashMap;

/// Relationship bits. Their numeric order is the order of preference when one edge has
/// several: a cycle is named by its least severe reading (ww before wr before rw, data
/// before process before realtime).
pub(crate) mod rel {
    pub const WW: u8 = 1;
    pub const WR: u8 = 2;
    pub const RW: u8 = 4;
    pub const PROCESS: u8 = 8;
    pub const REALTIME: u8 = 16;
    pub const DATA: u8 = WW | WR | RW;

    pub fn name(r: u8) -> &'static str {
        match r {
            WW => "ww",
            WR => "wr",
            RW => "rw",
            PROCESS => "process",
            REALTIME => "realtime",
            _ => "?",
        }
    }

    /// The preferred relationship among `bits & allowed`, or 0 when there is none.
    pub fn label(bits: u8, allowed: u8) -> u8 {
        let x = bits & allowed;
        x & x.wrapping_neg()
    }
}

pub(crate) type Graph = DiGraph<(), u8, u32>;

/// Edges gathered by the analyses before the graph is built: `(from txn, to txn, rels)`.
#[derive(Default)]
pub(crate) struct Edges(Vec<(u32, u32, u8)>);

impl Edges {
    pub(crate) fn add(&mut self, from: u32, to: u32, r: u8) {
        // A transaction never depends on itself; such pairs come from reads of its own
        // writes.
        if from != to {
            self.0.push((from, to, r));
        }
    }
}

/// Adds process-order edges: each transaction of a process after its previous one.
/// Failed transactions did not happen, so they are skipped (the order passes over them).
pub(crate) fn add_process_edges(t: &Txns, edges: &mut Edges) {
    let mut last: FxHashMap<u64, u32> = FxHashMap::default();
    for (i, tx) in t.txns.iter().enumerate() {
        if tx.is_failed() {
            continue;
        }
        if let Some(prev) = last.insert(tx.process, i as u32) {
            edges.add(prev, i as u32, rel::PROCESS);
        }
    }
}

/// Adds real-time edges, transitively reduced: `a -> b` when `a` completed before `b` was
/// invoked and no `c` sits between them. A sweep keeps the frontier of completed
/// transactions not yet followed by another completed one; it holds about as many as
/// there are concurrent clients, so the edges number O(n × concurrency), not O(n²).
pub(crate) fn add_realtime_edges(t: &Txns, edges: &mut Edges) {
    const NONE: u32 = u32::MAX;
    let end = t
        .txns
        .iter()
        .map(|x| x.complete.unwrap_or(x.invoke).max(x.invoke) + 1)
        .max()
        .unwrap_or(0);
    // For each event position: the txn invoked (even) or completed (odd) there.
    let mut at = vec![NONE; end];
    for (i, tx) in t.txns.iter().enumerate() {
        if tx.is_failed() {
            continue;
        }
        at[tx.invoke] = (i as u32) << 1;
        if let (true, Some(c)) = (tx.is_ok(), tx.complete) {
            at[c] = ((i as u32) << 1) | 1;
        }
    }
    let mut frontier: Vec<u32> = Vec::new();
    for e in at {
        if e == NONE {
            continue;
        }
        let i = e >> 1;
        if e & 1 == 0 {
            for &p in &frontier {
                edges.add(p, i, rel::REALTIME);
            }
        } else {
            // Whatever completed before `i` was invoked now precedes `i`; `i` stands for
            // them from here on.
            let invoked = t.txns[i as usize].invoke;
            frontier.retain(|&p| t.txns[p as usize].complete.unwrap_or(0) > invoked);
            frontier.push(i);
        }
    }
}

/// Builds the graph over `n` transactions, merging parallel edges into one whose weight
/// is the union of their relationships.
pub(crate) fn build(n: usize, edges: Edges) -> Graph {
    let mut es = edges.0;
    es.sort_unstable_by_key(|&(a, b, _)| ((a as u64) << 32) | b as u64);
    let mut g = Graph::with_capacity(n, es.len());
    for _ in 0..n {
        g.add_node(());
    }
    let mut iter = es.into_iter().peekable();
    while let Some((a, b, mut r)) = iter.next() {
        while let Some(&(a2, b2, r2)) = iter.peek() {
            if (a2, b2) != (a, b) {
                break;
            }
            r |= r2;
            iter.next();
        }
        g.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), r);
    }
    g
}
