//! Latency and throughput plots as SVG, drawn with `plotters`' SVG backend: text is
//! written as SVG `<text>`, so no font files and no external program (gnuplot) are
//! needed. Huge histories are thinned before drawing so the files stay small.

use super::data::{fault_color, Prepared};
use faultline_checkers::history::Outcome;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::{BTreeMap, HashSet};

const W: u32 = 1100;
const H: u32 = 520;
/// Points of one colour drawn at most in the raw latency plot: beyond it, one point
/// per 3x3-pixel cell is kept (what the eye can see anyway), then every k-th.
const MAX_POINTS: usize = 25_000;
/// Time buckets of the quantile and throughput plots.
const BUCKETS: usize = 120;
/// Throughput series (f × outcome) drawn at most: the busiest ones.
const MAX_SERIES: usize = 12;

fn outcome_color(o: Outcome) -> RGBColor {
    match o {
        Outcome::Ok => RGBColor(40, 110, 210),
        Outcome::Fail => RGBColor(220, 50, 120),
        Outcome::Info => RGBColor(240, 150, 20),
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    }
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Maps axis values to pixels of the plotting area, to shade fault periods in pixel
/// space whatever the chart's y coordinate is.
struct XMap {
    x0: f64,
    x1: f64,
    px: std::ops::Range<i32>,
    py: std::ops::Range<i32>,
}

impl XMap {
    fn px(&self, x: f64) -> i32 {
        let f = ((x - self.x0) / (self.x1 - self.x0)).clamp(0.0, 1.0);
        self.px.start + (f * (self.px.end - self.px.start) as f64) as i32
    }
}

/// Shades fault periods and labels them (labels on three staggered rows, the first
/// 60 only, so that they stay readable).
fn draw_periods(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    map: &XMap,
    p: &Prepared,
) -> Result<(), String> {
    for (i, per) in p.periods.iter().enumerate() {
        let c = fault_color(&per.fault);
        let color = RGBColor(c.0, c.1, c.2);
        let (a, b) = (
            map.px(per.start),
            map.px(per.end).max(map.px(per.start) + 1),
        );
        root.draw(&Rectangle::new(
            [(a, map.py.start), (b, map.py.end)],
            color.mix(0.13).filled(),
        ))
        .map_err(err)?;
        if i < 60 {
            let y = map.py.start + 2 + 13 * (i as i32 % 3);
            root.draw(&Text::new(
                per.fault.clone(),
                (a + 2, y),
                ("sans-serif", 11).into_font().color(&color),
            ))
            .map_err(err)?;
        }
    }
    for m in p.marks.iter().take(200) {
        let x = map.px(m.at);
        root.draw(&PathElement::new(
            vec![(x, map.py.start), (x, map.py.end)],
            RGBColor(120, 120, 120).mix(0.6),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn x_range(p: &Prepared) -> (f64, f64) {
    let (a, b) = (p.t_min, p.t_max);
    if b > a {
        (a, b)
    } else {
        (a, a + 1.0)
    }
}

fn latency_points(p: &Prepared) -> Vec<(Outcome, f64, f64)> {
    p.rows
        .iter()
        .filter_map(|r| {
            let end = r.end?;
            // A zero latency cannot sit on a log axis; it is below what we can measure.
            let l = p.axis.latency(end - r.start).max(1e-3);
            Some((r.outcome, r.start, l))
        })
        .collect()
}

fn y_log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values {
        if v.is_finite() && v > 0.0 {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() || hi <= 0.0 {
        return (0.1, 10.0);
    }
    let (lo, hi) = (lo / 1.5, hi * 1.5);
    if hi / lo < 10.0 {
        (lo / 3.0, hi * 3.0)
    } else {
        (lo, hi)
    }
}

/// Keeps at most one point per 3x3-pixel cell and outcome, then at most MAX_POINTS of
/// each outcome.
fn thin(
    points: Vec<(Outcome, f64, f64)>,
    xr: (f64, f64),
    yr: (f64, f64),
) -> Vec<(Outcome, f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let (lx0, ly0, ly1) = (xr.0, yr.0.ln(), yr.1.ln());
    let mut seen = HashSet::new();
    let mut kept: Vec<(Outcome, f64, f64)> = points
        .into_iter()
        .filter(|&(o, x, y)| {
            let cx = ((x - lx0) / (xr.1 - xr.0) * (W / 3) as f64) as i32;
            let cy = ((y.ln() - ly0) / (ly1 - ly0) * (H / 3) as f64) as i32;
            seen.insert((outcome_name(o), cx, cy))
        })
        .collect();
    for o in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
        let n = kept.iter().filter(|p| p.0 == o).count();
        if n > MAX_POINTS {
            let step = n.div_ceil(MAX_POINTS);
            let mut i = 0usize;
            kept.retain(|p| {
                if p.0 != o {
                    return true;
                }
                i += 1;
                i % step == 0
            });
        }
    }
    kept
}

/// A chart over the plots' shared x axis, its y axis of type `Y`.
type Chart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;

/// What every plot has: a white canvas, the caption, the axes with their labels, the
/// fault periods shaded, and the legend in the upper right. `series` draws the data
/// between the periods and the legend.
fn plot<Y>(
    p: &Prepared,
    caption: &str,
    y: Y,
    y_desc: &str,
    series: impl FnOnce(&mut Chart<'_, '_, Y::CoordDescType>) -> Result<(), String>,
) -> Result<String, String>
where
    Y: AsRangedCoord,
    Y::CoordDescType: ValueFormatter<Y::Value>,
{
    let xr = x_range(p);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(xr.0..xr.1, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(p.axis.label())
            .y_desc(y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        let (px, py) = chart.plotting_area().get_pixel_range();
        draw_periods(
            &root,
            &XMap {
                x0: xr.0,
                x1: xr.1,
                px,
                py,
            },
            p,
        )?;
        series(&mut chart)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

pub fn latency_raw(p: &Prepared) -> Result<String, String> {
    let xr = x_range(p);
    let points = latency_points(p);
    let total = points.len();
    let yr = y_log_range(points.iter().map(|q| q.2));
    let points = thin(points, xr, yr);
    let caption = if points.len() < total {
        format!(
            "Latency, every operation ({} of {total} shown)",
            points.len()
        )
    } else {
        format!("Latency, every operation ({total})")
    };
    let y = (yr.0..yr.1).log_scale();
    plot(p, &caption, y, p.axis.latency_label(), |chart| {
        for o in [Outcome::Ok, Outcome::Info, Outcome::Fail] {
            let c = outcome_color(o);
            chart
                .draw_series(
                    points
                        .iter()
                        .filter(|q| q.0 == o)
                        .map(|&(_, x, y)| Circle::new((x, y), 2, c.mix(0.6).filled())),
                )
                .map_err(err)?
                .label(outcome_name(o))
                .legend(move |(x, y)| Circle::new((x, y), 4, c.filled()));
        }
        Ok(())
    })
}

fn bucket_of(x: f64, xr: (f64, f64)) -> usize {
    (((x - xr.0) / (xr.1 - xr.0) * BUCKETS as f64) as usize).min(BUCKETS - 1)
}

fn bucket_mid(b: usize, xr: (f64, f64)) -> f64 {
    xr.0 + (b as f64 + 0.5) * (xr.1 - xr.0) / BUCKETS as f64
}

pub fn latency_quantiles(p: &Prepared) -> Result<String, String> {
    let xr = x_range(p);
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); BUCKETS];
    for (o, x, l) in latency_points(p) {
        // Jepsen's quantile plot is of completed operations; failures are fast and
        // would pull the quantiles down.
        if o == Outcome::Ok {
            buckets[bucket_of(x, xr)].push(l);
        }
    }
    let qs: [(f64, &str, RGBColor); 4] = [
        (0.5, "0.5", RGBColor(40, 110, 210)),
        (0.95, "0.95", RGBColor(60, 160, 60)),
        (0.99, "0.99", RGBColor(240, 150, 20)),
        (1.0, "max", RGBColor(200, 40, 40)),
    ];
    // Each quantile's line is cut where a bucket is empty: a lone late operation after
    // a quiet stretch is a dot of its own, not the end of a line drawn across the gap.
    let mut lines: Vec<Vec<Vec<(f64, f64)>>> = vec![Vec::new(); qs.len()];
    let mut last = None;
    for (b, v) in buckets.iter_mut().enumerate() {
        if v.is_empty() {
            continue;
        }
        let joins = last == Some(b.wrapping_sub(1));
        last = Some(b);
        v.sort_by(f64::total_cmp);
        for (i, (q, _, _)) in qs.iter().enumerate() {
            let idx = ((v.len() - 1) as f64 * q).round() as usize;
            let point = (bucket_mid(b, xr), v[idx.min(v.len() - 1)]);
            match lines[i].last_mut() {
                Some(run) if joins => run.push(point),
                _ => lines[i].push(vec![point]),
            }
        }
    }
    let yr = y_log_range(lines.iter().flatten().flatten().map(|q| q.1));
    let caption = "Latency quantiles of ok operations";
    let y = (yr.0..yr.1).log_scale();
    plot(p, caption, y, p.axis.latency_label(), |chart| {
        for (i, (_, name, c)) in qs.iter().enumerate() {
            let c = *c;
            let runs = &lines[i];
            chart
                .draw_series(
                    runs.iter()
                        .filter(|r| r.len() > 1)
                        .map(|r| PathElement::new(r.clone(), c.stroke_width(2))),
                )
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            chart
                .draw_series(
                    runs.iter()
                        .filter(|r| r.len() == 1)
                        .map(|r| Circle::new(r[0], 3, c.filled())),
                )
                .map_err(err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod quantile_tests {
    use super::*;
    use faultline_checkers::history::read_jsonl;

    #[test]
    fn a_lone_late_point_is_a_dot_not_the_end_of_a_line() {
        // Many quick operations early, one slow one at the very end.
        let mut lines = Vec::new();
        for i in 0..200u64 {
            let t = i * 10_000_000;
            lines.push(format!(
                r#"{{"index":{},"type":"invoke","process":0,"f":"write","value":1,"time":{t}}}"#,
                lines.len()
            ));
            lines.push(format!(
                r#"{{"index":{},"type":"ok","process":0,"f":"write","value":1,"time":{}}}"#,
                lines.len(),
                t + 1_000_000
            ));
        }
        let t = 60_000_000_000u64;
        lines.push(format!(
            r#"{{"index":{},"type":"invoke","process":1,"f":"write","value":2,"time":{t}}}"#,
            lines.len()
        ));
        lines.push(format!(
            r#"{{"index":{},"type":"ok","process":1,"f":"write","value":2,"time":{}}}"#,
            lines.len(),
            t + 900_000_000
        ));
        let h = read_jsonl(lines.join("\n").as_bytes(), "late.jsonl").unwrap();
        let svg = latency_quantiles(&super::super::data::prepare(&h)).unwrap();
        // The late operation is drawn as dots (one per quantile)...
        let attr = |tag: &str, name: &str| -> Vec<f64> {
            let mut out = Vec::new();
            for part in svg.split(&format!("<{tag}")).skip(1) {
                let Some(v) = part.split(&format!("{name}=\"")).nth(1) else {
                    continue;
                };
                let v = v.split('"').next().unwrap_or("");
                out.extend(v.parse::<f64>().ok());
            }
            out
        };
        let dots = attr("circle", "cx");
        assert!(dots.len() >= 4, "{svg}");
        // ... and no line reaches them: every series line (the wide ones with more than
        // a legend's two points) ends well before the dots.
        let line_xs: Vec<f64> = svg
            .split("<polyline")
            .skip(1)
            .filter(|p| p.contains("stroke-width=\"2\""))
            .filter_map(|p| p.split("points=\"").nth(1)?.split('"').next())
            .map(|pts| {
                pts.split(' ')
                    .filter_map(|xy| xy.split(',').next()?.parse().ok())
                    .collect::<Vec<f64>>()
            })
            .filter(|xs| xs.len() > 2)
            .flatten()
            .collect();
        assert!(!line_xs.is_empty(), "the early lines are drawn");
        let last_line = line_xs.iter().copied().fold(f64::MIN, f64::max);
        let first_dot = dots.iter().copied().fold(f64::MAX, f64::min);
        assert!(last_line < first_dot - 50.0, "{last_line} vs {first_dot}");
    }
}

pub fn throughput(p: &Prepared) -> Result<String, String> {
    let xr = x_range(p);
    let width = (xr.1 - xr.0) / BUCKETS as f64;
    // Completions per (f, outcome) and bucket.
    let mut series: BTreeMap<(String, &'static str), Vec<u64>> = BTreeMap::new();
    for r in &p.rows {
        let Some(end) = r.end else { continue };
        let v = series
            .entry((r.f.to_string(), outcome_name(r.outcome)))
            .or_insert_with(|| vec![0; BUCKETS]);
        v[bucket_of(end, xr)] += 1;
    }
    let mut series: Vec<((String, &str), Vec<u64>)> = series.into_iter().collect();
    series.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<u64>()));
    series.truncate(MAX_SERIES);
    let peak = series
        .iter()
        .flat_map(|(_, v)| v.iter())
        .copied()
        .max()
        .unwrap_or(0) as f64
        / width;
    let y1 = if peak > 0.0 { peak * 1.15 } else { 1.0 };
    let unit = match p.axis {
        super::data::Axis::Seconds => "throughput (ops/s)",
        super::data::Axis::Events => "throughput (ops per event)",
    };
    let palette = [
        RGBColor(40, 110, 210),
        RGBColor(60, 160, 60),
        RGBColor(220, 50, 120),
        RGBColor(240, 150, 20),
        RGBColor(120, 70, 180),
        RGBColor(30, 150, 150),
        RGBColor(150, 100, 40),
        RGBColor(100, 100, 100),
    ];
    let caption = "Throughput by operation and outcome";
    plot(p, caption, 0.0..y1, unit, |chart| {
        for (i, ((f, o), counts)) in series.iter().enumerate() {
            let c = palette[i % palette.len()];
            // Failures and indeterminate completions dashed-looking: thinner lines.
            let w = if *o == "ok" { 2 } else { 1 };
            chart
                .draw_series(LineSeries::new(
                    counts
                        .iter()
                        .enumerate()
                        .map(|(b, &n)| (bucket_mid(b, xr), n as f64 / width)),
                    c.stroke_width(w),
                ))
                .map_err(err)?
                .label(format!("{f} {o}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(w))
                });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::data::{prepare, tests::sample};
    use super::*;

    #[test]
    fn plots_render_with_periods() {
        let p = prepare(&sample());
        for svg in [
            latency_raw(&p).unwrap(),
            latency_quantiles(&p).unwrap(),
            throughput(&p).unwrap(),
        ] {
            assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(100)]);
            assert!(svg.contains("partition"));
            assert!(svg.contains("kill"));
        }
    }

    #[test]
    fn empty_history_still_draws() {
        let p = prepare(&faultline_checkers::history::History::default());
        assert!(latency_raw(&p).is_ok());
        assert!(latency_quantiles(&p).is_ok());
        assert!(throughput(&p).is_ok());
    }
}
