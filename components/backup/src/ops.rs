use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use catalog::Service;
use compose::{Progress, ProgressSink, ProjectFiles, ServiceDef, UpOptions};
use docker::{
    ContainerInfo, ContainerState, Engine, ExecInput, ExecOutput, ExecSink, ExecSpec, Health,
};
use futures_util::StreamExt as _;
use lifecycle::{Lifecycle, Selection, StartOptions};
use tokio::time::{Instant, sleep};

use crate::error::io_err;
use crate::manifest::{BackupKind, FORMAT, Manifest, ServiceBackup, verify};
use crate::state::backup_paths;
use crate::{BackupError, archive};

const POLL: Duration = Duration::from_millis(500);
const PG_DUMP_FILE: &str = "postgres.sql.gz";

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

/// Backups, restores and upgrades of one project's services on one engine.
#[derive(Debug)]
pub struct DataSafety<'e, E: Engine> {
    engine: &'e E,
    files: ProjectFiles,
    vars: BTreeMap<String, String>,
    lifecycle: Lifecycle<'e, E>,
    owners: bool,
}

impl<'e, E: Engine> DataSafety<'e, E> {
    /// Load the project's compose files (interpolated from `vars`).
    ///
    /// # Errors
    /// A compose file that cannot be read, parsed or interpolated.
    pub fn new(
        engine: &'e E,
        files: &ProjectFiles,
        vars: &BTreeMap<String, String>,
    ) -> Result<DataSafety<'e, E>, BackupError> {
        Ok(DataSafety {
            engine,
            files: files.clone(),
            vars: vars.clone(),
            lifecycle: Lifecycle::new(engine, files, vars)?,
            owners: nix::unistd::geteuid().is_root(),
        })
    }

    /// The lifecycle of the project (as configured).
    #[must_use]
    pub fn lifecycle(&self) -> &Lifecycle<'e, E> {
        &self.lifecycle
    }

    fn project(&self) -> &compose::Project {
        self.lifecycle.compose().project()
    }

    fn root(&self) -> &Path {
        &self.project().working_dir
    }

    fn def(&self, s: Service) -> Result<&ServiceDef, BackupError> {
        self.project()
            .services
            .get(s.compose_name())
            .ok_or_else(|| BackupError::NotDefined {
                service: s.compose_name().to_owned(),
            })
    }

    fn targets(&self, sel: &Selection) -> Result<Vec<Service>, BackupError> {
        match sel {
            Selection::All => Ok(Service::ALL
                .into_iter()
                .filter(|s| self.project().services.contains_key(s.compose_name()))
                .collect()),
            Selection::Only(v) => {
                for s in v {
                    self.def(*s)?;
                }
                Ok(Service::ALL.into_iter().filter(|s| v.contains(s)).collect())
            }
        }
    }

    async fn container(&self, s: Service) -> Result<Option<ContainerInfo>, BackupError> {
        Ok(self
            .lifecycle
            .compose()
            .ps()
            .await?
            .into_iter()
            .find(|c| c.service == s.compose_name())
            .map(|c| c.container))
    }

    // ---------------------------------------------------------------- backup

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
    pub async fn backup(
        &self,
        sel: &Selection,
        opts: &BackupOptions,
    ) -> Result<BackupReport, BackupError> {
        let targets = self.targets(sel)?;
        self.backup_services(&targets, opts, None, true).await
    }

    async fn backup_services(
        &self,
        targets: &[Service],
        opts: &BackupOptions,
        label: Option<&str>,
        restart: bool,
    ) -> Result<BackupReport, BackupError> {
        let dir = self.backup_dir(opts.to.as_deref(), label)?;
        let parent = dir.parent().unwrap_or(self.root()).to_owned();
        let tmp = tempfile::Builder::new()
            .prefix(".dtaas-backup-")
            .tempdir_in(&parent)
            .map_err(|e| io_err(&parent, &e))?;
        create_private_dir(tmp.path())?;
        let mut manifest = Manifest {
            format: FORMAT,
            created: rfc3339_now(),
            project: self.project().name.clone(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            services: Vec::new(),
        };
        let mut skipped = Vec::new();
        let mut restarted = Vec::new();
        for s in targets {
            match self
                .backup_one(*s, tmp.path(), opts, restart, &mut restarted)
                .await?
            {
                Some(entry) => manifest.services.push(entry),
                None => skipped.push((s.compose_name().to_owned(), "no data yet".to_owned())),
            }
        }
        manifest.write(tmp.path())?;
        let kept = tmp.keep();
        if let Err(e) = std::fs::rename(&kept, &dir) {
            let _ = std::fs::remove_dir_all(&kept);
            return Err(io_err(&dir, &e));
        }
        if let Ok(d) = std::fs::File::open(&parent) {
            let _ = d.sync_all();
        }
        Ok(BackupReport {
            dir,
            manifest,
            skipped,
            restarted,
        })
    }

    /// The directory a backup goes to: `to`, or a new `backups/<stamp>[-label]` (0700).
    fn backup_dir(&self, to: Option<&Path>, label: Option<&str>) -> Result<PathBuf, BackupError> {
        let dir = match to {
            Some(d) if d.is_absolute() => d.to_owned(),
            Some(d) => std::env::current_dir().map_err(|e| io_err(d, &e))?.join(d),
            None => {
                let base = self.root().join("backups");
                create_private_dir(&base)?;
                let stamp = stamp_now();
                let name = |n: u32| {
                    let mut s = stamp.clone();
                    if let Some(l) = label {
                        s.push('-');
                        s.push_str(l);
                    }
                    if n > 1 {
                        s.push_str(&format!("-{n}"));
                    }
                    base.join(s)
                };
                let mut n = 1;
                while name(n).exists() {
                    n += 1;
                }
                return Ok(name(n));
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

    async fn backup_one(
        &self,
        s: Service,
        dir: &Path,
        opts: &BackupOptions,
        restart: bool,
        restarted: &mut Vec<String>,
    ) -> Result<Option<ServiceBackup>, BackupError> {
        let def = self.def(s)?;
        let current = self.container(s).await?;
        let running = current.as_ref().is_some_and(is_running);
        let image = current
            .as_ref()
            .map_or_else(|| def.image.clone(), |c| c.image.clone());
        if s == Service::Postgres && opts.postgres_dump && running {
            // Streamed: the dump goes through gzip to disk as pg_dumpall writes it.
            let mut gz = archive::GzipFile::create(&dir.join(PG_DUMP_FILE))?;
            let mut sink = |chunk: &[u8]| gz.write(chunk);
            let out = self
                .exec_pg(
                    vec!["pg_dumpall".into(), "--no-password".into()],
                    None,
                    &mut sink,
                )
                .await?;
            check_exec(s, "pg_dumpall", &out)?;
            let (size, sha256) = gz.finish()?;
            return Ok(Some(ServiceBackup {
                service: s.compose_name().to_owned(),
                kind: BackupKind::PgDumpall,
                image,
                paths: Vec::new(),
                file: PG_DUMP_FILE.to_owned(),
                size,
                sha256,
            }));
        }
        let paths: Vec<String> = backup_paths(self.project(), s)?
            .into_iter()
            .filter(|p| self.root().join(p).exists())
            .collect();
        if paths.is_empty() {
            return Ok(None);
        }
        // An archive of PostgreSQL's files needs it stopped, and so ThingsBoard first (an
        // upgrade, which does not restart, holds ThingsBoard itself).
        let tb_held =
            running && restart && s == Service::Postgres && self.hold_thingsboard().await?;
        let file = format!("{}.tar.gz", s.compose_name());
        let archived = async {
            if running {
                self.lifecycle.stop(&Selection::Only(vec![s]), None).await?;
            }
            let archived = archive::create(self.root(), &paths, &dir.join(&file));
            if running && restart {
                self.start_and_wait(&self.lifecycle, s, opts.timeout, &opts.progress)
                    .await?;
            }
            archived
        }
        .await;
        let (size, sha256) = match archived {
            Ok(done) if tb_held => {
                self.start_and_wait(
                    &self.lifecycle,
                    Service::ThingsBoard,
                    opts.timeout,
                    &opts.progress,
                )
                .await?;
                restarted.push(Service::ThingsBoard.compose_name().to_owned());
                done
            }
            Ok(done) => done,
            Err(e) if tb_held => {
                return Err(self
                    .release_after_failure(&self.lifecycle, e, opts.timeout, &opts.progress)
                    .await);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(ServiceBackup {
            service: s.compose_name().to_owned(),
            kind: BackupKind::Archive,
            image,
            paths,
            file,
            size,
            sha256,
        }))
    }

    /// Run a PostgreSQL client command in the postgres container as the configured
    /// superuser; the password goes through the exec environment, never argv.
    async fn exec_pg(
        &self,
        cmd: Vec<String>,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> Result<ExecOutput, BackupError> {
        let def = self.def(Service::Postgres)?;
        let var = |k: &str| def.environment.get(k).cloned().flatten();
        let mut env = vec!["PGDATABASE=postgres".to_owned()];
        if let Some(u) = var("POSTGRES_USER") {
            env.push(format!("PGUSER={u}"));
        }
        if let Some(p) = var("POSTGRES_PASSWORD") {
            env.push(format!("PGPASSWORD={p}"));
        }
        let spec = ExecSpec {
            cmd,
            env,
            user: None,
            working_dir: None,
            stdin: None,
        };
        Ok(self
            .lifecycle
            .compose()
            .exec_streaming(Service::Postgres.compose_name(), &spec, stdin, sink)
            .await?)
    }

    async fn start_and_wait(
        &self,
        lc: &Lifecycle<'e, E>,
        s: Service,
        timeout: Duration,
        progress: &ProgressSink,
    ) -> Result<(), BackupError> {
        lc.start(
            &Selection::Only(vec![s]),
            &StartOptions {
                wait: false,
                timeout: Some(timeout),
                progress: progress.clone(),
            },
        )
        .await?;
        self.wait_ready(s, timeout, progress).await
    }

    /// ThingsBoard keeps its data in PostgreSQL, and the PostgreSQL guard refuses to stop
    /// the database under a running ThingsBoard: before PostgreSQL stops for a restore, an
    /// archive or an upgrade, ThingsBoard stops. Returns whether it ran, and so must start
    /// again once its database serves (with the lifecycle that serves then; after a
    /// failure through [`Self::release_after_failure`]).
    async fn hold_thingsboard(&self) -> Result<bool, BackupError> {
        let tb = Service::ThingsBoard;
        if !self.project().services.contains_key(tb.compose_name()) {
            return Ok(false);
        }
        if !self.container(tb).await?.as_ref().is_some_and(is_running) {
            return Ok(false);
        }
        self.lifecycle
            .stop(&Selection::Only(vec![tb]), None)
            .await?;
        Ok(true)
    }

    /// The error of a failed operation that held ThingsBoard: ThingsBoard starts again
    /// through `lc` (the lifecycle whose PostgreSQL definition serves now: starting
    /// ThingsBoard converges its dependencies) unless the database could not be put back
    /// ([`BackupError::RollbackFailed`]); when it does not run again, the error is a
    /// [`BackupError::Partial`] naming it as left stopped.
    async fn release_after_failure(
        &self,
        lc: &Lifecycle<'e, E>,
        failure: BackupError,
        timeout: Duration,
        progress: &ProgressSink,
    ) -> BackupError {
        let tb = Service::ThingsBoard;
        let db_back = !matches!(failure, BackupError::RollbackFailed { .. });
        if db_back && self.start_and_wait(lc, tb, timeout, progress).await.is_ok() {
            return failure;
        }
        BackupError::Partial {
            restored: Vec::new(),
            leftovers: Vec::new(),
            left_stopped: vec![tb.compose_name().to_owned()],
            source: Box::new(failure),
        }
    }

    /// Wait until the service's container runs and is healthy (or has no healthcheck);
    /// a container that exits, restarts or turns unhealthy fails at once.
    async fn wait_ready(
        &self,
        s: Service,
        timeout: Duration,
        progress: &ProgressSink,
    ) -> Result<(), BackupError> {
        let name = self.project().container_name(s.compose_name());
        let started = Instant::now();
        let mut base_restarts = None;
        loop {
            let c = self.engine.inspect_container(&name).await?;
            let restarts = c.details.as_ref().map_or(0, |d| d.restart_count);
            let base = *base_restarts.get_or_insert(restarts);
            let code = c.exit_code.unwrap_or(-1);
            let fail = |reason: String| BackupError::NotReady {
                container: name.clone(),
                reason,
            };
            match (&c.state, c.health) {
                (ContainerState::Running, Some(Health::Healthy) | None) => {
                    progress.emit(Progress::Ready {
                        container: name.clone(),
                    });
                    return Ok(());
                }
                (ContainerState::Exited | ContainerState::Dead, _) => {
                    return Err(fail(format!("exited with code {code}")));
                }
                (ContainerState::Restarting, _) => {
                    return Err(fail(format!("keeps restarting (exit code {code})")));
                }
                (_, Some(Health::Unhealthy)) => return Err(fail("is unhealthy".into())),
                _ if restarts > base => {
                    return Err(fail(format!(
                        "restarted {} times (exit code {code})",
                        restarts - base
                    )));
                }
                _ => {}
            }
            progress.emit(Progress::Waiting {
                pending: vec![name.clone()],
                elapsed: started.elapsed(),
                timeout,
            });
            if started.elapsed() >= timeout {
                return Err(fail(format!("not ready within {}s", timeout.as_secs())));
            }
            sleep(POLL).await;
        }
    }

    // ---------------------------------------------------------------- restore

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
        let names: Option<Vec<String>> = match sel {
            Selection::All => None,
            Selection::Only(v) => Some(v.iter().map(|s| s.compose_name().to_owned()).collect()),
        };
        let manifest = verify(from, names.as_deref())?;
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
        let mut failure = None;
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
                    failure = Some((*s, e));
                    break;
                }
            }
        }
        let Some((failed, source)) = failure else {
            return Ok(report);
        };
        // ThingsBoard, stopped for its database and not reached: running again when its
        // database was put back.
        let tb = Service::ThingsBoard;
        let reached = todo
            .iter()
            .position(|(s, _)| *s == tb)
            .is_some_and(|i| todo.iter().position(|(s, _)| *s == failed) >= Some(i));
        let err = if tb_held && !reached {
            self.release_after_failure(&self.lifecycle, source, opts.timeout, &opts.progress)
                .await
        } else {
            source
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
            return Err(*source);
        }
        Err(BackupError::Partial {
            restored: report.restored,
            leftovers: report.leftovers,
            left_stopped,
            source,
        })
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
        let attempt = async {
            match entry.kind {
                BackupKind::Archive => {
                    archive::extract(&file, self.root(), &paths, &entry.service, self.owners)?;
                    self.start_and_wait(&self.lifecycle, s, opts.timeout, &opts.progress)
                        .await
                }
                BackupKind::PgDumpall => {
                    for p in &paths {
                        let d = self.root().join(p);
                        std::fs::create_dir_all(&d).map_err(|e| io_err(&d, &e))?;
                    }
                    self.start_and_wait(&self.lifecycle, s, opts.timeout, &opts.progress)
                        .await?;
                    // Streamed: the dump is decompressed as psql reads it.
                    let sql = archive::gunzip_reader(&file)?;
                    let mut discard_stdout = |_: &[u8]| Ok(());
                    let out = self
                        .exec_pg(
                            vec![
                                "psql".into(),
                                "-X".into(),
                                "-q".into(),
                                "-v".into(),
                                "ON_ERROR_STOP=0".into(),
                            ],
                            Some(Box::new(sql)),
                            &mut discard_stdout,
                        )
                        .await?;
                    check_psql_restore(s, &out)
                }
            }
        }
        .await;
        match attempt {
            Ok(()) => Ok(discard(&aside)),
            Err(e) => {
                let rollback = async {
                    self.lifecycle
                        .compose()
                        .stop(&[s.compose_name().to_owned()], None)
                        .await?;
                    put_back(self.root(), &paths, &aside)?;
                    if was_running {
                        self.start_and_wait(&self.lifecycle, s, opts.timeout, &opts.progress)
                            .await?;
                    }
                    Ok::<(), BackupError>(())
                }
                .await;
                Err(match rollback {
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
                })
            }
        }
    }

    // ---------------------------------------------------------------- upgrade

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
    /// could not be started again.
    pub async fn upgrade(
        &self,
        s: Service,
        opts: &UpgradeOptions,
    ) -> Result<UpgradeReport, BackupError> {
        let def = self.def(s)?;
        let name = s.compose_name().to_owned();
        let image = opts.image.clone().unwrap_or_else(|| def.image.clone());
        let current = self.container(s).await?;
        let was_running = current.as_ref().is_some_and(is_running);
        let (new_id, pull_warning) = self.pull(&image, &opts.progress).await?;
        let mut report = UpgradeReport {
            service: name.clone(),
            action: UpgradeAction::Unchanged,
            previous: current
                .as_ref()
                .map_or_else(|| def.image.clone(), |c| c.image.clone()),
            image: image.clone(),
            image_key: s.image_key().to_owned(),
            backup: None,
            pull_warning,
            restarted: Vec::new(),
            left_stopped: Vec::new(),
        };
        if let Some(c) = &current {
            if c.image == image && c.image_id == new_id && was_running {
                return Ok(report);
            }
            // The tag may have moved with the pull: then the old image only has its id.
            let same = self
                .engine
                .inspect_image(&c.image)
                .await
                .is_ok_and(|i| i.id == c.image_id);
            if !same && !c.image_id.is_empty() {
                report.previous = c.image_id.clone();
            }
        }
        // The project as it runs now and as it will: ThingsBoard, when it is stopped for its
        // database, starts again with the one that serves (starting it converges
        // PostgreSQL, and an image id that differs recreates it).
        let lc = self.with_image(s, &image)?;
        let before = self.with_image(s, &report.previous)?;
        // PostgreSQL cannot stop under a running ThingsBoard (the PostgreSQL guard):
        // ThingsBoard stops first and starts again once its database serves.
        let tb = Service::ThingsBoard;
        let tb_held = s == Service::Postgres && was_running && self.hold_thingsboard().await?;
        let snapshot = self
            .backup_services(
                &[s],
                &BackupOptions {
                    to: opts.backup_to.clone(),
                    postgres_dump: false,
                    timeout: opts.timeout,
                    progress: opts.progress.clone(),
                },
                Some(&format!("pre-upgrade-{name}")),
                false,
            )
            .await;
        let snapshot = match snapshot {
            Ok(b) => b,
            Err(e) if tb_held => {
                return Err(self
                    .release_after_failure(&before, e, opts.timeout, &opts.progress)
                    .await);
            }
            Err(e) => return Err(e),
        };
        report.backup = Some(snapshot.dir.clone());
        let attempt = async {
            lc.compose()
                .up(
                    std::slice::from_ref(&name),
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
        .await;
        let Err(failure) = attempt else {
            report.action = UpgradeAction::Upgraded;
            if tb_held {
                // The upgrade stands: a ThingsBoard that does not start again with it is
                // reported, not a reason to go back.
                match self
                    .start_and_wait(&lc, tb, opts.timeout, &opts.progress)
                    .await
                {
                    Ok(()) => report.restarted.push(tb.compose_name().to_owned()),
                    Err(e) => report
                        .left_stopped
                        .push((tb.compose_name().to_owned(), e.to_string())),
                }
            }
            return Ok(report);
        };
        let rollback = self
            .rollback_upgrade(
                s,
                current.is_some(),
                was_running,
                &report.previous,
                &snapshot,
                opts,
            )
            .await;
        let err = match rollback {
            Ok(()) => BackupError::UpgradeRolledBack {
                service: name,
                image,
                reason: failure.to_string(),
                previous: report.previous,
                backup: snapshot.dir,
                thingsboard_restarted: false,
            },
            Err(r) => BackupError::RollbackFailed {
                action: "upgrade",
                service: name,
                reason: format!("{image}: {failure}"),
                rollback: r.to_string(),
                saved: snapshot.dir,
            },
        };
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

    async fn rollback_upgrade(
        &self,
        s: Service,
        had_container: bool,
        was_running: bool,
        previous: &str,
        snapshot: &BackupReport,
        opts: &UpgradeOptions,
    ) -> Result<(), BackupError> {
        let name = s.compose_name().to_owned();
        let lc = self.with_image(s, previous)?;
        lc.compose().stop(std::slice::from_ref(&name), None).await?;
        if let Some(entry) = snapshot.manifest.service(&name) {
            let aside = set_aside(self.root(), &entry.paths, "failed-upgrade")?;
            let file = snapshot.dir.join(&entry.file);
            if let Err(e) = archive::extract(
                &file,
                self.root(),
                &entry.paths,
                &entry.service,
                self.owners,
            ) {
                put_back(self.root(), &entry.paths, &aside)?;
                return Err(e);
            }
            discard(&aside);
        }
        if !had_container {
            lc.compose()
                .rm(std::slice::from_ref(&name), false, None)
                .await?;
            return Ok(());
        }
        lc.compose()
            .up(
                std::slice::from_ref(&name),
                &UpOptions {
                    wait: false,
                    timeout: Some(opts.timeout),
                    force_recreate: false,
                    progress: opts.progress.clone(),
                },
            )
            .await?;
        self.wait_ready(s, opts.timeout, &opts.progress).await?;
        if !was_running {
            lc.compose().stop(std::slice::from_ref(&name), None).await?;
        }
        Ok(())
    }
}

fn is_running(c: &ContainerInfo) -> bool {
    matches!(
        c.state,
        ContainerState::Running | ContainerState::Restarting
    )
}

fn check_exec(s: Service, command: &str, out: &ExecOutput) -> Result<(), BackupError> {
    if out.exit_code == 0 {
        return Ok(());
    }
    Err(BackupError::Exec {
        service: s.compose_name().to_owned(),
        command: command.to_owned(),
        code: out.exit_code,
        stderr: tail(&out.stderr),
    })
}

/// psql runs the whole dump (ON_ERROR_STOP=0): on a freshly initialised cluster the
/// superuser role and the configured database already exist, and only those errors are
/// expected.
fn check_psql_restore(s: Service, out: &ExecOutput) -> Result<(), BackupError> {
    check_exec(s, "psql", out)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ERROR:") && !l.contains("already exists"))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(BackupError::Exec {
        service: s.compose_name().to_owned(),
        command: "psql".into(),
        code: 0,
        stderr: errors
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join("; "),
    })
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join("; ")
}

/// Rename each existing `root/p` to a hidden sibling `.<name>.<tag>-<stamp>`; on a failure
/// the ones already moved go back. Returns (original, set-aside) pairs.
fn set_aside(
    root: &Path,
    paths: &[String],
    tag: &str,
) -> Result<Vec<(PathBuf, PathBuf)>, BackupError> {
    let stamp = stamp_now();
    let mut moved = Vec::new();
    for p in paths {
        let orig = root.join(p);
        if std::fs::symlink_metadata(&orig).is_err() {
            continue;
        }
        let name = orig
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let aside = orig.with_file_name(format!(".{name}.{tag}-{stamp}"));
        if let Err(e) = std::fs::rename(&orig, &aside) {
            for (o, a) in moved.iter().rev() {
                let _ = std::fs::rename(a, o);
            }
            return Err(io_err(&orig, &e));
        }
        moved.push((orig, aside));
    }
    Ok(moved)
}

/// Delete what was restored at `paths` and move the set-aside data back.
fn put_back(
    root: &Path,
    paths: &[String],
    aside: &[(PathBuf, PathBuf)],
) -> Result<(), BackupError> {
    for p in paths {
        let d = root.join(p);
        match std::fs::remove_dir_all(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&d, &e)),
        }
    }
    for (orig, a) in aside {
        std::fs::rename(a, orig).map_err(|e| io_err(orig, &e))?;
    }
    Ok(())
}

