//! `linearizability.html`: a violation as a picture. The operations around the one that
//! could not be placed are bars on a time axis, one row per process; the longest
//! linearizable order found is numbered on them; the failing operation is red; the
//! model states and the reasons it fits none of them follow, with the nemesis events of
//! that stretch of the history (Porcupine's users asked for these beside the
//! operations).

use super::data::{clip, esc, fault_color, hex, short, Axis, Period, Prepared};
use faultline_checkers::history::{History, Op};
use faultline_checkers::linear::{Explanation, OpView};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 90.0;
const ROW: f64 = 30.0;
const TOP: f64 = 40.0;
/// Nemesis events listed at most.
const MAX_NEMESIS: usize = 50;

/// Each distinct operation once, with its place in the linearization when it has one.
struct Bar<'a> {
    op: &'a OpView,
    order: Option<usize>,
    failing: bool,
    state: Option<&'a str>,
}

fn collect(e: &Explanation) -> Vec<Bar<'_>> {
    let mut bars: BTreeMap<u64, Bar<'_>> = BTreeMap::new();
    let first = e.linearized_count.saturating_sub(e.linearized_tail.len());
    for (i, s) in e.linearized_tail.iter().enumerate() {
        bars.insert(
            s.op.invoke_index,
            Bar {
                op: &s.op,
                order: Some(first + i + 1),
                failing: false,
                state: Some(&s.state),
            },
        );
    }
    for c in e.concurrent.iter().chain(e.previous_ok.iter()) {
        bars.entry(c.invoke_index).or_insert(Bar {
            op: c,
            order: None,
            failing: false,
            state: None,
        });
    }
    bars.insert(
        e.op.invoke_index,
        Bar {
            op: &e.op,
            order: None,
            failing: true,
            state: None,
        },
    );
    bars.into_values().collect()
}

/// Nanoseconds when every operation shown has times, else history positions.
fn use_time(bars: &[Bar<'_>]) -> bool {
    bars.iter().all(|b| {
        b.op.invoke_time.is_some()
            && (b.op.complete_index.is_none() || b.op.complete_time.is_some())
    })
}

/// A value for a person: `null` spelled out rather than left blank.
fn shown(v: &serde_json::Value) -> String {
    if v.is_null() {
        "null".into()
    } else {
        short(v, 120)
    }
}

fn describe(v: &OpView) -> String {
    let span = match v.complete_index {
        Some(c) => format!("{}..{}", v.invoke_index, c),
        None => format!("{}.. (never completed)", v.invoke_index),
    };
    let mut s = format!(
        "process {}: {} ({})\nargument {}",
        v.process,
        v.model_op,
        v.outcome,
        shown(&v.value)
    );
    if let Some(r) = &v.result {
        let _ = write!(s, ", result {}", shown(r));
    }
    let _ = write!(s, "\nevents {span}");
    if let (Some(a), Some(b)) = (v.invoke_time, v.complete_time) {
        let _ = write!(s, "\nlatency {:.3} ms", (b - a) as f64 / 1e6);
    }
    s
}

/// The picture's coordinates: the stretch of time (or of history positions) shown,
/// one row per process, and the history positions covered.
struct Frame {
    /// Nanoseconds when every operation shown has times, else history positions.
    timed: bool,
    lo: f64,
    hi: f64,
    /// Room on the right of `hi` for operations that never completed.
    pad: f64,
    procs: Vec<u64>,
    height: f64,
    /// The history positions this picture covers, to pick its nemesis events.
    idx_lo: u64,
    idx_hi: u64,
}

impl Frame {
    fn new(bars: &[Bar<'_>]) -> Frame {
        let mut procs: Vec<u64> = bars.iter().map(|b| b.op.process).collect();
        procs.sort_unstable();
        procs.dedup();
        let height = TOP + procs.len() as f64 * ROW + 30.0;
        let idx_lo = bars.iter().map(|b| b.op.invoke_index).min().unwrap_or(0);
        let idx_hi = bars
            .iter()
            .map(|b| b.op.complete_index.unwrap_or(b.op.invoke_index))
            .max()
            .unwrap_or(0);
        // The range is found with `start` and `end`, which need `timed` only.
        let mut f = Frame {
            timed: use_time(bars),
            lo: 0.0,
            hi: 0.0,
            pad: 0.0,
            procs,
            height,
            idx_lo,
            idx_hi,
        };
        let lo = bars
            .iter()
            .map(|b| f.start(b.op))
            .fold(f64::INFINITY, f64::min);
        let hi_done = bars
            .iter()
            .filter_map(|b| f.end(b.op))
            .fold(f64::NEG_INFINITY, f64::max);
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let hi = hi_done.max(bars.iter().map(|b| f.start(b.op)).fold(lo, f64::max));
        f.pad = ((hi - lo) * 0.08).max(1.0);
        f.lo = lo;
        f.hi = hi + f.pad;
        f
    }

    fn start(&self, v: &OpView) -> f64 {
        if self.timed {
            v.invoke_time.unwrap_or(0) as f64
        } else {
            v.invoke_index as f64
        }
    }

    fn end(&self, v: &OpView) -> Option<f64> {
        v.complete_index?;
        Some(if self.timed {
            v.complete_time.unwrap_or(0) as f64
        } else {
            v.complete_index.unwrap_or(0) as f64
        })
    }

    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.lo) / (self.hi - self.lo).max(1e-9) * (WIDTH - LEFT - 20.0)
    }

    fn row_of(&self, p: u64) -> usize {
        self.procs.iter().position(|&q| q == p).unwrap_or(0)
    }
}

