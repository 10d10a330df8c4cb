//! PostgreSQL clients for the append workload: list-append transactions over SQL, one
//! transaction per operation at the isolation level the test asks for.
//!
//! One row per key holds its whole list (`k bigint primary key, v bigint[]`). An
//! append is `INSERT ... ON CONFLICT (k) DO UPDATE SET v = array_append(t.v, $2)`: a
//! single atomic read-modify-write, so appends are never lost at any level and the
//! lists really are lists (a row per element ordered by a sequence would order
//! elements by when they were inserted, not by when they committed). A read is a
//! `SELECT`. What differs between levels is what the reads see: at read committed
//! each statement sees the newest committed rows, so a transaction that reads two
//! keys may see one before and one after another transaction's appends (read skew,
//! G-single), and two transactions may each read what the other writes (write skew,
//! G2-item); repeatable read (snapshot isolation) still allows write skew; serializable
//! allows neither.
//!
//! Outcomes (Jepsen's rules): anything that fails before COMMIT is sent, and a
//! serialization failure or deadlock reported by COMMIT itself, is `fail` (the
//! server rolled the transaction back); any other error or a lost connection during
//! COMMIT is `info` (it may have committed), except for read-only transactions,
//! which cannot have changed anything.

use std::time::{Duration, Instant};

use faultline_checkers::elle::ConsistencyModel;
use faultline_workloads::workload::WorkloadKind;
use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Config, NoTls, Statement};
use serde_json::{json, Value};

use crate::db::postgres::{server_node, Postgres, DATABASE, USER};
use crate::runner::{Client, ClientFactory, Completion, Invocation, OpenError};
use faultline_control::Node;

/// The table the append workload uses; [`PostgresClients::prepare`] recreates it.
pub const TABLE: &str = "faultline_append";

const CREATE: &str = "CREATE TABLE faultline_append (k bigint PRIMARY KEY, v bigint[] NOT NULL)";
const READ: &str = "SELECT v FROM faultline_append WHERE k = $1";
const APPEND: &str = "INSERT INTO faultline_append AS t (k, v) VALUES ($1, ARRAY[$2::bigint]) \
                      ON CONFLICT (k) DO UPDATE SET v = array_append(t.v, $2::bigint)";

