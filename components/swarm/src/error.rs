/// What the swarm mode refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// A setting that cannot work (names the key).
    #[error("{0}")]
    Config(String),
    /// What the compose files ask for that the swarm mode cannot do (names the service).
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Compose(#[from] compose::ComposeError),
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A service whose tasks did not reach the wanted state in time.
    #[error("{service}: {message}")]
    NotReady { service: String, message: String },
}
