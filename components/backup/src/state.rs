//! Where each DTaaS service keeps its state inside its container, and whether a compose
//! definition mounts all of it from the project directory with a stable identity.

use std::path::{Path, PathBuf};

use catalog::Service;
use compose::{Mount, Project, ServiceDef};

/// A path inside a service's container that holds state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatePath {
    /// The path in the container (PostgreSQL: the `PGDATA` of the definition wins).
    pub container: &'static str,
    /// Whether backups include it (logs must be mounted but are not backed up).
    pub backed_up: bool,
}

const fn data(container: &'static str) -> StatePath {
    StatePath {
        container,
        backed_up: true,
    }
}

const fn logs(container: &'static str) -> StatePath {
    StatePath {
        container,
        backed_up: false,
    }
}

// The node's database and the Erlang cookie; the directory of the node is named after the
// node name, so the container also needs a fixed host name.
const RABBITMQ: &[StatePath] = &[data("/var/lib/rabbitmq")];
const MONGODB: &[StatePath] = &[data("/data/db")];
const GRAFANA: &[StatePath] = &[data("/var/lib/grafana")];
// The engine's data and the CLI configs (influx-configs) written at setup, which must stay
// in step with it.
const INFLUXDB: &[StatePath] = &[data("/var/lib/influxdb2"), data("/etc/influxdb2")];
const POSTGRES: &[StatePath] = &[data("/var/lib/postgresql/data/pgdata")];
const THINGSBOARD: &[StatePath] = &[data("/data"), logs("/var/log/thingsboard")];
// gitlab-secrets.json lives in /etc/gitlab: without it the encrypted columns of
// /var/opt/gitlab cannot be read.
const GITLAB: &[StatePath] = &[
    data("/etc/gitlab"),
    data("/var/opt/gitlab"),
    logs("/var/log/gitlab"),
];

/// The state paths of a service's container.
#[must_use]
pub fn state_paths(service: Service) -> &'static [StatePath] {
    match service {
        Service::RabbitMq => RABBITMQ,
        Service::MongoDb => MONGODB,
        Service::Grafana => GRAFANA,
        Service::InfluxDb => INFLUXDB,
        Service::Postgres => POSTGRES,
        Service::ThingsBoard => THINGSBOARD,
        Service::GitLab => GITLAB,
    }
}

/// What is wrong with how a service keeps its state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum StateFinding {
    /// No writable bind mount covers this container path: its content is lost when the
    /// container is recreated.
    NotMounted {
        service: String,
        container_path: String,
    },
    /// The path is mounted from outside the project directory, so backups do not cover it.
    OutsideProject {
        service: String,
        container_path: String,
        host_path: PathBuf,
    },
    /// RabbitMQ without a fixed `hostname` (or `RABBITMQ_NODENAME`): every new container
    /// is a new, empty node.
    NoStableIdentity { service: String },
}

impl StateFinding {
    /// The compose name of the service the finding is about.
    #[must_use]
    pub fn service(&self) -> &str {
        match self {
            StateFinding::NotMounted { service, .. }
            | StateFinding::OutsideProject { service, .. }
            | StateFinding::NoStableIdentity { service } => service,
        }
    }

    /// How to fix it.
    #[must_use]
    pub fn hint(&self) -> String {
        match self {
            StateFinding::NotMounted {
                service,
                container_path,
            } => format!(
                "add a bind mount from the project (e.g. ./data/...:{container_path}) to {service}'s volumes, or restore the generated compose files with `dtaas-services project generate --force`"
            ),
            StateFinding::OutsideProject {
                service,
                container_path,
                ..
            } => format!(
                "mount {container_path} of {service} from a directory inside the project (data/ or config/) so that `service backup` covers it"
            ),
            StateFinding::NoStableIdentity { service } => format!(
                "set `hostname: {service}` for {service} in its compose file (the generated one does); the node's data directory is named after it"
            ),
        }
    }
}

