//! What a generator sees when asked for an operation: the time, which threads exist and
//! which are free, the process each thread runs, and the seeded random source.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;

/// A worker thread. Client threads are `0..concurrency`; the nemesis thread is the one
/// numbered `concurrency` (see [`Ctx::nemesis_thread`]).
pub type Thread = usize;

/// A small bit set of threads. Contexts are narrowed (clients only, one thread, a
/// reserved range) by intersecting sets, which costs a word per 64 threads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadSet {
    words: Vec<u64>,
}

impl ThreadSet {
    pub fn new(len: usize) -> Self {
        ThreadSet {
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// Threads `range.start..range.end` (clamped to the set's capacity `len`).
    pub fn range(len: usize, range: std::ops::Range<usize>) -> Self {
        let mut s = ThreadSet::new(len);
        for t in range.start..range.end.min(len) {
            s.insert(t);
        }
        s
    }

    pub fn insert(&mut self, t: Thread) {
        let w = t / 64;
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (t % 64);
    }

    pub fn remove(&mut self, t: Thread) {
        if let Some(w) = self.words.get_mut(t / 64) {
            *w &= !(1 << (t % 64));
        }
    }

    pub fn contains(&self, t: Thread) -> bool {
        self.words
            .get(t / 64)
            .is_some_and(|w| w & (1 << (t % 64)) != 0)
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    pub fn intersect(&self, other: &ThreadSet) -> ThreadSet {
        ThreadSet {
            words: self
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| w & other.words.get(i).copied().unwrap_or(0))
                .collect(),
        }
    }

    /// Is every member of `self` in `other`?
    pub fn is_subset(&self, other: &ThreadSet) -> bool {
        self.words
            .iter()
            .enumerate()
            .all(|(i, w)| w & !other.words.get(i).copied().unwrap_or(0) == 0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Thread> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + b)
            })
        })
    }

    /// The `k`-th member in ascending order.
    pub fn nth(&self, k: usize) -> Option<Thread> {
        self.iter().nth(k)
    }
}

/// The context of one `op` call. Narrowed copies (see [`Ctx::restrict`]) share the clock,
/// the processes and the random source, and see a subset of the threads.
pub struct Ctx<'a> {
    /// Nanoseconds since the test started.
    pub time: u64,
    clients: usize,
    processes: &'a [u64],
    /// Threads this (narrowed) context covers.
    all: Cow<'a, ThreadSet>,
    /// The free ones among them.
    free: Cow<'a, ThreadSet>,
    pub rng: &'a mut ChaCha8Rng,
}

impl<'a> Ctx<'a> {
    /// `processes[t]` is the process thread `t` runs (the nemesis's entry is ignored).
    pub fn new(
        time: u64,
        clients: usize,
        processes: &'a [u64],
        all: &'a ThreadSet,
        free: &'a ThreadSet,
        rng: &'a mut ChaCha8Rng,
    ) -> Self {
        Ctx {
            time,
            clients,
            processes,
            all: Cow::Borrowed(all),
            free: Cow::Borrowed(free),
            rng,
        }
    }

    pub fn clients(&self) -> usize {
        self.clients
    }

    pub fn nemesis_thread(&self) -> Thread {
        self.clients
    }

    pub fn is_nemesis(&self, t: Thread) -> bool {
        t == self.clients
    }

    pub fn process(&self, t: Thread) -> u64 {
        self.processes.get(t).copied().unwrap_or(t as u64)
    }

    pub fn all_threads(&self) -> &ThreadSet {
        &self.all
    }

    pub fn free_threads(&self) -> &ThreadSet {
        &self.free
    }

    pub fn is_free(&self, t: Thread) -> bool {
        self.free.contains(t)
    }

    /// True when no thread of this context is busy (what `synchronize` waits for).
    pub fn all_free(&self) -> bool {
        self.all.is_subset(&self.free)
    }

    /// A free thread chosen at random, for fairness among threads (Jepsen's
    /// `some-free-process`).
    pub fn some_free_thread(&mut self) -> Option<Thread> {
        let n = self.free.len();
        if n == 0 {
            return None;
        }
        let k = self.rng.random_range(0..n);
        self.free.nth(k)
    }

    /// A context over the threads of `mask` only.
    pub fn restrict(&mut self, mask: &ThreadSet) -> Ctx<'_> {
        Ctx {
            time: self.time,
            clients: self.clients,
            processes: self.processes,
            all: Cow::Owned(self.all.intersect(mask)),
            free: Cow::Owned(self.free.intersect(mask)),
            rng: self.rng,
        }
    }

    /// The same context with some free threads taken away (held for ops already chosen).
    pub fn without(&mut self, held: &ThreadSet) -> Ctx<'_> {
        let mut free = self.free.clone().into_owned();
        for t in held.iter() {
            free.remove(t);
        }
        Ctx {
            time: self.time,
            clients: self.clients,
            processes: self.processes,
            all: Cow::Borrowed(&self.all),
            free: Cow::Owned(free),
            rng: self.rng,
        }
    }

    pub fn client_mask(&self) -> ThreadSet {
        ThreadSet::range(self.clients + 1, 0..self.clients)
    }

    pub fn nemesis_mask(&self) -> ThreadSet {
        ThreadSet::range(self.clients + 1, self.clients..self.clients + 1)
    }
}
