//! `up`: each service level by level, converged (created, recreated, started or left
//! alone) once its `depends_on` conditions hold; independent services in parallel.

use std::time::Duration;

use docker::{ContainerInfo, ContainerState, DockerError, Engine};
use futures_util::future::join_all;
use tokio::time::Instant;

use super::Compose;
use crate::{ComposeError, ProgressSink};

/// How long `up` waits for a `depends_on` condition when no timeout is given.
const DEFAULT_DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(600);

/// Options of [`Compose::up`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpOptions {
    /// Wait until every started service is healthy (or running, without a healthcheck).
    pub wait: bool,
    /// Limit for `wait` and for `depends_on` conditions.
    pub timeout: Option<Duration>,
    /// Recreate even when the configuration did not change.
    pub force_recreate: bool,
    /// Where pull and wait progress goes.
    pub progress: ProgressSink,
}

/// What `up` did to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Created and started.
    Created,
    /// Configuration changed: removed, created and started.
    Recreated,
    /// Existed but was stopped: started.
    Started,
    /// Already running with the same configuration.
    Unchanged,
}

/// One service's outcome in an [`UpReport`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceOutcome {
    pub service: String,
    pub container: String,
    pub action: Action,
}

/// What `up` did, in start order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpReport {
    pub services: Vec<ServiceOutcome>,
    /// Images that were pulled.
    pub pulled: Vec<String>,
}

/// What [`Compose::up_all`] did per service.
#[derive(Debug, Default)]
pub struct UpOutcome {
    /// The services brought up (and the images pulled).
    pub report: UpReport,
    /// The services that failed, in start order, with why.
    pub failed: Vec<(String, ComposeError)>,
    /// The services not started because a service they depend on failed (or was itself
    /// not started): `(service, dependency)`.
    pub not_started: Vec<(String, String)>,
}

