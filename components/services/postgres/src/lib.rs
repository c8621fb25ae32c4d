//! services_postgres: user provisioning in the platform's PostgreSQL — per CSV user a login
//! role and a database of the same name owned by it — over TCP to `HOSTNAME:POSTGRES_PORT`
//! with the `POSTGRES_USER` admin login (TLS `prefer`), through the store component's
//! `pg_admin` (the only place sqlx is used).
//!
//! It never prints, never reads environment variables, and never puts a password in an
//! error or a log.

mod provisioner;

pub use provisioner::{PostgresProvisioner, target_from_settings};
