//! `service backup`: PostgreSQL by `pg_dumpall` in its running container, every other
//! service as a tar.gz of its state directories taken while it is stopped; a manifest
//! with sizes and sha256, everything written to a temporary directory renamed into place
//! when complete. Also the pre-upgrade archive of [`DataSafety::upgrade`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use catalog::Service;
use compose::ProgressSink;
use docker::{ContainerInfo, Engine};
use lifecycle::Selection;

use crate::data_safety::{DataSafety, create_private_dir, is_running, rfc3339_now, stamp_now};
use crate::error::io_err;
use crate::manifest::{BackupKind, FORMAT, Manifest, ServiceBackup};
use crate::state::backup_paths;
use crate::{BackupError, archive};

/// Options of [`DataSafety::backup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupOptions {
    /// The backup directory to create; `None`: `backups/<UTC timestamp>/` in the project.
    pub to: Option<PathBuf>,
    /// PostgreSQL as `pg_dumpall` from the running server (it keeps serving). When false,
    /// or when the server is not running, its data directory is archived like the others.
    pub postgres_dump: bool,
    /// How long to wait for a service that was stopped for the backup to be ready again.
    pub timeout: Duration,
    pub progress: ProgressSink,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            to: None,
            postgres_dump: true,
            timeout: Duration::from_secs(300),
            progress: ProgressSink::none(),
        }
    }
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupReport {
    /// The (complete) backup directory.
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Services left out, with why (no data yet).
    pub skipped: Vec<(String, String)>,
    /// Services stopped although not selected, and started again: ThingsBoard, while its
    /// database was archived.
    pub restarted: Vec<String>,
}

/// A backup being written: a hidden temporary directory next to its target, renamed into
/// place once its manifest is complete (an interrupted backup leaves no half directory).
struct Staging {
    tmp: tempfile::TempDir,
    parent: PathBuf,
    report: BackupReport,
}

impl Staging {
    fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Record what was saved of `s` (`None`: it has no data yet).
    fn add(&mut self, s: Service, saved: Option<ServiceBackup>) {
        match saved {
            Some(entry) => self.report.manifest.services.push(entry),
            None => self
                .report
                .skipped
                .push((s.compose_name().to_owned(), "no data yet".to_owned())),
        }
    }

    /// Write the manifest, then rename the directory into place.
    fn commit(self) -> Result<BackupReport, BackupError> {
        self.report.manifest.write(self.tmp.path())?;
        let dir = &self.report.dir;
        // Renamed within the parent through safe_fs: never over an existing name. The parent
        // is opened before the staging dir is kept, so a failure still removes it.
        let parent = safe_fs::Dir::open_root(&self.parent).map_err(|e| io_err(dir, &e))?;
        let kept = self.tmp.keep();
        let (from, to) = (kept.file_name(), dir.file_name());
        let moved = match (from, to) {
            (Some(from), Some(to)) => parent.rename_new(from, to),
            _ => Err(std::io::Error::other("not a directory name")),
        };
        if let Err(e) = moved {
            if let Some(from) = from {
                let _ = parent.remove_all(from);
            }
            return Err(io_err(dir, &e));
        }
        Ok(self.report)
    }
}

