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

/// The deepest configuration a search reached: the path to it, the states found there,
/// and the read it names as the one that cannot follow, if it saw one (`doomed_read`).
pub(crate) struct Deepest<'a> {
    pub path: &'a [Step],
    pub states: &'a [u32],
    pub blame: Option<u32>,
}

pub(crate) enum SearchResult {
    Linearizable,
    /// No linearization exists. The deepest configuration reached (most completed
    /// operations linearized) and the states found there explain why.
    NotLinearizable {
        best_path: Vec<Step>,
        best_states: Vec<u32>,
        /// The read that cannot be linearized after `best_path`, when the search saw
        /// that itself (`doomed_read`); otherwise the earliest-returning one left over.
        blame: Option<u32>,
    },
    Aborted(Abort),
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    pub configurations: u64,
    pub memo_entries: u64,
    pub states: u64,
    /// The most completed operations linearized at once, and how many there are.
    pub deepest: u32,
    pub completed: u32,
}

#[derive(Clone, Copy)]
enum Undo {
    Root,
    /// `absorbed`: how many unobserved writes went in just before `i` (the top
    /// entries of `Search::absorbed`).
    Det {
        i: u32,
        state: u32,
        p: u32,
        q: u32,
        absorbed: u32,
    },
    Info {
        k: u32,
        state: u32,
        p: u32,
        q: u32,
        absorbed: u32,
    },
}

struct Frame {
    /// Whether the frame has looked for a read it can take at once.
    scanned: bool,
    /// Whether the move into this configuration was an indeterminate operation: then
    /// blind moves are not tried (see `Model::blind`).
    after_info: bool,
    /// A move to try before the others (see `enabling_move`), and whether it was tried.
    preferred: Option<Move>,
    preferred_done: bool,
    det_cursor: u32,
    info_cursor: u32,
    succ_cursor: u32,
    undo: Undo,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Move {
    Det(u32, u32),
    Info(u32, u32),
}

const NO_STATES: (u32, u32) = (0, 0);
/// Hash tables and arenas grow by doubling: an entry may hold twice its size, and more
/// while a table is being resized. Counting that keeps the memory limit a real bound.
const TABLE_SLACK: usize = 3;
/// Above this many model states, moves are not looked ahead (`enabling_move`).
const LOOKAHEAD_MAX_STATES: usize = 4096;
/// How often (in configurations) the deadline, the cancel flag and memory are looked at:
/// small enough that a one-second limit is kept to a few milliseconds.
const CHECK_EVERY: u64 = 256;
const MAX_BEST_STATES: usize = 16;
/// How far `viable` looks, in return order, for the next unlinearized read.
const VIABLE_SCAN: usize = 64;
/// How far back (in completed operations) `doom_threshold` looks for the first
/// configuration prefix from which a read can no longer succeed: a bound on its cost.
const DOOM_LOOKBACK: u32 = 4096;
/// How far past `p` (in completed operations) reads are watched for being doomed
/// (`doomed_read`), at most: a table first takes reads `DOOM_AHEAD_FIRST` ahead and
/// doubles that each time it runs short, so a history decided at once pays little.
const DOOM_AHEAD: u32 = 16384;
const DOOM_AHEAD_FIRST: u32 = 512;
/// Reads beyond the window are watched only for models with at most this many
/// operation classes and states (registers over a few values): the tables cost a
/// word per completed operation and state.
const DOOM_AHEAD_MAX_CLASSES: usize = 64;
const DOOM_AHEAD_MAX_STATES: usize = 16;

/// For one model state: which reads can no longer succeed, by `p` (see `doomed_read`).
struct DoomTable {
    /// `cover[p]`: 1 + the latest read `g` with `doom_threshold(g) <= p <= g`, 0 if none.
    cover: Vec<u32>,
    /// How many of `Search::reads` are entered.
    entered: usize,
    /// How far past `p` the next round of entering goes.
    ahead: u32,
}

/// Does `a` use at most what `b` uses of every class? Both are sorted (class, count)
/// lists; a class missing from one counts as zero there.
fn at_most(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    let mut j = 0;
    for &(k, c) in a {
        while j < b.len() && b[j].0 < k {
            j += 1;
        }
        if j == b.len() || b[j].0 != k || b[j].1 < c {
            return false;
        }
    }
    true
}

/// Counts of indeterminate operations used, none below another (see the module doc).
type Antichain = SmallVec<[Span; 2]>;

/// Where an entry of an antichain lies in the arena of counts. Keeping counts in one
/// arena instead of a box per entry means a search of millions of configurations is
/// freed in a few calls, so a deadline is kept even when the memo is huge.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// A configuration's prefix, state and window: inline up to four words, which covers
/// windows of up to 192 operations without a heap allocation.
type MemoKey = SmallVec<[u64; 4]>;

/// The order in which a search tries completed operations. Neither is best everywhere:
/// invocation order suits some histories, return order (earliest deadline first) others,
/// by orders of magnitude, so each key is searched both ways at once and the first
/// answer wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Call,
    Return,
}

