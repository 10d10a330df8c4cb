//! The runner: drives a generator with real time and worker threads, and journals every
//! invocation and completion to `history.jsonl` as it happens.
//!
//! One control thread owns the [`Scheduler`] (so generators stay single-threaded and
//! deterministic for a given sequence of events) and the history file. Logical thread
//! `i` (Jepsen's worker) is bound to node `i mod n` and has one client at a time, opened
//! for its current process; its operations run on a pool of `concurrency` OS threads,
//! the client travelling with the operation (see [`Pool`]). At most `concurrency`
//! operations are ever in flight, and memory does not grow with run length (the history
//! goes to disk, not to a vector).

pub mod harness;
pub mod memory;

use faultline_checkers::history::{ErrorRef, OpRef, OpType, ProcessRef};
use faultline_workloads::gen::{Gen, GenOp};
use faultline_workloads::sched::{Next, Scheduler};
use serde_json::Value;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// An operation handed to a client.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub f: Arc<str>,
    pub value: Value,
    pub key: Option<Value>,
    /// The client should give up (and answer `info`) after this long; the runner
    /// enforces it anyway, a little later, by abandoning the worker.
    pub timeout: Duration,
}

/// How an operation ended, as the client saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// `Ok`, `Fail` (certainly not applied) or `Info` (unknown).
    pub kind: OpType,
    pub value: Value,
    pub error: Option<String>,
}

impl Completion {
    pub fn ok(value: Value) -> Self {
        Completion {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }
    pub fn fail(value: Value, error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Fail,
            value,
            error: Some(error.into()),
        }
    }
    pub fn info(value: Value, error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Info,
            value,
            error: Some(error.into()),
        }
    }
}

/// A connection to one node, used by one worker for one process at a time.
pub trait Client: Send {
    fn invoke(&mut self, op: &Invocation) -> Completion;
    fn close(&mut self) {}
}

/// Opens clients (Jepsen's `open!`); called on the worker thread, again for each new
/// process after an `info`.
pub trait ClientFactory: Send + Sync {
    fn open(&self, node: &str) -> Result<Box<dyn Client>, OpenError>;

    /// Opens a client for history process `process`: the runner calls this. Clients
    /// that tell the process to someone else (an external client process is told its
    /// process id) override it; the others need only [`ClientFactory::open`].
    fn open_process(&self, node: &str, process: u64) -> Result<Box<dyn Client>, OpenError> {
        let _ = process;
        self.open(node)
    }
}

/// Why a client could not be opened. The operation it was for fails (`no-client`) and
/// the run goes on; the variant says whose fault it was, for a caller that wants to
/// stop on a misconfiguration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The client is configured for a node it has no address for, or its program
    /// cannot start: the user's to fix.
    #[error("{0}")]
    Misconfigured(String),
    /// The node or its database refused or did not answer: expected under faults.
    #[error("{0}")]
    Unavailable(String),
    /// An external client program broke the protocol (a bug in the client).
    #[error("{0}")]
    Protocol(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid run configuration: {0}")]
    Invalid(String),
}

/// Live counters, for a progress line.
#[derive(Debug, Default)]
pub struct Progress {
    pub ok: AtomicU64,
    pub fail: AtomicU64,
    pub info: AtomicU64,
}

impl Progress {
    pub fn completed(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.fail.load(Ordering::Relaxed)
            + self.info.load(Ordering::Relaxed)
    }
}

pub struct RunConfig {
    pub concurrency: usize,
    /// Worker `i` talks to `nodes[i % nodes.len()]`.
    pub nodes: Vec<String>,
    pub op_timeout: Duration,
    pub seed: u64,
    /// Set from outside (Ctrl-C) to stop asking the generator; in-flight ops finish or
    /// time out, and the history stays complete.
    pub stop: Arc<AtomicBool>,
    pub progress: Arc<Progress>,
    /// The history is flushed at least this often (and when the buffer fills).
    pub flush_interval: Duration,
    /// Events of named processes (the nemesis), written to the history as they
    /// arrive: one writer keeps the indices consecutive and the file whole.
    pub events: Option<Mutex<mpsc::Receiver<NamedEvent>>>,
    /// Set when the generator is exhausted (or stopped): the event sources then
    /// finish (the nemesis heals), and the runner waits, bounded, until every
    /// sender is gone so that their last events (the heal) are in the history.
    pub generator_done: Arc<AtomicBool>,
}

