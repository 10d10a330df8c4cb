//! Read-write register inference. A read returns one value, so unlike list-append it says
//! little about the order of versions. What is known soundly, as in Elle:
//!
//! - the initial state (no value, `null`) precedes every written version, so a txn that
//!   read nothing precedes every writer of that key (rw);
//! - a read shows who wrote the value (wr), because written values are unique;
//! - optionally (`wfr_keys`), writes follow reads: a txn that read `v1` and then wrote
//!   `v2` to one key installed `v2` after `v1` (ww from `v1`'s writer, rw from `v1`'s
//!   other readers). This assumes transactions never overwrite a version older than the
//!   one they read, which Elle too makes opt-in.

use super::error::ElleError;
use super::explain::{Ctx, Findings, Witness};
use super::graph::{rel, Edges};
use super::list_append::{final_writes, index_writers, Writer};
use super::txn::{KeyId, Mop, ReadVal, Txns, Val};
use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

/// At most this many initial-state rw edges per key: they are readers-of-nothing times
/// writers, quadratic on a key that is read empty and written a lot.
const MAX_INITIAL_EDGES_PER_KEY: usize = 1 << 16;

pub(crate) struct RwRegister<'t> {
    t: &'t Txns,
    writers: FxHashMap<(KeyId, Val), Writer>,
    /// Whether the initial-state edges of some key were cut at the cap.
    pub truncated: bool,
}

/// What a txn did to one key so far.
struct RegState {
    key: KeyId,
    /// The value it would read now (`None`: no value).
    current: Option<Val>,
    /// What its first access read, when that access was a read.
    external: Option<Option<Val>>,
}

/// (key, version read, version written after it, txn): writes-follow-reads.
type Follow = (KeyId, Option<Val>, Val, u32);

/// An external read: the first access of a txn to a key, a read.
#[derive(Debug, Clone, Copy)]
struct ExtRead {
    key: KeyId,
    value: Option<Val>,
    txn: u32,
}

pub(crate) fn analyze<'t>(
    t: &'t Txns,
    ctx: &Ctx<'_>,
    wfr: bool,
    f: &mut Findings,
    edges: &mut Edges,
) -> Result<RwRegister<'t>, ElleError> {
    let mut rw = RwRegister {
        t,
        writers: index_writers(t)?,
        truncated: false,
    };
    let mut ext_reads: Vec<ExtRead> = Vec::new();
    // (key, version read, version written after it) by one txn.
    let mut follows: Vec<Follow> = Vec::new();
    rw.check_txns(ctx, f, &mut ext_reads, &mut follows);
    let cyclic = if wfr {
        rw.cyclic_versions(ctx, f, &follows)
    } else {
        vec![false; t.keys.len()]
    };
    rw.edges(&ext_reads, if wfr { &follows } else { &[] }, &cyclic, edges);
    Ok(rw)
}

impl<'t> RwRegister<'t> {
    fn failed(&self, txn: u32) -> bool {
        self.t.txns[txn as usize].is_failed()
    }

