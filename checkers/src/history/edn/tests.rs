use super::write::is_keyword_name;
use super::*;
use proptest::prelude::*;
use serde_json::json;
use std::path::PathBuf;

fn read(text: &str) -> Result<History, HistoryError> {
    read_edn(text, Path::new("h.edn"))
}

/// The value of a nemesis op with `:value <edn>`: a named process keeps the independent
/// split out of the way.
fn value_of(edn: &str) -> Value {
    let h = read(&format!(
        "{{:type :info, :process :nemesis, :f :x, :value {edn}}}"
    ))
    .unwrap_or_else(|e| panic!("{edn}: {e}"));
    h.ops[0].value.clone()
}

fn error_of(text: &str) -> (u64, String) {
    match read(text) {
        Ok(h) => panic!("expected an error, read {} ops", h.len()),
        Err(e) => (e.line().unwrap_or(0), e.to_string()),
    }
}

#[test]
fn scalars() {
    assert_eq!(value_of(":ok"), json!("ok"));
    assert_eq!(value_of(":foo/bar"), json!("foo/bar"));
    assert_eq!(value_of("foo.bar"), json!("foo.bar"));
    assert_eq!(value_of(r#""a\"b\\c\n\td\r""#), json!("a\"b\\c\n\td\r"));
    assert_eq!(value_of("\"ünï ✓\""), json!("ünï ✓"));
    assert_eq!(value_of("42"), json!(42));
    assert_eq!(value_of("-7"), json!(-7));
    assert_eq!(value_of("+7"), json!(7));
    assert_eq!(value_of("0x1F"), json!(31));
    assert_eq!(value_of("42N"), json!(42));
    assert_eq!(value_of("-9223372036854775808"), json!(i64::MIN));
    assert_eq!(value_of("18446744073709551615N"), json!(u64::MAX));
    assert_eq!(value_of("18446744073709551615"), json!(u64::MAX));
    // Beyond 64 bits: the digits, as a string (documented in `convert`).
    assert_eq!(
        value_of("123456789012345678901234567890N"),
        json!("123456789012345678901234567890")
    );
    assert_eq!(value_of("1.5"), json!(1.5));
    assert_eq!(value_of("-2.5e3"), json!(-2500.0));
    assert_eq!(value_of("1/4"), json!(0.25));
    assert_eq!(value_of("1.25M"), json!(1.25));
    assert_eq!(value_of("nil"), json!(null));
    assert_eq!(value_of("true"), json!(true));
    assert_eq!(value_of("false"), json!(false));
    assert_eq!(value_of("\\a"), json!("a"));
    assert_eq!(value_of("\\newline"), json!("\n"));
    assert_eq!(value_of("\\space"), json!(" "));
}

#[test]
fn collections() {
    assert_eq!(value_of("[1 2 3]"), json!([1, 2, 3]));
    assert_eq!(value_of("(1 :a \"b\")"), json!([1, "a", "b"]));
    assert_eq!(value_of("#{3 1 2}"), json!([1, 2, 3]));
    assert_eq!(value_of("[]"), json!([]));
    assert_eq!(
        value_of(r#"{:a 1, "b" 2, 3 4, [1 2] 5, nil 6}"#),
        json!({"a": 1, "b": 2, "3": 4, "[1,2]": 5, "null": 6})
    );
    assert_eq!(
        value_of("{:a [{:b #{:c}} (nil)]}"),
        json!({"a": [{"b": ["c"]}, [null]]})
    );
}

#[test]
fn comments_discards_and_commas() {
    assert_eq!(
        value_of("[1, #_ 2 3 ; a comment ]\n 4,,]"),
        json!([1, 3, 4])
    );
    assert_eq!(value_of("[#_ #_ 1 2 3]"), json!([3]));
    assert_eq!(value_of("{:a #_ :b 1}"), json!({"a": 1}));
    let h = read(
        "; a history\n\
         #_ {:type :invoke, :process 9, :f :read}\n\
         {:type :invoke, :process 0, :f :read, :value nil} ; trailing\n\
         ,,\n\
         #_#_ 1 2\n\
         {:type :ok, :process 0, :f :read, :value 1}",
    )
    .unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h.ops[0].line, h.ops[1].line), (3, 6));
    assert_eq!(h.ops[1].value, json!(1));
}

#[test]
fn tagged_literals() {
    assert_eq!(
        value_of("#inst \"2024-05-01T10:00:00.000-00:00\""),
        json!("2024-05-01T10:00:00.000-00:00")
    );
    assert_eq!(
        value_of("#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\""),
        json!("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
    );
    assert_eq!(value_of("#my/tag [1 #other 2]"), json!([1, 2]));
    assert_eq!(
        value_of("#object[java.lang.Thread 0x3f \"main\"]"),
        json!(["java.lang.Thread", 63, "main"])
    );
    // A namespaced map qualifies its plain keyword keys, as Clojure reads it.
    assert_eq!(
        value_of("#:ns{:a 1, :x/b 2, \"c\" 3}"),
        json!({"ns/a": 1, "x/b": 2, "c": 3})
    );
}

#[test]
fn keys_that_collide_are_an_error() {
    let (line, msg) = error_of("{:type :info, :process :nemesis, :f :x, :value {:a 1, \"a\" 2}}");
    assert_eq!(line, 1);
    assert!(msg.contains("both read as \"a\""), "{msg}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (line, msg) = error_of(&format!(
        "{{:type :invoke, :process 0, :f :w, :value 1}}\n{{:type :info, :process :nemesis, :f :x, :value {deep}}}"
    ));
    assert_eq!(line, 2);
    assert!(msg.contains("nested more than"), "{msg}");
    let tags = "#t ".repeat(100_000);
    let (line, msg) = error_of(&format!(
        "{{:type :info, :process :nemesis, :f :x, :value {tags} 1}}"
    ));
    assert_eq!(line, 1);
    assert!(msg.contains("nested more than"), "{msg}");
    // A record tag may nest too: the op is still the map inside.
    let h = read(&format!("{tags}{{:type :invoke, :process 0, :f :read}}")).unwrap();
    assert_eq!(h.ops[0].f.as_ref(), "read");
    // Just under the limit is fine.
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH_OK), "]".repeat(MAX_DEPTH_OK));
    assert!(value_of(&ok).is_array());
}

