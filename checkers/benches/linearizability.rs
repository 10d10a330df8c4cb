//! Linearizability checking (`linear::check`) on two sets:
//!
//! - `reference`: the recorded histories of `shared/histories` (via `MANIFEST.tsv`): all 103
//!   etcd files (cas-register) as one iteration, and the 6 kv files as one iteration.
//! - `synthetic`: single-register cas-register histories of 10,000 to 100,000 operations from
//!   `sim::simulate`, 10-30 clients, 1-5% `info` operations, values from `0..5` (as Jepsen
//!   does) or unique, linearizable by construction (`stale_read_prob` 0) or with a few stale
//!   reads (not linearizable).
//!
//! Histories are read or generated once, outside the measurement, and every verdict is
//! asserted before measuring (printed to stderr). Only the check is timed. Every check runs
//! under a 2 GB memory limit and a 60 s timeout, so nothing can blow up. A synthetic
//! history whose first check takes more than 5 s, or ends `unknown` (a limit reached), is
//! reported with that one pass and not sampled, so the bench stays a few minutes long.
//!
//! `shared` is found beside the repository, or at `$FAULTLINE_SHARED`.
//!
//! Run: `cargo bench -p faultline-checkers --bench linearizability`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faultline_checkers::history::{read_file, History};
use faultline_checkers::linear::{self, Options};
use faultline_checkers::sim::{simulate, SimConfig, SimModel};
use faultline_checkers::Validity;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn options() -> Options {
    Options {
        memory_limit: Some(2 << 30),
        timeout: Some(Duration::from_secs(60)),
        ..Default::default()
    }
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("FAULTLINE_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")),
    }
}

fn check(model: &str, h: &History, opts: &Options) -> linear::Report {
    linear::check_named(model, h, opts)
        .unwrap_or_else(|| panic!("unknown model {model}"))
        .unwrap_or_else(|e| panic!("{}: {e}", h.source.display()))
}

fn verdict(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

/// One file of the reference set, with its expected verdict (`None` for `unknown` rows).
struct RefFile {
    history: History,
    expected: Option<Validity>,
}

/// The reference histories of one model, in manifest order.
fn reference(model: &str) -> Vec<RefFile> {
    let dir = shared_dir().join("histories");
    let manifest = dir.join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[1] == model).then(|| {
                let path = dir.join(cols[0]);
                let history =
                    read_file(&path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let expected = match cols[3] {
                    "linearizable" => Some(Validity::Valid),
                    "not-linearizable" => Some(Validity::Invalid),
                    _ => None,
                };
                RefFile { history, expected }
            })
        })
        .collect()
}

fn reference_sets(c: &mut Criterion) {
    let opts = options();
    let mut g = c.benchmark_group("reference");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    for (name, model, count) in [("etcd", "cas-register", 103), ("kv", "kv", 6)] {
        let files = reference(model);
        assert_eq!(files.len(), count, "{name}: files in MANIFEST.tsv");
        let events: usize = files.iter().map(|f| f.history.len()).sum();
        let (mut valid, mut invalid) = (0, 0);
        let start = Instant::now();
        for f in &files {
            let got = check(model, &f.history, &opts).valid;
            if let Some(want) = f.expected {
                assert_eq!(got, want, "{}", f.history.source.display());
            }
            match got {
                Validity::Valid => valid += 1,
                Validity::Invalid => invalid += 1,
                Validity::Unknown => panic!("{}: unknown", f.history.source.display()),
            }
        }
        eprintln!(
            "reference/{name}: {count} files, {events} events: {valid} valid, {invalid} invalid \
             (as expected), first pass {:.3} s",
            start.elapsed().as_secs_f64()
        );
        g.throughput(Throughput::Elements(events as u64));
        g.bench_with_input(
            BenchmarkId::new(name, format!("{count}-files")),
            &files,
            |b, files| {
                b.iter(|| {
                    for f in files {
                        black_box(check(model, &f.history, &opts));
                    }
                })
            },
        );
    }
    g.finish();
}

/// A synthetic single-register cas-register history and the verdict it must get.
struct Synthetic {
    cfg: SimConfig,
    expected: Validity,
}