impl<E: Engine> Compose<'_, E> {
    async fn converge(
        &self,
        service: &str,
        existing: Option<&ContainerInfo>,
        image_id: &str,
        force: bool,
    ) -> Result<ServiceOutcome, ComposeError> {
        let def = &self.project.services[service];
        let spec = self.container_spec(def, image_id);
        let outcome = |action| ServiceOutcome {
            service: service.to_owned(),
            container: spec.name.clone(),
            action,
        };
        if let Some(c) = existing {
            if !force && self.up_to_date(c, &spec, image_id).await? {
                if matches!(
                    c.state,
                    ContainerState::Running | ContainerState::Restarting
                ) {
                    return Ok(outcome(Action::Unchanged));
                }
                self.engine.start_container(&c.id).await?;
                return Ok(outcome(Action::Started));
            }
            self.engine
                .stop_container(&c.id, Some(Duration::from_secs(10)))
                .await?;
            self.engine.remove_container(&c.id, true, false).await?;
            let id = self.engine.create_container(&spec).await?;
            self.engine.start_container(&id).await?;
            return Ok(outcome(Action::Recreated));
        }
        let id = match self.engine.create_container(&spec).await {
            Ok(id) => id,
            Err(DockerError::Conflict { .. }) => {
                return Err(ComposeError::NameInUse {
                    name: spec.name.clone(),
                    project: self.project.name.clone(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.engine.start_container(&id).await?;
        Ok(outcome(Action::Created))
    }

    /// Create or recreate and start `services` (all when empty) and what they depend on,
    /// in dependency order; independent services in parallel. On a failure, every engine
    /// operation already begun is waited for and the services that do not depend on the
    /// failed one still start (see [`Compose::up_all`]); the first failure is returned.
    ///
    /// # Errors
    /// Unknown services, engine errors (port clash, missing image, ...), failed
    /// `depends_on` conditions, and with `wait` a container that is unhealthy, exited or
    /// not ready within the timeout.
    pub async fn up(
        &self,
        services: &[String],
        opts: &UpOptions,
    ) -> Result<UpReport, ComposeError> {
        let mut out = self.up_all(services, opts).await?;
        if out.failed.is_empty() {
            Ok(out.report)
        } else {
            Err(out.failed.remove(0).1)
        }
    }

    /// [`Compose::up`], reporting per service: what was done, which services failed (with
    /// their error), and which were not started because a service they depend on failed.
    /// It returns only once every engine operation it began has ended, so nothing it asked
    /// for appears afterwards. `wait` waits for the services that were brought up.
    ///
    /// # Errors
    /// What fails before any container is touched: unknown services, networks, volumes,
    /// images, listing the project's containers; and with `wait` a service not ready.
    pub async fn up_all(
        &self,
        services: &[String],
        opts: &UpOptions,
    ) -> Result<UpOutcome, ComposeError> {
        let services = self.check_services(services)?;
        let levels = self.levels(&services, true);
        let all: Vec<String> = levels.iter().flatten().cloned().collect();
        self.check_bind_sources(&all)?;
        let mut out = UpOutcome::default();
        self.ensure_networks(&all).await?;
        self.ensure_volumes(&all).await?;
        let images = self
            .ensure_images(&all, &mut out.report.pulled, &opts.progress)
            .await?;
        let existing = self.ps().await?;
        let started = Instant::now();
        let dep_deadline = started + opts.timeout.unwrap_or(DEFAULT_DEPENDENCY_TIMEOUT);
        for level in &levels {
            let runnable = self.runnable(level, &mut out);
            let futs = runnable.into_iter().map(|svc| {
                let def = &self.project.services[svc];
                let image_id = images.get(&def.image).cloned().unwrap_or_default();
                let current = existing
                    .iter()
                    .find(|c| &c.service == svc)
                    .map(|c| c.container.clone());
                async move {
                    let r = async {
                        for (dep, d) in &def.depends_on {
                            self.wait_condition(dep, d.condition, dep_deadline).await?;
                        }
                        self.converge(svc, current.as_ref(), &image_id, opts.force_recreate)
                            .await
                            .map_err(|e| match e {
                                e @ (ComposeError::NameInUse { .. }
                                | ComposeError::DependencyFailed { .. }) => e,
                                e => ComposeError::Service {
                                    service: svc.clone(),
                                    source: Box::new(e),
                                },
                            })
                    }
                    .await;
                    (svc.clone(), r)
                }
            });
            // join_all, not try_join_all: a failure must not drop the other services'
            // requests half-way (the engine would finish them after we returned).
            for (svc, r) in join_all(futs).await {
                match r {
                    Ok(o) => out.report.services.push(o),
                    Err(e) => out.failed.push((svc, e)),
                }
            }
        }
        if opts.wait {
            let done: Vec<String> = out
                .report
                .services
                .iter()
                .map(|o| o.service.clone())
                .collect();
            let deadline = started + opts.timeout.unwrap_or(DEFAULT_DEPENDENCY_TIMEOUT);
            self.wait_ready(
                &done,
                deadline,
                opts.timeout.unwrap_or(DEFAULT_DEPENDENCY_TIMEOUT),
                &opts.progress,
            )
            .await?;
        }
        Ok(out)
    }

    /// The services of `level` whose dependencies all came up; the others are recorded in
    /// `out.not_started` with the dependency that failed.
    fn runnable<'a>(&self, level: &'a [String], out: &mut UpOutcome) -> Vec<&'a String> {
        let mut runnable = Vec::new();
        for svc in level {
            let def = &self.project.services[svc];
            let broken = def.depends_on.keys().find(|dep| {
                out.failed.iter().any(|(f, _)| f == *dep)
                    || out.not_started.iter().any(|(n, _)| n == *dep)
            });
            match broken {
                Some(dep) => out.not_started.push((svc.clone(), dep.clone())),
                None => runnable.push(svc),
            }
        }
        runnable
    }
}
