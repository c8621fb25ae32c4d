//! `stop` (dependents first), `restart` (dependency order) and `rm`.

use std::time::Duration;

use docker::{ContainerState, DockerError, Engine};
use futures_util::future::try_join_all;

use super::Compose;
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
        let containers = Self::by_service(&self.ps().await?, &services);
        let mut stopped = Vec::new();
        for level in self.levels(&services, false).iter().rev() {
            let futs = containers
                .iter()
                .filter(|c| level.contains(&c.service))
                .map(|c| async move {
                    let was_running = matches!(
                        c.container.state,
                        ContainerState::Running
                            | ContainerState::Restarting
                            | ContainerState::Paused
                    );
                    self.engine.stop_container(&c.container.id, timeout).await?;
                    Ok::<_, ComposeError>(was_running.then(|| c.container.name.clone()))
                });
            stopped.extend(try_join_all(futs).await?.into_iter().flatten());
        }
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
        let containers = Self::by_service(&self.ps().await?, &services);
        let mut done = Vec::new();
        for level in self.levels(&services, false) {
            let futs = containers
                .iter()
                .filter(|c| level.contains(&c.service))
                .map(|c| async move {
                    self.engine
                        .restart_container(&c.container.id, timeout)
                        .await?;
                    Ok::<_, ComposeError>(c.container.name.clone())
                });
            done.extend(try_join_all(futs).await?);
        }
        Ok(done)
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
}
