use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The engine's spelling (`tcp`, `udp`, `sctp`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One published port: `host_ip:host_port -> container_port/protocol`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpec {
    pub container_port: u16,
    pub protocol: Protocol,
    /// `None` or empty: all interfaces.
    pub host_ip: Option<String>,
    /// `None`: an ephemeral port chosen by the engine.
    pub host_port: Option<u16>,
}

/// Container restart policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure(Option<i64>),
}

/// A container healthcheck. Durations are whole; `test` is the engine form
/// (`["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthSpec {
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<i64>,
    pub start_period: Option<Duration>,
}

/// Everything needed to create a container. Its `Debug` shows the environment's keys only
/// (the values hold admin passwords).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub working_dir: Option<String>,
    pub ports: Vec<PortSpec>,
    /// Engine bind strings: `/abs/host:/path[:ro]` or `volume:/path[:ro]`.
    pub binds: Vec<String>,
    /// The network to join and this container's aliases on it.
    pub network: Option<(String, Vec<String>)>,
    pub restart: RestartPolicy,
    pub shm_size: Option<i64>,
    /// Logging driver and its options.
    pub log_config: Option<(String, BTreeMap<String, String>)>,
    pub healthcheck: Option<HealthSpec>,
    pub tty: bool,
    pub stop_timeout: Option<i64>,
}

/// A container's state as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    #[serde(untagged)]
    Other(String),
}

impl ContainerState {
    /// Parse the engine's spelling.
    #[must_use]
    pub fn parse(s: &str) -> ContainerState {
        match s {
            "created" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "restarting" => ContainerState::Restarting,
            "removing" => ContainerState::Removing,
            "exited" => ContainerState::Exited,
            "dead" => ContainerState::Dead,
            other => ContainerState::Other(other.to_owned()),
        }
    }

    /// The engine's spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Other(s) => s,
        }
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Docker health status of a container with a healthcheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    /// Parse the engine's spelling; `none`/empty give `None`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Health> {
        match s {
            "starting" => Some(Health::Starting),
            "healthy" => Some(Health::Healthy),
            "unhealthy" => Some(Health::Unhealthy),
            _ => None,
        }
    }

    /// Read the health from a container list's status text
    /// (`Up 3 minutes (healthy)`, `Up 2 seconds (health: starting)`).
    #[must_use]
    pub fn from_status_text(s: &str) -> Option<Health> {
        if s.ends_with("(healthy)") {
            Some(Health::Healthy)
        } else if s.ends_with("(unhealthy)") {
            Some(Health::Unhealthy)
        } else if s.ends_with("(health: starting)") {
            Some(Health::Starting)
        } else {
            None
        }
    }

    /// The engine's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container as listed or inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// `sha256:...` id of that image.
    pub image_id: String,
    pub state: ContainerState,
    pub health: Option<Health>,
    /// Exit code once the container stopped (inspect; from a list: see [`Listed::exit_code`]).
    pub exit_code: Option<i64>,
    pub labels: BTreeMap<String, String>,
    /// The configuration the container runs with (inspect only; `None` from a list).
    pub details: Option<ContainerDetails>,
    /// What the list call says beyond the state (list only; `None` from an inspect).
    pub listed: Option<crate::Listed>,
}

/// What `inspect` tells about a container's configuration, to compare it with a desired
/// [`ContainerSpec`] (used to adopt containers another tool created). Its `Debug` shows the
/// environment's keys only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ContainerDetails {
    /// `KEY=value`, including the image's own variables.
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub user: String,
    pub binds: Vec<String>,
    pub ports: Vec<PortSpec>,
    pub networks: Vec<String>,
    /// When the container last started (RFC 3339, as the engine reports it); `None` when it
    /// never ran.
    pub started_at: Option<String>,
    /// How often the engine restarted it (restart policy).
    pub restart_count: i64,
    /// The host ports actually bound while it runs (ephemeral ones resolved).
    pub published: Vec<PortSpec>,
}

impl ContainerInfo {
    /// A label's value.
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// A network to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSpec {
    pub name: String,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// A network as inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A named volume to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A volume as inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// An image as inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `sha256:...`.
    pub id: String,
}

/// One progress event of an image pull.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullProgress {
    /// Layer id, when the event is about one layer.
    pub id: Option<String>,
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

/// A command to run in a running container. Secrets go in `env` or `stdin`, never `cmd`;
/// Debug shows only the env keys and the stdin length.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// Bytes written to the command's stdin, which is then closed.
    pub stdin: Option<Vec<u8>>,
}

/// The keys of `KEY=value` environment entries: what a `Debug` shows of an environment, whose
/// values may be secrets.
#[must_use]
pub(crate) fn env_keys(env: &[String]) -> Vec<&str> {
    env.iter()
        .map(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k))
        .collect()
}

impl fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            name,
            image,
            cmd,
            entrypoint,
            env,
            labels,
            user,
            hostname,
            working_dir,
            ports,
            binds,
            network,
            restart,
            shm_size,
            log_config,
            healthcheck,
            tty,
            stop_timeout,
        } = self;
        f.debug_struct("ContainerSpec")
            .field("name", name)
            .field("image", image)
            .field("cmd", cmd)
            .field("entrypoint", entrypoint)
            .field("env_keys", &env_keys(env))
            .field("labels", labels)
            .field("user", user)
            .field("hostname", hostname)
            .field("working_dir", working_dir)
            .field("ports", ports)
            .field("binds", binds)
            .field("network", network)
            .field("restart", restart)
            .field("shm_size", shm_size)
            .field("log_config", log_config)
            .field("healthcheck", healthcheck)
            .field("tty", tty)
            .field("stop_timeout", stop_timeout)
            .finish()
    }
}

