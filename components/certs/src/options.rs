use std::path::{Path, PathBuf};

/// The owner a derived file gets. `gid: None` leaves the group as it is (RabbitMQ's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    pub uid: u32,
    pub gid: Option<u32>,
}

impl Owner {
    /// Owner `uid:gid`.
    pub fn new(uid: u32, gid: u32) -> Self {
        Owner {
            uid,
            gid: Some(gid),
        }
    }

    /// Owner `uid`, group left unchanged.
    pub fn uid_only(uid: u32) -> Self {
        Owner { uid, gid: None }
    }
}

/// Owners of the per-service files, from `config/services.env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owners {
    /// `USERID:GROUPID` (Grafana's process): owner of the copied `privkey.pem`, which Grafana
    /// reads directly (GitLab reads it as root), and of `data/grafana`.
    pub grafana: Owner,
    /// `MONGO_UID:MONGO_GID`: `combined.pem`.
    pub mongo: Owner,
    /// `INFLUX_UID:INFLUX_GID`: `privkey-influxdb.pem`.
    pub influx: Owner,
    /// `RABBIT_UID` (group unchanged): `privkey-rabbitmq.pem`.
    pub rabbit: Owner,
    /// `POSTGRES_UID:POSTGRES_GID`: `postgres.key`, `postgres.crt`.
    pub postgres: Owner,
    /// `THINGSBOARD_UID:THINGSBOARD_GID`: `thingsboard-*.pem`, `data/thingsboard`, `log/thingsboard`.
    pub thingsboard: Owner,
}

impl Default for Owners {
    /// The defaults of the `services.env` template.
    fn default() -> Self {
        Owners {
            grafana: Owner::new(472, 0),
            mongo: Owner::new(999, 999),
            influx: Owner::new(1000, 1000),
            rabbit: Owner::uid_only(999),
            postgres: Owner::new(999, 999),
            thingsboard: Owner::new(799, 799),
        }
    }
}

/// What `host setup` and `certs refresh` work on.
#[derive(Debug, Clone)]
pub struct CertsOptions {
    /// The project directory (holds `certs/`, `data/`, `log/`).
    pub project_dir: PathBuf,
    /// `CERTS_SRC`: where the certificates come from (e.g. a Let's Encrypt directory).
    pub certs_src: PathBuf,
    /// `HOSTNAME`.
    pub hostname: String,
    pub owners: Owners,
    /// Leave owners as they are (no chown at all): the way to run without root.
    pub skip_chown: bool,
    /// Report what would change; change nothing.
    pub dry_run: bool,
}

impl CertsOptions {
    /// `<project>/certs`.
    pub fn certs_dir(&self) -> PathBuf {
        certs_dir(&self.project_dir)
    }
}

pub(crate) fn certs_dir(project_dir: &Path) -> PathBuf {
    project_dir.join("certs")
}
