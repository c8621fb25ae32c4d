use std::time::SystemTime;

use crate::error::StoreError;
use crate::open::{Store, with_pool};
use crate::time::to_millis;

impl Store {
    /// A meta value (import markers, key check value, ...).
    pub async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let r: Result<Option<(String,)>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT value FROM meta WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        });
        Ok(r.map_err(|e| self.db_err(e))?.map(|(v,)| v))
    }

    /// Set a meta value, replacing any previous one.
    pub async fn set_meta(
        &self,
        key: &str,
        value: &str,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        r.map(drop).map_err(|e| self.db_err(e))
    }

    /// Set a meta value only if the key is absent; true if this call set it. Atomic across
    /// processes: exactly one concurrent caller wins.
    pub async fn set_meta_if_absent(
        &self,
        key: &str,
        value: &str,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let r: Result<u64, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(value)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        Ok(r.map_err(|e| self.db_err(e))? > 0)
    }
}
