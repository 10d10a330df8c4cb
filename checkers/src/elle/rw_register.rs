//! Read-write register inference. A read returns one value, so unlike list-append it says
//! little about the order of versions. What is known soundly, as in Elle:
//!
//! - the initial state (no value, `null`) precedes every written version, so a txn that
//!   read nothing precedes every writer of that key (rw);
//! - a read shows who wrote the value (wr), because written values are unique;
//! - optionally (`wfr_keys`), writes follow reads: a txn that read `v1` and then wrote
//!   `v2` to one key installed `v2` after `v1` (ww from `v1`'s writer, rw from `v1`'s
//!   other readers). This assumes transactions never overwrite a version older than the
//!   one they read, which Elle too makes opt-in;
//! - optionally (`sequential_keys`), each process sees each key's versions in order: the
//!   version a txn left a key at precedes the one the process's next txn on that key
//!   saw or wrote (Elle's `:sequential-keys?`);
//! - optionally (`linearizable_keys`), the same along real time: a txn that completed
//!   before another on the same key began saw or left an earlier version (Elle's
//!   `:linearizable-keys?`).
//!
//! Each source of version order is added in turn; one that would make a key's versions
//! cyclic is reported (`cyclic-versions`) and left out for that key. From the version
//! order: ww edges between the writers of consecutive versions, rw edges from the readers
//! of a version to the writer of the next. A read shows its value's writer (wr) only when
//! that write was the writer's last to the key, as in Elle: an intermediate write is G1b,
//! not a dependency. Two txns that read one version of a key and both wrote it are a
//! lost update.

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
    /// The version order inferred beyond the initial state: `(key, earlier, later)`,
    /// with where it came from.
    versions: FxHashMap<(KeyId, Option<Val>, Val), Source>,
}

/// Which assumptions to infer version orders from.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Inference {
    pub wfr: bool,
    pub sequential: bool,
    pub linearizable: bool,
    /// Reads of values no txn wrote are no anomaly (values loaded before the test).
    pub unwritten_reads: bool,
}

/// Where a version order came from, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    WritesFollowReads,
    ProcessOrder,
    RealTime,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::WritesFollowReads => "a txn writes after what it read (--wfr-keys)",
            Source::ProcessOrder => {
                "each process sees a key's versions in order (--sequential-keys)"
            }
            Source::RealTime => "versions follow real time (--linearizable-keys)",
        }
    }
}

/// `(key, earlier version, later version)`; `None` is the initial state.
type VersionEdge = (KeyId, Option<Val>, Option<Val>);

/// How a txn interacted with one key: its external read (first access, a read), and
/// its last write.
#[derive(Debug, Clone, Copy)]
struct Touch {
    key: KeyId,
    ext_read: Option<Option<Val>>,
    last_write: Option<Val>,
}

impl Touch {
    /// The version the txn left the key at.
    fn left(&self) -> Option<Option<Val>> {
        self.last_write.map(Some).or(self.ext_read)
    }

