use std::fmt;

/// One of the platform services DTaaS runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    RabbitMq,
    MongoDb,
    Grafana,
    InfluxDb,
    Postgres,
    ThingsBoard,
    GitLab,
}

struct Entry {
    compose: &'static str,
    container: &'static str,
    display: &'static str,
    aliases: &'static [&'static str],
    data_dir: &'static str,
    log_dir: Option<&'static str>,
    compose_file: &'static str,
    image_key: &'static str,
    default_image: &'static str,
}

const fn entry(service: Service) -> Entry {
    match service {
        Service::RabbitMq => Entry {
            compose: "rabbitmq",
            container: "rabbitmq",
            display: "RabbitMQ",
            aliases: &["rabbit"],
            data_dir: "data/rabbitmq",
            log_dir: None,
            compose_file: "compose.services.yml",
            image_key: "RABBITMQ_IMAGE",
            default_image: "rabbitmq:4.2.2-management",
        },
        Service::MongoDb => Entry {
            compose: "mongodb",
            container: "mongodb",
            display: "MongoDB",
            aliases: &["mongo"],
            data_dir: "data/mongodb",
            log_dir: None,
            compose_file: "compose.services.yml",
            image_key: "MONGODB_IMAGE",
            default_image: "mongo:8.2.3",
        },
        Service::Grafana => Entry {
            compose: "grafana",
            container: "grafana",
            display: "Grafana",
            aliases: &[],
            data_dir: "data/grafana",
            log_dir: None,
            compose_file: "compose.services.yml",
            image_key: "GRAFANA_IMAGE",
            default_image: "grafana/grafana:12.3.1-ubuntu",
        },
        Service::InfluxDb => Entry {
            compose: "influxdb",
            container: "influxdb",
            display: "InfluxDB",
            aliases: &["influx"],
            data_dir: "data/influxdb",
            log_dir: None,
            compose_file: "compose.services.yml",
            image_key: "INFLUXDB_IMAGE",
            default_image: "influxdb:2.8.0",
        },
        Service::Postgres => Entry {
            compose: "postgres",
            container: "postgres",
            display: "PostgreSQL",
            aliases: &["postgresql", "pg"],
            data_dir: "data/postgres",
            log_dir: None,
            compose_file: "compose.services.yml",
            image_key: "POSTGRES_IMAGE",
            default_image: "postgres:16.11",
        },
        Service::ThingsBoard => Entry {
            compose: "thingsboard-ce",
            container: "thingsboard",
            display: "ThingsBoard",
            aliases: &["thingsboard", "tb"],
            data_dir: "data/thingsboard",
            log_dir: Some("log/thingsboard"),
            compose_file: "compose.thingsboard.yml",
            image_key: "THINGSBOARD_IMAGE",
            default_image: "thingsboard/tb-node:4.2.1",
        },
        Service::GitLab => Entry {
            compose: "gitlab",
            container: "gitlab",
            display: "GitLab",
            aliases: &["gitlab-ce"],
            data_dir: "data/gitlab",
            log_dir: Some("log/gitlab"),
            compose_file: "compose.gitlab.yml",
            image_key: "GITLAB_IMAGE",
            default_image: "gitlab/gitlab-ce:18.10.1-ce.0",
        },
    }
}

impl Service {
    /// Every service, in start order (the order of the compose files).
    pub const ALL: [Service; 7] = [
        Service::RabbitMq,
        Service::MongoDb,
        Service::Grafana,
        Service::InfluxDb,
        Service::Postgres,
        Service::ThingsBoard,
        Service::GitLab,
    ];

    /// The compose service name (`thingsboard-ce` for ThingsBoard).
    #[must_use]
    pub const fn compose_name(self) -> &'static str {
        entry(self).compose
    }

    /// The default container name of the generated compose files (`thingsboard` for ThingsBoard).
    #[must_use]
    pub const fn container_name(self) -> &'static str {
        entry(self).container
    }

    /// The name shown in tables.
    #[must_use]
    pub const fn display_name(self) -> &'static str {
        entry(self).display
    }

    /// Other names accepted by the selector, besides the compose and container names.
    #[must_use]
    pub const fn aliases(self) -> &'static [&'static str] {
        entry(self).aliases
    }

    /// The data directory, relative to the project directory.
    #[must_use]
    pub const fn data_dir(self) -> &'static str {
        entry(self).data_dir
    }

    /// The log directory, relative to the project directory, for services that mount one.
    #[must_use]
    pub const fn log_dir(self) -> Option<&'static str> {
        entry(self).log_dir
    }

    /// The compose file, relative to the project directory, that defines this service.
    #[must_use]
    pub const fn compose_file(self) -> &'static str {
        entry(self).compose_file
    }

    /// The settings key that overrides the image (`RABBITMQ_IMAGE`, ...).
    #[must_use]
    pub const fn image_key(self) -> &'static str {
        entry(self).image_key
    }

    /// The pinned upstream image used when the override is unset.
    #[must_use]
    pub const fn default_image(self) -> &'static str {
        entry(self).default_image
    }

    /// Whether `service install` has a flow for this service.
    #[must_use]
    pub const fn supports_install(self) -> bool {
        matches!(self, Service::ThingsBoard | Service::GitLab)
    }

    /// Whether `user add` provisions accounts in this service.
    #[must_use]
    pub const fn supports_users(self) -> bool {
        true
    }

    /// Whether `user reset-password` has a flow for this service.
    #[must_use]
    pub const fn supports_password_reset(self) -> bool {
        matches!(self, Service::ThingsBoard | Service::GitLab)
    }

    /// The service whose compose service name is exactly `name`.
    #[must_use]
    pub fn from_compose_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.compose_name() == name)
    }

    /// Resolve a user-typed name: case-insensitive, compose name, container name or alias.
    #[must_use]
    pub fn lookup(name: &str) -> Option<Service> {
        let name = name.trim().to_ascii_lowercase();
        Service::ALL.into_iter().find(|s| {
            s.compose_name() == name
                || s.container_name() == name
                || s.aliases().iter().any(|a| *a == name)
        })
    }
}

/// Serialised as its compose name (`thingsboard-ce`), the name users type and compose shows.
impl serde::Serialize for Service {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.compose_name())
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.compose_name())
    }
}
