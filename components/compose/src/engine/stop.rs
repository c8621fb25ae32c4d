//! `stop` (dependents first), `restart` (dependency order) and `rm`.

use std::future::Future;
use std::time::Duration;

use docker::{ContainerState, DockerError, Engine};
use futures_util::future::try_join_all;

use super::Compose;
use super::ServiceContainer;
use crate::ComposeError;

impl<E: Engine> Compose<'_, E> {
    /// Stop the containers of `services` (all when empty), dependents first.
    /// Returns the names of the containers that were running.
    ///
    /// # Errors
    /// Unknown services, engine errors.
    pub async fn stop(
        &self,
        services: &[String],
        timeout: Option<Duration>,
    ) -> Result<Vec<String>, ComposeError> {
        let services = self.check_services(services)?;
        let stopped = self
            .level_by_level(&services, Order::DependentsFirst, |c| async move {
                let was_running = matches!(
                    c.container.state,
                    ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
                );
                self.engine.stop_container(&c.container.id, timeout).await?;
                Ok(was_running.then(|| c.container.name.clone()))
            })
            .await?;
        Ok(stopped)
    }

    /// Restart the containers of `services` (all when empty), in dependency order.
    /// Returns the names of the restarted containers.
    ///
    /// # Errors
    /// Unknown services, engine errors.
    pub async fn restart(
        &self,
        services: &[String],
        timeout: Option<Duration>,
    ) -> Result<Vec<String>, ComposeError> {
        let services = self.check_services(services)?;
        self.level_by_level(&services, Order::DependenciesFirst, |c| async move {
            self.engine
                .restart_container(&c.container.id, timeout)
                .await?;
            Ok(Some(c.container.name.clone()))
        })
        .await
    }

    /// Stop and remove the containers of `services` (all when empty); `volumes` also
    /// removes their anonymous volumes. Returns the removed container names.
    ///
    /// # Errors
    /// Unknown services, engine errors.
    pub async fn rm(
        &self,
        services: &[String],
        volumes: bool,
        timeout: Option<Duration>,
    ) -> Result<Vec<String>, ComposeError> {
        let services = self.check_services(services)?;
        self.stop(&services, timeout).await?;
        let containers = Self::by_service(&self.ps().await?, &services);
        let futs = containers.iter().map(|c| async move {
            match self
                .engine
                .remove_container(&c.container.id, true, volumes)
                .await
            {
                Ok(()) | Err(DockerError::NotFound { .. }) => Ok(c.container.name.clone()),
                Err(e) => Err(ComposeError::from(e)),
            }
        });
        try_join_all(futs).await
    }

    /// Apply `act` to the containers of `services`, one dependency level at a time (all
    /// containers of a level concurrently), and collect what it returns.
    async fn level_by_level<'s, F, Fut>(
        &'s self,
        services: &[String],
        order: Order,
        act: F,
    ) -> Result<Vec<String>, ComposeError>
    where
        F: Fn(ServiceContainer) -> Fut,
        Fut: Future<Output = Result<Option<String>, ComposeError>> + 's,
    {
        let containers = Self::by_service(&self.ps().await?, services);
        let mut levels = self.levels(services, false);
        if order == Order::DependentsFirst {
            levels.reverse();
        }
        let mut done = Vec::new();
        for level in levels {
            let futs = containers
                .iter()
                .filter(|c| level.contains(&c.service))
                .map(|c| act(c.clone()));
            done.extend(try_join_all(futs).await?.into_iter().flatten());
        }
        Ok(done)
    }
}

/// Which end of the dependency graph an operation starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Dependencies before the services that depend on them (start, restart).
    DependenciesFirst,
    /// Dependents before their dependencies (stop).
    DependentsFirst,
}
