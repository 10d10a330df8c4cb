//! JUnit XML for CI systems: one `<testsuite>` per run (a database, a workload, a
//! seed), one `<testcase>` per checker, the failure text the checker's explanation.
//!
//! Everything comes from a run's store folder (`test.json` and `results.json`), so the
//! file says exactly what the store says, and any stored run can be turned into JUnit.
//! Verdicts map as CI systems expect: invalid is a `<failure>`, unknown an `<error>`
//! (the run proved nothing, which a CI job must not take for a pass), a run that
//! crashed before it could be checked an `<error>` on a `run` case.

use std::path::Path;

use faultline_checkers::check::CheckReport;
use faultline_checkers::Validity;
use faultline_store::{LogCheck, Results, StoreError, TestRecord};
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

/// Failure texts longer than this are cut (with a note): a CI page shows the story,
/// the store folder keeps all of it.
const MAX_TEXT: usize = 64 * 1024;

/// How one checker's case ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseOutcome {
    Passed,
    /// The checker found a violation.
    Failed {
        message: String,
        text: String,
    },
    /// No verdict: the check could not decide, or the run crashed.
    Error {
        message: String,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub name: String,
    pub time_secs: f64,
    pub outcome: CaseOutcome,
}

/// One run.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// `etcd-register`, with the seed when known.
    pub name: String,
    /// `YYYY-MM-DDTHH:MM:SS` (UTC), when known.
    pub timestamp: Option<String>,
    pub time_secs: f64,
    /// Key facts for whoever reads the CI page: seed, store folder, op counts.
    pub properties: Vec<(String, String)>,
    pub cases: Vec<Case>,
}

impl Suite {
    /// A run that ended in an error before it could be checked.
    pub fn crashed(name: &str, seed: u64, error: &str) -> Suite {
        let mut s = Suite::one_error(format!("{name} (seed {seed})"), "run", error);
        s.properties.push(("seed".into(), seed.to_string()));
        s
    }

    /// A history that could not be read or checked at all.
    pub fn unreadable(file: &str, error: &str) -> Suite {
        Suite::one_error(file.to_string(), "read", error)
    }

    fn one_error(name: String, case: &str, error: &str) -> Suite {
        Suite {
            name,
            timestamp: None,
            time_secs: 0.0,
            properties: Vec::new(),
            cases: vec![Case {
                name: case.into(),
                time_secs: 0.0,
                outcome: CaseOutcome::Error {
                    message: first_line(error, "crashed"),
                    text: error.to_string(),
                },
            }],
        }
    }

    /// The run stored in `dir`: its checker's verdict from `results.json`.
    pub fn from_store(dir: &Path) -> Result<Suite, StoreError> {
        let test = faultline_store::read_test(dir)?;
        let results = faultline_store::read_results(dir)?;
        Ok(Suite::from_results(
            &test,
            &results,
            &dir.display().to_string(),
        ))
    }

    /// A suite from a run's `test.json` and `results.json` records.
    pub fn from_results(test: &TestRecord, results: &Results, dir: &str) -> Suite {
        let run = results.run.unwrap_or_default();
        let mut properties = vec![("path".to_string(), dir.to_string())];
        if let Some(seed) = test.seed() {
            properties.push(("seed".into(), seed.to_string()));
        }
        if let Some(stats) = &results.stats {
            let t = stats.total;
            for (k, n) in [("ok", t.ok), ("fail", t.fail), ("info", t.info)] {
                properties.push((format!("ops.{k}"), n.to_string()));
            }
        }
        if let Some(db) = &test.config.db {
            properties.push(("db".into(), db.clone()));
        }
        let checker = test
            .checker_spec()
            .map_or_else(|| "checker".to_string(), |c| c.to_string());
        Suite {
            name: match test.seed() {
                Some(seed) => format!("{} (seed {seed})", test.name),
                None => test.name.clone(),
            },
            timestamp: iso_time(&test.start_time),
            time_secs: run.elapsed_secs,
            properties,
            cases: std::iter::once(checker_case(checker, results, run.elapsed_secs))
                .chain(log_case(results, run.elapsed_secs))
                .collect(),
        }
    }

    fn count(&self, f: impl Fn(&CaseOutcome) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.outcome)).count()
    }
}

/// `20240101T120000.123Z` (the store's stamp) as `2024-01-01T12:00:00`.
fn iso_time(stamp: &str) -> Option<String> {
    let b = stamp.as_bytes();
    if b.len() < 15
        || b[8] != b'T'
        || !stamp[..8]
            .bytes()
            .chain(stamp[9..15].bytes())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    ))
}

