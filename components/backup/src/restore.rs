//! `service restore`: every checksum verified before anything is touched; per service the
//! current data set aside, the backup put in place (PostgreSQL: a fresh cluster and the
//! dump replayed), the service started and waited for, and the set-aside data deleted
//! only then — or put back when anything failed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use catalog::Service;
use compose::ProgressSink;
use docker::Engine;
use lifecycle::Selection;

use crate::BackupError;
use crate::aside::{discard, put_back, set_aside};
use crate::data_safety::{DataSafety, is_running};
use crate::manifest::{BackupKind, Manifest, ServiceBackup, verify};
use crate::state::backup_paths;
use crate::unpack::{self, Limits};

/// Options of [`DataSafety::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreOptions {
    /// How long to wait for each restored service to be ready.
    pub timeout: Duration,
    pub progress: ProgressSink,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            timeout: Duration::from_secs(300),
            progress: ProgressSink::none(),
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestoreReport {
    pub from: PathBuf,
    /// Compose names of the restored services, in order.
    pub restored: Vec<String>,
    /// Set-aside copies of the previous data that could not be deleted afterwards.
    pub leftovers: Vec<PathBuf>,
}

/// Everything a restore checks before it touches anything: the manifest, the size and
/// sha256 of each selected file ([`verify`]), and every entry of each archive (no link,
/// device or name outside the service's paths, no more than the manifest recorded).
///
/// # Errors
/// Those of [`verify`], [`BackupError::UnsafeEntry`], [`BackupError::ArchiveTooLarge`].
pub fn verify_restorable(dir: &Path, services: Option<&[String]>) -> Result<Manifest, BackupError> {
    let manifest = verify(dir, services)?;
    let selected = manifest
        .services
        .iter()
        .filter(|e| services.is_none_or(|n| n.contains(&e.service)));
    for entry in selected {
        let file = dir.join(&entry.file);
        match entry.kind {
            BackupKind::Archive => {
                unpack::check(&file, &entry.paths, &entry.service, Limits::of(entry))?;
            }
            BackupKind::PgDumpall => crate::postgres::check_dump(&file, entry)?,
        }
    }
    Ok(manifest)
}

