//! etcd clients for the register, set, append and counter workloads, through etcd's v3
//! HTTP/JSON gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn` on the client port,
//! served by etcd 3.4 and later). Keys and values travel base64-encoded; 64-bit
//! integers may come back as JSON strings (proto3's JSON mapping).
//!
//! Every key of a run lives under a per-run prefix, so runs against a DB left running
//! (`--leave-db-running`, `--test-count`) never see each other's data.
//!
//! Outcomes follow Jepsen's rules: an operation that cannot have changed anything (a
//! read, a refused connection, a request etcd rejected outright) is `fail`; one whose
//! effect is unknown (a timeout, a dropped connection, etcd being unavailable
//! mid-proposal) is `info`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use faultline_workloads::workload::WorkloadKind;
use serde_json::{json, Value};

use crate::runner::{Client, ClientFactory, Completion, Invocation, OpenError};

/// How long a connection attempt may take: a node that does not accept within this is
/// treated as down (the request was never sent, so the op fails cleanly).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Attempts at an append transaction whose mod-revision guard keeps losing.
const TXN_ATTEMPTS: u32 = 8;
/// Responses larger than this are refused (a final set read of ~100k elements fits).
const MAX_RESPONSE: u64 = 64 << 20;

/// Why a request did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtcdError {
    /// The request certainly never reached etcd (connection refused, no route, bad URL).
    #[error("not sent: {0}")]
    NotSent(String),
    /// etcd answered with an error that means the request was not applied.
    #[error("rejected (grpc code {code}): {message}")]
    Rejected { code: i64, message: String },
    /// etcd answered with an error that leaves the outcome open (unavailable, timed
    /// out, leader changed...).
    #[error("indeterminate (grpc code {code}): {message}")]
    Indeterminate { code: i64, message: String },
    /// No answer in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The connection broke after the request may have been sent.
    #[error("connection lost: {0}")]
    Lost(String),
    /// An answer we cannot read.
    #[error("malformed response: {0}")]
    Malformed(String),
}

impl EtcdError {
    /// Whether the request certainly had no effect.
    pub fn definite(&self) -> bool {
        matches!(self, EtcdError::NotSent(_) | EtcdError::Rejected { .. })
    }
}

/// gRPC status codes that mean etcd refused the request before applying it.
fn rejected_code(code: i64) -> bool {
    // InvalidArgument, NotFound, PermissionDenied, ResourceExhausted (too many
    // requests), FailedPrecondition, OutOfRange, Unimplemented, Unauthenticated.
    matches!(code, 3 | 5 | 7 | 8 | 9 | 11 | 12 | 16)
}

