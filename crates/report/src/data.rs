//! What every report draws from: client operations on one time axis, and the nemesis
//! events folded into fault periods.

use faultline_checkers::history::{History, Op, OpType, Outcome};
use std::sync::Arc;

/// The time axis of a report. Histories carry `time` (nanoseconds since the test
/// started) optionally; without it on every event, positions in the history stand in
/// for time, so that the pictures still show order and overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Seconds,
    Events,
}

impl Axis {
    pub fn label(self) -> &'static str {
        match self {
            Axis::Seconds => "time (s)",
            Axis::Events => "history position (event)",
        }
    }

    /// The unit latencies are shown in.
    pub fn latency_label(self) -> &'static str {
        match self {
            Axis::Seconds => "latency (ms)",
            Axis::Events => "latency (events)",
        }
    }

    /// Latency in the displayed unit from a span on the axis.
    pub fn latency(self, span: f64) -> f64 {
        match self {
            Axis::Seconds => span * 1e3,
            Axis::Events => span,
        }
    }

    /// Where an event sits on this axis.
    pub fn at(self, op: &Op) -> f64 {
        match self {
            Axis::Seconds => op.time.unwrap_or(0) as f64 / 1e9,
            Axis::Events => op.index as f64,
        }
    }
}

/// One client operation placed on the axis.
#[derive(Debug, Clone)]
pub struct Row {
    pub process: u64,
    pub f: Arc<str>,
    pub outcome: Outcome,
    pub start: f64,
    /// `None`: never completed (it stays open until the end of the history).
    pub end: Option<f64>,
    pub invoke: usize,
    pub complete: Option<usize>,
}

/// A fault period: from a start event (`start-partition`, `kill`, `pause`, ...) to its
/// stop event, or to the end of the history when it was never stopped.
#[derive(Debug, Clone)]
pub struct Period {
    pub fault: String,
    pub start: f64,
    pub end: f64,
    pub start_index: u64,
    pub end_index: Option<u64>,
    /// The start event's value, shortened: which nodes, which partition.
    pub detail: String,
}

