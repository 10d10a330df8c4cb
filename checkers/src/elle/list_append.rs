//! List-append inference: every read of a key returns the whole list, so the longest read
//! gives that key's version order (the order of its appends), and every other read must be
//! a prefix of it. From there: non-cycle anomalies, and ww / wr / rw edges.
//!
//! As in Elle, the longest read's order is used even when other reads contradict it
//! (duplicates, incompatible orders: those are reported, and the cycles they take part in
//! are still found), and an append no read shows is placed after every element the longest
//! read shows: that read is a prefix of the key's true order and the append is not in it.
//!
//! Work is linear in the size of the history plus the total length of reads (each read is
//! compared with the longest once; elements of reads that are prefixes of the longest are
//! not looked up again).

use super::error::ElleError;
use super::explain::{Ctx, Findings, Witness};
use super::graph::{rel, Edges};
use super::txn::{KeyId, Mop, ReadVal, Txns, Val};
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;
use std::collections::hash_map::Entry;

const NONE: u32 = u32::MAX;

/// Who appended a value to a key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writer {
    pub txn: u32,
    /// Whether it is the txn's last append to that key: only that one is visible to
    /// others at commit.
    pub is_final: bool,
    /// Its position in the key's version order (the longest read, each element counted
    /// once), or `NONE` when no read shows it.
    pub pos: u32,
}

/// The longest list read for a key: its version order.
#[derive(Debug, Clone, Copy)]
struct Longest {
    txn: u32,
    start: u32,
    len: u32,
}

pub(crate) struct ListAppend<'t> {
    t: &'t Txns,
    writers: FxHashMap<(KeyId, Val), Writer>,
    longest: Vec<Longest>,
    /// The version order of keys whose longest read repeats an element: that read with
    /// each element kept at its first place. Other keys' order is their longest read.
    deduped: FxHashMap<KeyId, Vec<Val>>,
    /// Positions in the version order of elements no txn appended (garbage).
    unwritten_pos: FxHashMap<(KeyId, Val), u32>,
    /// Per key, the txns (not failed) with an append no read shows, each once.
    unread: Vec<SmallVec<[u32; 2]>>,
    /// Reads that end with their txn's own appends: (txn, key, start, view, full length).
    own_tails: Vec<(u32, KeyId, u32, u32, u32)>,
}

/// For each micro-op of a txn, whether it is the last write to its key in the txn.
pub(crate) fn final_writes(mops: &[Mop], out: &mut Vec<bool>) {
    out.clear();
    out.resize(mops.len(), false);
    let mut seen_small: SmallVec<[KeyId; 8]> = SmallVec::new();
    let mut seen_big: FxHashSet<KeyId> = FxHashSet::default();
    let big = mops.len() > 16;
    for (i, m) in mops.iter().enumerate().rev() {
        if let Mop::Write { key, .. } = *m {
            let first_from_end = if big {
                seen_big.insert(key)
            } else if seen_small.contains(&key) {
                false
            } else {
                seen_small.push(key);
                true
            };
            out[i] = first_from_end;
        }
    }
}

/// Indexes who wrote what; two writes of the same value to one key are an error.
pub(crate) fn index_writers(t: &Txns) -> Result<FxHashMap<(KeyId, Val), Writer>, ElleError> {
    let mut writers: FxHashMap<(KeyId, Val), Writer> = FxHashMap::default();
    writers.reserve(t.mops.len() / 2);
    let mut finals = Vec::new();
    for (i, tx) in t.txns.iter().enumerate() {
        let mops = t.mops_of(tx);
        final_writes(mops, &mut finals);
        for (j, m) in mops.iter().enumerate() {
            let Mop::Write { key, value } = *m else {
                continue;
            };
            match writers.entry((key, value)) {
                Entry::Occupied(o) => {
                    return Err(ElleError::DuplicateWrite {
                        file: t.source.clone(),
                        line: tx.line,
                        first_line: t.txns[o.get().txn as usize].line,
                        key: t.show_key(key),
                        value: t.show(value),
                    })
                }
                Entry::Vacant(v) => {
                    v.insert(Writer {
                        txn: i as u32,
                        is_final: finals[j],
                        pos: NONE,
                    });
                }
            }
        }
    }
    Ok(writers)
}

