//! The table of every settings key: its kind (how it is validated), its built-in default
//! (the value of the upstream `services.env.template`) and whether it is a secret.

/// How a key's value is validated and typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A DNS name or IP address, no whitespace.
    Host,
    /// A TCP/UDP port, 1–65535.
    Port,
    /// `A-B` with both ends ports and `A <= B`, or a single port.
    PortRange,
    /// A numeric user or group id.
    Id,
    /// Free text (non-secret).
    Text,
    /// A password or token: masked in output.
    Secret,
    /// `true/false/1/0/yes/no/on/off`, case-insensitive.
    Bool,
    /// `local@domain`.
    Email,
    /// A number of seconds, at least 1.
    Seconds,
    /// A container image reference, no whitespace.
    Image,
    /// A filesystem path.
    Path,
    /// `http` or `https`.
    Scheme,
    /// A name made of `[A-Za-z0-9_.-]`.
    Name,
    /// `compose` or `swarm` (see [`crate::Orchestrator`]).
    Orchestrator,
}

/// One known settings key.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    /// The built-in default; `None` means the key has no default (required or optional, see `required`).
    pub default: Option<&'static str>,
    /// A missing value is an error.
    pub required: bool,
    pub help: &'static str,
}

impl KeySpec {
    /// Whether values of this key are secrets (masked unless asked).
    #[must_use]
    pub fn is_secret(&self) -> bool {
        self.kind == Kind::Secret
    }
}

