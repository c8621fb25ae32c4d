use std::path::PathBuf;

use compose::ComposeError;
use docker::DockerError;
use lifecycle::LifecycleError;

/// Why a backup, restore or upgrade failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{service} is not defined in the compose files")]
    NotDefined { service: String },
    #[error(
        "{service} has no state path `{container_path}` mounted from the project directory; fix its compose file first"
    )]
    NotMounted {
        service: String,
        container_path: String,
    },
    #[error("{} already exists; choose another --to directory", path.display())]
    Exists { path: PathBuf },
    #[error("{}: not a backup of dtaas-services: {message}", path.display())]
    BadManifest { path: PathBuf, message: String },
    #[error("backup {} holds no {service}; it holds: {}", dir.display(), held.join(", "))]
    NotInBackup {
        dir: PathBuf,
        service: String,
        held: Vec<String>,
    },
    #[error("{} is missing from the backup", path.display())]
    MissingFile { path: PathBuf },
    #[error("{} is corrupted: {what} is {actual}, the manifest says {expected}; nothing was restored", path.display())]
    Corrupted {
        path: PathBuf,
        what: &'static str,
        expected: String,
        actual: String,
    },
    /// An archive entry a restore refuses (outside the service's paths, a link, a device,
    /// …), or a destination it must not write through.
    #[error("{}: entry {entry} {reason}; nothing was restored", archive.display())]
    UnsafeEntry {
        archive: PathBuf,
        entry: String,
        reason: String,
    },
    #[error(
        "{}: unpacks to more than {limit} {what}, more than the backup of {service} held; nothing was restored",
        archive.display()
    )]
    ArchiveTooLarge {
        archive: PathBuf,
        service: String,
        what: &'static str,
        limit: u64,
    },
    /// A line of a PostgreSQL dump psql must not run (a backslash command other than
    /// those `pg_dumpall` writes).
    #[error("{}: line {line}: {reason}; nothing was restored", file.display())]
    DumpRefused {
        file: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{service}: {command} failed (exit {code}): {stderr}")]
    Exec {
        service: String,
        command: String,
        code: i64,
        stderr: String,
    },
    #[error("image {image} is not available: {reason}; nothing was changed")]
    ImageUnavailable { image: String, reason: String },
    #[error("{container} did not become ready: {reason}")]
    NotReady { container: String, reason: String },
    #[error(
        "restore of {service} failed: {reason}; the previous data was put back{}",
        if *restarted { " and the service restarted" } else { "" }
    )]
    RestoreRolledBack {
        service: String,
        reason: String,
        restarted: bool,
    },
    #[error(
        "upgrade of {service} to {image} failed: {reason}; rolled back: the previous image {previous} serves again with the data of backup {}{}",
        backup.display(),
        if *thingsboard_restarted { "; ThingsBoard, stopped for its database, runs again" } else { "" }
    )]
    UpgradeRolledBack {
        service: String,
        image: String,
        reason: String,
        previous: String,
        backup: PathBuf,
        /// ThingsBoard was stopped for the upgrade of its database and runs again.
        thingsboard_restarted: bool,
    },
    #[error(
        "{action} of {service} failed: {reason}; putting the previous state back ALSO failed: {rollback}; the data before the attempt is in {}",
        saved.display()
    )]
    RollbackFailed {
        action: &'static str,
        service: String,
        reason: String,
        rollback: String,
        saved: PathBuf,
    },
    /// A restore that failed after it had restored other services (which stay restored),
    /// or a restore, backup or upgrade that had to leave a service it stopped for another
    /// (ThingsBoard, for its database) stopped.
    #[error(
        "{source}{}{}",
        if restored.is_empty() { String::new() } else { format!("; already restored: {}", restored.join(", ")) },
        if left_stopped.is_empty() { String::new() } else { format!("; left stopped: {}", left_stopped.join(", ")) }
    )]
    Partial {
        /// Compose names of the services restored before the failure, in order.
        restored: Vec<String>,
        /// Set-aside copies of their previous data that could not be deleted.
        leftovers: Vec<PathBuf>,
        /// Services the operation stopped and could not start again.
        left_stopped: Vec<String>,
        #[source]
        source: Box<BackupError>,
    },
}

impl BackupError {
    /// The engine error at the root, if any.
    #[must_use]
    pub fn docker(&self) -> Option<&DockerError> {
        match self {
            BackupError::Lifecycle(l) => l.docker(),
            BackupError::Compose(c) => c.docker(),
            BackupError::Docker(d) => Some(d),
            BackupError::Partial { source, .. } => source.docker(),
            _ => None,
        }
    }

    /// Whether this is a usage or configuration error (unknown service, bad compose files, a
    /// service without its state mounted, an existing target directory, a service the
    /// backup does not hold); a partial restore is not. The exit status it maps to is
    /// decided by the exit_status component.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        match self {
            BackupError::Lifecycle(l) => l.is_usage(),
            BackupError::Compose(c) => c.is_config_error(),
            BackupError::NotDefined { .. }
            | BackupError::NotMounted { .. }
            | BackupError::Exists { .. }
            | BackupError::NotInBackup { .. } => true,
            _ => false,
        }
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>, e: &std::io::Error) -> BackupError {
    BackupError::Io {
        path: path.into(),
        message: e.to_string(),
    }
}