/// What a txn did to one key so far, for internal consistency.
struct KeyState {
    key: KeyId,
    /// The last list read, if any.
    read: Option<(u32, u32)>,
    /// Appends since.
    appended: SmallVec<[Val; 4]>,
    /// The last element of the txn's first (external) read, when that read came before
    /// any append of its own: `Some(None)` for an empty read.
    external: Option<Option<Val>>,
    wrote_after_external: bool,
}

pub(crate) fn analyze<'t>(
    t: &'t Txns,
    ctx: &Ctx<'_>,
    own_appends_in_order: bool,
    f: &mut Findings,
    edges: &mut Edges,
) -> Result<ListAppend<'t>, ElleError> {
    let writers = index_writers(t)?;
    let nk = t.keys.len();
    let mut la = ListAppend {
        t,
        writers,
        longest: vec![
            Longest {
                txn: NONE,
                start: 0,
                len: 0
            };
            nk
        ],
        deduped: FxHashMap::default(),
        unwritten_pos: FxHashMap::default(),
        unread: vec![SmallVec::new(); nk],
        own_tails: Vec::new(),
    };
    la.find_longest(own_appends_in_order);
    let (first_failed, first_garbage) = la.scan_orders(ctx, f);
    la.check_reads(ctx, f, &first_failed, &first_garbage);
    la.own_tail_duplicates(ctx, f);
    la.scan_appends(ctx, f);
    la.check_txns(ctx, f);
    la.future_reads(ctx, f);
    la.read_edges(edges);
    la.ww_edges(edges);
    Ok(la)
}

impl<'t> ListAppend<'t> {
    fn failed(&self, txn: u32) -> bool {
        self.t.txns[txn as usize].is_failed()
    }