const fn key(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> KeySpec {
    KeySpec {
        name,
        kind,
        default: Some(default),
        required: false,
        help,
    }
}

const fn optional(name: &'static str, kind: Kind, help: &'static str) -> KeySpec {
    KeySpec {
        name,
        kind,
        default: None,
        required: false,
        help,
    }
}

use Kind::{
    Bool, Email, Host, Id, Image, Name, Orchestrator, Path, Port, PortRange, Scheme, Seconds,
    Secret, Text,
};

/// Every key `dtaas-services` knows, in the order of `config show`.
pub static KEYS: &[KeySpec] = &[
    KeySpec {
        name: "HOSTNAME",
        kind: Host,
        default: None,
        required: true,
        help: "public FQDN of the services host; names the compose project",
    },
    key("USERID", Id, "472", "uid of the Grafana process"),
    key("GROUPID", Id, "0", "gid of the Grafana process"),
    key(
        "CERTS_SRC",
        Path,
        "/etc/letsencrypt/archive/services.intocps.org",
        "directory the TLS certificates are copied from",
    ),
    key(
        "RABBITMQ_PORT",
        Port,
        "8083",
        "host port of RabbitMQ AMQPS (5671)",
    ),
    key(
        "RABBITMQ_MANAGEMENT_PORT",
        Port,
        "8084",
        "host port of the RabbitMQ management UI (15671)",
    ),
    key(
        "RABBITMQ_MQTT_PORT",
        Port,
        "8085",
        "host port of RabbitMQ MQTTS (8883)",
    ),
    key(
        "RABBITMQ_ADMIN_USERNAME",
        Name,
        "dtaas",
        "RabbitMQ admin user",
    ),
    key(
        "RABBITMQ_ADMIN_PASSWORD",
        Secret,
        "dtaas",
        "RabbitMQ admin password",
    ),
    key(
        "RABBIT_UID",
        Id,
        "999",
        "owner of certs/privkey-rabbitmq.pem",
    ),
    key(
        "INFLUXDB_PORT",
        Port,
        "8086",
        "host port of InfluxDB (8086)",
    ),
    key(
        "INFLUXDB_ADMIN_USERNAME",
        Name,
        "dtaas",
        "InfluxDB initial admin user",
    ),
    key(
        "INFLUXDB_ADMIN_PASSWORD",
        Secret,
        "dtaas1357",
        "InfluxDB initial admin password (8+ characters)",
    ),
    key(
        "INFLUXDB_ORG",
        Name,
        "dtaas",
        "InfluxDB initial organisation",
    ),
    key("INFLUXDB_BUCKET", Name, "dtaas", "InfluxDB initial bucket"),
    key(
        "INFLUX_UID",
        Id,
        "1000",
        "owner of certs/privkey-influxdb.pem",
    ),
    key(
        "INFLUX_GID",
        Id,
        "1000",
        "group of certs/privkey-influxdb.pem",
    ),
    key("MONGODB_PORT", Port, "8087", "host port of MongoDB (27017)"),
    key(
        "MONGODB_ADMIN_USERNAME",
        Name,
        "dtaas123",
        "MongoDB root user",
    ),
    key(
        "MONGODB_ADMIN_PASSWORD",
        Secret,
        "XaphrDKDTaaS2025",
        "MongoDB root password",
    ),
    key("MONGO_UID", Id, "999", "owner of certs/combined.pem"),
    key("MONGO_GID", Id, "999", "group of certs/combined.pem"),
    key("GRAFANA_PORT", Port, "8088", "host port of Grafana (3000)"),
    key(
        "GRAFANA_ADMIN_USERNAME",
        Name,
        "dtaas",
        "Grafana admin user",
    ),
    key(
        "GRAFANA_ADMIN_PASSWORD",
        Secret,
        "dtaas",
        "Grafana admin password",
    ),
    key(
        "POSTGRES_PORT",
        Port,
        "5432",
        "host port of PostgreSQL (5432)",
    ),
    key(
        "POSTGRES_DB",
        Name,
        "thingsboard",
        "PostgreSQL database of ThingsBoard",
    ),
    key("POSTGRES_USER", Name, "dtaas_user", "PostgreSQL superuser"),
    key(
        "POSTGRES_PASSWORD",
        Secret,
        "dtaas_secret",
        "PostgreSQL superuser password",
    ),
    key(
        "POSTGRES_UID",
        Id,
        "999",
        "owner of certs/postgres.key and .crt",
    ),
    key(
        "POSTGRES_GID",
        Id,
        "999",
        "group of certs/postgres.key and .crt",
    ),
    key(
        "THINGSBOARD_UID",
        Id,
        "799",
        "owner of the ThingsBoard certs, data and log dirs",
    ),
    key(
        "THINGSBOARD_GID",
        Id,
        "799",
        "group of the ThingsBoard certs, data and log dirs",
    ),
    key(
        "THINGSBOARD_PORT",
        Port,
        "8089",
        "host port of ThingsBoard HTTPS (8080)",
    ),
    key(
        "THINGSBOARD_EDGE_RPC_PORT",
        Port,
        "7070",
        "host port of ThingsBoard edge RPC (7070)",
    ),
    key(
        "THINGSBOARD_MQTT_PORT",
        Port,
        "1883",
        "host port of ThingsBoard MQTT (1883)",
    ),
    key(
        "THINGSBOARD_MQTT_SSL_PORT",
        Port,
        "8883",
        "host port of ThingsBoard MQTTS (8883)",
    ),
    key(
        "THINGSBOARD_COAP_LwM2M_PORTS",
        PortRange,
        "5683-5688",
        "host UDP port range of ThingsBoard CoAP/LwM2M (5683-5688)",
    ),
    key(
        "THINGSBOARD_SCHEME",
        Scheme,
        "https",
        "scheme of the ThingsBoard REST API",
    ),
    key(
        "THINGSBOARD_INSTALL_TIMEOUT",
        Seconds,
        "300",
        "time limit of the ThingsBoard schema install",
    ),
    key(
        "TB_SYSADMIN_EMAIL",
        Email,
        "sysadmin@thingsboard.org",
        "ThingsBoard sysadmin login",
    ),
    key(
        "TB_SYSADMIN_NEW_PASSWORD",
        Secret,
        "dtaas123",
        "ThingsBoard sysadmin password to set",
    ),
    key("TB_TENANT_TITLE", Text, "DTaaS", "ThingsBoard tenant name"),
    key(
        "TB_TENANT_ADMIN_EMAIL",
        Email,
        "dtaas-admin@example.org",
        "ThingsBoard tenant admin login",
    ),
    key(
        "TB_TENANT_ADMIN_PASSWORD",
        Secret,
        "dtaastest123",
        "ThingsBoard tenant admin password",
    ),
    key(
        "SSL_VERIFY",
        Bool,
        "True",
        "verify TLS certificates of the services' APIs and PostgreSQL",
    ),
    key(
        "GITLAB_PORT",
        Port,
        "8090",
        "host port of GitLab HTTPS (443)",
    ),
    key(
        "GITLAB_SSH_PORT",
        Port,
        "2424",
        "host port of GitLab SSH (22)",
    ),
    key(
        "GITLAB_ROOT_NEW_PASSWORD",
        Secret,
        "Astr0n0m1c@lG28ww",
        "GitLab root password to set",
    ),
    key(
        "OAUTH_APPS",
        Path,
        "gitlab_oauth.json",
        "OAuth apps file, relative to config/",
    ),
    key(
        "RABBITMQ_IMAGE",
        Image,
        "rabbitmq:4.2.2-management",
        "RabbitMQ image",
    ),
    key("MONGODB_IMAGE", Image, "mongo:8.2.3", "MongoDB image"),
    key(
        "GRAFANA_IMAGE",
        Image,
        "grafana/grafana:12.3.1-ubuntu",
        "Grafana image",
    ),
    key("INFLUXDB_IMAGE", Image, "influxdb:2.8.0", "InfluxDB image"),
    key(
        "POSTGRES_IMAGE",
        Image,
        "postgres:16.11",
        "PostgreSQL image",
    ),
    key(
        "THINGSBOARD_IMAGE",
        Image,
        "thingsboard/tb-node:4.2.1",
        "ThingsBoard image",
    ),
    key(
        "GITLAB_IMAGE",
        Image,
        "gitlab/gitlab-ce:18.10.1-ce.0",
        "GitLab image",
    ),
    KeySpec {
        name: "CONTAINER_PREFIX",
        kind: Name,
        default: Some(""),
        required: false,
        help: "prefix of every container name (two stacks on one host)",
    },
    key(
        "NETWORK_NAME",
        Name,
        "dtaas-services",
        "name of the Docker network the services share",
    ),
    key(
        "ORCHESTRATOR",
        Orchestrator,
        "compose",
        "compose: every service on one Docker engine; swarm: a Docker Swarm (docs/multi-host.md)",
    ),
    optional(
        "RABBITMQ_NODE",
        Text,
        "swarm mode: the node RabbitMQ runs on (a node hostname, or label==value)",
    ),
    optional(
        "MONGODB_NODE",
        Text,
        "swarm mode: the node MongoDB runs on (a node hostname, or label==value)",
    ),
    optional(
        "GRAFANA_NODE",
        Text,
        "swarm mode: the node Grafana runs on (a node hostname, or label==value)",
    ),
    optional(
        "INFLUXDB_NODE",
        Text,
        "swarm mode: the node InfluxDB runs on (a node hostname, or label==value)",
    ),
    optional(
        "POSTGRES_NODE",
        Text,
        "swarm mode: the node PostgreSQL runs on (a node hostname, or label==value)",
    ),
    optional(
        "THINGSBOARD_NODE",
        Text,
        "swarm mode: the node ThingsBoard runs on (a node hostname, or label==value)",
    ),
    optional(
        "GITLAB_NODE",
        Text,
        "swarm mode: the node GitLab runs on (a node hostname, or label==value)",
    ),
    optional(
        "DATABASE_URL",
        Secret,
        "PostgreSQL URL of a shared state DB (default: SQLite in .dtaas/)",
    ),
    // dtaas-jobs (docs/jobs.md): schedules are cron expressions (5 or 6 fields) or
    // `@every <duration>`, evaluated in JOBS_TIMEZONE; an empty schedule disables the job in
    // `dtaas-jobs daemon`.
    key(
        "JOBS_TIMEZONE",
        Text,
        "UTC",
        "IANA time zone of the dtaas-jobs schedules",
    ),
    key(
        "JOBS_SERVICE_HEALTH_SCHEDULE",
        Text,
        "*/5 * * * *",
        "when dtaas-jobs daemon runs service-health (empty: never)",
    ),
    key(
        "JOBS_USERS_SYNC_SCHEDULE",
        Text,
        "0 3 * * *",
        "when dtaas-jobs daemon runs users-sync (empty: never)",
    ),
    key(
        "JOBS_CERTS_EXPIRY_SCHEDULE",
        Text,
        "0 6 * * *",
        "when dtaas-jobs daemon runs certs-expiry (empty: never)",
    ),
    key(
        "JOBS_ADMIN_CREDENTIALS_SCHEDULE",
        Text,
        "30 6 * * *",
        "when dtaas-jobs daemon runs admin-credentials (empty: never)",
    ),
    key(
        "JOBS_PRUNE_HISTORY_SCHEDULE",
        Text,
        "0 4 * * *",
        "when dtaas-jobs daemon runs prune-history (empty: never)",
    ),
    key(
        "JOBS_SERVICES",
        Text,
        "",
        "services service-health watches, e.g. rabbitmq,grafana (empty: all defined)",
    ),
    key(
        "JOBS_RESTART_BUDGET",
        Id,
        "3",
        "restarts service-health may do per service within JOBS_RESTART_WINDOW",
    ),
    key(
        "JOBS_RESTART_WINDOW",
        Seconds,
        "3600",
        "the sliding window of JOBS_RESTART_BUDGET",
    ),
    key(
        "JOBS_CERTS_WARN_DAYS",
        Id,
        "30",
        "certs-expiry warns when the certificate expires within this many days",
    ),
    key(
        "JOBS_CERTS_FAIL_DAYS",
        Id,
        "7",
        "certs-expiry fails when the certificate expires within this many days",
    ),
    key(
        "JOBS_CERTS_REFRESH",
        Bool,
        "false",
        "certs-expiry runs a certs refresh from CERTS_SRC when certs/ is behind it",
    ),
    key(
        "JOBS_HISTORY_KEEP",
        Id,
        "200",
        "execution records prune-history keeps per job",
    ),
    key("JOBS_TIMEOUT", Seconds, "900", "time limit of one job run"),
];

/// The spec of a known key (exact, case-sensitive).
#[must_use]
pub fn key_spec(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name)
}

/// The closest known key to `name`, for "did you mean" hints.
#[must_use]
pub fn suggest(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    if let Some(k) = key_spec(&upper) {
        return Some(k.name);
    }
    KEYS.iter()
        .map(|k| (strsim::jaro_winkler(&upper, k.name), k.name))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}