pub(crate) struct Search<'a, M: Model> {
    order: Order,
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
    /// Per operation class: is its effect independent of the state before?
    blind: Vec<bool>,
    /// Whether to ask the model if the next read can still succeed (`viable`).
    reach: bool,
    /// Per operation class: a blind operation whose state nothing ever observes
    /// (`Model::unobserved`).
    unobserved: Vec<bool>,
    /// Whether any completed operation is unobserved: then `absorb` has work to do.
    any_unobserved: bool,
    /// Per completed operation: the one of the same class invoked last before it
    /// (`u32::MAX`: none), for `may_try`'s rule on interchangeable operations.
    prev_same: Vec<u32>,
    /// Unobserved writes linearized just before a blind move (see `absorb`), with the
    /// state each left, as a stack: moves are undone in reverse.
    absorbed: Vec<(u32, u32)>,
    /// Completed operations (indices into `pb.det`) ordered by return.
    by_ret: Vec<u32>,
    lin: Vec<u64>,
    p: u32,
    q: u32,
    used: Vec<u32>,
    /// Classes whose count is not zero, in the order they became so (moves are undone
    /// in reverse, so this is a stack).
    used_stack: Vec<u32>,
    state: u32,
    done: u32,

    stack: Vec<Frame>,
    started: bool,
    /// The deepest configuration (most completed operations linearized) and its path,
    /// kept lazily: `best_valid` leading steps of `best_path` match the current stack.
    best_done: u32,
    best_path: Vec<Step>,
    best_valid: usize,
    /// For frame f (1-based), how many steps of `best_path` frames 1..=f hold: a frame
    /// holds its move and the writes it absorbed.
    best_steps: Vec<u32>,
    best_states: Vec<u32>,
    /// The read blamed for the deepest configuration, if the search saw that it cannot
    /// succeed there (see `doomed_read`).
    best_blame: Option<u32>,
    /// (read, state) -> the least `p` from which that read can no longer succeed while
    /// the object is in that state (`u32::MAX`: none found). See `doom_threshold`.
    doom: FxHashMap<u64, u32>,
    /// By state id, when the model is small enough (see `DOOM_AHEAD_MAX_CLASSES`);
    /// an empty `cover` is a table not made yet.
    doom_tables: Vec<DoomTable>,
    /// Completed read-only operations, ascending, for the doom tables.
    reads: Vec<u32>,
    since_check: u64,

    memo_plain: FxHashSet<MemoKey>,
    memo_dominance: FxHashMap<MemoKey, Antichain>,
    arena: Vec<(u32, u32)>,
    key_buf: Vec<u64>,
    counts_buf: Vec<(u32, u32)>,

    /// Bytes of memo and state tables not yet reported to the shared budget, and those
    /// reported, given back when the search is dropped.
    unreported_bytes: usize,
    reported_bytes: usize,
    pub stats: Stats,
}

