//! services_postgres: user provisioning in the platform's PostgreSQL — per CSV user a login
//! role and a database of the same name owned by it — over TCP to `HOSTNAME:POSTGRES_PORT`
//! with the `POSTGRES_USER` admin login (TLS `verify-full` with the project's CA when
//! `SSL_VERIFY` is on, else `prefer`), through the store component's
//! `pg_admin` (the only place sqlx is used).
//!
//! It never touches the admin login, the ThingsBoard database (`POSTGRES_DB`) or the
//! system databases, and drops only a database that the removed user's role owns.
//!
//! It never prints, never reads environment variables, and never puts a password in an
//! error or a log.

mod provisioner;

pub use provisioner::{PostgresProvisioner, SYSTEM_DATABASES, target_from_settings, tls_from};
