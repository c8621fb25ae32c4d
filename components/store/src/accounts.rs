use std::time::SystemTime;

use crate::error::StoreError;
use crate::open::{Store, with_pool};
use crate::time::{from_millis, to_millis};

/// A provisioned account. `fingerprint` is a keyed hash of the password computed by the
/// caller (password_store::fingerprint), so a changed CSV password is detected without
/// storing the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub service: String,
    pub username: String,
    /// Free-form state set by the service crate (e.g. `created`, `failed`).
    pub state: String,
    pub fingerprint: String,
    pub updated_at: SystemTime,
}

type AccountRow = (String, String, String, String, i64);

fn from_row((service, username, state, fingerprint, u): AccountRow) -> Account {
    Account {
        service,
        username,
        state,
        fingerprint,
        updated_at: from_millis(u),
    }
}

impl Store {
    /// Insert or update an account.
    pub async fn upsert_account(&self, account: &Account) -> Result<(), StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO accounts (service, username, state, fingerprint, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (service, username) DO UPDATE SET \
                 state = excluded.state, fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
            )
            .bind(&account.service)
            .bind(&account.username)
            .bind(&account.state)
            .bind(&account.fingerprint)
            .bind(to_millis(account.updated_at))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        r.map(drop).map_err(|e| self.db_err(e))
    }

    /// Record, before anything is created in the service, that this tool is about to
    /// create `username` (and the objects of its name) in `service`: state `claimed`, no
    /// fingerprint. An existing record is left as it is. The record is what makes those
    /// objects the user's own on the next run, even when this one stops half-way.
    pub async fn claim_account(&self, service: &str, username: &str) -> Result<(), StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO accounts (service, username, state, fingerprint, updated_at) \
                 VALUES ($1, $2, 'claimed', '', $3) ON CONFLICT (service, username) DO NOTHING",
            )
            .bind(service)
            .bind(username)
            .bind(to_millis(SystemTime::now()))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        r.map(drop).map_err(|e| self.db_err(e))
    }

    /// The user was removed but its data kept (`user remove --keep-data`): the record stays,
    /// so the kept objects remain the user's own when it is added again, with state `kept`
    /// and no fingerprint (the password is set again). True if there was a record.
    pub async fn keep_account(&self, service: &str, username: &str) -> Result<bool, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE accounts SET state = 'kept', fingerprint = '', updated_at = $3 \
                 WHERE service = $1 AND username = $2",
            )
            .bind(service)
            .bind(username)
            .bind(to_millis(SystemTime::now()))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        Ok(r.map_err(|e| self.db_err(e))? > 0)
    }

    /// One account.
    pub async fn account(
        &self,
        service: &str,
        username: &str,
    ) -> Result<Option<Account>, StoreError> {
        let r: Result<Option<AccountRow>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT service, username, state, fingerprint, updated_at FROM accounts \
                 WHERE service = $1 AND username = $2",
            )
            .bind(service)
            .bind(username)
            .fetch_optional(pool)
            .await
        });
        Ok(r.map_err(|e| self.db_err(e))?.map(from_row))
    }

    /// The accounts of one service, or of all, sorted by service then username.
    pub async fn accounts(&self, service: Option<&str>) -> Result<Vec<Account>, StoreError> {
        let r: Result<Vec<AccountRow>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT service, username, state, fingerprint, updated_at FROM accounts \
                 WHERE $1 IS NULL OR service = $1 ORDER BY service, username",
            )
            .bind(service)
            .fetch_all(pool)
            .await
        });
        Ok(r.map_err(|e| self.db_err(e))?
            .into_iter()
            .map(from_row)
            .collect())
    }

    /// Forget every account record of `service`; returns how many there were.
    pub async fn delete_accounts(&self, service: &str) -> Result<u64, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM accounts WHERE service = $1")
                .bind(service)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        });
        r.map_err(|e| self.db_err(e))
    }

    /// Forget an account; true if it existed.
    pub async fn delete_account(&self, service: &str, username: &str) -> Result<bool, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM accounts WHERE service = $1 AND username = $2")
                .bind(service)
                .bind(username)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        });
        Ok(r.map_err(|e| self.db_err(e))? > 0)
    }
}