impl<'a, M: Model> Search<'a, M> {
    pub(crate) fn new(model: &'a M, pb: &'a Problem<M>, budget: &'a Budget, order: Order) -> Self {
        let n = pb.det.len();
        let stats = Stats {
            completed: n as u32,
            ..Stats::default()
        };
        let mut by_ret: Vec<u32> = (0..n as u32).collect();
        by_ret.sort_by_key(|&i| pb.det[i as usize].ret);
        let mut s = Search {
            order,
            model,
            pb,
            budget,
            states: IndexSet::default(),
            trans: FxHashMap::default(),
            succ_pool: Vec::new(),
            scratch: Vec::new(),
            read_only: pb.classes.iter().map(|c| model.read_only(c)).collect(),
            blind: pb.classes.iter().map(|c| model.blind(c)).collect(),
            reach: model.checks_reachability(),
            unobserved: Vec::new(),
            any_unobserved: false,
            prev_same: Vec::new(),
            absorbed: Vec::new(),
            by_ret,
            lin: vec![0; n.div_ceil(64)],
            p: 0,
            q: 0,
            used: vec![0; pb.info.len()],
            used_stack: Vec::new(),
            state: 0,
            done: 0,
            stack: Vec::new(),
            started: false,
            best_done: 0,
            best_path: Vec::new(),
            best_valid: 0,
            best_steps: vec![0],
            best_states: Vec::new(),
            best_blame: None,
            doom: FxHashMap::default(),
            doom_tables: Vec::new(),
            reads: Vec::new(),
            since_check: 0,
            memo_plain: FxHashSet::default(),
            memo_dominance: FxHashMap::default(),
            arena: Vec::new(),
            key_buf: Vec::new(),
            counts_buf: Vec::new(),
            unreported_bytes: 0,
            reported_bytes: 0,
            stats,
        };
        s.state = s.intern(model.init());
        s.unobserved = model.unobserved(&pb.classes);
        s.any_unobserved = pb.det.iter().any(|e| s.unobserved[e.class as usize]);
        let mut last: FxHashMap<u32, u32> = FxHashMap::default();
        s.prev_same = (0..n as u32)
            .map(|i| last.insert(pb.det[i as usize].class, i).unwrap_or(u32::MAX))
            .collect();
        if s.reach && pb.classes.len() <= DOOM_AHEAD_MAX_CLASSES {
            s.reads = (0..n as u32)
                .filter(|&i| s.read_only[pb.det[i as usize].class as usize])
                .collect();
        }
        s
    }