/// Longest the runner waits, after the generator, for event sources to finish.
const EVENTS_GRACE: Duration = Duration::from_secs(120);

/// A history event of a process that is not a client (process `"nemesis"`); the
/// runner gives it its index and time.
#[derive(Debug, Clone)]
pub struct NamedEvent {
    pub process: &'static str,
    pub kind: OpType,
    pub f: String,
    pub value: Value,
    pub error: Option<String>,
}

impl RunConfig {
    pub fn new(concurrency: usize, nodes: Vec<String>) -> Self {
        RunConfig {
            concurrency,
            nodes,
            op_timeout: Duration::from_secs(5),
            seed: 0,
            stop: Arc::new(AtomicBool::new(false)),
            progress: Arc::new(Progress::default()),
            flush_interval: Duration::from_millis(100),
            events: None,
            generator_done: Arc::new(AtomicBool::new(false)),
        }
    }
}

pub use faultline_store::RunSummary;

/// Appends events to `history.jsonl`, with consecutive indices, through a buffer written
/// out on a timer: a SIGKILL of the controller loses at most the last interval's events.
/// The buffer only ever goes to the file whole, so the file always ends at a line
/// boundary (a `BufWriter` would write part of a line when it fills, and a crash then
/// leaves a truncated last line).
struct HistoryWriter {
    file: File,
    buf: Vec<u8>,
    index: u64,
    last_flush: Instant,
    interval: Duration,
    path: String,
}

/// One history event as `history.jsonl` has it: the checkers' own borrowed view of an
/// event, so the runner writes exactly what the readers read.
type Line<'a> = OpRef<'a>;

/// The buffer is written out once it holds this much.
const HISTORY_BUFFER: usize = 1 << 16;

