//! Elle list-append checking on generated strict serializable histories of 100,000
//! transactions (10 concurrent clients, 10 active keys, up to 32 appends per key), for
//! serializable and strict serializable (which adds real-time edges). The history is
//! generated once, outside the measurement. See `examples/elle_throughput.rs` for
//! 1,000,000 transactions.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faultline_checkers::elle::gen::{self, GenOptions};
use faultline_checkers::elle::{check_list_append, ConsistencyModel, ElleOptions};
use std::hint::black_box;
use std::time::Duration;

fn list_append(c: &mut Criterion) {
    let n = 100_000;
    let h = gen::list_append(&GenOptions {
        txns: n,
        concurrency: 10,
        active_keys: 10,
        seed: 42,
        ..GenOptions::default()
    });
    let mut g = c.benchmark_group("elle-list-append");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for model in [
        ConsistencyModel::Serializable,
        ConsistencyModel::StrictSerializable,
    ] {
        let opts = ElleOptions::for_model(model);
        g.bench_with_input(BenchmarkId::new(model.name(), n), &h, |b, h| {
            b.iter(|| black_box(check_list_append(h, &opts).expect("well-formed")))
        });
    }
    g.finish();
}

criterion_group!(benches, list_append);
criterion_main!(benches);
