//! The readiness probes: one request (or login, or TCP connect) each, bounded by a timeout.

use std::time::{Duration, Instant};

use catalog::Service;
use lifecycle::PublishedPort;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use services_common::HttpOptions;

use crate::endpoints::main_port;

/// What the probes need to know about the project.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// `HOSTNAME`: HTTP probes go to the URL a user opens.
    pub hostname: String,
    /// `THINGSBOARD_SCHEME` (`https` or `http`).
    pub tb_scheme: String,
    /// Where the PostgreSQL and TCP probes connect to a port published on all interfaces.
    pub local_host: String,
    /// TLS verification and the project's CA for the HTTP probes.
    pub http: HttpOptions,
    /// Limit for one probe.
    pub timeout: Duration,
    /// RabbitMQ admin login, for the management API's health check.
    pub rabbitmq_admin: Option<(String, SecretString)>,
    /// PostgreSQL superuser login.
    pub postgres_admin: Option<(String, SecretString)>,
    /// Whether to probe at all (`service status --no-probes` shows the engine's view only).
    pub enabled: bool,
}

/// How long one probe may take by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

impl ProbeSettings {
    /// From the project's settings (HOSTNAME, THINGSBOARD_SCHEME, SSL_VERIFY, the project's
    /// CA, the RabbitMQ and PostgreSQL admin logins), probing with a 3 s timeout.
    #[must_use]
    pub fn from_settings(s: &config::Settings) -> ProbeSettings {
        let login =
            |user: &str, password: &str| Some((s.get(user)?.to_owned(), s.secret(password)?));
        ProbeSettings {
            hostname: s.hostname().to_owned(),
            tb_scheme: s.text("THINGSBOARD_SCHEME").to_owned(),
            local_host: "127.0.0.1".to_owned(),
            http: HttpOptions {
                timeout: DEFAULT_TIMEOUT,
                connect_timeout: DEFAULT_TIMEOUT,
                ..HttpOptions::from_settings(s)
            },
            timeout: DEFAULT_TIMEOUT,
            rabbitmq_admin: login("RABBITMQ_ADMIN_USERNAME", "RABBITMQ_ADMIN_PASSWORD"),
            postgres_admin: login("POSTGRES_USER", "POSTGRES_PASSWORD"),
            enabled: true,
        }
    }
}

/// One readiness probe.
#[derive(Debug, Clone)]
pub enum Probe {
    /// `GET url` answers 2xx (with HTTP basic auth when given).
    Http {
        url: String,
        auth: Option<(String, SecretString)>,
    },
    /// PostgreSQL accepts a login.
    PostgresLogin {
        host: String,
        port: u16,
        user: String,
        password: SecretString,
    },
    /// A TCP connection is accepted.
    Tcp { host: String, port: u16 },
}

impl Probe {
    /// The probe of `service` through its main published port (see [`main_port`]).
    #[must_use]
    pub fn for_service(service: Service, port: &PublishedPort, s: &ProbeSettings) -> Probe {
        let http_host = host_for_url(port.host_ip.as_deref().unwrap_or(&s.hostname));
        let local_host = port.host_ip.clone().unwrap_or_else(|| s.local_host.clone());
        let p = port.host_port;
        let http = |url: String| Probe::Http { url, auth: None };
        match service {
            Service::RabbitMq => Probe::Http {
                url: format!(
                    "https://{http_host}:{p}{}",
                    rabbitmq_ready_path(RABBITMQ_AMQPS_PORT)
                ),
                auth: s.rabbitmq_admin.clone(),
            },
            Service::Grafana => http(format!("https://{http_host}:{p}/api/health")),
            Service::InfluxDb => http(format!("https://{http_host}:{p}/health")),
            Service::ThingsBoard => http(format!(
                "{}://{http_host}:{p}/api/noauth/userPasswordPolicy",
                s.tb_scheme
            )),
            Service::GitLab => http(format!("https://{http_host}:{p}{GITLAB_READY_PATH}")),
            Service::Postgres => match &s.postgres_admin {
                Some((user, password)) => Probe::PostgresLogin {
                    host: local_host,
                    port: p,
                    user: user.clone(),
                    password: password.clone(),
                },
                None => Probe::Tcp {
                    host: local_host,
                    port: p,
                },
            },
            Service::MongoDb => Probe::Tcp {
                host: local_host,
                port: p,
            },
        }
    }

    /// `http`, `postgres-login` or `tcp`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Http { .. } => "http",
            Probe::PostgresLogin { .. } => "postgres-login",
            Probe::Tcp { .. } => "tcp",
        }
    }

    /// What is probed, without secrets (`https://h:8086/health`, `user@127.0.0.1:5432`).
    #[must_use]
    pub fn target(&self) -> String {
        match self {
            Probe::Http { url, .. } => url.clone(),
            Probe::PostgresLogin {
                host, port, user, ..
            } => format!("{user}@{}:{port}", host_for_url(host)),
            Probe::Tcp { host, port } => format!("{}:{port}", host_for_url(host)),
        }
    }
}

