//! `--suite FILE`: a suite file (docs/suite-files.md) gives `faultline test` its
//! defaults; every option typed on the command line (or set through its environment
//! variable) overrides the file. The merged options then run as any other test.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use clap::parser::ValueSource;
use clap::ArgMatches;
use faultline::db::shell::ShellDb;
use faultline::suite::schema::{ClientSection, NemesisSection, NodesSection, RunSection};
use faultline::suite::Suite;
use faultline_nemesis::{FaultKind, FaultList};

use super::db::DbKind;
use super::test::TestOpts;
use super::UsageError;

/// The ids of the options the user gave (clap's field names: `time_limit`, `cluster`).
#[derive(Debug, Default, Clone)]
pub struct Given(BTreeSet<String>);

impl Given {
    /// The options given to subcommand `sub` (empty if `sub` did not run).
    pub fn of(matches: &ArgMatches, sub: &str) -> Given {
        let Some(m) = matches.subcommand_matches(sub) else {
            return Given::default();
        };
        Given(
            m.ids()
                .filter(|id| {
                    matches!(
                        m.value_source(id.as_str()),
                        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                    )
                })
                .map(|id| id.to_string())
                .collect(),
        )
    }

    pub fn has(&self, id: &str) -> bool {
        self.0.contains(id)
    }
}

/// Reads a suite file; its errors are bad input (exit 254).
pub fn load(path: &Path) -> anyhow::Result<Suite> {
    Suite::load(path).map_err(|e| UsageError(e.to_string()).into())
}

/// The `[db]` of the suite given with `--suite`, for `--db shell`.
pub fn shell_db(suite: Option<&Suite>) -> anyhow::Result<ShellDb> {
    let suite = suite.ok_or_else(|| UsageError("--db shell needs --suite FILE".into()))?;
    suite.shell_db().ok_or_else(|| {
        UsageError(format!(
            "--db shell: {} has no [db] section",
            suite.path.display()
        ))
        .into()
    })
}

/// Loads `o.suite` (if any) into `o.loaded_suite` and fills every option the user did
/// not give from it; `workload` is `test`'s --workload (test-all has its own list).
pub fn apply(o: &mut TestOpts, workload: Option<&mut String>, given: &Given) -> anyhow::Result<()> {
    let Some(path) = &o.suite else {
        return Ok(());
    };
    let suite = load(path)?;
    let f = &suite.file;
    let free = |id: &str| !given.has(id);
    if let Some(n) = &f.nodes {
        apply_nodes(o, n, &suite, given);
    }
    if f.db.is_some() && free("db") {
        o.db = DbKind::Shell;
    }
    if let (Some(w), Some(name)) = (workload, f.workload.as_ref().and_then(|w| w.name.clone())) {
        set(w, Some(name), free("workload"));
    }
    if let Some(n) = &f.nemesis {
        apply_nemesis(o, n, &suite, given)?;
    }
    if let Some(r) = &f.run {
        apply_run(o, r, given);
    }
    if let Some(c) = &f.client {
        apply_client(o, c, &suite, given)?;
    }
    o.loaded_suite = Some(Arc::new(suite));
    Ok(())
}

/// `[nodes]`: where the nodes are and how to reach them.
fn apply_nodes(o: &mut TestOpts, n: &NodesSection, suite: &Suite, given: &Given) {
    let free = |id: &str| !given.has(id);
    // Where the nodes are is one choice: any of these on the command line wins whole.
    if free("cluster") && free("nodes") && free("nodes_file") {
        if let Some(c) = &n.cluster {
            o.nodes.cluster = Some(suite.resolve(c));
        }
        if let Some(names) = &n.names {
            o.nodes.nodes = names.clone();
        }
        if let Some(file) = &n.file {
            o.nodes.nodes_file = Some(suite.resolve(file));
        }
    }
    let nodes = &mut o.nodes;
    set(&mut nodes.username, n.username.clone(), free("username"));
    set(&mut nodes.ssh_port, n.ssh_port, free("ssh_port"));
    if let (Some(k), true) = (&n.ssh_private_key, free("ssh_private_key")) {
        nodes.ssh_private_key = Some(suite.resolve(k));
    }
    set(
        &mut nodes.strict_host_key_checking,
        n.strict_host_key_checking,
        free("strict_host_key_checking"),
    );
    set(
        &mut nodes.connect_timeout,
        n.connect_timeout,
        free("connect_timeout"),
    );
    set(&mut nodes.local, n.local, free("local"));
}