impl<E: Engine> DataSafety<'_, E> {
    /// Restore the selected services (every service the backup holds with
    /// [`Selection::All`]) from a backup directory. Every checksum is verified before
    /// anything is touched. For each service: stop it, move its current data aside, put
    /// the backup in place (PostgreSQL: start on an empty data directory and replay the
    /// dump with psql), start it and wait until it is ready; the set-aside data is deleted
    /// only then, and put back when anything failed.
    ///
    /// # Errors
    /// [`BackupError::Corrupted`] and the other verification errors (nothing touched),
    /// [`BackupError::RestoreRolledBack`] (previous data back in place),
    /// [`BackupError::RollbackFailed`], selection and engine errors; when services were
    /// restored before one failed (or ThingsBoard could not be started again),
    /// [`BackupError::Partial`] names them around the failure.
    pub async fn restore(
        &self,
        from: &Path,
        sel: &Selection,
        opts: &RestoreOptions,
    ) -> Result<RestoreReport, BackupError> {
        let todo = self.restore_plan(from, sel)?;
        // Which services run before anything is stopped: a rollback starts them again.
        let mut running = Vec::new();
        for (s, _) in &todo {
            if self.container(*s).await?.as_ref().is_some_and(is_running) {
                running.push(*s);
            }
        }
        // PostgreSQL cannot stop under a running ThingsBoard; when both are restored,
        // ThingsBoard stops first and starts again after its database is back (restored
        // itself, or after a rollback).
        let tb_held = todo.iter().any(|(s, _)| *s == Service::Postgres)
            && todo.iter().any(|(s, _)| *s == Service::ThingsBoard)
            && self.hold_thingsboard().await?;
        let mut report = RestoreReport {
            from: from.to_owned(),
            restored: Vec::new(),
            leftovers: Vec::new(),
        };
        for (s, entry) in &todo {
            match self
                .restore_one(from, *s, entry, running.contains(s), opts)
                .await
            {
                Ok(left) => {
                    report.leftovers.extend(left);
                    report.restored.push(s.compose_name().to_owned());
                }
                Err(e) => {
                    let held = tb_held.then_some(&todo[..]);
                    return Err(self.restore_failed(report, *s, e, held, opts).await);
                }
            }
        }
        Ok(report)
    }

    /// The services to restore with their manifest entries, in start order: every
    /// checksum verified and every listed path one of the service's state paths, before
    /// anything is touched.
    fn restore_plan(
        &self,
        from: &Path,
        sel: &Selection,
    ) -> Result<Vec<(Service, ServiceBackup)>, BackupError> {
        let names: Option<Vec<String>> = match sel {
            Selection::All => None,
            Selection::Only(v) => Some(v.iter().map(|s| s.compose_name().to_owned()).collect()),
        };
        let manifest = verify_restorable(from, names.as_deref())?;
        let mut todo = Vec::new();
        for s in Service::ALL {
            let Some(entry) = manifest.service(s.compose_name()) else {
                continue;
            };
            if names
                .as_ref()
                .is_some_and(|n| !n.iter().any(|n| n == s.compose_name()))
            {
                continue;
            }
            self.def(s)?;
            // The manifest only names what to restore within the service's own state
            // paths; anything else (its config, the certificates) is never replaced.
            let allowed = backup_paths(self.project(), s)?;
            if let Some(p) = entry.paths.iter().find(|p| !allowed.contains(p)) {
                return Err(BackupError::BadManifest {
                    path: from.join(crate::MANIFEST_FILE),
                    message: format!(
                        "{} lists the path {p:?}, which is not one of its state paths ({}); nothing was restored",
                        s.compose_name(),
                        allowed.join(", ")
                    ),
                });
            }
            todo.push((s, entry.clone()));
        }
        Ok(todo)
    }

    /// The error of a restore that failed at `failed`: ThingsBoard, stopped for its
    /// database (`held`: the services being restored) and not reached, runs again when its
    /// database was put back; services restored before are named.
    async fn restore_failed(
        &self,
        report: RestoreReport,
        failed: Service,
        source: BackupError,
        held: Option<&[(Service, ServiceBackup)]>,
        opts: &RestoreOptions,
    ) -> BackupError {
        let tb = Service::ThingsBoard;
        let reached = |todo: &[(Service, ServiceBackup)]| {
            todo.iter()
                .position(|(s, _)| *s == tb)
                .is_some_and(|i| todo.iter().position(|(s, _)| *s == failed) >= Some(i))
        };
        let err = match held {
            Some(todo) if !reached(todo) => {
                self.release_after_failure(&self.lifecycle, source, opts.timeout, &opts.progress)
                    .await
            }
            _ => source,
        };
        let (left_stopped, source) = match err {
            BackupError::Partial {
                left_stopped,
                source,
                ..
            } => (left_stopped, source),
            e => (Vec::new(), Box::new(e)),
        };
        if report.restored.is_empty() && left_stopped.is_empty() {
            return *source;
        }
        BackupError::Partial {
            restored: report.restored,
            leftovers: report.leftovers,
            left_stopped,
            source,
        }
    }

    async fn restore_one(
        &self,
        from: &Path,
        s: Service,
        entry: &ServiceBackup,
        was_running: bool,
        opts: &RestoreOptions,
    ) -> Result<Vec<PathBuf>, BackupError> {
        self.lifecycle.stop(&Selection::Only(vec![s]), None).await?;
        let paths = match entry.kind {
            BackupKind::Archive => entry.paths.clone(),
            BackupKind::PgDumpall => backup_paths(self.project(), s)?,
        };
        let aside = set_aside(self.root(), &paths, "pre-restore")?;
        let file = from.join(&entry.file);
        match self.put_in_place(s, entry, &file, &paths, opts).await {
            Ok(()) => Ok(discard(&aside)),
            Err(e) => Err(self
                .rollback_restore(s, &paths, &aside, was_running, &e, opts)
                .await),
        }
    }

    /// Put the backup of `s` in place (its previous data is aside) and start it.
    async fn put_in_place(
        &self,
        s: Service,
        entry: &ServiceBackup,
        file: &Path,
        paths: &[String],
        opts: &RestoreOptions,
    ) -> Result<(), BackupError> {
        match entry.kind {
            BackupKind::Archive => {
                let limits = Limits::of(entry);
                unpack::extract(
                    file,
                    self.root(),
                    paths,
                    &entry.service,
                    self.owners,
                    limits,
                )?;
                self.start_and_wait(&self.lifecycle, s, opts.timeout, &opts.progress)
                    .await
            }
            BackupKind::PgDumpall => {
                unpack::create_empty_dirs(self.root(), paths)?;
                self.start_and_wait(&self.lifecycle, s, opts.timeout, &opts.progress)
                    .await?;
                self.replay_dump(file, entry).await
            }
        }
    }

    /// After a failed restore of `s`: the restored files removed, the previous data moved
    /// back, the service started again when it ran.
    async fn rollback_restore(
        &self,
        s: Service,
        paths: &[String],
        aside: &[(PathBuf, PathBuf)],
        was_running: bool,
        e: &BackupError,
        opts: &RestoreOptions,
    ) -> BackupError {
        let rollback = async {
            self.lifecycle
                .compose()
                .stop(&[s.compose_name().to_owned()], None)
                .await?;
            put_back(self.root(), paths, aside)?;
            if was_running {
                self.start_and_wait(&self.lifecycle, s, opts.timeout, &opts.progress)
                    .await?;
            }
            Ok::<(), BackupError>(())
        }
        .await;
        match rollback {
            Ok(()) => BackupError::RestoreRolledBack {
                service: s.compose_name().to_owned(),
                reason: e.to_string(),
                restarted: was_running,
            },
            Err(r) => BackupError::RollbackFailed {
                action: "restore",
                service: s.compose_name().to_owned(),
                reason: e.to_string(),
                rollback: r.to_string(),
                saved: aside
                    .first()
                    .map_or_else(|| self.root().to_owned(), |(_, a)| a.clone()),
            },
        }
    }
}

#[cfg(test)]
mod tests;