/// GitLab's sign-in page, under the `/gitlab` relative URL of the generated `external_url`.
/// Not `/-/readiness`: gitlabhq v18.10.1 app/controllers/health_controller.rb includes
/// RequiresAllowlistedMonitoringClient, which renders 404 unless the client IP is in
/// `gitlab_rails['monitoring_whitelist']` (127.0.0.0/8 and ::1 by default) or a token is
/// given, and a request through the published port comes from the Docker gateway. The
/// sign-in page (Devise sessions#new, anonymous) is what a user opens first and answers only
/// once Rails serves behind nginx and workhorse (502 while Puma boots), as the image's own
/// HEALTHCHECK (omnibus-gitlab `gitlab-healthcheck`: curl of `<relative_url>/help` on
/// localhost) sees it; it needs the database and Redis (the session) to render.
pub(crate) const GITLAB_READY_PATH: &str = "/gitlab/users/sign_in";

/// The AMQPS port inside the RabbitMQ container (`listeners.ssl.default` of the generated
/// `config/rabbitmq/rabbitmq.conf`; the compose files publish it as `RABBITMQ_PORT`).
pub(crate) const RABBITMQ_AMQPS_PORT: u16 = 5671;

/// The management API's health check that answers 2xx only once the node has a listener on
/// `port` (RabbitMQ 3.10+): ready means AMQPS accepts connections, not merely that the
/// management plugin answers (it starts before the AMQP listeners).
pub(crate) fn rabbitmq_ready_path(port: u16) -> String {
    format!("/api/health/checks/port-listener/{port}")
}

fn host_for_url(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The verdict of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeState {
    /// The service answered as ready.
    Ready,
    /// It answered, but not ready (an error status, a refused login).
    NotReady,
    /// No answer: connection refused, timeout, name or TLS failure.
    Unreachable,
    /// Not probed (no published port to probe through).
    Skipped,
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeResult {
    /// `http`, `postgres-login` or `tcp`.
    pub kind: &'static str,
    /// What was probed, without secrets.
    pub target: String,
    pub state: ProbeState,
    /// The answer (`HTTP 200`, `login accepted`) or why it failed.
    pub detail: String,
    /// How long it took.
    pub latency_ms: u64,
}

impl ProbeResult {
    /// A probe that was not run.
    #[must_use]
    pub fn skipped(detail: &str) -> ProbeResult {
        ProbeResult {
            kind: "none",
            target: String::new(),
            state: ProbeState::Skipped,
            detail: detail.to_owned(),
            latency_ms: 0,
        }
    }
}

/// Run one probe, at most `timeout`. HTTP probes use `client` (the shared one built by
/// `services_common::http_client`); without one they are unreachable with `client_error`.
pub async fn run_probe(
    probe: &Probe,
    client: Result<&reqwest::Client, &str>,
    timeout: Duration,
) -> ProbeResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, attempt(probe, client)).await;
    let (state, detail) = outcome.unwrap_or_else(|_| {
        (
            ProbeState::Unreachable,
            format!("no answer within {}s", timeout.as_secs_f32()),
        )
    });
    ProbeResult {
        kind: probe.kind(),
        target: probe.target(),
        state,
        detail,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

async fn attempt(probe: &Probe, client: Result<&reqwest::Client, &str>) -> (ProbeState, String) {
    match probe {
        Probe::Http { url, auth } => {
            let client = match client {
                Ok(c) => c,
                Err(e) => return (ProbeState::Unreachable, format!("HTTP client: {e}")),
            };
            let mut req = client.get(url);
            if let Some((user, password)) = auth {
                req = req.basic_auth(user, Some(password.expose_secret()));
            }
            match req.send().await {
                Ok(resp) if resp.status().is_success() => (
                    ProbeState::Ready,
                    format!("HTTP {}", resp.status().as_u16()),
                ),
                Ok(resp) => (
                    ProbeState::NotReady,
                    format!(
                        "HTTP {}{}",
                        resp.status().as_u16(),
                        resp.status()
                            .canonical_reason()
                            .map(|r| format!(" {r}"))
                            .unwrap_or_default()
                    ),
                ),
                Err(e) => (ProbeState::Unreachable, request_error(&e)),
            }
        }
        Probe::PostgresLogin {
            host,
            port,
            user,
            password,
        } => {
            let target = store::pg_admin::PgTarget::new(host, *port, user, password);
            match store::pg_admin::check_login(&target).await {
                Ok(()) => (ProbeState::Ready, "login accepted".to_owned()),
                Err(e) => {
                    let text = match e {
                        store::StoreError::Unreachable { detail, .. } => detail,
                        e => e.to_string(),
                    };
                    let refused_login = [
                        "authentication",
                        "password",
                        "does not exist",
                        "starting up",
                    ]
                    .iter()
                    .any(|w| text.contains(w));
                    let state = if refused_login {
                        ProbeState::NotReady
                    } else {
                        ProbeState::Unreachable
                    };
                    (state, text)
                }
            }
        }
        Probe::Tcp { host, port } => {
            match tokio::net::TcpStream::connect((host.as_str(), *port)).await {
                Ok(_) => (ProbeState::Ready, "connection accepted".to_owned()),
                Err(e) => (ProbeState::Unreachable, e.to_string()),
            }
        }
    }
}

/// What went wrong with a request, without the URL (the target shows it): the kind and
/// reqwest's innermost cause (`connect: Connection refused (os error 111)`).
fn request_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    };
    let mut cause = None;
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause = Some(s.to_string());
        src = s.source();
    }
    match cause {
        Some(c) => format!("{kind}: {c}"),
        None => kind.to_owned(),
    }
}

/// Which port the probe goes through.
pub(crate) fn probe_port(service: Service, ports: &[PublishedPort]) -> Option<&PublishedPort> {
    let main = main_port(service);
    ports
        .iter()
        .find(|p| p.container_port == main && p.protocol == "tcp")
}
