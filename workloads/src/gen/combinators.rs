//! Jepsen's generator combinators (`jepsen.generator`), as mutable values.

use super::{fill_in, Ctx, Event, Gen, GenOp, Generator, OpKind, OpSpec, Poll, Thread, ThreadSet};
use faultline_checkers::history::OpType;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------
// Leaves

/// One operation, then exhausted (Jepsen: a map as a generator).
#[derive(Clone)]
pub struct Once1 {
    spec: Option<OpSpec>,
}

/// A single operation.
pub fn op(spec: OpSpec) -> Gen {
    Box::new(Once1 { spec: Some(spec) })
}

impl Generator for Once1 {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        let Some(spec) = &self.spec else {
            return Poll::Exhausted;
        };
        let p = fill_in(ctx, spec.clone());
        if matches!(p, Poll::Op(_)) {
            self.spec = None;
        }
        p
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Calls a function for each operation (Jepsen: a function as a generator). The function
/// is called only once a free thread has been chosen, with that thread, so state it keeps
/// (counters, keys per thread) advances only for operations actually emitted. `None`
/// ends the generator.
#[derive(Clone)]
pub struct FnGen<F> {
    f: F,
    done: bool,
}

pub fn from_fn<F>(f: F) -> Gen
where
    F: FnMut(&mut Ctx<'_>, Thread) -> Option<OpSpec> + Clone + Send + 'static,
{
    Box::new(FnGen { f, done: false })
}

impl<F> Generator for FnGen<F>
where
    F: FnMut(&mut Ctx<'_>, Thread) -> Option<OpSpec> + Clone + Send + 'static,
{
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if self.done {
            return Poll::Exhausted;
        }
        let Some(thread) = ctx.some_free_thread() else {
            return Poll::Pending;
        };
        match (self.f)(ctx, thread) {
            Some(spec) => Poll::Op(GenOp {
                kind: OpKind::Invoke,
                thread,
                process: ctx.process(thread),
                time: ctx.time,
                spec,
            }),
            None => {
                self.done = true;
                Poll::Exhausted
            }
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Logs a message once (not journaled; needs no thread).
#[derive(Clone)]
pub struct Log {
    msg: Option<String>,
}

pub fn log(msg: impl Into<String>) -> Gen {
    Box::new(Log {
        msg: Some(msg.into()),
    })
}

impl Generator for Log {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        match self.msg.take() {
            Some(m) => Poll::Op(GenOp {
                kind: OpKind::Log,
                thread: 0,
                process: 0,
                time: ctx.time,
                spec: OpSpec::new("log", serde_json::Value::String(m)),
            }),
            None => Poll::Exhausted,
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Emits nothing for `dur` ns from the first time it is asked, then is exhausted. Unlike
/// Jepsen's `sleep` op no worker is tied up: the pause is a property of the schedule.
#[derive(Clone)]
pub struct Sleep {
    dur: u64,
    until: Option<u64>,
}

pub fn sleep(dur_ns: u64) -> Gen {
    Box::new(Sleep {
        dur: dur_ns,
        until: None,
    })
}

impl Generator for Sleep {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        let until = *self.until.get_or_insert(ctx.time.saturating_add(self.dur));
        if ctx.time >= until {
            Poll::Exhausted
        } else {
            Poll::Pending
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------
// Sequencing

/// Each generator in turn, until it is exhausted (Jepsen: a sequence of generators).
#[derive(Clone)]
pub struct Concat {
    gens: std::collections::VecDeque<Gen>,
}

pub fn concat(gens: Vec<Gen>) -> Gen {
    Box::new(Concat { gens: gens.into() })
}

impl Generator for Concat {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        while let Some(g) = self.gens.front_mut() {
            match g.op(ctx) {
                Poll::Exhausted => {
                    self.gens.pop_front();
                }
                p => return p,
            }
        }
        Poll::Exhausted
    }
    fn update(&mut self, e: &Event<'_>) {
        if let Some(g) = self.gens.front_mut() {
            g.update(e)
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Pending until every thread of the context is free, then the inner generator.
#[derive(Clone)]
pub struct Synchronize {
    gen: Gen,
    synced: bool,
}

pub fn synchronize(gen: Gen) -> Gen {
    Box::new(Synchronize { gen, synced: false })
}

impl Generator for Synchronize {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if !self.synced {
            if !ctx.all_free() {
                return Poll::Pending;
            }
            self.synced = true;
        }
        self.gen.op(ctx)
    }
    fn update(&mut self, e: &Event<'_>) {
        self.gen.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Each generator in turn, waiting for all threads to be free between them.
pub fn phases(gens: Vec<Gen>) -> Gen {
    concat(gens.into_iter().map(synchronize).collect())
}

/// `b`, then (synchronized) `a`: Jepsen's argument order, which reads well as
/// `then(final_reads, main_phase)`.
pub fn then(a: Gen, b: Gen) -> Gen {
    phases(vec![b, a])
}

// ---------------------------------------------------------------------------------------
// Counting

/// At most `n` operations.
#[derive(Clone)]
pub struct Limit {
    left: u64,
    gen: Gen,
}

pub fn limit(n: u64, gen: Gen) -> Gen {
    Box::new(Limit { left: n, gen })
}

pub fn once(gen: Gen) -> Gen {
    limit(1, gen)
}

impl Generator for Limit {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if self.left == 0 {
            return Poll::Exhausted;
        }
        let p = self.gen.op(ctx);
        if matches!(p, Poll::Op(_)) {
            self.left -= 1;
        }
        p
    }
    fn update(&mut self, e: &Event<'_>) {
        self.gen.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Emits the inner generator's next operation again and again without advancing it
/// (forever, or `n` times): the inverse of `once`. A random inner generator gives
/// different operations each time, as in Jepsen.
#[derive(Clone)]
pub struct Repeat {
    left: Option<u64>,
    gen: Gen,
}

pub fn repeat(gen: Gen) -> Gen {
    Box::new(Repeat { left: None, gen })
}

pub fn repeat_n(n: u64, gen: Gen) -> Gen {
    Box::new(Repeat { left: Some(n), gen })
}

impl Generator for Repeat {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if self.left == Some(0) {
            return Poll::Exhausted;
        }
        let p = self.gen.box_clone().op(ctx);
        if matches!(p, Poll::Op(_)) {
            if let Some(l) = &mut self.left {
                *l -= 1;
            }
        }
        p
    }
    fn update(&mut self, e: &Event<'_>) {
        self.gen.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Runs the generator to exhaustion, then again from its initial state (forever, or `n`
/// times in all).
#[derive(Clone)]
pub struct Cycle {
    left: Option<u64>,
    initial: Gen,
    current: Gen,
}

pub fn cycle(gen: Gen) -> Gen {
    Box::new(Cycle {
        left: None,
        current: gen.clone(),
        initial: gen,
    })
}

pub fn cycle_n(n: u64, gen: Gen) -> Gen {
    Box::new(Cycle {
        left: Some(n),
        current: gen.clone(),
        initial: gen,
    })
}

impl Generator for Cycle {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if self.left == Some(0) {
            return Poll::Exhausted;
        }
        match self.current.op(ctx) {
            Poll::Exhausted => {
                if let Some(l) = &mut self.left {
                    *l -= 1;
                    if *l == 0 {
                        return Poll::Exhausted;
                    }
                }
                self.current = self.initial.clone();
                // A fresh copy that is exhausted at once would cycle forever: stop.
                match self.current.op(ctx) {
                    Poll::Exhausted => {
                        self.left = Some(0);
                        Poll::Exhausted
                    }
                    p => p,
                }
            }
            p => p,
        }
    }
    fn update(&mut self, e: &Event<'_>) {
        self.current.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------
// Time

/// Stops `dur` ns after it is first asked; operations due at or after that are dropped.
#[derive(Clone)]
pub struct TimeLimit {
    dur: u64,
    deadline: Option<u64>,
    gen: Gen,
}

pub fn time_limit(dur_ns: u64, gen: Gen) -> Gen {
    Box::new(TimeLimit {
        dur: dur_ns,
        deadline: None,
        gen,
    })
}

impl Generator for TimeLimit {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        let deadline = *self
            .deadline
            .get_or_insert(ctx.time.saturating_add(self.dur));
        if ctx.time >= deadline {
            return Poll::Exhausted;
        }
        match self.gen.op(ctx) {
            Poll::Op(o) if o.time >= deadline => {
                self.dur = 0;
                self.deadline = Some(0);
                Poll::Exhausted
            }
            p => p,
        }
    }
    fn update(&mut self, e: &Event<'_>) {
        self.gen.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Schedules operations at random intervals, uniform in `[0, 2·dt]`: on average one per
/// `dt` in total (not per thread), as Jepsen's `stagger`.
#[derive(Clone)]
pub struct Stagger {
    dt: u64,
    fixed: bool,
    next: Option<u64>,
    gen: Gen,
}

pub fn stagger(dt_ns: u64, gen: Gen) -> Gen {
    Box::new(Stagger {
        dt: dt_ns,
        fixed: false,
        next: None,
        gen,
    })
}

/// About `hz` operations per second in total (`stagger` of `1/hz`); `hz <= 0` or not
/// finite means no limit.
pub fn rate(hz: f64, gen: Gen) -> Gen {
    if !(hz.is_finite() && hz > 0.0) {
        return gen;
    }
    stagger((1e9 / hz).round().max(1.0) as u64, gen)
}

/// Operations exactly `dt` apart (catching up, without bursts beyond the schedule, when
/// it fell behind).
pub fn delay(dt_ns: u64, gen: Gen) -> Gen {
    Box::new(Stagger {
        dt: dt_ns,
        fixed: true,
        next: None,
        gen,
    })
}

impl Generator for Stagger {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        let next = *self.next.get_or_insert(ctx.time);
        match self.gen.op(ctx) {
            Poll::Op(mut o) => {
                o.time = o.time.max(next);
                let step = if self.fixed {
                    self.dt
                } else {
                    ctx.rng.random_range(0..=self.dt.saturating_mul(2))
                };
                self.next = Some(o.time.saturating_add(step));
                Poll::Op(o)
            }
            p => p,
        }
    }
    fn update(&mut self, e: &Event<'_>) {
        self.gen.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------
// Choice and routing

/// A random generator for each operation (uniform); exhausted generators drop out.
#[derive(Clone)]
pub struct Mix {
    gens: Vec<Gen>,
}

pub fn mix(gens: Vec<Gen>) -> Gen {
    Box::new(Mix { gens })
}

impl Generator for Mix {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        while !self.gens.is_empty() {
            let i = ctx.rng.random_range(0..self.gens.len());
            match self.gens[i].op(ctx) {
                Poll::Exhausted => {
                    self.gens.swap_remove(i);
                }
                p => return p,
            }
        }
        Poll::Exhausted
    }
    // As in Jepsen, mix's children see no updates: they are meant to be stateless
    // sources of operations.
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// The soonest operation of any child, each child seeing the threads `masks[i]` (all if
/// `None`). Operations not chosen are held (with their threads) until they are the
/// soonest, since asking again would advance the child a second time. Updates go to every
/// child whose threads the event concerns.
#[derive(Clone)]
pub struct Any {
    gens: Vec<Option<Gen>>,
    masks: Vec<Option<ThreadSet>>,
    held: Vec<Option<GenOp>>,
    /// Stop as soon as any child is exhausted (Jepsen's `shortest-any`).
    shortest: bool,
}

pub fn any(gens: Vec<Gen>) -> Gen {
    let n = gens.len();
    Box::new(Any {
        gens: gens.into_iter().map(Some).collect(),
        masks: vec![None; n],
        held: vec![None; n],
        shortest: false,
    })
}

pub fn shortest_any(gens: Vec<Gen>) -> Gen {
    let n = gens.len();
    Box::new(Any {
        gens: gens.into_iter().map(Some).collect(),
        masks: vec![None; n],
        held: vec![None; n],
        shortest: true,
    })
}

impl Any {
    fn with_masks(gens: Vec<(Option<ThreadSet>, Gen)>) -> Any {
        let n = gens.len();
        let (masks, gens): (Vec<_>, Vec<_>) = gens.into_iter().map(|(m, g)| (m, Some(g))).unzip();
        Any {
            gens,
            masks,
            held: vec![None; n],
            shortest: false,
        }
    }
}

impl Generator for Any {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        for i in 0..self.gens.len() {
            if self.held[i].is_some() {
                continue;
            }
            let Some(g) = &mut self.gens[i] else { continue };
            let mut held = ThreadSet::new(ctx.clients() + 1);
            for o in self.held.iter().flatten() {
                if o.kind == OpKind::Invoke {
                    held.insert(o.thread);
                }
            }
            let mut c = ctx.without(&held);
            let p = match &self.masks[i] {
                Some(m) => g.op(&mut c.restrict(m)),
                None => g.op(&mut c),
            };
            match p {
                Poll::Op(o) => self.held[i] = Some(o),
                Poll::Pending => {}
                Poll::Exhausted => {
                    self.gens[i] = None;
                    if self.shortest {
                        self.gens.iter_mut().for_each(|g| *g = None);
                        self.held.iter_mut().for_each(|h| *h = None);
                        return Poll::Exhausted;
                    }
                }
            }
        }
        // Soonest; ties go to the earlier child, which keeps it deterministic.
        let best = (0..self.held.len())
            .filter(|&i| self.held[i].is_some())
            .min_by_key(|&i| self.held[i].as_ref().map(|o| o.time));
        match best {
            Some(i) => Poll::Op(self.held[i].take().expect("chosen held op")),
            None if self.gens.iter().all(Option::is_none) => Poll::Exhausted,
            None => Poll::Pending,
        }
    }
    fn update(&mut self, e: &Event<'_>) {
        for (g, m) in self.gens.iter_mut().zip(&self.masks) {
            if let Some(g) = g {
                if m.as_ref().is_none_or(|m| m.contains(e.thread)) {
                    g.update(e);
                }
            }
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Only the threads of `mask`; only their events reach the inner generator.
pub fn on_threads(mask: ThreadSet, gen: Gen) -> Gen {
    Box::new(Any::with_masks(vec![(Some(mask), gen)]))
}

/// Only client threads. Built when first asked, because the mask depends on the
/// concurrency the context brings.
#[derive(Clone)]
pub struct Route {
    nemesis: bool,
    gen: Option<Gen>,
    inner: Option<Any>,
}

pub fn clients(gen: Gen) -> Gen {
    Box::new(Route {
        nemesis: false,
        gen: Some(gen),
        inner: None,
    })
}

/// Only the nemesis thread.
pub fn nemesis(gen: Gen) -> Gen {
    Box::new(Route {
        nemesis: true,
        gen: Some(gen),
        inner: None,
    })
}

/// Client operations from `client_gen` and nemesis operations from `nemesis_gen`, soonest
/// first (Jepsen's two-argument `clients`/`nemesis`).
pub fn clients_and_nemesis(client_gen: Gen, nemesis_gen: Gen) -> Gen {
    any(vec![clients(client_gen), nemesis(nemesis_gen)])
}

impl Generator for Route {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if self.inner.is_none() {
            let mask = if self.nemesis {
                ctx.nemesis_mask()
            } else {
                ctx.client_mask()
            };
            let gen = self.gen.take().expect("route generator set");
            self.inner = Some(Any::with_masks(vec![(Some(mask), gen)]));
        }
        self.inner.as_mut().expect("built").op(ctx)
    }
    fn update(&mut self, e: &Event<'_>) {
        match &mut self.inner {
            Some(a) => a.update(e),
            // Not asked yet: route by what we know without a context.
            None => {
                if let Some(g) = &mut self.gen {
                    g.update(e)
                }
            }
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// An independent copy of the generator for each thread; each copy sees its thread only.
#[derive(Clone)]
pub struct EachThread {
    template: Gen,
    inner: Option<Any>,
    threads: Vec<Thread>,
}

pub fn each_thread(gen: Gen) -> Gen {
    Box::new(EachThread {
        template: gen,
        inner: None,
        threads: Vec::new(),
    })
}

impl Generator for EachThread {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if self.inner.is_none() {
            let n = ctx.clients() + 1;
            self.threads = ctx.all_threads().iter().collect();
            self.inner = Some(Any::with_masks(
                self.threads
                    .iter()
                    .map(|&t| (Some(ThreadSet::range(n, t..t + 1)), self.template.clone()))
                    .collect(),
            ));
        }
        self.inner.as_mut().expect("built").op(ctx)
    }
    fn update(&mut self, e: &Event<'_>) {
        if let Some(a) = &mut self.inner {
            a.update(e)
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Dedicated client threads: the first `n1` run `g1`, the next `n2` run `g2`, ..., the
/// rest (and the nemesis, if in the context) run `default`.
#[derive(Clone)]
pub struct Reserve {
    parts: Vec<(usize, Gen)>,
    default: Option<Gen>,
    inner: Option<Any>,
}

pub fn reserve(parts: Vec<(usize, Gen)>, default: Gen) -> Gen {
    Box::new(Reserve {
        parts,
        default: Some(default),
        inner: None,
    })
}

impl Generator for Reserve {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if self.inner.is_none() {
            let n = ctx.clients() + 1;
            let mut start = 0;
            let mut gens = Vec::new();
            for (count, g) in self.parts.drain(..) {
                gens.push((Some(ThreadSet::range(n, start..start + count)), g));
                start += count;
            }
            let default = self.default.take().expect("reserve default set");
            gens.push((Some(ThreadSet::range(n, start.min(n)..n)), default));
            self.inner = Some(Any::with_masks(gens));
        }
        self.inner.as_mut().expect("built").op(ctx)
    }
    fn update(&mut self, e: &Event<'_>) {
        if let Some(a) = &mut self.inner {
            a.update(e)
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------
// Reacting to results

/// Operations from the inner generator until one of them completes `ok`.
#[derive(Clone)]
pub struct UntilOk {
    gen: Gen,
    open: BTreeSet<(Thread, u64)>,
    done: bool,
}

pub fn until_ok(gen: Gen) -> Gen {
    Box::new(UntilOk {
        gen,
        open: BTreeSet::new(),
        done: false,
    })
}

impl Generator for UntilOk {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        if self.done {
            return Poll::Exhausted;
        }
        let p = self.gen.op(ctx);
        if let Poll::Op(o) = &p {
            if o.kind == OpKind::Invoke {
                self.open.insert((o.thread, o.process));
            }
        }
        p
    }
    fn update(&mut self, e: &Event<'_>) {
        if e.kind != OpType::Invoke
            && self.open.remove(&(e.thread, e.process))
            && e.kind == OpType::Ok
        {
            self.done = true;
        }
        self.gen.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// `a`, `b`, `a`, `b`, ...: one operation from each in turn; stops when the one whose
/// turn it is runs out (start/stop pairs of faults).
#[derive(Clone)]
pub struct FlipFlop {
    gens: [Gen; 2],
    turn: usize,
}

pub fn flip_flop(a: Gen, b: Gen) -> Gen {
    Box::new(FlipFlop {
        gens: [a, b],
        turn: 0,
    })
}

impl Generator for FlipFlop {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        let p = self.gens[self.turn].op(ctx);
        if matches!(p, Poll::Op(_)) {
            self.turn ^= 1;
        }
        p
    }
    fn update(&mut self, e: &Event<'_>) {
        for g in &mut self.gens {
            g.update(e)
        }
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------
// Transforming

type MapFn = Arc<dyn Fn(GenOp) -> GenOp + Send + Sync>;

/// Rewrites every operation.
#[derive(Clone)]
pub struct Map {
    f: MapFn,
    gen: Gen,
}

pub fn map(f: impl Fn(GenOp) -> GenOp + Send + Sync + 'static, gen: Gen) -> Gen {
    Box::new(Map {
        f: Arc::new(f),
        gen,
    })
}

impl Generator for Map {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        match self.gen.op(ctx) {
            Poll::Op(o) => Poll::Op((self.f)(o)),
            p => p,
        }
    }
    fn update(&mut self, e: &Event<'_>) {
        self.gen.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

type FilterFn = Arc<dyn Fn(&GenOp) -> bool + Send + Sync>;

/// Drops operations that do not satisfy `pred`. At most `MAX_FILTERED` are dropped per
/// call (then `Pending`), so a filter that rejects everything cannot spin forever.
#[derive(Clone)]
pub struct Filter {
    pred: FilterFn,
    gen: Gen,
}

const MAX_FILTERED: usize = 1024;

pub fn filter(pred: impl Fn(&GenOp) -> bool + Send + Sync + 'static, gen: Gen) -> Gen {
    Box::new(Filter {
        pred: Arc::new(pred),
        gen,
    })
}

impl Generator for Filter {
    fn op(&mut self, ctx: &mut Ctx<'_>) -> Poll {
        for _ in 0..MAX_FILTERED {
            match self.gen.op(ctx) {
                Poll::Op(o) if !(self.pred)(&o) => continue,
                p => return p,
            }
        }
        Poll::Pending
    }
    fn update(&mut self, e: &Event<'_>) {
        self.gen.update(e)
    }
    fn box_clone(&self) -> Gen {
        Box::new(self.clone())
    }
}

/// Renames operations' `f` through a table (Jepsen's `f-map`, for composed nemeses).
pub fn f_map(table: BTreeMap<String, String>, gen: Gen) -> Gen {
    map(
        move |mut o| {
            if let Some(new) = table.get(&*o.spec.f) {
                o.spec.f = Arc::from(new.as_str());
            }
            o
        },
        gen,
    )
}