/// `[nemesis]`: the faults, their interval and targets, parsed into the options' own
/// types (the file's loader has checked each value against its line already).
fn apply_nemesis(
    o: &mut TestOpts,
    n: &NemesisSection,
    suite: &Suite,
    given: &Given,
) -> anyhow::Result<()> {
    let free = |id: &str| !given.has(id);
    let bad = |key: &str, e: faultline_nemesis::NemesisError| {
        UsageError(format!("{}: [nemesis] {key}: {e}", suite.path.display()))
    };
    fn parse_all<T: std::str::FromStr<Err = faultline_nemesis::NemesisError>>(
        items: &Option<Vec<String>>,
    ) -> Result<Vec<T>, faultline_nemesis::NemesisError> {
        items.iter().flatten().map(|f| f.parse()).collect()
    }
    if n.faults.is_some() {
        let faults: FaultList = parse_all::<FaultKind>(&n.faults)
            .map_err(|e| bad("faults", e))?
            .into_iter()
            .collect();
        set(&mut o.nemesis, Some(faults), free("nemesis"));
    }
    if n.packet.is_some() {
        set(
            &mut o.packet,
            Some(parse_all(&n.packet).map_err(|e| bad("packet", e))?),
            free("packet"),
        );
    }
    set(
        &mut o.nemesis_interval,
        n.interval,
        free("nemesis_interval"),
    );
    if let Some(p) = &n.partition {
        set(
            &mut o.partition,
            Some(p.parse().map_err(|e| bad("partition", e))?),
            free("partition"),
        );
    }
    let targets = [
        ("kill_target", &n.kill_target, &mut o.kill_target),
        ("pause_target", &n.pause_target, &mut o.pause_target),
        ("clock_target", &n.clock_target, &mut o.clock_target),
        ("packet_target", &n.packet_target, &mut o.packet_target),
    ];
    for (key, given_value, option) in targets {
        if let Some(t) = given_value {
            set(option, Some(t.parse().map_err(|e| bad(key, e))?), free(key));
        }
    }
    Ok(())
}

/// `[run]`: time limit, concurrency, rate, timeouts, seed and count.
fn apply_run(o: &mut TestOpts, r: &RunSection, given: &Given) {
    let free = |id: &str| !given.has(id);
    set(&mut o.time_limit, r.time_limit, free("time_limit"));
    set(
        &mut o.concurrency,
        r.concurrency.clone(),
        free("concurrency"),
    );
    set(&mut o.rate, r.rate, free("rate"));
    set(&mut o.op_timeout, r.op_timeout, free("op_timeout"));
    set(&mut o.recovery_time, r.recovery_time, free("recovery_time"));
    if free("seed") && r.seed.is_some() {
        o.seed = r.seed;
    }
    set(&mut o.test_count, r.test_count, free("test_count"));
    set(
        &mut o.leave_db_running,
        r.leave_db_running,
        free("leave_db_running"),
    );
}

/// `[client]`: an external client program and its environment.
fn apply_client(
    o: &mut TestOpts,
    c: &ClientSection,
    suite: &Suite,
    given: &Given,
) -> anyhow::Result<()> {
    let free = |id: &str| !given.has(id);
    set(
        &mut o.serializable_reads,
        c.serializable_reads,
        free("serializable_reads"),
    );
    if let (Some(argv), true) = (suite.client_command(), free("client_command")) {
        let line = shlex::try_join(argv.iter().map(String::as_str))
            .map_err(|e| UsageError(format!("{}: [client] command: {e}", suite.path.display())))?;
        o.client_command = Some(line);
    }
    // The file's environment first: a --client-env of the same name wins.
    let mut env: Vec<String> = c.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.append(&mut o.client_env);
    o.client_env = env;
    Ok(())
}

/// The built-in etcd client's port from `[client] port`, if the suite sets one.
pub fn etcd_client_port(o: &TestOpts) -> Option<u16> {
    o.loaded_suite.as_ref()?.file.client.as_ref()?.port
}

