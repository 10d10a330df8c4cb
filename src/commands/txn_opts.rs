//! The transactional options of `faultline test`: the isolation level a database runs
//! its transactions at (`--isolation`, PostgreSQL only) and the consistency model the
//! append workload's history is checked against (`--consistency-model`).
//!
//! As Jepsen's postgres tests, a test checks by default against what the isolation
//! level promises (read committed against read-committed, serializable against
//! serializable), so a valid verdict means "PostgreSQL kept its promise". Checking a
//! weaker level against a stronger model (read committed against serializable) shows
//! the anomalies the weaker level allows.

use faultline::clients::postgres::Isolation;
use faultline_checkers::elle::{ConsistencyModel, UnknownModel};
use faultline_workloads::workload::WorkloadKind;

use super::db::DbKind;
use super::UsageError;

/// What `--isolation` and `--consistency-model` come to for one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOpts {
    /// Some for PostgreSQL (serializable unless told), None for etcd.
    pub isolation: Option<Isolation>,
    /// The append checker's model.
    pub consistency_model: ConsistencyModel,
}

/// Validates the options against the database and the workloads to run.
pub fn resolve(
    db: DbKind,
    kinds: &[WorkloadKind],
    isolation: Option<Isolation>,
    consistency_model: Option<&str>,
) -> Result<TxnOpts, UsageError> {
    let isolation = match db {
        DbKind::Etcd | DbKind::Shell => {
            if let Some(i) = isolation {
                return Err(UsageError(format!(
                    "--isolation {} is for --db postgres (etcd has no isolation levels; a \
                     suite's client takes its own settings through [client] env)",
                    i.name()
                )));
            }
            None
        }
        DbKind::Postgres => {
            if let Some(k) = kinds.iter().find(|k| **k != WorkloadKind::Append) {
                return Err(UsageError(format!(
                    "--db postgres runs only the append workload, not {}",
                    k.name()
                )));
            }
            Some(isolation.unwrap_or(Isolation::Serializable))
        }
    };
    let consistency_model = match consistency_model {
        Some(m) => {
            if !kinds.contains(&WorkloadKind::Append) {
                return Err(UsageError(
                    "--consistency-model applies to the append workload only".into(),
                ));
            }
            m.parse()
                .map_err(|e: UnknownModel| UsageError(format!("--consistency-model: {e}")))?
        }
        None => isolation.map_or(ConsistencyModel::StrictSerializable, |i| i.promised_model()),
    };
    Ok(TxnOpts {
        isolation,
        consistency_model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPEND: &[WorkloadKind] = &[WorkloadKind::Append];

    #[test]
    fn the_model_follows_the_isolation_level() {
        let o = resolve(
            DbKind::Postgres,
            APPEND,
            Some(Isolation::ReadCommitted),
            None,
        )
        .unwrap();
        assert_eq!(o.consistency_model, ConsistencyModel::ReadCommitted);
        let o = resolve(DbKind::Postgres, APPEND, None, None).unwrap();
        assert_eq!(o.isolation, Some(Isolation::Serializable));
        assert_eq!(o.consistency_model, ConsistencyModel::Serializable);
        let o = resolve(
            DbKind::Postgres,
            APPEND,
            Some(Isolation::ReadCommitted),
            Some("serializable"),
        )
        .unwrap();
        assert_eq!(o.consistency_model, ConsistencyModel::Serializable);
        let o = resolve(DbKind::Etcd, APPEND, None, None).unwrap();
        assert_eq!(o.isolation, None);
        assert_eq!(o.consistency_model, ConsistencyModel::StrictSerializable);
    }

    #[test]
    fn bad_combinations_are_usage_errors() {
        assert!(resolve(DbKind::Etcd, APPEND, Some(Isolation::Serializable), None).is_err());
        assert!(resolve(DbKind::Postgres, &[WorkloadKind::Register], None, None).is_err());
        assert!(resolve(
            DbKind::Etcd,
            &[WorkloadKind::Set],
            None,
            Some("serializable")
        )
        .is_err());
        assert!(resolve(DbKind::Etcd, APPEND, None, Some("nonsense")).is_err());
    }
}
