//! Drawing a cycle: DOT text for Graphviz users, and SVG drawn here (transactions on a
//! circle, curved labelled arrows) so that no external program is needed.

use super::report::{Cycle, Step};
use std::f64::consts::PI;
use std::fmt::Write;

fn color(rel: &str) -> &'static str {
    match rel {
        "ww" => "#1f5fbf",
        "wr" => "#2e8b2e",
        "rw" => "#c0392b",
        "process" => "#7d3c98",
        _ => "#707070",
    }
}

fn edge_label(s: &Step) -> String {
    match &s.key {
        Some(k) => format!("{} {}", s.rel, k),
        None => s.rel.to_string(),
    }
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub(crate) fn dot(name: &str, c: &Cycle) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph \"{}\" {{", dot_escape(name));
    let _ = writeln!(s, "  node [shape=box, fontname=\"monospace\"];");
    for (i, t) in c.txns.iter().enumerate() {
        let _ = writeln!(
            s,
            "  T{} [label=\"T{}\\nindex {}, process {}\"];",
            i + 1,
            i + 1,
            t.index,
            t.process
        );
    }
    for st in &c.steps {
        let _ = writeln!(
            s,
            "  T{} -> T{} [label=\"{}\", color=\"{}\", fontcolor=\"{}\"];",
            st.from + 1,
            st.to + 1,
            dot_escape(&edge_label(st)),
            color(&st.rel),
            color(&st.rel)
        );
    }
    s.push_str("}\n");
    s
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

const NODE_R: f64 = 30.0;

pub(crate) fn svg(name: &str, c: &Cycle) -> String {
    let n = c.txns.len().max(1);
    let ring = (40.0 * n as f64).max(110.0);
    let margin = 90.0;
    let size = 2.0 * (ring + margin);
    let center = size / 2.0;
    let pos: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            // First transaction at the top, then clockwise.
            let a = -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
            (center + ring * a.cos(), center + ring * a.sin())
        })
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {size:.0} {h:.0}\" font-family=\"monospace\" font-size=\"13\">",
        h = size + 24.0
    );
    let _ = writeln!(s, "<title>{}</title>", xml_escape(name));
    s.push_str("<defs>\n");
    for rel in ["ww", "wr", "rw", "process", "realtime"] {
        let _ = writeln!(
            s,
            "<marker id=\"arrow-{rel}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
             markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">\
             <path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{}\"/></marker>",
            color(rel)
        );
    }
    s.push_str("</defs>\n");
    let _ = writeln!(
        s,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        xml_escape(name)
    );
    for st in &c.steps {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(st.from), pos.get(st.to)) else {
            continue;
        };
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        // Bend every edge to its right, so a -> b and b -> a do not overlap.
        let bend = 0.18 * len;
        let (cx, cy) = ((x1 + x2) / 2.0 - uy * bend, (y1 + y2) / 2.0 + ux * bend);
        let start = toward((x1, y1), (cx, cy), NODE_R);
        let end = toward((x2, y2), (cx, cy), NODE_R + 2.0);
        let col = color(&st.rel);
        let _ = writeln!(
            s,
            "<path d=\"M {:.1} {:.1} Q {cx:.1} {cy:.1} {:.1} {:.1}\" fill=\"none\" stroke=\"{col}\" \
             stroke-width=\"2\" marker-end=\"url(#arrow-{})\"/>",
            start.0, start.1, end.0, end.1, st.rel
        );
        // The curve's midpoint, nudged outwards for the label.
        let (mx, my) = (
            0.25 * start.0 + 0.5 * cx + 0.25 * end.0,
            0.25 * start.1 + 0.5 * cy + 0.25 * end.1,
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{col}\" text-anchor=\"middle\">{}</text>",
            mx - uy * 12.0,
            my + ux * 12.0 + 4.0,
            xml_escape(&edge_label(st))
        );
    }
    for (i, t) in c.txns.iter().enumerate() {
        let (x, y) = pos[i];
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{NODE_R}\" fill=\"#f4f4f4\" stroke=\"#333\" stroke-width=\"1.5\"/>\n\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">T{}</text>\n\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">#{}</text>",
            y - 2.0,
            i + 1,
            y + 12.0,
            t.index
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"12\" y=\"{:.0}\" font-size=\"11\" fill=\"#555\">ww: write-write  wr: write-read  \
         rw: read-write (anti-dependency)  #: history index</text>",
        size + 14.0
    );
    s.push_str("</svg>\n");
    s
}

/// The point at distance `d` from `from` in the direction of `to`.
fn toward(from: (f64, f64), to: (f64, f64), d: f64) -> (f64, f64) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt().max(1e-9);
    (from.0 + dx / len * d, from.1 + dy / len * d)
}