/// A nemesis event that neither starts nor stops a known fault.
#[derive(Debug, Clone)]
pub struct Mark {
    pub f: String,
    pub at: f64,
    pub index: u64,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Prepared {
    pub axis: Axis,
    pub rows: Vec<Row>,
    pub periods: Vec<Period>,
    pub marks: Vec<Mark>,
    pub t_min: f64,
    pub t_max: f64,
}

/// Periods and marks drawn at most: a fault schedule longer than this is a bug in the
/// schedule, and the pictures would be unreadable anyway.
const MAX_PERIODS: usize = 2000;

/// Shortens a value for a label or a tooltip, on a character boundary.
pub fn short(v: &serde_json::Value, max: usize) -> String {
    let s = match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    clip(&s, max)
}

pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Which fault a nemesis `f` starts or stops (Jepsen's names, and ours from
/// `faultline_nemesis::schedule`).
fn classify(f: &str) -> Option<(String, bool)> {
    if let Some(rest) = f.strip_prefix("start-") {
        return Some((rest.to_string(), true));
    }
    if let Some(rest) = f.strip_prefix("stop-") {
        return Some((rest.to_string(), false));
    }
    match f {
        "kill" => Some(("kill".into(), true)),
        "start" => Some(("kill".into(), false)),
        "pause" => Some(("pause".into(), true)),
        "resume" => Some(("pause".into(), false)),
        "bump-clock" | "strobe-clock" => Some(("clock".into(), true)),
        "reset-clock" => Some(("clock".into(), false)),
        _ => None,
    }
}

pub fn prepare(history: &History) -> Prepared {
    let axis = if !history.ops.is_empty() && history.ops.iter().all(|o| o.time.is_some()) {
        Axis::Seconds
    } else {
        Axis::Events
    };
    let ops = &history.ops;
    let rows: Vec<Row> = history
        .operations()
        .into_iter()
        .map(|o| Row {
            process: o.process,
            start: axis.at(&ops[o.invoke]),
            end: o.complete.map(|c| axis.at(&ops[c])),
            f: o.f,
            outcome: o.outcome,
            invoke: o.invoke,
            complete: o.complete,
        })
        .collect();
    let t_min = ops.first().map(|o| axis.at(o)).unwrap_or(0.0).min(0.0);
    let t_max = ops
        .iter()
        .map(|o| axis.at(o))
        .fold(t_min, f64::max)
        .max(t_min + 1e-9);

    // Jepsen's nemesis logs an invoke and a completion for each action; the invocation
    // is when the fault was asked for. Completions alone are used when a history has
    // no nemesis invocations.
    let nemesis: Vec<&Op> = history.nemesis_events().collect();
    let any_invoke = nemesis.iter().any(|o| o.kind == OpType::Invoke);
    let mut periods: Vec<Period> = Vec::new();
    let mut marks = Vec::new();
    let mut open: Vec<Period> = Vec::new();
    for op in nemesis
        .into_iter()
        .filter(|o| !any_invoke || o.kind == OpType::Invoke)
    {
        if periods.len() + marks.len() >= MAX_PERIODS {
            break;
        }
        let at = axis.at(op);
        match classify(&op.f) {
            Some((fault, true)) => {
                // A second start of a fault already on continues the same period.
                if !open.iter().any(|p| p.fault == fault) {
                    open.push(Period {
                        fault,
                        start: at,
                        end: t_max,
                        start_index: op.index,
                        end_index: None,
                        detail: short(&op.value, 60),
                    });
                }
            }
            Some((fault, false)) => {
                if let Some(pos) = open.iter().position(|p| p.fault == fault) {
                    let mut p = open.remove(pos);
                    p.end = at.max(p.start);
                    p.end_index = Some(op.index);
                    periods.push(p);
                } else {
                    marks.push(Mark {
                        f: op.f.to_string(),
                        at,
                        index: op.index,
                        detail: short(&op.value, 60),
                    });
                }
            }
            None => marks.push(Mark {
                f: op.f.to_string(),
                at,
                index: op.index,
                detail: short(&op.value, 60),
            }),
        }
    }
    periods.extend(open);
    periods.sort_by(|a, b| a.start.total_cmp(&b.start));
    Prepared {
        axis,
        rows,
        periods,
        marks,
        t_min,
        t_max,
    }
}

/// A colour per fault kind, the same in every picture.
pub fn fault_color(fault: &str) -> (u8, u8, u8) {
    match fault {
        "partition" => (230, 120, 40),
        "kill" => (200, 40, 40),
        "pause" => (140, 80, 190),
        "clock" => (40, 140, 160),
        "packet" => (180, 160, 30),
        _ => (120, 120, 120),
    }
}

pub fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for inclusion inside a `<script>` element: `</script>` and `<!--` cannot end
/// or confuse it when `<` is escaped.
pub fn script_json(v: &serde_json::Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use faultline_checkers::history::read_jsonl;

    /// A small history with a partition and a kill, times in nanoseconds.
    pub(crate) fn sample() -> History {
        let lines = [
            r#"{"index":0,"type":"invoke","process":0,"f":"write","value":1,"time":1000000}"#,
            r#"{"index":1,"type":"invoke","process":"nemesis","f":"start-partition","value":"majority","time":2000000}"#,
            r#"{"index":2,"type":"info","process":"nemesis","f":"start-partition","value":"majority","time":2100000}"#,
            r#"{"index":3,"type":"invoke","process":1,"f":"read","value":null,"time":3000000}"#,
            r#"{"index":4,"type":"ok","process":0,"f":"write","value":1,"time":5000000}"#,
            r#"{"index":5,"type":"ok","process":1,"f":"read","value":1,"time":6000000}"#,
            r#"{"index":6,"type":"invoke","process":"nemesis","f":"stop-partition","value":null,"time":7000000}"#,
            r#"{"index":7,"type":"info","process":"nemesis","f":"stop-partition","value":null,"time":7100000}"#,
            r#"{"index":8,"type":"invoke","process":0,"f":"write","value":2,"time":8000000}"#,
            r#"{"index":9,"type":"invoke","process":"nemesis","f":"kill","value":["n1"],"time":8500000}"#,
            r#"{"index":10,"type":"info","process":0,"f":"write","value":2,"time":9000000}"#,
            r#"{"index":11,"type":"invoke","process":2,"f":"read","value":null,"time":9500000}"#,
            r#"{"index":12,"type":"fail","process":2,"f":"read","value":null,"time":9900000}"#,
        ];
        read_jsonl(lines.join("\n").as_bytes(), "sample.jsonl").unwrap()
    }

    #[test]
    fn periods_pair_start_and_stop() {
        let p = prepare(&sample());
        assert_eq!(p.axis, Axis::Seconds);
        assert_eq!(p.rows.len(), 4);
        assert_eq!(p.periods.len(), 2);
        assert_eq!(p.periods[0].fault, "partition");
        assert!((p.periods[0].start - 0.002).abs() < 1e-9);
        assert!((p.periods[0].end - 0.007).abs() < 1e-9);
        // Never stopped: open to the end of the history.
        assert_eq!(p.periods[1].fault, "kill");
        assert_eq!(p.periods[1].end_index, None);
        assert!((p.periods[1].end - p.t_max).abs() < 1e-12);
    }

    #[test]
    fn script_json_cannot_close_the_script() {
        let v = serde_json::json!({"x": "</script><script>alert(1)</script>"});
        assert!(!script_json(&v).contains("</script>"));
    }
}