impl Synthetic {
    fn new(ops: usize, clients: usize, info_pct: u32, values: u64, stale: f64, seed: u64) -> Self {
        Synthetic {
            cfg: SimConfig {
                model: SimModel::CasRegister,
                ops,
                clients,
                keys: 1,
                values,
                info_rate: f64::from(info_pct) / 100.0,
                fail_rate: 0.0,
                stale_read_prob: stale,
                seed,
            },
            expected: if stale == 0.0 {
                Validity::Valid
            } else {
                Validity::Invalid
            },
        }
    }

    fn id(&self) -> String {
        let c = &self.cfg;
        let values = match c.values {
            0 => "unique".to_string(),
            v => format!("v{v}"),
        };
        format!(
            "c{}-info{}%-{values}-{}",
            c.clients,
            (c.info_rate * 100.0).round(),
            verdict(self.expected)
        )
    }
}

/// The hard synthetic set. Invalid histories have a 1% chance per read of a stale value.
fn synthetic_set() -> Vec<Synthetic> {
    let s = Synthetic::new;
    vec![
        s(10_000, 30, 5, 5, 0.0, 1),
        s(10_000, 30, 5, 5, 0.01, 1),
        s(10_000, 20, 2, 0, 0.0, 2),
        s(10_000, 20, 2, 0, 0.01, 2),
        s(20_000, 10, 5, 5, 0.0, 3),
        s(20_000, 10, 5, 5, 0.01, 3),
        s(20_000, 30, 3, 0, 0.0, 4),
        s(20_000, 30, 3, 0, 0.01, 4),
        s(100_000, 20, 1, 5, 0.0, 5),
        s(100_000, 20, 1, 5, 0.01, 5),
        s(100_000, 30, 2, 0, 0.0, 6),
        s(100_000, 30, 2, 0, 0.01, 6),
    ]
}

/// A first pass longer than this is reported but not sampled, to keep the bench short.
const SAMPLE_LIMIT: Duration = Duration::from_secs(5);

fn synthetic(c: &mut Criterion) {
    let opts = options();
    let mut g = c.benchmark_group("synthetic");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for s in synthetic_set() {
        let h = simulate(&s.cfg);
        let start = Instant::now();
        let report = check("cas-register", &h, &opts);
        let elapsed = start.elapsed();
        let name = format!("synthetic/{}/{}", s.cfg.ops, s.id());
        eprintln!(
            "{name}: {} events, seed {}: {} in {:.3} s ({} configurations, {} memo entries){}",
            h.len(),
            s.cfg.seed,
            verdict(report.valid),
            elapsed.as_secs_f64(),
            report.stats.configurations,
            report.stats.memo_entries,
            report
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
        );
        // Never a wrong verdict; `unknown` (a limit reached) is reported, not sampled.
        assert!(
            report.valid == s.expected || report.valid == Validity::Unknown,
            "{name}: WRONG VERDICT {} (expected {})",
            verdict(report.valid),
            verdict(s.expected)
        );
        if report.valid == Validity::Unknown || elapsed > SAMPLE_LIMIT {
            eprintln!("{name}: not sampled (first pass above {SAMPLE_LIMIT:?} or undecided)");
            continue;
        }
        g.throughput(Throughput::Elements(s.cfg.ops as u64));
        g.bench_with_input(BenchmarkId::new(s.id(), s.cfg.ops), &h, |b, h| {
            b.iter(|| black_box(check("cas-register", h, &opts)))
        });
    }
    g.finish();
}

/// `linear::check` with a 1 s timeout on the synthetic history that takes longest to
/// decide (100k operations, 30 clients, unique values: a few seconds): how long it takes
/// to return, preprocessing included. One pass, reported, not asserted (machine noise);
/// the target is 1.2 s.
fn timeout(_: &mut Criterion) {
    let s = Synthetic::new(100_000, 30, 2, 0, 0.0, 6);
    let h = simulate(&s.cfg);
    for _ in 0..3 {
        let opts = Options {
            timeout: Some(Duration::from_secs(1)),
            ..options()
        };
        let start = Instant::now();
        let report = check("cas-register", &h, &opts);
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "timeout/1s/{}/{}: {} in {secs:.3} s{}",
            s.cfg.ops,
            s.id(),
            verdict(report.valid),
            if secs > 1.2 { " (OVER 1.2 s)" } else { "" }
        );
    }
}

criterion_group!(benches, reference_sets, synthetic, timeout);
criterion_main!(benches);
