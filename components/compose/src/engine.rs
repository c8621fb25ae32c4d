//! The compose engine: a loaded [`Project`] bound to a Docker [`Engine`], planned and
//! applied.
//!
//! This file holds [`Compose`] and the project's container listing (`ps`); the rest is
//! split by concern:
//! - `engine/plan.rs`: checking the asked services, their bind sources, and the
//!   dependency levels everything is started (or stopped) in;
//! - `engine/spec.rs`: the container spec and config hash of a service, and whether an
//!   existing container is up to date (or, made by another tool, adoptable);
//! - `engine/resources.rs`: the networks, volumes and images the services need, and the
//!   removal of unused project networks;
//! - `engine/up.rs`: `up`/`up_all`, converging each service level by level;
//! - `engine/wait.rs`: waiting for `depends_on` conditions and for readiness (`--wait`);
//! - `engine/stop.rs`: `stop`, `restart`, `rm`;
//! - `engine/run.rs`: the one-off `run`, and `exec`.

use docker::{ContainerInfo, Engine};

use crate::ComposeError;
use crate::labels as l;
use crate::model::Project;

mod plan;
mod resources;
mod run;
mod spec;
mod stop;
mod up;
mod wait;

pub use run::{RunOptions, RunOutput};
pub use spec::config_hash;
pub use up::{Action, ServiceOutcome, UpOptions, UpOutcome, UpReport};

/// A project container and the service it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceContainer {
    pub service: String,
    pub container: ContainerInfo,
}

/// A compose project bound to an engine: plan and apply.
#[derive(Debug)]
pub struct Compose<'e, E: Engine> {
    engine: &'e E,
    project: Project,
}

impl<'e, E: Engine> Compose<'e, E> {
    /// Bind a loaded project to an engine.
    #[must_use]
    pub fn new(engine: &'e E, project: Project) -> Compose<'e, E> {
        Compose { engine, project }
    }

    /// The loaded project.
    #[must_use]
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &'e E {
        self.engine
    }

    /// The project's containers (not one-offs), with their service.
    ///
    /// # Errors
    /// Engine errors.
    pub async fn ps(&self) -> Result<Vec<ServiceContainer>, ComposeError> {
        let list = self
            .engine
            .list_containers(&[(l::PROJECT, Some(&self.project.name))])
            .await?;
        let mut out: Vec<ServiceContainer> = list
            .into_iter()
            .filter(|c| c.label(l::ONEOFF) != Some("True"))
            .filter_map(|c| {
                let service = c.label(l::SERVICE)?.to_owned();
                Some(ServiceContainer {
                    service,
                    container: c,
                })
            })
            .collect();
        out.sort_by(|a, b| a.container.name.cmp(&b.container.name));
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