impl HistoryWriter {
    fn create(path: &Path, interval: Duration) -> Result<Self, RunError> {
        let file = File::create(path).map_err(|source| RunError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(HistoryWriter {
            file,
            buf: Vec::with_capacity(HISTORY_BUFFER + 4096),
            index: 0,
            last_flush: Instant::now(),
            interval,
            path: path.display().to_string(),
        })
    }

    fn io(&self, source: std::io::Error) -> RunError {
        RunError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn write(&mut self, line: &Line<'_>) -> Result<(), RunError> {
        let line = Line {
            index: self.index,
            ..*line
        };
        self.index += 1;
        serde_json::to_writer(&mut self.buf, &line).map_err(|e| self.io(e.into()))?;
        self.buf.push(b'\n');
        if self.buf.len() >= HISTORY_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), RunError> {
        if !self.buf.is_empty() {
            let r = self.file.write_all(&self.buf);
            self.buf.clear();
            r.map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn maybe_flush(&mut self, now: Instant) -> Result<(), RunError> {
        if now.duration_since(self.last_flush) >= self.interval {
            self.last_flush = now;
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), RunError> {
        self.flush()?;
        self.file.sync_data().map_err(|e| self.io(e))
    }
}

/// One operation for the pool: which logical thread it belongs to, and that thread's
/// client (if it has one), which travels with the operation and comes back with the
/// completion, so a thread's connection is used by one operation at a time.
struct Job {
    thread: usize,
    generation: u64,
    op: GenOp,
    timeout: Duration,
    node: Arc<str>,
    client: Option<OwnedClient>,
}

/// A client and the process it was opened for.
type OwnedClient = (u64, Box<dyn Client>);

struct Done {
    thread: usize,
    generation: u64,
    completion: Completion,
    client: Option<OwnedClient>,
}

/// The worker threads and their shared queue of operations.
///
/// Any worker runs any logical thread's operation (the client goes with it), so a
/// worker that finishes an operation takes the next one without sleeping, and the
/// control thread wakes at most one sleeping worker at a time: a woken worker wakes the
/// next one itself if more operations wait. Waking a thread is the expensive part of
/// handing out an operation; this keeps most of it off the control thread.
struct Pool {
    state: Mutex<PoolState>,
    wake: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    /// Workers waiting on `wake`.
    sleeping: usize,
    /// Wake-ups granted and not yet taken (at most one at a time).
    tokens: usize,
    /// Live worker threads, and how many there should be: a worker abandoned in a hung
    /// client call is replaced, and the surplus exits when the call returns.
    threads: usize,
    target: usize,
    closed: bool,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, job: Job) {
        let mut s = self.lock();
        s.jobs.push_back(job);
        if s.tokens == 0 && s.sleeping > 0 {
            s.tokens += 1;
            self.wake.notify_one();
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }
}

struct CloseOnDrop(Arc<Pool>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn spawn_worker(
    id: usize,
    pool: Arc<Pool>,
    factory: Arc<dyn ClientFactory>,
    done: Sender<Done>,
) -> Result<JoinHandle<()>, RunError> {
    std::thread::Builder::new()
        .name(format!("worker-{id}"))
        .spawn(move || worker_loop(&pool, &*factory, done))
        .map_err(|source| RunError::Io {
            path: "spawning a worker thread".into(),
            source,
        })
}

/// Puts the calling (worker) thread in Linux's SCHED_BATCH class, whose wakeups never
/// preempt a running thread. Without it, every operation the control thread hands out
/// wakes a worker that immediately preempts the control thread: two context switches
/// per operation, which with many workers on few cores is most of the runner's cost.
/// With it, the control thread dispatches a burst of operations and the workers run
/// when a core is free. Completion times can only come out later, never earlier, so
/// histories stay sound. Unprivileged; a failure only costs speed.
fn yield_to_control_thread() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param.
        let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if r != 0 {
            tracing::debug!("SCHED_BATCH: {}", std::io::Error::last_os_error());
        }
    }
}

fn worker_loop(pool: &Pool, factory: &dyn ClientFactory, done: Sender<Done>) {
    yield_to_control_thread();
    let mut s = pool.lock();
    loop {
        if let Some(job) = s.jobs.pop_front() {
            // More waiting and nobody on the way: wake the next worker (the chain).
            if !s.jobs.is_empty() && s.tokens == 0 && s.sleeping > 0 {
                s.tokens += 1;
                pool.wake.notify_one();
            }
            drop(s);
            let d = run_job(job, factory);
            let gone = done.send(d).is_err();
            s = pool.lock();
            if gone || s.threads > s.target {
                s.threads -= 1;
                return;
            }
            continue;
        }
        if s.closed {
            s.threads -= 1;
            return;
        }
        s.sleeping += 1;
        loop {
            s = pool.wake.wait(s).unwrap_or_else(|e| e.into_inner());
            if s.tokens > 0 {
                s.tokens -= 1;
                break;
            }
            if s.closed {
                break;
            }
        }
        s.sleeping -= 1;
    }
}

fn run_job(job: Job, factory: &dyn ClientFactory) -> Done {
    let Job {
        thread,
        generation,
        op,
        timeout,
        node,
        client,
    } = job;
    // A new process gets a fresh client (Jepsen re-opens after a crash): whatever
    // state the old connection had must not leak into the new process.
    let mut client = match client {
        Some((p, c)) if p == op.process => Some(c),
        Some((_, mut old)) => {
            old.close();
            None
        }
        None => None,
    };
    if client.is_none() {
        match factory.open_process(&node, op.process) {
            Ok(c) => client = Some(c),
            Err(e) => {
                tracing::debug!(thread, node = %node, "open failed: {e}");
                return Done {
                    thread,
                    generation,
                    completion: Completion::fail(op.spec.value, format!("no-client: {e}")),
                    client: None,
                };
            }
        }
    }
    let inv = Invocation {
        f: op.spec.f,
        value: op.spec.value,
        key: op.spec.key,
        timeout,
    };
    let Some(mut c) = client else {
        return Done {
            thread,
            generation,
            completion: Completion::info(inv.value, "no client"),
            client: None,
        };
    };
    let completion = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.invoke(&inv)))
    {
        Ok(completion) => completion,
        // The client's state is suspect after a panic: drop it.
        Err(_) => {
            return Done {
                thread,
                generation,
                completion: Completion::info(inv.value, "indeterminate: client panicked"),
                client: None,
            }
        }
    };
    // Info: the process is retired; close now rather than at the next op.
    let client = if completion.kind == OpType::Info {
        c.close();
        None
    } else {
        Some((op.process, c))
    };
    Done {
        thread,
        generation,
        completion,
        client,
    }
}

/// Extra time beyond the op timeout before the runner abandons a worker whose client did
/// not return: the client's own timeout should fire first.
const TIMEOUT_GRACE: Duration = Duration::from_millis(500);

/// Longest wait for anything while the generator is pending: bounds how late the runner
/// notices time-based generators becoming ready (Jepsen's max-pending-interval).
const MAX_PENDING_WAIT: Duration = Duration::from_millis(1);

/// Runs `gen` to exhaustion (or until `cfg.stop`), writing the history to `history`.
pub fn run(
    gen: Gen,
    factory: Arc<dyn ClientFactory>,
    cfg: &RunConfig,
    history: &Path,
) -> Result<RunSummary, RunError> {
    if cfg.concurrency == 0 || cfg.nodes.is_empty() {
        return Err(RunError::Invalid(
            "concurrency and the node list must not be empty".into(),
        ));
    }
    let mut run = Dispatcher::start(gen, factory, cfg, history)?;
    loop {
        run.drain_events()?;
        if cfg.stop.load(Ordering::Relaxed) && !run.summary.interrupted {
            tracing::info!("stopping: waiting for operations in flight");
            run.summary.interrupted = true;
            run.sched.stop();
        }
        // Completions first, so the generator never sees false concurrency.
        while let Ok(d) = run.done_rx.try_recv() {
            run.on_done(d)?;
        }
        let now = Instant::now();
        run.expire_timeouts(now)?;
        run.out.maybe_flush(now)?;
        let wait = match run.sched.next(run.ns(now)) {
            Next::Dispatch(op) => {
                run.dispatch(op, now)?;
                continue;
            }
            Next::Log(m) => {
                tracing::info!("{m}");
                continue;
            }
            Next::WaitUntil(t) => {
                Duration::from_nanos(t.saturating_sub(run.ns(now))).min(Duration::from_millis(10))
            }
            Next::Pending => MAX_PENDING_WAIT,
            Next::Done => break,
        };
        match run.done_rx.recv_timeout(wait) {
            Ok(d) => run.on_done(d)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    cfg.generator_done.store(true, Ordering::SeqCst);
    run.await_event_sources()?;
    run.finish()
}

/// The control thread's state during a run: the scheduler, the history, the worker
/// pool, and what each logical thread is doing.
struct Dispatcher<'a> {
    cfg: &'a RunConfig,
    factory: Arc<dyn ClientFactory>,
    out: HistoryWriter,
    sched: Scheduler,
    pool: Arc<Pool>,
    /// Whatever way the run returns, idle workers must not wait forever.
    _closer: CloseOnDrop,
    handles: Vec<JoinHandle<()>>,
    done_tx: Sender<Done>,
    done_rx: mpsc::Receiver<Done>,
    node_arcs: Vec<Arc<str>>,
    /// Per logical thread: the generation of its current operation (bumped when one is
    /// abandoned, so a late answer is ignored) and its client while no op runs.
    generations: Vec<u64>,
    clients: Vec<Option<OwnedClient>>,
    /// What each thread is running: the op and its deadline.
    running: Vec<Option<(GenOp, Instant)>>,
    /// Operations abandoned in a hung client call whose answer has not come back.
    stuck: usize,
    summary: RunSummary,
    start: Instant,
    next_timeout_scan: Instant,
}

impl<'a> Dispatcher<'a> {
    fn start(
        gen: Gen,
        factory: Arc<dyn ClientFactory>,
        cfg: &'a RunConfig,
        history: &Path,
    ) -> Result<Self, RunError> {
        let n = cfg.concurrency;
        let out = HistoryWriter::create(history, cfg.flush_interval)?;
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let pool = Arc::new(Pool {
            state: Mutex::new(PoolState {
                jobs: VecDeque::with_capacity(n),
                sleeping: 0,
                tokens: 0,
                threads: n,
                target: n,
                closed: false,
            }),
            wake: Condvar::new(),
        });
        let closer = CloseOnDrop(pool.clone());
        let mut handles: Vec<JoinHandle<()>> = Vec::with_capacity(n);
        for t in 0..n {
            match spawn_worker(t, pool.clone(), factory.clone(), done_tx.clone()) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    pool.lock().threads -= n - t;
                    return Err(e);
                }
            }
        }
        let start = Instant::now();
        Ok(Dispatcher {
            cfg,
            factory,
            out,
            sched: Scheduler::new(gen, n, false, cfg.seed),
            pool,
            _closer: closer,
            handles,
            done_tx,
            done_rx,
            node_arcs: cfg.nodes.iter().map(|n| Arc::from(n.as_str())).collect(),
            generations: vec![0; n],
            clients: (0..n).map(|_| None).collect(),
            running: vec![None; n],
            stuck: 0,
            summary: RunSummary::default(),
            start,
            next_timeout_scan: start,
        })
    }

    /// Nanoseconds since the run started: the history's `time`.
    fn ns(&self, at: Instant) -> u64 {
        at.duration_since(self.start).as_nanos() as u64
    }

    /// The node a logical thread's client talks to (threads go round the nodes).
    fn node_name(&self, thread: usize) -> &'a str {
        let nodes = &self.cfg.nodes;
        &nodes[thread % nodes.len()]
    }