fn checker_case(name: String, results: &Results, time_secs: f64) -> Case {
    // The workload checker's own verdict: the run's also counts the other checkers.
    let outcome = match (&results.workload, &results.error) {
        (Some(r), _) if r.valid() == Validity::Valid => CaseOutcome::Passed,
        (Some(r), _) if r.valid() == Validity::Invalid => {
            let text = r.to_text();
            let message = r.why().unwrap_or_else(|| first_line(&text, "invalid"));
            CaseOutcome::Failed {
                message: first_line(&message, "invalid"),
                text,
            }
        }
        (report, error) => {
            let why = error
                .clone()
                .or_else(|| report.as_ref().and_then(CheckReport::why))
                .unwrap_or_else(|| "the checker could not decide".to_string());
            CaseOutcome::Error {
                message: format!("unknown: {}", first_line(&why, "")),
                text: why,
            }
        }
    };
    Case {
        name,
        time_secs,
        outcome,
    }
}

/// `--log-pattern`'s verdict on the node logs, when the run had patterns.
fn log_case(results: &Results, time_secs: f64) -> Option<Case> {
    let logs = results.log_patterns.as_ref()?;
    let outcome = match logs {
        LogCheck::Scanned(scan) if scan.valid == Validity::Valid => CaseOutcome::Passed,
        LogCheck::Scanned(scan) if scan.valid == Validity::Invalid => {
            let lines: Vec<String> = scan
                .matches
                .iter()
                .map(|m| format!("{}:{}: {}", m.file, m.line, m.text))
                .collect();
            CaseOutcome::Failed {
                message: first_line(scan.explanation.as_deref().unwrap_or(""), "log errors"),
                text: lines.join("\n"),
            }
        }
        other => {
            let why = other
                .explanation()
                .unwrap_or_else(|| "the logs were not searched".to_string());
            CaseOutcome::Error {
                message: format!("unknown: {why}"),
                text: why,
            }
        }
    };
    Some(Case {
        name: "log-file-pattern".into(),
        time_secs,
        outcome,
    })
}

/// The first non-empty line, cut to what a CI page shows in a list.
fn first_line(text: &str, default: &str) -> String {
    const MAX: usize = 200;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or(default);
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// XML 1.0 cannot carry most control characters, even escaped: drop them, and cut
/// very long texts.
fn xml_text(s: &str) -> String {
    let mut out: String = s
        .chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
        })
        .collect();
    if out.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n[cut: the whole explanation is in the store folder]");
    }
    out
}

/// The `<testsuites>` document.
pub fn render(suites: &[Suite]) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let _ = write_doc(&mut w, suites);
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

fn write_doc(w: &mut Writer<Vec<u8>>, suites: &[Suite]) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let total = |f: &dyn Fn(&CaseOutcome) -> bool| -> String {
        suites.iter().map(|s| s.count(f)).sum::<usize>().to_string()
    };
    let tests = total(&|_| true);
    let failures = total(&|o| matches!(o, CaseOutcome::Failed { .. }));
    let errors = total(&|o| matches!(o, CaseOutcome::Error { .. }));
    let time = format!("{:.3}", suites.iter().map(|s| s.time_secs).sum::<f64>());
    w.create_element("testsuites")
        .with_attribute(("name", "faultline"))
        .with_attribute(("tests", tests.as_str()))
        .with_attribute(("failures", failures.as_str()))
        .with_attribute(("errors", errors.as_str()))
        .with_attribute(("time", time.as_str()))
        .write_inner_content(|w| {
            for (id, s) in suites.iter().enumerate() {
                write_suite(w, id, s)?;
            }
            Ok::<(), std::io::Error>(())
        })?;
    Ok(())
}

