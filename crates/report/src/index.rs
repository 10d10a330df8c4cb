//! `index.html`: the summary of one run's reports. It shows the verdict as the checker
//! gave it (from `results.json`, the machine-readable truth), the plots, links to the
//! other pages, and the reports that could not be written.

use super::data::{clip, esc};
use super::ReportError;
use faultline_checkers::Validity;
use faultline_store::Results;
use std::fmt::Write as _;
use std::path::Path;

/// Jepsen's web colours for true / unknown / false; `None` is a run with no results
/// yet (running, or cut short).
pub fn verdict_color(v: Option<Validity>) -> &'static str {
    match v {
        Some(Validity::Valid) => "#6DB6FE",
        Some(Validity::Invalid) => "#FEB5DA",
        Some(Validity::Unknown) => "#FFAA26",
        None => "#eaeaea",
    }
}

pub fn verdict_text(v: Option<Validity>) -> &'static str {
    match v {
        Some(Validity::Valid) => "valid",
        Some(Validity::Invalid) => "INVALID",
        Some(Validity::Unknown) => "unknown",
        None => "incomplete",
    }
}

/// The facts of the results worth a line each: checker, what it looked at, why.
fn facts(results: &Results) -> Vec<(&'static str, String)> {
    let mut f = Vec::new();
    if let Some(r) = &results.workload {
        f.push(("checker", r.name().to_string()));
        f.push(("checked", r.counted()));
        f.push((
            "workload checker",
            verdict_text(Some(r.valid())).to_string(),
        ));
        if let Some(why) = r.why() {
            f.push(("why", why));
        }
    }
    if let Some(e) = &results.error {
        f.push(("error", e.clone()));
    }
    if let Some(l) = &results.log_patterns {
        f.push(("node logs", verdict_text(Some(l.valid())).to_string()));
        if let Some(why) = l.explanation() {
            f.push(("node logs: why", why));
        }
    }
    if let Some(s) = &results.stats {
        f.push((
            "operations",
            format!(
                "{} ok, {} failed, {} indeterminate",
                s.total.ok, s.total.fail, s.total.info
            ),
        ));
    }
    if let Some(r) = &results.run {
        f.push(("run time", format!("{:.1} s", r.elapsed_secs)));
        if r.interrupted {
            f.push(("interrupted", "the run was stopped before its end".into()));
        }
    }
    f
}

/// Characters of `results.json` shown inline.
const RESULTS_CHARS: usize = 100_000;
/// Files of the folder listed at most.
const MAX_FILES: usize = 500;

pub struct Links<'a> {
    pub plots: &'a [String],
    pub timeline: bool,
    pub violations: &'a [(String, String)],
    pub elle: &'a [String],
}

pub fn render(
    dir: &Path,
    title: &str,
    results: &Results,
    links: &Links<'_>,
    errors: &[ReportError],
) -> Result<String, String> {
    let valid = Some(results.valid);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>\n",
        esc(&clip(title, 200))
    );
    let _ = write!(
        h,
        "<h1>{} <span class=\"verdict\" id=\"verdict\" style=\"background:{}\">{}</span></h1>",
        esc(&clip(title, 200)),
        verdict_color(valid),
        verdict_text(valid)
    );
    h.push_str("<table class=\"facts\">");
    for (k, v) in facts(results) {
        let _ = write!(
            h,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(k),
            esc(&clip(&v, 300))
        );
    }
    h.push_str("</table>\n");
    if !errors.is_empty() {
        h.push_str("<h2>Reports that could not be written</h2><p>The verdict above is the checker's and does not depend on them.</p><ul class=\"errors\">");
        for e in errors {
            let _ = write!(
                h,
                "<li><code>{}</code>: {}</li>",
                esc(&e.file),
                esc(&e.message)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h2>Pages</h2><ul>");
    if links.timeline {
        h.push_str("<li><a href=\"timeline.html\">timeline</a>: every operation per process, with the faults</li>");
    }
    for (file, label) in links.violations {
        let _ = write!(
            h,
            "<li><a class=\"violation\" href=\"{}\">{}</a></li>",
            esc(file),
            esc(label)
        );
    }
    h.push_str("<li><a href=\"results.json\">results.json</a></li></ul>\n");
    if !links.elle.is_empty() {
        h.push_str("<h2>Elle cycles</h2><div class=\"elle\">");
        for f in links.elle {
            let _ = write!(
                h,
                "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{0}\"></a><figcaption>{0}</figcaption></figure>",
                esc(f)
            );
        }
        h.push_str("</div>\n");
    }
    if !links.plots.is_empty() {
        h.push_str("<h2>Plots</h2>");
        for f in links.plots {
            let _ = write!(
                h,
                "<div><a href=\"{0}\"><img class=\"plot\" src=\"{0}\" alt=\"{0}\"></a></div>",
                esc(f)
            );
        }
    }
    let text = serde_json::to_string_pretty(results).unwrap_or_default();
    let _ = write!(
        h,
        "<h2>results.json</h2><pre class=\"results\">{}</pre>",
        esc(&clip(&text, RESULTS_CHARS))
    );
    h.push_str("<h2>Files</h2><ul class=\"files\">");
    let mut names: Vec<(String, bool)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().to_string(),
                        e.file_type().map(|t| t.is_dir()).unwrap_or(false),
                    )
                })
                .filter(|(n, _)| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for (n, is_dir) in names.iter().take(MAX_FILES) {
        let slash = if *is_dir { "/" } else { "" };
        let _ = write!(h, "<li><a href=\"{0}{1}\">{0}{1}</a></li>", esc(n), slash);
    }
    h.push_str("</ul></body></html>\n");
    Ok(h)
}

const CSS: &str = r#"
body{font:14px sans-serif;margin:16px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:22px}
.verdict{padding:2px 10px;border-radius:4px}
table.facts th{text-align:left;padding-right:12px;font-weight:normal;color:#555}
img.plot{max-width:100%;border:1px solid #ddd;margin:4px 0}
.elle figure{display:inline-block;margin:6px} .elle img{max-width:420px;border:1px solid #ddd}
pre.results{background:#f7f7f7;padding:8px;max-height:420px;overflow:auto}
ul.errors li{color:#a01010}
"#;
