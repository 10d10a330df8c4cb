//! `faultline serve`: a small web app over a store folder. It lists runs newest first
//! with their verdicts in colour, shows a run's results, plots and pages, serves its
//! files, and streams a run as a `.tar.gz`.
//!
//! Every path a request names is resolved against the store: `.` and `..` components
//! are refused (also when percent-encoded: the router decodes before we look), and the
//! path is canonicalised (symlinks resolved) and must still lie inside the store, so a
//! link pointing out of it is refused too.

use crate::data::esc;
use crate::{verdict_color, verdict_text};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use faultline_checkers::Validity;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs listed at most on the index page.
const MAX_RUNS: usize = 2000;
/// Entries of a folder listed at most.
const MAX_ENTRIES: usize = 2000;
/// Characters of results.json shown on a run page.
const RESULTS_CHARS: usize = 100_000;
/// results.json files larger than this are not parsed for the index (only `valid` is
/// needed, and a huge file would stall the listing).
const MAX_RESULTS_BYTES: u64 = 64 << 20;

/// Characters escaped in a URL path component.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("store folder {0}: {1}")]
    Store(PathBuf, io::Error),
    #[error("binding {0}: {1}")]
    Bind(String, io::Error),
    #[error("server: {0}")]
    Server(io::Error),
}

struct AppState {
    /// Canonical: every resolved path must start with it.
    root: PathBuf,
}

/// Why a path was not served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// `..`, `.`, a backslash or NUL: never served, whatever is on disk.
    Forbidden,
    /// Resolves (through symlinks) outside the store.
    Outside,
    NotFound,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Forbidden => (StatusCode::FORBIDDEN, "forbidden path\n").into_response(),
            Refused::Outside => {
                (StatusCode::FORBIDDEN, "path leads outside the store\n").into_response()
            }
            Refused::NotFound => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        }
    }
}

/// Resolves a `/`-separated path (already percent-decoded) relative to the
/// (canonical) store root.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, Refused> {
    if rel.contains('\0') || rel.contains('\\') {
        return Err(Refused::Forbidden);
    }
    let mut p = root.to_path_buf();
    for part in rel.split('/') {
        match part {
            "" => continue,
            "." | ".." => return Err(Refused::Forbidden),
            _ => p.push(part),
        }
    }
    let canon = p.canonicalize().map_err(|_| Refused::NotFound)?;
    if !canon.starts_with(root) {
        return Err(Refused::Outside);
    }
    Ok(canon)
}

/// The app for a store folder.
pub fn router(store: &Path) -> Result<Router, ServeError> {
    let root = store
        .canonicalize()
        .map_err(|e| ServeError::Store(store.to_path_buf(), e))?;
    let state = Arc::new(AppState { root });
    Ok(Router::new()
        .route("/", get(index))
        .route("/run/{*path}", get(run_page))
        .route("/files/", get(files_root))
        .route("/files/{*path}", get(files))
        .route("/archive/{*path}", get(archive))
        .with_state(state))
}

/// Serves until `shutdown` completes.
/// Serves `store` on `addr` until Ctrl-C, on a runtime of its own (two worker threads):
/// the blocking entry point for the command line. `on_listening` is told the bound
/// address (the port, when `addr` asked for any).
pub fn serve_until_ctrl_c(
    store: &Path,
    addr: std::net::SocketAddr,
    on_listening: impl FnOnce(std::net::SocketAddr),
) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Server)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ServeError::Bind(addr.to_string(), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| ServeError::Bind(addr.to_string(), e))?;
        on_listening(local);
        serve(store, listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    })
}

pub async fn serve(
    store: &Path,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = router(store)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Server)
}