fn write_suite(w: &mut Writer<Vec<u8>>, id: usize, s: &Suite) -> std::io::Result<()> {
    let name = xml_text(&s.name);
    let tests = s.cases.len().to_string();
    let failures = s
        .count(|o| matches!(o, CaseOutcome::Failed { .. }))
        .to_string();
    let errors = s
        .count(|o| matches!(o, CaseOutcome::Error { .. }))
        .to_string();
    let time = format!("{:.3}", s.time_secs);
    let id = id.to_string();
    let mut el = w
        .create_element("testsuite")
        .with_attribute(("name", name.as_str()))
        .with_attribute(("tests", tests.as_str()))
        .with_attribute(("failures", failures.as_str()))
        .with_attribute(("errors", errors.as_str()))
        .with_attribute(("skipped", "0"))
        .with_attribute(("time", time.as_str()))
        .with_attribute(("id", id.as_str()))
        .with_attribute(("hostname", "faultline"))
        .with_attribute(("package", "faultline"));
    if let Some(t) = &s.timestamp {
        el = el.with_attribute(("timestamp", t.as_str()));
    }
    el.write_inner_content(|w| {
        w.create_element("properties").write_inner_content(|w| {
            for (k, v) in &s.properties {
                let (k, v) = (xml_text(k), xml_text(v));
                w.create_element("property")
                    .with_attribute(("name", k.as_str()))
                    .with_attribute(("value", v.as_str()))
                    .write_empty()?;
            }
            Ok::<(), std::io::Error>(())
        })?;
        for c in &s.cases {
            write_case(w, &name, c)?;
        }
        w.create_element("system-out").write_empty()?;
        w.create_element("system-err").write_empty()?;
        Ok::<(), std::io::Error>(())
    })?;
    Ok(())
}

