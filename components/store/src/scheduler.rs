use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::error::StoreError;
use crate::open::{Store, with_pool};
use crate::time::{add_millis, from_millis, to_millis};

/// How an execution attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionOutcome {
    Success,
    Failed,
    Panicked,
    TimedOut,
    Cancelled,
}

impl ExecutionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Panicked => "panicked",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ExecutionOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "success" => Self::Success,
            "failed" => Self::Failed,
            "panicked" => Self::Panicked,
            "timed_out" => Self::TimedOut,
            "cancelled" => Self::Cancelled,
            other => return Err(format!("unknown execution outcome {other:?}")),
        })
    }
}

/// The start of one execution attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExecution {
    pub job: String,
    pub trigger: String,
    pub scheduled_for: SystemTime,
    pub started_at: SystemTime,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// A recorded execution attempt; `ended_at`/`outcome` are `None` while it runs (or if the
/// runner died).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub id: i64,
    pub job: String,
    pub trigger: String,
    pub scheduled_for: SystemTime,
    pub started_at: SystemTime,
    pub ended_at: Option<SystemTime>,
    pub attempt: u32,
    pub outcome: Option<ExecutionOutcome>,
    pub error: Option<String>,
}

/// A lease held by `holder` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub expires_at: SystemTime,
}

type ExecRow = (
    i64,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Record the start of an attempt; returns its id for [`Store::finish_execution`].
    pub async fn start_execution(&self, e: &NewExecution) -> Result<i64, StoreError> {
        let r: Result<(i64,), sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "INSERT INTO executions (job, trigger_name, scheduled_for, started_at, attempt) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&e.job)
            .bind(&e.trigger)
            .bind(to_millis(e.scheduled_for))
            .bind(to_millis(e.started_at))
            .bind(i64::from(e.attempt))
            .fetch_one(pool)
            .await
        });
        Ok(r.map_err(|e| self.db_err(e))?.0)
    }

    /// Record how an attempt ended; false if no such execution exists.
    pub async fn finish_execution(
        &self,
        id: i64,
        ended_at: SystemTime,
        outcome: ExecutionOutcome,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE executions SET ended_at = $1, outcome = $2, error = $3 WHERE id = $4",
            )
            .bind(to_millis(ended_at))
            .bind(outcome.as_str())
            .bind(error)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        Ok(r.map_err(|e| self.db_err(e))? > 0)
    }

    /// The newest `limit` executions of `job`, newest first.
    pub async fn executions(&self, job: &str, limit: u32) -> Result<Vec<Execution>, StoreError> {
        let r: Result<Vec<ExecRow>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, job, trigger_name, scheduled_for, started_at, ended_at, attempt, outcome, error \
                 FROM executions WHERE job = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(job)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        });
        r.map_err(|e| self.db_err(e))?
            .into_iter()
            .map(|(id, job, trigger, sf, sa, ea, attempt, outcome, error)| {
                let outcome = outcome
                    .map(|o| o.parse::<ExecutionOutcome>())
                    .transpose()
                    .map_err(|e| self.decode_err(e))?;
                Ok(Execution {
                    id,
                    job,
                    trigger,
                    scheduled_for: from_millis(sf),
                    started_at: from_millis(sa),
                    ended_at: ea.map(from_millis),
                    attempt: u32::try_from(attempt).map_err(|e| self.decode_err(e.to_string()))?,
                    outcome,
                    error,
                })
            })
            .collect()
    }

    /// Keep only the newest `keep` executions of `job` (a bounded history); returns how many
    /// were deleted.
    pub async fn prune_executions(&self, job: &str, keep: u32) -> Result<u64, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM executions WHERE job = $1 AND id NOT IN \
                 (SELECT id FROM executions WHERE job = $1 ORDER BY id DESC LIMIT $2)",
            )
            .bind(job)
            .bind(i64::from(keep))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        r.map_err(|e| self.db_err(e))
    }

    /// The last scheduled occurrence of a trigger, if any was recorded.
    pub async fn last_scheduled(
        &self,
        job: &str,
        trigger: &str,
    ) -> Result<Option<SystemTime>, StoreError> {
        let r: Result<Option<(i64,)>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT last_scheduled FROM trigger_state WHERE job = $1 AND trigger_name = $2",
            )
            .bind(job)
            .bind(trigger)
            .fetch_optional(pool)
            .await
        });
        Ok(r.map_err(|e| self.db_err(e))?.map(|(t,)| from_millis(t)))
    }

    /// Advance a trigger's last scheduled occurrence. It only moves forward: an older value
    /// (e.g. from a slower runner) is ignored. Returns true if the stored value changed.
    pub async fn set_last_scheduled(
        &self,
        job: &str,
        trigger: &str,
        at: SystemTime,
    ) -> Result<bool, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO trigger_state (job, trigger_name, last_scheduled) VALUES ($1, $2, $3) \
                 ON CONFLICT (job, trigger_name) DO UPDATE SET last_scheduled = excluded.last_scheduled \
                 WHERE trigger_state.last_scheduled < excluded.last_scheduled",
            )
            .bind(job)
            .bind(trigger)
            .bind(to_millis(at))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        Ok(r.map_err(|e| self.db_err(e))? > 0)
    }

    /// Take the lease `name` for `holder` until `now + ttl` if it is free, expired, or
    /// already held by `holder` (then it is extended). Atomic: of several runners racing,
    /// exactly one gets it. Returns the lease when acquired, `None` when someone else holds it.
    pub async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let expires = add_millis(now, ttl);
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder",
            )
            .bind(name)
            .bind(holder)
            .bind(expires)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        let acquired = r.map_err(|e| self.db_err(e))? > 0;
        Ok(acquired.then(|| Lease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            expires_at: from_millis(expires),
        }))
    }

    /// Extend a lease still held (not expired) by `holder`; false if it was lost.
    pub async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE leases SET expires_at = $1 WHERE name = $2 AND holder = $3 AND expires_at > $4",
            )
            .bind(add_millis(now, ttl))
            .bind(name)
            .bind(holder)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        Ok(r.map_err(|e| self.db_err(e))? > 0)
    }

    /// Give a lease back; false if `holder` did not hold it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        });
        Ok(r.map_err(|e| self.db_err(e))? > 0)
    }

    /// The current lease row (possibly expired), if any.
    pub async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let r: Result<Option<(String, String, i64)>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT name, holder, expires_at FROM leases WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
        });
        Ok(r.map_err(|e| self.db_err(e))?
            .map(|(name, holder, e)| Lease {
                name,
                holder,
                expires_at: from_millis(e),
            }))
    }
}
