use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::Connection;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::error::StoreError;
use crate::location::StoreLocation;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a SQLite writer waits for another process's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a PostgreSQL connection (covers an unreachable server).
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite { pool: SqlitePool, path: PathBuf },
    Postgres(PgPool),
}

/// An open state database. Cheap to clone (a connection pool inside).
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) location: Arc<str>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.kind())
            .field("location", &&*self.location)
            .finish()
    }
}

/// What `db status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbStatus {
    pub backend: BackendKind,
    /// The file path or the redacted URL.
    pub location: String,
    /// False when the SQLite file does not exist yet (nothing was created).
    pub exists: bool,
    /// Migration versions recorded in the database.
    pub applied: Vec<i64>,
    /// Migration versions this binary embeds.
    pub known: Vec<i64>,
    /// Known but not yet applied.
    pub pending: Vec<i64>,
    /// Applied by a newer binary (non-empty means the schema is too new).
    pub unknown_applied: Vec<i64>,
}

/// Run `$body` with `$pool` bound to the concrete pool of either backend. The body must
/// produce the same type for both (use plain tuples / integers, not driver results).
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::open::Backend::Sqlite { pool: $pool, .. } => $body,
            $crate::open::Backend::Postgres($pool) => $body,
        }
    };
}

/// Run `$body` inside a write transaction (`BEGIN IMMEDIATE` on SQLite so the write lock is
/// taken up front and waits on busy_timeout instead of failing on a lock upgrade). `$tx` is
/// `&mut` connection; `?` inside rolls back. Evaluates to `Result<T, sqlx::Error>`.
macro_rules! with_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.backend {
            $crate::open::Backend::Sqlite { pool, .. } => {
                async {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    let out = {
                        let $tx = &mut *tx;
                        $body
                    };
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(out)
                }
                .await
            }
            $crate::open::Backend::Postgres(pool) => {
                async {
                    let mut tx = pool.begin().await?;
                    let out = {
                        let $tx = &mut *tx;
                        $body
                    };
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(out)
                }
                .await
            }
        }
    };
}

pub(crate) use {with_pool, with_tx};

impl Store {
    /// Open (creating the SQLite file if needed) and apply pending migrations.
    pub async fn open(location: &StoreLocation) -> Result<Self, StoreError> {
        let (store, _lock) = Self::connect(location, true).await?;
        store.migrate_locked().await?;
        Ok(store)
    }

    /// Report the schema state without creating or migrating anything.
    pub async fn status(location: &StoreLocation) -> Result<DbStatus, StoreError> {
        let known = known_versions(migrator_for(location));
        let (exists, applied) = match location {
            StoreLocation::Sqlite(path) if !path.exists() => (false, Vec::new()),
            _ => {
                let (store, _lock) = Self::connect(location, false).await?;
                let applied = store.applied_versions().await?;
                store.close().await;
                (true, applied)
            }
        };
        let applied_set: BTreeSet<i64> = applied.iter().copied().collect();
        let known_set: BTreeSet<i64> = known.iter().copied().collect();
        Ok(DbStatus {
            backend: kind_of(location),
            location: location.describe(),
            exists,
            pending: known_set.difference(&applied_set).copied().collect(),
            unknown_applied: applied_set.difference(&known_set).copied().collect(),
            applied,
            known,
        })
    }