fn write_case(w: &mut Writer<Vec<u8>>, suite: &str, c: &Case) -> std::io::Result<()> {
    let name = xml_text(&c.name);
    let time = format!("{:.3}", c.time_secs);
    let el = w
        .create_element("testcase")
        .with_attribute(("name", name.as_str()))
        .with_attribute(("classname", suite))
        .with_attribute(("time", time.as_str()));
    let (tag, kind, message, text) = match &c.outcome {
        CaseOutcome::Passed => {
            el.write_empty()?;
            return Ok(());
        }
        CaseOutcome::Failed { message, text } => ("failure", "invalid", message, text),
        CaseOutcome::Error { message, text } => ("error", "unknown", message, text),
    };
    let (message, text) = (xml_text(message), xml_text(text));
    el.write_inner_content(|w| {
        w.create_element(tag)
            .with_attribute(("message", message.as_str()))
            .with_attribute(("type", kind))
            // Only what must be escaped in text is: the story stays readable in the raw
            // file.
            .write_text_content(BytesText::from_escaped(partial_escape(&text)))?;
        Ok::<(), std::io::Error>(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::check::{check, CheckerSpec, LinearModel, Options};
    use faultline_checkers::history::read_jsonl;
    use faultline_store::{LogMatch, LogScan, RunSummary};
    use serde_json::json;

    fn test_record(checker: CheckerSpec) -> TestRecord {
        serde_json::from_value(json!({"name": "etcd-register", "seed": 7, "db": "etcd",
               "workload": "register",
               "start_time": "20261203T154501.250Z", "checker": checker}))
        .unwrap()
    }

    /// The report of `spec` on a history of JSON lines.
    fn checked(spec: &CheckerSpec, lines: &[serde_json::Value]) -> Results {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let h = read_jsonl(text.as_bytes(), "h.jsonl").unwrap();
        Results::checked(
            check(spec, &h, &Options::default()).map_err(|e| e.to_string()),
            None,
        )
    }

    fn op(
        index: u64,
        kind: &str,
        process: u64,
        f: &str,
        value: serde_json::Value,
    ) -> serde_json::Value {
        json!({"index": index, "type": kind, "process": process, "f": f, "value": value})
    }

    #[test]
    fn stamps_become_junit_timestamps() {
        assert_eq!(
            iso_time("20261203T154501.250Z").as_deref(),
            Some("2026-12-03T15:45:01")
        );
        assert_eq!(iso_time("yesterday"), None);
        assert_eq!(iso_time("2026120xT154501"), None);
    }

    #[test]
    fn a_valid_run_is_one_passing_case() {
        let spec = CheckerSpec::linearizable(LinearModel::CasRegister);
        let mut results = checked(
            &spec,
            &[
                op(0, "invoke", 0, "write", json!(1)),
                op(1, "ok", 0, "write", json!(1)),
            ],
        );
        results.run = Some(RunSummary {
            elapsed_secs: 2.5,
            ..RunSummary::default()
        });
        results.stats = Some(
            serde_json::from_value(json!({"ok": 10, "fail": 1, "info": 0, "by_f": {}})).unwrap(),
        );
        let s = Suite::from_results(&test_record(spec), &results, "store/x");
        assert_eq!(s.name, "etcd-register (seed 7)");
        assert_eq!(s.cases.len(), 1);
        assert_eq!(s.cases[0].name, "linearizable cas-register");
        assert_eq!(s.cases[0].outcome, CaseOutcome::Passed);
        let xml = render(&[s]);
        assert!(
            xml.contains(r#"tests="1" failures="0" errors="0""#),
            "{xml}"
        );
        assert!(xml.contains(r#"timestamp="2026-12-03T15:45:01""#), "{xml}");
        assert!(
            xml.contains(r#"<property name="ops.ok" value="10"/>"#),
            "{xml}"
        );
    }

    #[test]
    fn an_unknown_verdict_is_an_error_with_the_reason() {
        let spec = CheckerSpec::JepsenSet;
        // No read succeeded: the set checker cannot decide.
        let results = checked(
            &spec,
            &[
                op(0, "invoke", 0, "add", json!(1)),
                op(1, "ok", 0, "add", json!(1)),
            ],
        );
        let s = Suite::from_results(&test_record(spec), &results, "d");
        match &s.cases[0].outcome {
            CaseOutcome::Error { message, .. } => {
                assert_eq!(
                    message,
                    "unknown: no read succeeded: nothing to compare the adds with"
                )
            }
            o => panic!("{o:?}"),
        }
        assert!(
            render(&[s]).contains(r#"<error message="unknown: no read succeeded: nothing to compare the adds with" type="unknown">"#)
        );
        // A history the checker could not read at all.
        let results = Results::checked(Err("h.jsonl:3: bad <line>".into()), None);
        let s = Suite::from_results(&test_record(CheckerSpec::JepsenSet), &results, "d");
        assert!(render(&[s]).contains("unknown: h.jsonl:3: bad &lt;line&gt;"));
    }

    #[test]
    fn set_failures_list_what_was_lost_and_text_is_escaped() {
        let spec = CheckerSpec::JepsenSet;
        let results = checked(
            &spec,
            &[
                op(0, "invoke", 0, "add", json!(3)),
                op(1, "ok", 0, "add", json!(3)),
                op(2, "invoke", 0, "add", json!(4)),
                op(3, "ok", 0, "add", json!(4)),
                op(4, "invoke", 1, "read", json!(null)),
                op(5, "ok", 1, "read", json!([])),
            ],
        );
        let mut t = test_record(spec);
        t.name = "redis-set <&>\u{1}".into();
        let xml = render(&[Suite::from_results(&t, &results, "d")]);
        assert!(xml.contains("lost: 3..4"), "{xml}");
        assert!(xml.contains("redis-set &lt;&amp;&gt;"), "{xml}");
        assert!(!xml.contains('\u{1}'));
        assert!(xml.contains(r#"<testcase name="jepsen-set""#), "{xml}");
    }

    #[test]
    fn log_patterns_are_a_case_of_their_own() {
        let spec = CheckerSpec::linearizable(LinearModel::CasRegister);
        let results = checked(
            &spec,
            &[
                op(0, "invoke", 0, "write", json!(1)),
                op(1, "ok", 0, "write", json!(1)),
            ],
        )
        .with_log_check(LogCheck::Scanned(LogScan {
            valid: Validity::Invalid,
            patterns: vec!["panic".into()],
            files: 1,
            count: 1,
            matches: vec![LogMatch {
                file: "n1/etcd.log".into(),
                line: 7,
                pattern: "panic".into(),
                text: "panic: boom".into(),
            }],
            explanation: Some("1 log line(s) match".into()),
        }));
        assert_eq!(results.valid, Validity::Invalid);
        let s = Suite::from_results(&test_record(spec), &results, "d");
        assert_eq!(s.cases.len(), 2);
        assert_eq!(s.cases[0].outcome, CaseOutcome::Passed);
        assert_eq!(s.cases[1].name, "log-file-pattern");
        match &s.cases[1].outcome {
            CaseOutcome::Failed { text, .. } => assert_eq!(text, "n1/etcd.log:7: panic: boom"),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn a_crash_is_an_error_on_the_run_case() {
        let s = Suite::crashed("etcd-set", 3, "database setup\nnode n2: etcd not healthy");
        let xml = render(&[s]);
        assert!(xml.contains(r#"<testcase name="run""#));
        assert!(xml.contains(r#"message="database setup""#));
        assert!(xml.contains("node n2: etcd not healthy"));
        assert!(xml.contains(r#"<testsuites name="faultline" tests="1" failures="0" errors="1""#));
    }
}
