use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use docker::{PortSpec, RestartPolicy};
use indexmap::IndexMap;

/// The compose files of one project and where they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFiles {
    /// The compose project name (see [`crate::project_name_from_hostname`]).
    pub name: String,
    /// The project directory: relative bind mounts resolve against it.
    pub working_dir: PathBuf,
    /// Compose files in load order; later files override earlier ones.
    pub files: Vec<PathBuf>,
}

/// A `depends_on` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl Condition {
    /// Compose's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::ServiceStarted => "service_started",
            Condition::ServiceHealthy => "service_healthy",
            Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dependency {
    pub condition: Condition,
    pub restart: bool,
    pub required: bool,
}

/// A mount of a service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Mount {
    /// A host path (absolute, relative ones resolved against the project directory).
    Bind {
        source: PathBuf,
        target: String,
        read_only: bool,
    },
    /// A named volume declared at the top level (by its key).
    Volume {
        key: String,
        target: String,
        read_only: bool,
    },
}

/// A healthcheck as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Healthcheck {
    /// Engine form: `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<i64>,
    pub start_period: Option<Duration>,
}

/// One service of the merged, interpolated project.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceDef {
    pub name: String,
    pub image: String,
    pub container_name: Option<String>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `None` values: declared without a value and not set in the variables (left out).
    pub environment: BTreeMap<String, Option<String>>,
    #[serde(serialize_with = "ser_ports")]
    pub ports: Vec<PortSpec>,
    pub volumes: Vec<Mount>,
    /// Network keys this service joins, with extra aliases.
    pub networks: IndexMap<String, Vec<String>>,
    #[serde(serialize_with = "ser_restart")]
    pub restart: RestartPolicy,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub shm_size: Option<i64>,
    pub logging: Option<(String, BTreeMap<String, String>)>,
    pub healthcheck: Option<Healthcheck>,
    pub depends_on: IndexMap<String, Dependency>,
    pub labels: BTreeMap<String, String>,
}

fn ser_ports<S: serde::Serializer>(ports: &[PortSpec], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ports.iter().map(|p| {
        format!(
            "{}:{}:{}/{}",
            p.host_ip.as_deref().unwrap_or(""),
            p.host_port.map(|p| p.to_string()).unwrap_or_default(),
            p.container_port,
            p.protocol
        )
    }))
}

fn ser_restart<S: serde::Serializer>(r: &RestartPolicy, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&match r {
        RestartPolicy::No => "no".to_owned(),
        RestartPolicy::Always => "always".to_owned(),
        RestartPolicy::UnlessStopped => "unless-stopped".to_owned(),
        RestartPolicy::OnFailure(n) => format!("on-failure:{}", n.unwrap_or(0)),
    })
}

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetworkDef {
    pub key: String,
    /// The engine name: `name:` when given, else `<project>_<key>`.
    pub name: String,
    pub driver: Option<String>,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
}

/// A top-level named volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VolumeDef {
    pub key: String,
    /// The engine name: `name:` when given, else `<project>_<key>`.
    pub name: String,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
}

/// A loaded project: the merged, interpolated compose files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    pub working_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    pub services: IndexMap<String, ServiceDef>,
    pub networks: IndexMap<String, NetworkDef>,
    pub volumes: IndexMap<String, VolumeDef>,
}

impl Project {
    /// The container name of a service: `container_name:` or `<project>-<service>-1`.
    #[must_use]
    pub fn container_name(&self, service: &str) -> String {
        self.services
            .get(service)
            .and_then(|s| s.container_name.clone())
            .unwrap_or_else(|| format!("{}-{service}-1", self.name))
    }

    /// Service names in file order.
    #[must_use]
    pub fn service_names(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }
}
