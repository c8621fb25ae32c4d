use std::path::PathBuf;

/// Password store failures. No variant ever carries a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordStoreError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The key does not decrypt this database's key check value. Nothing was changed.
    #[error(
        "the store key ({source_desc}) is not the key this state database was encrypted with; nothing was changed: use the original key"
    )]
    WrongKey { source_desc: String },
    /// The database is protected by a key whose file is gone. Nothing was created.
    #[error(
        "the state database is encrypted with a store key, but the key file {} is missing; nothing was changed and no new key was made: restore the file from your backup or set DTAAS_STORE_KEY", path.display()
    )]
    KeyFileMissing { path: PathBuf },
    /// The key material could not be understood.
    #[error("invalid store key ({source_desc}): {detail}")]
    InvalidKey { source_desc: String, detail: String },
    /// The key file could not be read or created.
    #[error("cannot use the store key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "invalid secret name {name:?}: expected UPPER_SNAKE_CASE, optionally followed by :<user>"
    )]
    InvalidName { name: String },
    /// The key check passed but this one value does not decrypt (tampered row).
    #[error("the stored secret {name} cannot be decrypted (damaged or tampered row)")]
    Undecryptable { name: String },
    /// A secret needed for an operation is not in the store.
    #[error("the secret {name} is not in the password store")]
    Missing { name: String },
    /// A legacy file could not be parsed. Nothing was imported.
    #[error("cannot import {}{}: {detail}; nothing was imported", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    LegacyFile {
        path: PathBuf,
        line: Option<usize>,
        detail: String,
    },
    /// Writing an exported file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
