//! Reports and `faultline serve` as users meet them: a store made with `faultline sim`
//! and `faultline check --report`, served on loopback, read over HTTP and, when Debian's
//! `chromium` is installed, in a headless browser (screenshots kept in the test output
//! folder).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the faultline binary runs")
}

/// Inserts nemesis events (a partition, a kill) into a simulated history, re-indexed.
fn with_nemesis(src: &Path, dst: &Path) {
    let text = std::fs::read_to_string(src).unwrap();
    let ops: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tmax = ops.last().and_then(|o| o["time"].as_i64()).unwrap_or(1);
    let events = [
        (
            0.2,
            "start-partition",
            serde_json::json!([["n1"], ["n2", "n3"]]),
        ),
        (0.5, "stop-partition", serde_json::Value::Null),
        (0.6, "kill", serde_json::json!(["n2"])),
        (0.8, "start", serde_json::json!(["n2"])),
    ];
    let mut out = Vec::new();
    let mut k = 0;
    for o in ops {
        let t = o["time"].as_i64().unwrap_or(0);
        while k < events.len() && t as f64 >= events[k].0 * tmax as f64 {
            let at = (events[k].0 * tmax as f64) as i64;
            for (kind, dt) in [("invoke", 0), ("info", 1000)] {
                out.push(serde_json::json!({"type": kind, "process": "nemesis",
                    "f": events[k].1, "value": events[k].2, "time": at + dt}));
            }
            k += 1;
        }
        out.push(o);
    }
    let mut f = std::fs::File::create(dst).unwrap();
    for (i, mut o) in out.into_iter().enumerate() {
        o["index"] = serde_json::json!(i);
        writeln!(f, "{o}").unwrap();
    }
}

const VALID_STAMP: &str = "20261121T120000.000Z";
const INVALID_STAMP: &str = "20261121T130000.000Z";

/// store/cas-valid/<stamp> and store/cas-invalid/<stamp>, with reports, plus links.
fn make_store(root: &Path, ops: usize) -> PathBuf {
    let store = root.join("store");
    for (name, stamp, stale) in [
        ("cas-valid", VALID_STAMP, "0"),
        ("cas-invalid", INVALID_STAMP, "0.02"),
    ] {
        let dir = store.join(name).join(stamp);
        std::fs::create_dir_all(&dir).unwrap();
        let raw = root.join(format!("{name}.jsonl"));
        let out = run(&[
            "sim",
            "--model",
            "cas-register",
            "--ops",
            &ops.to_string(),
            "--clients",
            "10",
            "--info-rate",
            "0.01",
            "--stale-read-prob",
            stale,
            "-o",
            raw.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{out:?}");
        with_nemesis(&raw, &dir.join("history.jsonl"));
        let d = dir.to_str().unwrap();
        let out = run(&["check", d, "--report", d]);
        let want = if stale == "0" { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(want), "{out:?}");
        for f in [
            "index.html",
            "timeline.html",
            "latency-raw.svg",
            "latency-quantiles.svg",
            "throughput.svg",
            "results.json",
        ] {
            assert!(dir.join(f).is_file(), "{name}: {f} missing");
        }
        assert_eq!(
            dir.join("linearizability.html").is_file(),
            stale != "0",
            "{name}"
        );
    }
    std::os::unix::fs::symlink(
        Path::new("cas-invalid").join(INVALID_STAMP),
        store.join("latest"),
    )
    .unwrap();
    store
}

/// A `faultline serve` child on an ephemeral loopback port, stopped on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(store: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--store",
                store.to_str().unwrap(),
                "--bind",
                "127.0.0.1:0",
            ])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut addr = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.split("http://").nth(1) {
                addr = rest.split('/').next().unwrap().to_string();
                break;
            }
        }
        assert!(!addr.is_empty(), "serve did not say where it listens");
        // Keep reading its log so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    /// A raw HTTP/1.1 GET: the path goes out exactly as written (no client-side
    /// normalisation of `..`).
    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        let head_end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP response");
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let mut body = buf[head_end + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        let Some(chunk) = b.get(nl + 2..nl + 2 + size) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.extend_from_slice(chunk);
        b = b.get(nl + 2 + size + 2..).unwrap_or_default();
    }
    out
}