fn enc_path(rel: &str) -> String {
    rel.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| utf8_percent_encode(s, COMPONENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

struct Run {
    name: String,
    stamp: String,
    /// `None`: no results yet (running, or cut short).
    valid: Option<Validity>,
}

/// The run's verdict, from `results.json`.
fn read_valid(dir: &Path) -> Option<Validity> {
    let f = dir.join(faultline_store::RESULTS_FILE);
    match std::fs::metadata(&f) {
        Ok(m) if m.len() <= MAX_RESULTS_BYTES => {}
        Ok(_) => return Some(Validity::Unknown),
        Err(_) => return None,
    }
    faultline_store::read_verdict(dir).ok()
}

/// `store/<name>/<stamp>/` folders (real folders: the `latest` links are skipped).
fn list_runs(root: &Path) -> Vec<Run> {
    let mut runs = Vec::new();
    let Ok(tests) = std::fs::read_dir(root) else {
        return runs;
    };
    for t in tests.filter_map(Result::ok) {
        if !t.file_type().map(|ft| ft.is_dir()).unwrap_or(false) {
            continue;
        }
        let Ok(stamps) = std::fs::read_dir(t.path()) else {
            continue;
        };
        for s in stamps.filter_map(Result::ok) {
            if !s.file_type().map(|ft| ft.is_dir()).unwrap_or(false) {
                continue;
            }
            let dir = s.path();
            let is_run = ["results.json", "history.jsonl", "history.edn", "test.json"]
                .iter()
                .any(|f| dir.join(f).is_file());
            if !is_run {
                continue;
            }
            runs.push(Run {
                name: t.file_name().to_string_lossy().to_string(),
                stamp: s.file_name().to_string_lossy().to_string(),
                valid: None,
            });
            if runs.len() >= 20 * MAX_RUNS {
                break;
            }
        }
    }
    runs.sort_by(|a, b| b.stamp.cmp(&a.stamp).then(a.name.cmp(&b.name)));
    runs
}

/// `20240101T120000.123Z` as `2024-01-01 12:00:00.123Z`; other names as they are.
fn readable_stamp(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 15 && b[8] == b'T' && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        format!(
            "{}-{}-{} {}:{}:{}{}",
            &s[0..4],
            &s[4..6],
            &s[6..8],
            &s[9..11],
            &s[11..13],
            &s[13..15],
            &s[15..]
        )
    } else {
        s.to_string()
    }
}

#[derive(serde::Deserialize, Default)]
struct Filter {
    q: Option<String>,
    valid: Option<String>,
}

const PAGE_CSS: &str = r#"
body{font:14px sans-serif;margin:16px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:20px}
table.runs{border-collapse:collapse} table.runs td,table.runs th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
.verdict{padding:2px 10px;border-radius:4px;display:inline-block;min-width:70px;text-align:center}
img.plot{max-width:100%;border:1px solid #ddd;margin:4px 0}
pre.results{background:#f7f7f7;padding:8px;max-height:420px;overflow:auto}
form{margin:8px 0}
"#;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{PAGE_CSS}</style></head><body>\n{body}</body></html>\n",
        esc(title)
    ))
}