/// Delete set-aside data; returns what could not be deleted.
fn discard(aside: &[(PathBuf, PathBuf)]) -> Vec<PathBuf> {
    aside
        .iter()
        .filter(|(_, a)| std::fs::remove_dir_all(a).is_err())
        .map(|(_, a)| a.clone())
        .collect()
}

fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, &e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io_err(dir, &e))
}

/// `20250102T030405Z` (UTC).
fn stamp_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated project (all seven services) on a fake engine's terms.
    fn generated() -> (tempfile::TempDir, ProjectFiles, BTreeMap<String, String>) {
        let dir = tempfile::tempdir().unwrap();
        project::generate(dir.path(), false).unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let (settings, _) = config::load(&config::LoadOptions {
            project_dir: root.clone(),
            env: Vec::new(),
            overrides: vec![("HOSTNAME".into(), "example.org".into())],
        })
        .unwrap();
        let files = ProjectFiles {
            name: settings.project_name(),
            working_dir: root.clone(),
            files: compose::default_compose_files(&root),
        };
        (dir, files, settings.interpolation_vars())
    }

    /// A backup directory holding one archive of `paths` of the project for `service`.
    fn backup_of(root: &Path, service: &str, paths: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
        let file = format!("{service}.tar.gz");
        let (size, sha256) = archive::create(root, &paths, &dir.path().join(&file)).unwrap();
        Manifest {
            format: FORMAT,
            created: rfc3339_now(),
            project: "p".into(),
            tool_version: "0.1.0".into(),
            services: vec![ServiceBackup {
                service: service.to_owned(),
                kind: BackupKind::Archive,
                image: "img:1".into(),
                paths,
                file,
                size,
                sha256,
            }],
        }
        .write(dir.path())
        .unwrap();
        dir
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn a_manifest_naming_paths_outside_the_state_of_its_service_is_refused() {
        let (_dir, files, vars) = generated();
        let root = files.working_dir.clone();
        let before = names_in(&root);
        let config_before = names_in(&root.join("config"));
        // A correct checksum, but `config` is not rabbitmq's to replace.
        let b = backup_of(&root, "rabbitmq", &["config"]);
        crate::verify(b.path(), None).unwrap();
        let engine = docker::FakeEngine::new();
        let ds = DataSafety::new(&engine, &files, &vars).unwrap();
        let err = ds
            .restore(
                b.path(),
                &Selection::Only(vec![Service::RabbitMq]),
                &RestoreOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, BackupError::BadManifest { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.ends_with(
                "rabbitmq lists the path \"config\", which is not one of its state paths (data/rabbitmq); nothing was restored"
            ),
            "{msg}"
        );
        assert!(!err.is_usage());
        assert_eq!(engine.events(), Vec::new(), "nothing was stopped");
        assert_eq!(names_in(&root), before, "nothing was set aside");
        assert_eq!(names_in(&root.join("config")), config_before);
    }

    const SERVICES: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  rabbitmq:
    image: img:1
    container_name: rabbitmq
    hostname: rabbitmq
    networks: [platform-services]
    volumes: ["./data/rabbitmq:/var/lib/rabbitmq"]
  grafana:
    image: img:1
    container_name: grafana
    networks: [platform-services]
    volumes: ["./data/grafana:/var/lib/grafana"]
  postgres:
    image: ${POSTGRES_IMAGE:-img:1}
    container_name: postgres
    networks: [platform-services]
    healthcheck: { test: ["CMD", "true"] }
    volumes: ["./data/postgres:/var/lib/postgresql/data/pgdata"]
"#;

    const TB: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  thingsboard-ce:
    image: img:1
    container_name: thingsboard
    networks: [platform-services]
    depends_on:
      postgres: { condition: service_healthy }
    volumes: ["./data/thingsboard:/data", "./log/thingsboard:/var/log/thingsboard"]
"#;

    /// A small project on the fake engine with every service running and some data.
    async fn running(dir: &Path) -> (docker::FakeEngine, ProjectFiles) {
        std::fs::write(dir.join("compose.services.yml"), SERVICES).unwrap();
        std::fs::write(dir.join("compose.thingsboard.yml"), TB).unwrap();
        for d in ["rabbitmq", "grafana", "postgres", "thingsboard", "other"] {
            std::fs::create_dir_all(dir.join("data").join(d)).unwrap();
            std::fs::write(dir.join("data").join(d).join("f"), b"backed up").unwrap();
        }
        let e = docker::FakeEngine::new();
        e.add_image("img:1");
        let files = ProjectFiles {
            name: "proj".into(),
            working_dir: dir.to_owned(),
            files: compose::default_compose_files(dir),
        };
        Lifecycle::new(&e, &files, &BTreeMap::new())
            .unwrap()
            .start(&Selection::All, &StartOptions::default())
            .await
            .unwrap();
        (e, files)
    }

    /// A backup of `services`; `bad` ones hold an archive of `data/other` (refused at
    /// restore: outside their paths) under a valid checksum.
    fn backup_with(root: &Path, services: &[&str], bad: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest {
            format: FORMAT,
            created: rfc3339_now(),
            project: "proj".into(),
            tool_version: "0.1.0".into(),
            services: Vec::new(),
        };
        for s in services {
            let short = if *s == "thingsboard-ce" {
                "thingsboard"
            } else {
                s
            };
            let paths = vec![format!("data/{short}")];
            let archived = if bad.contains(s) {
                vec!["data/other".to_owned()]
            } else {
                paths.clone()
            };
            let file = format!("{s}.tar.gz");
            let (size, sha256) = archive::create(root, &archived, &dir.path().join(&file)).unwrap();
            m.services.push(ServiceBackup {
                service: (*s).to_owned(),
                kind: BackupKind::Archive,
                image: "img:1".into(),
                paths,
                file,
                size,
                sha256,
            });
        }
        m.write(dir.path()).unwrap();
        dir
    }

    async fn state_of(e: &docker::FakeEngine, name: &str) -> ContainerState {
        e.inspect_container(name).await.unwrap().state
    }

    #[tokio::test]
    async fn a_failed_restore_names_the_services_restored_before_it() {
        let d = tempfile::tempdir().unwrap();
        let (e, files) = running(d.path()).await;
        let root = d.path();
        let b = backup_with(root, &["rabbitmq", "grafana"], &["grafana"]);
        std::fs::write(root.join("data/rabbitmq/f"), b"changed since").unwrap();
        let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
        let err = ds
            .restore(b.path(), &Selection::All, &RestoreOptions::default())
            .await
            .unwrap_err();
        let BackupError::Partial {
            restored,
            left_stopped,
            source,
            ..
        } = &err
        else {
            panic!("not partial: {err}");
        };
        assert_eq!(restored, &["rabbitmq"]);
        assert!(left_stopped.is_empty());
        assert!(
            matches!(
                **source,
                BackupError::RestoreRolledBack {
                    restarted: true,
                    ..
                }
            ),
            "{source}"
        );
        assert!(
            err.to_string().ends_with(
                "the previous data was put back and the service restarted; already restored: rabbitmq"
            ),
            "{err}"
        );
        assert!(!err.is_usage());
        assert_eq!(
            std::fs::read(root.join("data/rabbitmq/f")).unwrap(),
            b"backed up"
        );
        assert_eq!(state_of(&e, "grafana").await, ContainerState::Running);
    }

    #[tokio::test]
    async fn thingsboard_stopped_for_its_database_runs_again_after_a_rollback() {
        let d = tempfile::tempdir().unwrap();
        let (e, files) = running(d.path()).await;
        let b = backup_with(d.path(), &["postgres", "thingsboard-ce"], &["postgres"]);
        let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
        let err = ds
            .restore(b.path(), &Selection::All, &RestoreOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, BackupError::RestoreRolledBack { ref service, restarted: true, .. } if service == "postgres"),
            "{err}"
        );
        assert_eq!(state_of(&e, "postgres").await, ContainerState::Running);
        assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
    }

    /// The position of `ev` in the engine's calls.
    fn at(e: &docker::FakeEngine, ev: &docker::FakeEvent) -> usize {
        e.events()
            .iter()
            .position(|x| x == ev)
            .unwrap_or_else(|| panic!("{ev:?} not in {:?}", e.events()))
    }

    fn last_at(e: &docker::FakeEngine, ev: &docker::FakeEvent) -> usize {
        e.events()
            .iter()
            .rposition(|x| x == ev)
            .unwrap_or_else(|| panic!("{ev:?} not in {:?}", e.events()))
    }

    fn upgrade_to(image: &str, progress: ProgressSink) -> UpgradeOptions {
        UpgradeOptions {
            image: Some(image.to_owned()),
            timeout: Duration::from_secs(1),
            backup_to: None,
            progress,
        }
    }

    #[tokio::test]
    async fn upgrading_postgres_stops_thingsboard_first_and_starts_it_again_after() {
        use docker::FakeEvent::{Start, Stop};
        let d = tempfile::tempdir().unwrap();
        let (e, files) = running(d.path()).await;
        e.allow_pull("img:2");
        e.clear_events();
        let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
        let r = ds
            .upgrade(
                Service::Postgres,
                &upgrade_to("img:2", ProgressSink::none()),
            )
            .await
            .unwrap();
        assert_eq!(r.action, UpgradeAction::Upgraded);
        assert_eq!(r.restarted, ["thingsboard-ce"]);
        assert!(r.left_stopped.is_empty(), "{:?}", r.left_stopped);
        let tb = || "thingsboard".to_owned();
        let pg = || "postgres".to_owned();
        assert!(
            at(&e, &Stop(tb())) < at(&e, &Stop(pg())),
            "{:?}",
            e.events()
        );
        assert!(
            last_at(&e, &Start(pg())) < last_at(&e, &Start(tb())),
            "{:?}",
            e.events()
        );
        let pg_now = e.inspect_container("postgres").await.unwrap();
        assert_eq!(pg_now.image, "img:2");
        assert_eq!(pg_now.state, ContainerState::Running);
        assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
        let backup = r.backup.unwrap();
        assert!(
            backup.join("postgres.tar.gz").exists(),
            "{}",
            backup.display()
        );
    }

    #[tokio::test]
    async fn thingsboard_stopped_for_a_postgres_upgrade_runs_again_after_the_rollback() {
        use docker::FakeEvent::{Start, Stop};
        let d = tempfile::tempdir().unwrap();
        let (e, files) = running(d.path()).await;
        e.allow_pull("img:2");
        // The new container never turns healthy; once the upgrade waits for it, any
        // container created later (the rollback's) is healthy.
        e.set_health_after_start("postgres", Health::Starting);
        let fake = e.clone();
        let progress = ProgressSink::new(move |p| {
            if matches!(p, Progress::Waiting { .. }) {
                fake.set_health_after_start("postgres", Health::Healthy);
            }
        });
        e.clear_events();
        let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
        let err = ds
            .upgrade(Service::Postgres, &upgrade_to("img:2", progress))
            .await
            .unwrap_err();
        let BackupError::UpgradeRolledBack {
            ref previous,
            thingsboard_restarted,
            ..
        } = err
        else {
            panic!("not rolled back: {err}");
        };
        assert_eq!(previous, "img:1");
        assert!(thingsboard_restarted);
        assert!(
            err.to_string()
                .ends_with("; ThingsBoard, stopped for its database, runs again"),
            "{err}"
        );
        let tb = || "thingsboard".to_owned();
        let pg = || "postgres".to_owned();
        assert!(
            at(&e, &Stop(tb())) < at(&e, &Stop(pg())),
            "{:?}",
            e.events()
        );
        assert!(
            last_at(&e, &Start(pg())) < last_at(&e, &Start(tb())),
            "{:?}",
            e.events()
        );
        let pg_now = e.inspect_container("postgres").await.unwrap();
        assert_eq!(pg_now.image, "img:1", "the previous image serves again");
        assert_eq!(pg_now.state, ContainerState::Running);
        assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
    }

    #[tokio::test]
    async fn a_thingsboard_that_does_not_start_again_is_reported_and_the_upgrade_stands() {
        let d = tempfile::tempdir().unwrap();
        let (e, files) = running(d.path()).await;
        e.allow_pull("img:2");
        e.fail_start(
            "thingsboard",
            docker::DockerError::Other {
                message: "no memory".into(),
            },
        );
        let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
        let r = ds
            .upgrade(
                Service::Postgres,
                &upgrade_to("img:2", ProgressSink::none()),
            )
            .await
            .unwrap();
        assert_eq!(r.action, UpgradeAction::Upgraded);
        assert!(r.restarted.is_empty());
        assert_eq!(r.left_stopped.len(), 1, "{:?}", r.left_stopped);
        assert_eq!(r.left_stopped[0].0, "thingsboard-ce");
        assert!(
            r.left_stopped[0].1.contains("no memory"),
            "{:?}",
            r.left_stopped
        );
        assert_eq!(
            e.inspect_container("postgres").await.unwrap().image,
            "img:2"
        );
    }

    #[tokio::test]
    async fn archiving_a_running_postgres_stops_thingsboard_first_and_starts_it_again() {
        use docker::FakeEvent::{Start, Stop};
        let d = tempfile::tempdir().unwrap();
        let (e, files) = running(d.path()).await;
        e.clear_events();
        let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
        let r = ds
            .backup(
                &Selection::Only(vec![Service::Postgres]),
                &BackupOptions {
                    postgres_dump: false,
                    ..BackupOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(r.manifest.services[0].kind, BackupKind::Archive);
        assert_eq!(r.restarted, ["thingsboard-ce"]);
        let tb = || "thingsboard".to_owned();
        let pg = || "postgres".to_owned();
        assert!(
            at(&e, &Stop(tb())) < at(&e, &Stop(pg())),
            "{:?}",
            e.events()
        );
        assert!(
            last_at(&e, &Start(pg())) < last_at(&e, &Start(tb())),
            "{:?}",
            e.events()
        );
        assert_eq!(state_of(&e, "postgres").await, ContainerState::Running);
        assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
    }

    #[test]
    fn psql_errors_other_than_already_exists_fail_the_restore() {
        let ok = ExecOutput {
            exit_code: 0,
            stdout: Vec::new(),
            stderr: b"psql:<stdin>:14: ERROR:  role \"dtaas\" already exists\n".to_vec(),
        };
        check_psql_restore(Service::Postgres, &ok).unwrap();
        let bad = ExecOutput {
            exit_code: 0,
            stdout: Vec::new(),
            stderr: b"psql:<stdin>:14: ERROR:  role \"dtaas\" already exists\npsql:<stdin>:20: ERROR:  syntax error at or near \"x\"\n".to_vec(),
        };
        let err = check_psql_restore(Service::Postgres, &bad).unwrap_err();
        insta::assert_snapshot!(err.to_string(), @r#"postgres: psql failed (exit 0): psql:<stdin>:20: ERROR:  syntax error at or near "x""#);
    }

    #[test]
    fn set_aside_and_put_back_restore_the_previous_directory() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("data/svc");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("old"), b"1").unwrap();
        let paths = vec!["data/svc".to_owned(), "data/absent".to_owned()];
        let aside = set_aside(root.path(), &paths, "pre-restore").unwrap();
        assert_eq!(aside.len(), 1);
        assert!(!d.exists());
        let name = aside[0]
            .1
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with(".svc.pre-restore-"), "{name}");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("new"), b"2").unwrap();
        put_back(root.path(), &paths, &aside).unwrap();
        assert!(d.join("old").exists());
        assert!(!d.join("new").exists());
    }

    #[test]
    fn stamps_are_compact_utc() {
        let s = stamp_now();
        assert_eq!(s.len(), 16, "{s}");
        assert!(s.ends_with('Z') && s.as_bytes()[8] == b'T', "{s}");
        assert!(rfc3339_now().ends_with('Z'));
    }
}