const MAX_DEPTH_OK: usize = convert::MAX_DEPTH;

const PLAIN: &str = "{:type :invoke, :process 0, :f :write, :value 1}
{:type :ok, :process 0, :f :write, :value 1}
{:type :invoke, :process 1, :f :read, :value nil}
{:type :ok, :process 1, :f :read, :value 1}";

#[test]
fn stream_vector_and_list_read_alike() {
    let stream = read(PLAIN).unwrap();
    let vector = read(&format!("[{PLAIN}]")).unwrap();
    let list = read(&format!("\n(\n{PLAIN}\n)\n")).unwrap();
    let strip = |h: &History| {
        h.ops
            .iter()
            .map(|o| Op {
                line: 0,
                ..o.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(stream.len(), 4);
    assert_eq!(strip(&stream), strip(&vector));
    assert_eq!(strip(&stream), strip(&list));
    let lines = |h: &History| h.ops.iter().map(|o| o.line).collect::<Vec<_>>();
    assert_eq!(lines(&stream), [1, 2, 3, 4]);
    assert_eq!(lines(&vector), [1, 2, 3, 4]);
    assert_eq!(lines(&list), [3, 4, 5, 6]);
    let indices: Vec<u64> = stream.ops.iter().map(|o| o.index).collect();
    assert_eq!(indices, [0, 1, 2, 3]);
    assert_eq!(stream.ops[2].value, Value::Null);
    assert_eq!(stream.ops[0].key, None);
}

#[test]
fn empty_inputs() {
    for text in [
        "",
        "  \n",
        "; nothing\n",
        "[]",
        "( )",
        "\u{feff}[]",
        "#_ {:a 1}",
    ] {
        assert!(read(text).unwrap().is_empty(), "{text:?}");
    }
}

#[test]
fn byte_order_mark_is_skipped() {
    let h = read(&format!("\u{feff}{PLAIN}")).unwrap();
    assert_eq!(h.len(), 4);
}

#[test]
fn indices_are_read_and_checked() {
    let h = read(
        "{:index 0, :type :invoke, :process 0, :f :read}\n\
         {:index 1, :type :ok, :process 0, :f :read, :value 3}",
    )
    .unwrap();
    assert_eq!(h.ops[1].index, 1);
    // Gaps (a history filtered by hand, as Elle publishes some) are kept as they are.
    let h = read(
        "{:index 10, :type :invoke, :process 0, :f :read}\n\n\
         {:index 21, :type :ok, :process 0, :f :read, :value 3}",
    )
    .unwrap();
    assert_eq!((h.ops[0].index, h.ops[1].index), (10, 21));
    for (second, _) in [(10, "repeated"), (9, "decreasing")] {
        let (line, msg) = error_of(&format!(
            "{{:index 10, :type :invoke, :process 0, :f :read}}\n\n\
             {{:index {second}, :type :ok, :process 0, :f :read, :value 3}}",
        ));
        assert_eq!(line, 3);
        assert!(msg.contains("does not increase"), "{msg}");
    }
    let (line, msg) = error_of(
        "{:index 0, :type :invoke, :process 0, :f :read}\n\
         {:type :ok, :process 0, :f :read, :value 3}",
    );
    assert_eq!(line, 2);
    assert!(msg.contains("no :index"), "{msg}");
    let (line, msg) = error_of(
        "{:type :invoke, :process 0, :f :read}\n\
         {:index 1, :type :ok, :process 0, :f :read, :value 3}",
    );
    assert_eq!(line, 2);
    assert!(msg.contains("has an :index"), "{msg}");
}

/// Shaped like a Jepsen etcd (cas-register) `history.edn`, with nemesis ops, a crashed
/// client continuing as process + 5, ignored keys, and the newer record form.
const ETCD: &str = r#"{:type :invoke, :f :read, :value nil, :process 0, :time 14330875, :index 0}
{:type :invoke, :f :write, :value 4, :process 1, :time 14357215, :index 1}
{:type :ok, :f :read, :value nil, :process 0, :time 18543226, :index 2}
{:type :invoke, :f :cas, :value [3 2], :process 2, :time 19067612, :index 3}
{:type :ok, :f :write, :value 4, :process 1, :time 20004352, :index 4}
{:type :info, :f :start, :value nil, :process :nemesis, :time 5000012345, :index 5}
{:type :info, :f :start, :value [:isolated {"n1" #{"n4" "n5"}, "n4" #{"n1" "n2" "n3"}}], :process :nemesis, :time 5002345678, :index 6}
{:type :fail, :f :cas, :value [3 2], :process 2, :time 5010000000, :error :didnt-succeed, :index 7}
#jepsen.history.Op{:index 8, :time 5100000000, :type :invoke, :process 1, :f :cas, :value [4 1], :node "n2"}
#jepsen.history.Op{:index 9, :time 10100000000, :type :info, :process 1, :f :cas, :value [4 1], :error [:crash "java.net.SocketTimeoutException: Read timed out"], :exception {:via [{:type java.net.SocketTimeoutException, :message "Read timed out", :at [java.net.SocketInputStream socketRead0 "SocketInputStream.java" -2]}], :trace [[java.net.SocketInputStream socketRead0 "SocketInputStream.java" -2]], :cause "Read timed out"}}
#jepsen.history.Op{:index 10, :time 10200000000, :type :invoke, :process 6, :f :read, :value nil}
#jepsen.history.Op{:index 11, :time 15000000000, :type :info, :process :nemesis, :f :stop, :value nil}
#jepsen.history.Op{:index 12, :time 15000400000, :type :info, :process :nemesis, :f :stop, :value :network-healed}
#jepsen.history.Op{:index 13, :time 15100000000, :type :ok, :process 6, :f :read, :value 1}
"#;

#[test]
fn jepsen_etcd_history() {
    let h = read(ETCD).unwrap();
    assert_eq!(h.len(), 14);
    assert_eq!(h.nemesis_events().count(), 4);
    assert_eq!(h.ops[5].process, Process::nemesis());
    assert_eq!(
        h.ops[6].value,
        json!(["isolated", {"n1": ["n4", "n5"], "n4": ["n1", "n2", "n3"]}])
    );
    assert_eq!(h.ops[12].value, json!("network-healed"));
    assert_eq!(h.ops[7].kind, OpType::Fail);
    assert_eq!(h.ops[7].error, Some(json!("didnt-succeed")));
    assert_eq!(h.ops[8].node.as_deref(), Some("n2"));
    assert_eq!(h.ops[8].time, Some(5_100_000_000));
    assert_eq!(
        h.ops[9].error,
        Some(json!([
            "crash",
            "java.net.SocketTimeoutException: Read timed out"
        ]))
    );
    assert_eq!(h.ops[13].process, Process::Client(6));
    assert_eq!(h.ops[13].line, 14);
    assert!(
        h.ops.iter().all(|o| o.key.is_none()),
        "a cas register is not independent"
    );
    let operations = h.operations();
    assert_eq!(operations.len(), 5);
    assert_eq!(operations[3].outcome, crate::history::Outcome::Info);
}

#[test]
fn independent_kv_history_is_split() {
    let h = read(
        r#"{:type :invoke, :process 0, :f :append, :value ["k1" "x 0 0 y"]}
{:type :invoke, :process 1, :f :get, :value ["k1" nil]}
{:type :ok, :process 0, :f :append, :value ["k1" "x 0 0 y"]}
{:type :info, :process :nemesis, :f :start, :value [:a :b]}
{:type :ok, :process 1, :f :get, :value ["k1" "x 0 0 y"]}"#,
    )
    .unwrap();
    assert_eq!(h.ops[0].key, Some(json!("k1")));
    assert_eq!(h.ops[0].value, json!("x 0 0 y"));
    assert_eq!(h.ops[1].value, Value::Null);
    assert_eq!(h.ops[4].value, json!("x 0 0 y"));
    // The nemesis op keeps its value whole.
    assert_eq!(h.ops[3].key, None);
    assert_eq!(h.ops[3].value, json!(["a", "b"]));
}

#[test]
fn independent_cas_register_is_split() {
    // jepsen.independent over a cas register: cas values are `[k [old new]]`.
    let h = read(
        "{:type :invoke, :process 0, :f :cas, :value [7 [1 2]]}
{:type :invoke, :process 1, :f :read, :value [7 nil]}
{:type :fail, :process 0, :f :cas, :value [7 [1 2]]}
{:type :ok, :process 1, :f :read, :value [7 3]}",
    )
    .unwrap();
    assert_eq!(h.ops[0].key, Some(json!(7)));
    assert_eq!(h.ops[0].value, json!([1, 2]));
    assert_eq!(h.ops[3].value, json!(3));
}

#[test]
fn plain_histories_are_not_split() {
    // A cas-only register: every value is an [old new] pair, but it is not independent.
    let cas_only = read(
        "{:type :invoke, :process 0, :f :cas, :value [1 2]}
{:type :ok, :process 0, :f :cas, :value [1 2]}",
    )
    .unwrap();
    assert!(cas_only.ops.iter().all(|o| o.key.is_none()));
    assert_eq!(cas_only.ops[0].value, json!([1, 2]));
    // Elle list-append transactions of two micro-ops.
    let txn = read(
        "{:type :invoke, :process 0, :f :txn, :value [[:append 1 2] [:r 1 nil]]}
{:type :ok, :process 0, :f :txn, :value [[:append 1 2] [:r 1 [2]]]}",
    )
    .unwrap();
    assert!(txn.ops.iter().all(|o| o.key.is_none()));
    assert_eq!(txn.ops[1].value, json!([["append", 1, 2], ["r", 1, [2]]]));
    // One value that is not a pair is enough.
    let mixed = read(
        "{:type :invoke, :process 0, :f :write, :value [1 2]}
{:type :ok, :process 0, :f :write, :value 3}",
    )
    .unwrap();
    assert!(mixed.ops.iter().all(|o| o.key.is_none()));
    // Nemesis ops alone are never split.
    let nemesis_only = read("{:type :info, :process :nemesis, :f :start, :value [1 2]}").unwrap();
    assert_eq!(nemesis_only.ops[0].key, None);
}

#[test]
fn malformed_edn_names_the_line() {
    let cases: &[(&str, u64, &str)] = &[
        // An unclosed form is reported where it starts.
        (
            "{:type :invoke, :process 0, :f :read}\n\n{:type :ok, :process 0",
            3,
            "not closed",
        ),
        ("{:type :invoke, :process 0, :f :read}\n}\n", 2, "unmatched `}`"),
        (
            "{:type :info, :process :nemesis, :f :x,\n :value \"a\\qb\"}",
            2,
            "escape",
        ),
        (
            "{:type :info, :process :nemesis, :f :x}\n{:type :info, :process :nemesis, :f :x, :value 1.2.3}",
            2,
            "invalid number",
        ),
        (
            "\n{:type :info, :process :nemesis, :f :x, :value {:a 1 :a 2}}",
            2,
            "duplicate key",
        ),
        ("[{:type :invoke, :process 0, :f :read}\n", 1, "never closed"),
        ("[{:type :invoke, :process 0, :f :read}]\n\n{}", 3, "after the `]`"),
        ("[{:type :invoke, :process 0, :f :read})", 1, "unmatched `)`"),
        ("\n\n#_", 3, "not closed"),
    ];
    for (text, line, needle) in cases {
        let (got, msg) = error_of(text);
        assert_eq!(got, *line, "{text:?}: {msg}");
        assert!(msg.contains(needle), "{text:?}: {msg}");
        assert!(msg.starts_with("h.edn:"), "{msg}");
    }
}

#[test]
fn bad_ops_name_the_line_and_the_problem() {
    let good = "{:type :invoke, :process 0, :f :read}\n";
    let cases: &[(&str, &str)] = &[
        ("42", "must be a map, not 42"),
        ("[1 2]", "must be a map, not a vector"),
        ("{:process 0, :f :read}", "missing :type"),
        // No :process is one anonymous process, which here has nothing open.
        ("{:type :ok, :f :read}", "no open invocation"),
        ("{:type :ok, :process 0}", "missing :f"),
        ("{:type :ok, :process 0, :value 3}", "missing :f"),
        (
            "{:type :done, :process 0, :f :read}",
            "unknown :type \"done\"",
        ),
        ("{:type 1, :process 0, :f :read}", ":type must be a keyword"),
        ("{:type :ok, :process -1, :f :read}", ":process must be"),
        ("{:type :ok, :process [1], :f :read}", ":process must be"),
        ("{:type :ok, :process 0, :f 3}", ":f must be"),
        (
            "{:type :ok, :process 0, :f :read, :time \"x\"}",
            ":time must be",
        ),
        (
            "{:type :ok, :process 0, :f :read, :time 1.5}",
            ":time must be",
        ),
    ];
    for (op, needle) in cases {
        let (line, msg) = error_of(&format!("{good}{op}"));
        assert_eq!(line, 2, "{op}: {msg}");
        assert!(msg.contains(needle), "{op}: {msg}");
    }
    // Pairing errors come from the shared validator, with the op's line.
    let (line, msg) =
        error_of("{:type :invoke, :process 0, :f :read}\n{:type :ok, :process 1, :f :read}");
    assert_eq!(line, 2);
    assert!(msg.contains("no open invocation"), "{msg}");
}

#[test]
fn writes_jepsen_style_lines() {
    let mut h = read(ETCD).unwrap();
    h.ops[0].key = Some(json!("k"));
    h.ops[1].value = json!({"a b": "q\"\n", "ok": [1, 2.5, null, true]});
    let mut out = Vec::new();
    write_edn(&h, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 14);
    assert_eq!(
        lines[0],
        r#"{:index 0, :type :invoke, :process 0, :f :read, :value ["k" nil], :time 14330875}"#
    );
    assert_eq!(
        lines[1],
        r#"{:index 1, :type :invoke, :process 1, :f :write, :value {"a b" "q\"\n", :ok [1 2.5 nil true]}, :time 14357215}"#
    );
    assert_eq!(
        lines[5],
        "{:index 5, :type :info, :process :nemesis, :f :start, :value nil, :time 5000012345}"
    );
    assert_eq!(
        lines[8],
        r#"{:index 8, :type :invoke, :process 1, :f :cas, :value [4 1], :time 5100000000, :node "n2"}"#
    );
    assert_eq!(
        lines[9],
        r#"{:index 9, :type :info, :process 1, :f :cas, :value [4 1], :time 10100000000, :error ["crash" "java.net.SocketTimeoutException: Read timed out"]}"#
    );
}

#[test]
fn odd_names_are_written_as_strings() {
    let op = Op {
        index: 0,
        kind: OpType::Info,
        process: Process::Named("clock skew".into()),
        f: "bump 1".into(),
        value: json!({"1": 2, "ns/k": 3}),
        key: None,
        time: None,
        node: None,
        error: None,
        line: 0,
    };
    let h = History {
        ops: vec![op.clone()],
        source: PathBuf::new(),
        completions_only: false,
    };
    let mut out = Vec::new();
    write_edn(&h, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "{:index 0, :type :info, :process \"clock skew\", :f \"bump 1\", :value {\"1\" 2, :ns/k 3}}\n"
    );
    assert_eq!(read(&text).unwrap().ops, vec![Op { line: 1, ..op }]);
}

#[test]
fn keyword_names() {
    for ok in [
        "read",
        "start-partition",
        "foo/bar",
        "a.b",
        "-",
        "+",
        "<=",
        "x?",
        "ok!",
        "a1",
    ] {
        assert!(is_keyword_name(ok), "{ok}");
    }
    for bad in [
        "", "1", "-1", "+2", ".5", "a b", "a/b/c", "/a", "a/", "a,b", "a\"", "é", ":a", "a;b",
    ] {
        assert!(!is_keyword_name(bad), "{bad}");
    }
}

/// JSON values of the shapes histories hold.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z][a-z0-9-]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![any::<String>(), "[a-z][a-z-]{0,5}".prop_map(String::from)],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = read(&text);
    }

    #[test]
    fn edn_like_text_never_panics(text in r#"[\[\](){}#_:;,"\\ \nA-Za-z0-9./+\-]{0,80}"#) {
        let _ = read(&text);
        let _ = read(&format!("{{:type :info, :process :nemesis, :f :x, :value {text}}}"));
        let _ = read(&format!("[{text}]"));
    }

    #[test]
    fn values_survive_a_round_trip(value in json_value(), error in json_value()) {
        let op = Op {
            index: 0,
            kind: OpType::Info,
            process: Process::nemesis(),
            f: "x".into(),
            value,
            key: None,
            time: Some(-5),
            node: Some("n1 \"x\"".into()),
            error: (!error.is_null()).then_some(error),
            line: 1,
        };
        let h = History { ops: vec![op], source: PathBuf::new(), completions_only: false };
        let mut out = Vec::new();
        write_edn(&h, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let back = read(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back.ops, &h.ops, "{}", text);
    }
}

#[test]
fn format_detection_recognises_jepsen_records() {
    use crate::history::Format;
    let head = b"#jepsen.history.Op{:index 0, :type :invoke, :process 0, :f :read}\n";
    assert_eq!(
        Format::detect(Path::new("history"), head),
        Some(Format::Edn)
    );
    let stream = b"{:type :invoke, :process 0, :f :read}\n";
    assert_eq!(
        Format::detect(Path::new("history"), stream),
        Some(Format::Edn)
    );
}

#[test]
fn field_variants() {
    let h = read(
        r#"{:type "invoke", :process 3N, :f "read", :time 5N, :node :n1, :error nil}
{:type :ok, :process 3, :f :read, :value 2, :node 7}
{:type :info, :process "nemesis", :f kill, :value ["n1"]}"#,
    )
    .unwrap();
    assert_eq!(h.ops[0].kind, OpType::Invoke);
    assert_eq!(h.ops[0].process, Process::Client(3));
    assert_eq!(h.ops[0].time, Some(5));
    assert_eq!(h.ops[0].node.as_deref(), Some("n1"));
    assert_eq!(h.ops[0].error, None);
    assert_eq!(h.ops[1].node.as_deref(), Some("7"));
    assert_eq!(h.ops[2].process, Process::nemesis());
    assert_eq!(&*h.ops[2].f, "kill");
    // Big ints beyond u64 cannot be a process or an index.
    let (_, msg) = error_of("{:type :invoke, :process 99999999999999999999N, :f :read}");
    assert!(msg.contains(":process must be"), "{msg}");
}

/// Elle's tests and published examples leave out `:f`, `:process` and invocations.
#[test]
fn elle_shaped_ops_are_read() {
    // No :f: a list of micro-ops is a txn. No :process: one process, past the others.
    let h = read(
        "{:index 0, :type :invoke, :value [[:append 1 2] [:r 2 nil]]}\n\
         {:index 1, :type :ok, :value [[:append 1 2] [:r 2 [1]]]}\n\
         {:index 2, :type :invoke, :process 4, :f :txn, :value [[:r 1 nil]]}\n\
         {:index 3, :type :ok, :process 4, :f :txn, :value [[:r 1 [2]]]}",
    )
    .unwrap();
    assert_eq!(&*h.ops[0].f, "txn");
    assert_eq!(h.ops[0].process, Process::Client(5));
    assert_eq!(h.ops[1].process, Process::Client(5));
    assert!(!h.completions_only);
    assert_eq!(h.operations().len(), 2);

    // Completions only: each is an operation of its own, even two in a row on a process.
    let h = read(
        "{:process 0, :type :ok, :value [[:append :x 1]]}\n\
         {:process 0, :type :ok, :value [[:r :x [1]]]}\n\
         {:process 1, :type :fail, :value [[:append :x 2]]}",
    )
    .unwrap();
    assert!(h.completions_only);
    let ops = h.operations();
    assert_eq!(ops.len(), 3);
    assert!(ops.iter().all(|o| Some(o.invoke) == o.complete));
    assert_eq!(ops[2].outcome, crate::history::Outcome::Fail);
    // ... which the checkers that need real time refuse, saying why.
    let e = h
        .require_invocations("linearizability checking")
        .unwrap_err();
    assert!(e.to_string().contains("completions only"), "{e}");

    // A history with invocations still pairs strictly: a stray completion is an error.
    let (line, msg) = error_of(
        "{:process 0, :type :invoke, :f :read}\n\
         {:process 0, :type :ok, :f :read}\n\
         {:process 0, :type :ok, :f :read}",
    );
    assert_eq!(line, 3);
    assert!(msg.contains("no open invocation"), "{msg}");
}