async fn index(State(st): State<Arc<AppState>>, Query(f): Query<Filter>) -> Response {
    let root = st.root.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut runs = list_runs(&root);
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let q = q.to_lowercase();
            runs.retain(|r| r.name.to_lowercase().contains(&q) || r.stamp.contains(&q));
        }
        let mut shown = Vec::new();
        for mut r in runs {
            if shown.len() >= MAX_RUNS {
                break;
            }
            r.valid = read_valid(&root.join(&r.name).join(&r.stamp));
            let want = f.valid.as_deref().unwrap_or("");
            let v = match r.valid {
                Some(Validity::Valid) => "true",
                Some(Validity::Invalid) => "false",
                Some(Validity::Unknown) => "unknown",
                None => "incomplete",
            };
            if want.is_empty() || want == v {
                shown.push(r);
            }
        }
        (shown, f)
    })
    .await;
    let Ok((runs, f)) = result else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "listing failed\n").into_response();
    };
    let mut b = String::new();
    b.push_str("<h1>faultline runs</h1>\n<form method=\"get\" action=\"/\">");
    let _ = write!(
        b,
        "<input name=\"q\" id=\"q\" placeholder=\"filter by name\" value=\"{}\"> <select name=\"valid\">",
        esc(f.q.as_deref().unwrap_or(""))
    );
    for (v, label) in [
        ("", "any verdict"),
        ("true", "valid"),
        ("false", "invalid"),
        ("unknown", "unknown"),
        ("incomplete", "incomplete"),
    ] {
        let sel = if f.valid.as_deref().unwrap_or("") == v {
            " selected"
        } else {
            ""
        };
        let _ = write!(b, "<option value=\"{v}\"{sel}>{label}</option>");
    }
    b.push_str("</select> <button>filter</button></form>\n<table class=\"runs\" id=\"runs\"><tr><th>name</th><th>time</th><th>verdict</th><th></th></tr>\n");
    for r in &runs {
        let rel = format!("{}/{}", enc_path(&r.name), enc_path(&r.stamp));
        let _ = write!(
            b,
            "<tr class=\"run\" data-name=\"{}\"><td><a href=\"/run/{rel}\">{}</a></td><td>{}</td><td><span class=\"verdict\" style=\"background:{}\">{}</span></td><td><a href=\"/files/{rel}/\">files</a> · <a href=\"/archive/{rel}.tar.gz\">tar.gz</a></td></tr>",
            esc(&r.name),
            esc(&r.name),
            esc(&readable_stamp(&r.stamp)),
            verdict_color(r.valid),
            verdict_text(r.valid),
        );
    }
    b.push_str("</table>\n");
    if runs.is_empty() {
        b.push_str("<p>No runs.</p>");
    }
    page("faultline runs", &b).into_response()
}

/// A run: its verdict, links to its pages, its plots, results and files.
async fn run_page(State(st): State<Arc<AppState>>, UrlPath(rel): UrlPath<String>) -> Response {
    let dir = match resolve(&st.root, &rel) {
        Ok(d) if d.is_dir() => d,
        Ok(_) => return Refused::NotFound.into_response(),
        Err(r) => return r.into_response(),
    };
    let Ok(files) = tokio::task::spawn_blocking(move || RunFiles::read(&dir)).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the run failed\n",
        )
            .into_response();
    };
    let title = rel.trim_matches('/').to_string();
    page(&title, &run_body(&title, &enc_path(&rel), &files)).into_response()
}

/// What a run page shows of the run's folder, read in a blocking task.
struct RunFiles {
    valid: Option<Validity>,
    /// The folder's files and folders, sorted, hidden ones left out.
    names: Vec<String>,
    /// `results.json`, pretty-printed when it parses.
    results: Option<String>,
    /// The SVGs in `elle/`, sorted.
    elle: Vec<String>,
}

impl RunFiles {
    fn read(dir: &Path) -> RunFiles {
        RunFiles {
            valid: read_valid(dir),
            names: sorted_names(dir, |n| !n.starts_with('.')),
            results: pretty_results(dir),
            elle: sorted_names(&dir.join("elle"), |n| n.ends_with(".svg")),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|m| m == name)
    }
}

/// The run's `results.json`, pretty-printed when it parses, as it is otherwise.
fn pretty_results(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("results.json"))
        .ok()
        .map(|t| {
            serde_json::from_str::<Value>(&t)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(t)
        })
}

/// The names in a folder that `keep` accepts (the first `MAX_ENTRIES`), sorted; none
/// when it cannot be read.
fn sorted_names(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| keep(n))
                .take(MAX_ENTRIES)
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The body of a run page: the title with the verdict, links, pictures, results and
/// files.
fn run_body(title: &str, rel_enc: &str, files: &RunFiles) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p><a href=\"/\">all runs</a></p><h1>{} <span class=\"verdict\" id=\"verdict\" style=\"background:{}\">{}</span></h1>",
        esc(title),
        verdict_color(files.valid),
        verdict_text(files.valid)
    );
    run_links(&mut b, rel_enc, files);
    run_pictures(&mut b, rel_enc, files);
    if let Some(t) = &files.results {
        let clipped: String = t.chars().take(RESULTS_CHARS).collect();
        let _ = write!(
            b,
            "<h2>results.json</h2><pre class=\"results\">{}</pre>",
            esc(&clipped)
        );
    }
    b.push_str("<h2>Files</h2><ul>");
    for n in &files.names {
        let _ = write!(
            b,
            "<li><a href=\"/files/{rel_enc}/{}\">{}</a></li>",
            enc_path(n),
            esc(n)
        );
    }
    b.push_str("</ul>");
    b
}