/// What the nemesis did in the picture's stretch of the history: the fault periods
/// overlapping it, and its events (at most `MAX_NEMESIS`).
struct Nemesis<'a> {
    faults: Vec<&'a Period>,
    events: Vec<&'a Op>,
}

impl<'a> Nemesis<'a> {
    fn new(f: &Frame, history: &'a History, p: &'a Prepared) -> Nemesis<'a> {
        let faults = p
            .periods
            .iter()
            .filter(|per| {
                let end_idx = per.end_index.unwrap_or(u64::MAX);
                !(per.start_index > f.idx_hi || end_idx < f.idx_lo)
            })
            .collect();
        let events = history
            .nemesis_events()
            .filter(|o| o.index >= f.idx_lo && o.index <= f.idx_hi)
            .take(MAX_NEMESIS)
            .collect();
        Nemesis { faults, events }
    }
}

pub fn render(
    e: &Explanation,
    history: &History,
    p: &Prepared,
    title: &str,
) -> Result<String, String> {
    let bars = collect(e);
    let f = Frame::new(&bars);
    let nemesis = Nemesis::new(&f, history, p);
    let svg = picture(&f, &bars, &nemesis, p.axis);

    let mut h = String::new();
    header(&mut h, e, title, &svg);
    states_table(&mut h, e);
    order_table(&mut h, e, &bars);
    concurrent_table(&mut h, e);
    nemesis_list(&mut h, &nemesis);
    footer(&mut h);
    Ok(h)
}

/// The SVG of the operations: fault bands behind, a row per process, the bars, the
/// nemesis ticks and the axis caption.
fn picture(f: &Frame, bars: &[Bar<'_>], nemesis: &Nemesis<'_>, axis: Axis) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{}" font-family="sans-serif" font-size="12">"#,
        f.height
    );
    for per in &nemesis.faults {
        fault_band(&mut svg, f, per, axis);
    }
    for (i, pr) in f.procs.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let _ = write!(
            svg,
            r##"<text x="6" y="{:.1}" fill="#444">process {pr}</text><line x1="{LEFT}" x2="{WIDTH}" y1="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
            y + ROW / 2.0 + 4.0,
            y + ROW,
            y + ROW
        );
    }
    for b in bars {
        op_bar(&mut svg, f, b);
    }
    nemesis_ticks(&mut svg, f, &nemesis.events);
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="{:.1}" fill="#666">{}</text></svg>"##,
        f.height - 4.0,
        esc(&axis_caption(f))
    );
    svg
}

/// A fault period overlapping this stretch, as a band behind the bars.
fn fault_band(svg: &mut String, f: &Frame, per: &Period, axis: Axis) {
    let (a, b) = if f.timed && axis == Axis::Seconds {
        (per.start * 1e9, per.end * 1e9)
    } else {
        (
            per.start_index as f64,
            per.end_index.map(|i| i as f64).unwrap_or(f.hi),
        )
    };
    let (a, b) = (f.x(a.max(f.lo)), f.x(b.min(f.hi)));
    let c = hex(fault_color(&per.fault));
    let _ = write!(
        svg,
        r#"<rect x="{a:.1}" y="18" width="{:.1}" height="{:.1}" fill="{c}" fill-opacity="0.15"><title>{}</title></rect><text x="{:.1}" y="30" fill="{c}">{}</text>"#,
        (b - a).max(2.0),
        f.height - 18.0,
        esc(&format!(
            "{} {} (events {}..{})",
            per.fault,
            per.detail,
            per.start_index,
            per.end_index.map(|i| i.to_string()).unwrap_or_default()
        )),
        a + 2.0,
        esc(&per.fault)
    );
}

