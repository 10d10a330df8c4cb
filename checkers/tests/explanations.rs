//! A violation's explanation blames the operation a person would: the one that cannot
//! happen after the longest linearizable order, not an earlier one that merely leads
//! there. The search prunes dead ends early (a read that can no longer succeed); those
//! pruned orders still count as linearizable prefixes for the story.

use faultline_checkers::history::read_jsonl;
use faultline_checkers::linear::{check_named, Options};

fn explain(model: &str, lines: &[&str]) -> (String, usize, Vec<String>) {
    let h = read_jsonl(lines.join("\n").as_bytes(), "h.jsonl").unwrap();
    let report = check_named(model, &h, &Options::default())
        .unwrap()
        .unwrap();
    let f = report.failures.first().expect("a violation");
    (f.summary.clone(), f.linearized_count, f.states.clone())
}

#[test]
fn a_stale_read_is_blamed_after_the_write() {
    let (summary, done, states) = explain(
        "register",
        &[
            r#"{"index":0,"type":"invoke","process":0,"f":"write","value":1}"#,
            r#"{"index":1,"type":"ok","process":0,"f":"write","value":1}"#,
            r#"{"index":2,"type":"invoke","process":1,"f":"read","value":null}"#,
            r#"{"index":3,"type":"ok","process":1,"f":"read","value":7}"#,
        ],
    );
    assert!(summary.contains("read 7"), "{summary}");
    assert!(summary.contains("holding 1"), "{summary}");
    assert_eq!(done, 1);
    assert_eq!(states, vec!["1".to_string()]);
}

#[test]
fn a_set_read_missing_an_acknowledged_add_is_blamed() {
    let (summary, done, _) = explain(
        "set",
        &[
            r#"{"index":0,"type":"invoke","process":0,"f":"add","value":1}"#,
            r#"{"index":1,"type":"ok","process":0,"f":"add","value":1}"#,
            r#"{"index":2,"type":"invoke","process":0,"f":"add","value":2}"#,
            r#"{"index":3,"type":"ok","process":0,"f":"add","value":2}"#,
            r#"{"index":4,"type":"invoke","process":1,"f":"read","value":null}"#,
            r#"{"index":5,"type":"ok","process":1,"f":"read","value":[1]}"#,
        ],
    );
    assert!(summary.contains("read"), "{summary}");
    assert!(summary.contains("missing [2]"), "{summary}");
    assert_eq!(done, 2);
}
