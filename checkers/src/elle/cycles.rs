//! Finding and naming cycles: Tarjan's strongly connected components, then within each
//! component a breadth-first search for a short cycle of each anomaly class, in order of
//! severity, like Elle's `elle.txn`.
//!
//! A class is a constraint on the relationships along a cycle (only ww for G0; exactly
//! one rw for G-single; ...). The search walks the product of the component with a small
//! state (rw edges so far, whether the last edge was rw, whether a wr / process-or-
//! realtime edge was seen), starting from an "anchor" edge of the rarest relationship the
//! class needs and looking for the shortest way back. Cheap necessary conditions computed
//! from sub-components prune anchors that cannot close; a step budget bounds the rest.

use super::graph::{rel, Graph};
use petgraph::algo::{tarjan_scc, TarjanScc};
use petgraph::graph::NodeIndex;
use petgraph::visit::{EdgeFiltered, EdgeRef};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    G0,
    G1c,
    GSingle,
    GNonadjacent,
    G2Item,
}

impl Base {
    const ALL: [Base; 5] = [
        Base::G0,
        Base::G1c,
        Base::GSingle,
        Base::GNonadjacent,
        Base::G2Item,
    ];

    fn name(self) -> &'static str {
        match self {
            Base::G0 => "G0",
            Base::G1c => "G1c",
            Base::GSingle => "G-single",
            Base::GNonadjacent => "G-nonadjacent",
            Base::G2Item => "G2-item",
        }
    }

    fn data(self) -> u8 {
        match self {
            Base::G0 => rel::WW,
            Base::G1c => rel::WW | rel::WR,
            _ => rel::DATA,
        }
    }
}

/// One cycle class: a base anomaly, possibly needing a process or realtime edge.
#[derive(Debug, Clone, Copy)]
struct Spec {
    base: Base,
    /// 0, `rel::PROCESS` or `rel::REALTIME`: the edge a variant must contain.
    variant: u8,
}

// State bits of the product search.
const RW_COUNT: u8 = 3; // 0, 1, or 2 meaning "two or more"
const LAST_RW: u8 = 4;
const SAW_WR: u8 = 8;
const SAW_VARIANT: u8 = 16;

impl Spec {
    fn name(self) -> String {
        let suffix = match self.variant {
            rel::PROCESS => "-process",
            rel::REALTIME => "-realtime",
            _ => "",
        };
        format!("{}{suffix}", self.base.name())
    }

    fn allowed(self) -> u8 {
        // Process order is real-time order for single-threaded processes, so realtime
        // variants may use process edges too; they must still have a realtime one.
        let extra = match self.variant {
            rel::PROCESS => rel::PROCESS,
            rel::REALTIME => rel::PROCESS | rel::REALTIME,
            _ => 0,
        };
        self.base.data() | extra
    }

    /// The relationship every cycle of the class must contain and that is rarest: the
    /// search starts from edges labelled with it.
    fn anchor(self) -> u8 {
        if self.variant != 0 {
            return self.variant;
        }
        match self.base {
            Base::G0 => rel::WW,
            Base::G1c => rel::WR,
            _ => rel::RW,
        }
    }

    /// The state after following an edge labelled `l`, or `None` if the class forbids it.
    fn step(self, s: u8, l: u8) -> Option<u8> {
        let mut count = s & RW_COUNT;
        if l == rel::RW {
            if self.base == Base::GNonadjacent && s & LAST_RW != 0 {
                return None;
            }
            count = (count + 1).min(2);
            if self.base == Base::GSingle && count > 1 {
                return None;
            }
        }
        let mut out = count | (s & (SAW_WR | SAW_VARIANT));
        if l == rel::RW {
            out |= LAST_RW;
        }
        if l == rel::WR {
            out |= SAW_WR;
        }
        if self.variant != 0 && l == self.variant {
            out |= SAW_VARIANT;
        }
        Some(out)
    }

    /// Whether a closed walk ending in state `s` (its first edge labelled `anchor`) is a
    /// cycle of this class.
    fn accepts(self, s: u8, anchor: u8) -> bool {
        if self.variant != 0 && s & SAW_VARIANT == 0 {
            return false;
        }
        let count = s & RW_COUNT;
        match self.base {
            Base::G0 => true,
            Base::G1c => s & SAW_WR != 0,
            Base::GSingle => count == 1,
            // The last edge closes onto the first: they must not both be rw.
            Base::GNonadjacent => count == 2 && !(s & LAST_RW != 0 && anchor == rel::RW),
            Base::G2Item => count == 2,
        }
    }
}