/// Fill and stroke of a bar: red failing, green linearized, orange indeterminate,
/// grey otherwise.
fn bar_colors(b: &Bar<'_>) -> (&'static str, &'static str) {
    if b.failing {
        ("#e74c3c", "#7b1010")
    } else if b.order.is_some() {
        ("#8fd19e", "#2e7d32")
    } else if b.op.outcome == "info" {
        ("#ffd699", "#b36b00")
    } else {
        ("#d5d5d5", "#888")
    }
}

/// A bar's text: its place in the order, a cross when it is the failing one.
fn bar_label(b: &Bar<'_>) -> String {
    let mut label = clip(&b.op.model_op, 40);
    if let Some(n) = b.order {
        label = format!("#{n} {label}");
    }
    if b.failing {
        label = format!("✗ {label}");
    }
    label
}

/// One operation as a bar on its process's row, dashed when it never completed.
fn op_bar(svg: &mut String, f: &Frame, b: &Bar<'_>) {
    let y = TOP + f.row_of(b.op.process) as f64 * ROW + 4.0;
    let a = f.x(f.start(b.op));
    let (z, open) = match f.end(b.op) {
        Some(t) => (f.x(t), false),
        None => (f.x(f.hi), true),
    };
    let w = (z - a).max(3.0);
    let (fill, stroke) = bar_colors(b);
    let dash = if open {
        r#" stroke-dasharray="4 3""#
    } else {
        ""
    };
    let class = if b.failing { "op failing" } else { "op" };
    let _ = write!(
        svg,
        r##"<g class="{class}" id="op-{}"><title>{}</title><rect x="{a:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="{}"{dash}/><text x="{:.1}" y="{:.1}" fill="#000">{}</text></g>"##,
        b.op.invoke_index,
        esc(&describe(b.op)),
        ROW - 8.0,
        if b.failing { 2.5 } else { 1.0 },
        a + 3.0,
        y + ROW / 2.0 + 1.0,
        esc(&bar_label(b))
    );
}

/// Nemesis events that are not period boundaries, as ticks.
fn nemesis_ticks(svg: &mut String, f: &Frame, events: &[&Op]) {
    for o in events {
        let t = if f.timed {
            o.time.unwrap_or(0) as f64
        } else {
            o.index as f64
        };
        let xx = f.x(t);
        let _ = write!(
            svg,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="18" y2="{:.1}" stroke="#555" stroke-dasharray="2 2"><title>{}</title></line>"##,
            f.height - 12.0,
            esc(&format!(
                "nemesis {} {} {}",
                o.f,
                o.kind,
                short(&o.value, 80)
            ))
        );
    }
}

/// The axis caption under the picture: the range shown, without the padding.
fn axis_caption(f: &Frame) -> String {
    if f.timed {
        format!(
            "time: {:.3} ms .. {:.3} ms since the test started",
            f.lo / 1e6,
            (f.hi - f.pad) / 1e6
        )
    } else {
        format!(
            "history positions {} .. {} (events carry no time)",
            f.lo,
            f.hi - f.pad
        )
    }
}

/// The page's head, title, summary, legend and picture, and the failing operation.
fn header(h: &mut String, e: &Explanation, title: &str, svg: &str) {
    let key = e
        .key
        .as_ref()
        .map(|k| format!("key {}", short(k, 80)))
        .unwrap_or_default();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not linearizable {} — {}</title><style>{CSS}</style></head><body>\n",
        esc(&key),
        esc(&clip(title, 200))
    );
    let _ = write!(
        h,
        "<h1>Not linearizable {}</h1>\n<p class=\"summary\" id=\"summary\">{}</p>\n",
        esc(&key),
        esc(&e.summary)
    );
    let _ = write!(
        h,
        "<p class=\"legend\"><span style=\"background:#e74c3c\"></span>could not be placed <span style=\"background:#8fd19e\"></span>in the longest linearizable order found (numbered) <span style=\"background:#d5d5d5\"></span>concurrent <span style=\"background:#ffd699\"></span>indeterminate (info); dashed: never completed. Hover a bar for details.</p>\n<div class=\"pic\">{svg}</div>\n"
    );
    let _ = write!(
        h,
        "<h2>The operation that could not be placed</h2>\n<pre class=\"failing\" id=\"failing-op\">{}</pre>\n",
        esc(&describe(&e.op))
    );
}

/// The model states possible at that point, each with why the operation does not fit.
fn states_table(h: &mut String, e: &Explanation) {
    let _ = write!(
        h,
        "<h2>States possible at that point, and why it fits none</h2>\n<table><tr><th>state</th><th>reason</th></tr>"
    );
    for (i, s) in e.states.iter().enumerate() {
        let r = e.reasons.get(i).map(String::as_str).unwrap_or("");
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            esc(s),
            esc(r)
        );
    }
    h.push_str("</table>\n");
}

