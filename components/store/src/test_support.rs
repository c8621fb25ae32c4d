//! Test support (feature `test-support`): throw-away SQLite and PostgreSQL databases, so
//! tests of this and other crates run against both backends without importing sqlx.
//!
//! PostgreSQL comes from `DTAAS_TEST_PG_URL`; each [`TestDb`] gets its own schema. When the
//! variable is unset the PostgreSQL variant fails if `CI` is set, and skips (saying why)
//! otherwise.

#![allow(
    missing_debug_implementations,
    clippy::missing_panics_doc,
    clippy::print_stderr
)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::StoreLocation;
use secrecy::SecretString;
use sqlx::Connection;
use tempfile::TempDir;

/// A throw-away database: a SQLite file in a temp dir, or a fresh PostgreSQL schema.
pub enum TestDb {
    Sqlite { dir: TempDir },
    Postgres { base: String, schema: String },
}

impl TestDb {
    pub fn sqlite() -> Self {
        Self::Sqlite {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    #[allow(clippy::print_stderr, reason = "a skipped live test says why")]
    /// `None` (after printing why) when PostgreSQL is not configured and CI is unset.
    pub async fn postgres(test: &str) -> Option<Self> {
        let Ok(base) = std::env::var("DTAAS_TEST_PG_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "DTAAS_TEST_PG_URL is not set, but CI is: PostgreSQL tests must run in CI"
            );
            eprintln!("skipping the PostgreSQL variant of {test}: DTAAS_TEST_PG_URL is not set");
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let schema = format!(
            "t_{}_{}_{}",
            test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = sqlx::PgConnection::connect(&base)
            .await
            .expect("connect to DTAAS_TEST_PG_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create test schema");
        conn.close().await.ok();
        Some(Self::Postgres { base, schema })
    }

    pub fn location(&self) -> StoreLocation {
        match self {
            Self::Sqlite { dir } => StoreLocation::Sqlite(self.sqlite_path_in(dir)),
            Self::Postgres { base, schema } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                StoreLocation::Postgres(SecretString::from(format!(
                    "{base}{sep}options[search_path]={schema}"
                )))
            }
        }
    }

    fn sqlite_path_in(&self, dir: &TempDir) -> PathBuf {
        dir.path().join("project/.dtaas/state.db")
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self {
            Self::Sqlite { dir } => Some(self.sqlite_path_in(dir)),
            Self::Postgres { .. } => None,
        }
    }

    /// A [`PgTarget`](crate::pg_admin::PgTarget) on this test's PostgreSQL schema (its
    /// `search_path`), for the `pg_admin` functions; `None` for SQLite.
    pub fn pg_target(&self) -> Option<crate::pg_admin::PgTarget> {
        let Self::Postgres { base, schema } = self else {
            return None;
        };
        let target = crate::pg_admin::PgTarget::from_url(&SecretString::from(base.clone()))
            .expect("DTAAS_TEST_PG_URL");
        Some(target.setting("search_path", schema))
    }

    /// Run a raw SQL statement outside the store (to fake a newer schema, etc.).
    pub async fn raw(&self, sql: &str) {
        match self {
            Self::Sqlite { .. } => {
                let path = self.sqlite_path().expect("sqlite");
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .expect("raw sqlite connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut c)
                    .await
                    .expect("raw sql");
                c.close().await.ok();
            }
            Self::Postgres { base, schema } => {
                let mut c = sqlx::PgConnection::connect(base)
                    .await
                    .expect("raw pg connect");
                let sql = format!("SET search_path TO {schema}; {sql}");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut c)
                    .await
                    .expect("raw sql");
                c.close().await.ok();
            }
        }
    }

    /// Run a raw `SELECT COUNT(*) ...` outside the store.
    pub async fn count(&self, sql: &str) -> i64 {
        match self {
            Self::Sqlite { .. } => {
                let path = self.sqlite_path().expect("sqlite");
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .expect("raw sqlite connect");
                let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(&mut c)
                    .await
                    .expect("raw count");
                c.close().await.ok();
                n
            }
            Self::Postgres { base, schema } => {
                let mut c = sqlx::PgConnection::connect(base)
                    .await
                    .expect("raw pg connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}")))
                    .execute(&mut c)
                    .await
                    .expect("search_path");
                let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(&mut c)
                    .await
                    .expect("raw count");
                c.close().await.ok();
                n
            }
        }
    }

    /// Drop the PostgreSQL schema (best effort; the temp dir cleans itself).
    pub async fn cleanup(self) {
        if let Self::Postgres { base, schema } = self
            && let Ok(mut c) = sqlx::PgConnection::connect(&base).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut c)
                .await;
            c.close().await.ok();
        }
    }
}

/// Define a module `$name` with `sqlite` and `postgres` tests running the async test body
/// `$body: async fn(&TestDb)`. The calling crate needs tokio (macros, rt-multi-thread).
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::test_support::TestDb::sqlite();
                $body(&db).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::test_support::TestDb::postgres(stringify!($name)).await
                else {
                    return;
                };
                $body(&db).await;
                db.cleanup().await;
            }
        }
    };
}