/// Names a cycle from the labels of its edges, in order.
pub(crate) fn classify(labels: &[u8]) -> String {
    let rws = labels.iter().filter(|&&l| l == rel::RW).count();
    let n = labels.len();
    let adjacent = (0..n).any(|i| labels[i] == rel::RW && labels[(i + 1) % n] == rel::RW);
    let base = match rws {
        0 if labels.contains(&rel::WR) => Base::G1c,
        0 => Base::G0,
        1 => Base::GSingle,
        _ if !adjacent => Base::GNonadjacent,
        _ => Base::G2Item,
    };
    let variant = if labels.contains(&rel::REALTIME) {
        rel::REALTIME
    } else if labels.contains(&rel::PROCESS) {
        rel::PROCESS
    } else {
        0
    };
    Spec { base, variant }.name()
}

/// A cycle found: `steps[i] = (txn, label)` means txn i precedes txn i+1 (wrapping) by
/// relationship `label`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FoundCycle {
    pub class: String,
    pub steps: Vec<(u32, u8)>,
}

pub(crate) struct SearchOptions {
    pub process: bool,
    pub realtime: bool,
    pub max_per_class: usize,
    /// Total edge visits the whole search may make.
    pub max_steps: usize,
}

#[derive(Default)]
pub(crate) struct SearchResult {
    pub cycles: Vec<FoundCycle>,
    /// Components with more than one transaction, i.e. with a cycle.
    pub scc_count: usize,
    /// Whether some search ran out of budget.
    pub exhausted: bool,
}

/// Each component's own budget on top of its share: large enough that any ordinary
/// component is searched fully, small enough that one pathological component cannot
/// starve the rest.
const PER_SEARCH_FLOOR: usize = 200_000;

pub(crate) fn search(g: &Graph, opts: &SearchOptions) -> SearchResult {
    let mut specs: Vec<Spec> = Base::ALL
        .iter()
        .map(|&base| Spec { base, variant: 0 })
        .collect();
    for (on, variant) in [(opts.process, rel::PROCESS), (opts.realtime, rel::REALTIME)] {
        if on {
            specs.extend(Base::ALL.iter().map(|&base| Spec { base, variant }));
        }
    }
    let mut out = SearchResult::default();
    let mut per_class: FxHashMap<String, usize> = FxHashMap::default();
    let mut remaining = opts.max_steps;
    let mut local_of = vec![u32::MAX; g.node_count()];
    // The callback form: `tarjan_scc` would allocate a vector for each of the (mostly
    // single-transaction) components.
    let mut sccs: Vec<Vec<NodeIndex>> = Vec::new();
    TarjanScc::new().run(g, |c: &[NodeIndex]| {
        if c.len() > 1 {
            sccs.push(c.to_vec());
        }
    });
    // Earliest transactions first, so reports read in history order.
    for c in &mut sccs {
        c.sort_unstable();
    }
    sccs.sort_unstable_by_key(|c| c[0]);
    out.scc_count = sccs.len();
    for scc in &sccs {
        let local = local_graph(g, scc, &mut local_of);
        let mut found_any = false;
        let mut exhausted = false;
        let mut found_nonadjacent = [false; 32];
        for &spec in &specs {
            let name = spec.name();
            if per_class.get(&name).copied().unwrap_or(0) >= opts.max_per_class {
                continue;
            }
            // Every G-nonadjacent cycle also has two or more rw edges; report it once.
            if spec.base == Base::G2Item && found_nonadjacent[spec.variant as usize] {
                continue;
            }
            let budget = remaining.min(PER_SEARCH_FLOOR + 8 * local.edge_count());
            let mut left = budget;
            let found = find_in_scc(&local, spec, &mut left);
            remaining -= budget - left;
            let walk = match found {
                Ok(Some(w)) => w,
                Ok(None) => continue,
                Err(Exhausted) => {
                    exhausted = true;
                    continue;
                }
            };
            let cycle = pick_simple(walk, &name);
            if cycle.class == Base::GNonadjacent.name() || cycle.class.starts_with("G-nonadjacent-")
            {
                found_nonadjacent[spec.variant as usize] = true;
            }
            found_any = true;
            *per_class.entry(cycle.class.clone()).or_default() += 1;
            out.cycles.push(globalize(cycle, scc));
        }
        out.exhausted |= exhausted;
        if !found_any && exhausted {
            // The budget ran out before any class matched; every component has a cycle,
            // so report the shortest through its first node under its own name.
            let all = rel::DATA | rel::PROCESS | rel::REALTIME;
            if let Some(steps) = shortest_cycle_through(&local, 0, all) {
                let labels: Vec<u8> = steps.iter().map(|s| s.1).collect();
                let class = classify(&labels);
                *per_class.entry(class.clone()).or_default() += 1;
                out.cycles.push(globalize(FoundCycle { class, steps }, scc));
            }
        }
    }
    out
}