    /// The first version the txn saw or made.
    fn met(&self) -> Option<Option<Val>> {
        self.ext_read.or(self.last_write.map(Some))
    }
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
    inf: Inference,
    f: &mut Findings,
    edges: &mut Edges,
) -> Result<RwRegister<'t>, ElleError> {
    let mut rw = RwRegister {
        t,
        writers: index_writers(t)?,
        truncated: false,
        versions: FxHashMap::default(),
    };
    let mut ext_reads: Vec<ExtRead> = Vec::new();
    // (key, version read, version written after it) by one txn.
    let mut follows: Vec<Follow> = Vec::new();
    rw.check_txns(ctx, f, inf.unwritten_reads, &mut ext_reads, &mut follows);
    rw.lost_updates(ctx, f, &follows);
    let touches = if inf.sequential || inf.linearizable {
        rw.touches()
    } else {
        Vec::new()
    };
    let mut sources: Vec<(Source, Vec<VersionEdge>)> = Vec::new();
    if inf.wfr {
        let e = follows
            .iter()
            .filter(|x| x.1.is_some())
            .map(|&(k, from, to, _)| (k, from, Some(to)))
            .collect();
        sources.push((Source::WritesFollowReads, e));
    }
    if inf.sequential {
        sources.push((Source::ProcessOrder, rw.process_versions(&touches)));
    }
    if inf.linearizable && !t.completions_only {
        sources.push((Source::RealTime, rw.realtime_versions(&touches)));
    }
    for (source, e) in sources {
        rw.add_versions(ctx, f, source, e);
    }
    rw.edges(&ext_reads, edges);
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
        unwritten_ok: bool,
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
                            self.check_value(ctx, f, unwritten_ok, i, key, v);
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

    /// What a read of `v` shows: a value nobody wrote (unless that is allowed), an
    /// aborted or an intermediate write.
    fn check_value(
        &self,
        ctx: &Ctx<'_>,
        f: &mut Findings,
        unwritten_ok: bool,
        i: u32,
        k: KeyId,
        v: Val,
    ) {
        let t = self.t;
        let Some(w) = self.writers.get(&(k, v)) else {
            if unwritten_ok {
                return;
            }
            // Stricter than Elle, which takes such a value for a version nobody is known
            // to have written: with unique writes and a nil initial state it can only
            // be corruption or a write from outside the test (docs/elle.md).
            f.add("garbage-read", || {
                ctx.anomaly(
                    "garbage-read",
                    &[i],
                    Some(k),
                    Some(v),
                    format!(
                        "{} read key {} = {}, a value no txn ever wrote to it (if the \
                         database held it before the test began, check with \
                         --allow-unwritten-reads)",
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

    /// Txns that read one version of a key and then both wrote it: each overwrote the
    /// version without seeing the other's update (Elle's lost-update).
    fn lost_updates(&self, ctx: &Ctx<'_>, f: &mut Findings, follows: &[Follow]) {
        let mut by_read: Vec<(KeyId, Option<Val>, u32)> =
            follows.iter().map(|&(k, r, _, t)| (k, r, t)).collect();
        by_read.sort_unstable();
        by_read.dedup();
        let t = self.t;
        for group in by_read.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            if group.len() < 2 {
                continue;
            }
            let (k, v, _) = group[0];
            let txns: Vec<u32> = group.iter().map(|g| g.2).collect();
            f.add("lost-update", || {
                let who: Vec<String> = txns.iter().map(|&x| ctx.describe(x)).collect();
                ctx.anomaly(
                    "lost-update",
                    &txns,
                    Some(k),
                    v,
                    format!(
                        "{} all read key {} = {} and then wrote it: each update was made \
                         without seeing the others",
                        who.join(", "),
                        t.show_key(k),
                        show_opt(t, v),
                    ),
                )
            });
        }
    }

    /// Per txn, how it touched each key; failed txns touch nothing, and an
    /// indeterminate txn's reads are unknown.
    fn touches(&self) -> Vec<SmallVec<[Touch; 4]>> {
        let t = self.t;
        t.txns
            .iter()
            .map(|tx| {
                let mut out: SmallVec<[Touch; 4]> = SmallVec::new();
                if tx.is_failed() {
                    return out;
                }
                for m in t.mops_of(tx) {
                    let key = m.key();
                    let i = match out.iter().position(|x| x.key == key) {
                        Some(i) => i,
                        None => {
                            out.push(Touch {
                                key,
                                ext_read: None,
                                last_write: None,
                            });
                            out.len() - 1
                        }
                    };
                    let x = &mut out[i];
                    match *m {
                        Mop::Write { value, .. } => x.last_write = Some(value),
                        Mop::Read { value, .. }
                            if x.last_write.is_none() && x.ext_read.is_none() =>
                        {
                            x.ext_read = match value {
                                ReadVal::One(v) => Some(Some(v)),
                                ReadVal::Nil => Some(None),
                                _ => None,
                            };
                        }
                        Mop::Read { .. } => {}
                    }
                }
                out.retain(|x| x.ext_read.is_some() || x.last_write.is_some());
                out
            })
            .collect()
    }

    /// Sequential keys: along each process's ok txns, the version one left a key at
    /// precedes the one the next to touch that key met.
    fn process_versions(&self, touches: &[SmallVec<[Touch; 4]>]) -> Vec<VersionEdge> {
        let mut last: FxHashMap<(u64, KeyId), Option<Val>> = FxHashMap::default();
        let mut out = Vec::new();
        for (i, tx) in self.t.txns.iter().enumerate() {
            if !tx.is_ok() {
                continue;
            }
            for x in &touches[i] {
                if let (Some(prev), Some(met)) = (last.get(&(tx.process, x.key)), x.met()) {
                    if *prev != met {
                        out.push((x.key, *prev, met));
                    }
                }
                if let Some(left) = x.left() {
                    last.insert((tx.process, x.key), left);
                }
            }
        }
        out
    }

    /// Linearizable keys: an ok txn that completed before another touching the same key
    /// was invoked left a version that precedes the one the other met. Only the nearest
    /// successors are linked (those invoked before any successor completed); the rest
    /// follow through them.
    fn realtime_versions(&self, touches: &[SmallVec<[Touch; 4]>]) -> Vec<VersionEdge> {
        // Per key: (invoke, complete or MAX, txn's touch), ok and indeterminate txns.
        let mut per_key: FxHashMap<KeyId, Vec<(usize, usize, Touch)>> = FxHashMap::default();
        for (i, tx) in self.t.txns.iter().enumerate() {
            let complete = match (tx.is_ok(), tx.complete) {
                (true, Some(c)) => c,
                _ => usize::MAX,
            };
            for x in &touches[i] {
                per_key
                    .entry(x.key)
                    .or_default()
                    .push((tx.invoke, complete, *x));
            }
        }
        let mut out = Vec::new();
        for (k, mut txs) in per_key {
            txs.sort_unstable_by_key(|x| x.0);
            // Smallest completion among txns from position i on.
            let mut suffix_min = vec![usize::MAX; txs.len() + 1];
            for i in (0..txs.len()).rev() {
                suffix_min[i] = suffix_min[i + 1].min(txs[i].1);
            }
            for a in &txs {
                let (Some(left), true) = (a.2.left(), a.1 != usize::MAX) else {
                    continue;
                };
                let first = txs.partition_point(|x| x.0 <= a.1);
                let bound = suffix_min[first];
                for b in txs[first..].iter().take_while(|b| b.0 < bound) {
                    if let Some(met) = b.2.met() {
                        if met != left {
                            out.push((k, left, met));
                        }
                    }
                }
            }
        }
        out
    }

    /// Adds one source's version order, key by key, unless it makes a key's versions
    /// cyclic with what is already known (then `cyclic-versions`, and that key keeps
    /// only what it had).
    fn add_versions(
        &mut self,
        ctx: &Ctx<'_>,
        f: &mut Findings,
        source: Source,
        mut new: Vec<VersionEdge>,
    ) {
        new.sort_unstable();
        new.dedup();
        let mut known: FxHashMap<KeyId, Vec<(Option<Val>, Val)>> = FxHashMap::default();
        for &(k, a, b) in self.versions.keys() {
            known.entry(k).or_default().push((a, b));
        }
        for group in new.chunk_by(|a, b| a.0 == b.0) {
            let k = group[0].0;
            let mut g: DiGraph<Option<Val>, (), u32> = DiGraph::new();
            let mut node: FxHashMap<Option<Val>, petgraph::graph::NodeIndex> = FxHashMap::default();
            let mut id = |g: &mut DiGraph<Option<Val>, (), u32>, v: Option<Val>| {
                *node.entry(v).or_insert_with(|| g.add_node(v))
            };
            // The initial state precedes every version: an edge back to it is a cycle.
            let mut back_to_initial: Option<Option<Val>> = None;
            let old = known.get(&k).map(Vec::as_slice).unwrap_or(&[]);
            for &(a, b) in old {
                let (x, y) = (id(&mut g, a), id(&mut g, Some(b)));
                g.add_edge(x, y, ());
            }
            for &(_, a, b) in group {
                if b.is_none() && a.is_some() {
                    back_to_initial = Some(a);
                }
                let (x, y) = (id(&mut g, a), id(&mut g, b));
                g.add_edge(x, y, ());
            }
            let cycle: Option<Vec<Option<Val>>> = match back_to_initial {
                Some(a) => Some(vec![None, a]),
                None => tarjan_scc(&g)
                    .into_iter()
                    .find(|c| c.len() > 1)
                    .map(|c| c.iter().map(|&n| g[n]).collect()),
            };
            match cycle {
                None => {
                    for &(_, a, b) in group {
                        if let Some(b) = b {
                            self.versions.entry((k, a, b)).or_insert(source);
                        }
                    }
                }
                Some(mut vals) => {
                    vals.sort_unstable();
                    let t = self.t;
                    let txns: Vec<u32> = vals
                        .iter()
                        .filter_map(|v| v.and_then(|v| self.writers.get(&(k, v))).map(|w| w.txn))
                        .collect();
                    let shown: Vec<String> = vals.iter().map(|&v| show_opt(t, v)).collect();
                    f.add("cyclic-versions", || {
                        ctx.anomaly(
                            "cyclic-versions",
                            &txns,
                            Some(k),
                            None,
                            format!(
                                "the versions {} of key {} each come after another, so no \
                                 version order exists, once we assume that {}",
                                shown.join(", "),
                                t.show_key(k),
                                source.describe(),
                            ),
                        )
                    });
                }
            }
        }
    }

    /// The writer of `v` to `k`, when that was its last write there and it did not fail.
    fn installer(&self, k: KeyId, v: Val) -> Option<u32> {
        self.writers
            .get(&(k, v))
            .filter(|w| w.is_final && !self.failed(w.txn))
            .map(|w| w.txn)
    }

    fn edges(&mut self, ext_reads: &[ExtRead], edges: &mut Edges) {
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
                    if let Some(w) = self.installer(r.key, v) {
                        edges.add(w, r.txn, rel::WR);
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
        for &(k, from, to) in self.versions.keys() {
            let Some(w2) = self.installer(k, to) else {
                continue;
            };
            if let Some(w1) = from.and_then(|v| self.installer(k, v)) {
                edges.add(w1, w2, rel::WW);
            }
            if from.is_some() {
                // Readers of the initial state already precede every writer.
                if let Some(rs) = readers.get(&(k, from)) {
                    for &r in rs {
                        edges.add(r, w2, rel::RW);
                    }
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
                let v2 = self.final_write(b, k)?;
                let v1 = self.final_write(a, k)?;
                let source = *self.versions.get(&(k, Some(v1), v2))?;
                Some((
                    k,
                    v2,
                    match source {
                        Source::WritesFollowReads => format!(
                            "{bn} read key {} = {}, written by {an}, and then overwrote it with {}",
                            t.show_key(k),
                            t.show(v1),
                            t.show(v2)
                        ),
                        other => format!(
                            "{an} set key {} to {}, and {bn} set it to {}, which came later in \
                             the version order, since {}",
                            t.show_key(k),
                            t.show(v1),
                            t.show(v2),
                            other.describe(),
                        ),
                    },
                ))
            }),
            rel::RW => keys_of(a).into_iter().find_map(|k| {
                let seen = self.external_read(a, k)?;
                let v2 = self.final_write(b, k)?;
                let source = match seen {
                    None => None,
                    Some(v1) => Some(*self.versions.get(&(k, Some(v1), v2))?),
                };
                Some((
                    k,
                    v2,
                    match (seen, source) {
                        (None, _) | (_, None) => format!(
                            "{an} read key {} before any write to it, and {bn} wrote {} to it",
                            t.show_key(k),
                            t.show(v2)
                        ),
                        (Some(v1), Some(Source::WritesFollowReads)) => format!(
                            "{an} read key {} = {}, and {bn} read that value and overwrote it with {}",
                            t.show_key(k),
                            t.show(v1),
                            t.show(v2)
                        ),
                        (Some(v1), Some(other)) => format!(
                            "{an} read key {} = {}, and {bn} set it to {}, which came later in \
                             the version order, since {}",
                            t.show_key(k),
                            t.show(v1),
                            t.show(v2),
                            other.describe(),
                        ),
                    },
                ))
            }),
            _ => None,
        }
    }
}