fn set<T>(field: &mut T, value: Option<T>, free: bool) {
    if let (Some(v), true) = (value, free) {
        *field = v;
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};
    use faultline_nemesis::process::Target;

    use super::*;
    use crate::cli::{Cli, Command};

    const SUITE: &str = r#"
name = "kv"
[db]
start = "true"
kill = "true"
[client]
command = ["python3", "./client.py"]
env = { A = "1", B = "2" }
[workload]
name = "set"
[nemesis]
faults = ["kill"]
interval = 3
kill_target = "primaries"
packet = ["loss", "delay"]
[run]
time_limit = 7
concurrency = "2n"
rate = 50
seed = 9
"#;

    /// Parses `faultline test ARGS` as main does and applies the suite.
    fn test_args(suite: &Path, args: &[&str]) -> anyhow::Result<(TestOpts, String)> {
        let mut argv = vec!["faultline", "test", "--suite", suite.to_str().unwrap()];
        argv.extend_from_slice(args);
        let matches = Cli::command().try_get_matches_from(argv)?;
        let given = Given::of(&matches, "test");
        let Command::Test(mut a) = Cli::from_arg_matches(&matches)?.command else {
            panic!("not a test command");
        };
        apply(&mut a.opts, Some(&mut a.workload), &given)?;
        Ok((a.opts, a.workload))
    }

    fn suite_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_file_gives_defaults() {
        let (dir, path) = suite_file(SUITE);
        let (o, workload) = test_args(&path, &[]).unwrap();
        assert_eq!(workload, "set");
        assert!(matches!(o.db, DbKind::Shell));
        assert_eq!(o.time_limit, 7.0);
        assert_eq!(o.concurrency, "2n");
        assert_eq!(o.rate, 50.0);
        assert_eq!(o.seed, Some(9));
        assert_eq!(o.nemesis.0, vec![FaultKind::Kill]);
        assert_eq!(o.nemesis_interval, 3.0);
        assert_eq!(o.kill_target, Target::Primaries);
        assert_eq!(o.packet.len(), 2);
        assert_eq!(o.packet[1].to_string(), "delay");
        assert_eq!(o.pause_target, Target::Minority);
        // Untouched by the file: the CLI's defaults.
        assert_eq!(o.op_timeout, 5.0);
        let script = dir.path().join("./client.py");
        assert_eq!(
            o.client_command.as_deref(),
            Some(format!("python3 {}", script.display()).as_str())
        );
        assert_eq!(o.client_env, vec!["A=1", "B=2"]);
        assert_eq!(o.loaded_suite.as_ref().unwrap().name(), "kv");
    }

    #[test]
    fn the_command_line_overrides_the_file() {
        let (_dir, path) = suite_file(SUITE);
        let (o, workload) = test_args(
            &path,
            &[
                "--workload",
                "register",
                "--db",
                "etcd",
                "--time-limit",
                "60",
                "--concurrency",
                "3",
                "--nemesis",
                "",
                "--client-command",
                "./other",
                "--client-env",
                "B=3",
            ],
        )
        .unwrap();
        assert_eq!(workload, "register");
        assert!(matches!(o.db, DbKind::Etcd));
        // Given explicitly, even when equal to the default.
        assert_eq!(o.time_limit, 60.0);
        assert_eq!(o.concurrency, "3");
        assert!(o.nemesis.0.is_empty());
        assert_eq!(o.rate, 50.0, "not given: from the file");
        assert_eq!(o.client_command.as_deref(), Some("./other"));
        assert_eq!(
            o.client_env,
            vec!["A=1", "B=2", "B=3"],
            "the CLI's comes last"
        );
    }

    #[test]
    fn a_bad_file_is_a_usage_error_naming_the_line() {
        let (_dir, path) = suite_file("[run]\ntime_limit = 1\nconcurency = 3\n");
        let e = test_args(&path, &[]).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
        let text = format!("{e:#}");
        assert!(text.contains("kv.toml:3:"), "{text}");
        assert!(text.contains("run.concurency"), "{text}");
    }

    #[test]
    fn shell_db_needs_a_suite_with_a_db() {
        assert!(shell_db(None).is_err());
        let (_dir, path) = suite_file("[run]\nrate = 1\n");
        let s = load(&path).unwrap();
        assert!(format!("{:#}", shell_db(Some(&s)).unwrap_err()).contains("no [db]"));
    }
}
