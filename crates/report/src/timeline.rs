//! `timeline.html`: one self-contained page (no external scripts: test machines are
//! often offline) with every operation as a bar in its process's lane, fault periods as
//! bands, and details on hover. It draws on a canvas, only the lanes and the time window
//! in view, so a history of 100,000 operations opens and pans quickly; Jepsen's DOM
//! timeline stops at 10,000 operations.

use super::data::{clip, esc, fault_color, hex, script_json, short, Axis, Prepared};
use faultline_checkers::history::{History, Outcome};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Characters of a value kept for the hover text.
const VALUE_CHARS: usize = 120;
/// Operations kept at most: beyond it the page would be too big to load quickly; the
/// first ones are kept and the page says so.
const MAX_OPS: usize = 300_000;

/// Ticks: integers on the axis (microseconds, or history positions), compact in JSON.
fn tick(axis: Axis, t: f64) -> i64 {
    match axis {
        Axis::Seconds => (t * 1e6).round() as i64,
        Axis::Events => t.round() as i64,
    }
}

pub fn data(history: &History, p: &Prepared) -> Value {
    let mut lanes: BTreeMap<u64, usize> = BTreeMap::new();
    for r in p.rows.iter().take(MAX_OPS) {
        lanes.insert(r.process, 0);
    }
    for (i, v) in lanes.values_mut().enumerate() {
        *v = i;
    }
    let mut fs: BTreeMap<&str, usize> = BTreeMap::new();
    for r in p.rows.iter().take(MAX_OPS) {
        let n = fs.len();
        fs.entry(&*r.f).or_insert(n);
    }
    let ops = &history.ops;
    let mut flat: Vec<i64> = Vec::with_capacity(p.rows.len().min(MAX_OPS) * 7);
    let mut vals: Vec<String> = Vec::with_capacity(p.rows.len().min(MAX_OPS));
    for r in p.rows.iter().take(MAX_OPS) {
        flat.push(lanes.get(&r.process).copied().unwrap_or(0) as i64);
        flat.push(tick(p.axis, r.start));
        flat.push(r.end.map(|e| tick(p.axis, e)).unwrap_or(-1));
        flat.push(match r.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        });
        flat.push(fs.get(&*r.f).copied().unwrap_or(0) as i64);
        flat.push(ops[r.invoke].index as i64);
        flat.push(r.complete.map(|c| ops[c].index as i64).unwrap_or(-1));
        let arg = short(&ops[r.invoke].value, VALUE_CHARS);
        let res = r
            .complete
            .map(|c| {
                let o = &ops[c];
                let mut s = short(&o.value, VALUE_CHARS);
                if let Some(e) = &o.error {
                    s.push_str(&format!(" (error: {})", short(e, VALUE_CHARS)));
                }
                s
            })
            .unwrap_or_default();
        vals.push(format!("{arg}\u{1}{res}"));
    }
    let mut f_names = vec![String::new(); fs.len()];
    for (f, i) in fs {
        f_names[i] = f.to_string();
    }
    let periods: Vec<Value> = p
        .periods
        .iter()
        .map(|q| {
            json!([
                q.fault,
                tick(p.axis, q.start),
                tick(p.axis, q.end),
                q.detail,
                q.start_index,
                q.end_index,
                hex(fault_color(&q.fault))
            ])
        })
        .collect();
    let marks: Vec<Value> = p
        .marks
        .iter()
        .map(|m| json!([m.f, tick(p.axis, m.at), m.detail, m.index]))
        .collect();
    json!({
        "unit": match p.axis { Axis::Seconds => "s", Axis::Events => "event" },
        "tMin": tick(p.axis, p.t_min),
        "tMax": tick(p.axis, p.t_max),
        "procs": lanes.keys().collect::<Vec<_>>(),
        "fs": f_names,
        "ops": flat,
        "vals": vals,
        "periods": periods,
        "marks": marks,
        "total": p.rows.len(),
    })
}

