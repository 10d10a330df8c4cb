//! Times the linearizability check of each history file given: `cargo run --release
//! --example time_each -- MODEL FILE...`.
use faultline_checkers::history::read_file;
use faultline_checkers::linear::{check, Options};
use faultline_checkers::model::{CasRegister, Kv};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let model = args.next().expect("usage: time_each MODEL FILE...");
    for f in args {
        let h = read_file(f.as_ref(), None).expect("readable history");
        let t = Instant::now();
        let r = match model.as_str() {
            "kv" => check(&h, &Kv, &Options::default()),
            _ => check(&h, &CasRegister, &Options::default()),
        }
        .expect("well-formed history");
        println!(
            "{f}\t{}\t{:.4}s\tconfigs={}\tmemo={}",
            r.valid,
            t.elapsed().as_secs_f64(),
            r.stats.configurations,
            r.stats.memo_entries
        );
    }
}