#[test]
fn serve_lists_runs_serves_pages_and_refuses_escapes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = make_store(tmp.path(), 600);
    // A secret outside the store, and links to it from inside.
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "TOP SECRET").unwrap();
    let run = store.join("cas-valid").join(VALID_STAMP);
    std::os::unix::fs::symlink(&outside, run.join("out-dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), run.join("out-file")).unwrap();
    std::os::unix::fs::symlink("../../../outside", store.join("cas-valid").join("rel-out"))
        .unwrap();

    let srv = Server::start(&store);
    let (status, body) = srv.get("/");
    let index = String::from_utf8_lossy(&body);
    assert_eq!(status, 200);
    assert!(index.contains("cas-valid") && index.contains("cas-invalid"));
    // Newest first, verdicts in Jepsen's colours.
    assert!(index.find("cas-invalid").unwrap() < index.find("cas-valid").unwrap());
    assert!(index.contains("#6DB6FE") && index.contains("#FEB5DA"));
    let (_, body) = srv.get("/?q=invalid");
    let filtered = String::from_utf8_lossy(&body);
    assert!(filtered.contains("cas-invalid") && !filtered.contains(">cas-valid<"));
    let (_, body) = srv.get("/?valid=true");
    assert!(!String::from_utf8_lossy(&body).contains(">cas-invalid<"));

    let (status, body) = srv.get(&format!("/run/cas-invalid/{INVALID_STAMP}"));
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200);
    assert!(page.contains("latency-raw.svg") && page.contains("linearizability.html"));
    let (status, body) = srv.get(&format!(
        "/files/cas-invalid/{INVALID_STAMP}/linearizability.html"
    ));
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("failing-op"));
    // A link inside the store is followed.
    assert_eq!(srv.get("/files/latest/results.json").0, 200);

    for path in [
        "/files/../outside/secret.txt",
        "/files/cas-valid/../../outside/secret.txt",
        "/files/%2e%2e/outside/secret.txt",
        "/files/%2E%2E/%2e%2e/etc/passwd",
        "/files/cas-valid/..%2f..%2foutside/secret.txt",
        "/files/./cas-valid",
        "/run/..",
        "/run/%2e%2e",
        "/archive/%2e%2e.tar.gz",
        "/archive/cas-valid/rel-out.tar.gz",
        &format!("/files/cas-valid/{VALID_STAMP}/out-file"),
        &format!("/files/cas-valid/{VALID_STAMP}/out-dir/secret.txt"),
        &format!("/files/cas-valid/{VALID_STAMP}/out-dir/"),
        "/files/cas-valid/rel-out/secret.txt",
        "/files/..%5c..%5coutside%5csecret.txt",
    ] {
        let (status, body) = srv.get(path);
        assert!(
            status == 403 || status == 404 || status == 400,
            "{path}: {status}"
        );
        assert!(
            !String::from_utf8_lossy(&body).contains("TOP SECRET"),
            "{path} leaked"
        );
    }

    // The archive is a gzip'd tar of the run, links stored as links.
    let (status, body) = srv.get(&format!("/archive/cas-valid/{VALID_STAMP}.tar.gz"));
    assert_eq!(status, 200);
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&body[..]));
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut content = String::new();
        let _ = e.read_to_string(&mut content);
        assert!(!content.contains("TOP SECRET"));
        names.push(e.path().unwrap().to_string_lossy().to_string());
    }
    assert!(
        names.iter().any(|n| n.ends_with("history.jsonl")),
        "{names:?}"
    );
}

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        if let Some(paths) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&paths) {
                let p = dir.join(name);
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    None
}

/// Where screenshots go: `$FAULTLINE_TEST_OUTPUT`, else cargo's target/tmp.
fn output_dir() -> PathBuf {
    let base = std::env::var_os("FAULTLINE_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let d = base.join("browser");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs headless chromium on a URL; `mode` is `--dump-dom` or `--screenshot=FILE`.
/// Returns standard output (the DOM) and standard error (the console log). A browser
/// that hangs is killed after a minute, failing the test rather than stalling CI.
fn browse(chrome: &Path, mode: &str, url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
            mode,
            url,
        ])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default(),
    )
}

fn no_js_errors(url: &str, console: &str) {
    for line in console.lines() {
        assert!(
            !(line.contains("Uncaught")
                || line.contains("SyntaxError")
                || line.contains("Content Security Policy")),
            "{url}: JavaScript error: {line}"
        );
    }
}

