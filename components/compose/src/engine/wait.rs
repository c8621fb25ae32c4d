//! Waiting: for a `depends_on` condition of a dependency, and for services to be ready
//! (healthy, or running without a healthcheck), naming a container that keeps
//! restarting, exited or is unhealthy.

use std::collections::BTreeMap;
use std::time::Duration;

use docker::{ContainerState, Engine, Health};
use tokio::time::{Instant, sleep};

use super::Compose;
use crate::model::Condition;
use crate::{ComposeError, Progress, ProgressSink};

const POLL: Duration = Duration::from_millis(200);

impl<E: Engine> Compose<'_, E> {
    pub(super) async fn wait_condition(
        &self,
        dep: &str,
        condition: Condition,
        deadline: Instant,
    ) -> Result<(), ComposeError> {
        let name = self.project.container_name(dep);
        loop {
            let c = self.engine.inspect_container(&name).await?;
            let failed = |reason: String| ComposeError::DependencyFailed {
                container: name.clone(),
                reason,
            };
            match condition {
                Condition::ServiceStarted => {
                    if c.state == ContainerState::Running || c.state == ContainerState::Exited {
                        return Ok(());
                    }
                }
                Condition::ServiceHealthy => match (&c.state, c.health) {
                    (ContainerState::Running, Some(Health::Healthy)) => return Ok(()),
                    (ContainerState::Running, None) => {
                        return Err(failed("has no healthcheck".into()));
                    }
                    (ContainerState::Exited | ContainerState::Dead, _) => {
                        return Err(failed(format!("exited ({})", c.exit_code.unwrap_or(-1))));
                    }
                    (_, Some(Health::Unhealthy)) => return Err(failed("is unhealthy".into())),
                    _ => {}
                },
                Condition::ServiceCompletedSuccessfully => match c.state {
                    ContainerState::Exited | ContainerState::Dead => {
                        let code = c.exit_code.unwrap_or(-1);
                        if code == 0 {
                            return Ok(());
                        }
                        return Err(ComposeError::DependencyFailed {
                            container: name.clone(),
                            reason: format!("didn't complete successfully: exit {code}"),
                        });
                    }
                    _ => {}
                },
            }
            if Instant::now() >= deadline {
                return Err(failed(format!(
                    "is not {} in time",
                    match condition {
                        Condition::ServiceStarted => "started",
                        Condition::ServiceHealthy => "healthy",
                        Condition::ServiceCompletedSuccessfully => "completed",
                    }
                )));
            }
            sleep(POLL).await;
        }
    }

    /// Wait until the containers of `services` are healthy (or running, without a
    /// healthcheck), at most `timeout`.
    ///
    /// # Errors
    /// A container that exited or is unhealthy, or [`ComposeError::WaitTimeout`].
    pub async fn wait(&self, services: &[String], timeout: Duration) -> Result<(), ComposeError> {
        self.wait_with(services, timeout, &ProgressSink::none())
            .await
    }

    /// [`Compose::wait`], reporting [`Progress::Waiting`] on every poll and
    /// [`Progress::Ready`] for each container that becomes ready.
    ///
    /// # Errors
    /// As [`Compose::wait`].
    pub async fn wait_with(
        &self,
        services: &[String],
        timeout: Duration,
        progress: &ProgressSink,
    ) -> Result<(), ComposeError> {
        let services = self.check_services(services)?;
        self.wait_ready(&services, Instant::now() + timeout, timeout, progress)
            .await
    }

    /// Wait until each service's container is healthy (or running, without a healthcheck).
    pub(super) async fn wait_ready(
        &self,
        services: &[String],
        deadline: Instant,
        timeout: Duration,
        progress: &ProgressSink,
    ) -> Result<(), ComposeError> {
        let started = Instant::now();
        let mut pending: Vec<String> = services
            .iter()
            .map(|s| self.project.container_name(s))
            .collect();
        // Restart counts when the wait began: a container the engine restarts meanwhile
        // (restart policy) crashed while starting, even when it is `running` again by the
        // next poll.
        let mut restarts: BTreeMap<String, i64> = BTreeMap::new();
        loop {
            let mut still = Vec::new();
            for name in &pending {
                let c = self.engine.inspect_container(name).await?;
                let count = c.details.as_ref().map_or(0, |d| d.restart_count);
                let first = *restarts.entry(name.clone()).or_insert(count);
                if c.state == ContainerState::Restarting || count > first {
                    // The engine keeps the last exit code only until the container runs again.
                    let last = match (&c.state, c.exit_code) {
                        (ContainerState::Restarting, Some(code)) => {
                            format!("last exit code {code}, ")
                        }
                        _ => String::new(),
                    };
                    return Err(ComposeError::NotReady {
                        container: name.clone(),
                        reason: format!("keeps restarting ({last}restarted {count} times)"),
                    });
                }
                match (&c.state, c.health) {
                    (ContainerState::Running, Some(Health::Healthy) | None) => {
                        progress.emit(Progress::Ready {
                            container: name.clone(),
                        });
                    }
                    (ContainerState::Exited | ContainerState::Dead, _) => {
                        return Err(ComposeError::NotReady {
                            container: name.clone(),
                            reason: format!("exited with code {}", c.exit_code.unwrap_or(-1)),
                        });
                    }
                    (_, Some(Health::Unhealthy)) => {
                        return Err(ComposeError::NotReady {
                            container: name.clone(),
                            reason: "is unhealthy".into(),
                        });
                    }
                    _ => still.push(name.clone()),
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            progress.emit(Progress::Waiting {
                pending: still.clone(),
                elapsed: started.elapsed(),
                timeout,
            });
            if Instant::now() >= deadline {
                return Err(ComposeError::WaitTimeout {
                    containers: still,
                    timeout_secs: timeout.as_secs(),
                });
            }
            pending = still;
            sleep(POLL).await;
        }
    }
}
