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
//! (executions, last scheduled time per trigger, leases), meta markers, and what the operator
//! wants of each service (desired state, maintenance markers). It also holds the project
//! lock ([`ProjectLock`]): a lock file in `.dtaas/`, plus a lease with a shared PostgreSQL
//! database, so commands on one project never interleave. It knows nothing of
//! services, Docker or the command line; it never prints and never reads environment variables.

mod accounts;
mod error;
mod files;
mod holder;
mod intent;
mod journal;
mod location;
mod meta;
mod open;
pub mod pg_admin;
mod project_lock;
mod scheduler;
mod secrets;
mod time;

#[cfg(feature = "test-support")]
pub mod test_support;

pub use accounts::Account;
pub use error::StoreError;
pub use holder::{Holder, host_name};
pub use intent::{Desired, ServiceIntent};
pub use journal::{JournalEntry, JournalRecord, Outcome};
pub use location::{DEFAULT_SQLITE_RELATIVE_PATH, StoreLocation};
pub use open::{BackendKind, DbStatus, Store};
pub use project_lock::{
    LEASE_TTL as PROJECT_LEASE_TTL, LOCK_FILE, PROJECT_LEASE, ProjectLock, TryLock,
    project_lock_holder,
};
pub use scheduler::{Execution, ExecutionOutcome, Lease, NewExecution};
pub use secrets::{ImportOutcome, NewSecret, SecretInfo, SecretRow};