    fn longest_list(&self, k: KeyId) -> &'t [Val] {
        let l = self.longest[k as usize];
        self.t.list(l.start, l.len)
    }

    /// Key `k`'s version order: its longest read, each element once.
    fn order(&self, k: KeyId) -> &[Val] {
        match self.deduped.get(&k) {
            Some(d) => d,
            None => self.longest_list(k),
        }
    }

    /// Where element `e` sits in key `k`'s version order, if it is there.
    fn position(&self, k: KeyId, e: Val) -> Option<u32> {
        match self.writers.get(&(k, e)) {
            Some(w) if w.pos != NONE => Some(w.pos),
            Some(_) => None,
            None => self.unwritten_pos.get(&(k, e)).copied(),
        }
    }

    /// The txns whose appends directly follow a read of key `k` whose view ends in
    /// `last` (`None`: the empty list), in the version order: the writer of the next
    /// element, or, for a read of the whole order, every txn with an append no read
    /// shows. Failed txns are left out.
    fn next_writers(&self, k: KeyId, last: Option<Val>, mut visit: impl FnMut(u32)) {
        let order = self.order(k);
        let next = match last {
            None => 0,
            Some(e) => match self.position(k, e) {
                Some(p) => p as usize + 1,
                None => return,
            },
        };
        match order.get(next) {
            Some(n) => {
                if let Some(w) = self.writers.get(&(k, *n)) {
                    if !self.failed(w.txn) {
                        visit(w.txn);
                    }
                }
            }
            None => self.unread[k as usize].iter().for_each(|&t| visit(t)),
        }
    }

    /// Txn `txn`'s first append to `key` that no read shows.
    fn unread_append(&self, txn: u32, key: KeyId) -> Option<Val> {
        self.t
            .mops_of(&self.t.txns[txn as usize])
            .iter()
            .find_map(|m| match *m {
                Mop::Write { key: k, value }
                    if k == key && self.writers.get(&(k, value))?.pos == NONE =>
                {
                    Some(value)
                }
                _ => None,
            })
    }

    /// The part of a read by txn `i` of key `k` that shows committed state: a read after
    /// the txn's own appends to `k` ends with those appends, which sit wherever the store
    /// put them on commit; only what precedes them is compared with others' reads.
    fn view_len(&self, i: u32, k: KeyId, r: &[Val], appended_before: bool) -> u32 {
        let mut n = r.len();
        if appended_before {
            while n > 0 && self.writers.get(&(k, r[n - 1])).is_some_and(|w| w.txn == i) {
                n -= 1;
            }
        }
        n as u32
    }

    /// Calls `visit(txn, key, start, view length)` for each list read of each ok txn.
    fn for_each_read(&self, mut visit: impl FnMut(u32, KeyId, u32, u32)) {
        self.for_each_read_in_full(|i, key, start, view, _| visit(i, key, start, view));
    }

    /// As `for_each_read`, with the read's whole length last.
    fn for_each_read_in_full(&self, mut visit: impl FnMut(u32, KeyId, u32, u32, u32)) {
        let mut appended: SmallVec<[KeyId; 8]> = SmallVec::new();
        for (i, tx) in self.t.txns.iter().enumerate() {
            if !tx.is_ok() {
                continue;
            }
            appended.clear();
            for m in self.t.mops_of(tx) {
                match *m {
                    Mop::Write { key, .. } => {
                        if !appended.contains(&key) {
                            appended.push(key);
                        }
                    }
                    Mop::Read {
                        key,
                        value: ReadVal::List { start, len },
                    } => {
                        let r = self.t.list(start, len);
                        let n = self.view_len(i as u32, key, r, appended.contains(&key));
                        visit(i as u32, key, start, n, len);
                    }
                    Mop::Read { .. } => {}
                }
            }
        }
    }

    /// The views of txn `i`'s reads: `(key, start, view length)`.
    fn views_of(&self, i: u32) -> Vec<(KeyId, u32, u32)> {
        let mut appended: SmallVec<[KeyId; 8]> = SmallVec::new();
        let mut out = Vec::new();
        for m in self.t.mops_of(&self.t.txns[i as usize]) {
            match *m {
                Mop::Write { key, .. } => appended.push(key),
                Mop::Read {
                    key,
                    value: ReadVal::List { start, len },
                } => {
                    let r = self.t.list(start, len);
                    out.push((
                        key,
                        start,
                        self.view_len(i, key, r, appended.contains(&key)),
                    ));
                }
                Mop::Read { .. } => {}
            }
        }
        out
    }

    /// Where the read of `key` starting at `start` in txn `i` ends.
    fn end_of_read(&self, i: u32, key: KeyId, start: u32) -> u32 {
        self.t
            .mops_of(&self.t.txns[i as usize])
            .iter()
            .find_map(|m| match *m {
                Mop::Read {
                    key: k,
                    value: ReadVal::List { start: s, len },
                } if k == key && s == start => Some(s + len),
                _ => None,
            })
            .unwrap_or(start)
    }

    /// Each key's longest read, as seen by others: a read's own appends at its end are
    /// left out (they sit wherever the store put them on commit).
    ///
    /// With `own_appends_in_order`, a read that shows the whole of that order and then
    /// its txn's own appends also places those appends, as Elle does with every read:
    /// when exactly one txn did so for a key, its appends come next in the order. That
    /// is only safe when the model asked for forbids G-single: if another committed
    /// append came between, the reader missed it and overwrote it (rw one way, ww the
    /// other), a G-single, so the history is invalid whichever order is taken. Under
    /// weaker models (read committed lets a txn append on a stale read), the inference
    /// could invent a cycle, so it is not made.
    fn find_longest(&mut self, own_appends_in_order: bool) {
        let mut longest = std::mem::take(&mut self.longest);
        let mut tails = std::mem::take(&mut self.own_tails);
        self.for_each_read_in_full(|i, key, start, len, full| {
            let l = &mut longest[key as usize];
            if len > l.len || l.txn == NONE {
                *l = Longest { txn: i, start, len };
            }
            if full > len {
                tails.push((i, key, start, len, full));
            }
        });
        if own_appends_in_order {
            // Per key: the one txn whose read extends the order with its own appends,
            // `Some(None)` once two txns did.
            let mut ext: Vec<Option<Option<Longest>>> = vec![None; longest.len()];
            for &(i, key, start, view, full) in &tails {
                let l = longest[key as usize];
                if view != l.len || l.txn == NONE {
                    continue;
                }
                if self.t.list(start, view) != self.t.list(l.start, l.len) {
                    continue;
                }
                let e = &mut ext[key as usize];
                *e = match *e {
                    None => Some(Some(Longest {
                        txn: i,
                        start,
                        len: full,
                    })),
                    Some(Some(c)) if c.txn == i => Some(Some(if full > c.len {
                        Longest {
                            txn: i,
                            start,
                            len: full,
                        }
                    } else {
                        c
                    })),
                    _ => Some(None),
                };
            }
            for (k, e) in ext.into_iter().enumerate() {
                if let Some(Some(c)) = e {
                    longest[k] = c;
                }
            }
        }
        self.longest = longest;
        self.own_tails = tails;
    }

    /// Walks each key's version order once: positions, duplicates, dirty updates, and
    /// where the first aborted or never-written element sits (reads longer than that
    /// include it).
    fn scan_orders(&mut self, ctx: &Ctx<'_>, f: &mut Findings) -> (Vec<u32>, Vec<u32>) {
        let nk = self.t.keys.len();
        let mut first_failed = vec![NONE; nk];
        let mut first_garbage = vec![NONE; nk];
        let mut seen: FxHashSet<Val> = FxHashSet::default();
        for k in 0..nk as KeyId {
            let list = self.longest_list(k);
            if list.is_empty() {
                continue;
            }
            seen.clear();
            let mut dups: Vec<Val> = Vec::new();
            let mut dirty = false;
            // Position in the order of distinct elements; `i` counts the read's elements.
            let mut distinct = 0u32;
            for (i, &e) in list.iter().enumerate() {
                if !seen.insert(e) {
                    dups.push(e);
                    continue;
                }
                let pos = distinct;
                distinct += 1;
                let Some(w) = self.writers.get_mut(&(k, e)) else {
                    self.unwritten_pos.insert((k, e), pos);
                    if first_garbage[k as usize] == NONE {
                        first_garbage[k as usize] = i as u32;
                    }
                    continue;
                };
                w.pos = pos;
                let w = *w;
                let ff = first_failed[k as usize];
                if self.failed(w.txn) {
                    if ff == NONE {
                        first_failed[k as usize] = i as u32;
                    }
                } else if ff != NONE && !dirty {
                    dirty = true;
                    let bad = list[ff as usize];
                    let aborted = self.writers[&(k, bad)].txn;
                    f.add("dirty-update", || {
                        ctx.anomaly(
                            "dirty-update",
                            &[w.txn, aborted],
                            Some(k),
                            Some(bad),
                            format!(
                                "{} appended {} to key {}, after {} appended {}, but that txn failed: \
                                 a committed write built on an aborted one (key {} read as {})",
                                ctx.describe(w.txn),
                                self.t.show(e),
                                self.t.show_key(k),
                                ctx.describe(aborted),
                                self.t.show(bad),
                                self.t.show_key(k),
                                ctx.show_list(list),
                            ),
                        )
                    });
                }
            }
            if !dups.is_empty() {
                let mut once = FxHashSet::default();
                let order: Vec<Val> = list.iter().copied().filter(|e| once.insert(*e)).collect();
                self.deduped.insert(k, order);
                let reader = self.longest[k as usize].txn;
                f.add("duplicate-elements", || {
                    ctx.anomaly(
                        "duplicate-elements",
                        &[reader],
                        Some(k),
                        Some(dups[0]),
                        format!(
                            "{} read key {} = {}, in which {} appear more than once; \
                             each value is appended once",
                            ctx.describe(reader),
                            self.t.show_key(k),
                            ctx.show_list(list),
                            self.t.show_list(&dups),
                        ),
                    )
                });
            }
        }
        (first_failed, first_garbage)
    }

    /// Every read of every ok txn: compatible with the version order? reading aborted,
    /// never-written or intermediate values?
    fn check_reads(
        &mut self,
        ctx: &Ctx<'_>,
        f: &mut Findings,
        first_failed: &[u32],
        first_garbage: &[u32],
    ) {
        let mut incompatible_reported = vec![false; self.t.keys.len()];
        self.for_each_read(|i, k, start, len| {
            let r = self.t.list(start, len);
            let longest = self.longest_list(k);
            if longest.len() < r.len() || longest[..r.len()] != *r {
                if !incompatible_reported[k as usize] {
                    incompatible_reported[k as usize] = true;
                    let other = self.longest[k as usize].txn;
                    f.add("incompatible-order", || {
                        ctx.anomaly(
                            "incompatible-order",
                            &[i, other],
                            Some(k),
                            None,
                            format!(
                                "{} read key {} = {}, but {} read it as {}; neither is a \
                                 prefix of the other, so no one order of appends gives both",
                                ctx.describe(i),
                                self.t.show_key(k),
                                ctx.show_list(r),
                                ctx.describe(other),
                                ctx.show_list(longest),
                            ),
                        )
                    });
                }
                self.check_elements(ctx, f, i, k, r);
            } else {
                let ff = first_failed[k as usize];
                if len > ff {
                    self.aborted_read(ctx, f, i, k, r, longest[ff as usize]);
                }
                let fg = first_garbage[k as usize];
                if len > fg {
                    self.garbage_read(ctx, f, i, k, r, longest[fg as usize]);
                }
            }
            if let Some(&e) = r.last() {
                self.intermediate_read(ctx, f, i, k, r, e);
            }
        });
    }

    /// A txn's appends to a key sit in the version order in the order it made them, and
    /// none is missing before one that is there; otherwise no serial execution gives
    /// the order read. Stricter than Elle, which draws no edge between one txn's appends
    /// and so misses a txn's own appends read swapped.
    ///
    /// The same pass notes the txns with an append no read shows.
    fn scan_appends(&mut self, ctx: &Ctx<'_>, f: &mut Findings) {
        let mut last: SmallVec<[(KeyId, u32, Val); 8]> = SmallVec::new();
        for (i, tx) in self.t.txns.iter().enumerate() {
            if tx.is_failed() {
                continue;
            }
            last.clear();
            for m in self.t.mops_of(tx) {
                let Mop::Write { key, value } = *m else {
                    continue;
                };
                let pos = self.writers[&(key, value)].pos;
                let unread = &mut self.unread[key as usize];
                if pos == NONE && unread.last() != Some(&(i as u32)) {
                    unread.push(i as u32);
                }
                let prev = last.iter().position(|x| x.0 == key);
                let bad = match prev.map(|j| last[j]) {
                    Some((_, p, before)) if pos != NONE && (p == NONE || pos < p) => {
                        Some((before, p == NONE))
                    }
                    _ => None,
                };
                match prev {
                    Some(j) => last[j] = (key, pos, value),
                    None => last.push((key, pos, value)),
                }
                let Some((before, missing)) = bad else {
                    continue;
                };
                let i = i as u32;
                let order = self.order(key);
                f.add("incompatible-order", || {
                    let how = if missing {
                        "no read shows the earlier one, though reads show the later"
                    } else {
                        "the longest read has them the other way round"
                    };
                    ctx.anomaly(
                        "incompatible-order",
                        &[i],
                        Some(key),
                        Some(value),
                        format!(
                            "{} appended {} and then {} to key {}, but {how} (key {} was \
                             read as {}): no order of whole transactions gives that",
                            ctx.describe(i),
                            self.t.show(before),
                            self.t.show(value),
                            self.t.show_key(key),
                            self.t.show_key(key),
                            ctx.show_list(order),
                        ),
                    )
                });
            }
        }
    }

    /// The own appends that end a read are left out of its view; one of them that is
    /// also in the view, or twice in the tail, is a duplicate all the same.
    fn own_tail_duplicates(&self, ctx: &Ctx<'_>, f: &mut Findings) {
        for &(i, k, start, view, full) in &self.own_tails {
            let r = self.t.list(start, full);
            let (seen, tail) = r.split_at(view as usize);
            let dup = tail
                .iter()
                .enumerate()
                .find(|(j, e)| seen.contains(e) || tail[..*j].contains(e))
                .map(|(_, e)| *e);
            if let Some(e) = dup {
                f.add("duplicate-elements", || {
                    ctx.anomaly(
                        "duplicate-elements",
                        &[i],
                        Some(k),
                        Some(e),
                        format!(
                            "{} read key {} = {}, in which {} appears more than once",
                            ctx.describe(i),
                            self.t.show_key(k),
                            ctx.show_list(r),
                            self.t.show(e),
                        ),
                    )
                });
            }
        }
    }

    /// A read that is not a prefix of the version order: look at each of its elements.
    fn check_elements(&self, ctx: &Ctx<'_>, f: &mut Findings, i: u32, k: KeyId, r: &[Val]) {
        let mut aborted = None;
        let mut garbage = None;
        let mut seen: FxHashSet<Val> = FxHashSet::default();
        let mut dups = Vec::new();
        for &e in r {
            if !seen.insert(e) {
                dups.push(e);
            }
            match self.writers.get(&(k, e)) {
                None => garbage = garbage.or(Some(e)),
                Some(w) if self.failed(w.txn) => aborted = aborted.or(Some(e)),
                Some(_) => {}
            }
        }
        if let Some(e) = aborted {
            self.aborted_read(ctx, f, i, k, r, e);
        }
        if let Some(e) = garbage {
            self.garbage_read(ctx, f, i, k, r, e);
        }
        if !dups.is_empty() {
            f.add("duplicate-elements", || {
                ctx.anomaly(
                    "duplicate-elements",
                    &[i],
                    Some(k),
                    Some(dups[0]),
                    format!(
                        "{} read key {} = {}, in which {} appear more than once",
                        ctx.describe(i),
                        self.t.show_key(k),
                        ctx.show_list(r),
                        self.t.show_list(&dups),
                    ),
                )
            });
        }
    }

    fn aborted_read(&self, ctx: &Ctx<'_>, f: &mut Findings, i: u32, k: KeyId, r: &[Val], e: Val) {
        let w = self.writers[&(k, e)].txn;
        f.add("G1a", || {
            ctx.anomaly(
                "G1a",
                &[i, w],
                Some(k),
                Some(e),
                format!(
                    "{} read key {} = {}, including {}, which was appended by {}, a txn that failed",
                    ctx.describe(i),
                    self.t.show_key(k),
                    ctx.show_list(r),
                    self.t.show(e),
                    ctx.describe(w),
                ),
            )
        });
    }

    fn garbage_read(&self, ctx: &Ctx<'_>, f: &mut Findings, i: u32, k: KeyId, r: &[Val], e: Val) {
        f.add("garbage-read", || {
            ctx.anomaly(
                "garbage-read",
                &[i],
                Some(k),
                Some(e),
                format!(
                    "{} read key {} = {}, including {}, which no txn ever appended to key {}",
                    ctx.describe(i),
                    self.t.show_key(k),
                    ctx.show_list(r),
                    self.t.show(e),
                    self.t.show_key(k),
                ),
            )
        });
    }

    /// G1b: the read ends on an append that its txn followed with another append to the
    /// same key, so the reader saw the writer's state mid-transaction.
    fn intermediate_read(
        &self,
        ctx: &Ctx<'_>,
        f: &mut Findings,
        i: u32,
        k: KeyId,
        r: &[Val],
        e: Val,
    ) {
        let Some(w) = self.writers.get(&(k, e)) else {
            return;
        };
        if w.txn == i || w.is_final || self.failed(w.txn) {
            return;
        }
        let w = w.txn;
        f.add("G1b", || {
            ctx.anomaly(
                "G1b",
                &[i, w],
                Some(k),
                Some(e),
                format!(
                    "{} read key {} = {}, ending in {}, but {} appended more to key {} after {}: \
                     an intermediate state of that txn was visible",
                    ctx.describe(i),
                    self.t.show_key(k),
                    ctx.show_list(r),
                    self.t.show(e),
                    ctx.describe(w),
                    self.t.show_key(k),
                    self.t.show(e),
                ),
            )
        });
    }

    /// Per ok txn: internal consistency, and read-then-append pairs for lost updates.
    fn check_txns(&self, ctx: &Ctx<'_>, f: &mut Findings) {
        let mut updates: Vec<(KeyId, Option<Val>, u32)> = Vec::new();
        let mut states: Vec<KeyState> = Vec::new();
        for (i, tx) in self.t.txns.iter().enumerate() {
            if !tx.is_ok() {
                continue;
            }
            let i = i as u32;
            states.clear();
            for m in self.t.mops_of(tx) {
                match *m {
                    Mop::Write { key, value } => match states.iter_mut().find(|s| s.key == key) {
                        Some(s) => {
                            s.appended.push(value);
                            s.wrote_after_external |= s.external.is_some();
                        }
                        None => states.push(KeyState {
                            key,
                            read: None,
                            appended: SmallVec::from_slice(&[value]),
                            external: None,
                            wrote_after_external: false,
                        }),
                    },
                    Mop::Read {
                        key,
                        value: ReadVal::List { start, len },
                    } => {
                        let r = self.t.list(start, len);
                        match states.iter_mut().find(|s| s.key == key) {
                            Some(s) => {
                                self.check_internal(ctx, f, i, s, r);
                                s.read = Some((start, len));
                                s.appended.clear();
                            }
                            None => {
                                states.push(KeyState {
                                    key,
                                    read: Some((start, len)),
                                    appended: SmallVec::new(),
                                    external: Some(r.last().copied()),
                                    wrote_after_external: false,
                                });
                            }
                        }
                    }
                    Mop::Read { .. } => {}
                }
            }
            for s in &states {
                if let (Some(v), true) = (s.external, s.wrote_after_external) {
                    updates.push((s.key, v, i));
                }
            }
        }
        self.lost_updates(ctx, f, updates);
    }

    /// A read that shows an element its own txn appends only later: the txn saw its own
    /// future (Elle's future-read; it implies G1c).
    fn future_reads(&self, ctx: &Ctx<'_>, f: &mut Findings) {
        for (i, tx) in self.t.txns.iter().enumerate() {
            if !tx.is_ok() {
                continue;
            }
            let mops = self.t.mops_of(tx);
            'reads: for (j, m) in mops.iter().enumerate() {
                let Mop::Read {
                    key,
                    value: ReadVal::List { start, len },
                } = *m
                else {
                    continue;
                };
                let r = self.t.list(start, len);
                for (later, w) in mops.iter().enumerate().skip(j + 1) {
                    let Mop::Write { key: k, value } = *w else {
                        continue;
                    };
                    if k != key || !r.contains(&value) {
                        continue;
                    }
                    let i = i as u32;
                    f.add("future-read", || {
                        ctx.anomaly(
                            "future-read",
                            &[i],
                            Some(key),
                            Some(value),
                            format!(
                                "{} read key {} = {} (micro-op {j}), which includes {}, but the \
                                 txn itself appends {} to key {} only later (micro-op {later}): \
                                 it observed its own future write",
                                ctx.describe(i),
                                self.t.show_key(key),
                                ctx.show_list(r),
                                self.t.show(value),
                                self.t.show(value),
                                self.t.show_key(key),
                            ),
                        )
                    });
                    break 'reads;
                }
            }
        }
    }

    fn check_internal(&self, ctx: &Ctx<'_>, f: &mut Findings, i: u32, s: &KeyState, r: &[Val]) {
        let consistent = match s.read {
            Some((start, len)) => {
                let before = self.t.list(start, len);
                r.len() == before.len() + s.appended.len()
                    && r[..before.len()] == *before
                    && r[before.len()..] == s.appended[..]
            }
            // Only its own appends are known: the read must end with them.
            None => r.ends_with(&s.appended),
        };
        if consistent {
            return;
        }
        let expected = match s.read {
            Some((start, len)) => {
                let mut e = self.t.list(start, len).to_vec();
                e.extend_from_slice(&s.appended);
                ctx.show_list(&e)
            }
            None => format!("a list ending in {}", self.t.show_list(&s.appended)),
        };
        f.add("internal", || {
            ctx.anomaly(
                "internal",
                &[i],
                Some(s.key),
                None,
                format!(
                    "{} read key {} = {}, but given its own earlier reads and appends it should \
                     have read {}",
                    ctx.describe(i),
                    self.t.show_key(s.key),
                    ctx.show_list(r),
                    expected,
                ),
            )
        });
    }

    /// What a read shows of others: the writer of the last element of its view came
    /// before (wr), the writers of what follows that element in the version order came
    /// after (rw): the next element's, or for a read of the whole order, those of the
    /// appends no read shows. The view of a read after the txn's own appends is the state
    /// they were added to.
    fn read_edges(&self, edges: &mut Edges) {
        self.for_each_read(|i, k, start, len| {
            let r = self.t.list(start, len);
            if let Some(e) = r.last() {
                if let Some(w) = self.writers.get(&(k, *e)) {
                    if !self.failed(w.txn) {
                        edges.add(w.txn, i, rel::WR);
                    }
                }
            }
            self.next_writers(k, r.last().copied(), |w| edges.add(i, w, rel::RW));
        });
    }

    /// Consecutive elements of a version order: the earlier's writer came first; the
    /// writer of its last element came before every append no read shows.
    fn ww_edges(&self, edges: &mut Edges) {
        for k in 0..self.t.keys.len() as KeyId {
            let list = self.order(k);
            let mut prev: Option<u32> = None;
            for e in list {
                let w = match self.writers.get(&(k, *e)) {
                    Some(w) if !self.failed(w.txn) => w.txn,
                    _ => {
                        prev = None;
                        continue;
                    }
                };
                if let Some(p) = prev {
                    edges.add(p, w, rel::WW);
                }
                prev = Some(w);
            }
            if let Some(p) = prev {
                for &u in &self.unread[k as usize] {
                    edges.add(p, u, rel::WW);
                }
            }
        }
    }

    /// Txns that read the same version of a key and then appended to it: each appended
    /// without seeing the other's update.
    fn lost_updates(
        &self,
        ctx: &Ctx<'_>,
        f: &mut Findings,
        mut updates: Vec<(KeyId, Option<Val>, u32)>,
    ) {
        updates.sort_unstable();
        for group in updates.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            if group.len() < 2 {
                continue;
            }
            let (k, v, _) = group[0];
            let txns: Vec<u32> = group.iter().map(|g| g.2).collect();
            f.add("lost-update", || {
                let who: Vec<String> = txns.iter().map(|&t| ctx.describe(t)).collect();
                let version = match v {
                    Some(v) => format!("as the version ending in {}", self.t.show(v)),
                    None => "empty".to_string(),
                };
                ctx.anomaly(
                    "lost-update",
                    &txns,
                    Some(k),
                    v,
                    format!(
                        "{} all read key {} {} and then appended to it: each update was made \
                         without seeing the others",
                        who.join(", "),
                        self.t.show_key(k),
                        version,
                    ),
                )
            });
        }
    }
}

