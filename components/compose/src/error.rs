use std::path::PathBuf;

use docker::DockerError;

/// What went wrong reading a compose project or applying it.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("cannot read {}: {message}", file.display())]
    Read { file: PathBuf, message: String },
    #[error("{}: invalid YAML: {message}", file.display())]
    Yaml { file: PathBuf, message: String },
    #[error("{}: unsupported key `{key}`", file.display())]
    Unsupported { file: PathBuf, key: String },
    #[error("{}: `{key}`: {message}", file.display())]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error("{}: `{key}`: {message}", file.display())]
    Interpolation {
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error("no such service: {name}")]
    UnknownService { name: String },
    #[error("dependency failed to start: container {container} {reason}")]
    DependencyFailed { container: String, reason: String },
    #[error("container {container} {reason}")]
    NotReady { container: String, reason: String },
    #[error("timed out after {}s waiting for {}", timeout_secs, containers.join(", "))]
    WaitTimeout {
        containers: Vec<String>,
        timeout_secs: u64,
    },
    #[error(
        "service {service}: {} does not exist; a read-only bind mount of a missing path makes \
         Docker create an empty directory there (for certificate files: run `host setup` first)",
        source_path.display()
    )]
    MissingBindSource {
        service: String,
        source_path: PathBuf,
    },
    #[error("container name {name} is already in use by a container outside project {project}")]
    NameInUse { name: String, project: String },
    #[error("service {service}: {source}")]
    Service {
        service: String,
        #[source]
        source: Box<ComposeError>,
    },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

impl ComposeError {
    /// The engine error at the root of this one, if any.
    #[must_use]
    pub fn docker(&self) -> Option<&DockerError> {
        match self {
            ComposeError::Docker(d) => Some(d),
            ComposeError::Service { source, .. } => source.docker(),
            _ => None,
        }
    }

    /// Whether the compose files (not the engine) are at fault: a usage/configuration error.
    #[must_use]
    pub fn is_config_error(&self) -> bool {
        match self {
            ComposeError::Read { .. }
            | ComposeError::Yaml { .. }
            | ComposeError::Unsupported { .. }
            | ComposeError::Invalid { .. }
            | ComposeError::Interpolation { .. }
            | ComposeError::UnknownService { .. }
            | ComposeError::MissingBindSource { .. } => true,
            ComposeError::Service { source, .. } => source.is_config_error(),
            _ => false,
        }
    }
}
