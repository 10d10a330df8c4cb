//! JUnit XML for CI systems: one `<testsuite>` per run (a database, a workload, a
//! seed), one `<testcase>` per checker, the failure text the checker's explanation.
//!
//! Everything comes from a run's store folder (`test.json` and `results.json`), so the
//! file says exactly what the store says, and any stored run can be turned into JUnit.
//! Verdicts map as CI systems expect: invalid is a `<failure>`, unknown an `<error>`
//! (the run proved nothing, which a CI job must not take for a pass), a run that
//! crashed before it could be checked an `<error>` on a `run` case.

use std::path::Path;

use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use serde_json::Value;

use super::linear_page::failures_from_json;

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
    pub fn from_store(dir: &Path) -> std::io::Result<Suite> {
        let read = |f: &str| -> std::io::Result<Value> {
            let text = std::fs::read_to_string(dir.join(f))?;
            serde_json::from_str(&text).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", dir.join(f).display()),
                )
            })
        };
        let test = read("test.json")?;
        let results = read("results.json")?;
        Ok(Suite::from_results(
            &test,
            &results,
            &dir.display().to_string(),
        ))
    }

    /// A suite from a run's `test.json` and `results.json` documents.
    pub fn from_results(test: &Value, results: &Value, dir: &str) -> Suite {
        let name = test["name"].as_str().unwrap_or("faultline").to_string();
        let seed = test["seed"].as_u64();
        let run = &results["run"];
        let time_secs = run["elapsed_secs"].as_f64().unwrap_or(0.0);
        let mut properties = vec![("path".to_string(), dir.to_string())];
        if let Some(s) = seed {
            properties.push(("seed".into(), s.to_string()));
        }
        for k in ["ok", "fail", "info"] {
            if let Some(n) = run[k].as_u64() {
                properties.push((format!("ops.{k}"), n.to_string()));
            }
        }
        if let Some(db) = test["db"].as_str() {
            properties.push(("db".into(), db.to_string()));
        }
        Suite {
            name: match seed {
                Some(s) => format!("{name} (seed {s})"),
                None => name,
            },
            timestamp: test["start_time"].as_str().and_then(iso_time),
            time_secs,
            properties,
            cases: std::iter::once(checker_case(&test["checker"], results, time_secs))
                .chain(log_case(results, time_secs))
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

/// The checker's name as test.json records it (`{"checker": "linearizable", "model":
/// "cas-register"}`): `linearizable cas-register`.
fn checker_name(checker: &Value) -> String {
    match (checker["checker"].as_str(), checker["model"].as_str()) {
        (Some(c), Some(m)) => format!("{c} {m}"),
        (Some(c), None) => c.to_string(),
        _ => "checker".to_string(),
    }
}

fn checker_case(checker: &Value, results: &Value, time_secs: f64) -> Case {
    let name = checker_name(checker);
    let workload = &results["workload"];
    // The workload checker's own verdict: the run's also counts the other checkers.
    let valid = workload.get("valid").unwrap_or(&results["valid"]);
    let outcome = match valid {
        Value::Bool(true) => CaseOutcome::Passed,
        Value::Bool(false) => {
            let (message, text) = explanation(results);
            CaseOutcome::Failed { message, text }
        }
        _ => {
            let why = workload["reason"]
                .as_str()
                .or_else(|| workload["error"].as_str())
                .or_else(|| results["error"].as_str())
                .unwrap_or("the checker could not decide");
            CaseOutcome::Error {
                message: format!("unknown: {}", first_line(why, "")),
                text: why.to_string(),
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
fn log_case(results: &Value, time_secs: f64) -> Option<Case> {
    let logs = results.get("log_patterns")?;
    let outcome = match &logs["valid"] {
        Value::Bool(true) => CaseOutcome::Passed,
        Value::Bool(false) => {
            let lines: Vec<String> = logs["matches"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    format!(
                        "{}:{}: {}",
                        m["file"].as_str().unwrap_or("?"),
                        m["line"],
                        m["text"].as_str().unwrap_or("")
                    )
                })
                .collect();
            CaseOutcome::Failed {
                message: first_line(logs["explanation"].as_str().unwrap_or(""), "log errors"),
                text: lines.join("\n"),
            }
        }
        _ => {
            let why = logs["reason"]
                .as_str()
                .unwrap_or("the logs were not searched");
            CaseOutcome::Error {
                message: format!("unknown: {why}"),
                text: why.to_string(),
            }
        }
    };
    Some(Case {
        name: "log-file-pattern".into(),
        time_secs,
        outcome,
    })
}

/// Why a run is invalid, in the words `faultline check` uses on a terminal: a one-line
/// message and the whole story.
fn explanation(results: &Value) -> (String, String) {
    let linear = failures_from_json(results);
    if let Some(first) = linear.first() {
        let message = match &first.key {
            Some(k) => format!("key {k}: {}", first.summary),
            None => first.summary.clone(),
        };
        let text = linear.iter().map(|f| f.to_text()).collect::<Vec<_>>();
        return (message, text.join("\n"));
    }
    let text = explanation_text(&results["workload"]);
    (first_line(&text, "invalid"), text)
}

fn explanation_text(w: &Value) -> String {
    let mut s = String::new();
    // Elle: anomaly types, what they rule out, each anomaly's story.
    if let Some(types) = w["anomaly_types"].as_array().filter(|t| !t.is_empty()) {
        let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
        s.push_str(&format!("anomalies: {}\n", names.join(", ")));
        if let Some(not) = w["not"].as_array().filter(|n| !n.is_empty()) {
            let not: Vec<&str> = not.iter().filter_map(Value::as_str).collect();
            s.push_str(&format!("not: {}\n", not.join(", ")));
        }
        if let Some(map) = w["anomalies"].as_object() {
            for (kind, list) in map {
                for (i, a) in list.as_array().into_iter().flatten().enumerate() {
                    if let Some(e) = a["explanation"].as_str() {
                        s.push_str(&format!("\n{kind} #{i}\n{e}\n"));
                    }
                }
            }
        }
        return s;
    }
    // The set checker: what went missing or appeared from nowhere.
    for k in ["lost", "unexpected"] {
        if let Some(v) = w[k].as_array().filter(|v| !v.is_empty()) {
            s.push_str(&format!(
                "{} {k} element(s): {}\n",
                v.len(),
                v.iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some(r) = w["reason"].as_str() {
        s.push_str(r);
        s.push('\n');
    }
    // The other simple checkers (counter, bank, unique-ids) explain in one sentence.
    if s.is_empty() {
        if let Some(e) = w["explanation"].as_str() {
            s = format!("{e}\n");
        }
    }
    if s.is_empty() {
        s = serde_json::to_string_pretty(w).unwrap_or_default();
    }
    s
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
    use serde_json::json;

    fn test_json() -> Value {
        json!({"name": "etcd-register", "seed": 7, "db": "etcd",
               "start_time": "20261203T154501.250Z",
               "checker": {"checker": "linearizable", "model": "cas-register"}})
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
        let results = json!({"valid": true, "workload": {"valid": true},
                             "run": {"elapsed_secs": 2.5, "ok": 10, "fail": 1, "info": 0}});
        let s = Suite::from_results(&test_json(), &results, "store/x");
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
        let results = json!({"valid": "unknown", "workload": {"reason": "timed out after 1 s"}});
        let s = Suite::from_results(&test_json(), &results, "d");
        match &s.cases[0].outcome {
            CaseOutcome::Error { message, .. } => {
                assert_eq!(message, "unknown: timed out after 1 s")
            }
            o => panic!("{o:?}"),
        }
        assert!(render(&[s])
            .contains(r#"<error message="unknown: timed out after 1 s" type="unknown">"#));
    }

    #[test]
    fn set_failures_list_what_was_lost_and_text_is_escaped() {
        let results = json!({"valid": false, "workload": {"valid": false, "lost": [3, 4],
                             "unexpected": [], "reason": "acknowledged <adds> & then gone\u{1}"}});
        let t = json!({"name": "redis-set", "checker": {"checker": "set"}});
        let xml = render(&[Suite::from_results(&t, &results, "d")]);
        assert!(xml.contains("2 lost element(s): 3, 4"), "{xml}");
        assert!(
            xml.contains("acknowledged &lt;adds&gt; &amp; then gone"),
            "{xml}"
        );
        assert!(!xml.contains('\u{1}'));
        assert!(
            xml.contains(r#"<testcase name="set" classname="redis-set""#),
            "{xml}"
        );
    }

    #[test]
    fn log_patterns_are_a_case_of_their_own() {
        let results = json!({"valid": false, "workload": {"valid": true},
            "log_patterns": {"valid": false, "count": 1,
                "explanation": "1 log line(s) match the error patterns; the first: n1/etcd.log:7: panic: boom",
                "matches": [{"file": "n1/etcd.log", "line": 7, "text": "panic: boom"}]}});
        let s = Suite::from_results(&test_json(), &results, "d");
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
