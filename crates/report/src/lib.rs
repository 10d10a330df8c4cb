//! Reports people look at, written into a run's folder next to `results.json`: latency
//! and throughput plots with the fault periods shaded, a timeline of the operations,
//! a page per key that is not linearizable, Elle's cycle graphs, and an `index.html`.
//!
//! Rendering must never change what the checker said, nor crash a run (Knossos' and
//! Jepsen's renderers turned finished analyses into "unknown" when they failed): every
//! renderer runs behind `catch_unwind`, and a failure is logged, returned, and listed in
//! the index. `results.json` stays the machine-readable truth.

mod data;
mod index;
pub mod junit;
mod linear_page;
mod plots;
pub mod serve;
mod timeline;

pub use data::{prepare, Axis, Prepared};
pub use index::{verdict_color, verdict_text};

use faultline_checkers::check::CheckReport;
use faultline_checkers::history::History;
use faultline_checkers::linear;
use faultline_store::Results;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// A report file that could not be written. The run's verdict is not affected.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
#[error("{file}: {message}")]
pub struct ReportError {
    pub file: String,
    pub message: String,
}

/// What `write_reports` made: files written (relative to the folder) and failures.
#[derive(Debug, Default, Clone)]
pub struct Written {
    pub files: Vec<String>,
    pub errors: Vec<ReportError>,
}