    /// Which engine this store uses.
    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite { .. } => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// The file path or redacted URL, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Close every pooled connection (waits for in-flight queries).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { pool, .. } => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    /// Apply pending migrations; returns the versions applied now. Refuses a database that
    /// holds a migration this binary does not know ([`StoreError::SchemaTooNew`]).
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let _lock = match &self.backend {
            Backend::Sqlite { path, .. } => Some(lock_file(path).await?),
            // PostgreSQL: sqlx takes an advisory lock around the migration run.
            Backend::Postgres(_) => None,
        };
        self.migrate_locked().await
    }

    /// [`Store::migrate`] for a caller that already holds the SQLite lock file.
    async fn migrate_locked(&self) -> Result<Vec<i64>, StoreError> {
        let migrator = match self.kind() {
            BackendKind::Sqlite => &SQLITE_MIGRATOR,
            BackendKind::Postgres => &POSTGRES_MIGRATOR,
        };
        let known = known_versions(migrator);
        let before = self.applied_versions().await?;
        self.refuse_unknown(&before, &known)?;
        let result = with_pool!(self, |pool| migrator.run(pool).await);
        if let Err(e) = result {
            return Err(match e {
                MigrateError::VersionMissing(v) => StoreError::SchemaTooNew {
                    location: self.location.to_string(),
                    db_version: v,
                    binary_version: known.last().copied().unwrap_or(0),
                },
                MigrateError::Execute(inner) => self.db_err(inner),
                other => StoreError::Migrate {
                    location: self.location.to_string(),
                    detail: other.to_string(),
                },
            });
        }
        let after = self.applied_versions().await?;
        Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
    }

    fn refuse_unknown(&self, applied: &[i64], known: &[i64]) -> Result<(), StoreError> {
        let newest_unknown = applied.iter().filter(|v| !known.contains(v)).max();
        match newest_unknown {
            Some(&db_version) => Err(StoreError::SchemaTooNew {
                location: self.location.to_string(),
                db_version: applied.iter().copied().max().unwrap_or(db_version),
                binary_version: known.last().copied().unwrap_or(0),
            }),
            None => Ok(()),
        }
    }

    /// Successfully applied migration versions, ascending (empty on a fresh database).
    async fn applied_versions(&self) -> Result<Vec<i64>, StoreError> {
        let exists: Result<Option<(i64,)>, sqlx::Error> = match &self.backend {
            Backend::Sqlite { pool, .. } => sqlx::query_as(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_optional(pool)
            .await,
            Backend::Postgres(pool) => {
                sqlx::query_as("SELECT 1::BIGINT WHERE to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_optional(pool)
                    .await
            }
        };
        if exists.map_err(|e| self.db_err(e))?.is_none() {
            return Ok(Vec::new());
        }
        let rows: Result<Vec<(i64,)>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(pool)
                .await
        });
        Ok(rows
            .map_err(|e| self.db_err(e))?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }

    /// Connect; for SQLite also returns the held lock file (migrations and the one-time
    /// switch to WAL happen under it).
    async fn connect(
        location: &StoreLocation,
        create: bool,
    ) -> Result<(Self, Option<fs::File>), StoreError> {
        let described: Arc<str> = location.describe().into();
        let mut lock = None;
        let backend = match location {
            StoreLocation::Sqlite(path) => {
                // Always checked (never a link, never hard-linked), created only with `create`.
                crate::files::prepare_sqlite_file(path, create).map_err(|source| {
                    StoreError::Io {
                        path: path.clone(),
                        source,
                    }
                })?;
                lock = Some(lock_file(path).await?);
                Backend::Sqlite {
                    pool: connect_sqlite(path).await?,
                    path: path.clone(),
                }
            }
            StoreLocation::Postgres(url) => {
                let options: PgConnectOptions =
                    url.expose_secret().parse().map_err(|e: sqlx::Error| {
                        StoreError::InvalidUrl {
                            location: described.to_string(),
                            detail: redact::text(&e.to_string()),
                        }
                    })?;
                let unreachable = |detail: String| StoreError::Unreachable {
                    location: described.to_string(),
                    detail: redact::text(&detail),
                };
                // One direct attempt first: the pool would retry a refused connection until
                // its acquire timeout, this fails fast with the real reason.
                let probe =
                    tokio::time::timeout(PG_ACQUIRE_TIMEOUT, PgConnection::connect_with(&options))
                        .await
                        .map_err(|_| {
                            unreachable(format!("no answer within {PG_ACQUIRE_TIMEOUT:?}"))
                        })?
                        .map_err(|e| unreachable(e.to_string()))?;
                probe.close().await.ok();
                let pool = PgPoolOptions::new()
                    .max_connections(5)
                    .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                Backend::Postgres(pool)
            }
        };
        Ok((
            Self {
                backend,
                location: described,
            },
            lock,
        ))
    }

    /// Map a driver error to a [`StoreError`] that names this database.
    pub(crate) fn db_err(&self, e: sqlx::Error) -> StoreError {
        if let Backend::Sqlite { path, .. } = &self.backend
            && is_sqlite_corruption(&e)
        {
            return StoreError::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            };
        }
        match e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
                StoreError::Unreachable {
                    location: self.location.to_string(),
                    detail: redact::text(&e.to_string()),
                }
            }
            other => StoreError::Query {
                location: self.location.to_string(),
                detail: redact::text(&other.to_string()),
            },
        }
    }

    pub(crate) fn decode_err(&self, detail: String) -> StoreError {
        StoreError::Decode {
            location: self.location.to_string(),
            detail,
        }
    }
}

