//! `service status`: one row per selected service, from one container list call, and with
//! [`Lifecycle::status`] one inspect per container for what only an inspect says (the exact
//! start time and the restart count).

use std::time::SystemTime;

use catalog::Service;
use docker::{ContainerInfo, ContainerState, Engine, PortSpec, split_image_ref};
use futures_util::future::join_all;

use crate::{Lifecycle, LifecycleError, PublishedPort, Selection, ServiceStatus, StatusReport};

impl<E: Engine> Lifecycle<'_, E> {
    /// State, health, image, ports, start time, uptime and restarts of each selected
    /// service (`removed` without a container): one list call, then the containers are
    /// inspected in parallel (`service status --json`, the jobs).
    ///
    /// # Errors
    /// Engine errors.
    pub async fn status(&self, sel: &Selection) -> Result<StatusReport, LifecycleError> {
        self.status_with(sel, true).await
    }

    /// [`Lifecycle::status`] from the one list call alone, as `docker ps` shows it: the
    /// uptime as coarse as the engine's status text (`Up 5 minutes`), no start time and no
    /// restart count (`None`: only an inspect says them). The status table.
    ///
    /// # Errors
    /// Engine errors.
    pub async fn status_listed(&self, sel: &Selection) -> Result<StatusReport, LifecycleError> {
        self.status_with(sel, false).await
    }

    async fn status_with(
        &self,
        sel: &Selection,
        inspect: bool,
    ) -> Result<StatusReport, LifecycleError> {
        let project = self.compose().project();
        let ps = self.compose().ps().await?;
        let mut report = StatusReport::default();
        let wanted: Vec<Service> = match sel {
            Selection::All => Service::ALL.to_vec(),
            Selection::Only(v) => v.clone(),
        };
        let mut rows = Vec::new();
        for s in wanted {
            match project.services.get(s.compose_name()) {
                Some(def) => rows.push((s, def, Self::container_of(&ps, s))),
                None if matches!(sel, Selection::Only(_)) => report.not_defined.push(s),
                None => {}
            }
        }
        let engine = self.compose().engine();
        let now = SystemTime::now();
        let inspected = join_all(rows.iter().map(|(_, _, c)| async move {
            match c {
                // A container removed between the list and the inspect shows as listed.
                Some(c) if inspect => engine.inspect_container(&c.container.id).await.ok(),
                _ => None,
            }
        }))
        .await;
        for ((s, def, listed), inspected) in rows.into_iter().zip(inspected) {
            let status = match listed {
                Some(c) => {
                    let info = inspected.as_ref().unwrap_or(&c.container);
                    container_status(s, info, &def.ports, now)
                }
                None => {
                    let (_, tag) = split_image_ref(&def.image);
                    ServiceStatus {
                        service: s,
                        display_name: s.display_name(),
                        container: project.container_name(s.compose_name()),
                        state: "removed".to_owned(),
                        health: None,
                        image: def.image.clone(),
                        tag,
                        ports: published(&def.ports),
                        started_at: None,
                        uptime_secs: None,
                        restart_count: Some(0),
                        exit_code: None,
                        desired: None,
                        desired_assumed: false,
                        maintenance: None,
                        deviation: None,
                    }
                }
            };
            report.services.push(status);
        }
        self.annotate(&mut report).await?;
        Ok(report)
    }
}

/// Ports with a host port, deduplicated (the engine lists IPv4 and IPv6 bindings apart).
fn published(ports: &[PortSpec]) -> Vec<PublishedPort> {
    let mut out: Vec<PublishedPort> = ports
        .iter()
        .filter_map(|p| {
            Some(PublishedPort {
                host_ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !matches!(ip.as_str(), "" | "0.0.0.0" | "::")),
                host_port: p.host_port?,
                container_port: p.container_port,
                protocol: p.protocol.as_str(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The status row of a service with a container, inspected (`details`) or as listed
/// (`listed`); `configured` are the compose file's ports (shown while it does not run).
fn container_status(
    s: Service,
    c: &ContainerInfo,
    configured: &[PortSpec],
    now: SystemTime,
) -> ServiceStatus {
    let running = c.state == ContainerState::Running;
    let bound = c
        .details
        .as_ref()
        .map(|d| &d.published)
        .or(c.listed.as_ref().map(|l| &l.published))
        .filter(|p| !p.is_empty());
    let ports = match (bound, &c.details) {
        (Some(p), _) => published(p),
        (None, Some(d)) => published(&d.ports),
        (None, None) => published(configured),
    };
    let started_at = c.details.as_ref().and_then(|d| d.started_at.clone());
    let uptime_secs = match (&c.details, &c.listed) {
        _ if !running => None,
        (Some(_), _) => started_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok())
            .map(|started| now.duration_since(started).map_or(0, |d| d.as_secs())),
        (None, Some(l)) => l.uptime_secs(),
        (None, None) => None,
    };
    let exit_code = c.exit_code.or_else(|| c.listed.as_ref()?.exit_code());
    let (_, tag) = split_image_ref(&c.image);
    ServiceStatus {
        service: s,
        display_name: s.display_name(),
        container: c.name.clone(),
        state: c.state.to_string(),
        // Docker keeps the last health of a stopped container; it says nothing then.
        health: c.health.filter(|_| running),
        image: c.image.clone(),
        tag,
        ports,
        started_at,
        uptime_secs,
        restart_count: c.details.as_ref().map(|d| d.restart_count),
        exit_code: exit_code.filter(|_| !running && c.state != ContainerState::Created),
        desired: None,
        desired_assumed: false,
        maintenance: None,
        deviation: None,
    }
}
