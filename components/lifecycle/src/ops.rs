use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use catalog::{CatalogError, Service};
use compose::{Compose, ProgressSink, ProjectFiles, ServiceContainer, UpOptions, load_project};

use docker::{BoxStream, ContainerState, DockerError, Engine, LogChunk, LogsOptions};
use store::Desired;

use crate::{
    CleanReport, LeftAlone, LifecycleError, RemoveReport, RestartReport, StartReport,
    StartedService, StopReport,
};

/// Which services a command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// No `-s`: every service the compose files define.
    All,
    /// `-s a,b`: exactly these (each must be defined).
    Only(Vec<Service>),
}

impl Selection {
    /// Parse a `-s/--services` value with the catalog's one selector parser.
    ///
    /// # Errors
    /// An empty or unknown selector.
    pub fn parse(raw: Option<&str>) -> Result<Selection, CatalogError> {
        match raw {
            None => Ok(Selection::All),
            Some(r) => catalog::parse_selector(Some(r)).map(Selection::Only),
        }
    }

    fn contains(&self, s: Service) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(v) => v.contains(&s),
        }
    }
}

/// Options of `start`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// Wait until the selected services are healthy (or running, without a healthcheck).
    pub wait: bool,
    /// Limit for the wait.
    pub timeout: Option<Duration>,
    /// Where image pull and wait progress goes.
    pub progress: ProgressSink,
}

/// How long `start --wait` waits when no timeout is given.
const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// The service commands of one project on one engine.
#[derive(Debug)]
pub struct Lifecycle<'e, E: Engine> {
    compose: Compose<'e, E>,
    pub(crate) recorder: Option<crate::intent::Recorder>,
}

