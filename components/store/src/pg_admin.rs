//! PostgreSQL administration for user provisioning: roles and databases of the platform's
//! PostgreSQL, reached over TCP with the admin login.
//!
//! Identifiers are always double-quoted (`"` doubled). Role passwords never travel in clear
//! text: `CREATE/ALTER ROLE` take no bind parameters, so the statement carries the
//! SCRAM-SHA-256 verifier computed here (salted, 4096 iterations, as libpq's
//! `PQencryptPasswordConn` does); PostgreSQL stores a verifier as it is, so neither its
//! statement log (`log_statement = ddl`), `pg_stat_activity` nor an error text can show a
//! password. Statement logging of the driver is switched off on these connections too.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection};

use crate::error::StoreError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection uses TLS (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PgTls {
    Disable,
    /// TLS when the server offers it, certificate not verified (libpq's default).
    #[default]
    Prefer,
    Require,
    /// TLS, certificate and host name verified (against `ca_file` when given).
    VerifyFull,
}

/// Where and as whom to connect.
#[derive(Clone)]
pub struct PgTarget {
    options: PgConnectOptions,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl PgTarget {
    /// `user@host:port/postgres`, TLS `prefer`.
    #[must_use]
    pub fn new(host: &str, port: u16, user: &str, password: &SecretString) -> Self {
        let options = PgConnectOptions::new_without_pgpass()
            .host(host)
            .port(port)
            .username(user)
            .password(password.expose_secret())
            .database("postgres")
            .ssl_mode(PgSslMode::Prefer)
            .application_name("dtaas-services");
        Self { options }
    }

    /// From a `postgres://user:password@host:port/db` URL (tests, shared setups).
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`], without the URL's password.
    pub fn from_url(url: &SecretString) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url.expose_secret()).map_err(|e| {
            StoreError::InvalidUrl {
                location: crate::location::redact_url(url.expose_secret()),
                detail: e.to_string(),
            }
        })?;
        Ok(Self { options })
    }

    /// The database to connect to (default `postgres`).
    #[must_use]
    pub fn database(mut self, database: &str) -> Self {
        self.options = self.options.database(database);
        self
    }

    /// Set a run-time parameter for every session (`-c name=value` at connect), e.g.
    /// `search_path` (tests use a schema per test).
    #[must_use]
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.options = self.options.options([(name, value)]);
        self
    }

    /// TLS mode, and extra trusted roots for [`PgTls::VerifyFull`].
    #[must_use]
    pub fn tls(mut self, tls: PgTls, ca_file: Option<PathBuf>) -> Self {
        let mode = match tls {
            PgTls::Disable => PgSslMode::Disable,
            PgTls::Prefer => PgSslMode::Prefer,
            PgTls::Require => PgSslMode::Require,
            PgTls::VerifyFull => PgSslMode::VerifyFull,
        };
        self.options = self.options.ssl_mode(mode);
        if let Some(ca) = ca_file {
            self.options = self.options.ssl_root_cert(ca);
        }
        self
    }

    /// The same server and database, logging in as another user.
    #[must_use]
    pub fn with_login(&self, user: &str, password: &SecretString) -> Self {
        Self {
            options: self
                .options
                .clone()
                .username(user)
                .password(password.expose_secret()),
        }
    }

    /// `user@host:port/db` for messages (never the password).
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{}@{}:{}/{}",
            self.options.get_username(),
            self.options.get_host(),
            self.options.get_port(),
            self.options.get_database().unwrap_or("postgres")
        )
    }

    /// The user this target logs in as.
    #[must_use]
    pub fn user(&self) -> &str {
        self.options.get_username()
    }

    fn quiet_options(&self) -> PgConnectOptions {
        self.options.clone().disable_statement_logging()
    }
}

/// An admin connection pool to the platform's PostgreSQL.
#[derive(Clone)]
pub struct PgAdmin {
    pool: PgPool,
    location: String,
}

impl fmt::Debug for PgAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgAdmin")
            .field("location", &self.location)
            .finish()
    }
}

/// `"name"` with `"` doubled.
#[must_use]
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SCRAM-SHA-256 verifier PostgreSQL stores for `password`
/// (`SCRAM-SHA-256$4096:salt$StoredKey:ServerKey`), with a fresh random salt.
#[must_use]
pub fn scram_verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}

/// `E'value'` with `\` and `'` doubled: correct whatever `standard_conforming_strings` is.
/// `None` when the value holds a NUL byte, which PostgreSQL strings cannot hold.
#[must_use]
pub fn quote_literal(value: &str) -> Option<String> {
    if value.contains('\0') {
        return None;
    }
    Some(format!(
        "E'{}'",
        value.replace('\\', "\\\\").replace('\'', "''")
    ))
}

fn unreachable_err(location: &str, e: &sqlx::Error) -> StoreError {
    StoreError::Unreachable {
        location: location.to_owned(),
        detail: redact::text(&e.to_string()),
    }
}

/// Try to log in with `target` (e.g. as a provisioned user); `Ok` when the login succeeds.
///
/// # Errors
/// [`StoreError::Unreachable`] when the server cannot be reached or refuses the login.
pub async fn check_login(target: &PgTarget) -> Result<(), StoreError> {
    let location = target.describe();
    let conn = tokio::time::timeout(CONNECT_TIMEOUT, target.quiet_options().connect())
        .await
        .map_err(|_| StoreError::Unreachable {
            location: location.clone(),
            detail: "timed out".to_owned(),
        })?
        .map_err(|e| unreachable_err(&location, &e))?;
    conn.close()
        .await
        .map_err(|e| unreachable_err(&location, &e))
}

impl PgAdmin {
    /// Connect (one direct attempt first, so a refused login fails fast).
    ///
    /// # Errors
    /// [`StoreError::Unreachable`] when the server cannot be reached or refuses the login.
    pub async fn connect(target: &PgTarget) -> Result<Self, StoreError> {
        let location = target.describe();
        check_login(target).await?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(target.quiet_options())
            .await
            .map_err(|e| unreachable_err(&location, &e))?;
        Ok(Self { pool, location })
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn query_err(&self, what: &str, e: &sqlx::Error) -> StoreError {
        let detail = match e {
            sqlx::Error::Database(d) => d.message().to_owned(),
            other => other.to_string(),
        };
        StoreError::Query {
            location: self.location.clone(),
            detail: format!("{what}: {detail}"),
        }
    }

    /// The quoted SCRAM-SHA-256 verifier of `password` (NUL refused: PostgreSQL strings
    /// cannot hold it, and the server would reject the login later).
    fn verifier(&self, password: &SecretString) -> Result<String, StoreError> {
        let clear = password.expose_secret();
        if clear.contains('\0') {
            return Err(StoreError::Query {
                location: self.location.clone(),
                detail: "a password cannot contain a NUL character".to_owned(),
            });
        }
        let verifier = scram_verifier(clear);
        quote_literal(&verifier).ok_or_else(|| StoreError::Query {
            location: self.location.clone(),
            detail: "the password verifier could not be quoted".to_owned(),
        })
    }

    async fn execute(&self, what: &str, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| self.query_err(what, &e))
    }

    /// Whether a role named `name` exists.
    pub async fn role_exists(&self, name: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.query_err("looking up the role", &e))
    }

    /// `CREATE ROLE "name" LOGIN PASSWORD ...`.
    pub async fn create_role(&self, name: &str, password: &SecretString) -> Result<(), StoreError> {
        let sql = format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            quote_ident(name),
            self.verifier(password)?
        );
        self.execute(&format!("creating role {name:?}"), &sql).await
    }

    /// `ALTER ROLE "name" WITH LOGIN PASSWORD ...`.
    pub async fn alter_password(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "ALTER ROLE {} WITH LOGIN PASSWORD {}",
            quote_ident(name),
            self.verifier(password)?
        );
        self.execute(&format!("setting the password of role {name:?}"), &sql)
            .await
    }

    /// Create the role when missing; true when it was created. Does not touch the password
    /// of an existing role (see [`PgAdmin::alter_password`]).
    pub async fn ensure_role(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<bool, StoreError> {
        if self.role_exists(name).await? {
            return Ok(false);
        }
        match self.create_role(name, password).await {
            Ok(()) => Ok(true),
            // Created concurrently by someone else.
            Err(_) if self.role_exists(name).await? => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether a database named `name` exists.
    pub async fn database_exists(&self, name: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.query_err("looking up the database", &e))
    }

    /// The owner of database `name`, if it exists.
    pub async fn database_owner(&self, name: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar::<_, String>(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.query_err("looking up the database owner", &e))
    }

    /// Create database `name` owned by `owner` when missing, or give it to `owner`; true when
    /// something changed.
    pub async fn ensure_database(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        match self.database_owner(name).await? {
            Some(current) if current == owner => Ok(false),
            Some(_) => {
                let sql = format!(
                    "ALTER DATABASE {} OWNER TO {}",
                    quote_ident(name),
                    quote_ident(owner)
                );
                self.execute(&format!("changing the owner of database {name:?}"), &sql)
                    .await
                    .map(|()| true)
            }
            None => {
                let sql = format!(
                    "CREATE DATABASE {} OWNER {}",
                    quote_ident(name),
                    quote_ident(owner)
                );
                match self
                    .execute(&format!("creating database {name:?}"), &sql)
                    .await
                {
                    Ok(()) => Ok(true),
                    Err(_) if self.database_exists(name).await? => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Drop database `name` (closing its connections); true when it existed.
    pub async fn drop_database(&self, name: &str) -> Result<bool, StoreError> {
        if !self.database_exists(name).await? {
            return Ok(false);
        }
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
        self.execute(&format!("dropping database {name:?}"), &sql)
            .await
            .map(|()| true)
    }

    /// Give database `name` to the admin user (to keep it when its owner role is dropped).
    pub async fn adopt_database(&self, name: &str) -> Result<(), StoreError> {
        let sql = format!("ALTER DATABASE {} OWNER TO CURRENT_USER", quote_ident(name));
        self.execute(&format!("taking over database {name:?}"), &sql)
            .await
    }

    /// Drop role `name`; true when it existed.
    pub async fn drop_role(&self, name: &str) -> Result<bool, StoreError> {
        if !self.role_exists(name).await? {
            return Ok(false);
        }
        let sql = format!("DROP ROLE IF EXISTS {}", quote_ident(name));
        self.execute(&format!("dropping role {name:?}"), &sql)
            .await
            .map(|()| true)
    }

    /// Every role (login or not, superusers and `pg_*` included), by name.
    pub async fn all_roles(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT rolname::text FROM pg_roles ORDER BY rolname")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.query_err("listing roles", &e))
    }

    /// Every database (templates included), by name.
    pub async fn databases(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT datname::text FROM pg_database ORDER BY datname")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.query_err("listing databases", &e))
    }

    /// The login roles that are neither superusers, nor built-in (`pg_*`), nor the admin
    /// itself, sorted.
    pub async fn list_roles(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar::<_, String>(
            "SELECT rolname::text FROM pg_roles WHERE rolcanlogin AND NOT rolsuper \
             AND rolname NOT LIKE 'pg\\_%' AND rolname <> CURRENT_USER ORDER BY rolname",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.query_err("listing roles", &e))
    }
}

/// Connect once with `target` (logging off), run `f` on the connection, close it.
async fn with_connection<T>(
    target: &PgTarget,
    f: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T, sqlx::Error>,
) -> Result<T, StoreError> {
    let location = target.describe();
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, target.quiet_options().connect())
        .await
        .map_err(|_| StoreError::Unreachable {
            location: location.clone(),
            detail: "timed out".to_owned(),
        })?
        .map_err(|e| unreachable_err(&location, &e))?;
    let out = f(&mut conn).await.map_err(|e| StoreError::Query {
        location: location.clone(),
        detail: match &e {
            sqlx::Error::Database(d) => d.message().to_owned(),
            other => other.to_string(),
        },
    });
    conn.close().await.ok();
    out
}

/// Whether a table named `name` exists in the database of `target` (the ThingsBoard
/// schema probe: `admin_settings`).
///
/// # Errors
/// [`StoreError::Unreachable`] or [`StoreError::Query`].
pub async fn table_exists(target: &PgTarget, name: &str) -> Result<bool, StoreError> {
    with_connection(target, async |c| {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_name = $1)",
        )
        .bind(name)
        .fetch_one(c)
        .await
    })
    .await
}

/// ThingsBoard: set the email of the `SYS_ADMIN` user(s) in the database of `target`, with a
/// parameterised statement; returns the number of rows changed.
///
/// # Errors
/// [`StoreError::Unreachable`] or [`StoreError::Query`].
pub async fn set_thingsboard_sysadmin_email(
    target: &PgTarget,
    email: &str,
) -> Result<u64, StoreError> {
    with_connection(target, async |c| {
        sqlx::query("UPDATE tb_user SET email = $1 WHERE authority = 'SYS_ADMIN'")
            .bind(email)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })
    .await
}

/// ThingsBoard: the user id and password hash (`user_credentials.password`, BCrypt) of every
/// `SYS_ADMIN` user in the database of `target`, by user id.
///
/// # Errors
/// [`StoreError::Unreachable`] or [`StoreError::Query`].
pub async fn thingsboard_sysadmin_hashes(
    target: &PgTarget,
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    with_connection(target, async |c| {
        sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT u.id::text, c.password FROM tb_user u \
             JOIN user_credentials c ON c.user_id = u.id \
             WHERE u.authority = 'SYS_ADMIN' ORDER BY u.id",
        )
        .fetch_all(c)
        .await
    })
    .await
}

/// ThingsBoard: replace the password hash of user `user_id` when it still is `expected`
/// (compare-and-set, parameterised); returns the number of rows changed (0 or 1).
///
/// # Errors
/// [`StoreError::Unreachable`] or [`StoreError::Query`].
pub async fn replace_thingsboard_password_hash(
    target: &PgTarget,
    user_id: &str,
    expected: Option<&str>,
    new_hash: &str,
) -> Result<u64, StoreError> {
    with_connection(target, async |c| {
        sqlx::query(
            "UPDATE user_credentials SET password = $1 \
             WHERE user_id = $2::uuid AND password IS NOT DISTINCT FROM $3",
        )
        .bind(new_hash)
        .bind(user_id)
        .bind(expected)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("user1"), "\"user1\"");
        assert_eq!(
            quote_literal("it's a \\ test").as_deref(),
            Some("E'it''s a \\\\ test'")
        );
        assert_eq!(quote_literal("nul\0"), None);
    }

    #[test]
    fn role_statements_carry_a_salted_verifier_not_the_password() {
        let a = scram_verifier("S3cret'pw");
        let b = scram_verifier("S3cret'pw");
        assert!(a.starts_with("SCRAM-SHA-256$4096:"), "{a}");
        assert!(!a.contains("S3cret"), "{a}");
        assert_ne!(a, b, "every verifier has its own salt");
        assert!(quote_literal(&a).is_some());
    }

    #[test]
    fn debug_and_describe_hide_the_password() {
        let t = PgTarget::new("db.example", 5433, "admin", &SecretString::from("S3cretPw"));
        let shown = format!("{t:?} {}", t.describe());
        assert!(!shown.contains("S3cretPw"), "{shown}");
        assert!(shown.contains("admin@db.example:5433/postgres"), "{shown}");
        let u = PgTarget::from_url(&SecretString::from("postgres://u:Pw1@h:1/x")).unwrap();
        assert_eq!(u.describe(), "u@h:1/x");
        let e =
            PgTarget::from_url(&SecretString::from("postgres://u:Pw1@h:notaport/x")).unwrap_err();
        assert!(!e.to_string().contains("Pw1"), "{e}");
    }
}
