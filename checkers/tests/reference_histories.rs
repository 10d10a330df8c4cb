//! Every reference history with a known verdict gets that verdict.

mod common;

use faultline_checkers::history::edn::{read_edn, write_edn};
use faultline_checkers::history::{read_file, Format, History};
use faultline_checkers::linear::{check, Options, Report};
use faultline_checkers::model::{CasRegister, Kv};
use faultline_checkers::Validity;

fn check_as(model: &str, h: &History) -> Report {
    let opts = Options::default();
    match model {
        "cas-register" => check(h, &CasRegister, &opts),
        "kv" => check(h, &Kv, &opts),
        other => panic!("manifest names an unknown model {other}"),
    }
    .expect("reference histories are well formed")
}

#[test]
fn jsonl_reference_histories_get_their_known_verdicts() {
    let rows = common::manifest();
    assert!(rows.len() >= 100, "manifest has {} rows", rows.len());
    let mut wrong = Vec::new();
    let mut checked = 0;
    for row in &rows {
        let h = read_file(&row.path, Some(Format::Jsonl)).unwrap();
        let r = check_as(&row.model, &h);
        // The same history as Jepsen would have written it, in EDN.
        let mut edn = Vec::new();
        write_edn(&h, &mut edn).unwrap();
        let from_edn = read_edn(std::str::from_utf8(&edn).unwrap(), &row.path).unwrap();
        let r_edn = check_as(&row.model, &from_edn);
        assert_eq!(
            r.valid,
            r_edn.valid,
            "{}: EDN rendering disagrees",
            row.path.display()
        );
        let want = match row.expected.as_str() {
            "linearizable" => Validity::Valid,
            "not-linearizable" => Validity::Invalid,
            _ => continue,
        };
        checked += 1;
        if r.valid != want {
            wrong.push(format!(
                "{}: got {}, want {}",
                row.path.display(),
                r.valid,
                row.expected
            ));
        }
        if r.valid == Validity::Invalid {
            assert!(
                !r.failures.is_empty(),
                "{}: invalid without explanation",
                row.path.display()
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked >= 100);
}
