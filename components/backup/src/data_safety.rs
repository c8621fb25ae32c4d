//! [`DataSafety`]: one project's services on one engine, and what backups, restores and
//! upgrades share: finding containers, starting a service and waiting until it is ready,
//! holding ThingsBoard while its database is stopped.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use catalog::Service;
use compose::{Progress, ProgressSink, ProjectFiles, ServiceDef};
use docker::{ContainerInfo, ContainerState, Engine, ExecOutput, Health};
use lifecycle::{Lifecycle, Selection, StartOptions};
use tokio::time::{Instant, sleep};

use crate::BackupError;
use crate::error::io_err;

const POLL: Duration = Duration::from_millis(500);

/// Backups, restores and upgrades of one project's services on one engine.
#[derive(Debug)]
pub struct DataSafety<'e, E: Engine> {
    pub(crate) engine: &'e E,
    pub(crate) files: ProjectFiles,
    pub(crate) vars: BTreeMap<String, String>,
    pub(crate) lifecycle: Lifecycle<'e, E>,
    pub(crate) owners: bool,
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

    pub(crate) fn project(&self) -> &compose::Project {
        self.lifecycle.compose().project()
    }

    pub(crate) fn root(&self) -> &Path {
        &self.project().working_dir
    }

    pub(crate) fn def(&self, s: Service) -> Result<&ServiceDef, BackupError> {
        self.project()
            .services
            .get(s.compose_name())
            .ok_or_else(|| BackupError::NotDefined {
                service: s.compose_name().to_owned(),
            })
    }

    pub(crate) fn targets(&self, sel: &Selection) -> Result<Vec<Service>, BackupError> {
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

    pub(crate) async fn container(&self, s: Service) -> Result<Option<ContainerInfo>, BackupError> {
        Ok(self
            .lifecycle
            .compose()
            .ps()
            .await?
            .into_iter()
            .find(|c| c.service == s.compose_name())
            .map(|c| c.container))
    }

    pub(crate) async fn start_and_wait(
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
    pub(crate) async fn hold_thingsboard(&self) -> Result<bool, BackupError> {
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
    pub(crate) async fn release_after_failure(
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
    pub(crate) async fn wait_ready(
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
}

pub(crate) fn is_running(c: &ContainerInfo) -> bool {
    matches!(
        c.state,
        ContainerState::Running | ContainerState::Restarting
    )
}

pub(crate) fn check_exec(s: Service, command: &str, out: &ExecOutput) -> Result<(), BackupError> {
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

pub(crate) fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join("; ")
}

/// Create `dir` (and its parents) and make it 0700 through its descriptor; `dir` itself
/// is reached from its parent through `safe_fs`, so a link there is refused, never
/// chmod-ed through (the path above it is the operator's).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    let err = |e: std::io::Error| io_err(dir, &e);
    // The directory holding a (not yet written) manifest is `dir` itself.
    let (d, _) =
        safe_fs::Dir::for_file(&dir.join(crate::MANIFEST_FILE), Some(0o700)).map_err(err)?;
    d.set_mode(0o700).map_err(err)
}

/// `20250102T030405Z` (UTC).
pub(crate) fn stamp_now() -> String {
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

pub(crate) fn rfc3339_now() -> String {
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
mod tests;
