//! store component: the dtaas-services state database, and the only crate that imports sqlx.
//!
//! A [`Store`] is opened from a [`StoreLocation`]: a SQLite file inside the project by default
//! (`<project>/.dtaas/state.db`, directory 0700, file 0600), or a PostgreSQL server when
//! several runners share state. Opening applies the migrations embedded from the top-level
//! `migrations/sqlite` and `migrations/postgres` directories; a database that a newer binary
//! migrated is refused ([`StoreError::SchemaTooNew`]), never downgraded, and a corrupt SQLite
//! file is refused ([`StoreError::Corrupt`]) without being touched.
//!
//! It holds opaque rows for the password store (ciphertext and nonce: encryption is the
//! password_store component's job, this crate never sees a secret value), the operations
//! journal, provisioned accounts (with a caller-computed password fingerprint), scheduler state
//! (executions, last scheduled time per trigger, leases) and meta markers. It knows nothing of
//! services, Docker or the command line; it never prints and never reads environment variables.

mod accounts;
mod error;
mod files;
mod journal;
mod location;
mod meta;
mod open;
pub mod pg_admin;
mod scheduler;
mod secrets;
mod time;

#[cfg(feature = "test-support")]
pub mod test_support;

pub use accounts::Account;
pub use error::StoreError;
pub use journal::{JournalEntry, JournalRecord, Outcome};
pub use location::{DEFAULT_SQLITE_RELATIVE_PATH, StoreLocation};
pub use open::{BackendKind, DbStatus, Store};
pub use scheduler::{Execution, ExecutionOutcome, Lease, NewExecution};
pub use secrets::{ImportOutcome, NewSecret, SecretInfo, SecretRow};