    /// Writes the invocation and hands the operation to a worker.
    fn dispatch(&mut self, op: GenOp, now: Instant) -> Result<(), RunError> {
        let t = op.thread;
        let line = OpRef {
            index: 0,
            kind: OpType::Invoke,
            process: ProcessRef::Client(op.process),
            f: &op.spec.f,
            value: &op.spec.value,
            key: op.spec.key.as_ref(),
            time: Some(self.ns(now) as i64),
            node: Some(self.node_name(t)),
            error: None,
        };
        self.out.write(&line)?;
        self.summary.events += 1;
        self.running[t] = Some((op.clone(), now + self.cfg.op_timeout + TIMEOUT_GRACE));
        self.pool.push(Job {
            thread: t,
            generation: self.generations[t],
            op,
            timeout: self.cfg.op_timeout,
            node: self.node_arcs[t % self.node_arcs.len()].clone(),
            client: self.clients[t].take(),
        });
        Ok(())
    }

    /// A worker's answer: recorded, unless its operation was abandoned (timed out)
    /// and is in the history as info already.
    fn on_done(&mut self, d: Done) -> Result<(), RunError> {
        if self.generations[d.thread] != d.generation {
            self.stuck = self.stuck.saturating_sub(1);
            if let Some((_, mut c)) = d.client {
                c.close();
            }
            return Ok(());
        }
        self.clients[d.thread] = d.client;
        let now = self.ns(Instant::now());
        self.complete(d.thread, d.completion, now)
    }