impl Witness for ListAppend<'_> {
    fn why(&self, a: u32, b: u32, r: u8, an: &str, bn: &str) -> Option<(KeyId, Val, String)> {
        let ta = &self.t.txns[a as usize];
        let show = |v: Val| self.t.show(v);
        match r {
            rel::WW => self.t.mops_of(ta).iter().find_map(|m| {
                let Mop::Write { key, value } = *m else {
                    return None;
                };
                let w = self.writers.get(&(key, value))?;
                if w.pos == NONE {
                    return None;
                }
                let list = self.order(key);
                let shown = self.t.show_list(&list[..(w.pos as usize + 2).min(list.len())]);
                match list.get(w.pos as usize + 1) {
                    Some(&next) => (self.writers.get(&(key, next))?.txn == b).then(|| {
                        (
                            key,
                            next,
                            format!(
                                "{bn} appended {} right after {an} appended {} to key {} (key {} was read as {shown})",
                                show(next),
                                show(value),
                                self.t.show_key(key),
                                self.t.show_key(key),
                            ),
                        )
                    }),
                    None => self.unread_append(b, key).map(|u| {
                        (
                            key,
                            u,
                            format!(
                                "{bn} appended {} to key {}, which no read shows, so after every \
                                 element read, and {an}'s append of {} is the last of those \
                                 (key {} was read as {})",
                                show(u),
                                self.t.show_key(key),
                                show(value),
                                self.t.show_key(key),
                                self.t.show_list(list),
                            ),
                        )
                    }),
                }
            }),
            rel::WR => self.views_of(b).into_iter().find_map(|(key, start, len)| {
                let list = self.t.list(start, len);
                let e = *list.last()?;
                (self.writers.get(&(key, e))?.txn == a).then(|| {
                    (
                        key,
                        e,
                        format!(
                            "{bn} read key {} = {}, observing {an}'s append of {}",
                            self.t.show_key(key),
                            self.t.show_list(list),
                            show(e),
                        ),
                    )
                })
            }),
            rel::RW => self.views_of(a).into_iter().find_map(|(key, start, len)| {
                let read = self.t.list(start, len);
                let next = match read.last() {
                    None => 0,
                    Some(&e) => self.position(key, e)? as usize + 1,
                };
                let own = if start + len < self.end_of_read(a, key, start) {
                    " (before its own appends)"
                } else {
                    ""
                };
                match self.order(key).get(next) {
                    Some(&n) => (self.writers.get(&(key, n))?.txn == b).then(|| {
                        (
                            key,
                            n,
                            format!(
                                "{an} read key {} = {}{own}, which did not yet include {bn}'s \
                                 append of {}, the next element in key {}'s version order",
                                self.t.show_key(key),
                                self.t.show_list(read),
                                show(n),
                                self.t.show_key(key),
                            ),
                        )
                    }),
                    None => self.unread_append(b, key).map(|u| {
                        (
                            key,
                            u,
                            format!(
                                "{an} read key {} = {}{own}, which did not include {bn}'s \
                                 append of {}; no read shows that append, so it came after \
                                 every element read",
                                self.t.show_key(key),
                                self.t.show_list(read),
                                show(u),
                            ),
                        )
                    }),
                }
            }),
            _ => None,
        }
    }
}