/// Classifies a non-200 gateway answer: `{"error": ..., "code": N, "message": ...}`.
pub fn classify_status(status: u16, body: &str) -> EtcdError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = v.get("code").and_then(int64);
    let message = v
        .get("message")
        .or_else(|| v.get("error"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {status}: {}", truncate(body, 200)));
    match code {
        Some(code) if rejected_code(code) => EtcdError::Rejected { code, message },
        Some(code) => EtcdError::Indeterminate { code, message },
        // No gRPC status: the gateway itself answered (404 for an unknown path, 405,
        // 400 for a body it could not parse) and never called etcd.
        None if (400..500).contains(&status) => EtcdError::Rejected { code: 0, message },
        None => EtcdError::Indeterminate { code: 0, message },
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn classify_transport(e: ureq::Error) -> EtcdError {
    use ureq::Error as E;
    match e {
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            EtcdError::NotSent(io.to_string())
        }
        // No connection was made: nothing was sent.
        E::Timeout(t @ (ureq::Timeout::Connect | ureq::Timeout::Resolve)) => {
            EtcdError::NotSent(format!("{t:?} timeout"))
        }
        E::Timeout(t) => EtcdError::Timeout(format!("{t:?}")),
        E::ConnectionFailed | E::HostNotFound | E::BadUri(_) | E::Http(_) => {
            EtcdError::NotSent(e.to_string())
        }
        other => EtcdError::Lost(other.to_string()),
    }
}

/// An int64 as proto3 JSON writes it: a number or a decimal string.
fn int64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn unb64(v: Option<&Value>) -> Result<Vec<u8>, EtcdError> {
    match v {
        // proto3 JSON omits empty bytes.
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => B64
            .decode(s)
            .map_err(|e| EtcdError::Malformed(format!("bad base64 {s:?}: {e}"))),
        Some(other) => Err(EtcdError::Malformed(format!("bytes as {other}"))),
    }
}

/// The end of the range of every key starting with `prefix` (etcd's `GetPrefix`).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): every key from `prefix` on ("\0" means no end).
    vec![0]
}

/// `/v3/kv/range` body for one key, or for `[key, range_end)`.
pub fn range_body(key: &[u8], range_end: Option<&[u8]>, serializable: bool) -> Value {
    let mut b = json!({ "key": b64(key) });
    if let Some(end) = range_end {
        b["range_end"] = json!(b64(end));
    }
    if serializable {
        b["serializable"] = json!(true);
    }
    b
}

/// `/v3/kv/put` body.
pub fn put_body(key: &[u8], value: &[u8]) -> Value {
    json!({ "key": b64(key), "value": b64(value) })
}

/// A txn: put `new` if the key's value is `old` (a missing key never matches).
pub fn cas_body(key: &[u8], old: &[u8], new: &[u8]) -> Value {
    json!({
        "compare": [{
            "key": b64(key),
            "target": "VALUE",
            "result": "EQUAL",
            "value": b64(old),
        }],
        "success": [{ "request_put": { "key": b64(key), "value": b64(new) } }],
    })
}

/// A txn reading every key in `keys` at one revision.
pub fn snapshot_body(keys: &[Vec<u8>]) -> Value {
    let success: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "request_range": { "key": b64(k) } }))
        .collect();
    json!({ "success": success })
}

/// A txn writing `puts` if every key in `guards` still has the given mod revision (0:
/// the key still does not exist).
pub fn guarded_put_body(guards: &[(Vec<u8>, i64)], puts: &[(Vec<u8>, Vec<u8>)]) -> Value {
    let compare: Vec<Value> = guards
        .iter()
        .map(|(k, rev)| {
            json!({
                "key": b64(k),
                "target": "MOD",
                "result": "EQUAL",
                "mod_revision": rev.to_string(),
            })
        })
        .collect();
    let success: Vec<Value> = puts
        .iter()
        .map(|(k, v)| json!({ "request_put": { "key": b64(k), "value": b64(v) } }))
        .collect();
    json!({ "compare": compare, "success": success })
}

/// One key-value pair of a range answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub mod_revision: i64,
}

fn field<'a>(v: &'a Value, snake: &str, camel: &str) -> Option<&'a Value> {
    v.get(snake).or_else(|| v.get(camel))
}

/// The pairs of a range answer (`{"kvs": [...]}`; no `kvs`: nothing matched).
pub fn parse_range(v: &Value) -> Result<Vec<Kv>, EtcdError> {
    let Some(kvs) = v.get("kvs") else {
        return Ok(Vec::new());
    };
    let kvs = kvs
        .as_array()
        .ok_or_else(|| EtcdError::Malformed(format!("kvs is not an array: {kvs}")))?;
    kvs.iter()
        .map(|kv| {
            Ok(Kv {
                key: unb64(kv.get("key"))?,
                value: unb64(kv.get("value"))?,
                mod_revision: field(kv, "mod_revision", "modRevision")
                    .and_then(int64)
                    .unwrap_or(0),
            })
        })
        .collect()
}

/// A txn answer: whether the guards held, and the pairs of each range in it (one entry
/// per request, empty for puts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnAnswer {
    pub succeeded: bool,
    pub ranges: Vec<Vec<Kv>>,
}

pub fn parse_txn(v: &Value) -> Result<TxnAnswer, EtcdError> {
    if !v.is_object() {
        return Err(EtcdError::Malformed(format!("txn answer {v}")));
    }
    // proto3 JSON omits `false`.
    let succeeded = v.get("succeeded").and_then(Value::as_bool).unwrap_or(false);
    let ranges = match v.get("responses") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(rs)) => rs
            .iter()
            .map(|r| match field(r, "response_range", "responseRange") {
                Some(range) => parse_range(range),
                None => Ok(Vec::new()),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(EtcdError::Malformed(format!("responses: {other}"))),
    };
    Ok(TxnAnswer { succeeded, ranges })
}

