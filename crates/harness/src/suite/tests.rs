use super::*;

fn parse(text: &str) -> Result<Suite, SuiteError> {
    Suite::parse(Path::new("dir/s.toml"), text.to_string())
}

fn err(text: &str) -> SuiteError {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

const FULL: &str = r#"
name = "kv"

[db]
name = "kvdb"
install = "true"
start = "echo start"
ready = "true"
ready_timeout = 5
kill = "true"
pause = "true"
resume = "true"
log_files = ["/tmp/kv.log"]

[db.env]
PORT = "7000"

[client]
command = ["python3", "../clients/kv.py", "--flag"]
env = { KV_PORT = "7000" }

[workload]
name = "set"

[nemesis]
faults = ["partition", "kill", "pause"]
interval = 2.5
partition = "primaries"

[run]
time_limit = 30
concurrency = "2n"
rate = 0
op_timeout = 1.5
seed = 7
"#;

#[test]
fn parses_every_section() {
    let s = parse(FULL).unwrap();
    assert_eq!(s.name(), "kv");
    let db = s.file.db.as_ref().unwrap();
    assert_eq!(db.start, "echo start");
    assert_eq!(db.env.get("PORT").map(String::as_str), Some("7000"));
    assert_eq!(
        s.file.run.as_ref().unwrap().concurrency.as_deref(),
        Some("2n")
    );
    assert_eq!(s.file.run.as_ref().unwrap().time_limit, Some(30.0));
    assert_eq!(
        s.client_command().unwrap(),
        vec!["python3", "dir/../clients/kv.py", "--flag"]
    );
    let shell = s.shell_db().unwrap();
    assert_eq!(shell.name, "kvdb");
    assert_eq!(shell.ready_timeout, Duration::from_secs(5));
    assert_eq!(shell.commands.kill.as_deref(), Some("true"));
    assert_eq!(s.text, FULL);
}

#[test]
fn integer_concurrency_reads_as_the_cli_string() {
    let s = parse("[run]\nconcurrency = 12\n").unwrap();
    assert_eq!(s.file.run.unwrap().concurrency.as_deref(), Some("12"));
}

#[test]
fn name_defaults_to_db_name_then_file_stem() {
    assert_eq!(
        parse("[db]\nname = \"x\"\nstart = \"true\"\n")
            .unwrap()
            .name(),
        "x"
    );
    assert_eq!(parse("").unwrap().name(), "s");
}

#[test]
fn unknown_key_names_key_and_line() {
    let e = err("name = \"a\"\n\n[db]\nstart = \"true\"\nstrat = \"oops\"\n");
    assert_eq!(e.line(), Some(5), "{e}");
    assert_eq!(e.key(), Some("db.strat"), "{e}");
    let text = e.to_string();
    assert!(text.starts_with("dir/s.toml:5:"), "{text}");
    assert!(text.contains("strat"), "{text}");
}

#[test]
fn unknown_top_level_table_is_an_error() {
    let e = err("[datbase]\nstart = \"x\"\n");
    assert_eq!(e.line(), Some(1), "{e}");
    assert!(e.to_string().contains("datbase"), "{e}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let e = err("[run]\nrate = 1\ntime_limit = \"long\"\n");
    assert_eq!(e.line(), Some(3), "{e}");
    assert_eq!(e.key(), Some("run.time_limit"), "{e}");
    assert!(e.to_string().contains("invalid type"), "{e}");
    assert!(e.to_string().contains("expected a number"), "{e}");
    let e = err("[nemesis]\nfaults = \"kill\"\n");
    assert_eq!(e.key(), Some("nemesis.faults"), "{e}");
}

#[test]
fn missing_start_is_an_error() {
    let e = err("\n[db]\ninstall = \"true\"\n");
    assert!(e.to_string().contains("start"), "{e}");
    assert_eq!(e.line(), Some(2), "{e}");
}

#[test]
fn syntax_error_has_a_line() {
    let e = err("[db]\nstart = \"unterminated\n");
    assert_eq!(e.line(), Some(2), "{e}");
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("[workload]\nname = \"bank\"\n", "workload.name", 2),
        (
            "[nemesis]\nfaults = [\"kill\",\n  \"flood\"]\n",
            "nemesis.faults[1]",
            3,
        ),
        ("[run]\ntime_limit = -1\n", "run.time_limit", 2),
        ("[run]\nop_timeout = 0\n", "run.op_timeout", 2),
        ("[run]\nconcurrency = \"0\"\n", "run.concurrency", 2),
        ("[run]\nconcurrency = \"xn\"\n", "run.concurrency", 2),
        ("[run]\ntest_count = 0\n", "run.test_count", 2),
        ("[db]\nstart = \"  \"\n", "db.start", 2),
        ("[db]\nstart = \"x\"\npause = \"y\"\n", "db.pause", 3),
        (
            "[db]\nstart = \"x\"\nlog_files = [\"rel.log\"]\n",
            "db.log_files[0]",
            3,
        ),
        (
            "[db]\nstart = \"x\"\nupload = [{ from = \"nope\", to = \"/x\" }]\n",
            "db.upload[0].from",
            3,
        ),
        (
            "[db]\nstart = \"x\"\n[db.env]\n\"1BAD\" = \"v\"\n",
            "db.env.1BAD",
            4,
        ),
        ("[client]\nbuiltin = \"redis\"\n", "client.builtin", 2),
        ("[client]\nenv = {}\n", "client", 1),
        (
            "[db]\nstart = \"x\"\n[nemesis]\nfaults = [\"kill\"]\n",
            "nemesis.faults",
            4,
        ),
        ("[nemesis]\nkill_target = \"\"\n", "nemesis.kill_target", 2),
        (
            "[nemesis]\npacket = [\"loss\", \"teleport\"]\n",
            "nemesis.packet[1]",
            2,
        ),
    ];
    for (text, key, line) in cases {
        let e = err(text);
        assert_eq!(e.key(), Some(key), "{text}\n=> {e}");
        assert_eq!(e.line(), Some(line), "{text}\n=> {e}");
        assert!(e.to_string().contains(key), "{e}");
    }
}

#[test]
fn uploads_resolve_against_the_suite_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("conf"), "x").unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        "[db]\nstart = \"x\"\nupload = [{ from = \"conf\", to = \"/opt/x/conf\" }]\n",
    )
    .unwrap();
    let s = Suite::load(&path).unwrap();
    let db = s.shell_db().unwrap();
    assert_eq!(
        db.uploads,
        vec![(dir.path().join("conf"), "/opt/x/conf".into())]
    );
}

#[test]
fn missing_file_names_the_path() {
    let e = Suite::load(Path::new("/nonexistent/suite.toml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/suite.toml"), "{e}");
}

#[test]
fn check_faults_needs_the_commands() {
    let s = parse("[db]\nstart = \"x\"\n").unwrap();
    assert!(s.check_faults(&[FaultKind::Partition]).is_ok());
    assert!(s
        .check_faults(&[FaultKind::Kill])
        .unwrap_err()
        .contains("kill"));
    assert!(s
        .check_faults(&[FaultKind::Pause])
        .unwrap_err()
        .contains("pause"));
}
