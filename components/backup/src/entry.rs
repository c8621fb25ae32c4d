//! The entry points the bases call: a backup, restore or upgrade marks its services as in
//! maintenance while it works (when the data safety is [`DataSafety::marking`] a store), and
//! an upgrade to a named image records that image in `config/services.env` first.

use std::future::Future;
use std::path::Path;

use catalog::Service;
use docker::Engine;
use lifecycle::{Desired, Selection};

use crate::{
    BackupError, BackupOptions, BackupReport, DataSafety, RestoreOptions, RestoreReport,
    UpgradeOptions, UpgradeReport,
};

/// What an upgrade to a named image did to `config/services.env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageNote {
    /// The file already named the image.
    AlreadyRecorded,
    /// The image was recorded (and stays: the upgrade succeeded).
    Recorded,
    /// The upgrade failed and could not put the previous image and data back: the new image
    /// stays recorded, since the previous one must not start over data the new one may have
    /// changed.
    KeptAfterFailure,
    /// The upgrade failed and left the previous image serving: the previous value is back.
    PutBack,
    /// Putting the previous value back failed (why): the file names an image that does not
    /// run.
    PutBackFailed(String),
}

/// An upgrade's result, and what happened to the recorded image.
#[derive(Debug)]
pub struct UpgradeOutcome {
    pub result: Result<UpgradeReport, BackupError>,
    /// `None` without a named image (the configured one was pulled again).
    pub image: Option<ImageNote>,
}

impl<E: Engine> DataSafety<'_, E> {
    /// The backup of `backup.rs`, its services marked as in maintenance meanwhile.
    ///
    /// # Errors
    /// As the backup; the state database failing.
    pub async fn backup(
        &self,
        sel: &Selection,
        opts: &BackupOptions,
    ) -> Result<BackupReport, BackupError> {
        self.marked(sel, "service backup", None, self.backup_unmarked(sel, opts))
            .await
    }

    /// The restore of `restore.rs`, its services marked as in maintenance meanwhile.
    ///
    /// # Errors
    /// As the restore; the state database failing.
    pub async fn restore(
        &self,
        from: &Path,
        sel: &Selection,
        opts: &RestoreOptions,
    ) -> Result<RestoreReport, BackupError> {
        let work = self.restore_unmarked(from, sel, opts);
        self.marked(sel, "service restore", None, work).await
    }

    /// The upgrade of `upgrade.rs`, the service marked as in maintenance meanwhile and
    /// its intent recorded as running.
    ///
    /// # Errors
    /// As the upgrade; the state database failing.
    pub async fn upgrade(
        &self,
        s: Service,
        opts: &UpgradeOptions,
    ) -> Result<UpgradeReport, BackupError> {
        let work = self.upgrade_unmarked(s, opts);
        let sel = Selection::Only(vec![s]);
        self.marked(&sel, "service upgrade", Some(Desired::Running), work)
            .await
    }

    /// [`DataSafety::upgrade`], with a named image (`opts.image`) recorded in `env_file`
    /// BEFORE the container is recreated: should anything fail once it runs (this process,
    /// the write), the next start runs the new image again, never the old one over data the
    /// new version may have migrated. When the upgrade fails, the previous value is put back
    /// unless the previous image and data could not be put back ([`ImageNote`]).
    ///
    /// # Errors
    /// `env_file` cannot be read or written before the upgrade (nothing changed).
    pub async fn upgrade_recorded(
        &self,
        s: Service,
        opts: &UpgradeOptions,
        env_file: &Path,
    ) -> Result<UpgradeOutcome, config::ConfigError> {
        let key = s.image_key();
        let previous = match &opts.image {
            Some(image) => Some(record_image(env_file, key, image)?),
            None => None,
        };
        let result = self.upgrade(s, opts).await;
        let image = previous.map(|previous| match (&result, previous) {
            (_, None) => ImageNote::AlreadyRecorded,
            (Ok(_), Some(_)) => ImageNote::Recorded,
            (Err(e), Some(_)) if keeps_new_image(e) => ImageNote::KeptAfterFailure,
            (Err(_), Some(previous)) => match revert_image(env_file, key, previous.as_deref()) {
                Ok(()) => ImageNote::PutBack,
                Err(w) => ImageNote::PutBackFailed(chain(&w)),
            },
        });
        Ok(UpgradeOutcome { result, image })
    }

    async fn marked<T>(
        &self,
        sel: &Selection,
        command: &str,
        desired: Option<Desired>,
        work: impl Future<Output = Result<T, BackupError>>,
    ) -> Result<T, BackupError> {
        match self.marker {
            Some(store) => lifecycle::in_maintenance(store, sel, command, desired, work).await,
            None => work.await,
        }
    }
}

/// Set `key` to `image` in services.env (atomically). Returns the previous value
/// (`Some(None)`: the key was absent), or `None` when it already said `image`.
pub(crate) fn record_image(
    path: &Path,
    key: &str,
    image: &str,
) -> Result<Option<Option<String>>, config::ConfigError> {
    let mut env = config::EnvFile::read(path)?;
    let previous = env.get(key).map(str::to_owned);
    if previous.as_deref() == Some(image) {
        return Ok(None);
    }
    env.set(key, image);
    env.write_atomic()?;
    Ok(Some(previous))
}

/// An error with its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Put `key` of services.env back as [`record_image`] found it.
pub(crate) fn revert_image(
    path: &Path,
    key: &str,
    previous: Option<&str>,
) -> Result<(), config::ConfigError> {
    let mut env = config::EnvFile::read(path)?;
    match previous {
        Some(v) => env.set(key, v),
        None => {
            env.unset(key);
        }
    }
    env.write_atomic()?;
    Ok(())
}

/// Whether a failed upgrade keeps the new image recorded: only when putting the previous
/// image and data back failed too (the new image may have migrated the data), also when
/// ThingsBoard, stopped for its database, was left stopped with it. Every other failure
/// left the previous image serving (or changed nothing).
pub(crate) fn keeps_new_image(e: &BackupError) -> bool {
    match e {
        BackupError::RollbackFailed { .. } => true,
        BackupError::Partial { source, .. } => keeps_new_image(source),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
