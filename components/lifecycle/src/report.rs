use compose::Action;
use docker::Health;

/// One service `start` brought up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StartedService {
    pub service: catalog::Service,
    pub container: String,
    pub action: Action,
}

/// What `start` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StartReport {
    /// Created, recreated or started (dependencies included).
    pub started: Vec<StartedService>,
    /// Already running: left alone.
    pub skipped_running: Vec<catalog::Service>,
    /// In a restart loop: left alone (see `docker logs <container>`).
    pub restarting: Vec<(catalog::Service, String)>,
    /// Images pulled on the way.
    pub pulled: Vec<String>,
    /// Whether `--wait` confirmed every selected service healthy (or running).
    pub waited: bool,
    /// Services that failed to start (the error says why).
    pub failed: Vec<catalog::Service>,
    /// Services not started because a service they depend on failed: `(service, dependency)`.
    pub not_started: Vec<(catalog::Service, String)>,
}

/// What `stop` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StopReport {
    /// Containers that were running and are now stopped.
    pub stopped: Vec<String>,
    /// Selected services without a container.
    pub missing: Vec<catalog::Service>,
}

/// What `restart` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RestartReport {
    pub restarted: Vec<String>,
    /// Selected services without a container (start them instead).
    pub missing: Vec<catalog::Service>,
}

/// What emptying data and log directories met and did not follow or enter
/// (docs/security.md, "Files and links"): project-relative paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LeftAlone {
    /// Symbolic links inside the emptied directories, removed as links: what they point to
    /// was not touched.
    pub links_removed: Vec<String>,
    /// Mount points (another device) inside them: left in place, never entered, so what is
    /// mounted there was not deleted.
    pub mount_points_left: Vec<String>,
}

impl LeftAlone {
    /// One line per link and mount point, for the operator.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let links = self.links_removed.iter().map(|l| {
            format!("{l}: a symbolic link, removed as a link (what it points to was not touched)")
        });
        let mounts = self.mount_points_left.iter().map(|m| {
            format!("{m}: a mount point, left in place and not entered (its content was not deleted; unmount it and clean again to delete it)")
        });
        links.chain(mounts).collect()
    }

    pub(crate) fn add(&mut self, rel: &str, out: &safe_fs::Emptied) {
        let join = |p: &std::path::Path| {
            if p.as_os_str().is_empty() {
                rel.to_owned()
            } else {
                std::path::Path::new(rel).join(p).display().to_string()
            }
        };
        self.links_removed.extend(out.links.iter().map(|l| join(l)));
        self.mount_points_left
            .extend(out.skipped.iter().map(|s| join(&s.path)));
    }
}

/// What `remove` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RemoveReport {
    pub removed: Vec<String>,
    /// Directories emptied (with `volumes`), relative to the project directory.
    pub wiped: Vec<String>,
    /// Links and mount points met while emptying them.
    #[serde(flatten)]
    pub left_alone: LeftAlone,
    /// The project's networks removed because no container of it is left.
    pub networks_removed: Vec<String>,
    /// The services whose data was deleted (with `volumes`).
    #[serde(skip)]
    pub data_deleted: Vec<catalog::Service>,
}

/// What `clean` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanReport {
    /// Directories emptied, relative to the project directory.
    pub cleaned: Vec<String>,
    /// Links and mount points met while emptying them.
    #[serde(flatten)]
    pub left_alone: LeftAlone,
    /// The services whose data was deleted.
    #[serde(skip)]
    pub data_deleted: Vec<catalog::Service>,
}

/// One host port a container publishes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct PublishedPort {
    /// The host address it is bound to; `None` for all interfaces.
    pub host_ip: Option<String>,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: &'static str,
}

/// One selected service in `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceStatus {
    pub service: catalog::Service,
    pub display_name: &'static str,
    pub container: String,
    /// The container state, or `removed` when there is no container.
    pub state: String,
    pub health: Option<Health>,
    /// The image reference the container was created from (the compose file's when there
    /// is no container).
    pub image: String,
    /// The image's tag (`latest` when the reference has none).
    pub tag: String,
    /// Host ports published (the bound ones while running, else the configured ones).
    pub ports: Vec<PublishedPort>,
    /// When the container last started (RFC 3339).
    pub started_at: Option<String>,
    /// Seconds since it started, while it runs.
    pub uptime_secs: Option<u64>,
    /// How often the engine restarted it; `None` when not asked (only an inspect says it:
    /// [`crate::Lifecycle::status_listed`]).
    pub restart_count: Option<i64>,
    /// Its exit code once it stopped.
    pub exit_code: Option<i64>,
    /// What the operator wants (a recording lifecycle only; `None`: nothing recorded and
    /// the container does not run).
    pub desired: Option<store::Desired>,
    /// `desired` is not recorded but assumed: a legacy install's running container counts
    /// as wanted running.
    pub desired_assumed: bool,
    /// The command working on the service (backup, restore, upgrade), as
    /// `` `command` (pid P on HOST, since T) ``.
    pub maintenance: Option<String>,
    /// How the actual state differs from the desired one, e.g. `wanted stopped, is running`.
    pub deviation: Option<String>,
}

impl ServiceStatus {
    /// The state to show: the health while running and not healthy, else the state.
    #[must_use]
    pub fn effective(&self) -> &str {
        match (self.state.as_str(), self.health) {
            ("running", Some(Health::Starting)) => "starting",
            ("running", Some(Health::Unhealthy)) => "unhealthy",
            (s, _) => s,
        }
    }
}

/// `status` of the selection.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatusReport {
    pub services: Vec<ServiceStatus>,
    /// Selected services that no compose file defines.
    pub not_defined: Vec<catalog::Service>,
}

impl StatusReport {
    /// Whether anything selected exists in the project (the cli exits non-zero if not).
    #[must_use]
    pub fn matched(&self) -> bool {
        !self.services.is_empty()
    }
}
