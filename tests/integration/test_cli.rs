//! `faultline test` and `test-all` argument handling: bad arguments exit 254 with a
//! message, before any node is contacted (no root or cluster needed).

use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("the faultline binary runs")
}

#[test]
fn bad_arguments_exit_254_with_a_message() {
    // 192.0.2.1 (TEST-NET-1) is never contacted: every case fails validation first.
    let cases: &[(&[&str], &str)] = &[
        (
            &["test", "--workload", "queue", "--nodes", "192.0.2.1"],
            "unknown workload",
        ),
        (
            &["test", "--concurrency", "0", "--nodes", "192.0.2.1"],
            "--concurrency",
        ),
        (
            &["test", "--concurrency", "xn", "--nodes", "192.0.2.1"],
            "--concurrency",
        ),
        (
            &["test", "--time-limit=-3", "--nodes", "192.0.2.1"],
            "--time-limit",
        ),
        (&["test", "--rate", "NaN", "--nodes", "192.0.2.1"], "--rate"),
        (
            &["test", "--test-count", "0", "--nodes", "192.0.2.1"],
            "--test-count",
        ),
        (
            &["test", "--op-timeout", "0", "--nodes", "192.0.2.1"],
            "--op-timeout",
        ),
        // No nodes: validated before any throwaway cluster is made.
        (&["test", "--concurrency", "0"], "--concurrency"),
        (&["test", "--local-nodes", "0"], "--local-nodes"),
        (
            &[
                "test",
                "--workload",
                "append",
                "--isolation",
                "serializable",
                "--nodes",
                "192.0.2.1",
            ],
            "--isolation",
        ),
        (
            &[
                "test",
                "--db",
                "postgres",
                "--isolation",
                "snapshot",
                "--nodes",
                "192.0.2.1",
            ],
            "snapshot",
        ),
        (
            &["test", "--db", "postgres", "--nodes", "192.0.2.1"],
            "only the append workload",
        ),
        (
            &[
                "test",
                "--db",
                "postgres",
                "--workload",
                "append",
                "--nemesis",
                "kill,clock",
                "--nodes",
                "192.0.2.1",
            ],
            "clock launcher",
        ),
        (
            &[
                "test",
                "--workload",
                "append",
                "--consistency-model",
                "nonsense",
                "--nodes",
                "192.0.2.1",
            ],
            "--consistency-model",
        ),
        (&["test", "--db", "mongo", "--nodes", "192.0.2.1"], "mongo"),
        (
            &[
                "test-all",
                "--workloads",
                "register,nope",
                "--nodes",
                "192.0.2.1",
            ],
            "unknown workload",
        ),
    ];
    // Without root there is no throwaway cluster: the error says what to pass.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let no_nodes: &[(&[&str], &str)] = &[(&["test"], "no nodes given")];
    let cases = cases.iter().chain(if root { &[][..] } else { no_nodes });
    for (args, message) in cases {
        let out = faultline(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let help = faultline(&["test", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for opt in [
        "--serializable-reads",
        "--leave-db-running",
        "--test-count",
        "--cluster",
        "--isolation",
        "--consistency-model",
    ] {
        assert!(text.contains(opt), "{opt} missing from help:\n{text}");
    }
}