/// Opens etcd clients for one workload.
pub struct EtcdClients {
    /// Node name -> base URL (`http://host:2379`).
    endpoints: HashMap<String, String>,
    kind: WorkloadKind,
    /// Every key of the run starts with this.
    prefix: String,
    serializable: bool,
}

impl EtcdClients {
    /// `nodes`: (node name, host) pairs; `prefix`: unique to the run.
    pub fn new(
        nodes: &[(String, String)],
        port: u16,
        kind: WorkloadKind,
        prefix: impl Into<String>,
        serializable: bool,
    ) -> Self {
        EtcdClients {
            endpoints: nodes
                .iter()
                .map(|(name, host)| (name.clone(), format!("http://{host}:{port}")))
                .collect(),
            kind,
            prefix: prefix.into(),
            serializable,
        }
    }
}

impl ClientFactory for EtcdClients {
    fn open(&self, node: &str) -> Result<Box<dyn Client>, OpenError> {
        let base = self
            .endpoints
            .get(node)
            .ok_or_else(|| OpenError::Misconfigured(format!("no endpoint for node {node}")))?
            .clone();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Error answers carry etcd's reason in the body: read them ourselves.
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            // One connection per client: a worker runs one operation at a time.
            .max_idle_connections(1)
            .max_idle_connections_per_host(1)
            .build()
            .into();
        Ok(Box::new(EtcdClient {
            agent,
            base,
            kind: self.kind,
            prefix: self.prefix.clone(),
            serializable: self.serializable,
        }))
    }
}

pub struct EtcdClient {
    agent: ureq::Agent,
    base: String,
    kind: WorkloadKind,
    prefix: String,
    serializable: bool,
}