fn migrator_for(location: &StoreLocation) -> &'static Migrator {
    match location {
        StoreLocation::Sqlite(_) => &SQLITE_MIGRATOR,
        StoreLocation::Postgres(_) => &POSTGRES_MIGRATOR,
    }
}

fn kind_of(location: &StoreLocation) -> BackendKind {
    match location {
        StoreLocation::Sqlite(_) => BackendKind::Sqlite,
        StoreLocation::Postgres(_) => BackendKind::Postgres,
    }
}

fn known_versions(migrator: &Migrator) -> Vec<i64> {
    let mut v: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), including extended codes.
fn is_sqlite_corruption(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    db.code()
        .and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|code| matches!(code & 0xff, 11 | 26))
}

/// Connect to an existing SQLite file. The caller holds the lock file: switching to WAL
/// needs an exclusive lock that SQLite's busy_timeout does not wait for, so it is done once,
/// under our lock (WAL mode then persists in the file for every later connection).
async fn connect_sqlite(path: &Path) -> Result<SqlitePool, StoreError> {
    let corrupt = |e: sqlx::Error| -> StoreError {
        if is_sqlite_corruption(&e) {
            StoreError::Corrupt {
                path: path.to_owned(),
                detail: e.to_string(),
            }
        } else {
            StoreError::Unreachable {
                location: path.display().to_string(),
                detail: e.to_string(),
            }
        }
    };
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(SQLITE_BUSY_TIMEOUT * 2)
        .connect_with(options)
        .await
        .map_err(corrupt)?;
    // A damaged page behind a valid header only shows up on use: check before migrating.
    let check: Vec<(String,)> = sqlx::query_as("PRAGMA quick_check")
        .fetch_all(&pool)
        .await
        .map_err(corrupt)?;
    if check.len() != 1 || check[0].0 != "ok" {
        pool.close().await;
        let detail: Vec<String> = check.into_iter().take(3).map(|(s,)| s).collect();
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            detail: detail.join("; "),
        });
    }
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .map_err(corrupt)?;
    if !mode.eq_ignore_ascii_case("wal") {
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await
            .map_err(corrupt)?;
    }
    Ok(pool)
}

/// Serialise migrations between processes sharing one SQLite file. A separate lock file,
/// because opening and closing the database file itself would drop SQLite's POSIX locks.
async fn lock_file(db: &Path) -> Result<fs::File, StoreError> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let err_path = lock_path.clone();
    let db_path = db.to_owned();
    tokio::task::spawn_blocking(move || -> io::Result<fs::File> {
        let file = crate::files::open_lock_file(&db_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|e| StoreError::Io {
        path: err_path.clone(),
        source: io::Error::other(e),
    })?
    .map_err(|source| StoreError::Io {
        path: err_path,
        source,
    })
}
