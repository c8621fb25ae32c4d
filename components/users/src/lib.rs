//! users: the reconcile of `config/credentials.csv` with the platform services — `add`
//! (create what is missing, update changed passwords, ensure databases/vhosts/orgs and
//! grants; services in parallel, bounded; every row attempted and reported; `dry_run`
//! plans without changing anything), `list` (each service compared with the CSV) and
//! `remove`. Before anything changes, every row is checked by one rule (the `guard`
//! module): a row naming a service's admin account, a platform object, or an existing object
//! the state database does not record as the user's own, is refused with its CSV line, and
//! then nothing changes anywhere.
//!
//! Password changes are detected with the keyed fingerprints of the password store, kept in
//! the store's accounts table; every outcome is journalled (never a secret). It works on
//! [`services_common::Provisioner`]s; [`provisioners_for`] builds them from the settings
//! (the one path the cli and the jobs share). It never prints and never reads environment
//! variables.

mod guard;
mod provision;
mod reconcile;
mod report;

pub use provision::{Provisioners, SUPPORTED, provisioners_for};
pub use reconcile::{AddOptions, add, list, remove};
pub use report::{Action, ListReport, ListRow, RemoveReport, RemoveRow, Report, Row};