impl<'e, E: Engine> Lifecycle<'e, E> {
    /// Load the project's compose files (interpolated from `vars`).
    ///
    /// # Errors
    /// A compose file that cannot be read, parsed or interpolated.
    pub fn new(
        engine: &'e E,
        files: &ProjectFiles,
        vars: &BTreeMap<String, String>,
    ) -> Result<Lifecycle<'e, E>, LifecycleError> {
        let project = load_project(files, vars)?;
        Ok(Lifecycle {
            compose: Compose::new(engine, project),
            recorder: None,
        })
    }

    /// The compose engine underneath.
    #[must_use]
    pub fn compose(&self) -> &Compose<'e, E> {
        &self.compose
    }

    fn project_dir(&self) -> &Path {
        &self.compose.project().working_dir
    }

    /// The selected services the compose files define, in catalog order.
    fn targets(&self, sel: &Selection) -> Result<Vec<Service>, LifecycleError> {
        let project = self.compose.project();
        match sel {
            Selection::All => Ok(Service::ALL
                .into_iter()
                .filter(|s| project.services.contains_key(s.compose_name()))
                .collect()),
            Selection::Only(list) => {
                for s in list {
                    if !project.services.contains_key(s.compose_name()) {
                        return Err(LifecycleError::NotDefined {
                            service: s.compose_name().to_owned(),
                            files: project
                                .config_files
                                .iter()
                                .map(|f| f.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                        });
                    }
                }
                Ok(list.clone())
            }
        }
    }

    fn names(services: &[Service]) -> Vec<String> {
        services
            .iter()
            .map(|s| s.compose_name().to_owned())
            .collect()
    }

    pub(crate) fn container_of(ps: &[ServiceContainer], s: Service) -> Option<&ServiceContainer> {
        ps.iter().find(|c| c.service == s.compose_name())
    }

    /// The PostgreSQL guard: refuse to stop/remove PostgreSQL alone while ThingsBoard runs.
    async fn postgres_guard(
        &self,
        sel: &Selection,
        action: &'static str,
    ) -> Result<(), LifecycleError> {
        if !sel.contains(Service::Postgres) || sel.contains(Service::ThingsBoard) {
            return Ok(());
        }
        let ps = self.compose.ps().await?;
        let tb_running = Self::container_of(&ps, Service::ThingsBoard)
            .is_some_and(|c| c.container.state == ContainerState::Running);
        if tb_running {
            return Err(LifecycleError::PostgresGuard { action });
        }
        Ok(())
    }

    /// Start the selection: the services (and what they depend on) are created, started, or
    /// recreated when their configuration changed, in dependency order; running services
    /// whose configuration is unchanged are left alone and reported as skipped, services in
    /// a restart loop are left alone.
    ///
    /// # Errors
    /// Selection, compose and engine errors; with `wait`, a service that is not ready.
    pub async fn start(
        &self,
        sel: &Selection,
        opts: &StartOptions,
    ) -> Result<StartReport, LifecycleError> {
        let targets = self.targets(sel)?;
        self.record(&targets, Desired::Running).await?;
        let ps = self.compose.ps().await?;
        let mut report = StartReport::default();
        let mut todo = Vec::new();
        for s in &targets {
            match Self::container_of(&ps, *s).map(|c| &c.container) {
                Some(c) if c.state == ContainerState::Restarting => {
                    report.restarting.push((*s, c.name.clone()));
                }
                _ => todo.push(*s),
            }
        }
        let timeout = opts.timeout.unwrap_or(DEFAULT_WAIT);
        let mut failures = Vec::new();
        if !todo.is_empty() {
            // initdb needs an empty data dir; a fresh project's only holds .gitkeep.
            let pg = Service::Postgres.data_dir();
            crate::dirs::drop_lone_gitkeep(self.project_dir(), pg)
                .map_err(|e| io_err(&self.project_dir().join(pg), &e))?;
            let outcome = self
                .compose
                .up_all(
                    &Self::names(&todo),
                    &UpOptions {
                        wait: false,
                        timeout: Some(timeout),
                        force_recreate: false,
                        progress: opts.progress.clone(),
                    },
                )
                .await?;
            failures = fill_report(&mut report, outcome, &targets);
        }
        if !failures.is_empty() {
            let (service, first) = failures.remove(0);
            return Err(LifecycleError::Partial {
                report: Box::new(report),
                service,
                first: Box::new(first),
                others: failures,
            });
        }
        if opts.wait {
            let waited: Vec<Service> = targets
                .iter()
                .copied()
                .filter(|s| !report.restarting.iter().any(|(r, _)| r == s))
                .collect();
            self.compose
                .wait_with(&Self::names(&waited), timeout, &opts.progress)
                .await?;
            report.waited = true;
        }
        Ok(report)
    }

    /// Stop the selection (dependents first). PostgreSQL alone is refused while
    /// ThingsBoard runs; stopping both together is fine.
    ///
    /// # Errors
    /// The guard, selection, compose and engine errors.
    pub async fn stop(
        &self,
        sel: &Selection,
        timeout: Option<Duration>,
    ) -> Result<StopReport, LifecycleError> {
        let targets = self.targets(sel)?;
        self.postgres_guard(sel, "stop").await?;
        self.record(&targets, Desired::Stopped).await?;
        let ps = self.compose.ps().await?;
        let missing = targets
            .iter()
            .copied()
            .filter(|s| Self::container_of(&ps, *s).is_none())
            .collect();
        let stopped = self.compose.stop(&Self::names(&targets), timeout).await?;
        Ok(StopReport { stopped, missing })
    }

    /// Restart the selection's containers in dependency order.
    ///
    /// # Errors
    /// Selection, compose and engine errors.
    pub async fn restart(
        &self,
        sel: &Selection,
        timeout: Option<Duration>,
    ) -> Result<RestartReport, LifecycleError> {
        let targets = self.targets(sel)?;
        self.record(&targets, Desired::Running).await?;
        let ps = self.compose.ps().await?;
        let missing = targets
            .iter()
            .copied()
            .filter(|s| Self::container_of(&ps, *s).is_none())
            .collect();
        let restarted = self
            .compose
            .restart(&Self::names(&targets), timeout)
            .await?;
        Ok(RestartReport { restarted, missing })
    }

    /// The output of one service's container, as a stream of chunks (follow it with
    /// `opts.follow`).
    ///
    /// # Errors
    /// A service the compose files do not define, one without a container, engine errors.
    pub async fn logs(
        &self,
        service: Service,
        opts: &LogsOptions,
    ) -> Result<BoxStream<Result<LogChunk, DockerError>>, LifecycleError> {
        self.targets(&Selection::Only(vec![service]))?;
        let ps = self.compose.ps().await?;
        let c = Self::container_of(&ps, service).ok_or_else(|| LifecycleError::NoContainer {
            service: service.compose_name().to_owned(),
        })?;
        Ok(self.compose.engine().logs(&c.container.id, opts))
    }

    /// Stop and remove the selection's containers, and the project's networks once no
    /// container of it is left. With `volumes` also empty their data and log directories
    /// (and InfluxDB's `config/influxdb/influx-configs`); the caller has asked for
    /// confirmation.
    ///
    /// # Errors
    /// The guard, selection, compose, engine and file-system errors.
    pub async fn remove(
        &self,
        sel: &Selection,
        volumes: bool,
        timeout: Option<Duration>,
    ) -> Result<RemoveReport, LifecycleError> {
        let targets = self.targets(sel)?;
        self.postgres_guard(sel, "remove").await?;
        if volumes {
            // A link where a data or log dir should be is refused before anything changes.
            crate::dirs::check(self.project_dir(), &crate::dirs::service_dirs(&targets))
                .map_err(|e| io_err(self.project_dir(), &e))?;
        }
        self.record(&targets, Desired::Absent).await?;
        let removed = self
            .compose
            .rm(&Self::names(&targets), volumes, timeout)
            .await?;
        let mut left_alone = LeftAlone::default();
        let (wiped, data_deleted) = if volumes {
            (self.empty_service_dirs(&targets, &mut left_alone)?, targets)
        } else {
            (Vec::new(), Vec::new())
        };
        // Last and best effort: a network left behind is harmless, the rest is done.
        let networks_removed = match self.compose.remove_networks_if_unused().await {
            Ok(removed) => removed,
            Err(e) => {
                tracing::warn!(error = %e, "the project network was left in place");
                Vec::new()
            }
        };
        Ok(RemoveReport {
            removed,
            wiped,
            left_alone,
            networks_removed,
            data_deleted,
        })
    }

    /// Empty the data and log directories of the selection, keeping the directories (and
    /// their owners and modes) and `.gitkeep` files. Refuses while any selected service
    /// runs.
    ///
    /// # Errors
    /// [`LifecycleError::Running`], engine and file-system errors.
    pub async fn clean(&self, sel: &Selection) -> Result<CleanReport, LifecycleError> {
        let targets: Vec<Service> = match sel {
            Selection::All => Service::ALL.to_vec(),
            Selection::Only(v) => v.clone(),
        };
        let ps = self.compose.ps().await?;
        let running: Vec<String> = targets
            .iter()
            .filter(|s| {
                Self::container_of(&ps, **s).is_some_and(|c| {
                    matches!(
                        c.container.state,
                        ContainerState::Running | ContainerState::Restarting
                    )
                })
            })
            .map(|s| s.compose_name().to_owned())
            .collect();
        if !running.is_empty() {
            return Err(LifecycleError::Running { services: running });
        }
        let mut left_alone = LeftAlone::default();
        Ok(CleanReport {
            cleaned: self.empty_service_dirs(&targets, &mut left_alone)?,
            left_alone,
            data_deleted: targets,
        })
    }

    /// Delete the copied and derived TLS files under `certs/` (`clean --certs`); the
    /// directory and its `.gitkeep` stay. Call it after [`Lifecycle::clean`] succeeded, so
    /// nothing is deleted while a service that reads them runs; it adds `certs` (when it
    /// exists) and what it met to that `report`.
    ///
    /// # Errors
    /// [`LifecycleError::Io`] naming the path.
    pub fn clean_certs(&self, report: &mut CleanReport) -> Result<(), LifecycleError> {
        if crate::dirs::empty_dir(self.project_dir(), "certs", &mut report.left_alone)
            .map_err(|e| io_err(&self.project_dir().join("certs"), &e))?
        {
            report.cleaned.push("certs".to_owned());
        }
        Ok(())
    }

    fn empty_service_dirs(
        &self,
        services: &[Service],
        left: &mut LeftAlone,
    ) -> Result<Vec<String>, LifecycleError> {
        let rels = crate::dirs::service_dirs(services);
        let project = self.project_dir();
        crate::dirs::check(project, &rels).map_err(|e| io_err(project, &e))?;
        let mut done = Vec::new();
        for rel in rels {
            if crate::dirs::wipe(project, rel, left).map_err(|e| io_err(&project.join(rel), &e))? {
                done.push(rel.to_owned());
            }
        }
        Ok(done)
    }
}

/// Fill `report` from what `up_all` did; returns the failures.
fn fill_report(
    report: &mut StartReport,
    outcome: compose::UpOutcome,
    targets: &[Service],
) -> Vec<(String, compose::ComposeError)> {
    let up = outcome.report;
    report.pulled = up.pulled;
    report.failed = outcome
        .failed
        .iter()
        .filter_map(|(s, _)| Service::from_compose_name(s))
        .collect();
    report.not_started = outcome
        .not_started
        .iter()
        .filter_map(|(s, dep)| Some((Service::from_compose_name(s)?, dep.clone())))
        .collect();
    for o in up.services {
        let Some(service) = Service::from_compose_name(&o.service) else {
            continue;
        };
        if o.action == compose::Action::Unchanged {
            if targets.contains(&service) {
                report.skipped_running.push(service);
            }
            continue;
        }
        report.started.push(StartedService {
            service,
            container: o.container,
            action: o.action,
        });
    }
    outcome.failed
}

fn io_err(path: &Path, e: &std::io::Error) -> LifecycleError {
    LifecycleError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}
