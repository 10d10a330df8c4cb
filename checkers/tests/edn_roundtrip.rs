//! Every reference history survives JSON Lines -> EDN -> back unchanged.

use faultline_checkers::history::edn::{read_edn, write_edn};
use faultline_checkers::history::{read_jsonl, Op};
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// `shared/` sits next to the workspace root; `FAULTLINE_SHARED` overrides it.
fn shared() -> PathBuf {
    std::env::var_os("FAULTLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")))
}

fn without_lines(ops: &[Op]) -> Vec<Op> {
    ops.iter()
        .map(|o| Op {
            line: 0,
            ..o.clone()
        })
        .collect()
}

#[test]
fn reference_histories_round_trip_through_edn() {
    let dir = shared().join("histories");
    let manifest = fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("MANIFEST.tsv").display()));
    let mut files = 0;
    let mut keyed = 0;
    for row in manifest.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let path = dir.join(row.split('\t').next().expect("a path column"));
        let original = read_jsonl(BufReader::new(File::open(&path).unwrap()), &path)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut edn = Vec::new();
        write_edn(&original, &mut edn).unwrap();
        let text = String::from_utf8(edn).unwrap();
        let back = read_edn(&text, Path::new("roundtrip.edn"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            without_lines(&back.ops),
            without_lines(&original.ops),
            "{}",
            path.display()
        );
        // One EDN line per event, so lines match too.
        assert!(back
            .ops
            .iter()
            .enumerate()
            .all(|(i, o)| o.line == i as u64 + 1));
        files += 1;
        keyed += usize::from(original.ops.iter().any(|o| o.key.is_some()));
    }
    assert_eq!(files, 109, "MANIFEST.tsv rows");
    assert_eq!(keyed, 6, "the kv histories are keyed");
}