    fn intern(&mut self, st: M::State) -> u32 {
        let heap = self.model.heap_size(&st);
        let (id, new) = self.states.insert_full(st);
        if new {
            self.unreported_bytes += TABLE_SLACK * (std::mem::size_of::<M::State>() + 16) + heap;
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
        self.successors_of(self.state, class)
    }

    /// Successor states of `state` under a model operation class, memoized.
    fn successors_of(&mut self, state: u32, class: u32) -> (u32, u32) {
        let key = (state as u64) << 32 | class as u64;
        if let Some(&r) = self.trans.get(&key) {
            return r;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        self.model.step(
            &self.states[state as usize],
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
        self.unreported_bytes += TABLE_SLACK * 17 + 4 * range.1 as usize;
        range
    }

    fn next_move(&mut self, f: &mut Frame) -> Option<Move> {
        let r = self.horizon();
        let n = self.pb.det.len() as u32;
        if !f.scanned {
            f.scanned = true;
            if let Some(mv) = self.forced_read(r) {
                // The only move worth trying from here (see `Model::read_only`): the
                // cursor goes past every completed operation, whichever the order.
                f.det_cursor = u32::MAX;
                f.info_cursor = self.pb.info.len() as u32;
                return Some(mv);
            }
            f.preferred = self
                .enabling_move(r)
                .filter(|mv| !(f.after_info && self.is_blind(*mv)));
        }
        if let (Some(mv), false) = (f.preferred, f.preferred_done) {
            f.preferred_done = true;
            return Some(mv);
        }
        loop {
            // The cursor walks completed operations in invocation order, or in return
            // order (then candidates are interleaved with operations invoked too late).
            let i = match self.order {
                Order::Call => {
                    if f.det_cursor >= n || self.pb.det[f.det_cursor as usize].call >= r {
                        break;
                    }
                    f.det_cursor
                }
                Order::Return => {
                    // The cursor is a return position: the next candidate is the
                    // unlinearized one in the window that returns first after it.
                    let mut best = None;
                    let mut best_ret = u32::MAX;
                    let mut j = self.p;
                    while j < n && self.pb.det[j as usize].call < r {
                        let ret = self.pb.det[j as usize].ret;
                        if ret > f.det_cursor && ret < best_ret && !self.is_lin(j) {
                            best = Some(j);
                            best_ret = ret;
                        }
                        j += 1;
                    }
                    match best {
                        Some(i) => i,
                        None => break,
                    }
                }
            };
            if self.may_try(i, f.after_info) {
                let (start, len) = self.successors(self.pb.det[i as usize].class);
                while f.succ_cursor < len {
                    let mv = Move::Det(i, self.succ_pool[(start + f.succ_cursor) as usize]);
                    f.succ_cursor += 1;
                    if f.preferred != Some(mv) {
                        return Some(mv);
                    }
                }
            }
            f.det_cursor = match self.order {
                Order::Call => f.det_cursor + 1,
                Order::Return => self.pb.det[i as usize].ret,
            };
            f.succ_cursor = 0;
        }
        while (f.info_cursor as usize) < self.pb.info.len() {
            let k = f.info_cursor as usize;
            let c = &self.pb.info[k];
            let u = self.used[k] as usize;
            if u < c.calls.len()
                && c.calls[u] < r
                && !(f.after_info && self.blind[c.class as usize])
            {
                let (start, len) = self.successors(c.class);
                while f.succ_cursor < len {
                    let mv = Move::Info(k as u32, self.succ_pool[(start + f.succ_cursor) as usize]);
                    f.succ_cursor += 1;
                    if f.preferred != Some(mv) {
                        return Some(mv);
                    }
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

    /// When the operation that must come next (the earliest to return) is a read the
    /// current state does not satisfy, a move after which it would: that one is tried
    /// first. Only the order changes; every move is still tried. Only models with few
    /// states profit (the look-ahead makes states), so it is off for others.
    fn enabling_move(&mut self, r: u32) -> Option<Move> {
        if self.states.len() > LOOKAHEAD_MAX_STATES {
            return None;
        }
        let &urgent = self.by_ret.get(self.q as usize)?;
        let target = self.pb.det[urgent as usize].class;
        if !self.read_only[target as usize] || self.successors(target).1 > 0 {
            return None;
        }
        let n = self.pb.det.len() as u32;
        let mut i = self.p;
        while i < n && self.pb.det[i as usize].call < r {
            let class = self.pb.det[i as usize].class;
            if !self.is_lin(i)
                && !self.read_only[class as usize]
                && !self.unobserved[class as usize]
            {
                let (start, len) = self.successors(class);
                for j in start..start + len {
                    let next = self.succ_pool[j as usize];
                    if self.successors_of(next, target).1 > 0 {
                        return Some(Move::Det(i, next));
                    }
                }
            }
            i += 1;
        }
        for k in 0..self.pb.info.len() {
            let c = &self.pb.info[k];
            let u = self.used[k] as usize;
            if u < c.calls.len() && c.calls[u] < r {
                let (start, len) = self.successors(c.class);
                for j in start..start + len {
                    let next = self.succ_pool[j as usize];
                    if self.successors_of(next, target).1 > 0 {
                        return Some(Move::Info(k as u32, next));
                    }
                }
            }
        }
        None
    }

    /// False when the read that must come soonest (the unlinearized read-only operation
    /// with the earliest return) can no longer succeed, whatever is linearized before it
    /// (`Model::reachable`): the configuration is then a dead end, and saying so now
    /// saves trying every order of the operations that may still come first. Many
    /// concurrent appends make that the bulk of a search.
    fn viable(&mut self) -> Result<(), u32> {
        if !self.reach {
            return Ok(());
        }
        if !self.soonest_read_viable() {
            return Err(u32::MAX);
        }
        match self.doomed_read() {
            Some(g) => Err(g),
            None => Ok(()),
        }
    }

    /// See `viable`: the read that must come soonest.
    fn soonest_read_viable(&self) -> bool {
        let det = &self.pb.det;
        // Linearized operations may sit between unlinearized ones in return order; a
        // short scan finds the first read in nearly every case.
        let read = self.by_ret[self.q as usize..]
            .iter()
            .take(VIABLE_SCAN)
            .copied()
            .find(|&i| !self.is_lin(i) && self.read_only[det[i as usize].class as usize]);
        let Some(g) = read else {
            return true;
        };
        let rg = det[g as usize].ret;
        let classes = &self.pb.classes;
        let mut between = (self.p..det.len() as u32)
            .take_while(|&j| det[j as usize].call < rg)
            .filter(|&j| j != g && !self.is_lin(j))
            .map(|j| &classes[det[j as usize].class as usize])
            .chain(self.pb.info.iter().enumerate().filter_map(|(k, c)| {
                let u = self.used[k] as usize;
                (u < c.calls.len() && c.calls[u] < rg).then(|| &classes[c.class as usize])
            }));
        self.model.reachable(
            &self.states[self.state as usize],
            &classes[det[g as usize].class as usize],
            &mut between,
        )
    }

    /// An unlinearized read in the window (invoked before the horizon) that can no
    /// longer succeed whatever comes before it, if there is one. `viable` only asks
    /// about the read that must come soonest, but a read that returns later may be
    /// doomed long before (a read of the initial value once anything was written, a
    /// stale read of a value nobody can write again): without this, the search tries
    /// every order of the operations that return before it first, which is exponential
    /// in the number of clients. Each read's answer is kept per state as a threshold
    /// on `p`, so a configuration pays one table look-up per read in its window.
    ///
    /// Reads not yet invoked by the horizon are unlinearized for sure, so for small
    /// models a table per state says at once whether one of them, up to `DOOM_AHEAD`
    /// operations ahead, is doomed: a stale read of the initial value is then seen as
    /// soon as something is written, not once every order before it was tried.
    ///
    /// Only for small models (`reads` is empty otherwise, and the number of states is
    /// bounded): with many states (unique values, strings that grow), the thresholds
    /// are rarely reused and working them out costs more than it saves.
    fn doomed_read(&mut self) -> Option<u32> {
        if self.reads.is_empty()
            || self.stats.configurations < self.budget.tuning.doomed_reads_after
            || self.states.len() > DOOM_AHEAD_MAX_STATES
        {
            return None;
        }
        let r = self.horizon();
        // The table names the latest doomed read; none means none in the window either,
        // the usual case, which then costs one look-up.
        let g = self.doomed_ahead()?;
        if self.pb.det[g as usize].call >= r {
            return Some(g);
        }
        let n = self.pb.det.len() as u32;
        let mut i = self.p;
        while i < n && self.pb.det[i as usize].call < r {
            let class = self.pb.det[i as usize].class;
            if self.read_only[class as usize] && !self.is_lin(i) && self.p >= self.doom_threshold(i)
            {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// The least `p` from which read `g` can no longer succeed in the current state,
    /// found by asking `Model::reachable` about every operation that could precede `g`
    /// once the first `p` completed operations are linearized: those from `p` on that
    /// are invoked before `g` returns, linearized or not, and every indeterminate class
    /// invoked before then. That is a superset of what can really precede `g` in any
    /// configuration with that `p` and state, and `reachable` says false only when no
    /// subset in no order works, so the answer holds for every such configuration and,
    /// the set only shrinking as `p` grows, for every larger `p`. The search for the
    /// threshold goes back from `g` in doubling steps, so it costs about as many
    /// operations as lie between `g` and the threshold found (a lower one may exist;
    /// the one found is sound).
    fn doom_threshold(&mut self, g: u32) -> u32 {
        self.doom_threshold_in(g, self.state)
    }

    /// The latest read that the doom table of the current state says can no longer
    /// succeed from `p` on (it may be linearized already if invoked before the horizon:
    /// the caller looks only at those invoked after it).
    fn doomed_ahead(&mut self) -> Option<u32> {
        let state = self.state;
        let p = self.p;
        if self.doom_tables.len() <= state as usize {
            self.doom_tables
                .resize_with(state as usize + 1, || DoomTable {
                    cover: Vec::new(),
                    entered: 0,
                    ahead: DOOM_AHEAD_FIRST,
                });
        }
        let table = &self.doom_tables[state as usize];
        let want = p.saturating_add(table.ahead / 2);
        if table.cover.is_empty() || self.reads.get(table.entered).is_some_and(|&g| g < want) {
            self.enter_reads(state, p);
        }
        self.doom_tables[state as usize].cover[p as usize].checked_sub(1)
    }

    /// Enters into the doom table of `state` the reads up to `ahead` past `p`; the next
    /// round goes twice as far (up to `DOOM_AHEAD`), and comes once `p` has moved half
    /// that way.
    fn enter_reads(&mut self, state: u32, p: u32) {
        let mut table = std::mem::replace(
            &mut self.doom_tables[state as usize],
            DoomTable {
                cover: Vec::new(),
                entered: 0,
                ahead: 0,
            },
        );
        if table.cover.is_empty() {
            self.unreported_bytes += 4 * self.pb.det.len() + 64;
            table.cover = vec![0; self.pb.det.len()];
        }
        let upto = p.saturating_add(table.ahead);
        table.ahead = (2 * table.ahead).min(DOOM_AHEAD);
        while let Some(&g) = self.reads.get(table.entered) {
            if g >= upto {
                break;
            }
            let t = self.doom_threshold_in(g, state);
            if t != u32::MAX {
                for c in &mut table.cover[t as usize..=g as usize] {
                    *c = (*c).max(g + 1);
                }
            }
            table.entered += 1;
        }
        self.doom_tables[state as usize] = table;
    }

    /// `doom_threshold` for a given state.
    fn doom_threshold_in(&mut self, g: u32, state_id: u32) -> u32 {
        let key = (g as u64) << 32 | state_id as u64;
        if let Some(&t) = self.doom.get(&key) {
            return t;
        }
        let det = &self.pb.det;
        let classes = &self.pb.classes;
        let rg = det[g as usize].ret;
        let end = det.partition_point(|e| e.call < rg) as u32;
        let state = &self.states[state_id as usize];
        let read = &classes[det[g as usize].class as usize];
        let reachable_from = |p: u32| {
            let mut between = (p..end)
                .filter(|&j| j != g)
                .map(|j| &classes[det[j as usize].class as usize])
                .chain(
                    self.pb
                        .info
                        .iter()
                        .filter(|c| c.calls[0] < rg)
                        .map(|c| &classes[c.class as usize]),
                );
            self.model.reachable(state, read, &mut between)
        };
        let mut threshold = u32::MAX;
        let mut p = g;
        let mut step = 1;
        while !reachable_from(p) {
            threshold = p;
            if p == 0 || g - p >= DOOM_LOOKBACK {
                break;
            }
            p = p.saturating_sub(step);
            step *= 2;
        }
        self.doom.insert(key, threshold);
        self.unreported_bytes += TABLE_SLACK * 17;
        threshold
    }

    /// Linearizes, just before the blind move `x`, every unobserved write that may be
    /// linearized now; returns how many. Such a write is never tried as a move of its
    /// own (unless it must come next): nothing can follow it but a blind operation (its
    /// state is never observed, so no read or cas succeeds there), and placed directly
    /// before one it changes nothing. Putting it in at the first chance only lifts its
    /// deadline, so no linearization is lost, and the search no longer tries every
    /// subset of the unobserved writes in the window: with many clients writing unique
    /// values, that was most of its work. `p` and `q` are left for the caller to move.
    fn absorb(&mut self, x: u32) -> u32 {
        if !self.any_unobserved {
            return 0;
        }
        let r = self.horizon();
        let n = self.pb.det.len() as u32;
        let mut count = 0;
        let mut j = self.p;
        while j < n && self.pb.det[j as usize].call < r {
            let class = self.pb.det[j as usize].class;
            if j != x && !self.is_lin(j) && self.unobserved[class as usize] {
                // Blind: the state it leaves does not depend on the one before.
                let (start, len) = self.successors(class);
                if len > 0 {
                    let st = self.succ_pool[start as usize];
                    self.lin[(j / 64) as usize] |= 1 << (j % 64);
                    self.absorbed.push((j, st));
                    count += 1;
                }
            }
            j += 1;
        }
        count
    }

    /// May completed operation `i` be tried next? Not if it is linearized already, nor if
    /// it is blind and the last move was indeterminate (see `Model::blind`).
    fn may_try(&self, i: u32, after_info: bool) -> bool {
        let class = self.pb.det[i as usize].class as usize;
        let blind = self.blind[class];
        !(self.is_lin(i)
            || after_info && blind
            || self.unobserved[class] && self.by_ret.get(self.q as usize) != Some(&i)
            || !self.read_only[class] && !self.unobserved[class] && self.overtakes(i))
    }

    /// Would linearizing `i` now overtake an unlinearized operation of the same class
    /// invoked before it and returning before it? Two such operations can always swap
    /// places in a linearization (each fits the other's real-time bounds, and the
    /// states along the order stay the same), so some linearization, if any exists,
    /// places them in that order, and the search only tries that one: with few
    /// distinct values, many writes and cas operations are interchangeable.
    fn overtakes(&self, i: u32) -> bool {
        let ret = self.pb.det[i as usize].ret;
        let mut j = self.prev_same[i as usize];
        while j != u32::MAX && j >= self.p {
            if !self.is_lin(j) && self.pb.det[j as usize].ret < ret {
                return true;
            }
            j = self.prev_same[j as usize];
        }
        false
    }

    fn is_blind(&self, mv: Move) -> bool {
        let class = match mv {
            Move::Det(i, _) => self.pb.det[i as usize].class,
            Move::Info(k, _) => self.pb.info[k as usize].class,
        };
        self.blind[class as usize]
    }

    fn apply(&mut self, mv: Move) -> Undo {
        match mv {
            Move::Det(i, next) => {
                let state = self.state;
                let absorbed = if self.blind[self.pb.det[i as usize].class as usize] {
                    self.absorb(i)
                } else {
                    0
                };
                let undo = Undo::Det {
                    i,
                    state,
                    p: self.p,
                    q: self.q,
                    absorbed,
                };
                self.lin[(i / 64) as usize] |= 1 << (i % 64);
                self.state = next;
                self.done += 1 + absorbed;
                self.advance();
                undo
            }
            Move::Info(k, next) => {
                let state = self.state;
                let absorbed = if self.blind[self.pb.info[k as usize].class as usize] {
                    self.absorb(u32::MAX)
                } else {
                    0
                };
                let undo = Undo::Info {
                    k,
                    state,
                    p: self.p,
                    q: self.q,
                    absorbed,
                };
                if absorbed > 0 {
                    self.done += absorbed;
                    self.advance();
                }
                if self.used[k as usize] == 0 {
                    self.used_stack.push(k);
                }
                self.used[k as usize] += 1;
                self.state = next;
                undo
            }
        }
    }

    /// Moves `p` and `q` past operations linearized since they were set.
    fn advance(&mut self) {
        let n = self.pb.det.len() as u32;
        while self.p < n && self.is_lin(self.p) {
            self.p += 1;
        }
        while (self.q as usize) < self.by_ret.len() && self.is_lin(self.by_ret[self.q as usize]) {
            self.q += 1;
        }
    }

    /// Takes back the unobserved writes absorbed by a move.
    fn unabsorb(&mut self, absorbed: u32) {
        for _ in 0..absorbed {
            if let Some((w, _)) = self.absorbed.pop() {
                self.lin[(w / 64) as usize] &= !(1 << (w % 64));
            }
        }
        self.done -= absorbed;
    }

    fn revert(&mut self, undo: Undo) {
        match undo {
            Undo::Root => {}
            Undo::Det {
                i,
                state,
                p,
                q,
                absorbed,
            } => {
                self.lin[(i / 64) as usize] &= !(1 << (i % 64));
                self.unabsorb(absorbed);
                self.state = state;
                self.p = p;
                self.q = q;
                self.done -= 1;
            }
            Undo::Info {
                k,
                state,
                p,
                q,
                absorbed,
            } => {
                self.unabsorb(absorbed);
                self.p = p;
                self.q = q;
                self.used[k as usize] -= 1;
                if self.used[k as usize] == 0 {
                    let top = self.used_stack.pop();
                    debug_assert_eq!(top, Some(k));
                }
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
            self.unreported_bytes += TABLE_SLACK * (std::mem::size_of::<MemoKey>() + 1)
                + self.key_buf.len().saturating_sub(4) * 8;
            self.memo_plain.insert(MemoKey::from_slice(&self.key_buf));
        } else {
            // The counts that still matter: classes used so far whose effect some
            // operation not yet linearized may need, as sorted (class, count) pairs.
            // Built in a buffer kept across calls: this runs once per configuration,
            // and dozens of classes in use made an allocation and a sort its main cost.
            let mut counts = std::mem::take(&mut self.counts_buf);
            counts.clear();
            if self.pb.info.len() <= 2 * self.used_stack.len() + 16 {
                // Few classes: walking them all yields the pairs sorted already.
                counts.extend(
                    (0..self.pb.info.len())
                        .filter(|&k| self.used[k] > 0 && self.pb.info[k].live_until > self.p)
                        .map(|k| (k as u32, self.used[k])),
                );
            } else {
                counts.extend(
                    self.used_stack
                        .iter()
                        .filter(|&&k| self.pb.info[k as usize].live_until > self.p)
                        .map(|&k| (k, self.used[k as usize])),
                );
                counts.sort_unstable();
            }
            let fresh = self.remember_counts(&counts);
            self.counts_buf = counts;
            if !fresh {
                return false;
            }
        }
        self.stats.memo_entries += 1;
        true
    }

    /// The dominance part of `remember`, for the key in `key_buf` and these counts.
    fn remember_counts(&mut self, counts: &[(u32, u32)]) -> bool {
        let arena = &mut self.arena;
        let span = |arena: &mut Vec<(u32, u32)>, counts: &[(u32, u32)]| {
            let start = arena.len() as u32;
            arena.extend_from_slice(counts);
            Span {
                start,
                len: counts.len() as u32,
            }
        };
        match self.memo_dominance.get_mut(self.key_buf.as_slice()) {
            Some(list) => {
                let get = |sp: &Span| &arena[sp.start as usize..(sp.start + sp.len) as usize];
                if list.iter().any(|seen| at_most(get(seen), counts)) {
                    return false;
                }
                // Entries that used more than this one are now redundant.
                list.retain(|seen| !at_most(counts, get(seen)));
                self.unreported_bytes += TABLE_SLACK * (counts.len() * 8) + 8;
                list.push(span(arena, counts));
            }
            None => {
                self.unreported_bytes += TABLE_SLACK
                    * (std::mem::size_of::<(MemoKey, Antichain)>() + 1 + counts.len() * 8)
                    + self.key_buf.len().saturating_sub(4) * 8;
                let sp = span(arena, counts);
                self.memo_dominance
                    .insert(MemoKey::from_slice(&self.key_buf), smallvec::smallvec![sp]);
            }
        }
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

    pub(crate) fn order(&self) -> Order {
        self.order
    }

    /// The deepest configuration found so far: the path to it and the states there.
    pub(crate) fn deepest(&self) -> Deepest<'_> {
        Deepest {
            path: &self.best_path,
            states: &self.best_states,
            blame: self.best_blame,
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
                after_info: false,
                preferred: None,
                preferred_done: false,
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
            if let Err(doomed) = self.viable() {
                // A dead end only for what must come next: the order up to here is
                // still linearizable, and the deepest one found is what explains a
                // violation ("can't read 7 from a register holding 1"). A doomed read
                // that is not the soonest one is named, or the explanation would blame
                // whichever operation returns first.
                self.stack.push(self.frame(undo));
                self.track_best((doomed != u32::MAX).then_some(doomed));
                self.stack.pop();
                self.best_valid = self.best_valid.min(self.stack.len().saturating_sub(1));
                self.revert(undo);
                continue;
            }
            if !self.remember() {
                self.revert(undo);
                continue;
            }
            self.stack.push(self.frame(undo));
            self.track_best(None);
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
            blame: self.best_blame,
        })
    }

    /// The frame for the configuration that `undo`'s move just reached.
    fn frame(&self, undo: Undo) -> Frame {
        Frame {
            scanned: false,
            after_info: matches!(undo, Undo::Info { .. }),
            preferred: None,
            preferred_done: false,
            det_cursor: match self.order {
                Order::Call => self.p,
                Order::Return => 0,
            },
            info_cursor: 0,
            succ_cursor: 0,
            undo,
        }
    }

    /// Keeps the path to the deepest configuration, copying only the part of the stack
    /// that changed since it was last copied.
    fn track_best(&mut self, blame: Option<u32>) {
        if self.done > self.best_done {
            self.best_done = self.done;
            self.best_blame = blame;
            self.stats.deepest = self.done;
            self.best_states.clear();
            self.best_states.push(self.state);
            self.best_steps.truncate(self.best_valid + 1);
            self.best_path
                .truncate(self.best_steps[self.best_valid] as usize);
            // Frames 1.. hold the steps; walk down from the top to know the state after
            // each step and which operation of an indeterminate class it used.
            let mut used = self.used.clone();
            let mut state_after = self.state;
            let mut tail: Vec<Step> = Vec::new();
            let mut counts: Vec<u32> = Vec::new();
            let mut top = self.absorbed.len();
            for fr in self.stack[self.best_valid + 1..].iter().rev() {
                tail.push(Self::step_of(fr.undo, &used, state_after));
                let mut steps = 1;
                match fr.undo {
                    Undo::Det {
                        state, absorbed, ..
                    } => {
                        let from = top - absorbed as usize;
                        for &(w, st) in self.absorbed[from..top].iter().rev() {
                            tail.push(Step::Det { i: w, state: st });
                        }
                        top = from;
                        steps += absorbed;
                        state_after = state;
                    }
                    Undo::Info {
                        k, state, absorbed, ..
                    } => {
                        used[k as usize] -= 1;
                        let from = top - absorbed as usize;
                        for &(w, st) in self.absorbed[from..top].iter().rev() {
                            tail.push(Step::Det { i: w, state: st });
                        }
                        top = from;
                        steps += absorbed;
                        state_after = state;
                    }
                    Undo::Root => {}
                }
                counts.push(steps);
            }
            self.best_path.extend(tail.into_iter().rev());
            for c in counts.into_iter().rev() {
                let last = *self.best_steps.last().unwrap_or(&0);
                self.best_steps.push(last + c);
            }
            self.best_valid = self.stack.len() - 1;
        } else if self.done == self.best_done
            && blame == self.best_blame
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