#[test]
fn browser_shows_runs_plots_and_the_violation() {
    let Some(chrome) = chromium() else {
        println!("skipped: chromium is not installed (Debian: apt-get install chromium)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = make_store(tmp.path(), 800);
    let srv = Server::start(&store);
    let base = format!("http://{}", srv.addr);
    let shots = output_dir();

    let url = format!("{base}/");
    let (dom, console) = browse(&chrome, "--dump-dom", &url);
    no_js_errors(&url, &console);
    assert!(
        dom.contains("cas-valid") && dom.contains("cas-invalid"),
        "{dom}"
    );
    assert!(dom.contains("background:#6DB6FE") && dom.contains("background:#FEB5DA"));
    browse(
        &chrome,
        &format!("--screenshot={}", shots.join("index.png").display()),
        &url,
    );

    let url = format!("{base}/run/cas-invalid/{INVALID_STAMP}");
    let (dom, console) = browse(&chrome, "--dump-dom", &url);
    no_js_errors(&url, &console);
    assert!(dom.contains("latency-raw.svg") && dom.contains("throughput.svg"));
    browse(
        &chrome,
        &format!("--screenshot={}", shots.join("run-invalid.png").display()),
        &url,
    );

    // The violation page names the operation the checker could not place.
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            store
                .join("cas-invalid")
                .join(INVALID_STAMP)
                .join("results.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let failing = results["workload"]["failures"][0]["op"]["model_op"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{base}/files/cas-invalid/{INVALID_STAMP}/linearizability.html");
    let (dom, console) = browse(&chrome, "--dump-dom", &url);
    no_js_errors(&url, &console);
    assert!(dom.contains("data-ready=\"1\""), "script did not finish");
    assert!(dom.contains("class=\"op failing\""));
    assert!(dom.contains(&format!("✗ {failing}")), "{failing} not drawn");
    browse(
        &chrome,
        &format!("--screenshot={}", shots.join("violation.png").display()),
        &url,
    );

    let url = format!("{base}/files/cas-invalid/{INVALID_STAMP}/timeline.html");
    let (dom, console) = browse(&chrome, "--dump-dom", &url);
    no_js_errors(&url, &console);
    assert!(
        dom.contains("data-ready=\"1\""),
        "timeline script did not finish"
    );
    browse(
        &chrome,
        &format!("--screenshot={}", shots.join("timeline.png").display()),
        &url,
    );
    println!("screenshots in {}", shots.display());
}

/// A timeline and a violation page of 100,000 operations open in a few seconds.
#[test]
fn big_history_pages_open_quickly() {
    let Some(chrome) = chromium() else {
        println!("skipped: chromium is not installed (Debian: apt-get install chromium)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    std::fs::create_dir_all(&dir).unwrap();
    let raw = tmp.path().join("big.jsonl");
    let out = run(&[
        "sim",
        "--model",
        "cas-register",
        "--ops",
        "100000",
        "--clients",
        "20",
        // Indeterminate operations make the checker's search long on a history this
        // size; this test is about the pages.
        "--stale-read-prob",
        "0.001",
        "-o",
        raw.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    with_nemesis(&raw, &dir.join("history.jsonl"));
    let d = dir.to_str().unwrap();
    let t = Instant::now();
    let out = run(&["check", d, "--report", d]);
    println!("check + reports of 100,000 operations: {:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let url = format!("file://{}/timeline.html", dir.display());
    let t = Instant::now();
    let (dom, console) = browse(&chrome, "--dump-dom", &url);
    let wall = t.elapsed();
    no_js_errors(&url, &console);
    let ms: u64 = dom
        .split("data-ms=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .expect("the timeline says when it was ready");
    println!("timeline of 100,000 operations ready after {ms} ms (browser run {wall:?})");
    assert!(ms < 5000, "timeline took {ms} ms");
    browse(
        &chrome,
        &format!(
            "--screenshot={}",
            output_dir().join("timeline-100k.png").display()
        ),
        &url,
    );
    let url = format!("file://{}/linearizability.html", dir.display());
    let t = Instant::now();
    let (dom, console) = browse(&chrome, "--dump-dom", &url);
    println!(
        "violation page of 100,000 operations: browser run {:?}",
        t.elapsed()
    );
    no_js_errors(&url, &console);
    assert!(dom.contains("data-ready=\"1\""));
}
