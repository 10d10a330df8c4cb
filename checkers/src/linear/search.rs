//! Wing–Gong–Lowe depth-first search for a linearization, with a memo of configurations.
//!
//! A configuration is (which completed operations are linearized, how many operations of
//! each indeterminate class are used, the model state). Completed operations are sorted
//! by invocation; every linearized one beyond the first unlinearized (`p`) was invoked
//! before the earliest return `R` among unlinearized ones, so the linearized set is `p`
//! plus a short window of bits: memo keys stay small however long the history is.
//!
//! Indeterminate operations never block anything (they have no return) and may be left
//! out; among interchangeable ones the earliest invoked is always the best to use. A
//! configuration that used more of them than a refuted one with the same window and
//! state is refuted too, so the memo keeps, per window and state, an antichain of counts.

use super::problem::Problem;
use super::Budget;
use crate::model::Model;
use indexmap::IndexSet;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use smallvec::SmallVec;
use std::time::Instant;

/// Why a search stopped without a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Abort {
    Timeout,
    Memory,
    Cancelled,
}

/// One step of a linearization: which operation, and the state after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The completed operation at this position of `Problem::det`.
    Det { i: u32, state: u32 },
    /// The `n`-th operation of indeterminate class `k`.
    Info { k: u32, n: u32, state: u32 },
}

impl Step {
    pub(crate) fn state(self) -> u32 {
        match self {
            Step::Det { state, .. } | Step::Info { state, .. } => state,
        }
    }
}

pub(crate) enum SearchResult {
    Linearizable,
    /// No linearization exists. The deepest configuration reached (most completed
    /// operations linearized) and the states found there explain why.
    NotLinearizable {
        best_path: Vec<Step>,
        best_states: Vec<u32>,
    },
    Aborted(Abort),
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    pub configurations: u64,
    pub memo_entries: u64,
    pub states: u64,
}

#[derive(Clone, Copy)]
enum Undo {
    Root,
    Det { i: u32, state: u32, p: u32, q: u32 },
    Info { k: u32, state: u32 },
}

struct Frame {
    /// Whether the frame has looked for a read it can take at once.
    scanned: bool,
    det_cursor: u32,
    info_cursor: u32,
    succ_cursor: u32,
    undo: Undo,
}

enum Move {
    Det(u32, u32),
    Info(u32, u32),
}

const NO_STATES: (u32, u32) = (0, 0);
/// How often (in configurations) the deadline, the cancel flag and memory are looked at:
/// small enough that a one-second limit is kept to a few milliseconds.
const CHECK_EVERY: u64 = 256;
const MAX_BEST_STATES: usize = 16;

/// Counts of indeterminate operations used, none below another (see the module doc).
type Antichain = SmallVec<[Box<[u32]>; 1]>;

/// A configuration's prefix, state and window: inline up to four words, which covers
/// windows of up to 192 operations without a heap allocation.
type MemoKey = SmallVec<[u64; 4]>;

pub(crate) struct Search<'a, M: Model> {
    model: &'a M,
    pb: &'a Problem<M>,
    budget: &'a Budget,

    /// Interned model states: the id of a state is its position.
    pub states: IndexSet<M::State, FxBuildHasher>,
    /// (state, class) -> successors, as a range of `succ_pool`.
    trans: FxHashMap<u64, (u32, u32)>,
    succ_pool: Vec<u32>,
    scratch: Vec<M::State>,

    /// Per operation class: does it leave every state as it is?
    read_only: Vec<bool>,
    /// Completed operations (indices into `pb.det`) ordered by return.
    by_ret: Vec<u32>,
    lin: Vec<u64>,
    p: u32,
    q: u32,
    used: Vec<u32>,
    state: u32,
    done: u32,

    stack: Vec<Frame>,
    started: bool,
    /// The deepest configuration (most completed operations linearized) and its path,
    /// kept lazily: `best_valid` leading steps of `best_path` match the current stack.
    best_done: u32,
    best_path: Vec<Step>,
    best_valid: usize,
    best_states: Vec<u32>,
    since_check: u64,

    memo_plain: FxHashSet<MemoKey>,
    memo_dominance: FxHashMap<MemoKey, Antichain>,
    key_buf: Vec<u64>,

    /// Bytes of memo and state tables not yet reported to the shared budget, and those
    /// reported, given back when the search is dropped.
    unreported_bytes: usize,
    reported_bytes: usize,
    pub stats: Stats,
}