impl Written {
    /// Runs one renderer, catching errors and panics, and writes its output.
    fn render(&mut self, dir: &Path, file: &str, f: impl FnOnce() -> Result<String, String>) {
        let outcome = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(panic) => Err(format!("renderer panicked: {}", panic_message(&panic))),
        };
        let result = outcome.and_then(|text| write_atomic(&dir.join(file), text.as_bytes()));
        match result {
            Ok(()) => self.files.push(file.to_string()),
            Err(message) => {
                tracing::warn!("report {file} not written: {message}");
                self.errors.push(ReportError {
                    file: file.to_string(),
                    message,
                });
            }
        }
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Through a temporary file and a rename: a reader (the web server) never sees half a
/// page.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp: PathBuf = path.with_file_name(format!(".{name}.tmp"));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

/// Writes every report about one checked history into `dir` (created if missing):
/// `results` is what was (or will be) saved as `results.json` (this writes no
/// `results.json`), with the checker's report the violation pages are drawn from.
/// Never panics; returns the failures.
pub fn write_reports(dir: &Path, history: &History, results: &Results) -> Vec<ReportError> {
    write_reports_detailed(dir, history, results).errors
}

/// As [`write_reports`], also saying which files were written.
pub fn write_reports_detailed(dir: &Path, history: &History, results: &Results) -> Written {
    let linear = results.workload.as_ref().and_then(CheckReport::linear);
    let elle = results.workload.as_ref().and_then(CheckReport::elle);
    let mut w = Written::default();
    if let Err(e) = std::fs::create_dir_all(dir) {
        w.errors.push(ReportError {
            file: dir.display().to_string(),
            message: e.to_string(),
        });
        return w;
    }
    let title = title_of(dir);
    let prepared = match catch_unwind(AssertUnwindSafe(|| prepare(history))) {
        Ok(p) => p,
        Err(panic) => {
            w.errors.push(ReportError {
                file: "(history)".into(),
                message: format!("preparing the history panicked: {}", panic_message(&panic)),
            });
            return w;
        }
    };
    w.render(dir, "latency-raw.svg", || plots::latency_raw(&prepared));
    w.render(dir, "latency-quantiles.svg", || {
        plots::latency_quantiles(&prepared)
    });
    w.render(dir, "throughput.svg", || plots::throughput(&prepared));
    w.render(dir, "timeline.html", || {
        timeline::render(history, &prepared, &title)
    });

    let mut violations = Vec::new();
    let failures: &[linear::Explanation] = linear.map_or(&[], |r| &r.failures);
    {
        let n = failures.len();
        for (i, e) in failures.iter().enumerate() {
            let file = linear_page::file_name(i, e, n);
            w.render(dir, &file, || {
                linear_page::render(e, history, &prepared, &title)
            });
            let label = match &e.key {
                Some(k) => format!("not linearizable: key {}", data::short(k, 60)),
                None => "not linearizable".to_string(),
            };
            violations.push((file, format!("{label}: {}", data::clip(&e.summary, 200))));
        }
    }
    let mut elle_files = Vec::new();
    if let Some(report) = elle {
        w.render(dir, "elle/anomalies.txt", || Ok(report.to_text()));
        let graphs = catch_unwind(AssertUnwindSafe(|| report.cycle_graphs())).unwrap_or_else(|p| {
            w.errors.push(ReportError {
                file: "elle/".into(),
                message: format!("drawing the cycles panicked: {}", panic_message(&p)),
            });
            Vec::new()
        });
        for (name, dot, svg) in graphs.into_iter().take(MAX_CYCLE_GRAPHS) {
            let safe = safe_name(&name);
            let svg_file = format!("elle/{safe}.svg");
            w.render(dir, &format!("elle/{safe}.dot"), || Ok(dot));
            w.render(dir, &svg_file, || Ok(svg));
            if w.files.contains(&svg_file) {
                elle_files.push(svg_file);
            }
        }
    }

    let plots: Vec<String> = ["latency-raw.svg", "latency-quantiles.svg", "throughput.svg"]
        .iter()
        .filter(|f| w.files.iter().any(|g| g == *f))
        .map(|f| f.to_string())
        .collect();
    let timeline = w.files.iter().any(|f| f == "timeline.html");
    let errors = w.errors.clone();
    w.render(dir, "index.html", || {
        index::render(
            dir,
            &title,
            results,
            &index::Links {
                plots: &plots,
                timeline,
                violations: &violations,
                elle: &elle_files,
            },
            &errors,
        )
    });
    w
}

/// Cycle graphs written at most (the checker keeps a few per anomaly type already).
const MAX_CYCLE_GRAPHS: usize = 200;

/// A name usable as one path component.
fn safe_name(s: &str) -> String {
    let t: String = s
        .chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() || t.starts_with('.') {
        format!("_{t}")
    } else {
        t
    }
}

/// The folder's names (`<test> / <stamp>`).
fn title_of(dir: &Path) -> String {
    let parts: Vec<String> = dir
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose history could not be checked.
    fn empty_results() -> Results {
        Results::checked(Err("not checked".into()), None)
    }

    #[test]
    fn writes_plots_and_survives_an_unwritable_folder() {
        let dir = tempfile::tempdir().unwrap();
        let h = data::tests::sample();
        let w = write_reports_detailed(dir.path(), &h, &empty_results());
        assert!(w.errors.is_empty(), "{:?}", w.errors);
        for f in ["latency-raw.svg", "latency-quantiles.svg", "throughput.svg"] {
            assert!(dir.path().join(f).is_file(), "{f}");
        }
        // A file where the folder should be: every report fails, none panics.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "x").unwrap();
        let errs = write_reports(&blocked, &h, &empty_results());
        assert!(!errs.is_empty());
    }

    #[test]
    fn one_page_per_failing_key_and_a_list_in_the_index() {
        use faultline_checkers::history::read_jsonl;
        let mut lines = Vec::new();
        for (k, key) in ["a", "b"].iter().enumerate() {
            let p = k as u64;
            for (kind, f, v) in [
                ("invoke", "write", "1"),
                ("ok", "write", "1"),
                ("invoke", "read", "null"),
                ("ok", "read", "2"),
            ] {
                lines.push(format!(
                    r#"{{"index":{},"type":"{kind}","process":{p},"f":"{f}","value":{v},"key":"{key}"}}"#,
                    lines.len()
                ));
            }
        }
        let h = read_jsonl(lines.join("\n").as_bytes(), "keys.jsonl").unwrap();
        let mut report = linear::check_named("register", &h, &linear::Options::default())
            .unwrap()
            .unwrap();
        // The first violation found stops the other keys' searches: make the second.
        if report.failures.len() == 1 {
            let mut other = report.failures[0].clone();
            other.key = Some(serde_json::json!("b"));
            report.failures.push(other);
        }
        let dir = tempfile::tempdir().unwrap();
        let results = Results::checked(Ok(CheckReport::Linearizable(report)), None);
        let w = write_reports_detailed(dir.path(), &h, &results);
        assert!(w.errors.is_empty(), "{:?}", w.errors);
        let pages: Vec<&String> = w
            .files
            .iter()
            .filter(|f| f.starts_with("linearizability-"))
            .collect();
        assert_eq!(pages.len(), 2, "{:?}", w.files);
        let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        for p in pages {
            assert!(index.contains(p.as_str()));
            let page = std::fs::read_to_string(dir.path().join(p)).unwrap();
            assert!(page.contains("class=\"op failing\""));
            assert!(page.contains("read 2"));
        }
        // Events without time: history positions are the axis.
        assert!(
            std::fs::read_to_string(dir.path().join("linearizability-0-a.html"))
                .unwrap()
                .contains("history positions")
        );
    }

    #[test]
    fn violation_pages_from_the_results_json_alone() {
        let h = faultline_checkers::history::read_jsonl(
            [
                r#"{"index":0,"type":"invoke","process":0,"f":"write","value":1,"time":10}"#,
                r#"{"index":1,"type":"ok","process":0,"f":"write","value":1,"time":20}"#,
                r#"{"index":2,"type":"invoke","process":1,"f":"read","value":null,"time":30}"#,
                r#"{"index":3,"type":"ok","process":1,"f":"read","value":7,"time":40}"#,
            ]
            .join("\n")
            .as_bytes(),
            "h.jsonl",
        )
        .unwrap();
        let report = linear::check_named("register", &h, &linear::Options::default())
            .unwrap()
            .unwrap();
        assert_eq!(report.failures.len(), 1);
        // As `faultline test` writes the results, and a reader reads them back.
        let results = Results::checked(Ok(CheckReport::Linearizable(report.clone())), None);
        let text = serde_json::to_string(&results).unwrap();
        let back: Results = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.workload.as_ref().and_then(CheckReport::linear),
            Some(&report)
        );
        let dir = tempfile::tempdir().unwrap();
        let errs = write_reports(dir.path(), &h, &back);
        assert!(errs.is_empty(), "{errs:?}");
        let page = std::fs::read_to_string(dir.path().join("linearizability.html")).unwrap();
        assert!(page.contains("read 7"));
    }