impl EtcdClient {
    /// POSTs `body` to `/v3/kv/<path>`, giving up at `deadline`.
    fn call(&self, path: &str, body: &Value, deadline: Instant) -> Result<Value, EtcdError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(EtcdError::Timeout("no time left".into()));
        }
        let url = format!("{}/v3/kv/{path}", self.base);
        let text = body.to_string();
        let mut resp = self
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(left))
            .build()
            .header("content-type", "application/json")
            .send(text.as_bytes())
            .map_err(classify_transport)?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_string()
            .map_err(|e| match classify_transport(e) {
                // The request went out: a failure reading the answer is not "not sent".
                EtcdError::NotSent(m) => EtcdError::Lost(m),
                other => other,
            })?;
        if status != 200 {
            return Err(classify_status(status, &body));
        }
        serde_json::from_str(&body)
            .map_err(|e| EtcdError::Malformed(format!("{e}: {}", truncate(&body, 200))))
    }

    fn key(&self, space: &str, k: &Value) -> Vec<u8> {
        // Strings unquoted, anything else as its JSON text.
        let k = match k {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        format!("{}{space}/{k}", self.prefix).into_bytes()
    }

    fn register(&self, op: &Invocation, deadline: Instant) -> Completion {
        let key = self.key("r", op.key.as_ref().unwrap_or(&Value::Null));
        match &*op.f {
            "read" => {
                let r = self
                    .call(
                        "range",
                        &range_body(&key, None, self.serializable),
                        deadline,
                    )
                    .and_then(|v| parse_range(&v));
                match r {
                    Ok(kvs) => match kvs.first() {
                        None => Completion::ok(Value::Null),
                        Some(kv) => match serde_json::from_slice(&kv.value) {
                            Ok(v) => Completion::ok(v),
                            Err(e) => Completion::fail(Value::Null, format!("bad value: {e}")),
                        },
                    },
                    // A read changes nothing: whatever happened, it did not happen.
                    Err(e) => Completion::fail(Value::Null, e.to_string()),
                }
            }
            "write" => {
                let body = put_body(&key, op.value.to_string().as_bytes());
                match self.call("put", &body, deadline) {
                    Ok(_) => Completion::ok(op.value.clone()),
                    Err(e) => write_error(op, e),
                }
            }
            "cas" => {
                let (Some(old), Some(new)) = (op.value.get(0), op.value.get(1)) else {
                    return Completion::fail(op.value.clone(), "cas needs [old, new]");
                };
                let body = cas_body(&key, old.to_string().as_bytes(), new.to_string().as_bytes());
                match self
                    .call("txn", &body, deadline)
                    .and_then(|v| parse_txn(&v))
                {
                    Ok(t) if t.succeeded => Completion::ok(op.value.clone()),
                    Ok(_) => Completion::fail(op.value.clone(), "cas mismatch"),
                    Err(e) => write_error(op, e),
                }
            }
            f => Completion::fail(op.value.clone(), format!("unknown operation {f}")),
        }
    }

    fn set(&self, op: &Invocation, deadline: Instant) -> Completion {
        match &*op.f {
            "add" => {
                let key = self.key("s", &op.value);
                let body = put_body(&key, op.value.to_string().as_bytes());
                match self.call("put", &body, deadline) {
                    Ok(_) => Completion::ok(op.value.clone()),
                    Err(e) => write_error(op, e),
                }
            }
            "read" => {
                let prefix = format!("{}s/", self.prefix).into_bytes();
                let end = prefix_end(&prefix);
                let body = range_body(&prefix, Some(&end), self.serializable);
                let r = self.call("range", &body, deadline).and_then(|v| {
                    parse_range(&v)?
                        .iter()
                        .map(|kv| {
                            serde_json::from_slice::<Value>(&kv.value)
                                .map_err(|e| EtcdError::Malformed(format!("element: {e}")))
                        })
                        .collect::<Result<Vec<Value>, _>>()
                });
                match r {
                    Ok(mut elements) => {
                        elements.sort_by_key(|e| e.as_i64());
                        Completion::ok(Value::Array(elements))
                    }
                    Err(e) => Completion::fail(Value::Null, e.to_string()),
                }
            }
            f => Completion::fail(op.value.clone(), format!("unknown operation {f}")),
        }
    }

    /// A list-append transaction as an optimistic read-modify-write: read every key
    /// at one revision, compute the reads and the new lists, then write them in a txn
    /// guarded by each key's mod revision. A lost guard means another txn got in
    /// between and nothing was written: retry from the read, a bounded number of times.
    fn append(&self, op: &Invocation, deadline: Instant) -> Completion {
        if op.f.as_ref() != "txn" {
            return Completion::fail(op.value.clone(), format!("unknown operation {}", op.f));
        }
        let Some(mops) = op.value.as_array() else {
            return Completion::fail(op.value.clone(), "txn needs an array");
        };
        let mut keys: Vec<Value> = Vec::new();
        for m in mops {
            let (Some(f), Some(k)) = (m.get(0).and_then(Value::as_str), m.get(1)) else {
                return Completion::fail(op.value.clone(), format!("bad micro-op {m}"));
            };
            if f != "r" && f != "append" {
                return Completion::fail(op.value.clone(), format!("unknown micro-op {f}"));
            }
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        let etcd_keys: Vec<Vec<u8>> = keys.iter().map(|k| self.key("a", k)).collect();
        for _ in 0..TXN_ATTEMPTS {
            let snapshot = match self
                .call("txn", &snapshot_body(&etcd_keys), deadline)
                .and_then(|v| parse_txn(&v))
                .and_then(|t| read_lists(&t, keys.len()))
            {
                Ok(s) => s,
                // Nothing written yet.
                Err(e) => return Completion::fail(op.value.clone(), e.to_string()),
            };
            let (result, lists, written) = apply_mops(mops, &keys, snapshot.clone());
            if written.iter().all(|w| !w) {
                // Read-only: the snapshot was one atomic, linearizable txn.
                return Completion::ok(result);
            }
            let guards: Vec<(Vec<u8>, i64)> = etcd_keys
                .iter()
                .zip(&snapshot)
                .map(|(k, (_, rev))| (k.clone(), *rev))
                .collect();
            let puts: Vec<(Vec<u8>, Vec<u8>)> = etcd_keys
                .iter()
                .zip(&lists)
                .zip(&written)
                .filter(|(_, w)| **w)
                .map(|((k, l), _)| (k.clone(), Value::Array(l.clone()).to_string().into_bytes()))
                .collect();
            match self
                .call("txn", &guarded_put_body(&guards, &puts), deadline)
                .and_then(|v| parse_txn(&v))
            {
                Ok(t) if t.succeeded => return Completion::ok(result),
                Ok(_) => {
                    // Another txn won the race: back off a little, at random, so the
                    // same contenders do not collide again at once.
                    let ms = rand::random_range(1..=10u64);
                    std::thread::sleep(Duration::from_millis(ms));
                }
                Err(e) => return write_error(op, e),
            }
        }
        Completion::fail(
            op.value.clone(),
            format!("txn conflict: the guard lost {TXN_ATTEMPTS} times"),
        )
    }
}

impl EtcdClient {
    /// The counter: an integer under one key (missing: 0). etcd has no atomic add, so
    /// an add reads the value and its revision and writes the sum guarded by that
    /// revision, as a client must; a lost guard is retried, boundedly.
    fn counter(&self, op: &Invocation, deadline: Instant) -> Completion {
        let key = self.key("c", op.key.as_ref().unwrap_or(&Value::Null));
        match &*op.f {
            // A read changes nothing: whatever went wrong, it did not happen.
            "read" => match self.counter_value(&key, self.serializable, deadline) {
                Ok((n, _)) => Completion::ok(json!(n)),
                Err(e) => Completion::fail(Value::Null, e.to_string()),
            },
            "add" => {
                let Some(delta) = op.value.as_i64() else {
                    return Completion::fail(op.value.clone(), "add needs an integer");
                };
                for _ in 0..TXN_ATTEMPTS {
                    // The guard needs the latest revision: never a serializable read.
                    let (n, rev) = match self.counter_value(&key, false, deadline) {
                        Ok(v) => v,
                        // Nothing written yet.
                        Err(e) => return Completion::fail(op.value.clone(), e.to_string()),
                    };
                    let Some(sum) = n.checked_add(delta) else {
                        return Completion::fail(op.value.clone(), "counter overflow");
                    };
                    let body = guarded_put_body(
                        &[(key.clone(), rev)],
                        &[(key.clone(), sum.to_string().into_bytes())],
                    );
                    match self
                        .call("txn", &body, deadline)
                        .and_then(|v| parse_txn(&v))
                    {
                        Ok(t) if t.succeeded => return Completion::ok(op.value.clone()),
                        Ok(_) => {
                            let ms = rand::random_range(1..=10u64);
                            std::thread::sleep(Duration::from_millis(ms));
                        }
                        Err(e) => return write_error(op, e),
                    }
                }
                Completion::fail(
                    op.value.clone(),
                    format!("add conflict: the guard lost {TXN_ATTEMPTS} times"),
                )
            }
            f => Completion::fail(op.value.clone(), format!("unknown operation {f}")),
        }
    }

    /// The counter's value and mod revision (0, 0 when the key is missing).
    fn counter_value(
        &self,
        key: &[u8],
        serializable: bool,
        deadline: Instant,
    ) -> Result<(i64, i64), EtcdError> {
        let v = self.call("range", &range_body(key, None, serializable), deadline)?;
        match parse_range(&v)?.first() {
            None => Ok((0, 0)),
            Some(kv) => {
                let n = std::str::from_utf8(&kv.value)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .ok_or_else(|| {
                        EtcdError::Malformed(format!(
                            "counter value {:?}",
                            String::from_utf8_lossy(&kv.value)
                        ))
                    })?;
                Ok((n, kv.mod_revision))
            }
        }
    }
}

/// A write's error: `fail` when it certainly did not apply, else `info`.
fn write_error(op: &Invocation, e: EtcdError) -> Completion {
    if e.definite() {
        Completion::fail(op.value.clone(), e.to_string())
    } else {
        Completion::info(op.value.clone(), e.to_string())
    }
}

/// Each key's list (JSON array text; missing = empty) and mod revision (0 = missing),
/// from a snapshot txn's answer.
fn read_lists(t: &TxnAnswer, n: usize) -> Result<Vec<(Vec<Value>, i64)>, EtcdError> {
    if t.ranges.len() != n {
        return Err(EtcdError::Malformed(format!(
            "{} range answers for {n} keys",
            t.ranges.len()
        )));
    }
    t.ranges
        .iter()
        .map(|kvs| match kvs.first() {
            None => Ok((Vec::new(), 0)),
            Some(kv) => match serde_json::from_slice::<Value>(&kv.value) {
                Ok(Value::Array(l)) => Ok((l, kv.mod_revision)),
                Ok(other) => Err(EtcdError::Malformed(format!("list value {other}"))),
                Err(e) => Err(EtcdError::Malformed(format!("list value: {e}"))),
            },
        })
        .collect()
}

/// Runs the micro-ops over the snapshot: the completed txn value (reads filled in,
/// seeing the txn's own earlier appends), each key's new list, and which keys changed.
fn apply_mops(
    mops: &[Value],
    keys: &[Value],
    snapshot: Vec<(Vec<Value>, i64)>,
) -> (Value, Vec<Vec<Value>>, Vec<bool>) {
    let mut lists: Vec<Vec<Value>> = snapshot.into_iter().map(|(l, _)| l).collect();
    let mut written = vec![false; keys.len()];
    let mut out = Vec::with_capacity(mops.len());
    for m in mops {
        let k = &m[1];
        let i = keys.iter().position(|x| x == k).unwrap_or(0);
        if m[0] == "r" {
            out.push(json!(["r", k, lists[i]]));
        } else {
            lists[i].push(m.get(2).cloned().unwrap_or(Value::Null));
            written[i] = true;
            out.push(m.clone());
        }
    }
    (Value::Array(out), lists, written)
}

impl Client for EtcdClient {
    fn invoke(&mut self, op: &Invocation) -> Completion {
        let deadline = Instant::now() + op.timeout;
        match self.kind {
            WorkloadKind::Register => self.register(op, deadline),
            WorkloadKind::Set => self.set(op, deadline),
            WorkloadKind::Append => self.append(op, deadline),
            WorkloadKind::Counter => self.counter(op, deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies() {
        assert_eq!(range_body(b"k", None, false), json!({"key": "aw=="}));
        assert_eq!(
            range_body(b"p/", Some(b"p0"), true),
            json!({"key": "cC8=", "range_end": "cDA=", "serializable": true})
        );
        assert_eq!(
            put_body(b"k", b"3"),
            json!({"key": "aw==", "value": "Mw=="})
        );
        let cas = cas_body(b"k", b"1", b"2");
        assert_eq!(cas["compare"][0]["target"], "VALUE");
        assert_eq!(cas["compare"][0]["value"], "MQ==");
        assert_eq!(cas["success"][0]["request_put"]["value"], "Mg==");
        let g = guarded_put_body(
            &[(b"a".to_vec(), 0), (b"b".to_vec(), 17)],
            &[(b"a".to_vec(), b"[1]".to_vec())],
        );
        assert_eq!(g["compare"][1]["mod_revision"], "17");
        assert_eq!(g["compare"][0]["target"], "MOD");
        assert_eq!(g["success"].as_array().unwrap().len(), 1);
        assert_eq!(
            snapshot_body(&[b"a".to_vec()]),
            json!({"success": [{"request_range": {"key": "YQ=="}}]})
        );
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"p/"), b"p0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), b"\0");
    }

    #[test]
    fn range_answers() {
        // As etcd 3.4's gateway writes them: int64 as strings, empty fields omitted.
        let v: Value = serde_json::from_str(
            r#"{"header":{"cluster_id":"1","member_id":"2","revision":"9","raft_term":"3"},
                "kvs":[{"key":"aw==","create_revision":"4","mod_revision":"9","version":"2","value":"Mw=="}],
                "count":"1"}"#,
        )
        .unwrap();
        let kvs = parse_range(&v).unwrap();
        assert_eq!(
            kvs,
            vec![Kv {
                key: b"k".to_vec(),
                value: b"3".to_vec(),
                mod_revision: 9
            }]
        );
        assert!(parse_range(&json!({"header": {}})).unwrap().is_empty());
        assert!(parse_range(&json!({"kvs": [{"key": "%%%"}]})).is_err());
        assert!(parse_range(&json!({"kvs": 3})).is_err());
    }

    #[test]
    fn txn_answers() {
        let v: Value = serde_json::from_str(
            r#"{"header":{"revision":"12"},"succeeded":true,"responses":[
                {"response_range":{"header":{},"kvs":[{"key":"YQ==","mod_revision":"11","value":"WzEsMl0="}],"count":"1"}},
                {"response_range":{"header":{}}},
                {"response_put":{"header":{}}}]}"#,
        )
        .unwrap();
        let t = parse_txn(&v).unwrap();
        assert!(t.succeeded);
        assert_eq!(t.ranges.len(), 3);
        assert_eq!(t.ranges[0][0].value, b"[1,2]");
        let lists = read_lists(
            &TxnAnswer {
                succeeded: true,
                ranges: t.ranges[..2].to_vec(),
            },
            2,
        )
        .unwrap();
        assert_eq!(lists, vec![(vec![json!(1), json!(2)], 11), (vec![], 0)]);
        // A lost guard: `succeeded` omitted.
        assert!(!parse_txn(&json!({"header": {}})).unwrap().succeeded);
        assert!(parse_txn(&json!([])).is_err());
    }

    #[test]
    fn micro_ops_see_their_own_appends() {
        let mops = vec![
            json!(["r", 1, null]),
            json!(["append", 1, 5]),
            json!(["r", 1, null]),
            json!(["r", 2, null]),
        ];
        let keys = vec![json!(1), json!(2)];
        let (out, lists, written) =
            apply_mops(&mops, &keys, vec![(vec![json!(4)], 3), (vec![], 0)]);
        assert_eq!(
            out,
            json!([
                ["r", 1, [4]],
                ["append", 1, 5],
                ["r", 1, [4, 5]],
                ["r", 2, []]
            ])
        );
        assert_eq!(lists[0], vec![json!(4), json!(5)]);
        assert_eq!(written, vec![true, false]);
    }

    #[test]
    fn error_classification() {
        let e = classify_status(
            503,
            r#"{"error":"etcdserver: request timed out","code":14,"message":"etcdserver: request timed out"}"#,
        );
        assert!(!e.definite(), "{e:?}");
        let e = classify_status(
            400,
            r#"{"error":"etcdserver: too many operations in txn request","code":3}"#,
        );
        assert!(e.definite(), "{e:?}");
        assert!(e.to_string().contains("too many operations"));
        assert!(classify_status(404, "Not Found").definite());
        assert!(!classify_status(502, "<html>").definite());
        assert!(EtcdError::NotSent("refused".into()).definite());
        assert!(!EtcdError::Timeout("PerCall".into()).definite());
        assert!(!EtcdError::Lost("reset".into()).definite());
        use std::io::{Error as IoError, ErrorKind};
        let refused = ureq::Error::Io(IoError::from(ErrorKind::ConnectionRefused));
        assert!(classify_transport(refused).definite());
        let reset = ureq::Error::Io(IoError::from(ErrorKind::ConnectionReset));
        assert!(!classify_transport(reset).definite());
        assert!(classify_transport(ureq::Error::Timeout(ureq::Timeout::Connect)).definite());
        let slow = classify_transport(ureq::Error::Timeout(ureq::Timeout::Global));
        assert!(matches!(slow, EtcdError::Timeout(_)), "{slow:?}");
    }

    #[test]
    fn refused_connections_fail_and_reads_never_info() {
        // A port nothing listens on (bound, then closed): connection refused.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let f = EtcdClients::new(
            &[("n1".into(), "127.0.0.1".into())],
            port,
            WorkloadKind::Register,
            "/t/",
            false,
        );
        let mut c = f.open("n1").unwrap();
        let inv = |f: &str, value: Value| Invocation {
            f: f.into(),
            value,
            key: Some(json!(1)),
            timeout: Duration::from_secs(2),
        };
        for (f, v) in [
            ("read", Value::Null),
            ("write", json!(3)),
            ("cas", json!([1, 2])),
        ] {
            let c = c.invoke(&inv(f, v));
            assert_eq!(
                c.kind,
                faultline_checkers::history::OpType::Fail,
                "{f}: {c:?}"
            );
        }
        assert!(f.open("n9").is_err());
    }
}