impl std::fmt::Display for StateFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateFinding::NotMounted {
                service,
                container_path,
            } => write!(
                f,
                "{service}: {container_path} is not mounted from the host; its data is lost when the container is recreated"
            ),
            StateFinding::OutsideProject {
                service,
                container_path,
                host_path,
            } => write!(
                f,
                "{service}: {container_path} is mounted from {} outside the project; backups do not cover it",
                host_path.display()
            ),
            StateFinding::NoStableIdentity { service } => write!(
                f,
                "{service}: no fixed hostname; every recreated container starts an empty node (set `hostname:` in its compose file)"
            ),
        }
    }
}

/// The container paths of `service` as its definition needs them (PostgreSQL: `PGDATA`).
fn container_paths(service: Service, def: &ServiceDef) -> Vec<(String, bool)> {
    state_paths(service)
        .iter()
        .map(|p| {
            let path = match (service, def.environment.get("PGDATA")) {
                (Service::Postgres, Some(Some(pgdata))) => pgdata.clone(),
                _ => p.container.to_owned(),
            };
            (path, p.backed_up)
        })
        .collect()
}

/// The writable bind that covers `container_path`, and the host path it maps to.
fn host_path_of(def: &ServiceDef, container_path: &str) -> Option<PathBuf> {
    let target_path = Path::new(container_path);
    def.volumes
        .iter()
        .filter_map(|m| match m {
            Mount::Bind {
                source,
                target,
                read_only: false,
            } => {
                let rest = target_path.strip_prefix(target).ok()?;
                let host = if rest.as_os_str().is_empty() {
                    source.clone()
                } else {
                    source.join(rest)
                };
                Some((target.len(), host))
            }
            _ => None,
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, p)| p)
}

/// Check every stateful service `project` defines: each state path mounted writable from
/// inside the project directory, RabbitMQ with a fixed host name.
#[must_use]
pub fn check_state(project: &Project) -> Vec<StateFinding> {
    let mut out = Vec::new();
    for s in Service::ALL {
        let Some(def) = project.services.get(s.compose_name()) else {
            continue;
        };
        let service = s.compose_name().to_owned();
        for (path, _) in container_paths(s, def) {
            match host_path_of(def, &path) {
                None => out.push(StateFinding::NotMounted {
                    service: service.clone(),
                    container_path: path,
                }),
                Some(host) if !host.starts_with(&project.working_dir) => {
                    out.push(StateFinding::OutsideProject {
                        service: service.clone(),
                        container_path: path,
                        host_path: host,
                    });
                }
                Some(_) => {}
            }
        }
        let named = def.hostname.as_deref().is_some_and(|h| !h.is_empty())
            || def.environment.contains_key("RABBITMQ_NODENAME");
        if s == Service::RabbitMq && !named {
            out.push(StateFinding::NoStableIdentity { service });
        }
    }
    out
}

/// The project-relative host directories a backup of `service` archives.
///
/// # Errors
/// [`crate::BackupError::NotMounted`] naming the first state path that is not mounted
/// writable from inside the project directory.
pub(crate) fn backup_paths(
    project: &Project,
    service: Service,
) -> Result<Vec<String>, crate::BackupError> {
    let def = project
        .services
        .get(service.compose_name())
        .ok_or_else(|| crate::BackupError::NotDefined {
            service: service.compose_name().to_owned(),
        })?;
    let mut out = Vec::new();
    for (path, backed_up) in container_paths(service, def) {
        if !backed_up {
            continue;
        }
        let rel = host_path_of(def, &path)
            .and_then(|h| {
                h.strip_prefix(&project.working_dir)
                    .ok()
                    .map(|r| r.to_string_lossy().into_owned())
            })
            .filter(|r| crate::manifest::safe_rel_path(r))
            .ok_or_else(|| crate::BackupError::NotMounted {
                service: service.compose_name().to_owned(),
                container_path: path.clone(),
            })?;
        if !out.contains(&rel) {
            out.push(rel);
        }
    }
    Ok(out)
}