    #[test]
    fn elle_cycles_are_written_and_listed() {
        use faultline_checkers::elle::{self, gen, ConsistencyModel, ElleOptions};
        let h = gen::list_append(&gen::GenOptions {
            txns: 400,
            store: gen::Store::StaleSnapshot,
            ..gen::GenOptions::default()
        });
        let report =
            elle::check_list_append(&h, &ElleOptions::for_model(ConsistencyModel::Serializable))
                .unwrap();
        let graphs = report.cycle_graphs();
        assert!(!graphs.is_empty(), "the stale store makes cycles");
        let dir = tempfile::tempdir().unwrap();
        let results = Results::checked(Ok(CheckReport::ListAppend(report)), None);
        let w = write_reports_detailed(dir.path(), &h, &results);
        assert!(w.errors.is_empty(), "{:?}", w.errors);
        let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        for (name, _, _) in &graphs {
            let f = format!("elle/{}.svg", safe_name(name));
            assert!(dir.path().join(&f).is_file(), "{f}");
            assert!(index.contains(&f));
        }
        assert!(dir.path().join("elle/anomalies.txt").is_file());
        // The verdict shown is the checker's.
        assert!(index.contains("INVALID"));
    }

    #[test]
    fn a_panicking_renderer_is_reported_not_propagated() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Written::default();
        w.render(dir.path(), "x.svg", || panic!("boom"));
        assert_eq!(w.errors.len(), 1);
        assert!(w.errors[0].message.contains("boom"));
    }
}