impl fmt::Debug for ContainerDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            env,
            cmd,
            entrypoint,
            user,
            binds,
            ports,
            networks,
            started_at,
            restart_count,
            published,
        } = self;
        f.debug_struct("ContainerDetails")
            .field("env_keys", &env_keys(env))
            .field("cmd", cmd)
            .field("entrypoint", entrypoint)
            .field("user", user)
            .field("binds", binds)
            .field("ports", ports)
            .field("networks", networks)
            .field("started_at", started_at)
            .field("restart_count", restart_count)
            .field("published", published)
            .finish()
    }
}

impl fmt::Debug for ExecSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecSpec")
            .field("cmd", &self.cmd)
            .field("env_keys", &env_keys(&self.env))
            .field("user", &self.user)
            .field("working_dir", &self.working_dir)
            .field("stdin_len", &self.stdin.as_ref().map(Vec::len))
            .finish()
    }
}

/// What a streaming exec reads the command's stdin from (e.g. a gzip decoder over a file).
pub type ExecInput = Box<dyn std::io::Read + Send>;

/// Where a streaming exec hands the command's stdout, chunk by chunk; an error stops the
/// exec.
pub type ExecSink<'a> = &'a mut (dyn FnMut(&[u8]) -> std::io::Result<()> + Send);

/// How much of stderr a streaming exec keeps (its end).
pub const EXEC_STDERR_KEEP: usize = 64 * 1024;

/// What an exec printed and how it ended.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl fmt::Debug for ExecOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecOutput")
            .field("exit_code", &self.exit_code)
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .finish()
    }
}

/// Which stream a log chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// A piece of container output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub stream: LogStream,
    pub bytes: Vec<u8>,
}

/// Options for reading container logs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogsOptions {
    pub follow: bool,
    /// Number of lines from the end; `None` for all.
    pub tail: Option<u64>,
    /// Only output since this Unix time (seconds).
    pub since: Option<i64>,
    /// Prefix each line with the engine's RFC 3339 timestamp.
    pub timestamps: bool,
}

/// What the engine says about itself (`docker version`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct EngineVersion {
    /// The engine's version (`20.10.24`).
    pub version: String,
    /// The API version it speaks (`1.41`).
    pub api_version: String,
    pub os: String,
    pub arch: String,
}

/// Split an image reference into repository and tag (`latest` when absent); a digest
/// reference (`name@sha256:...`) is returned whole with an empty tag.
#[must_use]
pub fn split_image_ref(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_owned(), String::new());
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_owned(),
            image[slash + i + 1..].to_owned(),
        ),
        None => (image.to_owned(), "latest".to_owned()),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn exec_spec_debug_shows_no_env_value_or_stdin() {
        let spec = ExecSpec {
            cmd: vec!["mongosh".into()],
            env: vec!["ADMIN_PASSWORD=hunter2".into()],
            stdin: Some(b"db.createUser({pwd: 'x'})".to_vec()),
            ..ExecSpec::default()
        };
        let dbg = format!("{spec:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("createUser"),
            "{dbg}"
        );
        assert!(dbg.contains("ADMIN_PASSWORD"), "{dbg}");
    }
    use super::*;

    #[test]
    fn container_spec_and_details_debug_show_env_keys_not_values() {
        let env = vec!["GF_SECURITY_ADMIN_PASSWORD=hunter2".to_owned()];
        let spec = ContainerSpec {
            name: "grafana".into(),
            env: env.clone(),
            ..ContainerSpec::default()
        };
        let details = ContainerDetails {
            env,
            ..ContainerDetails::default()
        };
        for dbg in [format!("{spec:?}"), format!("{details:?}")] {
            assert!(!dbg.contains("hunter2"), "{dbg}");
            assert!(dbg.contains("GF_SECURITY_ADMIN_PASSWORD"), "{dbg}");
        }
        let swarm = crate::SwarmServiceSpec {
            name: "p_grafana".into(),
            env: vec!["POSTGRES_PASSWORD=hunter2".into()],
            ..crate::SwarmServiceSpec::default()
        };
        let dbg = format!("{swarm:?}");
        assert!(
            !dbg.contains("hunter2") && dbg.contains("POSTGRES_PASSWORD"),
            "{dbg}"
        );
    }

    #[test]
    fn image_refs_split_on_the_last_colon_after_the_last_slash() {
        assert_eq!(
            split_image_ref("localhost:5000/a/b:1.2"),
            ("localhost:5000/a/b".into(), "1.2".into())
        );
        assert_eq!(
            split_image_ref("localhost:5000/a/b"),
            ("localhost:5000/a/b".into(), "latest".into())
        );
        assert_eq!(
            split_image_ref("postgres:16.11"),
            ("postgres".into(), "16.11".into())
        );
        assert_eq!(
            split_image_ref("x@sha256:ab"),
            ("x@sha256:ab".into(), String::new())
        );
    }

    #[test]
    fn health_from_list_status_text() {
        assert_eq!(
            Health::from_status_text("Up 3 minutes (healthy)"),
            Some(Health::Healthy)
        );
        assert_eq!(
            Health::from_status_text("Up 1 second (health: starting)"),
            Some(Health::Starting)
        );
        assert_eq!(
            Health::from_status_text("Up 9 seconds (unhealthy)"),
            Some(Health::Unhealthy)
        );
        assert_eq!(Health::from_status_text("Exited (0) 2 hours ago"), None);
    }
}
