//! `service upgrade`: pull, archive the service's data, recreate it with the new image and
//! wait until it is ready; on failure the previous data and image are put back.

use std::path::PathBuf;
use std::time::Duration;

use catalog::Service;
use compose::{Progress, ProgressSink, UpOptions};
use docker::{ContainerInfo, Engine};
use futures_util::StreamExt as _;
use lifecycle::Lifecycle;

use crate::BackupError;
use crate::aside::{discard, put_back, set_aside};
use crate::backup::BackupReport;
use crate::data_safety::{DataSafety, is_running};
use crate::unpack::{self, Limits};

/// Options of [`DataSafety::upgrade`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeOptions {
    /// The new image; `None`: the configured one, pulled again.
    pub image: Option<String>,
    /// How long the new container has to become ready.
    pub timeout: Duration,
    /// Where the pre-upgrade backup goes; `None`: `backups/<UTC timestamp>-pre-upgrade-<service>/`.
    pub backup_to: Option<PathBuf>,
    pub progress: ProgressSink,
}

impl Default for UpgradeOptions {
    fn default() -> Self {
        UpgradeOptions {
            image: None,
            timeout: Duration::from_secs(300),
            backup_to: None,
            progress: ProgressSink::none(),
        }
    }
}

/// What an upgrade did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpgradeAction {
    /// Recreated with the new image and ready.
    Upgraded,
    /// The container already runs that image: nothing was done.
    Unchanged,
}

/// The outcome of a successful upgrade.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpgradeReport {
    /// The compose service name.
    pub service: String,
    pub action: UpgradeAction,
    /// The image before (a reference, or an image id when the tag has moved since).
    pub previous: String,
    pub image: String,
    /// The `<SERVICE>_IMAGE` settings key of the service.
    pub image_key: String,
    /// The pre-upgrade backup.
    pub backup: Option<PathBuf>,
    /// Why the pull failed when a local copy of the image was used instead.
    pub pull_warning: Option<String>,
    /// Services stopped for the upgrade and started again: ThingsBoard, while its
    /// database was upgraded.
    pub restarted: Vec<String>,
    /// Services stopped for the upgrade that did not become ready again, with why (the
    /// upgrade itself succeeded).
    pub left_stopped: Vec<(String, String)>,
}

/// What a failed upgrade rolls back to.
struct Before<'a> {
    /// The service's container before the upgrade.
    container: Option<&'a ContainerInfo>,
    /// The image it ran (a reference, or an id when the tag has moved).
    previous: &'a str,
    /// The pre-upgrade backup.
    snapshot: &'a BackupReport,
}