    /// Writes a thread's completion and tells the scheduler.
    fn complete(&mut self, thread: usize, c: Completion, now: u64) -> Result<(), RunError> {
        let Some((op, _)) = self.running[thread].take() else {
            return Ok(());
        };
        let cfg = self.cfg;
        let progress = &cfg.progress;
        let counter = match c.kind {
            OpType::Ok => {
                self.summary.ok += 1;
                &progress.ok
            }
            OpType::Fail => {
                self.summary.fail += 1;
                &progress.fail
            }
            _ => {
                self.summary.info += 1;
                &progress.info
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // A client may only answer ok / fail / info (Jepsen's Validate): anything else
        // would corrupt the history, so it becomes info.
        let kind = if c.kind == OpType::Invoke {
            OpType::Info
        } else {
            c.kind
        };
        let line = OpRef {
            index: 0,
            kind,
            process: ProcessRef::Client(op.process),
            f: &op.spec.f,
            value: &c.value,
            key: op.spec.key.as_ref(),
            time: Some(now as i64),
            node: Some(self.node_name(thread)),
            error: c.error.as_deref().map(ErrorRef::Text),
        };
        self.out.write(&line)?;
        self.summary.events += 1;
        self.sched.complete(thread, kind, &op.spec.f, &c.value, now);
        Ok(())
    }

    /// Operations past their deadline become info; their workers, stuck in the client,
    /// are left behind and replaced so as many operations can still run at once.
    fn expire_timeouts(&mut self, now: Instant) -> Result<(), RunError> {
        if now < self.next_timeout_scan {
            return Ok(());
        }
        self.next_timeout_scan = now + Duration::from_millis(10);
        for t in 0..self.running.len() {
            let value = match &self.running[t] {
                Some((op, deadline)) if *deadline <= now => op.spec.value.clone(),
                _ => continue,
            };
            self.summary.timeouts += 1;
            self.complete(t, Completion::info(value, "timeout"), self.ns(now))?;
            // The worker exits when its call returns, as a surplus thread.
            self.generations[t] += 1;
            self.stuck += 1;
            self.pool.lock().threads += 1;
            let id = self.running.len() + self.stuck;
            match spawn_worker(
                id,
                self.pool.clone(),
                self.factory.clone(),
                self.done_tx.clone(),
            ) {
                Ok(h) => self.handles.push(h),
                Err(e) => {
                    self.pool.lock().threads -= 1;
                    return Err(e);
                }
            }
            tracing::warn!(thread = t, "operation timed out; worker replaced");
        }
        Ok(())
    }

    /// Writes an event of a process that is not a client (the nemesis).
    fn record_event(&mut self, e: NamedEvent) -> Result<(), RunError> {
        let line = OpRef {
            index: 0,
            kind: e.kind,
            process: ProcessRef::Named(e.process),
            f: &e.f,
            value: &e.value,
            key: None,
            time: Some(self.ns(Instant::now()) as i64),
            node: None,
            error: e.error.as_deref().map(ErrorRef::Text),
        };
        self.out.write(&line)?;
        self.summary.events += 1;
        Ok(())
    }

    /// Records the events that have arrived, without waiting.
    fn drain_events(&mut self) -> Result<(), RunError> {
        let cfg = self.cfg;
        let Some(rx) = &cfg.events else {
            return Ok(());
        };
        loop {
            let e = rx.lock().unwrap_or_else(|p| p.into_inner()).try_recv();
            match e {
                Ok(e) => self.record_event(e)?,
                Err(_) => return Ok(()),
            }
        }
    }

    /// Once the generator is done: records the event sources' last events (the
    /// nemesis's healing) until they hang up, for at most [`EVENTS_GRACE`].
    fn await_event_sources(&mut self) -> Result<(), RunError> {
        let cfg = self.cfg;
        let Some(rx) = &cfg.events else {
            return Ok(());
        };
        let deadline = Instant::now() + EVENTS_GRACE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!("event sources still running after {EVENTS_GRACE:?}");
                return Ok(());
            }
            let r = rx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .recv_timeout(left.min(Duration::from_millis(100)));
            match r {
                Ok(e) => self.record_event(e)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }

    /// Ends the history, closes the idle clients and joins the workers that are not
    /// stuck in a client call (those exit when the call returns).
    fn finish(mut self) -> Result<RunSummary, RunError> {
        self.out.finish()?;
        self.summary.elapsed_secs = self.start.elapsed().as_secs_f64();
        self.pool.close();
        for (_, mut c) in std::mem::take(&mut self.clients).into_iter().flatten() {
            c.close();
        }
        // Bounded, as a stuck count can be off if a call returns just now.
        let deadline = Instant::now() + Duration::from_secs(2);
        let stuck = self.stuck;
        let running = |hs: &[JoinHandle<()>]| hs.iter().filter(|h| !h.is_finished()).count();
        while Instant::now() < deadline && running(&self.handles) > stuck {
            std::thread::sleep(Duration::from_millis(1));
        }
        for h in std::mem::take(&mut self.handles) {
            if h.is_finished() {
                let _ = h.join();
            }
        }
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a SIGKILL leaves: whatever reached the file, never a partial line.
    #[test]
    fn history_file_ends_on_a_whole_line_without_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut w = HistoryWriter::create(&path, Duration::from_secs(3600)).unwrap();
        for i in 0..3000u64 {
            w.write(&OpRef {
                index: 0,
                kind: OpType::Invoke,
                process: ProcessRef::Client(i % 7),
                f: "write",
                value: &Value::from(i),
                key: Some(&Value::from(i / 100)),
                time: Some(i as i64),
                node: Some("n1"),
                error: None,
            })
            .unwrap();
        }
        // No finish: the buffer's tail is lost, as in a crash.
        std::mem::forget(w);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() >= HISTORY_BUFFER, "{}", text.len());
        assert!(text.ends_with('\n'));
        for l in text.lines() {
            serde_json::from_str::<Value>(l).unwrap();
        }
    }
}
