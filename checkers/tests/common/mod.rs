//! Helpers shared by the integration tests of the checkers crate.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared material beside the repository (`../shared`), or `$FAULTLINE_SHARED`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("FAULTLINE_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")),
    }
}

pub struct ManifestRow {
    pub path: PathBuf,
    pub model: String,
    pub expected: String,
}

/// Rows of `histories/MANIFEST.tsv`.
pub fn manifest() -> Vec<ManifestRow> {
    let dir = shared_dir().join("histories");
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap_or_else(|e| panic!("cannot read {}/MANIFEST.tsv: {e}", dir.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            ManifestRow {
                path: dir.join(cols[0]),
                model: cols[1].to_string(),
                expected: cols[3].to_string(),
            }
        })
        .collect()
}
