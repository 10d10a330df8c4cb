//! Times the list-append checker on generated strict serializable histories of 100,000 and
//! 1,000,000 transactions (generation not counted), and prints transactions per second.
//!
//! cargo run --release -p faultline-checkers --example elle_throughput [--stale] [txns...]
//!
//! `--stale` runs a store without conflict checks instead (lost updates, write skew: large
//! strongly connected components), to time the cycle search under stress.

use faultline_checkers::elle::gen::{self, GenOptions, Store};
use faultline_checkers::elle::{check_list_append, ConsistencyModel, ElleOptions};
use std::time::Instant;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    let store = if std::env::args().any(|a| a == "--stale") {
        Store::StaleSnapshot
    } else {
        Store::StrictSerializable
    };
    for n in sizes {
        let h = gen::list_append(&GenOptions {
            txns: n,
            concurrency: 10,
            active_keys: 10,
            seed: 42,
            store,
            ..GenOptions::default()
        });
        for model in [
            ConsistencyModel::Serializable,
            ConsistencyModel::StrictSerializable,
        ] {
            let start = Instant::now();
            let r = check_list_append(&h, &ElleOptions::for_model(model)).expect("well-formed");
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{n:>9} txns  {:<20} {:>7.3} s  {:>9.0} txns/s  valid={} edges={} sccs={} types={:?}{}",
                model.name(),
                secs,
                n as f64 / secs,
                r.valid,
                r.edge_count,
                r.scc_count,
                r.anomaly_types,
                if r.search_exhausted { " (search budget hit)" } else { "" },
            );
        }
    }
}