impl<'e, E: Engine> DataSafety<'e, E> {
    /// A lifecycle of the same project with `image` for the service's image key.
    fn with_image(&self, s: Service, image: &str) -> Result<Lifecycle<'e, E>, BackupError> {
        let mut vars = self.vars.clone();
        vars.insert(s.image_key().to_owned(), image.to_owned());
        Ok(Lifecycle::new(self.engine, &self.files, &vars)?)
    }

    /// Pull `image` (progress to `progress`); when the pull fails but the image is
    /// present locally, the local copy is used and the failure returned as a warning.
    async fn pull(
        &self,
        image: &str,
        progress: &ProgressSink,
    ) -> Result<(String, Option<String>), BackupError> {
        progress.emit(Progress::PullStarted {
            image: image.to_owned(),
        });
        let mut stream = self.engine.pull_image(image);
        let mut failed = None;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ev) => {
                    if let Some(layer) = ev.id {
                        progress.emit(Progress::PullLayer {
                            image: image.to_owned(),
                            layer,
                            status: ev.status,
                            current: ev.current.and_then(|c| u64::try_from(c).ok()),
                            total: ev.total.and_then(|t| u64::try_from(t).ok()),
                        });
                    }
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        progress.emit(Progress::PullDone {
            image: image.to_owned(),
        });
        match self.engine.inspect_image(image).await {
            Ok(i) => Ok((i.id, failed)),
            Err(e) if e.is_not_found() => Err(BackupError::ImageUnavailable {
                image: image.to_owned(),
                reason: failed.unwrap_or_else(|| e.to_string()),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Upgrade one service: pull the image, back up the service's data (its directories,
    /// with the service stopped), recreate it with the new image and wait until it is
    /// ready. When it does not become ready, the previous data and image are put back
    /// and [`BackupError::UpgradeRolledBack`] names the failed image. The caller records
    /// the new image in `config/services.env` before (so a later start never goes back to
    /// the old image over migrated data) and puts the previous one back unless the error is
    /// [`BackupError::RollbackFailed`].
    ///
    /// Upgrading a running PostgreSQL stops a running ThingsBoard first (the PostgreSQL
    /// guard) and starts it again once the new server is ready (after a rollback: once the
    /// previous one serves again); the report names it, or names it as left stopped when
    /// it does not become ready (the upgrade stands).
    ///
    /// # Errors
    /// [`BackupError::ImageUnavailable`] (nothing changed), [`BackupError::UpgradeRolledBack`],
    /// [`BackupError::RollbackFailed`], selection, engine and file-system errors;
    /// [`BackupError::Partial`] around them when ThingsBoard, stopped for its database,
    pub(crate) async fn upgrade_unmarked(
        &self,
        s: Service,
        opts: &UpgradeOptions,
    ) -> Result<UpgradeReport, BackupError> {
        let def = self.def(s)?;
        let image = opts.image.clone().unwrap_or_else(|| def.image.clone());
        let current = self.container(s).await?;
        let was_running = current.as_ref().is_some_and(is_running);
        let (new_id, pull_warning) = self.pull(&image, &opts.progress).await?;
        let mut report = UpgradeReport {
            service: s.compose_name().to_owned(),
            action: UpgradeAction::Unchanged,
            previous: def.image.clone(),
            image: image.clone(),
            image_key: s.image_key().to_owned(),
            backup: None,
            pull_warning,
            restarted: Vec::new(),
            left_stopped: Vec::new(),
        };
        if let Some(c) = &current {
            if c.image == image && c.image_id == new_id && was_running {
                report.previous = c.image.clone();
                return Ok(report);
            }
            report.previous = self.previous_image(c).await;
        }
        // The project as it runs now and as it will: ThingsBoard, when it is stopped for its
        // database, starts again with the one that serves (starting it converges
        // PostgreSQL, and an image id that differs recreates it).
        let lc = self.with_image(s, &image)?;
        let before = self.with_image(s, &report.previous)?;
        // PostgreSQL cannot stop under a running ThingsBoard (the PostgreSQL guard):
        // ThingsBoard stops first and starts again once its database serves.
        let tb_held = s == Service::Postgres && was_running && self.hold_thingsboard().await?;
        let snapshot = match self.pre_upgrade_backup(s, opts.backup_to.as_deref()).await {
            Ok(b) => b,
            Err(e) if tb_held => {
                return Err(self
                    .release_after_failure(&before, e, opts.timeout, &opts.progress)
                    .await);
            }
            Err(e) => return Err(e),
        };
        report.backup = Some(snapshot.dir.clone());
        match self.recreate(&lc, s, opts).await {
            Ok(()) => {
                report.action = UpgradeAction::Upgraded;
                if tb_held {
                    self.restart_thingsboard(&lc, &mut report, opts).await;
                }
                Ok(report)
            }
            Err(failure) => {
                let was = Before {
                    container: current.as_ref(),
                    previous: &report.previous,
                    snapshot: &snapshot,
                };
                let err = self.upgrade_failed(s, &image, &failure, &was, opts).await;
                if !tb_held {
                    return Err(err);
                }
                let mut err = self
                    .release_after_failure(&before, err, opts.timeout, &opts.progress)
                    .await;
                if let BackupError::UpgradeRolledBack {
                    thingsboard_restarted,
                    ..
                } = &mut err
                {
                    *thingsboard_restarted = true;
                }
                Err(err)
            }
        }
    }

    /// The image `c` runs: its reference, or its id when the tag has moved since (with
    /// the pull).
    async fn previous_image(&self, c: &ContainerInfo) -> String {
        let same = self
            .engine
            .inspect_image(&c.image)
            .await
            .is_ok_and(|i| i.id == c.image_id);
        if !same && !c.image_id.is_empty() {
            c.image_id.clone()
        } else {
            c.image.clone()
        }
    }

    /// Recreate `s` with the definition of `lc` and wait until it is ready.
    async fn recreate(
        &self,
        lc: &Lifecycle<'e, E>,
        s: Service,
        opts: &UpgradeOptions,
    ) -> Result<(), BackupError> {
        lc.compose()
            .up(
                &[s.compose_name().to_owned()],
                &UpOptions {
                    wait: false,
                    timeout: Some(opts.timeout),
                    force_recreate: false,
                    progress: opts.progress.clone(),
                },
            )
            .await?;
        self.wait_ready(s, opts.timeout, &opts.progress).await
    }

    /// ThingsBoard, stopped for its database's upgrade, starts again with the new one.
    /// The upgrade stands: a ThingsBoard that does not start again is reported, not a
    /// reason to go back.
    async fn restart_thingsboard(
        &self,
        lc: &Lifecycle<'e, E>,
        report: &mut UpgradeReport,
        opts: &UpgradeOptions,
    ) {
        let tb = Service::ThingsBoard;
        match self
            .start_and_wait(lc, tb, opts.timeout, &opts.progress)
            .await
        {
            Ok(()) => report.restarted.push(tb.compose_name().to_owned()),
            Err(e) => report
                .left_stopped
                .push((tb.compose_name().to_owned(), e.to_string())),
        }
    }

    /// Roll a failed upgrade of `s` to `image` back; the error says how that went.
    async fn upgrade_failed(
        &self,
        s: Service,
        image: &str,
        failure: &BackupError,
        was: &Before<'_>,
        opts: &UpgradeOptions,
    ) -> BackupError {
        let service = s.compose_name().to_owned();
        match self.rollback_upgrade(s, was, opts).await {
            Ok(()) => BackupError::UpgradeRolledBack {
                service,
                image: image.to_owned(),
                reason: failure.to_string(),
                previous: was.previous.to_owned(),
                backup: was.snapshot.dir.clone(),
                thingsboard_restarted: false,
            },
            Err(r) => BackupError::RollbackFailed {
                action: "upgrade",
                service,
                reason: format!("{image}: {failure}"),
                rollback: r.to_string(),
                saved: was.snapshot.dir.clone(),
            },
        }
    }

    async fn rollback_upgrade(
        &self,
        s: Service,
        was: &Before<'_>,
        opts: &UpgradeOptions,
    ) -> Result<(), BackupError> {
        let name = s.compose_name().to_owned();
        let lc = self.with_image(s, was.previous)?;
        lc.compose().stop(std::slice::from_ref(&name), None).await?;
        if let Some(entry) = was.snapshot.manifest.service(&name) {
            let aside = set_aside(self.root(), &entry.paths, "failed-upgrade")?;
            let file = was.snapshot.dir.join(&entry.file);
            let limits = Limits::of(entry);
            let root = self.root();
            if let Err(e) = unpack::extract(
                &file,
                root,
                &entry.paths,
                &entry.service,
                self.owners,
                limits,
            ) {
                put_back(self.root(), &entry.paths, &aside)?;
                return Err(e);
            }
            discard(&aside);
        }
        let Some(container) = was.container else {
            lc.compose()
                .rm(std::slice::from_ref(&name), false, None)
                .await?;
            return Ok(());
        };
        self.recreate(&lc, s, opts).await?;
        if !is_running(container) {
            lc.compose().stop(std::slice::from_ref(&name), None).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
