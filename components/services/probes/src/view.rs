//! The `service status` view: lifecycle's container status, the URLs and the probes.

use std::future::Future;

use catalog::Service;
use docker::Health;
use futures_util::future::join_all;
use lifecycle::{ServiceStatus, StatusReport};
use serde::Serialize;
use services_common::HttpOptions;

use crate::endpoints::{main_port, port_url};
use crate::probe::{Probe, ProbeResult, ProbeSettings, ProbeState, probe_port, run_probe};

/// `service status --json` (documented in docs/status-json.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusView {
    /// The compose project name.
    pub project: String,
    /// `HOSTNAME`, the host part of the URLs.
    pub hostname: String,
    pub services: Vec<ServiceView>,
    /// Selected services that no compose file defines.
    pub not_defined: Vec<Service>,
}

impl StatusView {
    /// Whether anything selected exists in the project.
    #[must_use]
    pub fn matched(&self) -> bool {
        !self.services.is_empty()
    }
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    pub service: Service,
    pub display_name: &'static str,
    pub container: String,
    /// The container state (`running`, `exited`, `restarting`, ...) or `removed`.
    pub state: String,
    /// What to show: the Docker health while running and not healthy, else the state.
    pub effective: String,
    /// Docker health, when the image or compose file defines a healthcheck.
    pub health: Option<Health>,
    /// Our probe's verdict: `true` ready, `false` not, `null` not probed.
    pub ready: Option<bool>,
    /// Our own readiness probe; `null` when the container does not run.
    pub probe: Option<ProbeResult>,
    pub image: String,
    pub tag: String,
    /// The URL a user opens (the main port's).
    pub url: Option<String>,
    pub ports: Vec<PortView>,
    /// RFC 3339.
    pub started_at: Option<String>,
    pub uptime_secs: Option<u64>,
    /// `None` from the list-only status (the table; `--json` inspects, so it is a number).
    pub restart_count: Option<i64>,
    pub exit_code: Option<i64>,
    /// What the operator wants: `running`, `stopped` or `absent` (recorded by the lifecycle
    /// commands); `null` when nothing is recorded and the container does not run.
    pub desired: Option<lifecycle::Desired>,
    /// `desired` is assumed, not recorded (a running container of an older install).
    pub desired_assumed: bool,
    /// How the actual state differs from `desired` (e.g. `wanted running, is exited`).
    pub deviation: Option<String>,
    /// The backup, restore or upgrade working on the service, if any.
    pub maintenance: Option<String>,
}

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortView {
    /// `null`: all interfaces.
    pub host_ip: Option<String>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: &'static str,
    pub url: Option<String>,
}

/// Join `report` with the URLs and run the probes of the running services in parallel.
pub async fn status_view(project: &str, report: &StatusReport, s: &ProbeSettings) -> StatusView {
    let client = s
        .enabled
        .then(|| services_common::http_client(&s.http).map_err(|e| e.to_string()));
    view_with(project, report, s, client).await
}

/// The one HTTP client of all the probes of a view (building it loads the TLS roots).
type ClientResult = Result<reqwest::Client, String>;

/// `service status`: lifecycle's status (`report`, usually `Lifecycle::status`) joined with
/// the URLs and the probes. With probes on, their one HTTP client is built on a blocking
/// thread while `report` talks to the engine; with probes off, no client is built.
pub async fn status_view_of<E>(
    project: &str,
    report: impl Future<Output = Result<StatusReport, E>>,
    s: &ProbeSettings,
) -> Result<StatusView, E> {
    status_view_with(project, report, s, |http| {
        services_common::http_client(http).map_err(|e| e.to_string())
    })
    .await
}

/// [`status_view_of`] with the client built by `make` (tests count and order the builds).
pub(crate) async fn status_view_with<E>(
    project: &str,
    report: impl Future<Output = Result<StatusReport, E>>,
    s: &ProbeSettings,
    make: impl FnOnce(&HttpOptions) -> ClientResult + Send + 'static,
) -> Result<StatusView, E> {
    let building = s.enabled.then(|| {
        let http = s.http.clone();
        tokio::task::spawn_blocking(move || make(&http))
    });
    let report = report.await?;
    let client = match building {
        Some(h) => Some(
            h.await
                .unwrap_or_else(|e| Err(format!("cannot build the HTTP client: {e}"))),
        ),
        None => None,
    };
    Ok(view_with(project, &report, s, client).await)
}

async fn view_with(
    project: &str,
    report: &StatusReport,
    s: &ProbeSettings,
    client: Option<ClientResult>,
) -> StatusView {
    let client = client.as_ref().map(|c| c.as_ref().map_err(String::as_str));
    let probes = join_all(report.services.iter().map(|st| async move {
        if st.state != "running" {
            return None;
        }
        let client = client?;
        Some(match probe_port(st.service, &st.ports) {
            Some(port) => {
                let probe = Probe::for_service(st.service, port, s);
                run_probe(&probe, client, s.timeout).await
            }
            None => ProbeResult::skipped(&format!(
                "container port {} is not published",
                main_port(st.service)
            )),
        })
    }))
    .await;
    StatusView {
        project: project.to_owned(),
        hostname: s.hostname.clone(),
        services: report
            .services
            .iter()
            .zip(probes)
            .map(|(st, probe)| service_view(st, probe, s))
            .collect(),
        not_defined: report.not_defined.clone(),
    }
}

fn service_view(st: &ServiceStatus, probe: Option<ProbeResult>, s: &ProbeSettings) -> ServiceView {
    let ports: Vec<PortView> = st
        .ports
        .iter()
        .map(|p| PortView {
            host_ip: p.host_ip.clone(),
            host_port: p.host_port,
            container_port: p.container_port,
            protocol: p.protocol,
            url: port_url(st.service, p, &s.hostname, &s.tb_scheme),
        })
        .collect();
    let url = probe_port(st.service, &st.ports)
        .and_then(|p| port_url(st.service, p, &s.hostname, &s.tb_scheme));
    let ready = probe.as_ref().and_then(|p| match p.state {
        ProbeState::Ready => Some(true),
        ProbeState::NotReady | ProbeState::Unreachable => Some(false),
        ProbeState::Skipped => None,
    });
    ServiceView {
        service: st.service,
        display_name: st.display_name,
        container: st.container.clone(),
        state: st.state.clone(),
        effective: st.effective().to_owned(),
        health: st.health,
        ready,
        probe,
        image: st.image.clone(),
        tag: st.tag.clone(),
        url,
        ports,
        started_at: st.started_at.clone(),
        uptime_secs: st.uptime_secs,
        restart_count: st.restart_count,
        exit_code: st.exit_code,
        desired: st.desired,
        desired_assumed: st.desired_assumed,
        deviation: st.deviation.clone(),
        maintenance: st.maintenance.clone(),
    }
}
