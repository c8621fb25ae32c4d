//! backup: the data safety of the DTaaS services — backups with a checksummed manifest,
//! verified restores that put the previous data back on failure, and image upgrades that
//! roll back to the previous image and data when the new container does not become ready.
//! It also knows which container paths of each service hold state, and checks that a
//! compose definition mounts them all from the project with a stable identity.
//!
//! PostgreSQL is dumped with `pg_dumpall` inside its running container (credentials in
//! the exec environment); every other service is archived (tar + gzip) from its state
//! directories while stopped. It works through the lifecycle and compose components on a
//! [`docker::Engine`]; it never prints, prompts or reads the environment, and it never
//! writes `config/services.env` (the caller records an upgrade's image before it starts
//! and puts the previous one back when the upgrade rolled back).

mod archive;
mod aside;
mod backup;
mod data_safety;
mod dump;
mod error;
#[cfg(test)]
mod fixtures;
mod manifest;
mod postgres;
mod restore;
mod state;
mod unpack;
mod upgrade;
mod walk;

pub use backup::{BackupOptions, BackupReport};
pub use data_safety::DataSafety;
pub use error::BackupError;
pub use manifest::{
    BackupKind, FORMAT, LeftOut, MANIFEST_FILE, Manifest, ServiceBackup, sha256_file, verify,
};
pub use restore::{RestoreOptions, RestoreReport, verify_restorable};
pub use state::{StateFinding, StatePath, check_state, state_paths};
pub use upgrade::{UpgradeAction, UpgradeOptions, UpgradeReport};