    /// Per ok txn: what each read saw (garbage, aborted, intermediate), internal
    /// consistency, external reads and writes-follow-reads pairs.
    fn check_txns(
        &self,
        ctx: &Ctx<'_>,
        f: &mut Findings,
        ext_reads: &mut Vec<ExtRead>,
        follows: &mut Vec<Follow>,
    ) {
        let t = self.t;
        let mut finals = Vec::new();
        let mut state: SmallVec<[RegState; 8]> = SmallVec::new();
        for (i, tx) in t.txns.iter().enumerate() {
            if !tx.is_ok() {
                continue;
            }
            let i = i as u32;
            state.clear();
            let mops = t.mops_of(tx);
            final_writes(mops, &mut finals);
            for (j, m) in mops.iter().enumerate() {
                match *m {
                    Mop::Write { key, value } => match state.iter_mut().find(|s| s.key == key) {
                        Some(s) => {
                            if let (Some(read), true) = (s.external, finals[j]) {
                                follows.push((key, read, value, i));
                            }
                            s.current = Some(value);
                        }
                        None => state.push(RegState {
                            key,
                            current: Some(value),
                            external: None,
                        }),
                    },
                    Mop::Read { key, value } => {
                        let v = match value {
                            ReadVal::One(v) => Some(v),
                            ReadVal::Nil => None,
                            _ => continue,
                        };
                        if let Some(v) = v {
                            self.check_value(ctx, f, i, key, v);
                        }
                        match state.iter_mut().find(|s| s.key == key) {
                            Some(s) => {
                                if s.current != v {
                                    let expected = s.current;
                                    f.add("internal", || {
                                        ctx.anomaly(
                                            "internal",
                                            &[i],
                                            Some(key),
                                            v,
                                            format!(
                                                "{} read key {} = {}, but given its own earlier reads and \
                                                 writes it should have read {}",
                                                ctx.describe(i),
                                                t.show_key(key),
                                                show_opt(t, v),
                                                show_opt(t, expected),
                                            ),
                                        )
                                    });
                                }
                                s.current = v;
                            }
                            None => {
                                ext_reads.push(ExtRead {
                                    key,
                                    value: v,
                                    txn: i,
                                });
                                state.push(RegState {
                                    key,
                                    current: v,
                                    external: Some(v),
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    fn check_value(&self, ctx: &Ctx<'_>, f: &mut Findings, i: u32, k: KeyId, v: Val) {
        let t = self.t;
        let Some(w) = self.writers.get(&(k, v)) else {
            f.add("garbage-read", || {
                ctx.anomaly(
                    "garbage-read",
                    &[i],
                    Some(k),
                    Some(v),
                    format!(
                        "{} read key {} = {}, a value no txn ever wrote to it",
                        ctx.describe(i),
                        t.show_key(k),
                        t.show(v),
                    ),
                )
            });
            return;
        };
        let w = *w;
        if w.txn == i {
            return;
        }
        let (kind, why) = if self.failed(w.txn) {
            ("G1a", "a txn that failed")
        } else if !w.is_final {
            (
                "G1b",
                "a txn that later overwrote it: an intermediate state was visible",
            )
        } else {
            return;
        };
        f.add(kind, || {
            ctx.anomaly(
                kind,
                &[i, w.txn],
                Some(k),
                Some(v),
                format!(
                    "{} read key {} = {}, which was written by {}, {why}",
                    ctx.describe(i),
                    t.show_key(k),
                    t.show(v),
                    ctx.describe(w.txn),
                ),
            )
        });
    }

    /// Writes-follow-reads orders versions; a cycle among them means no version order
    /// exists for that key. Such keys give no ww / rw edges from that order.
    fn cyclic_versions(&self, ctx: &Ctx<'_>, f: &mut Findings, follows: &[Follow]) -> Vec<bool> {
        let mut cyclic = vec![false; self.t.keys.len()];
        let mut g: DiGraph<(KeyId, Val), (), u32> = DiGraph::new();
        let mut node: FxHashMap<(KeyId, Val), petgraph::graph::NodeIndex> = FxHashMap::default();
        for &(k, from, to, _) in follows {
            let Some(from) = from else { continue };
            let mut id = |v: Val| *node.entry((k, v)).or_insert_with(|| g.add_node((k, v)));
            let (a, b) = (id(from), id(to));
            g.add_edge(a, b, ());
        }
        for scc in tarjan_scc(&g) {
            if scc.len() < 2 {
                continue;
            }
            let k = g[scc[0]].0;
            if std::mem::replace(&mut cyclic[k as usize], true) {
                continue;
            }
            let mut vals: Vec<Val> = scc.iter().map(|&n| g[n].1).collect();
            vals.sort_unstable();
            let t = self.t;
            let txns: Vec<u32> = follows
                .iter()
                .filter(|x| x.0 == k && vals.contains(&x.2))
                .map(|x| x.3)
                .collect();
            f.add("cyclic-versions", || {
                ctx.anomaly(
                    "cyclic-versions",
                    &txns,
                    Some(k),
                    None,
                    format!(
                        "txns read and then overwrote the values {} of key {} in a circle: \
                         each was installed after another, so no version order exists",
                        t.show_list(&vals),
                        t.show_key(k),
                    ),
                )
            });
        }
        cyclic
    }

    fn edges(
        &mut self,
        ext_reads: &[ExtRead],
        follows: &[Follow],
        cyclic: &[bool],
        edges: &mut Edges,
    ) {
        let t = self.t;
        // Writers of final versions, per key, and readers of each version.
        let mut installed: Vec<Vec<u32>> = vec![Vec::new(); t.keys.len()];
        let mut finals = Vec::new();
        for (i, tx) in t.txns.iter().enumerate() {
            if tx.is_failed() {
                continue;
            }
            let mops = t.mops_of(tx);
            final_writes(mops, &mut finals);
            for (j, m) in mops.iter().enumerate() {
                if let (Mop::Write { key, .. }, true) = (m, finals[j]) {
                    installed[*key as usize].push(i as u32);
                }
            }
        }
        let mut readers: FxHashMap<(KeyId, Option<Val>), SmallVec<[u32; 2]>> = FxHashMap::default();
        let mut initial_edges = vec![0usize; t.keys.len()];
        for r in ext_reads {
            readers.entry((r.key, r.value)).or_default().push(r.txn);
            match r.value {
                Some(v) => {
                    if let Some(w) = self.writers.get(&(r.key, v)) {
                        if !self.failed(w.txn) {
                            edges.add(w.txn, r.txn, rel::WR);
                        }
                    }
                }
                None => {
                    let ws = &installed[r.key as usize];
                    let n = &mut initial_edges[r.key as usize];
                    if *n + ws.len() > MAX_INITIAL_EDGES_PER_KEY {
                        self.truncated = true;
                        continue;
                    }
                    *n += ws.len();
                    for &w in ws {
                        edges.add(r.txn, w, rel::RW);
                    }
                }
            }
        }
        for &(k, from, _, txn) in follows {
            let Some(from) = from else {
                // The initial state precedes everything: already covered above.
                continue;
            };
            if cyclic[k as usize] {
                continue;
            }
            if let Some(w) = self.writers.get(&(k, from)) {
                if !self.failed(w.txn) {
                    edges.add(w.txn, txn, rel::WW);
                }
            }
            if let Some(rs) = readers.get(&(k, Some(from))) {
                for &r in rs {
                    edges.add(r, txn, rel::RW);
                }
            }
        }
    }

    /// The txn's first access to `key`, when it is a read: its value.
    fn external_read(&self, txn: u32, key: KeyId) -> Option<Option<Val>> {
        for m in self.t.mops_of(&self.t.txns[txn as usize]) {
            match *m {
                Mop::Read { key: k, value } if k == key => {
                    return match value {
                        ReadVal::One(v) => Some(Some(v)),
                        ReadVal::Nil => Some(None),
                        _ => None,
                    }
                }
                Mop::Write { key: k, .. } if k == key => return None,
                _ => {}
            }
        }
        None
    }

    /// The txn's last write to `key`.
    fn final_write(&self, txn: u32, key: KeyId) -> Option<Val> {
        self.t
            .mops_of(&self.t.txns[txn as usize])
            .iter()
            .rev()
            .find_map(|m| match *m {
                Mop::Write { key: k, value } if k == key => Some(value),
                _ => None,
            })
    }
}

fn show_opt(t: &Txns, v: Option<Val>) -> String {
    match v {
        Some(v) => t.show(v),
        None => "nothing (null)".to_string(),
    }
}

impl Witness for RwRegister<'_> {
    fn why(&self, a: u32, b: u32, r: u8, an: &str, bn: &str) -> Option<(KeyId, Val, String)> {
        let t = self.t;
        let keys_of = |x: u32| -> SmallVec<[KeyId; 8]> {
            let mut ks: SmallVec<[KeyId; 8]> = t
                .mops_of(&t.txns[x as usize])
                .iter()
                .map(|m| m.key())
                .collect();
            ks.sort_unstable();
            ks.dedup();
            ks
        };
        let writer = |k: KeyId, v: Val| self.writers.get(&(k, v)).map(|w| w.txn);
        match r {
            rel::WR => keys_of(b).into_iter().find_map(|k| {
                let v = self.external_read(b, k)??;
                (writer(k, v) == Some(a)).then(|| {
                    (k, v, format!("{bn} read key {} = {}, which {an} wrote", t.show_key(k), t.show(v)))
                })
            }),
            rel::WW => keys_of(b).into_iter().find_map(|k| {
                let v1 = self.external_read(b, k)??;
                let v2 = self.final_write(b, k)?;
                (writer(k, v1) == Some(a)).then(|| {
                    (
                        k,
                        v2,
                        format!(
                            "{bn} read key {} = {}, written by {an}, and then overwrote it with {}",
                            t.show_key(k),
                            t.show(v1),
                            t.show(v2)
                        ),
                    )
                })
            }),
            rel::RW => keys_of(a).into_iter().find_map(|k| {
                let seen = self.external_read(a, k)?;
                let v2 = self.final_write(b, k)?;
                match seen {
                    None => Some((
                        k,
                        v2,
                        format!(
                            "{an} read key {} before any write to it, and {bn} wrote {} to it",
                            t.show_key(k),
                            t.show(v2)
                        ),
                    )),
                    Some(v1) => (self.external_read(b, k) == Some(Some(v1))).then(|| {
                        (
                            k,
                            v2,
                            format!(
                                "{an} read key {} = {}, and {bn} read that value and overwrote it with {}",
                                t.show_key(k),
                                t.show(v1),
                                t.show(v2)
                            ),
                        )
                    }),
                }
            }),
            _ => None,
        }
    }
}