/// The SQL isolation levels PostgreSQL offers (read uncommitted is read committed there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read-committed",
            Isolation::RepeatableRead => "repeatable-read",
            Isolation::Serializable => "serializable",
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }

    /// The consistency model PostgreSQL promises at this level, which a test checks
    /// against unless told otherwise. PostgreSQL's repeatable read is snapshot
    /// isolation (its documentation says so): it allows write skew (G2-item), which
    /// Adya's repeatable read forbids, so checking it against repeatable-read would
    /// report what PostgreSQL never promised.
    pub fn promised_model(self) -> ConsistencyModel {
        match self {
            Isolation::ReadCommitted => ConsistencyModel::ReadCommitted,
            Isolation::RepeatableRead => ConsistencyModel::SnapshotIsolation,
            Isolation::Serializable => ConsistencyModel::Serializable,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PgClientError {
    #[error("postgres at {host}:{port}: {source}")]
    Postgres {
        host: String,
        port: u16,
        source: postgres::Error,
    },
    #[error("the postgres client runs only the append workload, not {0}")]
    Workload(&'static str),
    #[error("no nodes: PostgreSQL runs on the first node")]
    NoNodes,
}

/// Opens PostgreSQL clients: every one connects to the one server, whatever node its
/// worker is bound to.
#[derive(Debug, Clone)]
pub struct PostgresClients {
    host: String,
    port: u16,
    isolation: Isolation,
}

impl PostgresClients {
    pub fn new(
        kind: WorkloadKind,
        host: impl Into<String>,
        port: u16,
        isolation: Isolation,
    ) -> Result<Self, PgClientError> {
        if kind != WorkloadKind::Append {
            return Err(PgClientError::Workload(kind.name()));
        }
        Ok(PostgresClients {
            host: host.into(),
            port,
            isolation,
        })
    }

    /// Clients of the server `db` runs on `nodes` (up by now), the workload's table made
    /// afresh.
    pub fn for_server(
        nodes: &[Node],
        db: &Postgres,
        kind: WorkloadKind,
        isolation: Isolation,
        timeout: Duration,
    ) -> Result<Self, PgClientError> {
        let server = server_node(nodes).ok_or(PgClientError::NoNodes)?;
        let clients = PostgresClients::new(kind, &server.host, db.port, isolation)?;
        // Creating a table can take longer than an operation may.
        clients.prepare(timeout.max(Duration::from_secs(10)))?;
        Ok(clients)
    }

    fn config(&self, timeout: Duration) -> Config {
        let ms = timeout.as_millis().max(1);
        let mut c = Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(USER)
            .dbname(DATABASE)
            .application_name("faultline")
            // Server-side bounds: a statement (lock waits included) gives up after the
            // op timeout, and a session its client abandoned mid-transaction is ended.
            .options(&format!(
                "-c statement_timeout={ms} -c idle_in_transaction_session_timeout={}",
                ms.saturating_mul(4)
            ))
            .connect_timeout(timeout)
            // Unacknowledged data (a partitioned server) ends the connection.
            .tcp_user_timeout(timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5));
        c
    }

    fn error(&self, source: postgres::Error) -> PgClientError {
        PgClientError::Postgres {
            host: self.host.clone(),
            port: self.port,
            source,
        }
    }

    /// Recreates the workload's table, empty (a server left running by an earlier
    /// test may hold one). Runs once, from the controller, before the clients start.
    pub fn prepare(&self, timeout: Duration) -> Result<(), PgClientError> {
        let mut c = self
            .config(timeout)
            .connect(NoTls)
            .map_err(|e| self.error(e))?;
        c.batch_execute(&format!("DROP TABLE IF EXISTS {TABLE}; {CREATE}"))
            .map_err(|e| self.error(e))
    }
}

impl ClientFactory for PostgresClients {
    /// Connects lazily, on the first operation: a refused connection is then that
    /// operation's `fail`, and a lost one is reopened by the next.
    fn open(&self, _node: &str) -> Result<Box<dyn Client>, OpenError> {
        Ok(Box::new(PostgresClient {
            clients: self.clone(),
            conn: None,
        }))
    }
}

/// One connection and its prepared statements.
struct Conn {
    client: postgres::Client,
    read: Statement,
    append: Statement,
}

pub struct PostgresClient {
    clients: PostgresClients,
    conn: Option<Conn>,
}

/// A micro-op with its key and value as the table holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MicroOp {
    Read(i64),
    Append(i64, i64),
}

/// Parses a txn's micro-ops: `["r", k, null]` and `["append", k, v]` with integer keys
/// and values.
pub fn parse_mops(value: &Value) -> Result<Vec<MicroOp>, String> {
    let mops = value.as_array().ok_or("txn needs an array of micro-ops")?;
    mops.iter()
        .map(|m| {
            let f = m.get(0).and_then(Value::as_str);
            let k = m.get(1).and_then(Value::as_i64);
            match (f, k) {
                (Some("r"), Some(k)) => Ok(MicroOp::Read(k)),
                (Some("append"), Some(k)) => match m.get(2).and_then(Value::as_i64) {
                    Some(v) => Ok(MicroOp::Append(k, v)),
                    None => Err(format!("micro-op {m}: the value must be an integer")),
                },
                (Some("r" | "append"), None) => {
                    Err(format!("micro-op {m}: the key must be an integer"))
                }
                _ => Err(format!("unknown micro-op {m}")),
            }
        })
        .collect()
}

/// Whether the server rolled the transaction back for a conflict: serialization
/// failure or deadlock.
fn rolled_back(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

fn describe(e: &postgres::Error) -> String {
    match (e.as_db_error(), e.code()) {
        (Some(db), Some(code)) => format!("{} ({})", db.message(), code.code()),
        _ => e.to_string(),
    }
}

impl PostgresClient {
    /// The open connection, or a new one when there is none or it was lost.
    fn connect(&mut self, timeout: Duration) -> Result<&mut Conn, postgres::Error> {
        let conn = match self.conn.take() {
            Some(c) if !c.client.is_closed() => c,
            _ => {
                let mut client = self.clients.config(timeout).connect(NoTls)?;
                let read = client.prepare_typed(READ, &[Type::INT8])?;
                let append = client.prepare_typed(APPEND, &[Type::INT8, Type::INT8])?;
                Conn {
                    client,
                    read,
                    append,
                }
            }
        };
        Ok(self.conn.insert(conn))
    }

    /// Runs the micro-ops inside an open transaction; the completed value on success.
    fn body(
        conn: &mut Conn,
        mops: &[MicroOp],
        deadline: Instant,
    ) -> Result<Value, Result<postgres::Error, String>> {
        let mut out = Vec::with_capacity(mops.len());
        for m in mops {
            if Instant::now() >= deadline {
                return Err(Err("timed out before COMMIT".into()));
            }
            match *m {
                MicroOp::Read(k) => {
                    let row = conn.client.query_opt(&conn.read, &[&k]).map_err(Ok)?;
                    let list: Vec<i64> = match row {
                        Some(r) => r.try_get(0).map_err(Ok)?,
                        None => Vec::new(),
                    };
                    out.push(json!(["r", k, list]));
                }
                MicroOp::Append(k, v) => {
                    conn.client.execute(&conn.append, &[&k, &v]).map_err(Ok)?;
                    out.push(json!(["append", k, v]));
                }
            }
        }
        Ok(Value::Array(out))
    }

    fn txn(&mut self, op: &Invocation) -> Completion {
        let deadline = Instant::now() + op.timeout;
        if op.f.as_ref() != "txn" {
            return Completion::fail(op.value.clone(), format!("unknown operation {}", op.f));
        }
        let mops = match parse_mops(&op.value) {
            Ok(m) => m,
            Err(e) => return Completion::fail(op.value.clone(), e),
        };
        let read_only = mops.iter().all(|m| matches!(m, MicroOp::Read(_)));
        let begin = format!("BEGIN ISOLATION LEVEL {}", self.clients.isolation.sql());
        let conn = match self.connect(op.timeout) {
            Ok(c) => c,
            // Nothing was sent.
            Err(e) => return Completion::fail(op.value.clone(), format!("connect: {e}")),
        };
        let result = conn
            .client
            .batch_execute(&begin)
            .map_err(Ok)
            .and_then(|()| Self::body(conn, &mops, deadline));
        let value = match result {
            Ok(v) => v,
            Err(e) => {
                // COMMIT was never sent: nothing of it can have taken effect.
                let why = match &e {
                    Ok(e) => describe(e),
                    Err(s) => s.clone(),
                };
                if conn.client.is_closed() || conn.client.batch_execute("ROLLBACK").is_err() {
                    self.conn = None;
                }
                return Completion::fail(op.value.clone(), why);
            }
        };
        match conn.client.batch_execute("COMMIT") {
            Ok(()) => Completion::ok(value),
            Err(e) if rolled_back(&e) || read_only => {
                if conn.client.is_closed() {
                    self.conn = None;
                }
                Completion::fail(op.value.clone(), describe(&e))
            }
            Err(e) => {
                // It may have committed; the connection's state is unknown.
                self.conn = None;
                Completion::info(op.value.clone(), format!("during COMMIT: {}", describe(&e)))
            }
        }
    }
}

impl Client for PostgresClient {
    fn invoke(&mut self, op: &Invocation) -> Completion {
        self.txn(op)
    }

    fn close(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_ops_parse() {
        let v = json!([["r", 1, null], ["append", 2, 7]]);
        assert_eq!(
            parse_mops(&v).unwrap(),
            vec![MicroOp::Read(1), MicroOp::Append(2, 7)]
        );
        assert!(parse_mops(&json!([["append", 1, "x"]])).is_err());
        assert!(parse_mops(&json!([["r", "k", null]])).is_err());
        assert!(parse_mops(&json!([["w", 1, 2]])).is_err());
        assert!(parse_mops(&json!({"r": 1})).is_err());
    }

    #[test]
    fn isolation_levels_map_to_what_postgres_promises() {
        assert_eq!(
            Isolation::ReadCommitted.promised_model(),
            ConsistencyModel::ReadCommitted
        );
        assert_eq!(
            Isolation::RepeatableRead.promised_model(),
            ConsistencyModel::SnapshotIsolation
        );
        assert_eq!(
            Isolation::Serializable.promised_model(),
            ConsistencyModel::Serializable
        );
        assert_eq!(Isolation::Serializable.sql(), "SERIALIZABLE");
    }

    #[test]
    fn only_the_append_workload() {
        assert!(
            PostgresClients::new(WorkloadKind::Register, "h", 5432, Isolation::Serializable)
                .is_err()
        );
        assert!(
            PostgresClients::new(WorkloadKind::Append, "h", 5432, Isolation::Serializable).is_ok()
        );
    }

    #[test]
    fn refused_connections_fail() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let clients = PostgresClients::new(
            WorkloadKind::Append,
            "127.0.0.1",
            1,
            Isolation::Serializable,
        )
        .unwrap();
        let mut c = clients.open("n1").unwrap();
        let op = Invocation {
            f: "txn".into(),
            value: json!([["append", 1, 1]]),
            key: None,
            timeout: Duration::from_secs(2),
        };
        let done = c.invoke(&op);
        assert_eq!(
            done.kind,
            faultline_checkers::history::OpType::Fail,
            "{done:?}"
        );
    }
}