/// Links to the run's report pages, its violation pages, its archive and its files.
fn run_links(b: &mut String, rel_enc: &str, files: &RunFiles) {
    b.push_str("<ul>");
    if files.has("index.html") {
        let _ = write!(
            b,
            "<li><a href=\"/files/{rel_enc}/index.html\">report summary</a></li>"
        );
    }
    if files.has("timeline.html") {
        let _ = write!(
            b,
            "<li><a href=\"/files/{rel_enc}/timeline.html\">timeline</a></li>"
        );
    }
    for n in files
        .names
        .iter()
        .filter(|n| n.starts_with("linearizability") && n.ends_with(".html"))
    {
        let _ = write!(
            b,
            "<li><a class=\"violation\" href=\"/files/{rel_enc}/{}\">violation: {}</a></li>",
            enc_path(n),
            esc(n)
        );
    }
    let _ = write!(
        b,
        "<li><a href=\"/archive/{rel_enc}.tar.gz\">download this run (.tar.gz)</a></li><li><a href=\"/files/{rel_enc}/\">all files</a></li></ul>"
    );
}

/// The run's plots, then Elle's cycle graphs.
fn run_pictures(b: &mut String, rel_enc: &str, files: &RunFiles) {
    for svg in ["latency-raw.svg", "latency-quantiles.svg", "throughput.svg"] {
        if files.has(svg) {
            let _ = write!(
                b,
                "<div><a href=\"/files/{rel_enc}/{svg}\"><img class=\"plot\" src=\"/files/{rel_enc}/{svg}\" alt=\"{svg}\"></a></div>"
            );
        }
    }
    if !files.elle.is_empty() {
        b.push_str("<h2>Elle cycles</h2>");
        for f in &files.elle {
            let _ = write!(
                b,
                "<a href=\"/files/{rel_enc}/elle/{0}\"><img src=\"/files/{rel_enc}/elle/{0}\" alt=\"{1}\" style=\"max-width:420px\"></a> ",
                enc_path(f),
                esc(f)
            );
        }
    }
}

async fn files_root(State(st): State<Arc<AppState>>) -> Response {
    listing(&st.root, "").await
}

async fn files(State(st): State<Arc<AppState>>, UrlPath(rel): UrlPath<String>) -> Response {
    let p = match resolve(&st.root, &rel) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    if p.is_dir() {
        return listing(&p, &rel).await;
    }
    let ctype = content_type(&p);
    let body = stream_blocking(move |w| {
        let mut f = std::fs::File::open(&p)?;
        let mut w = io::BufWriter::with_capacity(64 << 10, w);
        io::copy(&mut f, &mut w)?;
        w.flush()
    });
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    resp.headers_mut().insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    // Report pages are self-contained: their inline scripts and styles, images from
    // this server. A page (or a node's log saved as .html) can fetch nothing, so it
    // cannot send the store anywhere.
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'none'; form-action 'none'",
        ),
    );
    resp
}

