use std::path::PathBuf;

/// Everything that can go wrong with the state database. No variant ever carries a secret:
/// PostgreSQL URLs are redacted, and secret values never reach this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The state directory or file could not be created or secured.
    #[error("cannot prepare the state database {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The SQLite file is not a database or fails its integrity check. It was not modified.
    #[error(
        "the state database {} is corrupt or not a SQLite database ({detail}); it was left untouched: restore it from a backup or move it away",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    /// The database was migrated by a newer dtaas-services. Nothing was changed.
    #[error(
        "the state database {location} has schema version {db_version}, but this dtaas-services only knows up to {binary_version}; upgrade dtaas-services (the database was not changed)"
    )]
    SchemaTooNew {
        location: String,
        db_version: i64,
        binary_version: i64,
    },
    /// The PostgreSQL URL could not be parsed (configuration error).
    #[error("invalid PostgreSQL URL {location}: {detail}")]
    InvalidUrl { location: String, detail: String },
    /// The database server could not be reached or refused the login.
    #[error("cannot connect to the state database {location}: {detail}")]
    Unreachable { location: String, detail: String },
    /// Applying a migration failed (the failed migration was rolled back).
    #[error("migrating the state database {location} failed: {detail}")]
    Migrate { location: String, detail: String },
    /// A query failed.
    #[error("state database {location}: {detail}")]
    Query { location: String, detail: String },
    /// A stored value could not be understood (e.g. an unknown outcome name).
    #[error("state database {location}: unexpected stored value: {detail}")]
    Decode { location: String, detail: String },
    /// Another command holds the project lock (see `ProjectLock`); retry later.
    #[error(
        "the project is busy: {} holds it (waited {}); retry later",
        holder.as_deref().unwrap_or("another command"),
        humantime::format_duration(*waited)
    )]
    Busy {
        /// The holder, as `Holder`'s Display shows it.
        holder: Option<String>,
        waited: std::time::Duration,
    },
}