/// The end of the longest linearizable order found, with the state after each step.
fn order_table(h: &mut String, e: &Explanation, bars: &[Bar<'_>]) {
    let _ = write!(
        h,
        "<h2>Longest linearizable order found: {} operations{}</h2>\n<table><tr><th>#</th><th>process</th><th>operation</th><th>outcome</th><th>events</th><th>state after</th></tr>",
        e.linearized_count,
        if e.linearized_tail.len() < e.linearized_count {
            format!(", the last {} shown", e.linearized_tail.len())
        } else {
            String::new()
        }
    );
    let mut ordered: Vec<&Bar<'_>> = bars.iter().filter(|b| b.order.is_some()).collect();
    ordered.sort_by_key(|b| b.order);
    for b in ordered {
        let _ = write!(
            h,
            "<tr data-op=\"{}\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            b.op.invoke_index,
            b.order.unwrap_or(0),
            b.op.process,
            esc(&b.op.model_op),
            esc(&b.op.outcome),
            span(b.op),
            esc(b.state.unwrap_or(""))
        );
    }
    h.push_str("</table>\n");
}

/// The operations concurrent with the failing one.
fn concurrent_table(h: &mut String, e: &Explanation) {
    h.push_str("<h2>Concurrent operations</h2>\n<table><tr><th>process</th><th>operation</th><th>outcome</th><th>events</th></tr>");
    for c in &e.concurrent {
        let _ = write!(
            h,
            "<tr data-op=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            c.invoke_index,
            c.process,
            esc(&c.model_op),
            esc(&c.outcome),
            span(c)
        );
    }
    h.push_str("</table>\n");
}

/// The fault periods and nemesis events of this stretch, as a list.
fn nemesis_list(h: &mut String, nemesis: &Nemesis<'_>) {
    h.push_str("<h2>Nemesis during this period</h2>\n");
    if nemesis.faults.is_empty() && nemesis.events.is_empty() {
        h.push_str("<p>No fault was active and no nemesis event happened in this stretch of the history.</p>\n");
        return;
    }
    h.push_str("<ul>");
    for per in &nemesis.faults {
        let _ = write!(
            h,
            "<li><b style=\"color:{}\">{}</b> {} from event {} to {}</li>",
            hex(fault_color(&per.fault)),
            esc(&per.fault),
            esc(&per.detail),
            per.start_index,
            per.end_index
                .map(|i| i.to_string())
                .unwrap_or_else(|| "the end".into())
        );
    }
    for o in &nemesis.events {
        let _ = write!(
            h,
            "<li>event {}: nemesis {} {} {}</li>",
            o.index,
            esc(&o.f),
            o.kind,
            esc(&short(&o.value, 80))
        );
    }
    h.push_str("</ul>\n");
}

/// Links to the rest of the report, the highlighting script, the end of the page.
fn footer(h: &mut String) {
    h.push_str("<p><a href=\"index.html\">report index</a> · <a href=\"timeline.html\">timeline</a> · <a href=\"results.json\">results.json</a></p>\n");
    h.push_str(JS);
    h.push_str("</body></html>\n");
}

fn span(v: &OpView) -> String {
    match v.complete_index {
        Some(c) => format!("{}..{}", v.invoke_index, c),
        None => format!("{}..", v.invoke_index),
    }
}

/// A file name for a key's page: readable, and unique through its position.
pub fn file_name(i: usize, e: &Explanation, count: usize) -> String {
    if count <= 1 {
        return "linearizability.html".into();
    }
    let key = e.key.as_ref().map(|k| short(k, 40)).unwrap_or_default();
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("linearizability-{i}-{safe}.html")
}

const CSS: &str = r#"
body{font:14px sans-serif;margin:16px;color:#222}
h1{font-size:20px;color:#a01010} h2{font-size:16px;margin-top:22px}
.summary{font-size:15px}
.pic{overflow-x:auto;border:1px solid #ddd}
.legend span{display:inline-block;width:14px;height:10px;margin:0 3px 0 10px}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
pre.failing{background:#fdecea;border-left:4px solid #e74c3c;padding:6px}
g.op.hl rect{stroke:#000;stroke-width:3}
tr.hl{background:#fff7c0}
"#;

/// Hovering a table row highlights its bar.
const JS: &str = r#"<script>
for (const tr of document.querySelectorAll('tr[data-op]')) {
  const g = document.getElementById('op-' + tr.dataset.op);
  if (!g) continue;
  tr.addEventListener('mouseenter', () => { g.classList.add('hl'); tr.classList.add('hl'); });
  tr.addEventListener('mouseleave', () => { g.classList.remove('hl'); tr.classList.remove('hl'); });
}
document.body.dataset.ready = '1';
</script>
"#;
