use std::fmt;
use std::time::SystemTime;

use crate::error::StoreError;
use crate::open::{Store, with_pool, with_tx};
use crate::time::{from_millis, to_millis};

/// An encrypted secret as stored: the store never sees the plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretRow {
    pub name: String,
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

impl fmt::Debug for SecretRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRow")
            .field("name", &self.name)
            .field(
                "ciphertext",
                &format_args!("<{} bytes>", self.ciphertext.len()),
            )
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// A secret to insert (already encrypted by the caller).
#[derive(Clone)]
pub struct NewSecret {
    pub name: String,
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
}

impl fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSecret")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Name and dates of a stored secret, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub name: String,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

/// What [`Store::import_secrets_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The marker was already set: nothing was written.
    AlreadyDone,
    /// Imported now. `kept` names already existed and were not overwritten.
    Imported {
        inserted: Vec<String>,
        kept: Vec<String>,
    },
}

type SecretTuple = (String, Vec<u8>, Vec<u8>, i64, i64);

impl Store {
    /// Insert or replace a secret (keeps its creation date).
    pub async fn put_secret(&self, secret: &NewSecret, now: SystemTime) -> Result<(), StoreError> {
        let now = to_millis(now);
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO secrets (name, ciphertext, nonce, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, \
                 nonce = excluded.nonce, updated_at = excluded.updated_at",
            )
            .bind(&secret.name)
            .bind(&secret.ciphertext)
            .bind(&secret.nonce)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        r.map(drop).map_err(|e| self.db_err(e))
    }

    /// One secret's stored row.
    pub async fn get_secret(&self, name: &str) -> Result<Option<SecretRow>, StoreError> {
        let r: Result<Option<SecretTuple>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT name, ciphertext, nonce, created_at, updated_at FROM secrets WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await
        });
        Ok(r.map_err(|e| self.db_err(e))?
            .map(|(name, ciphertext, nonce, c, u)| SecretRow {
                name,
                ciphertext,
                nonce,
                created_at: from_millis(c),
                updated_at: from_millis(u),
            }))
    }

    /// Every secret's name and dates, sorted by name.
    pub async fn list_secrets(&self) -> Result<Vec<SecretInfo>, StoreError> {
        let r: Result<Vec<(String, i64, i64)>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT name, created_at, updated_at FROM secrets ORDER BY name")
                .fetch_all(pool)
                .await
        });
        Ok(r.map_err(|e| self.db_err(e))?
            .into_iter()
            .map(|(name, c, u)| SecretInfo {
                name,
                created_at: from_millis(c),
                updated_at: from_millis(u),
            })
            .collect())
    }

    /// Delete a secret; true if it existed.
    pub async fn delete_secret(&self, name: &str) -> Result<bool, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM secrets WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        });
        Ok(r.map_err(|e| self.db_err(e))? > 0)
    }

    /// Atomically: unless meta `marker` is set, insert `secrets` (existing names are kept,
    /// never overwritten) and set the marker to `marker_value`. Runs at most once per
    /// database, even with several processes racing.
    pub async fn import_secrets_once(
        &self,
        marker: &str,
        marker_value: &str,
        secrets: &[NewSecret],
        now: SystemTime,
    ) -> Result<ImportOutcome, StoreError> {
        let now = to_millis(now);
        let r: Result<ImportOutcome, sqlx::Error> = with_tx!(self, |tx| {
            let claimed = sqlx::query(
                "INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(marker)
            .bind(marker_value)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                ImportOutcome::AlreadyDone
            } else {
                let mut inserted = Vec::new();
                let mut kept = Vec::new();
                for s in secrets {
                    let n = sqlx::query(
                        "INSERT INTO secrets (name, ciphertext, nonce, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(&s.name)
                    .bind(&s.ciphertext)
                    .bind(&s.nonce)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n > 0 {
                        inserted.push(s.name.clone())
                    } else {
                        kept.push(s.name.clone())
                    }
                }
                ImportOutcome::Imported { inserted, kept }
            }
        });
        r.map_err(|e| self.db_err(e))
    }
}