impl<'a, M: Model> Search<'a, M> {
    pub(crate) fn new(model: &'a M, pb: &'a Problem<M>, budget: &'a Budget) -> Self {
        let n = pb.det.len();
        let mut by_ret: Vec<u32> = (0..n as u32).collect();
        by_ret.sort_by_key(|&i| pb.det[i as usize].ret);
        let mut s = Search {
            model,
            pb,
            budget,
            states: IndexSet::default(),
            trans: FxHashMap::default(),
            succ_pool: Vec::new(),
            scratch: Vec::new(),
            read_only: pb.classes.iter().map(|c| model.read_only(c)).collect(),
            by_ret,
            lin: vec![0; n.div_ceil(64)],
            p: 0,
            q: 0,
            used: vec![0; pb.info.len()],
            state: 0,
            done: 0,
            stack: Vec::new(),
            started: false,
            best_done: 0,
            best_path: Vec::new(),
            best_valid: 0,
            best_states: Vec::new(),
            since_check: 0,
            memo_plain: FxHashSet::default(),
            memo_dominance: FxHashMap::default(),
            key_buf: Vec::new(),
            unreported_bytes: 0,
            reported_bytes: 0,
            stats: Stats::default(),
        };
        s.state = s.intern(model.init());
        s
    }

    fn intern(&mut self, st: M::State) -> u32 {
        let heap = self.model.heap_size(&st);
        let (id, new) = self.states.insert_full(st);
        if new {
            self.unreported_bytes += std::mem::size_of::<M::State>() + heap + 16;
            self.stats.states += 1;
        }
        id as u32
    }

    fn is_lin(&self, i: u32) -> bool {
        self.lin[(i / 64) as usize] >> (i % 64) & 1 == 1
    }

    /// The earliest return among unlinearized completed operations: nothing invoked
    /// after it can be linearized before it.
    fn horizon(&self) -> u32 {
        match self.by_ret.get(self.q as usize) {
            Some(&i) => self.pb.det[i as usize].ret,
            None => u32::MAX,
        }
    }