impl<E: Engine> DataSafety<'_, E> {
    /// Back up the selected services into a new directory (mode 0700), atomically: the
    /// files are written to a temporary directory next to it, which is renamed when the
    /// manifest is complete. PostgreSQL (running) through `pg_dumpall` in its container;
    /// every other service as a tar.gz of its state directories, taken with the service
    /// stopped and started again when it was running. PostgreSQL archived while it runs
    /// (without `postgres_dump`) stops a running ThingsBoard first, and starts it again
    /// after its database (reported in [`BackupReport::restarted`]).
    ///
    /// # Errors
    /// Selection, engine, exec and file-system errors; [`BackupError::Exists`] when the
    /// target directory exists and is not empty.
    pub(crate) async fn backup_unmarked(
        &self,
        sel: &Selection,
        opts: &BackupOptions,
    ) -> Result<BackupReport, BackupError> {
        let targets = self.targets(sel)?;
        let mut staging = self.stage(self.backup_dir(opts.to.as_deref(), &stamp_now())?)?;
        let mut restarted = Vec::new();
        for s in targets {
            let saved = self
                .backup_one(s, staging.path(), opts, &mut restarted)
                .await?;
            staging.add(s, saved);
        }
        staging.report.restarted = restarted;
        staging.commit()
    }

    /// The pre-upgrade backup of `s`: an archive of its state directories (also for
    /// PostgreSQL, so that a rollback is exact), taken with the service stopped and left
    /// stopped for the upgrade; in `to`, or `backups/<stamp>-pre-upgrade-<service>/`.
    pub(crate) async fn pre_upgrade_backup(
        &self,
        s: Service,
        to: Option<&Path>,
    ) -> Result<BackupReport, BackupError> {
        let name = format!("{}-pre-upgrade-{}", stamp_now(), s.compose_name());
        let mut staging = self.stage(self.backup_dir(to, &name)?)?;
        let current = self.container(s).await?;
        let image = self.image_of(s, current.as_ref())?;
        let saved = match self.existing_backup_paths(s)? {
            None => None,
            Some(paths) => {
                if current.as_ref().is_some_and(is_running) {
                    self.lifecycle.stop(&Selection::Only(vec![s]), None).await?;
                }
                Some(self.archive_service(s, staging.path(), paths, image)?)
            }
        };
        staging.add(s, saved);
        staging.commit()
    }

    /// A new, empty staging directory next to `dir` (0700).
    fn stage(&self, dir: PathBuf) -> Result<Staging, BackupError> {
        let parent = dir.parent().unwrap_or(self.root()).to_owned();
        let tmp = tempfile::Builder::new()
            .prefix(".dtaas-backup-")
            .tempdir_in(&parent)
            .map_err(|e| io_err(&parent, &e))?;
        create_private_dir(tmp.path())?;
        let manifest = Manifest {
            format: FORMAT,
            created: rfc3339_now(),
            project: self.project().name.clone(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            services: Vec::new(),
        };
        Ok(Staging {
            tmp,
            parent,
            report: BackupReport {
                dir,
                manifest,
                skipped: Vec::new(),
                restarted: Vec::new(),
            },
        })
    }

    /// The directory a backup goes to: `to` (absent or empty), or a new
    /// `backups/<name>[-<n>]` (`backups/` 0700).
    fn backup_dir(&self, to: Option<&Path>, name: &str) -> Result<PathBuf, BackupError> {
        let dir = match to {
            Some(d) if d.is_absolute() => d.to_owned(),
            Some(d) => std::env::current_dir().map_err(|e| io_err(d, &e))?.join(d),
            None => {
                let base = self.root().join("backups");
                create_private_dir(&base)?;
                let numbered = |n: u32| match n {
                    1 => base.join(name),
                    n => base.join(format!("{name}-{n}")),
                };
                let mut n = 1;
                while numbered(n).exists() {
                    n += 1;
                }
                return Ok(numbered(n));
            }
        };
        match std::fs::read_dir(&dir).map(|mut e| e.next().is_some()) {
            Ok(true) => return Err(BackupError::Exists { path: dir }),
            Ok(false) => std::fs::remove_dir(&dir).map_err(|e| io_err(&dir, &e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&dir, &e)),
        }
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, &e))?;
        }
        Ok(dir)
    }

    /// The image a service runs (or would run) now.
    fn image_of(&self, s: Service, current: Option<&ContainerInfo>) -> Result<String, BackupError> {
        let def = self.def(s)?;
        Ok(current.map_or_else(|| def.image.clone(), |c| c.image.clone()))
    }

    /// The state directories of `s` that exist (`None`: none does, no data yet).
    fn existing_backup_paths(&self, s: Service) -> Result<Option<Vec<String>>, BackupError> {
        let paths: Vec<String> = backup_paths(self.project(), s)?
            .into_iter()
            .filter(|p| self.root().join(p).exists())
            .collect();
        Ok((!paths.is_empty()).then_some(paths))
    }

    /// Back up one service as `service backup` does: a running one is started again (and
    /// waited for) after its archive; ThingsBoard, stopped for its database, too.
    async fn backup_one(
        &self,
        s: Service,
        dir: &Path,
        opts: &BackupOptions,
        restarted: &mut Vec<String>,
    ) -> Result<Option<ServiceBackup>, BackupError> {
        let current = self.container(s).await?;
        let running = current.as_ref().is_some_and(is_running);
        let image = self.image_of(s, current.as_ref())?;
        if s == Service::Postgres && opts.postgres_dump && running {
            return self.dump_postgres(dir, image).await.map(Some);
        }
        let Some(paths) = self.existing_backup_paths(s)? else {
            return Ok(None);
        };
        if !running {
            return self.archive_service(s, dir, paths, image).map(Some);
        }
        // An archive of PostgreSQL's files needs it stopped, and so ThingsBoard first.
        let tb_held = s == Service::Postgres && self.hold_thingsboard().await?;
        let archived = async {
            self.lifecycle.stop(&Selection::Only(vec![s]), None).await?;
            let archived = self.archive_service(s, dir, paths, image);
            self.start_and_wait(&self.lifecycle, s, opts.timeout, &opts.progress)
                .await?;
            archived
        }
        .await;
        let tb = Service::ThingsBoard;
        match archived {
            Ok(done) if tb_held => {
                self.start_and_wait(&self.lifecycle, tb, opts.timeout, &opts.progress)
                    .await?;
                restarted.push(tb.compose_name().to_owned());
                Ok(Some(done))
            }
            Ok(done) => Ok(Some(done)),
            Err(e) if tb_held => Err(self
                .release_after_failure(&self.lifecycle, e, opts.timeout, &opts.progress)
                .await),
            Err(e) => Err(e),
        }
    }

    /// `<service>.tar.gz` of `paths` in `dir` (the service is stopped).
    fn archive_service(
        &self,
        s: Service,
        dir: &Path,
        paths: Vec<String>,
        image: String,
    ) -> Result<ServiceBackup, BackupError> {
        let file = format!("{}.tar.gz", s.compose_name());
        let w = archive::create(self.root(), &paths, &dir.join(&file), s.compose_name())?;
        Ok(ServiceBackup {
            service: s.compose_name().to_owned(),
            kind: BackupKind::Archive,
            image,
            paths,
            file,
            size: w.size,
            sha256: w.sha256,
            unpacked_size: Some(w.unpacked_size),
            entries: w.entries,
            left_out: w.left_out,
        })
    }
}

#[cfg(test)]
mod tests;
