//! The container GitLab runs in: its readiness (the image's own HEALTHCHECK) and exec (for
//! `gitlab-rails runner`), by container name during the install or by compose labels for
//! user provisioning.

use std::fmt;
use std::sync::Arc;

use docker::{ContainerState, DockerError, Engine, ExecOutput, ExecSpec, Health};
use serde::Serialize;
use services_common::BoxFuture;

/// The container GitLab runs in: its health, and exec (script on STDIN, output captured).
pub trait GitLabContainer: Send + Sync {
    /// The container's readiness.
    fn readiness(&self) -> BoxFuture<'_, Result<Readiness, DockerError>>;
    /// Run a command in it.
    fn exec<'a>(&'a self, spec: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, DockerError>>;
}

/// The GitLab container on a Docker engine, by name.
#[derive(Debug)]
pub struct EngineContainer<'e, E: Engine> {
    engine: &'e E,
    name: String,
}

impl<'e, E: Engine> EngineContainer<'e, E> {
    #[must_use]
    pub fn new(engine: &'e E, name: &str) -> Self {
        Self {
            engine,
            name: name.to_owned(),
        }
    }
}

impl<E: Engine> GitLabContainer for EngineContainer<'_, E> {
    fn readiness(&self) -> BoxFuture<'_, Result<Readiness, DockerError>> {
        Box::pin(async move {
            match self.engine.inspect_container(&self.name).await {
                Ok(c) => Ok(readiness_of(c.state, c.health)),
                Err(DockerError::NotFound { .. }) => Ok(Readiness::NotFound),
                Err(e) => Err(e),
            }
        })
    }

    fn exec<'a>(&'a self, spec: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, DockerError>> {
        Box::pin(self.engine.exec(&self.name, spec))
    }
}

/// GitLab's container readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    Healthy,
    Starting,
    Unhealthy,
    NotRunning,
    NotFound,
}

impl Readiness {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Starting => "starting",
            Self::Unhealthy => "unhealthy",
            Self::NotRunning => "not running",
            Self::NotFound => "not found",
        }
    }
}

fn readiness_of(state: ContainerState, health: Option<Health>) -> Readiness {
    match (state, health) {
        (ContainerState::Running, Some(Health::Healthy) | None) => Readiness::Healthy,
        (ContainerState::Running, Some(Health::Starting)) => Readiness::Starting,
        (ContainerState::Running, Some(Health::Unhealthy)) => Readiness::Unhealthy,
        _ => Readiness::NotRunning,
    }
}

/// The GitLab container of a compose project, found by its labels
/// (`com.docker.compose.project`, `com.docker.compose.service=gitlab`) at each use; owns its
/// engine, so a [`crate::GitLabProvisioner`] can hold it.
pub struct ProjectContainer<E> {
    engine: Arc<E>,
    project: String,
}

impl<E> fmt::Debug for ProjectContainer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectContainer")
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl<E: Engine> ProjectContainer<E> {
    #[must_use]
    pub fn new(engine: Arc<E>, project: &str) -> Self {
        Self {
            engine,
            project: project.to_owned(),
        }
    }

    async fn find(&self) -> Result<Option<docker::ContainerInfo>, DockerError> {
        let service = catalog::Service::GitLab.compose_name();
        let found =
            compose::service_containers(self.engine.as_ref(), &self.project, service).await?;
        Ok(found.into_iter().next())
    }
}

impl<E: Engine> GitLabContainer for ProjectContainer<E> {
    fn readiness(&self) -> BoxFuture<'_, Result<Readiness, DockerError>> {
        Box::pin(async move {
            let Some(c) = self.find().await? else {
                return Ok(Readiness::NotFound);
            };
            match self.engine.inspect_container(&c.id).await {
                Ok(c) => Ok(readiness_of(c.state, c.health)),
                Err(DockerError::NotFound { .. }) => Ok(Readiness::NotFound),
                Err(e) => Err(e),
            }
        })
    }

    fn exec<'a>(&'a self, spec: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, DockerError>> {
        Box::pin(async move {
            match self.find().await? {
                Some(c) if c.state == ContainerState::Running => {
                    self.engine.exec(&c.id, spec).await
                }
                _ => Err(DockerError::NotFound {
                    what: format!("GitLab container of project {}", self.project),
                    message:
                        "it is not running; start it with `dtaas-services service start -s gitlab`"
                            .to_owned(),
                }),
            }
        })
    }
}