/// The component as its own small graph, nodes numbered by position in `scc`.
fn local_graph(g: &Graph, scc: &[NodeIndex], local_of: &mut [u32]) -> Graph {
    for (i, n) in scc.iter().enumerate() {
        local_of[n.index()] = i as u32;
    }
    let mut local = Graph::with_capacity(scc.len(), scc.len() * 2);
    for _ in scc {
        local.add_node(());
    }
    for (i, &n) in scc.iter().enumerate() {
        for e in g.edges(n) {
            let t = e.target();
            // Membership: the target maps back to itself through this component.
            let j = local_of[t.index()];
            if (j as usize) < scc.len() && scc[j as usize] == t {
                local.add_edge(NodeIndex::new(i), NodeIndex::new(j as usize), *e.weight());
            }
        }
    }
    local
}

/// The component id of each node in the subgraph of edges with a bit of `mask`, numbered
/// in reverse topological order (an edge between components goes to a lower number).
fn components(local: &Graph, mask: u8) -> Vec<u32> {
    let f = EdgeFiltered::from_fn(local, |e| e.weight() & mask != 0);
    let mut comp = vec![0u32; local.node_count()];
    for (i, c) in tarjan_scc(&f).iter().enumerate() {
        for n in c {
            comp[n.index()] = i as u32;
        }
    }
    comp
}

#[derive(Debug)]
struct Exhausted;

/// A closed walk of the class in the component, as `(local node, label)` steps.
fn find_in_scc(
    local: &Graph,
    spec: Spec,
    budget: &mut usize,
) -> Result<Option<Vec<(u32, u8)>>, Exhausted> {
    let allowed = spec.allowed();
    let anchor = spec.anchor();
    // A cycle of the class lies within one component of its allowed edges.
    let comp = components(local, allowed);
    // G-single: the way back from the rw anchor uses no rw, so its end must be reachable
    // from its start in the rw-free subgraph.
    let back = (spec.base == Base::GSingle && spec.variant == 0)
        .then(|| components(local, allowed & !rel::RW));
    for a in local.node_indices() {
        for e in local.edges(a) {
            if rel::label(*e.weight(), allowed) != anchor {
                continue;
            }
            let b = e.target();
            if comp[a.index()] != comp[b.index()] {
                continue;
            }
            if let Some(back) = &back {
                if back[b.index()] < back[a.index()] {
                    continue;
                }
            }
            if let Some(w) = bfs(local, spec, a.index() as u32, b.index() as u32, budget)? {
                return Ok(Some(w));
            }
        }
    }
    Ok(None)
}

/// The shortest walk from `b` back to `a` that, together with the anchor edge `a -> b`,
/// is a cycle of the class.
fn bfs(
    local: &Graph,
    spec: Spec,
    a: u32,
    b: u32,
    budget: &mut usize,
) -> Result<Option<Vec<(u32, u8)>>, Exhausted> {
    const ROOT: u64 = u64::MAX;
    let allowed = spec.allowed();
    let anchor = spec.anchor();
    let key = |n: u32, s: u8| ((n as u64) << 8) | s as u64;
    let node = |k: u64| (k >> 8) as u32;
    let Some(s0) = spec.step(0, anchor) else {
        return Ok(None);
    };
    // Reached state -> (state it was reached from, label of that edge).
    let mut parent: FxHashMap<u64, (u64, u8)> = FxHashMap::default();
    let mut queue = VecDeque::new();
    parent.insert(key(b, s0), (ROOT, anchor));
    queue.push_back(key(b, s0));
    while let Some(k) = queue.pop_front() {
        let s = (k & 0xff) as u8;
        for e in local.edges(NodeIndex::new(node(k) as usize)) {
            if *budget == 0 {
                return Err(Exhausted);
            }
            *budget -= 1;
            let l = rel::label(*e.weight(), allowed);
            if l == 0 {
                continue;
            }
            let Some(s2) = spec.step(s, l) else {
                continue;
            };
            let v = e.target().index() as u32;
            if v == a {
                if spec.accepts(s2, anchor) {
                    let mut rev = vec![(node(k), l)];
                    let mut cur = k;
                    while let Some(&(p, lin)) = parent.get(&cur) {
                        if p == ROOT {
                            break;
                        }
                        rev.push((node(p), lin));
                        cur = p;
                    }
                    rev.push((a, anchor));
                    rev.reverse();
                    return Ok(Some(rev));
                }
                // Walks through the anchor's start again would not be simple.
                continue;
            }
            let k2 = key(v, s2);
            if let std::collections::hash_map::Entry::Vacant(slot) = parent.entry(k2) {
                slot.insert((k, l));
                queue.push_back(k2);
            }
        }
    }
    Ok(None)
}