async fn listing(dir: &Path, rel: &str) -> Response {
    let d = dir.to_path_buf();
    let entries = tokio::task::spawn_blocking(move || {
        let mut v: Vec<(String, bool)> = std::fs::read_dir(&d)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .take(MAX_ENTRIES)
                    .map(|e| {
                        let is_dir = e.path().is_dir();
                        (e.file_name().to_string_lossy().to_string(), is_dir)
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    })
    .await
    .unwrap_or_default();
    let base = enc_path(rel);
    let prefix = if base.is_empty() {
        "/files/".to_string()
    } else {
        format!("/files/{base}/")
    };
    let mut b = format!(
        "<p><a href=\"/\">all runs</a></p><h1>/{}</h1><ul>",
        esc(rel.trim_matches('/'))
    );
    for (n, is_dir) in &entries {
        let slash = if *is_dir { "/" } else { "" };
        let _ = write!(
            b,
            "<li><a href=\"{prefix}{}{slash}\">{}{slash}</a></li>",
            enc_path(n),
            esc(n)
        );
    }
    b.push_str("</ul>");
    page(rel, &b).into_response()
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "css" => "text/css",
        "js" => "text/javascript",
        "gz" | "tgz" => "application/gzip",
        "zip" => "application/zip",
        "jsonl" | "edn" | "txt" | "log" | "dot" | "stdout" | "stderr" | "yaml" | "yml" => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

/// `/archive/<name>/<stamp>.tar.gz`: the run's folder, streamed as it is packed.
/// Symlinks are stored as links, never followed, so nothing outside the run is packed.
async fn archive(State(st): State<Arc<AppState>>, UrlPath(rel): UrlPath<String>) -> Response {
    let Some(rel) = rel.strip_suffix(".tar.gz") else {
        return Refused::NotFound.into_response();
    };
    let dir = match resolve(&st.root, rel) {
        Ok(d) if d.is_dir() => d,
        Ok(_) => return Refused::NotFound.into_response(),
        Err(r) => return r.into_response(),
    };
    let base: String = rel
        .trim_matches('/')
        .replace('/', "-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = if base.is_empty() {
        "store".into()
    } else {
        base
    };
    let prefix = base.clone();
    let body = stream_blocking(move |w| {
        let gz = flate2::write::GzEncoder::new(
            io::BufWriter::with_capacity(64 << 10, w),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        tar.follow_symlinks(false);
        tar.append_dir_all(&prefix, &dir)?;
        let gz = tar.into_inner()?;
        gz.finish()?.flush()
    });
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{base}.tar.gz\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// A writer whose chunks become the response body, written from a blocking thread:
/// files and archives are streamed, never held whole in memory. The channel is small,
/// so a slow client slows the writer rather than filling memory.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn stream_blocking(f: impl FnOnce(ChannelWriter) -> io::Result<()> + Send + 'static) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(8);
    let err_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = f(ChannelWriter(tx)) {
            tracing::warn!("streaming a response failed: {e}");
            // The client sees a broken body rather than a silently truncated file.
            let _ = err_tx.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_dots_and_links_out() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("store");
        std::fs::create_dir_all(root.join("t/1")).unwrap();
        std::fs::write(tmp.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), root.join("t/out")).unwrap();
        std::os::unix::fs::symlink("1", root.join("t/latest")).unwrap();
        let root = root.canonicalize().unwrap();
        assert!(resolve(&root, "t/1").is_ok());
        assert!(resolve(&root, "t/latest").is_ok());
        assert_eq!(resolve(&root, "").unwrap(), root);
        assert_eq!(resolve(&root, "t/../../secret"), Err(Refused::Forbidden));
        assert_eq!(resolve(&root, ".."), Err(Refused::Forbidden));
        assert_eq!(resolve(&root, "t/./1"), Err(Refused::Forbidden));
        assert_eq!(resolve(&root, "t\\..\\.."), Err(Refused::Forbidden));
        assert_eq!(resolve(&root, "t/out"), Err(Refused::Outside));
        assert_eq!(resolve(&root, "t/nope"), Err(Refused::NotFound));
    }

    #[test]
    fn stamps_read_as_dates() {
        assert_eq!(
            readable_stamp("20261121T130000.000Z"),
            "2026-11-21 13:00:00.000Z"
        );
        assert_eq!(
            readable_stamp("20261121T130000.000Z-1"),
            "2026-11-21 13:00:00.000Z-1"
        );
        assert_eq!(readable_stamp("manual"), "manual");
        assert_eq!(readable_stamp("2026112XT130000"), "2026112XT130000");
    }
}