    /// Successor states of the current state under a model operation class, memoized.
    fn successors(&mut self, class: u32) -> (u32, u32) {
        let key = (self.state as u64) << 32 | class as u64;
        if let Some(&r) = self.trans.get(&key) {
            return r;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        self.model.step(
            &self.states[self.state as usize],
            &self.pb.classes[class as usize],
            &mut scratch,
        );
        let range = if scratch.is_empty() {
            NO_STATES
        } else {
            let start = self.succ_pool.len() as u32;
            for st in scratch.drain(..) {
                let id = self.intern(st);
                self.succ_pool.push(id);
            }
            (start, self.succ_pool.len() as u32 - start)
        };
        self.scratch = scratch;
        self.trans.insert(key, range);
        self.unreported_bytes += 24;
        range
    }

    fn next_move(&mut self, f: &mut Frame) -> Option<Move> {
        let r = self.horizon();
        let n = self.pb.det.len() as u32;
        if !f.scanned {
            f.scanned = true;
            if let Some(mv) = self.forced_read(r) {
                // The only move worth trying from here (see `Model::read_only`).
                f.det_cursor = n;
                f.info_cursor = self.pb.info.len() as u32;
                return Some(mv);
            }
        }
        while f.det_cursor < n && self.pb.det[f.det_cursor as usize].call < r {
            let i = f.det_cursor;
            if !self.is_lin(i) {
                let (start, len) = self.successors(self.pb.det[i as usize].class);
                if f.succ_cursor < len {
                    let next = self.succ_pool[(start + f.succ_cursor) as usize];
                    f.succ_cursor += 1;
                    return Some(Move::Det(i, next));
                }
            }
            f.det_cursor += 1;
            f.succ_cursor = 0;
        }
        while (f.info_cursor as usize) < self.pb.info.len() {
            let k = f.info_cursor as usize;
            let c = &self.pb.info[k];
            let u = self.used[k] as usize;
            if u < c.calls.len() && c.calls[u] < r {
                let (start, len) = self.successors(c.class);
                if f.succ_cursor < len {
                    let next = self.succ_pool[(start + f.succ_cursor) as usize];
                    f.succ_cursor += 1;
                    return Some(Move::Info(k as u32, next));
                }
            }
            f.info_cursor += 1;
            f.succ_cursor = 0;
        }
        None
    }

    /// A read that can be linearized now, if there is one.
    fn forced_read(&mut self, r: u32) -> Option<Move> {
        let n = self.pb.det.len() as u32;
        let mut i = self.p;
        while i < n && self.pb.det[i as usize].call < r {
            let class = self.pb.det[i as usize].class;
            if !self.is_lin(i) && self.read_only[class as usize] {
                let (start, len) = self.successors(class);
                if len > 0 {
                    return Some(Move::Det(i, self.succ_pool[start as usize]));
                }
            }
            i += 1;
        }
        None
    }

    fn apply(&mut self, mv: Move) -> Undo {
        match mv {
            Move::Det(i, next) => {
                let undo = Undo::Det {
                    i,
                    state: self.state,
                    p: self.p,
                    q: self.q,
                };
                self.lin[(i / 64) as usize] |= 1 << (i % 64);
                self.state = next;
                self.done += 1;
                let n = self.pb.det.len() as u32;
                while self.p < n && self.is_lin(self.p) {
                    self.p += 1;
                }
                while (self.q as usize) < self.by_ret.len()
                    && self.is_lin(self.by_ret[self.q as usize])
                {
                    self.q += 1;
                }
                undo
            }
            Move::Info(k, next) => {
                let undo = Undo::Info {
                    k,
                    state: self.state,
                };
                self.used[k as usize] += 1;
                self.state = next;
                undo
            }
        }
    }

    fn revert(&mut self, undo: Undo) {
        match undo {
            Undo::Root => {}
            Undo::Det { i, state, p, q } => {
                self.lin[(i / 64) as usize] &= !(1 << (i % 64));
                self.state = state;
                self.p = p;
                self.q = q;
                self.done -= 1;
            }
            Undo::Info { k, state } => {
                self.used[k as usize] -= 1;
                self.state = state;
            }
        }
    }

    /// Records the current configuration; false if it (or one that dominates it) was
    /// seen before, which means it leads nowhere.
    fn remember(&mut self) -> bool {
        let r = self.horizon();
        let n = self.pb.det.len() as u32;
        self.key_buf.clear();
        self.key_buf.push((self.p as u64) << 32 | self.state as u64);
        // The window: linearized operations after p, all invoked before the horizon.
        let mut word = 0u64;
        let mut bit = 0;
        let mut i = self.p + 1;
        let mut last_nonzero = 1;
        while i < n && self.pb.det[i as usize].call < r {
            if self.is_lin(i) {
                word |= 1 << bit;
            }
            bit += 1;
            if bit == 64 {
                self.key_buf.push(word);
                if word != 0 {
                    last_nonzero = self.key_buf.len();
                }
                word = 0;
                bit = 0;
            }
            i += 1;
        }
        if word != 0 {
            self.key_buf.push(word);
            last_nonzero = self.key_buf.len();
        }
        self.key_buf.truncate(last_nonzero);

        if self.pb.info.is_empty() {
            if self.memo_plain.contains(self.key_buf.as_slice()) {
                return false;
            }
            self.unreported_bytes += self.key_buf.len() * 8 + 40;
            self.memo_plain.insert(MemoKey::from_slice(&self.key_buf));
        } else {
            let used = &self.used;
            let dominated = |seen: &[u32]| seen.iter().zip(used).all(|(a, b)| a <= b);
            match self.memo_dominance.get_mut(self.key_buf.as_slice()) {
                Some(list) => {
                    if list.iter().any(|seen| dominated(seen)) {
                        return false;
                    }
                    // Entries that use more than this one are now redundant.
                    list.retain(|seen| !seen.iter().zip(used).all(|(a, b)| a >= b));
                    list.push(used.clone().into_boxed_slice());
                    self.unreported_bytes += used.len() * 4 + 16;
                }
                None => {
                    self.unreported_bytes += self.key_buf.len() * 8 + used.len() * 4 + 72;
                    self.memo_dominance.insert(
                        MemoKey::from_slice(&self.key_buf),
                        smallvec::smallvec![used.clone().into_boxed_slice()],
                    );
                }
            }
        }
        self.stats.memo_entries += 1;
        true
    }

    fn report_memory(&mut self) {
        let bytes = std::mem::take(&mut self.unreported_bytes);
        self.reported_bytes += bytes;
        self.budget.add_memory(bytes);
    }

    fn check_budget(&mut self) -> Result<(), Abort> {
        self.report_memory();
        if self.budget.cancelled() {
            return Err(Abort::Cancelled);
        }
        if self.budget.over_memory() {
            return Err(Abort::Memory);
        }
        if self.budget.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Abort::Timeout);
        }
        Ok(())
    }

    fn step_of(undo: Undo, used: &[u32], state: u32) -> Step {
        match undo {
            Undo::Det { i, .. } => Step::Det { i, state },
            Undo::Info { k, .. } => Step::Info {
                k,
                n: used[k as usize] - 1,
                state,
            },
            Undo::Root => unreachable!("the root is not a step"),
        }
    }

    /// Searches for at most `slice` more configurations. `None`: not decided yet; call
    /// again to go on where it stopped.
    pub(crate) fn run(&mut self, slice: u64) -> Option<SearchResult> {
        let n = self.pb.det.len() as u32;
        if !self.started {
            self.started = true;
            if n == 0 {
                return Some(SearchResult::Linearizable);
            }
            self.best_states.push(self.state);
            self.remember();
            self.stack.push(Frame {
                scanned: false,
                det_cursor: 0,
                info_cursor: 0,
                succ_cursor: 0,
                undo: Undo::Root,
            });
        }
        let mut budget_left = slice;
        while let Some(mut top) = self.stack.pop() {
            self.since_check += 1;
            if self.since_check >= CHECK_EVERY {
                self.since_check = 0;
                if let Err(a) = self.check_budget() {
                    return Some(SearchResult::Aborted(a));
                }
            }
            let Some(mv) = self.next_move(&mut top) else {
                // Every move from here was tried: back up.
                self.revert(top.undo);
                self.best_valid = self.best_valid.min(self.stack.len().saturating_sub(1));
                continue;
            };
            self.stack.push(top);
            let undo = self.apply(mv);
            self.stats.configurations += 1;
            if self.p == n {
                self.report_memory();
                return Some(SearchResult::Linearizable);
            }
            if !self.remember() {
                self.revert(undo);
                continue;
            }
            self.stack.push(Frame {
                scanned: false,
                det_cursor: self.p,
                info_cursor: 0,
                succ_cursor: 0,
                undo,
            });
            self.track_best();
            budget_left = budget_left.saturating_sub(1);
            if budget_left == 0 {
                self.report_memory();
                return None;
            }
        }
        self.report_memory();
        Some(SearchResult::NotLinearizable {
            best_path: std::mem::take(&mut self.best_path),
            best_states: std::mem::take(&mut self.best_states),
        })
    }

    /// Keeps the path to the deepest configuration, copying only the part of the stack
    /// that changed since it was last copied.
    fn track_best(&mut self) {
        if self.done > self.best_done {
            self.best_done = self.done;
            self.best_states.clear();
            self.best_states.push(self.state);
            self.best_path.truncate(self.best_valid);
            // Frames 1.. hold the steps; walk down from the top to know the state after
            // each step and which operation of an indeterminate class it used.
            let mut used = self.used.clone();
            let mut state_after = self.state;
            let mut tail: Vec<Step> = Vec::new();
            for fr in self.stack[self.best_valid + 1..].iter().rev() {
                tail.push(Self::step_of(fr.undo, &used, state_after));
                match fr.undo {
                    Undo::Det { state, .. } => state_after = state,
                    Undo::Info { k, state } => {
                        used[k as usize] -= 1;
                        state_after = state;
                    }
                    Undo::Root => {}
                }
            }
            self.best_path.extend(tail.into_iter().rev());
            self.best_valid = self.stack.len() - 1;
        } else if self.done == self.best_done
            && self.best_states.len() < MAX_BEST_STATES
            && !self.best_states.contains(&self.state)
        {
            self.best_states.push(self.state);
        }
    }
}

impl<M: Model> Drop for Search<'_, M> {
    fn drop(&mut self) {
        self.budget.release_memory(self.reported_bytes);
    }
}