/// The product search may return a walk that visits a transaction twice (once per
/// state). Such a walk splits into simple cycles; keep the one of the class sought if
/// there is one, else the first, named for what it is.
fn pick_simple(walk: Vec<(u32, u8)>, want: &str) -> FoundCycle {
    let mut cycles: Vec<Vec<(u32, u8)>> = Vec::new();
    let mut stack: Vec<(u32, u8)> = Vec::new();
    for (n, l) in walk {
        if let Some(p) = stack.iter().position(|s| s.0 == n) {
            cycles.push(stack.split_off(p));
        }
        stack.push((n, l));
    }
    cycles.push(stack);
    let named: Vec<FoundCycle> = cycles
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|steps| {
            let labels: Vec<u8> = steps.iter().map(|s| s.1).collect();
            FoundCycle {
                class: classify(&labels),
                steps,
            }
        })
        .collect();
    let i = named.iter().position(|c| c.class == want).unwrap_or(0);
    named
        .into_iter()
        .nth(i)
        .expect("a closed walk of length two or more contains a cycle")
}

/// The shortest cycle through `start`, labels chosen among `allowed`.
fn shortest_cycle_through(local: &Graph, start: u32, allowed: u8) -> Option<Vec<(u32, u8)>> {
    let mut parent: FxHashMap<u32, (u32, u8)> = FxHashMap::default();
    let mut queue = VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for e in local.edges(NodeIndex::new(u as usize)) {
            let l = rel::label(*e.weight(), allowed);
            if l == 0 {
                continue;
            }
            let v = e.target().index() as u32;
            if v == start {
                let mut rev = vec![(u, l)];
                let mut cur = u;
                while cur != start {
                    let (p, lp) = parent[&cur];
                    rev.push((p, lp));
                    cur = p;
                }
                rev.reverse();
                return Some(rev);
            }
            if v != start && !parent.contains_key(&v) {
                parent.insert(v, (u, l));
                queue.push_back(v);
            }
        }
    }
    None
}

fn globalize(c: FoundCycle, scc: &[NodeIndex]) -> FoundCycle {
    FoundCycle {
        class: c.class,
        steps: c
            .steps
            .into_iter()
            .map(|(n, l)| (scc[n as usize].index() as u32, l))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::graph::{build, Edges};

    fn graph(n: usize, es: &[(u32, u32, u8)]) -> Graph {
        let mut e = Edges::default();
        for &(a, b, r) in es {
            e.add(a, b, r);
        }
        build(n, e)
    }

    fn classes(g: &Graph, realtime: bool) -> Vec<String> {
        let r = search(
            g,
            &SearchOptions {
                process: false,
                realtime,
                max_per_class: 10,
                max_steps: 1_000_000,
            },
        );
        r.cycles.into_iter().map(|c| c.class).collect()
    }

    use rel::*;

    #[test]
    fn elle_cycle_classes() {
        assert_eq!(classes(&graph(2, &[(0, 1, WW), (1, 0, WW)]), false), ["G0"]);
        assert_eq!(
            classes(&graph(2, &[(0, 1, WW), (1, 0, WR)]), false),
            ["G1c"]
        );
        assert_eq!(
            classes(&graph(2, &[(0, 1, RW), (1, 0, WR)]), false),
            ["G-single"]
        );
        assert_eq!(
            classes(&graph(2, &[(0, 1, RW), (1, 0, RW)]), false),
            ["G2-item"]
        );
        assert_eq!(
            classes(
                &graph(4, &[(0, 1, RW), (1, 2, WR), (2, 3, RW), (3, 0, WW)]),
                false
            ),
            ["G-nonadjacent"]
        );
        // ww and wr on one edge: the cycle is a G0 and nothing more.
        assert_eq!(
            classes(&graph(2, &[(0, 1, WW | WR), (1, 0, WW)]), false),
            ["G0"]
        );
        // Needs the realtime edge.
        assert_eq!(
            classes(&graph(2, &[(0, 1, RW), (1, 0, REALTIME)]), true),
            ["G-single-realtime"]
        );
        assert!(classes(&graph(3, &[(0, 1, WW), (1, 2, WW)]), false).is_empty());
    }

    #[test]
    fn elle_cycle_search_finds_both_g0_and_g_single_in_one_component() {
        // 0 <-ww-> 1 forms a G0; 1 -rw-> 2 -wr-> 1 forms a G-single.
        let g = graph(3, &[(0, 1, WW), (1, 0, WW), (1, 2, RW), (2, 1, WR)]);
        assert_eq!(classes(&g, false), ["G0", "G-single"]);
    }

    #[test]
    fn elle_classify_names() {
        assert_eq!(classify(&[RW, WW, RW, WR]), "G-nonadjacent");
        assert_eq!(classify(&[RW, RW, WW]), "G2-item");
        assert_eq!(classify(&[WW, PROCESS]), "G0-process");
        assert_eq!(classify(&[WR, PROCESS, REALTIME]), "G1c-realtime");
    }
}
