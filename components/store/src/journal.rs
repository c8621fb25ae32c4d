use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use crate::error::StoreError;
use crate::open::{Store, with_pool};
use crate::time::{from_millis, to_millis};

/// The outcome of one journalled operation (per service when `service` is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Partial,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Partial => "partial",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ok" => Self::Ok,
            "failed" => Self::Failed,
            "partial" => Self::Partial,
            "skipped" => Self::Skipped,
            other => return Err(format!("unknown journal outcome {other:?}")),
        })
    }
}

/// One journal line to record. The caller guarantees `detail` holds no secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub at: SystemTime,
    /// The command, e.g. `service install` or `user reset-password`.
    pub command: String,
    /// The service this line is about, if any.
    pub service: Option<String>,
    pub outcome: Outcome,
    /// A short human-readable detail (an error message, counts...).
    pub detail: String,
}

impl JournalEntry {
    /// An entry stamped now, without service or detail.
    pub fn new(command: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            at: SystemTime::now(),
            command: command.into(),
            service: None,
            outcome,
            detail: String::new(),
        }
    }

    #[must_use]
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// A recorded journal line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    pub id: i64,
    pub entry: JournalEntry,
}

impl Store {
    /// Append a journal line; returns its id.
    pub async fn record(&self, entry: &JournalEntry) -> Result<i64, StoreError> {
        let r: Result<(i64,), sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "INSERT INTO journal (at, command, service, outcome, detail) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(to_millis(entry.at))
            .bind(&entry.command)
            .bind(entry.service.as_deref())
            .bind(entry.outcome.as_str())
            .bind(&entry.detail)
            .fetch_one(pool)
            .await
        });
        Ok(r.map_err(|e| self.db_err(e))?.0)
    }

    /// The newest `limit` journal lines, newest first.
    pub async fn history(&self, limit: u32) -> Result<Vec<JournalRecord>, StoreError> {
        type Row = (i64, i64, String, Option<String>, String, String);
        let r: Result<Vec<Row>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, at, command, service, outcome, detail FROM journal \
                 ORDER BY id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        });
        r.map_err(|e| self.db_err(e))?
            .into_iter()
            .map(|(id, at, command, service, outcome, detail)| {
                let outcome = outcome.parse().map_err(|e| self.decode_err(e))?;
                Ok(JournalRecord {
                    id,
                    entry: JournalEntry {
                        at: from_millis(at),
                        command,
                        service,
                        outcome,
                        detail,
                    },
                })
            })
            .collect()
    }
}