pub fn render(history: &History, p: &Prepared, title: &str) -> Result<String, String> {
    let d = data(history, p);
    let shown = p.rows.len().min(MAX_OPS);
    let note = if shown < p.rows.len() {
        format!(" (first {shown} of {} operations)", p.rows.len())
    } else {
        format!(" ({} operations)", p.rows.len())
    };
    let mut s = String::with_capacity(64 + d.to_string().len());
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    s.push_str(&esc(&clip(title, 200)));
    s.push_str(" — timeline</title>\n<style>");
    s.push_str(CSS);
    s.push_str("</style></head><body>\n<header><b>Timeline</b> ");
    s.push_str(&esc(&clip(title, 200)));
    s.push_str(&esc(&note));
    s.push_str(HEADER_CONTROLS);
    s.push_str("</header>\n<div id=\"axis\"><canvas id=\"axiscv\"></canvas></div>\n<div id=\"scroller\"><div id=\"spacer\"></div><canvas id=\"cv\"></canvas></div>\n<div id=\"tip\"></div>\n<script id=\"data\" type=\"application/json\">");
    s.push_str(&script_json(&d));
    s.push_str("</script>\n<script>");
    s.push_str(JS);
    s.push_str("</script></body></html>\n");
    Ok(s)
}

const CSS: &str = r#"
body{margin:0;font:13px sans-serif;color:#222;overflow:hidden}
header{padding:6px 10px;background:#f4f4f4;border-bottom:1px solid #ccc;height:24px;white-space:nowrap}
header button{margin-left:6px}
header .legend span{display:inline-block;width:12px;height:10px;margin:0 3px 0 10px;vertical-align:middle}
#axis{height:44px;border-bottom:1px solid #ccc}
#scroller{position:relative;overflow-y:auto;overflow-x:hidden;height:calc(100vh - 82px)}
#spacer{width:1px}
#cv{position:absolute;left:0;top:0}
#tip{position:fixed;display:none;background:#fffff0;border:1px solid #999;padding:4px 6px;max-width:520px;font:12px monospace;white-space:pre-wrap;pointer-events:none;z-index:10}
"#;

const HEADER_CONTROLS: &str = r#"
<button id="zin" title="zoom in (or ctrl/shift + wheel)">+</button><button id="zout">−</button><button id="zreset">reset</button>
<span class="legend"><span style="background:#6DB6FE"></span>ok<span style="background:#FEB5DA"></span>fail<span style="background:#FFAA26"></span>info<span style="background:#FFE0A8"></span>never completed</span>
<span style="margin-left:12px;color:#666">drag to pan, ctrl/shift + wheel to zoom, hover for details</span>
"#;

const JS: &str = r#"
"use strict";
(function(){
const D = JSON.parse(document.getElementById('data').textContent);
const N = D.ops.length / 7, L = D.procs.length, LEFT = 64;
const COL = ['#6DB6FE', '#FEB5DA', '#FFAA26'];
const scroller = document.getElementById('scroller'), spacer = document.getElementById('spacer');
const cv = document.getElementById('cv'), ax = document.getElementById('axiscv'), tip = document.getElementById('tip');
const ctx = cv.getContext('2d'), actx = ax.getContext('2d');
// Per lane, the operations in invocation order: a process has one operation open at a
// time, so they are also in completion order and a binary search finds the window.
const lanes = []; for (let i = 0; i < L; i++) lanes.push([]);
for (let i = 0; i < N; i++) lanes[D.ops[7*i]].push(i);
const tMin = D.tMin, tMax = Math.max(D.tMax, D.tMin + 1);
const endOf = i => { const e = D.ops[7*i+2]; return e < 0 ? tMax : e; };
let v0 = tMin, v1 = tMax, laneH = 16;
function unitText(t){ return D.unit === 's' ? (t/1e6).toFixed(3)+' s' : 'event '+t; }
function resize(){
  const w = scroller.clientWidth, h = scroller.clientHeight;
  laneH = Math.max(3, Math.min(18, Math.floor(h / Math.max(1, L))));
  spacer.style.height = (L * laneH) + 'px';
  cv.width = w; cv.height = h; ax.width = w; ax.height = 44;
  draw();
}
const X = t => LEFT + (t - v0) / (v1 - v0) * (cv.width - LEFT);
const T = x => v0 + (x - LEFT) / (cv.width - LEFT) * (v1 - v0);
function firstVisible(lane, t){
  let lo = 0, hi = lane.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (endOf(lane[m]) < t) lo = m + 1; else hi = m; }
  return lo;
}
function draw(){
  const top = scroller.scrollTop; cv.style.top = top + 'px';
  const w = cv.width, h = cv.height;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
  for (const p of D.periods) {
    if (p[2] < v0 || p[1] > v1) continue;
    const a = Math.max(LEFT, X(p[1])), b = Math.min(w, Math.max(X(p[2]), a + 1));
    ctx.globalAlpha = 0.15; ctx.fillStyle = p[6]; ctx.fillRect(a, 0, b - a, h); ctx.globalAlpha = 1;
  }
  const l0 = Math.max(0, Math.floor(top / laneH)), l1 = Math.min(L, Math.ceil((top + h) / laneH));
  const bh = Math.max(1, laneH - (laneH > 6 ? 3 : 1));
  for (let l = l0; l < l1; l++) {
    const y = l * laneH - top;
    if (laneH >= 8) { ctx.fillStyle = '#555'; ctx.font = Math.min(11, laneH) + 'px sans-serif'; ctx.fillText(String(D.procs[l]), 4, y + laneH - (laneH >= 10 ? 4 : 1)); }
    const lane = lanes[l];
    for (let k = firstVisible(lane, v0); k < lane.length; k++) {
      const i = lane[k], s = D.ops[7*i+1];
      if (s > v1) break;
      const e = D.ops[7*i+2], o = D.ops[7*i+3];
      const a = Math.max(LEFT, X(s)), b = Math.max(a + 1, X(e < 0 ? tMax : e));
      ctx.fillStyle = e < 0 ? '#FFE0A8' : COL[o];
      ctx.fillRect(a, y + 1, b - a, bh);
    }
  }
  for (const m of D.marks) {
    if (m[1] < v0 || m[1] > v1) continue;
    ctx.fillStyle = '#777'; ctx.fillRect(X(m[1]), 0, 1, h);
  }
  drawAxis();
}
function drawAxis(){
  const w = ax.width; actx.clearRect(0, 0, w, 44); actx.fillStyle = '#fafafa'; actx.fillRect(0, 0, w, 44);
  actx.font = '11px sans-serif';
  for (const p of D.periods) {
    if (p[2] < v0 || p[1] > v1) continue;
    const a = Math.max(LEFT, X(p[1])), b = Math.min(w, Math.max(X(p[2]), a + 2));
    actx.fillStyle = p[6]; actx.globalAlpha = 0.35; actx.fillRect(a, 2, b - a, 16); actx.globalAlpha = 1;
    actx.fillStyle = '#000'; actx.fillText(p[0], a + 2, 14);
  }
  for (const m of D.marks) { if (m[1] >= v0 && m[1] <= v1) { actx.fillStyle = '#555'; actx.fillText(m[0], X(m[1]) + 2, 14); } }
  const span = v1 - v0, target = span / 8;
  let step = Math.pow(10, Math.floor(Math.log10(Math.max(target, 1))));
  while (span / step > 12) step *= 2;
  actx.fillStyle = '#333';
  for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
    const x = X(t); actx.fillRect(x, 26, 1, 8); actx.fillText(unitText(t), x + 2, 42);
  }
}
function find(x, y){
  const l = Math.floor((y + scroller.scrollTop) / laneH);
  if (l < 0 || l >= L || x < LEFT) return null;
  const lane = lanes[l], t = T(x), tol = 3 * (v1 - v0) / (cv.width - LEFT);
  for (let k = firstVisible(lane, t - tol); k < lane.length; k++) {
    const i = lane[k]; if (D.ops[7*i+1] > t + tol) break;
    return i;
  }
  return null;
}
function showTip(ev, i){
  const o = D.ops, e = o[7*i+2], vals = D.vals[i].split('\u0001');
  const lat = e < 0 ? 'never completed' : (D.unit === 's' ? ((e - o[7*i+1]) / 1000).toFixed(3) + ' ms' : (e - o[7*i+1]) + ' events');
  const kind = e < 0 ? 'info (no completion)' : ['ok', 'fail', 'info'][o[7*i+3]];
  let s = 'process ' + D.procs[o[7*i]] + '  ' + D.fs[o[7*i+4]] + '  ' + kind + '\n' +
    'argument: ' + vals[0] + '\nresult:   ' + (vals[1] || '') + '\n' +
    'events ' + o[7*i+5] + (o[7*i+6] >= 0 ? '..' + o[7*i+6] : '..') + '\n' +
    'invoked ' + unitText(o[7*i+1]) + (e >= 0 ? ', completed ' + unitText(e) : '') + '\nlatency ' + lat;
  const t = T(ev.offsetX);
  for (const p of D.periods) if (p[1] <= t && t <= p[2]) s += '\nduring ' + p[0] + (p[3] ? ' ' + p[3] : '') + ' (event ' + p[4] + ')';
  tip.textContent = s; tip.style.display = 'block';
  tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 540) + 'px'; tip.style.top = (ev.clientY + 14) + 'px';
}
let drag = null;
cv.addEventListener('mousedown', ev => { drag = {x: ev.clientX, v0, v1}; });
window.addEventListener('mouseup', () => { drag = null; });
cv.addEventListener('mousemove', ev => {
  if (drag) {
    const dt = (ev.clientX - drag.x) / (cv.width - LEFT) * (drag.v1 - drag.v0);
    v0 = drag.v0 - dt; v1 = drag.v1 - dt; tip.style.display = 'none'; requestDraw(); return;
  }
  const i = find(ev.offsetX, ev.offsetY);
  if (i === null) tip.style.display = 'none'; else showTip(ev, i);
});
cv.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
function zoom(f, x){
  const t = T(x === undefined ? (LEFT + cv.width) / 2 : x);
  const a = t - (t - v0) * f, b = t + (v1 - t) * f;
  if (b - a >= 1) { v0 = a; v1 = b; }
  requestDraw();
}
cv.addEventListener('wheel', ev => {
  if (!(ev.ctrlKey || ev.shiftKey || ev.altKey)) return;
  ev.preventDefault(); zoom(ev.deltaY > 0 ? 1.25 : 0.8, ev.offsetX);
}, {passive: false});
document.getElementById('zin').onclick = () => zoom(0.5);
document.getElementById('zout').onclick = () => zoom(2);
document.getElementById('zreset').onclick = () => { v0 = tMin; v1 = tMax; requestDraw(); };
let pending = false;
function requestDraw(){ if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); } }
scroller.addEventListener('scroll', requestDraw);
window.addEventListener('resize', resize);
resize();
// For tests and for people: when the page was ready, in ms since navigation.
document.body.dataset.ready = '1';
document.body.dataset.ms = String(Math.round(performance.now()));
})();
"#;

#[cfg(test)]
mod tests {
    use super::super::data::{prepare, tests::sample};
    use super::*;

    #[test]
    fn page_is_self_contained() {
        let h = sample();
        let p = prepare(&h);
        let html = render(&h, &p, "sample <test>").unwrap();
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.contains("sample &lt;test&gt;"));
        let d = data(&h, &p);
        assert_eq!(d["ops"].as_array().unwrap().len(), 4 * 7);
        assert_eq!(d["periods"].as_array().unwrap().len(), 2);
    }
}
