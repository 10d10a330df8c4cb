//! `faultline-agent clock-launch` and the clock fault plans, on this machine:
//! programs under the launcher see the offset, the machine's clock does not
//! move. No root needed; Linux x86_64 only. Nothing here sets any clock: the
//! offset lives in a file in a temp dir that only the launcher reads.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use faultline_nemesis::clock::{ClockAction, ClockFault};
use faultline_nemesis::fault::{Fault, NemesisContext, NodeInfo};
use faultline_nemesis::plan::{run_plan, DbOp, ExecError, ExecOutput, Executor, OnFailure};
use faultline_nemesis::process::Target;
use rand::SeedableRng;

const BIN: &str = env!("CARGO_BIN_EXE_faultline-agent");

fn host_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn launched(offset_file: &Path, argv: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("clock-launch")
        .arg("--offset-file")
        .arg(offset_file)
        .arg("--")
        .args(argv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs plan steps on this machine (the plans here only write a file in a
/// temp dir).
struct Here;

impl Executor for Here {
    fn exec(&self, _node: &str, argv: &[String]) -> Result<ExecOutput, ExecError> {
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .map_err(|e| ExecError::Unreachable(e.to_string()))?;
        Ok(ExecOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        })
    }
    fn db(&self, _node: &str, op: DbOp) -> Result<(), ExecError> {
        Err(ExecError::Invalid(format!("no DB here ({op})")))
    }
}

fn apply(action: ClockAction, file: &Path) {
    let ctx = NemesisContext {
        nodes: vec![NodeInfo::new("local", "127.0.0.1")],
        ..NemesisContext::default()
    };
    let f = ClockFault {
        action,
        target: Target::All,
        offset_file: file.to_str().unwrap().to_string(),
    };
    let s = f
        .start(&ctx, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
        .unwrap();
    run_plan("clock", &s.plan, &Here, OnFailure::StopNode).unwrap();
}

#[test]
fn date_under_the_launcher_sees_the_offset_and_the_host_clock_does_not_move() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sub/offset");
    // No file: real time.
    let t = launched(&file, &["date", "+%s"])
        .trim()
        .parse::<i64>()
        .unwrap();
    assert!((t - host_now()).abs() <= 2, "{t}");
    // A bump of +1 h through the nemesis plan.
    apply(
        ClockAction::Bump {
            delta_ms: Some(3_600_000),
        },
        &file,
    );
    let before = host_now();
    let t = launched(&file, &["date", "+%s"])
        .trim()
        .parse::<i64>()
        .unwrap();
    let after = host_now();
    assert!(
        (t - 3600 - before).abs() <= 2,
        "shifted by an hour: {t} vs {before}"
    );
    assert!((after - before).abs() <= 2, "the host clock did not move");
    let plain = Command::new("date").arg("+%s").output().unwrap();
    let plain: i64 = String::from_utf8_lossy(&plain.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!((plain - host_now()).abs() <= 2);
    // Bumps add up; a step back works.
    for _ in 0..2 {
        apply(
            ClockAction::Bump {
                delta_ms: Some(-3_600_000),
            },
            &file,
        );
    }
    let t = launched(&file, &["date", "+%s"])
        .trim()
        .parse::<i64>()
        .unwrap();
    assert!((t + 3600 - host_now()).abs() <= 2, "{t}");
    // Reset removes the file.
    apply(ClockAction::Reset, &file);
    assert!(!file.exists());
    let t = launched(&file, &["date", "+%s"])
        .trim()
        .parse::<i64>()
        .unwrap();
    assert!((t - host_now()).abs() <= 2);
    // The launcher keeps the exit status and reports a missing program.
    let st = Command::new(BIN)
        .args(["clock-launch", "--offset-file"])
        .arg(&file)
        .args(["--", "sh", "-c", "exit 3"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(3));
    let st = Command::new(BIN)
        .args(["clock-launch", "--offset-file"])
        .arg(&file)
        .args(["--", "/nonexistent/program"])
        .output()
        .unwrap();
    assert!(!st.status.success());
    assert!(String::from_utf8_lossy(&st.stderr).contains("exec"));
}

#[test]
fn a_running_program_follows_offset_changes_through_time_and_gettimeofday() {
    if !Path::new("/usr/bin/perl").exists() {
        eprintln!("SKIPPED: no perl");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("offset");
    // perl's time() is time(2) and Time::HiRes::time is gettimeofday(2).
    let mut child = Command::new(BIN)
        .arg("clock-launch")
        .arg("--offset-file")
        .arg(&file)
        .args([
            "--",
            "perl",
            "-e",
            "use Time::HiRes; $|=1; for (1..2) { printf \"%d %d\\n\", time, \
             int(Time::HiRes::time()); <STDIN>; }",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let first: Vec<i64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(first.iter().all(|t| (t - host_now()).abs() <= 2), "{line}");
    apply(
        ClockAction::Bump {
            delta_ms: Some(-600_000),
        },
        &file,
    );
    writeln!(stdin).unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    let second: Vec<i64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(
        second.iter().all(|t| (t + 600 - host_now()).abs() <= 2),
        "ten minutes back: {line}"
    );
    writeln!(stdin).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// Hour prefix (`YYYY-MM-DDTHH`, UTC) of a Unix time, from the host's `date`.
fn utc_hour(t: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Go reads the clock through the vDSO, which libfaketime cannot reach: etcd
/// under the launcher logs shifted timestamps.
#[test]
fn etcd_a_go_program_logs_shifted_time() {
    let _serial = crate::common::serial();
    if !Path::new("/usr/bin/etcd").exists() {
        eprintln!("SKIPPED: no /usr/bin/etcd");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("offset");
    std::fs::write(&file, format!("{}\n", 2 * 3600 * 1_000_000_000i64)).unwrap();
    // Loopback only; ports from the process id so parallel runs do not clash.
    let base = 30000 + (std::process::id() % 10000) * 2;
    let client = format!("http://127.0.0.1:{base}");
    let peer = format!("http://127.0.0.1:{}", base + 1);
    let log = tmp.path().join("etcd.log");
    let mut child = Command::new(BIN)
        .arg("clock-launch")
        .arg("--offset-file")
        .arg(&file)
        .args(["--", "/usr/bin/etcd", "--logger=zap", "--data-dir"])
        .arg(tmp.path().join("data"))
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .arg(format!("--initial-cluster=default={peer}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("serving client traffic") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The PID we spawned is etcd itself (the launcher exec'd it): stop it.
    child.kill().unwrap();
    child.wait().unwrap();
    let now = host_now();
    let shifted = [utc_hour(now + 7200 - 20), utc_hour(now + 7200)];
    let stamps: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split("\"ts\":\"").nth(1))
        .collect();
    assert!(stamps.len() >= 5, "etcd logged: {text}");
    for ts in stamps {
        assert!(
            shifted.iter().any(|h| ts.starts_with(h.as_str())),
            "{ts} is not 2 h ahead ({shifted:?})"
        );
    }
    assert!(text.contains("serving client traffic"), "{text}");
}
